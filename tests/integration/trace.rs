//! Failures that replay: trace files, replay verification, shrinking.
//!
//! - 200 seeds of pingpong under every fault kind: record, re-execute, "matches".
//! - 200 seeds of lease_lock (healthy and the three planted bugs, so failing runs too) likewise.
//! - A traced re-run agrees with the fast run's fingerprint.
//! - A changed model (different payloads, a different timer constant) or changed properties
//!   replayed against an old trace report the first divergent event, checked against an
//!   independent event-by-event comparison.
//! - Stepping to an event and inspecting a process, then finishing the replay.
//! - Every bad trace file: empty, wrong magic, future version, truncated, corrupted (at open
//!   and in the middle of a replay) — one-line errors naming the file.
//! - Shrinking a planted-bug failure of lease_lock to a few fault actions that still fail the
//!   same property.
//! - Trace size on pingpong stays within 24 bytes per event.
//! - Shrinking lease_lock's planted no-fencing bug ends with at most three fault actions that
//!   still fail `storage_fenced`, and the shrunk run records and replays.

use crate::support::TempDir;
use ruckus_models::pingpong::{self, PingPong, PingPongConfig};
use ruckus_sim::trace::{
    DetailText, Replay, ReplayOutcome, ReplayStatus, TraceError, TraceHeader, TraceReader, record_run, shared,
};
use ruckus_sim::{
    Context, Distribution, Duration, FaultPlan, FaultProfile, FaultRate, HostId, Limits, Process, ProcessId,
    Property, RecordKind, RecordingObserver, Sim, SimConfig, Topology,
};
use std::path::Path;

fn small_pingpong(deliveries: u64) -> PingPongConfig {
    PingPongConfig {
        hosts: 5,
        in_flight: 10,
        deliveries,
    }
}

/// Every fault kind, about one of each per 300 ms, over a short run.
fn faults() -> FaultProfile {
    let mut p = FaultProfile::everything(FaultRate {
        mean_interval: Duration::from_millis(300),
        duration_min: Duration::from_millis(10),
        duration_max: Duration::from_millis(300),
    });
    p.quiet_period = Duration::from_millis(200);
    p.max_hosts_down = 2;
    p
}

fn pingpong_sim(seed: u64, config: &PingPongConfig, with_faults: bool) -> Sim<PingPong> {
    let topology = config.topology();
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        horizon: config.horizon(),
        ..Limits::default()
    };
    let mut sim = Sim::new(sim_config, &topology);
    pingpong::setup(&mut sim, config);
    for p in pingpong::properties(config) {
        sim.add_property(p);
    }
    if with_faults {
        let plan = faults().plan(seed, topology.hosts(), config.horizon());
        sim.set_fault_plan(plan).unwrap();
    }
    sim
}

fn header_for(sim: &Sim<PingPong>, config: &PingPongConfig) -> TraceHeader {
    let mut h = TraceHeader::new(sim.seed(), format!("{config:?}"), sim.fault_plan().clone());
    h.labels.push(("model".into(), "pingpong".into()));
    h
}

fn record_pingpong(
    path: &Path,
    seed: u64,
    config: &PingPongConfig,
    with_faults: bool,
) -> ruckus_sim::RunReport {
    let mut sim = pingpong_sim(seed, config, with_faults);
    let header = header_for(&sim, config);
    let (report, summary) = record_run(&mut sim, path, &header, None).unwrap();
    assert_eq!(summary.fingerprint, report.fingerprint);
    report
}

fn replay(path: &Path, mut sim: Sim<PingPong>) -> ReplayOutcome {
    let reader = TraceReader::open(path).unwrap();
    let replay = Replay::attach(&mut sim, reader, 4, None);
    replay.run_to_end(&mut sim).unwrap()
}

