//! `index.html`: the matrix as one self-contained page. Rows are scenarios grouped by area
//! (with the statements each checks), columns are brokers grouped by protocol version. A click
//! on a cell (or opening the page at `#<cell id>`) shows that cell's reason and transcript.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::matrix::{BrokerColumn, Cell, CellOutcome, Matrix, ScenarioRow};
use crate::report::xml;

/// Outcomes in the order the summary rows show them.
const ORDER: [CellOutcome; 8] = [
    CellOutcome::Pass,
    CellOutcome::Fail,
    CellOutcome::ExpectedFailure,
    CellOutcome::UnexpectedPass,
    CellOutcome::NonStrict,
    CellOutcome::Error,
    CellOutcome::Skip,
    CellOutcome::NotRun,
];

fn mark(o: CellOutcome) -> &'static str {
    match o {
        CellOutcome::Pass => "✓",
        CellOutcome::Fail => "✗",
        CellOutcome::ExpectedFailure => "xf",
        CellOutcome::UnexpectedPass => "up",
        CellOutcome::NonStrict => "ns",
        CellOutcome::Error => "E",
        CellOutcome::Skip => "–",
        CellOutcome::NotRun => "·",
    }
}

fn label(o: CellOutcome) -> &'static str {
    match o {
        CellOutcome::Pass => "passed",
        CellOutcome::Fail => "failed",
        CellOutcome::ExpectedFailure => "expected failures",
        CellOutcome::UnexpectedPass => "unexpected passes",
        CellOutcome::NonStrict => "non-strict",
        CellOutcome::Error => "errors",
        CellOutcome::Skip => "skipped",
        CellOutcome::NotRun => "not run",
    }
}

/// The id of a cell's element (and the fragment that opens it).
pub(super) fn cell_id(c: &Cell, row: &ScenarioRow) -> String {
    format!("{}.{}.{}", c.broker, c.version, row.id)
}

/// The page.
pub(super) fn render(m: &Matrix) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>MQTT conformance matrix</title>\n<style>{CSS}</style></head><body>\n\
         <h1>MQTT conformance matrix</h1>\n<p class=\"meta\">{} brokers, {} scenarios; \
         mqtt-conformance {}, started {}. Click a cell for its reason and transcript.</p>\n",
        m.brokers.len(),
        m.scenarios.len(),
        xml(&m.tool_version),
        xml(&m.started)
    );
    banners(&mut o, &m.brokers);
    brokers_table(&mut o, m);
    let mut cells = Vec::new();
    matrix_table(&mut o, m, &mut cells);
    deviations(&mut o, &m.brokers);
    o.push_str(
        "<div id=\"detail\" hidden><button id=\"close\" type=\"button\">close</button>\
         <h2 id=\"d-title\"></h2><p id=\"d-outcome\"></p><p id=\"d-message\"></p>\
         <pre id=\"d-transcript\"></pre></div>\n",
    );
    let data = serde_json::to_string(&cells)
        .unwrap_or_default()
        .replace("</", "<\\/");
    let _ = write!(
        o,
        "<script type=\"application/json\" id=\"cells\">{data}</script>\n<script>{JS}</script>\n</body></html>\n"
    );
    o
}

/// One line per broker that could not be certified or stopped answering: said once, at the top.
fn banners(o: &mut String, brokers: &[BrokerColumn]) {
    for b in brokers {
        if let Some(e) = &b.error {
            let _ = writeln!(
                o,
                "<p class=\"banner\"><b>{}</b> could not be certified: {}</p>",
                xml(&b.name),
                xml(e)
            );
        }
        if let Some(d) = &b.down {
            let _ = writeln!(
                o,
                "<p class=\"banner\"><b>{}</b>: {}</p>",
                xml(&b.name),
                xml(d)
            );
        }
    }
}

