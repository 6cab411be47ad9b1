//! Reports of a run: the terminal summary, JSON, JUnit XML and a self-contained HTML page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::catalogue;
use crate::client::Transcript;
use crate::runner::{Outcome, RunReport, ScenarioResult};
use crate::scenario::Version;

/// Version of the JSON report format; bumped on incompatible changes.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// The tool's version.
pub const TOOL_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Terminal rendering options.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours.
    pub color: bool,
    /// List every result, not only those needing attention.
    pub verbose: bool,
}

const ORDER: [Outcome; 7] = [
    Outcome::Pass,
    Outcome::Fail,
    Outcome::NonStrict,
    Outcome::ExpectedFailure,
    Outcome::UnexpectedPass,
    Outcome::Skip,
    Outcome::Error,
];

fn label(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "passed",
        Outcome::Fail => "failed",
        Outcome::Skip => "skipped",
        Outcome::ExpectedFailure => "expected failures",
        Outcome::UnexpectedPass => "unexpected passes",
        Outcome::NonStrict => "non-strict",
        Outcome::Error => "errors",
    }
}

fn tag(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "PASS",
        Outcome::Fail => "FAIL",
        Outcome::Skip => "SKIP",
        Outcome::ExpectedFailure => "XFAIL",
        Outcome::UnexpectedPass => "XPASS",
        Outcome::NonStrict => "NON-STRICT",
        Outcome::Error => "ERROR",
    }
}

fn paint(style: Style, o: Outcome, text: &str) -> String {
    if !style.color {
        return text.to_owned();
    }
    let code = match o {
        Outcome::Pass => "32",
        Outcome::Fail | Outcome::UnexpectedPass | Outcome::Error => "31",
        Outcome::NonStrict | Outcome::ExpectedFailure => "33",
        Outcome::Skip => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

/// The terminal summary: a header, one line per area, details of results that need
/// attention, totals, warnings. The wall time is printed by the caller.
pub fn terminal(r: &RunReport, style: Style) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "mqtt-conformance {TOOL_VERSION}: {} ({}), profile {}, seed {}{}",
        r.broker,
        r.broker_name,
        r.profile,
        r.seed,
        if r.strict { ", strict" } else { "" }
    );
    out.push('\n');
    area_lines(&mut out, r, style);
    let attention: Vec<&ScenarioResult> = r
        .results
        .iter()
        .filter(|x| {
            style.verbose
                || !matches!(x.outcome, Outcome::Pass | Outcome::Skip)
                || x.flaky.is_some()
        })
        .collect();
    if !attention.is_empty() {
        out.push('\n');
    }
    for res in attention {
        attention_detail(&mut out, res, style);
    }
    if !r.warnings.is_empty() {
        out.push('\n');
        for w in &r.warnings {
            let _ = writeln!(out, "warning: {w}");
        }
    }
    out.push('\n');
    let counts = r.counts();
    let parts: Vec<String> = ORDER
        .iter()
        .map(|o| format!("{} {}", counts.get(o).copied().unwrap_or(0), label(*o)))
        .collect();
    let _ = writeln!(out, "{} total: {}", r.results.len(), parts.join(", "));
    let (verdict, o) = if r.failed() {
        ("FAILED", Outcome::Fail)
    } else {
        ("OK", Outcome::Pass)
    };
    let _ = writeln!(out, "result: {}", paint(style, o, verdict));
    out
}

/// One line per area with its counts.
fn area_lines(out: &mut String, r: &RunReport, style: Style) {
    let mut areas: BTreeMap<&str, BTreeMap<Outcome, usize>> = BTreeMap::new();
    for res in &r.results {
        *areas
            .entry(res.area.as_str())
            .or_default()
            .entry(res.outcome)
            .or_insert(0) += 1;
    }
    let width = areas.keys().map(|a| a.len()).max().unwrap_or(4).max(4);
    for (area, counts) in &areas {
        let parts: Vec<String> = ORDER
            .iter()
            .filter_map(|o| {
                counts
                    .get(o)
                    .map(|n| paint(style, *o, &format!("{n} {}", label(*o))))
            })
            .collect();
        let _ = writeln!(out, "  {area:<width$}  {}", parts.join(", "));
    }
}

