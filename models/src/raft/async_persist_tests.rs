//! `Config::async_persist`: background syncs, acknowledged only at completion.

use super::*;
use ruckus_sim::{DiskFaultConfig, FaultProfile, FaultRate, HostCosts, RunReport, SimConfig, Verdict};

/// A Raft run whose every host's disk syncs take `disk` (none: instant).
fn build(config: &Config, seed: u64, profile: &FaultProfile, disk: Option<Distribution>) -> Sim<Raft> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.disk_faults = DiskFaultConfig {
        unsynced_loss_probability: 1.0,
        torn_write_probability: 0.0,
    };
    let mut topology = config.topology();
    for h in 0..config.servers {
        topology.host_mut(HostId(h)).costs = HostCosts {
            handler: None,
            disk_sync: disk,
        };
    }
    super::tests::build_on(sim_config, topology, config, profile, Duration::from_secs(8))
}

fn async_config() -> Config {
    Config {
        async_persist: true,
        ..Config::default()
    }
}

/// Mean client latency (every operation commits an entry: reads go through the log) and the
/// report of a run without faults.
fn mean_latency_ms(config: &Config, disk: Option<Distribution>) -> (f64, RunReport) {
    let mut sim = build(config, 1, &FaultProfile::none(), disk);
    let report = sim.run();
    let samples = sim.metrics().samples("raft.client.latency_ns");
    assert!(samples.len() > 100, "{report}");
    let mean = samples.iter().sum::<u64>() as f64 / samples.len() as f64 / 1e6;
    (mean, report)
}

#[test]
fn a_5ms_disk_adds_about_5ms_to_each_commit_with_background_syncs() {
    let disk = Some(Distribution::constant(Duration::from_millis(5)));
    let (free, report) = mean_latency_ms(&async_config(), None);
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let (slow, report) = mean_latency_ms(&async_config(), disk);
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    // The leader's sync and its followers' run in parallel: one disk latency per commit, and
    // a little more for entries that wait for the sync in flight.
    let added = slow - free;
    assert!((4.0..9.0).contains(&added), "{free:.2} ms -> {slow:.2} ms");
    // Blocking syncs stall the leader's and then the followers' handlers: more than that.
    let (blocking, _) = mean_latency_ms(&Config::default(), disk);
    // The figures README.md quotes (`-- --nocapture` shows them).
    eprintln!(
        "mean client latency: no disk latency {free:.1} ms; 5 ms syncs: background {slow:.1} ms, blocking {blocking:.1} ms"
    );
    assert!(
        blocking > slow,
        "blocking {blocking:.2} ms, background {slow:.2} ms"
    );
}

#[test]
fn without_disk_latency_background_syncs_change_no_outcome() {
    // Zero latency: each completion is its own event at the same instant, so the run differs
    // event by event, but the cluster serves the same clients.
    let (sync_mean, sync_report) = mean_latency_ms(&Config::default(), None);
    let (async_mean, async_report) = mean_latency_ms(&async_config(), None);
    assert_ne!(sync_report.fingerprint, async_report.fingerprint);
    assert!(
        (async_mean - sync_mean).abs() < 0.5,
        "{sync_mean:.2} vs {async_mean:.2}"
    );
}

/// Three servers, one writer, frequent crashes: leaders change often, so entries are
/// acknowledged, crashed away and re-replicated all the time.
fn crashing(config: &mut Config) -> FaultProfile {
    super::tests::fast_elections(config);
    config.client_timeout = Duration::from_millis(100);
    let mut p = FaultProfile::none();
    p.crash = Some(FaultRate {
        mean_interval: Duration::from_millis(100),
        duration_min: Duration::from_millis(2),
        duration_max: Duration::from_millis(60),
    });
    p.max_hosts_down = 1;
    p.quiet_period = Duration::from_secs(2);
    p
}

#[test]
fn background_syncs_stay_safe_and_make_progress_under_crashes_that_lose_unsynced_writes() {
    // A crash loses every unsynced write: a follower that acknowledged before its sync
    // completed, or a leader that counted itself early, loses committed entries
    // (`committed_never_lost`, `leader_completeness`, `linearizable`).
    let disk = Some(Distribution::uniform(
        Duration::from_millis(5),
        Duration::from_millis(30),
    ));
    let mut config = async_config();
    let profile = crashing(&mut config);
    for seed in 0..SEEDS {
        let mut sim = build(&config, seed, &profile, disk);
        let report = sim.run();
        let ok = sim.metrics().counter("raft.client.ok");
        assert_eq!(report.verdict, Verdict::Held, "seed {seed}: {report}");
        assert!(ok > 20, "seed {seed}: only {ok} operations completed");
    }
}

const SEEDS: u64 = 10;