fn brokers_table(o: &mut String, m: &Matrix) {
    o.push_str("<h2>Brokers</h2>\n<table class=\"brokers\"><tr><th>Name</th><th>Broker</th><th>Profile</th><th>Versions</th><th>Result</th>");
    for oc in ORDER {
        let _ = write!(o, "<th>{}</th>", label(oc));
    }
    o.push_str("<th>Wall time</th></tr>\n");
    for b in &m.brokers {
        let (class, text) = if b.ok {
            ("pass", "as expected")
        } else {
            ("fail", "unexpected results")
        };
        let _ = write!(
            o,
            "<tr><th>{}</th><td>{}<br><small>{}</small></td><td>{}</td><td>{}</td><td class=\"{class}\">{text}</td>",
            xml(&b.name),
            xml(&b.broker),
            xml(&b.url),
            xml(&b.profile),
            xml(&b.versions.join(", "))
        );
        for oc in ORDER {
            let n = b.counts.get(&oc).copied().unwrap_or(0);
            let _ = write!(
                o,
                "<td class=\"{}\">{n}</td>",
                if n > 0 { oc.as_str() } else { "" }
            );
        }
        let _ = writeln!(o, "<td>{:.1} s</td></tr>", b.duration_ms as f64 / 1000.0);
    }
    o.push_str("</table>\n");
}

/// The grid; `cells` collects each clickable cell's details, indexed by `data-k`.
fn matrix_table(o: &mut String, m: &Matrix, cells: &mut Vec<[String; 6]>) {
    let names: Vec<&str> = m.brokers.iter().map(|b| b.name.as_str()).collect();
    let groups: Vec<&str> = m
        .versions
        .iter()
        .map(String::as_str)
        .filter(|v| {
            m.scenarios
                .iter()
                .any(|r| r.cells.iter().any(|c| c.version == *v))
        })
        .collect();
    o.push_str("<h2>Matrix</h2>\n<table class=\"matrix\"><thead><tr><th rowspan=\"3\">Scenario</th><th rowspan=\"3\">Statements</th>");
    for v in &groups {
        let _ = write!(
            o,
            "<th class=\"group\" colspan=\"{}\">MQTT {}</th>",
            names.len(),
            xml(v)
        );
    }
    o.push_str("</tr><tr>");
    for _ in &groups {
        for n in &names {
            let _ = write!(o, "<th class=\"broker\">{}</th>", xml(n));
        }
    }
    // The per-broker summary row: passed / total run, and the failures, per version.
    o.push_str("</tr><tr class=\"sum\">");
    for v in &groups {
        for n in &names {
            let mut per: BTreeMap<CellOutcome, usize> = BTreeMap::new();
            for c in m.scenarios.iter().flat_map(|r| &r.cells) {
                if c.broker == *n && c.version == *v {
                    *per.entry(c.outcome).or_insert(0) += 1;
                }
            }
            let get = |oc| per.get(&oc).copied().unwrap_or(0);
            let bad: usize = ORDER
                .iter()
                .filter(|oc| oc.unexpected())
                .map(|oc| get(*oc))
                .sum();
            let _ = write!(
                o,
                "<th class=\"{}\" title=\"passed / failed / expected failures / skipped\">{}/{}/{}/{}</th>",
                if bad > 0 { "fail" } else { "pass" },
                get(CellOutcome::Pass),
                get(CellOutcome::Fail),
                get(CellOutcome::ExpectedFailure),
                get(CellOutcome::Skip)
            );
        }
    }
    o.push_str("</tr></thead><tbody>\n");
    let width = 2 + groups.len() * names.len();
    let mut area = "";
    for row in &m.scenarios {
        if row.area != area {
            area = &row.area;
            let _ = writeln!(
                o,
                "<tr class=\"area\"><th colspan=\"{width}\">{}</th></tr>",
                xml(area)
            );
        }
        row_html(o, row, &groups, &names, cells);
    }
    o.push_str("</tbody></table>\n");
}

