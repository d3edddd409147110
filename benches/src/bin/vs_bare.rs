//! The engine against its bare loop, interleaved: `vs_bare WORKLOAD [ROUNDS]`, WORKLOAD one of
//! `pingpong_5`, `pingpong_500`, `pingpong_500_untracked`, `pingpong_10000` (untracked, as
//! in the engine bench) or `probes_10000`. `raft` has no bare loop (a bare Raft would be a
//! second Raft): it sets the healthy cluster of the `raft` bench at steady load (properties off,
//! so the engine and the model are timed, not the checkers) against the 5-host pingpong on the
//! engine, and reports what a Raft event costs in pingpong deliveries. Each round runs the engine once and the bare loop
//! once, back to back; the figures are each side's fastest round (building a run is not
//! timed). On a machine shared with other work, the fastest of interleaved rounds moves far
//! less than criterion's means of two groups measured one after the other.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall time of whole runs

use ruckus_benches::probes::{ProbeLoad, bare_probes, build_probes};
use ruckus_benches::raft::{RaftLoad, build_raft};
use ruckus_benches::{bare_pingpong, build_pingpong, build_pingpong_untracked};
use ruckus_models::pingpong::PingPongConfig;
use ruckus_sim::Verdict;
use std::hint::black_box;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const SEED: u64 = 1;

fn pingpong(hosts: u32, in_flight: u32) -> PingPongConfig {
    PingPongConfig {
        hosts,
        in_flight,
        deliveries: 1_000_000,
    }
}

fn time(f: impl FnOnce()) -> Duration {
    let start = Instant::now();
    f();
    start.elapsed()
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = match args.get(1).map(|r| r.parse::<u32>()) {
        None => 10,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("ROUNDS must be a positive whole number");
            return ExitCode::from(2);
        }
    };
    let workload = args.first().map_or("pingpong_5", String::as_str);
    let (mut engine, mut bare) = (Duration::MAX, Duration::MAX);
    let elements;
    match workload {
        "pingpong_5" | "pingpong_500" | "pingpong_500_untracked" | "pingpong_10000" => {
            let config = match workload {
                "pingpong_5" => PingPongConfig::default(),
                "pingpong_10000" => pingpong(10_000, 100_000),
                _ => pingpong(500, 5_000),
            };
            let build = match workload {
                "pingpong_5" | "pingpong_500" => build_pingpong,
                _ => build_pingpong_untracked,
            };
            elements = config.deliveries;
            for _ in 0..rounds {
                let mut sim = build(&config, SEED);
                engine = engine.min(time(|| {
                    let report = sim.run();
                    assert_eq!(report.verdict, Verdict::Held);
                    assert_eq!(report.deliveries, config.deliveries);
                    black_box(report.fingerprint);
                }));
                bare = bare.min(time(|| {
                    black_box(bare_pingpong(black_box(&config), SEED));
                }));
            }
        }
        "probes_10000" => {
            let load = ProbeLoad {
                hosts: 10_000,
                secs: 20,
            };
            elements = bare_probes(&load, SEED).events;
            for _ in 0..rounds {
                let mut sim = build_probes(&load, SEED);
                engine = engine.min(time(|| {
                    let report = sim.run();
                    assert_eq!(report.events, elements);
                    black_box(report.fingerprint);
                }));
                bare = bare.min(time(|| {
                    black_box(bare_probes(black_box(&load), SEED));
                }));
            }
        }
        "raft" => return raft_against_pingpong(rounds),
        _ => {
            eprintln!(
                "usage: vs_bare [pingpong_5|pingpong_500|pingpong_500_untracked|pingpong_10000|probes_10000|raft] [ROUNDS]"
            );
            return ExitCode::from(2);
        }
    }
    let rate = |d: Duration| elements as f64 / d.as_secs_f64() / 1e6;
    println!(
        "{workload}: ruckus {:.2} M/s, bare loop {:.2} M/s, vs_bare {:.2} (fastest of {rounds} interleaved rounds)",
        rate(engine),
        rate(bare),
        bare.as_secs_f64() / engine.as_secs_f64()
    );
    ExitCode::SUCCESS
}

/// The healthy Raft cluster at steady load against the 5-host pingpong, both on the engine,
/// interleaved: the fastest round of each, as nanoseconds per event.
fn raft_against_pingpong(rounds: u32) -> ExitCode {
    let load = RaftLoad {
        properties: false,
        ..RaftLoad::default()
    };
    let pingpong = PingPongConfig::default();
    let (mut raft, mut pp) = ((Duration::MAX, 0u64), (Duration::MAX, 0u64));
    for _ in 0..rounds {
        let mut sim = match build_raft(&load, SEED) {
            Ok(sim) => sim,
            Err(e) => {
                eprintln!("raft config: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut events = 0;
        let t = time(|| {
            let report = sim.run();
            assert_eq!(report.verdict, Verdict::Held);
            events = report.events;
        });
        raft = raft.min((t, events));
        let mut sim = build_pingpong(&pingpong, SEED);
        let t = time(|| {
            let report = sim.run();
            assert_eq!(report.verdict, Verdict::Held);
            events = report.events;
        });
        pp = pp.min((t, events));
    }
    let per_event = |(t, n): (Duration, u64)| t.as_nanos() as f64 / n as f64;
    println!(
        "raft: {} events in {:.1} ms, {:.0} ns per event; pingpong_5: {:.0} ns per event; a Raft event costs {:.1} pingpong deliveries (fastest of {rounds} interleaved rounds)",
        raft.1,
        raft.0.as_secs_f64() * 1e3,
        per_event(raft),
        per_event(pp),
        per_event(raft) / per_event(pp)
    );
    ExitCode::SUCCESS
}