#[test]
fn two_hundred_seeds_of_pingpong_with_faults_replay_exactly() {
    let dir = TempDir::new("200");
    let config = small_pingpong(600);
    let (mut dropped, mut faulted) = (0, 0);
    for seed in 0..200 {
        let path = dir.file(&format!("{seed}.trace"));
        let report = record_pingpong(&path, seed, &config, true);
        let mut reader = TraceReader::open(&path).unwrap();
        assert_eq!(reader.header().seed, seed);
        let plan = reader.header().plan.clone();
        faulted += usize::from(!plan.actions.is_empty());
        let events = reader.read_all().unwrap();
        dropped += usize::from(events.iter().any(|e| e.record.kind == RecordKind::Dropped));
        // The header alone is enough to rebuild the run.
        let mut sim = pingpong_sim(seed, &config, false);
        sim.set_fault_plan(plan).unwrap();
        match replay(&path, sim) {
            ReplayOutcome::Matches {
                events: n,
                records,
                fingerprint,
                ..
            } => {
                assert_eq!(n, report.events, "seed {seed}");
                assert_eq!(records, events.len() as u64, "seed {seed}");
                assert_eq!(fingerprint, report.fingerprint, "seed {seed}");
            }
            ReplayOutcome::Diverged(d) => panic!("seed {seed}: {d}"),
        }
        std::fs::remove_file(&path).unwrap();
    }
    // The faults were real: plans were non-empty and messages were lost to them.
    assert!(faulted >= 190, "only {faulted} seeds had faults");
    assert!(dropped >= 50, "only {dropped} seeds dropped a message");
}

#[test]
fn a_traced_rerun_agrees_with_the_fast_run() {
    let dir = TempDir::new("rerun");
    let config = small_pingpong(2_000);
    let fast = pingpong_sim(7, &config, true).run();
    let mut sim = pingpong_sim(7, &config, true);
    let header = header_for(&sim, &config);
    let (report, summary) =
        record_run(&mut sim, dir.file("a.trace"), &header, Some(fast.fingerprint)).unwrap();
    assert_eq!(report, fast);
    assert_eq!(summary.events, fast.events);
    // A "fast run" from another seed is not the same run, and the writer says so.
    let other = pingpong_sim(8, &config, true).run();
    let mut sim = pingpong_sim(7, &config, true);
    let err = record_run(&mut sim, dir.file("b.trace"), &header, Some(other.fingerprint)).unwrap_err();
    assert!(matches!(err, TraceError::NotRecorded { .. }), "{err}");
    assert!(!dir.file("b.trace").exists());
}

/// The first position where two runs' records differ, found by brute force.
fn first_difference(a: Sim<PingPong>, b: Sim<PingPong>) -> usize {
    let records = |mut sim: Sim<PingPong>| {
        let (obs, rec) = shared(RecordingObserver::default());
        sim.set_observer(Box::new(obs));
        sim.run();
        drop(sim);
        std::rc::Rc::try_unwrap(rec).unwrap().into_inner().records
    };
    let (a, b) = (records(a), records(b));
    a.iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()))
}

#[test]
fn a_changed_model_diverges_at_the_first_different_event() {
    let dir = TempDir::new("changed");
    let path = dir.file("old.trace");
    let old = small_pingpong(2_000);
    record_pingpong(&path, 3, &old, true);
    // "New code": every ball carries a different hop budget, so payload digests change.
    let new = small_pingpong(2_001);
    let expected = first_difference(pingpong_sim(3, &old, true), pingpong_sim(3, &new, true));
    let ReplayOutcome::Diverged(d) = replay(&path, pingpong_sim(3, &new, true)) else {
        panic!("a changed model replayed as a match");
    };
    assert_eq!(d.position, expected as u64);
    let (rec, rep) = (d.recorded.unwrap(), d.replayed.unwrap());
    assert_eq!(rec.kind, RecordKind::Deliver);
    assert_ne!(rec.digest, rep.digest);
    assert!(d.reason.contains("payload digest"), "{}", d.reason);
    assert_eq!(d.before.len(), 4);
    assert_eq!(d.before.last().unwrap().index + 1, rec.index);
    let text = d.to_string();
    assert!(text.contains("recorded:") && text.contains("replayed:"), "{text}");
}

