//! What a run leaves behind: the markdown tables (stdout and `bench-results.md`), the
//! JSON (`bench-results.json`, see `schema.rs`), the charts, and the project's targets
//! checked against the run.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};
use std::{env, fs, thread};

use crate::chart;
use crate::chart::schema::{self, Meta, Results, Target};
use crate::config::Config;
use crate::peers::{Peer, CAP};
use crate::scenarios::{HP_HANDLER, HP_PLAIN};
use crate::stats::{fmt_num, stat};
use crate::table::Table;

/// Writes `bench-results.md`, `bench-results.json` and the charts into `dir`; returns the
/// files written.
pub(crate) fn write(dir: &Path, md: &str, results: &Results) -> Result<Vec<PathBuf>, String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let md_path = dir.join("bench-results.md");
    let json_path = dir.join("bench-results.json");
    fs::write(&md_path, md).map_err(|e| format!("{}: {e}", md_path.display()))?;
    let mut json = serde_json::to_string_pretty(results).map_err(|e| e.to_string())?;
    json.push('\n');
    fs::write(&json_path, json).map_err(|e| format!("{}: {e}", json_path.display()))?;
    // The charts are drawn from the file just written, so a run also checks that its JSON
    // reads back.
    let mut written = vec![md_path, json_path.clone()];
    written.extend(chart::render_files(&json_path, dir)?);
    Ok(written)
}

/// The run as the JSON holds it.
pub(crate) fn results(meta: Meta, tables: &[Table], targets: Vec<Target>) -> Results {
    Results {
        meta,
        scenarios: tables.iter().map(scenario).collect(),
        targets,
    }
}

fn scenario(t: &Table) -> schema::Scenario {
    let metrics = t.metrics.iter().map(|m| schema::Metric {
        key: m.key.to_string(),
        label: m.label.to_string(),
        higher_is_better: m.higher_is_better,
    });
    let rows = t.rows.iter().map(|r| schema::Row {
        peer: r.peer.key().to_string(),
        label: r.label(),
        reference: r.peer.is_reference(),
        note: r.note.clone(),
        values: schema::Values(
            t.metrics
                .iter()
                .zip(&r.samples)
                .map(|(m, s)| (m.key.to_string(), value(s)))
                .collect(),
        ),
    });
    schema::Scenario {
        key: t.key.to_string(),
        title: t.title.clone(),
        about: t.about.clone(),
        load: t.load.clone(),
        seconds: t.seconds,
        metrics: metrics.collect(),
        rows: rows.collect(),
    }
}

fn value(samples: &[f64]) -> schema::Value {
    let (median, min, max) = stat(samples).unwrap_or((f64::NAN, f64::NAN, f64::NAN));
    schema::Value {
        median,
        min,
        max,
        samples: samples.to_vec(),
    }
}

/// Where and how the run was made.
pub(crate) fn meta(cfg: &Config, load_start: String, load_end: String, seconds: f64) -> Meta {
    let cpu = fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "?".into());
    let run = |cmd: &str, args: &[&str]| {
        Command::new(cmd)
            .args(args)
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    let mut command = String::from("cargo bench --bench peers");
    let extra: Vec<String> = env::args().skip(1).filter(|a| a != "--bench").collect();
    if !extra.is_empty() {
        command.push_str(" -- ");
        command.push_str(&extra.join(" "));
    }
    Meta {
        capacity: CAP,
        date_unix: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        cpu,
        cpus: thread::available_parallelism().map_or(0, |n| n.get()),
        kernel: run("uname", &["-r"]),
        rustc: run(
            &env::var("RUSTC").unwrap_or_else(|_| "rustc".into()),
            &["-V"],
        ),
        command,
        reps: cfg.reps,
        quick: cfg.quick,
        load_start,
        load_end,
        seconds,
    }
}

