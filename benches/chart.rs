//! Renders `docs/bench-results.json` (written by `cargo bench --bench peers`) as two
//! hand-written SVG charts: `docs/bench-throughput.svg` and `docs/bench-latency.svg`.
//!
//! ```text
//! cargo bench --bench chart                        # docs/bench-results.json -> docs/*.svg
//! cargo bench --bench chart -- FILE.json OUT_DIR   # elsewhere
//! ```
//!
//! `peers` calls this after every saved run, so one `cargo bench --bench peers` regenerates
//! the tables, the JSON and the charts. No plotting dependency: the JSON is read with
//! `serde_json` into the schema both benches share (`peers/schema.rs`), the SVG is built
//! as a string.

/// The results file's schema, shared with the `peers` bench (which reaches it as
/// `chart::schema`).
#[path = "peers/schema.rs"]
pub(crate) mod schema;

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use schema::Results;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let json = args
        .first()
        .map_or_else(|| docs.join("bench-results.json"), PathBuf::from);
    let out = args.get(1).map_or(docs, PathBuf::from);
    match render_files(&json, &out) {
        Ok(files) => {
            for f in files {
                eprintln!("[chart] wrote {}", f.display());
            }
        }
        Err(e) => {
            eprintln!("[chart] {}: {e}", json.display());
            std::process::exit(1);
        }
    }
}

// ------------------------------------------------------------------------------------------
// SVG
// ------------------------------------------------------------------------------------------

/// One bar.
struct Bar {
    label: String,
    peer: String,
    reference: bool,
    median: f64,
    min: f64,
    max: f64,
}

/// One panel: a title and horizontal bars on their own linear scale.
struct Panel {
    title: String,
    higher_is_better: bool,
    bars: Vec<Bar>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn fmt(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn color(peer: &str, reference: bool) -> &'static str {
    match peer {
        "sigring-eventfd" => "#d9480f",
        "sigring-pipe" => "#f59f00",
        _ if reference => "#adb5bd",
        _ => "#4c6ef5",
    }
}

/// Takes `metric` of scenario `key` from the results, in the order the rows were run,
/// skipping rows whose label starts with one of `skip`.
fn panel(results: &Results, (key, metric, title, skip): &PanelSpec) -> Option<Panel> {
    let sc = results.scenarios.iter().find(|s| s.key == *key)?;
    let m = sc.metrics.iter().find(|m| m.key == *metric)?;
    let bars: Vec<Bar> = sc
        .rows
        .iter()
        .filter(|r| !skip.iter().any(|s| r.label.starts_with(s)))
        .filter_map(|r| {
            let v = r.values.get(metric)?;
            if v.median.is_nan() {
                return None;
            }
            Some(Bar {
                label: r.label.clone(),
                peer: r.peer.clone(),
                reference: r.reference,
                median: v.median,
                min: if v.min.is_nan() { v.median } else { v.min },
                max: if v.max.is_nan() { v.median } else { v.max },
            })
        })
        .collect();
    if bars.is_empty() {
        return None;
    }
    Some(Panel {
        title: format!(
            "{title}: {}, {}",
            m.label,
            if m.higher_is_better {
                "higher is better"
            } else {
                "lower is better"
            }
        ),
        higher_is_better: m.higher_is_better,
        bars,
    })
}

const WIDTH: f64 = 880.0;
const LABEL_W: f64 = 330.0;
const BAR_W: f64 = 430.0;
const ROW_H: f64 = 20.0;

fn svg(title: &str, subtitle: &str, panels: &[Panel]) -> String {
    let mut body = String::new();
    let mut y = 56.0;
    for p in panels {
        let _ = writeln!(
            body,
            r#"<text x="10" y="{:.1}" class="panel">{}</text>"#,
            y + 14.0,
            esc(&p.title)
        );
        y += 24.0;
        // The scale fits every median and leaves some room for whiskers; a whisker that
        // runs further is clipped at the edge and marked with an arrow head.
        let scale_max = p
            .bars
            .iter()
            .map(|b| b.median)
            .filter(|v| v.is_finite())
            .fold(0.0f64, f64::max)
            .max(1e-12)
            * 1.4;
        let x_of = |v: f64| LABEL_W + 10.0 + (v / scale_max).clamp(0.0, 1.0) * BAR_W;
        let best = if p.higher_is_better {
            p.bars
                .iter()
                .map(|b| b.median)
                .fold(f64::NEG_INFINITY, f64::max)
        } else {
            p.bars
                .iter()
                .map(|b| b.median)
                .fold(f64::INFINITY, f64::min)
        };
        for b in &p.bars {
            let x0 = LABEL_W + 10.0;
            let w = (x_of(b.median) - x0).max(1.0);
            let cy = y + ROW_H / 2.0;
            let weight = if b.peer.starts_with("sigring") {
                " font-weight=\"bold\""
            } else {
                ""
            };
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="label"{weight}>{}</text>"#,
                LABEL_W,
                cy + 4.0,
                esc(&b.label)
            );
            let dash = if b.reference {
                r##" stroke="#495057" stroke-dasharray="3,2""##
            } else {
                ""
            };
            let _ = writeln!(
                body,
                r#"<rect x="{x0:.1}" y="{:.1}" width="{w:.1}" height="{:.1}" fill="{}"{dash}><title>{}: {} (min {}, max {})</title></rect>"#,
                y + 3.0,
                ROW_H - 6.0,
                color(&b.peer, b.reference),
                esc(&b.label),
                fmt(b.median),
                fmt(b.min),
                fmt(b.max)
            );
            let mut text_x = x0 + w;
            if b.min.is_finite() && b.max.is_finite() && b.max > b.min {
                let xl = x_of(b.min);
                let xh = x_of(b.max);
                let clipped = b.max > scale_max;
                let cap = if clipped {
                    format!(
                        "M{:.1} {:.1}L{xh:.1} {cy:.1}L{:.1} {:.1}",
                        xh - 5.0,
                        cy - 4.0,
                        xh - 5.0,
                        cy + 4.0
                    )
                } else {
                    format!("M{xh:.1} {:.1}V{:.1}", cy - 4.0, cy + 4.0)
                };
                let _ = writeln!(
                    body,
                    r##"<path d="M{xl:.1} {cy:.1}H{xh:.1}M{xl:.1} {:.1}V{:.1}{cap}" stroke="#212529" stroke-width="1" fill="none"/>"##,
                    cy - 4.0,
                    cy + 4.0,
                );
                text_x = text_x.max(xh);
            }
            let star = if b.median == best && !b.reference {
                " ★"
            } else {
                ""
            };
            let _ = writeln!(
                body,
                r#"<text x="{:.1}" y="{:.1}" class="value">{}{star}</text>"#,
                text_x + 6.0,
                cy + 4.0,
                fmt(b.median)
            );
            y += ROW_H;
        }
        y += 14.0;
    }
    let height = y + 24.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" font-family="Helvetica, Arial, sans-serif">"#
    );
    s.push_str(
        "<style>.title{font-size:17px;font-weight:bold}.sub{font-size:11px;fill:#495057}\
         .panel{font-size:14px;font-weight:bold}.label{font-size:12px}.value{font-size:11px}\
         .foot{font-size:10px;fill:#868e96}</style>\n",
    );
    let _ = writeln!(
        s,
        r#"<rect width="100%" height="100%" fill="white"/><text x="10" y="22" class="title">{}</text><text x="10" y="40" class="sub">{}</text>"#,
        esc(title),
        esc(subtitle)
    );
    s.push_str(&body);
    let _ = writeln!(
        s,
        r#"<text x="10" y="{:.1}" class="foot">Bars: median over repetitions; whiskers: min–max (arrow: clipped); ★ best non-reference median; dashed: physical references. Regenerate: cargo bench --bench peers</text>"#,
        height - 10.0
    );
    s.push_str("</svg>\n");
    s
}