/// A process that ticks every `period_ms` of its local clock, noting each tick.
#[derive(Clone, Debug)]
struct Ticker {
    period_ms: u64,
    ticks: u32,
}

impl Process for Ticker {
    type Message = ();
    type Timer = u32;
    type Operation = ();
    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.set_timer(Duration::from_millis(self.period_ms), 0);
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, n: u32) {
        self.ticks += 1;
        ctx.note(&format!("tick {n}"));
        if n < 20 {
            ctx.set_timer(Duration::from_millis(self.period_ms), n + 1);
        }
    }
}

fn ticker_sim(period_ms: u64) -> Sim<Ticker> {
    let topology = Topology::single_switch(2, Distribution::constant(Duration::from_millis(1)));
    let mut sim = Sim::new(SimConfig::with_seed(1), &topology);
    sim.spawn(HostId(0), Ticker { period_ms, ticks: 0 });
    sim.spawn(
        HostId(1),
        Ticker {
            period_ms: 7,
            ticks: 0,
        },
    );
    sim
}

#[test]
fn a_changed_timer_constant_diverges_at_the_first_tick() {
    let dir = TempDir::new("ticker");
    let path = dir.file("t.trace");
    let mut sim = ticker_sim(10);
    let header = TraceHeader::new(1, "ticker period_ms=10", FaultPlan::none());
    record_run(&mut sim, &path, &header, None).unwrap();
    // Notes come back with their text.
    let events = TraceReader::open(&path).unwrap().read_all().unwrap();
    assert!(events.iter().any(|e| e.note.as_deref() == Some("tick 3")));
    // Same constant: matches.
    let mut same = ticker_sim(10);
    let r = Replay::attach(&mut same, TraceReader::open(&path).unwrap(), 3, None);
    assert!(matches!(
        r.run_to_end(&mut same).unwrap(),
        ReplayOutcome::Matches { .. }
    ));
    // Period 11 instead of 10: p1's first tick at 7 ms still matches, p0's at 10 ms does not.
    let mut changed = ticker_sim(11);
    let r = Replay::attach(&mut changed, TraceReader::open(&path).unwrap(), 3, None);
    let ReplayOutcome::Diverged(d) = r.run_to_end(&mut changed).unwrap() else {
        panic!("changed timer matched")
    };
    let (rec, rep) = (d.recorded.unwrap(), d.replayed.unwrap());
    assert_eq!(
        (rec.kind, rec.process, rec.time),
        (RecordKind::Timer, 0, ruckus_sim::Instant(10_000_000))
    );
    assert_eq!(
        (rep.kind, rep.process, rep.time),
        (RecordKind::Timer, 0, ruckus_sim::Instant(11_000_000))
    );
    // Before it: both starts, p1's tick at 7 ms and its note.
    assert_eq!(d.position, 4);
    assert!(d.reason.contains("time"), "{}", d.reason);
}

#[test]
fn changed_properties_are_reported_even_when_every_event_matches() {
    let dir = TempDir::new("props");
    let path = dir.file("p.trace");
    let config = small_pingpong(500);
    record_pingpong(&path, 5, &config, false);
    let mut sim = pingpong_sim(5, &config, false);
    sim.add_property(Property::at_end("too_strict", |_| Err("always fails".into())));
    let ReplayOutcome::Diverged(d) = replay(&path, sim) else {
        panic!("a new verdict went unnoticed")
    };
    assert!(d.reason.contains("verdict differs"), "{}", d.reason);
    assert!(d.recorded.is_none() && d.replayed.is_none());
}