/// A result that needs attention: its outcome, failure or message, and transcript.
fn attention_detail(out: &mut String, res: &ScenarioResult, style: Style) {
    let _ = writeln!(
        out,
        "{} {} [{}] {}",
        paint(style, res.outcome, tag(res.outcome)),
        res.id,
        res.version,
        res.title
    );
    if let Some(f) = &res.flaky {
        let list: Vec<&str> = f.iter().map(|o| o.as_str()).collect();
        let _ = writeln!(
            out,
            "    flaky: outcomes differ between runs: {}",
            list.join(", ")
        );
    }
    if let Some(f) = &res.failure {
        let _ = writeln!(out, "    step {}: {}", f.step + 1, f.step_desc);
        let _ = writeln!(out, "    expected: {}", f.expected);
        let _ = writeln!(out, "    arrived:  {}", f.arrived);
        for d in &f.diff {
            let _ = writeln!(out, "      - {d}");
        }
    } else if !res.message.is_empty() {
        let _ = writeln!(out, "    {}", res.message);
    }
    let shows = matches!(
        res.outcome,
        Outcome::Fail | Outcome::Error | Outcome::NonStrict
    );
    if shows && !res.transcript.is_empty() {
        let _ = writeln!(out, "    transcript:");
        for line in Transcript::render(&res.transcript).lines() {
            let _ = writeln!(out, "      {line}");
        }
    }
}