/// (scenario key, metric key, panel title, row labels to leave out).
type PanelSpec = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
);

/// Reads the results JSON and writes the two charts into `dir`.
pub(crate) fn render_files(json: &Path, dir: &Path) -> Result<Vec<PathBuf>, String> {
    let text = fs::read_to_string(json).map_err(|e| e.to_string())?;
    let results: Results = serde_json::from_str(&text).map_err(|e| format!("JSON: {e}"))?;
    let meta = &results.meta;
    let subtitle = format!(
        "{}, {} CPUs, Linux {}; load at start {}; capacity {}, 16-byte messages; `{}`",
        meta.cpu, meta.cpus, meta.kernel, meta.load_start, meta.capacity, meta.command
    );
    let mut written = Vec::new();
    let sets: [(&str, &str, &[PanelSpec]); 2] = [
        (
            "bench-throughput.svg",
            "sigring vs peers: throughput",
            &[
                ("spsc", "mmsg_s", "spsc (1 producer)", &[]),
                ("mpsc2", "mmsg_s", "mpsc2 (2 producers)", &[]),
                ("mpsc4", "mmsg_s", "mpsc4 (4 producers)", &[]),
                ("mpsc16", "mmsg_s", "mpsc16 (16 producers)", &[]),
                (
                    "slow_consumer",
                    "mmsg_s",
                    "slow_consumer (4 producers, ~1 us per value)",
                    &[],
                ),
            ],
        ),
        (
            "bench-latency.svg",
            "sigring vs peers: latency and cost",
            &[
                ("pingpong", "p50_us", "pingpong one-way", &[]),
                ("idle_wake", "p50_us", "idle_wake send-to-receive", &[]),
                ("idle_wake", "cpu_us_per_msg", "idle_wake", &[]),
                (
                    "slow_consumer",
                    "producer_cpu_us_per_msg",
                    "slow_consumer",
                    &[],
                ),
                (
                    "syscalls",
                    "spsc",
                    "syscalls per message at saturation",
                    &[],
                ),
                ("syscalls", "idle_wake", "syscalls per message, idle", &[]),
                ("handler_push", "ns", "handler_push", &["raise"]),
            ],
        ),
    ];
    for (file, title, specs) in sets {
        let panels: Vec<Panel> = specs
            .iter()
            .filter_map(|spec| panel(&results, spec))
            .collect();
        if panels.is_empty() {
            continue;
        }
        let path = dir.join(file);
        fs::write(&path, svg(title, &subtitle, &panels)).map_err(|e| e.to_string())?;
        written.push(path);
    }
    Ok(written)
}
