//! The command line.

use std::env;
use std::path::{Path, PathBuf};

use crate::peers::{Peer, CHANNELS};

pub(crate) const HELP: &str = "\
sigring benchmarks against its peers (a purpose-built runner, not criterion).

USAGE: cargo bench --bench peers -- [OPTIONS]

OPTIONS:
  --quick            fewer repetitions and messages (about a minute)
  --reps N           repetitions per scenario (default 5, quick 3)
  --only LIST        comma-separated scenarios: spsc,mpsc2,mpsc4,mpsc16,slow_consumer,
                     pingpong,idle_wake,syscalls,handler_push
  --peers LIST       comma-separated substrings of peer keys (sigring-eventfd always runs):
                     sigring-pipe,crossbeam-channel,flume,thingbuf,std,arrayqueue-mio,
                     mutex-condvar
  --scale F          multiply message counts and durations by F
  --out DIR          write bench-results.{md,json} and the SVG charts there
                     (default: docs/ for a full run of every scenario and peer; otherwise
                     nothing is written unless --out is given)
  --no-save          write nothing, print only

A quick look at one scenario (a few seconds, nothing written):
  cargo bench --bench peers -- --only spsc --peers sigring-eventfd --reps 1 --scale 0.1
";

pub(crate) struct Config {
    pub(crate) quick: bool,
    pub(crate) reps: usize,
    only: Option<Vec<String>>,
    peers: Option<Vec<String>>,
    scale: f64,
    /// Where the results are written, if anywhere.
    pub(crate) out: Option<PathBuf>,
}

impl Config {
    /// Whether `scenario` runs.
    pub(crate) fn wants(&self, scenario: &str) -> bool {
        self.only
            .as_ref()
            .map_or(true, |o| o.iter().any(|s| s == scenario))
    }

    /// The channels that run: every one, or those `--peers` names, and always sigring
    /// (eventfd), against which every ratio is taken.
    pub(crate) fn channels(&self) -> Vec<Peer> {
        CHANNELS
            .iter()
            .copied()
            .filter(|&peer| {
                peer == Peer::SigringEventfd
                    || self.peers.as_ref().map_or(true, |ps| {
                        ps.iter().any(|p| peer.key().contains(p.as_str()))
                    })
            })
            .collect()
    }

    /// A count (or a duration in ms): `full`, or `quick` with `--quick`, times `--scale`.
    pub(crate) fn n(&self, full: u64, quick: u64) -> u64 {
        let base = if self.quick { quick } else { full };
        ((base as f64 * self.scale) as u64).max(1)
    }
}

/// Reads the command line (`cargo bench` passes its own filters through: anything
/// unknown is ignored). `--help` prints [`HELP`] and exits.
pub(crate) fn parse_args() -> Config {
    let mut cfg = Config {
        quick: false,
        reps: 0,
        only: None,
        peers: None,
        scale: 1.0,
        out: None,
    };
    let mut save = true;
    let mut explicit_out = false;
    let args: Vec<String> = env::args().skip(1).collect();
    let mut i = 0;
    let list = |s: &str| {
        s.split(',')
            .map(|x| x.trim().to_string())
            .collect::<Vec<_>>()
    };
    while i < args.len() {
        let a = args[i].as_str();
        let mut value = || {
            i += 1;
            args.get(i)
                .cloned()
                .unwrap_or_else(|| panic!("{a} needs a value"))
        };
        match a {
            "--bench" => {}
            "--quick" => cfg.quick = true,
            "--reps" => cfg.reps = value().parse().expect("--reps N"),
            "--only" => cfg.only = Some(list(&value())),
            "--peers" => cfg.peers = Some(list(&value())),
            "--scale" => cfg.scale = value().parse().expect("--scale F"),
            "--out" => {
                cfg.out = Some(PathBuf::from(value()));
                explicit_out = true;
            }
            "--no-save" => save = false,
            "-h" | "--help" => {
                print!("{HELP}");
                std::process::exit(0);
            }
            _ => {}
        }
        i += 1;
    }
    if cfg.reps == 0 {
        cfg.reps = if cfg.quick { 3 } else { 5 };
    }
    if !explicit_out && cfg.only.is_none() && cfg.peers.is_none() && cfg.scale == 1.0 {
        cfg.out = Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs"));
    }
    if !save {
        cfg.out = None;
    }
    cfg
}