fn row_html(
    o: &mut String,
    row: &ScenarioRow,
    groups: &[&str],
    names: &[&str],
    cells: &mut Vec<[String; 6]>,
) {
    let mut st: Vec<&str> = row.statements.iter().map(|s| s.id.as_str()).collect();
    st.sort_unstable();
    st.dedup();
    let _ = write!(
        o,
        "<tr><td class=\"id\" title=\"{}\">{}</td><td class=\"st\">{}</td>",
        xml(&row.title),
        xml(&row.id),
        xml(&st.join(" "))
    );
    for v in groups {
        for n in names {
            let Some(c) = row.cells.iter().find(|c| c.broker == *n && c.version == *v) else {
                o.push_str("<td class=\"na\" title=\"not a scenario of this version\"></td>");
                continue;
            };
            let k = cells.len();
            cells.push([
                c.broker.clone(),
                c.version.clone(),
                format!("{}: {}", row.id, row.title),
                c.outcome.as_str().to_owned(),
                c.message.clone(),
                c.transcript.clone(),
            ]);
            let _ = write!(
                o,
                "<td class=\"c {}\" id=\"{}\" data-k=\"{k}\" tabindex=\"0\" title=\"{}\">{}</td>",
                c.outcome.as_str(),
                xml(&cell_id(c, row)),
                xml(label(c.outcome)),
                mark(c.outcome)
            );
        }
    }
    o.push_str("</tr>\n");
}

fn deviations(o: &mut String, brokers: &[BrokerColumn]) {
    o.push_str("<h2>Known deviations</h2>\n");
    for b in brokers {
        let _ = write!(o, "<h3>{}</h3>", xml(&b.name));
        if b.deviations.is_empty() {
            o.push_str("<p>None listed.</p>\n");
            continue;
        }
        o.push_str("<ul class=\"dev\">");
        for d in &b.deviations {
            let vs = if d.versions.is_empty() {
                String::new()
            } else {
                format!(" [{}]", d.versions.join(", "))
            };
            let _ = write!(
                o,
                "<li><b>{}</b>{}: {}</li>",
                xml(&d.id),
                xml(&vs),
                xml(&d.reason)
            );
        }
        o.push_str("</ul>\n");
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .4em;\
font-size:85%;text-align:left;vertical-align:top}.matrix td.c{text-align:center;cursor:pointer;\
min-width:1.6em}.matrix td.c:hover,.matrix td.c:focus{outline:2px solid #333}\
.matrix thead th{position:sticky;top:0;background:#fafafa}.matrix th.group{text-align:center}\
.matrix tr.area th{background:#dde6f0}td.st{color:#555;font-size:75%}td.id{white-space:nowrap}\
.pass{background:#d9f2d9}.fail,.error,.unexpected_pass{background:#f8c8c8}\
.expected_failure,.non_strict{background:#fff0c2}.skip{background:#eee;color:#777}\
.not_run{background:#bbb}.na{background:repeating-linear-gradient(45deg,#fff,#fff 3px,#f2f2f2 3px,#f2f2f2 6px)}\
.banner{background:#f8c8c8;padding:.5em;border:1px solid #c66}\
#detail{position:fixed;right:0;bottom:0;width:min(60em,95vw);max-height:60vh;overflow:auto;\
background:#fff;border:2px solid #333;padding:.5em 1em;box-shadow:0 0 1em #888}\
#detail pre{background:#f6f6f6;padding:.5em;font-size:80%;white-space:pre-wrap}#close{float:right}";

const JS: &str = "const cells=JSON.parse(document.getElementById('cells').textContent);\
const d=document.getElementById('detail');\
function show(td){const c=cells[+td.dataset.k];\
document.getElementById('d-title').textContent=c[0]+' · MQTT '+c[1]+' · '+c[2];\
document.getElementById('d-outcome').textContent=c[3].replace('_',' ');\
document.getElementById('d-outcome').className=c[3];\
document.getElementById('d-message').textContent=c[4]||'(no message)';\
document.getElementById('d-transcript').textContent=c[5]||'(not run: no transcript)';\
d.hidden=false;d.dataset.open=td.id;}\
document.querySelector('table.matrix').addEventListener('click',e=>{\
const td=e.target.closest('td.c');if(td)show(td);});\
document.querySelector('table.matrix').addEventListener('keydown',e=>{\
if(e.key==='Enter'&&e.target.matches('td.c'))show(e.target);});\
document.getElementById('close').addEventListener('click',()=>{d.hidden=true;});\
if(location.hash){const t=document.getElementById(decodeURIComponent(location.hash.slice(1)));\
if(t&&t.matches('td.c'))t.click();}";