#[test]
fn replay_can_pause_at_an_event_for_inspection_then_finish() {
    let dir = TempDir::new("pause");
    let path = dir.file("p.trace");
    let config = small_pingpong(3_000);
    let report = record_pingpong(&path, 11, &config, true);
    let mut sim = pingpong_sim(11, &config, true);
    let (details, texts) = shared(DetailText::new(200));
    let replay = Replay::attach(
        &mut sim,
        TraceReader::open(&path).unwrap(),
        4,
        Some(Box::new(details)),
    );
    let halfway = report.events / 2;
    assert!(halfway > 100, "a run long enough to pause in: {report:?}");
    assert_eq!(
        replay.run_until(&mut sim, halfway).unwrap(),
        ReplayStatus::Paused { events: halfway }
    );
    let state = format!("{:?}", sim.process(ProcessId(0)));
    assert!(state.contains("received"), "{state}");
    assert_eq!(sim.events(), halfway);
    let ReplayOutcome::Matches { events, records, .. } = replay.run_to_end(&mut sim).unwrap() else {
        panic!("stepping changed the run")
    };
    assert_eq!(events, report.events);
    // The extra observer saw every record, with payload text for deliveries.
    let texts = texts.borrow();
    assert_eq!(texts.texts.len() as u64, records);
    assert!(texts.texts.iter().any(|t| t.starts_with("Ball { hops_left:")));
}

fn expect_error(path: &Path, check: impl Fn(&TraceError) -> bool) -> String {
    let err = match TraceReader::open(path) {
        Err(e) => e,
        Ok(mut r) => r.read_all().expect_err("a bad file was read without complaint"),
    };
    let msg = err.to_string();
    assert!(check(&err), "{path:?}: {msg}");
    assert!(msg.starts_with(&format!("{}: ", path.display())), "{msg}");
    assert!(!msg.contains('\n'), "{msg}");
    msg
}

#[test]
fn bad_trace_files_get_clear_one_line_errors() {
    let dir = TempDir::new("bad");
    let good = dir.file("good.trace");
    record_pingpong(&good, 2, &small_pingpong(20_000), false);
    let bytes = std::fs::read(&good).unwrap();
    assert!(
        bytes.len() > 200_000,
        "want several blocks, got {} bytes",
        bytes.len()
    );
    let write = |name: &str, b: &[u8]| {
        let p = dir.file(name);
        std::fs::write(&p, b).unwrap();
        p
    };

    let m = expect_error(&write("empty.trace", b""), |e| {
        matches!(e, TraceError::Empty { .. })
    });
    assert!(m.contains("empty"), "{m}");
    let m = expect_error(&write("scenario.toml", b"[model]\nname = \"pingpong\"\n"), |e| {
        matches!(e, TraceError::WrongMagic { .. })
    });
    assert!(m.contains("not a ruckus trace"), "{m}");
    let mut future = bytes.clone();
    future[8] = 9;
    let m = expect_error(&write("future.trace", &future), |e| {
        matches!(e, TraceError::FutureVersion { found: 9, .. })
    });
    assert!(m.contains("upgrade ruckus"), "{m}");
    for cut in [3, 9, 30, bytes.len() / 2, bytes.len() - 1] {
        let m = expect_error(&write("cut.trace", &bytes[..cut]), |e| {
            matches!(e, TraceError::Truncated { .. })
        });
        assert!(m.contains("truncated"), "{m}");
    }
    // A flipped byte in the middle of the records is found while reading...
    let mut flipped = bytes.clone();
    flipped[bytes.len() / 2] ^= 0x20;
    let flipped_path = write("flipped.trace", &flipped);
    let m = expect_error(&flipped_path, |e| matches!(e, TraceError::Corrupted { .. }));
    assert!(m.contains("corrupted at byte") && m.contains("checksum"), "{m}");
    // ...and stops a replay with the same error, after the good blocks before it matched.
    let mut sim = pingpong_sim(2, &small_pingpong(20_000), false);
    let replay = Replay::attach(&mut sim, TraceReader::open(&flipped_path).unwrap(), 4, None);
    let err = replay.run_to_end(&mut sim).unwrap_err();
    assert!(matches!(err, TraceError::Corrupted { .. }), "{err}");
    assert!(sim.events() > 1_000, "replay stopped at {}", sim.events());
    // A missing file.
    let m = expect_error(&dir.file("missing.trace"), |e| matches!(e, TraceError::Io { .. }));
    assert!(m.contains("cannot open"), "{m}");
}

