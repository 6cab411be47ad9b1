//! `summary.md`: the matrix in a few lines fit for a README or an issue: one row per broker,
//! then each broker's failures and deviations, one line each.

use std::fmt::Write as _;

use super::matrix::{CellOutcome, Matrix};

/// The Markdown summary.
pub(super) fn render(m: &Matrix) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# MQTT conformance matrix\n\nmqtt-conformance {}, {}; {} scenarios.\n",
        m.tool_version,
        m.started,
        m.scenarios.len()
    );
    o.push_str(
        "| Broker | Versions | Passed | Failed | Expected failures | Skipped | Errors | Result |\n\
         |---|---|---:|---:|---:|---:|---:|---|\n",
    );
    for b in &m.brokers {
        let n = |oc: CellOutcome| b.counts.get(&oc).copied().unwrap_or(0);
        let result = match (&b.error, b.ok) {
            (Some(_), _) => "not certified",
            (None, true) => "as expected",
            (None, false) => "**unexpected results**",
        };
        let _ = writeln!(
            o,
            "| {} ({}) | {} | {} | {} | {} | {} | {} | {result} |",
            b.name,
            cell(&b.broker),
            b.versions.join(", "),
            n(CellOutcome::Pass),
            n(CellOutcome::Fail),
            n(CellOutcome::ExpectedFailure),
            n(CellOutcome::Skip),
            n(CellOutcome::Error) + n(CellOutcome::NotRun),
        );
    }
    for b in &m.brokers {
        let _ = writeln!(o, "\n## {}\n", b.name);
        if let Some(e) = &b.error {
            let _ = writeln!(o, "Not certified: {}", one_line(e));
        }
        if let Some(d) = &b.down {
            let _ = writeln!(o, "**Broker down:** {}\n", one_line(d));
        }
        let unexpected: Vec<String> = m
            .scenarios
            .iter()
            .flat_map(|r| r.cells.iter().map(move |c| (r, c)))
            .filter(|(_, c)| c.broker == b.name && c.outcome.unexpected())
            .map(|(r, c)| {
                format!(
                    "- {} `{}` [{}]: {}",
                    c.outcome.as_str(),
                    r.id,
                    c.version,
                    one_line(&c.message)
                )
            })
            .collect();
        if !unexpected.is_empty() {
            o.push_str("Unexpected results:\n\n");
            for u in unexpected {
                let _ = writeln!(o, "{u}");
            }
            o.push('\n');
        }
        if b.deviations.is_empty() {
            o.push_str("No known deviations listed.\n");
        } else {
            o.push_str("Known deviations (each read off a transcript):\n\n");
            for d in &b.deviations {
                let vs = if d.versions.is_empty() {
                    String::new()
                } else {
                    format!(" [{}]", d.versions.join(", "))
                };
                let _ = writeln!(o, "- `{}`{vs}: {}", d.id, one_line(&d.reason));
            }
        }
    }
    o
}

fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() > 300 {
        s.chars().take(300).collect::<String>() + " …"
    } else {
        s
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}