/// The issue's targets, checked against this run.
pub(crate) fn targets(scenarios: &[Table]) -> Vec<Target> {
    let find = |k: &str| scenarios.iter().find(|s| s.key == k);
    let me = Peer::SigringEventfd;
    let mut out = Vec::new();
    for key in ["spsc", "mpsc2", "mpsc4", "mpsc16", "slow_consumer"] {
        let Some(sc) = find(key) else { continue };
        let Some((mine, _, _)) = sc.stat(me, None, "mmsg_s") else {
            continue;
        };
        let best = sc
            .rows
            .iter()
            .filter(|r| is_peer(r.peer))
            .filter_map(|r| stat(&r.samples[0]).map(|s| (r.peer, s.0)))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        if let Some((bp, bv)) = best {
            out.push(Target {
                target: format!("{key}: sigring (eventfd) ahead of every peer (median)"),
                measured: format!(
                    "{} vs best peer {} {} Mmsg/s: {}x",
                    fmt_num(mine),
                    bp.name(),
                    fmt_num(bv),
                    fmt_num(mine / bv)
                ),
                met: Some(mine > bv),
            });
        }
        if key == "spsc" {
            if let Some((ceil, lo, hi)) = sc.stat(Peer::BareRing, None, "mmsg_s") {
                // Each repetition runs sigring and the bare ring back to back, so their
                // ratio within a repetition does not see the machine's slow and fast spells
                // (see benchmarks.md); met only if both that and the ratio of medians are.
                let per_rep = sc
                    .samples(me, None, "mmsg_s")
                    .zip(sc.samples(Peer::BareRing, None, "mmsg_s"))
                    .map(|(a, b)| a.iter().zip(b).map(|(a, b)| a / b).collect::<Vec<_>>())
                    .and_then(|r| stat(&r))
                    .map_or(f64::NAN, |s| s.0);
                out.push(Target {
                    target: "spsc: at least half the bare two-thread ring ceiling".into(),
                    measured: format!(
                        "{} vs ceiling {} ({}-{}) Mmsg/s: {}x; median per repetition {}x",
                        fmt_num(mine),
                        fmt_num(ceil),
                        fmt_num(lo),
                        fmt_num(hi),
                        fmt_num(mine / ceil),
                        fmt_num(per_rep)
                    ),
                    met: Some(mine >= ceil / 2.0 && per_rep >= 0.5),
                });
            }
        }
    }
    if let Some(sc) = find("slow_consumer") {
        out.extend(at_most_lowest_peer(
            sc,
            "producer_cpu_us_per_msg",
            "slow_consumer producers' CPU/msg: no more than the lowest peer's",
        ));
    }
    if let Some(sc) = find("pingpong") {
        if let (Some((mine, _, _)), Some((cb, _, _))) = (
            sc.stat(me, None, "p50_us"),
            sc.stat(Peer::Crossbeam, None, "p50_us"),
        ) {
            out.push(Target {
                target: "pingpong p50: within 1.3x of crossbeam-channel".into(),
                measured: format!(
                    "{} vs {} us: {}x",
                    fmt_num(mine),
                    fmt_num(cb),
                    fmt_num(mine / cb)
                ),
                met: Some(mine <= cb * 1.3),
            });
        }
    }
    if let Some(sc) = find("idle_wake") {
        if let (Some((mine, _, _)), Some((raw, _, _))) = (
            sc.stat(me, None, "p50_us"),
            sc.stat(Peer::RawEventfd, None, "p50_us"),
        ) {
            out.push(Target {
                target: "idle_wake p50: within 1.1x of the raw eventfd".into(),
                measured: format!(
                    "{} vs {} us: {}x",
                    fmt_num(mine),
                    fmt_num(raw),
                    fmt_num(mine / raw)
                ),
                met: Some(mine <= raw * 1.1),
            });
        }
        out.extend(at_most_lowest_peer(
            sc,
            "cpu_us_per_msg",
            "idle_wake consumer CPU/msg: no more than the lowest peer's",
        ));
    }
    if let Some(sc) = find("syscalls") {
        if let Some((mine, _, _)) = sc.stat(me, None, "spsc") {
            let mio = sc.stat(Peer::AqMio, None, "spsc").map(|s| s.0);
            out.push(Target {
                target: "syscalls at saturation (spsc): at most 0.01 per message".into(),
                measured: format!(
                    "{}/msg (ArrayQueue + mio::Waker: {})",
                    fmt_num(mine),
                    mio.map_or("-".into(), fmt_num)
                ),
                met: Some(mine <= 0.01),
            });
        }
    }
    if let Some(sc) = find("handler_push") {
        let plain = sc.stat(me, Some(HP_PLAIN), "ns");
        let handler = sc.stat(me, Some(HP_HANDLER), "ns");
        if let (Some((p, _, _)), Some((h, _, _))) = (plain, handler) {
            out.push(Target {
                target: "handler_push: within 2x of a plain-context try_send".into(),
                measured: format!("{} vs {} ns: {}x", fmt_num(h), fmt_num(p), fmt_num(h / p)),
                met: Some(h <= 2.0 * p),
            });
        }
    }
    out
}