#[test]
fn pingpong_traces_stay_within_24_bytes_per_event() {
    let dir = TempDir::new("size");
    let config = PingPongConfig {
        hosts: 5,
        in_flight: 50,
        deliveries: 100_000,
    };
    let mut sim = pingpong_sim(1, &config, false);
    let header = header_for(&sim, &config);
    let (report, summary) = record_run(&mut sim, dir.file("s.trace"), &header, None).unwrap();
    assert_eq!(report.deliveries, 100_000);
    let per_event = summary.bytes_per_event();
    assert!(per_event <= 24.0, "{per_event:.2} bytes per event");
    assert!(
        per_event >= 8.0,
        "{per_event:.2} bytes per event is implausibly small"
    );
}

/// Records, replays and times the 1M-delivery pingpong yardstick. Run with
/// `cargo test --release -p ruckus-tests --test integration -- --ignored trace_figures --nocapture`.
#[test]
#[ignore = "a measurement, run in release mode"]
// Wall-clock timing of whole runs from outside them, for the report only.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)]
fn trace_figures() {
    use std::time::Instant as Wall;
    let dir = TempDir::new("figures");
    let config = PingPongConfig::default();
    let path = dir.file("1m.trace");
    let mut best = (f64::MAX, f64::MAX, f64::MAX);
    let mut bytes_per_event = 0.0;
    for _ in 0..3 {
        let t = Wall::now();
        let plain = pingpong_sim(1, &config, false).run();
        let plain_s = t.elapsed().as_secs_f64();
        let mut sim = pingpong_sim(1, &config, false);
        let header = header_for(&sim, &config);
        let t = Wall::now();
        let (report, summary) = record_run(&mut sim, &path, &header, Some(plain.fingerprint)).unwrap();
        let record_s = t.elapsed().as_secs_f64();
        bytes_per_event = summary.bytes_per_event();
        let t = Wall::now();
        let outcome = replay(&path, pingpong_sim(1, &config, false));
        let replay_s = t.elapsed().as_secs_f64();
        assert!(matches!(outcome, ReplayOutcome::Matches { events, .. } if events == report.events));
        best = (best.0.min(plain_s), best.1.min(record_s), best.2.min(replay_s));
    }
    let events = pingpong_sim(1, &config, false).run().events as f64;
    println!(
        "pingpong 1M deliveries: {bytes_per_event:.2} bytes/event; untraced {:.3}s ({:.2} M ev/s), recording {:.3}s ({:.2} M ev/s), replay {:.3}s ({:.2} M ev/s); replay speed / recording speed = {:.2}",
        best.0,
        events / best.0 / 1e6,
        best.1,
        events / best.1 / 1e6,
        best.2,
        events / best.2 / 1e6,
        best.1 / best.2
    );
}