/// The JSON report.
pub fn json(r: &RunReport) -> serde_json::Value {
    let c = r.counts();
    let n = |o: Outcome| c.get(&o).copied().unwrap_or(0);
    let results: Vec<serde_json::Value> = r
        .results
        .iter()
        .map(|x| {
            let mut v = serde_json::json!({
                "id": x.id,
                "title": x.title,
                "area": x.area,
                "mqtt_version": x.version.key(),
                "outcome": x.outcome,
                "statements": x.statements.iter().map(|s| serde_json::json!({"id": s.id, "level": s.level.as_str()})).collect::<Vec<_>>(),
                "duration_ms": millis(x.duration),
                "message": x.message,
            });
            if let Some(f) = &x.failure {
                v["failure"] = serde_json::to_value(f).unwrap_or_default();
            }
            if let Some(f) = &x.flaky {
                v["flaky"] = serde_json::to_value(f).unwrap_or_default();
            }
            if !x.transcript.is_empty() {
                v["transcript"] = serde_json::to_value(&x.transcript).unwrap_or_default();
            }
            v
        })
        .collect();
    serde_json::json!({
        "format": "mqtt-conformance-report",
        "format_version": JSON_FORMAT_VERSION,
        "tool_version": TOOL_VERSION,
        "broker": r.broker,
        "broker_name": r.broker_name,
        "profile": r.profile,
        "started": humantime::format_rfc3339_seconds(r.started).to_string(),
        "seed": r.seed,
        "strict": r.strict,
        "summary": {
            "total": r.results.len(),
            "passed": n(Outcome::Pass),
            "failed": n(Outcome::Fail),
            "skipped": n(Outcome::Skip),
            "expected_failures": n(Outcome::ExpectedFailure),
            "unexpected_passes": n(Outcome::UnexpectedPass),
            "non_strict": n(Outcome::NonStrict),
            "errors": n(Outcome::Error),
            "flaky": r.results.iter().filter(|x| x.flaky.is_some()).count(),
            "duration_ms": millis(r.duration),
        },
        "warnings": r.warnings,
        "results": results,
    })
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// JUnit XML: one suite per area, one case per scenario and version.
pub fn junit(r: &RunReport) -> String {
    let mut by_area: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for x in &r.results {
        by_area.entry(x.area.as_str()).or_default().push(x);
    }
    // An error is an `<error>` even when flaky, so no result counts as both.
    let is_failure = |x: &ScenarioResult| {
        matches!(x.outcome, Outcome::Fail | Outcome::UnexpectedPass)
            || (r.strict && x.outcome == Outcome::NonStrict)
            || (x.flaky.is_some() && x.outcome != Outcome::Error)
    };
    let total_fail = r.results.iter().filter(|x| is_failure(x)).count();
    let total_err = r
        .results
        .iter()
        .filter(|x| x.outcome == Outcome::Error)
        .count();
    let total_skip = r
        .results
        .iter()
        .filter(|x| x.outcome == Outcome::Skip)
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"mqtt-conformance\" tests=\"{}\" failures=\"{total_fail}\" errors=\"{total_err}\" skipped=\"{total_skip}\" time=\"{:.3}\">",
        r.results.len(),
        r.duration.as_secs_f64()
    );
    for (area, list) in by_area {
        let f = list.iter().filter(|x| is_failure(x)).count();
        let e = list.iter().filter(|x| x.outcome == Outcome::Error).count();
        let s = list.iter().filter(|x| x.outcome == Outcome::Skip).count();
        let t: f64 = list.iter().map(|x| x.duration.as_secs_f64()).sum();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{f}\" errors=\"{e}\" skipped=\"{s}\" time=\"{t:.3}\">",
            xml(area),
            list.len()
        );
        for x in list {
            testcase(&mut out, area, x, is_failure(x));
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// One `<testcase>`, with its failure, error, skip or non-strict note.
fn testcase(out: &mut String, area: &str, x: &ScenarioResult, failure: bool) {
    let _ = write!(
        out,
        "    <testcase classname=\"{}\" name=\"{} [{}]\" time=\"{:.3}\"",
        xml(area),
        xml(&x.id),
        x.version,
        x.duration.as_secs_f64()
    );
    let body = detail(x);
    if failure {
        let _ = writeln!(
            out,
            ">\n      <failure message=\"{}\" type=\"{}\">{}</failure>\n    </testcase>",
            xml(&x.message),
            x.outcome.as_str(),
            xml(&body)
        );
    } else if x.outcome == Outcome::Error {
        let _ = writeln!(
            out,
            ">\n      <error message=\"{}\" type=\"error\">{}</error>\n    </testcase>",
            xml(&x.message),
            xml(&body)
        );
    } else if x.outcome == Outcome::Skip {
        let _ = writeln!(
            out,
            ">\n      <skipped message=\"{}\"/>\n    </testcase>",
            xml(&x.message)
        );
    } else if !x.message.is_empty() {
        let _ = writeln!(
            out,
            ">\n      <system-out>{}: {}</system-out>\n    </testcase>",
            x.outcome.as_str(),
            xml(&body)
        );
    } else {
        out.push_str("/>\n");
    }
}

fn detail(x: &ScenarioResult) -> String {
    let mut s = x.message.clone();
    if let Some(f) = &x.failure {
        let _ = write!(
            s,
            "\nstep {}: {}\nexpected: {}\narrived:  {}\n",
            f.step + 1,
            f.step_desc,
            f.expected,
            f.arrived
        );
        for d in &f.diff {
            let _ = writeln!(s, "  - {d}");
        }
    }
    if !x.transcript.is_empty() {
        s.push_str("\ntranscript:\n");
        s.push_str(&Transcript::render(&x.transcript));
    }
    s
}

/// Escapes text for XML and HTML, dropping characters XML 1.0 forbids.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

/// A self-contained HTML page: header, summary, results by area, failures with transcripts,
/// coverage per normative statement.
pub fn html(r: &RunReport) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>MQTT conformance: {}</title>\n<style>{CSS}</style></head><body>\n",
        xml(&r.broker_name)
    );
    let _ = write!(
        o,
        "<h1>MQTT conformance report</h1>\n<table class=\"meta\"><tr><th>Broker</th><td>{} ({})</td></tr><tr><th>Profile</th><td>{}</td></tr><tr><th>Date</th><td>{}</td></tr><tr><th>Tool</th><td>mqtt-conformance {TOOL_VERSION}</td></tr><tr><th>Mode</th><td>{}</td></tr><tr><th>Seed</th><td>{}</td></tr><tr><th>Wall time</th><td>{:.2} s</td></tr><tr><th>Result</th><td class=\"{}\">{}</td></tr></table>\n",
        xml(&r.broker_name),
        xml(&r.broker),
        xml(&r.profile),
        humantime::format_rfc3339_seconds(r.started),
        if r.strict {
            "strict (deviations ignored)"
        } else {
            "normal"
        },
        r.seed,
        r.duration.as_secs_f64(),
        if r.failed() { "fail" } else { "pass" },
        if r.failed() { "FAILED" } else { "OK" },
    );
    html_summary(&mut o, r);
    html_areas(&mut o, r);
    html_details(&mut o, r);
    o.push_str("<h2>Coverage per normative statement</h2>\n<p>Wire-testable statements that bind the server, with the outcome of the scenarios that check them.</p>\n");
    for v in Version::ALL {
        html_coverage(&mut o, r, v);
    }
    o.push_str("</body></html>\n");
    o
}

/// The counts per outcome, and the warnings.
fn html_summary(o: &mut String, r: &RunReport) {
    let c = r.counts();
    o.push_str("<h2>Summary</h2><table class=\"counts\"><tr>");
    for oc in ORDER {
        let _ = write!(o, "<th>{}</th>", label(oc));
    }
    o.push_str("</tr><tr>");
    for oc in ORDER {
        let _ = write!(
            o,
            "<td class=\"{}\">{}</td>",
            oc.as_str(),
            c.get(&oc).copied().unwrap_or(0)
        );
    }
    o.push_str("</tr></table>\n");
    if !r.warnings.is_empty() {
        o.push_str("<h2>Warnings</h2><ul>");
        for w in &r.warnings {
            let _ = write!(o, "<li>{}</li>", xml(w));
        }
        o.push_str("</ul>\n");
    }
}