/// A peer sigring is compared with: neither a reference row nor sigring itself (on either
/// backend).
fn is_peer(peer: Peer) -> bool {
    !peer.is_reference() && !matches!(peer, Peer::SigringEventfd | Peer::SigringPipe)
}

/// The target "sigring's `metric` (lower is better) no more than the lowest peer's".
fn at_most_lowest_peer(sc: &Table, metric: &str, target: &str) -> Option<Target> {
    let (mine, _, _) = sc.stat(Peer::SigringEventfd, None, metric)?;
    let (lp, lv) = sc
        .rows
        .iter()
        .filter(|r| is_peer(r.peer))
        .filter_map(|r| sc.stat(r.peer, None, metric).map(|s| (r.peer, s.0)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    Some(Target {
        target: target.into(),
        measured: format!(
            "{} vs {} {} us: {}x",
            fmt_num(mine),
            lp.name(),
            fmt_num(lv),
            fmt_num(mine / lv)
        ),
        met: Some(mine <= lv),
    })
}

/// The report: the run, a summary of the headline numbers, the targets, then one table per
/// scenario with its method.
pub(crate) fn markdown(meta: &Meta, scenarios: &[Table], targets: &[Target]) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# sigring benchmark results\n");
    let _ = writeln!(
        md,
        "Generated by `{}` (see [benchmarks.md](benchmarks.md) for the method). \
         Machine: {}, {} CPUs, Linux {}, {}. {} repetition(s){}, peers interleaved. \
         Load average (1/5/15 min) at start: {}, at end: {}. Took {:.0} s.\n",
        meta.command,
        meta.cpu,
        meta.cpus,
        meta.kernel,
        meta.rustc,
        meta.reps,
        if meta.quick { ", quick mode" } else { "" },
        meta.load_start,
        meta.load_end,
        meta.seconds
    );
    let _ = writeln!(
        md,
        "Cells: median (min–max) over repetitions. Capacity {CAP} everywhere. \
         Ratios are against sigring (eventfd).\n"
    );
    let summary = summary_table(scenarios);
    if !summary.is_empty() {
        let _ = writeln!(md, "## Summary (medians)\n");
        md.push_str(&summary);
        md.push('\n');
    }
    if !targets.is_empty() {
        let _ = writeln!(md, "## Targets\n");
        let _ = writeln!(md, "| target | measured | met |\n|---|---|---|");
        for t in targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "-",
            };
            let _ = writeln!(md, "| {} | {} | {met} |", t.target, t.measured);
        }
        md.push('\n');
    }
    for sc in scenarios {
        let _ = writeln!(md, "## {}\n", sc.title);
        let _ = writeln!(
            md,
            "{} Load at start: {}; {:.0} s.\n",
            sc.about, sc.load, sc.seconds
        );
        let reference = sc
            .stat(Peer::SigringEventfd, None, sc.metrics[0].key)
            .map(|s| s.0);
        let mut header = String::from("| peer |");
        let mut rule = String::from("|---|");
        for m in &sc.metrics {
            let _ = write!(header, " {} |", m.label);
            rule.push_str("---:|");
        }
        let ratio = reference.is_some() && sc.key != "handler_push";
        if ratio {
            let _ = write!(header, " {} ÷ sigring |", sc.metrics[0].label);
            rule.push_str("---:|");
        }
        let notes = sc.rows.iter().any(|r| !r.note.is_empty());
        if notes {
            header.push_str(" breakdown per message |");
            rule.push_str("---|");
        }
        let _ = writeln!(md, "{header}\n{rule}");
        for row in &sc.rows {
            let mut line = format!("| {} |", md_escape(&row.label()));
            for s in &row.samples {
                match stat(s) {
                    Some((m, lo, hi)) if m.is_finite() => {
                        if s.len() > 1 {
                            let _ =
                                write!(line, " {} ({}–{}) |", fmt_num(m), fmt_num(lo), fmt_num(hi));
                        } else {
                            let _ = write!(line, " {} |", fmt_num(m));
                        }
                    }
                    _ => line.push_str(" - |"),
                }
            }
            if ratio {
                match (stat(&row.samples[0]), reference) {
                    (Some((m, _, _)), Some(r)) if r != 0.0 => {
                        let _ = write!(line, " {}x |", fmt_num(m / r));
                    }
                    _ => line.push_str(" - |"),
                }
            }
            if notes {
                let _ = write!(line, " {} |", row.note);
            }
            let _ = writeln!(md, "{line}");
        }
        md.push('\n');
    }
    md
}