#[test]
fn shrinking_a_planted_bug_keeps_a_few_faults_that_still_fail_the_same_property() {
    use ruckus_models::lease_lock::{self, LeaseLockConfig};
    use ruckus_sim::shrink::shrink_run;
    let config = LeaseLockConfig {
        bug_no_fencing: true,
        ..LeaseLockConfig::default()
    };
    let profile = lease_lock::stress_profile(Duration::from_secs(2));
    let horizon = Duration::from_secs(8);
    let run = |seed: u64, plan: Option<&FaultPlan>, horizon: Duration| {
        let mut sim = lease_lock::build_sim(&config, seed, horizon, &profile);
        if let Some(p) = plan {
            sim.set_fault_plan(p.clone()).unwrap();
        }
        let plan = sim.fault_plan().clone();
        (sim.run(), plan)
    };
    let mut shrunk_seeds = 0;
    for seed in 0..40 {
        let (report, plan) = run(seed, None, horizon);
        let Some(failure) = report.failure.clone() else {
            continue;
        };
        if plan.actions.len() < 10 {
            continue;
        }
        assert_eq!(
            failure.property.as_deref(),
            Some("storage_fenced"),
            "seed {seed}: {report}"
        );
        let same = |r: &ruckus_sim::RunReport| {
            r.failure
                .as_ref()
                .is_some_and(|f| f.verdict == failure.verdict && f.property == failure.property)
        };
        let result = shrink_run(&plan, horizon, failure.time, 300, |p, h| {
            same(&run(seed, Some(p), h).0)
        })
        .unwrap();
        let kept = &result.plan.plan;
        assert!(
            kept.actions.len() <= 3,
            "seed {seed}: {} actions left\n{result}",
            kept.actions.len()
        );
        assert_eq!(kept.actions.len() + result.plan.removed.len(), plan.actions.len());
        assert!(result.horizon <= horizon);
        // The shrunk run fails the same way on its own...
        let (again, _) = run(seed, Some(kept), result.horizon);
        assert!(same(&again), "seed {seed}: shrunk run {again}");
        // ...and removing any one remaining fault makes it pass (1-minimal), unless the budget ran out.
        if !result.plan.exhausted {
            for i in 0..kept.actions.len() {
                let mut fewer = kept.clone();
                fewer.actions.remove(i);
                assert!(
                    !same(&run(seed, Some(&fewer), horizon).0),
                    "seed {seed}: fault {i} was not needed"
                );
            }
        }
        // It records and replays like any run.
        let dir = TempDir::new(&format!("shrink-{seed}"));
        let path = dir.file("shrunk.trace");
        let mut sim = lease_lock::build_sim(&config, seed, result.horizon, &profile);
        sim.set_fault_plan(kept.clone()).unwrap();
        let header = TraceHeader::new(seed, "lease_lock no fencing", kept.clone());
        record_run(&mut sim, &path, &header, Some(again.fingerprint)).unwrap();
        let mut sim = lease_lock::build_sim(&config, seed, result.horizon, &profile);
        sim.set_fault_plan(kept.clone()).unwrap();
        let replay = Replay::attach(&mut sim, TraceReader::open(&path).unwrap(), 4, None);
        assert!(matches!(
            replay.run_to_end(&mut sim).unwrap(),
            ReplayOutcome::Matches { .. }
        ));
        shrunk_seeds += 1;
        if shrunk_seeds == 3 {
            break;
        }
    }
    assert_eq!(shrunk_seeds, 3, "too few failing seeds with 10+ faults to shrink");
}

#[test]
fn two_hundred_seeds_of_lease_lock_including_failures_replay_exactly() {
    use ruckus_models::lease_lock::{self, LeaseLockConfig};
    let dir = TempDir::new("lease200");
    let profile = lease_lock::stress_profile(Duration::from_secs(1));
    let horizon = Duration::from_secs(4);
    let mut failures = 0;
    for seed in 0..200u64 {
        let config = LeaseLockConfig {
            bug_no_fencing: seed % 4 == 1,
            bug_no_sync: seed % 4 == 2,
            bug_clock_tokens: seed % 4 == 3,
            ..LeaseLockConfig::default()
        };
        let path = dir.file("l.trace");
        let mut sim = lease_lock::build_sim(&config, seed, horizon, &profile);
        let header = TraceHeader::new(seed, format!("{config:?}"), sim.fault_plan().clone());
        let (report, _) = record_run(&mut sim, &path, &header, None).unwrap();
        failures += usize::from(report.failure.is_some());
        let mut sim = lease_lock::build_sim(&config, seed, horizon, &profile);
        let replay = Replay::attach(&mut sim, TraceReader::open(&path).unwrap(), 4, None);
        match replay.run_to_end(&mut sim).unwrap() {
            ReplayOutcome::Matches {
                events,
                report: again,
                ..
            } => {
                assert_eq!(events, report.events, "seed {seed}");
                assert_eq!(again.failure, report.failure, "seed {seed}");
            }
            ReplayOutcome::Diverged(d) => panic!("seed {seed}: {d}"),
        }
    }
    assert!(
        failures >= 10,
        "only {failures} of 200 runs failed; the planted bugs should show"
    );
}