/// One table per area.
fn html_areas(o: &mut String, r: &RunReport) {
    o.push_str("<h2>Results by area</h2>\n");
    let mut by_area: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for x in &r.results {
        by_area.entry(x.area.as_str()).or_default().push(x);
    }
    for (area, list) in &by_area {
        let _ = writeln!(
            o,
            "<h3>{}</h3><table class=\"results\"><tr><th>Scenario</th><th>Version</th><th>Outcome</th><th>Statements</th><th>ms</th><th>Message</th></tr>",
            xml(area)
        );
        for x in list {
            let anchor = format!("{}-{}", x.id, x.version);
            let link = if x.failure.is_some() || !x.transcript.is_empty() {
                format!("<a href=\"#{}\">{}</a>", xml(&anchor), xml(&x.id))
            } else {
                xml(&x.id)
            };
            let st: Vec<String> = x.statements.iter().map(|s| xml(&s.id)).collect();
            let _ = writeln!(
                o,
                "<tr><td title=\"{}\">{link}</td><td>{}</td><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                xml(&x.title),
                x.version,
                x.outcome.as_str(),
                tag(x.outcome),
                st.join(" "),
                x.duration.as_millis(),
                xml(&x.message)
            );
        }
        o.push_str("</table>\n");
    }
}

/// The failures and transcripts, each with an anchor.
fn html_details(o: &mut String, r: &RunReport) {
    let detailed: Vec<&ScenarioResult> = r
        .results
        .iter()
        .filter(|x| x.failure.is_some() || !x.transcript.is_empty())
        .collect();
    if !detailed.is_empty() {
        o.push_str("<h2>Failures and transcripts</h2>\n");
        for x in detailed {
            let _ = writeln!(
                o,
                "<section id=\"{}-{}\"><h3><span class=\"{}\">{}</span> {} [{}]</h3><p>{}</p><pre>{}</pre></section>",
                xml(&x.id),
                x.version,
                x.outcome.as_str(),
                tag(x.outcome),
                xml(&x.id),
                x.version,
                xml(&x.title),
                xml(&detail(x))
            );
        }
    }
}

/// The statements of `v` that bind the server, with the worst outcome of their scenarios.
fn html_coverage(o: &mut String, r: &RunReport, v: Version) {
    let mut per: BTreeMap<&str, Vec<&ScenarioResult>> = BTreeMap::new();
    for x in r.results.iter().filter(|x| x.version == v) {
        for s in &x.statements {
            per.entry(s.id.as_str()).or_default().push(x);
        }
    }
    let stmts: Vec<_> = catalogue::statements(v.catalogue())
        .iter()
        .filter(|s| s.is_server_wire_testable())
        .collect();
    let covered = stmts.iter().filter(|s| per.contains_key(s.id)).count();
    let _ = writeln!(
        o,
        "<h3>MQTT {v}: {covered} of {} checked</h3><table class=\"coverage\"><tr><th>Statement</th><th>Section</th><th>Status</th><th>Scenarios</th><th>Summary</th></tr>",
        stmts.len()
    );
    for s in stmts {
        let (status, class, scen) = match per.get(s.id) {
            None => ("not checked".to_owned(), "none", String::new()),
            Some(list) => {
                let worst = list
                    .iter()
                    .map(|x| x.outcome)
                    .max_by_key(|o| severity(*o))
                    .unwrap_or(Outcome::Pass);
                let names: Vec<String> = list
                    .iter()
                    .map(|x| format!("{} ({})", xml(&x.id), x.outcome.as_str()))
                    .collect();
                (tag(worst).to_owned(), worst.as_str(), names.join(", "))
            }
        };
        let _ = writeln!(
            o,
            "<tr><td>{}</td><td>{}</td><td class=\"{class}\">{status}</td><td>{scen}</td><td>{}</td></tr>",
            xml(s.id),
            xml(s.section),
            xml(s.summary)
        );
    }
    o.push_str("</table>\n");
}

fn severity(o: Outcome) -> u8 {
    match o {
        Outcome::Skip => 0,
        Outcome::Pass => 1,
        Outcome::ExpectedFailure => 2,
        Outcome::NonStrict => 3,
        Outcome::UnexpectedPass => 4,
        Outcome::Error => 5,
        Outcome::Fail => 6,
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left;vertical-align:top;font-size:90%}pre{background:#f6f6f6;padding:1em;overflow-x:auto;font-size:85%}.pass{background:#e3f6e3}.fail,.error,.unexpected_pass{background:#fbe0e0}.non_strict,.expected_failure{background:#fff4d6}.skip,.none{background:#eee;color:#666}";