/// One row per peer, one column per headline number: what the README shows.
fn summary_table(scenarios: &[Table]) -> String {
    let cols: [(&str, &str, &str); 9] = [
        ("spsc", "mmsg_s", "spsc Mmsg/s"),
        ("mpsc2", "mmsg_s", "mpsc2 Mmsg/s"),
        ("mpsc4", "mmsg_s", "mpsc4 Mmsg/s"),
        ("mpsc16", "mmsg_s", "mpsc16 Mmsg/s"),
        (
            "slow_consumer",
            "producer_cpu_us_per_msg",
            "slow consumer: producers' CPU/msg µs",
        ),
        ("pingpong", "p50_us", "pingpong p50 µs"),
        ("idle_wake", "p50_us", "idle wake p50 µs"),
        ("idle_wake", "cpu_us_per_msg", "idle CPU/msg µs"),
        ("syscalls", "spsc", "syscalls/msg (spsc)"),
    ];
    let present: Vec<_> = cols
        .iter()
        .filter(|(k, _, _)| scenarios.iter().any(|s| s.key == *k))
        .collect();
    if present.is_empty() {
        return String::new();
    }
    let mut peers: Vec<Peer> = Vec::new();
    for sc in scenarios {
        for r in &sc.rows {
            if r.label.is_none() && !peers.contains(&r.peer) {
                peers.push(r.peer);
            }
        }
    }
    let mut out = String::from("| |");
    let mut rule = String::from("|---|");
    for (_, _, label) in &present {
        let _ = write!(out, " {label} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "\n{rule}");
    for peer in peers {
        let _ = write!(out, "| {} |", md_escape(&peer.display_name()));
        for (key, metric, _) in &present {
            let v = scenarios
                .iter()
                .find(|s| s.key == *key)
                .and_then(|s| s.stat(peer, None, metric));
            match v {
                Some((m, _, _)) if m.is_finite() => {
                    let _ = write!(out, " {} |", fmt_num(m));
                }
                _ => out.push_str(" |"),
            }
        }
        out.push('\n');
    }
    out
}

fn md_escape(s: &str) -> String {
    s.replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('|', "\\|")
}
