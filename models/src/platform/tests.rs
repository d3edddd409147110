use super::*;
use ruckus_sim::{Fault, FaultAction, FaultKind, FaultPlan, FaultWindow, Limits, SimConfig, Verdict};

fn build(config: &Config, seed: u64, horizon: Duration, plan: FaultPlan) -> Sim<Platform> {
    let limits = Limits {
        horizon,
        ..Limits::default()
    };
    let mut sim = Sim::new(
        SimConfig {
            limits,
            ..SimConfig::with_seed(seed)
        },
        &config.topology(),
    );
    setup(&mut sim, config);
    sim.set_fault_plan(plan).expect("a valid plan");
    for p in properties(config) {
        sim.add_property(p);
    }
    sim
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// Node 0's host (the node agent runs there, and so do the instances placed on it) down from
/// 40 s for `down_for`, healed at 80 s.
fn node_crash(config: &Config, down_for: Duration) -> FaultPlan {
    FaultPlan {
        actions: vec![FaultAction {
            at: Instant::ZERO + secs(40),
            fault: Fault::CrashHost {
                host: config.layout().node_host(0),
                down_for,
            },
        }],
        heal_at: Some(Instant::ZERO + secs(80)),
    }
}

#[test]
fn the_healthy_platform_places_registers_and_serves() {
    let config = Config::default();
    let mut sim = build(&config, 1, secs(60), FaultPlan::default());
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report:?}");
    let s = summarize(&config, sim.metrics(), Instant::ZERO + secs(60));
    assert!(s["success_ratio"] > 0.98, "{s:?}");
    assert_eq!(s["outages"], 0.0, "{s:?}");
    // Every tier runs its count, and instances took requests at every tier.
    for t in 0..config.tiers.len() {
        let instances = (0..sim.process_count() as u32)
            .filter_map(|i| sim.process(ProcessId(i)))
            .filter(|p| p.as_instance().is_some_and(|i| i.tier == t as u32))
            .count();
        assert_eq!(instances, 3, "tier {t}");
        assert!(
            sim.metrics().counter(&format!("tier{t}.served")) > 1000,
            "tier {t}"
        );
    }
}

#[test]
fn a_lost_node_is_replaced_and_discovery_follows_the_scheduler() {
    let config = Config::default();
    let horizon = secs(80) + config.recovery_bound();
    let mut sim = build(&config, 2, horizon, node_crash(&config, secs(1000)));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report:?}");
    assert!(sim.metrics().counter("sched.nodes_down") >= 1);
    assert!(!sim.metrics().samples("sched.replacement_running_ns").is_empty());
}

/// The node agents skip comparing registrations with running tasks while neither agent's change
/// counter moved; that is sound only if every registration then has its task running, after
/// every event of a run where nodes crash (their agents restart and read registrations back)
/// and allocations move.
#[test]
fn node_agents_skip_their_sync_only_while_every_registration_runs() {
    let config = Config::default();
    let mut sim = build(&config, 2, secs(120), node_crash(&config, secs(20)));
    sim.add_property(Property::always("skip_is_sound", |v: &View<'_, Platform>| {
        for (id, _, p) in v.processes() {
            let Platform::NodeAgent(a) = p else { continue };
            if a.synced != Some(a.changes()) {
                continue;
            }
            let running: BTreeSet<u32> = a.sched.running().map(|(_, pid)| pid.0).collect();
            if let Some(i) = a.consul.registered().find(|i| !running.contains(i)) {
                return Err(format!(
                    "p{}: p{i} registered without its task, sync skipped",
                    id.0
                ));
            }
        }
        Ok(())
    }));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report:?}");
    assert!(sim.metrics().counter("platform.sync_skipped") > 0);
    assert!(sim.metrics().counter("platform.deregistered_stopped") > 0);
}

#[test]
fn the_schedulers_bug_switch_is_found_inside_the_platform() {
    let mut config = Config::default();
    config.scheduler.bugs.lost_allocs_not_replaced = true;
    let horizon = secs(80) + config.recovery_bound();
    let report = build(&config, 2, horizon, node_crash(&config, secs(30))).run();
    assert_eq!(report.verdict, Verdict::LivenessFailure, "{report:?}");
    let failure = report.failure.expect("a failure");
    assert!(
        failure
            .property
            .as_deref()
            .is_some_and(|p| p == "scheduler.jobs_at_count" || p == "discovery_matches_scheduler"),
        "{failure:?}"
    );
}

#[test]
fn discoverys_bug_switch_is_found_inside_the_platform() {
    let mut config = Config::default();
    config.discovery.bugs.cache_without_expiry = true;
    let horizon = secs(80) + config.recovery_bound();
    let report = build(&config, 2, horizon, node_crash(&config, secs(1000))).run();
    assert_eq!(report.verdict, Verdict::LivenessFailure, "{report:?}");
    let failure = report.failure.expect("a failure");
    assert_eq!(
        failure.property.as_deref(),
        Some("client_views_converge"),
        "{failure:?}"
    );
}

#[test]
fn config_errors_name_the_field() {
    let mut c = Config::default();
    c.tiers[1].name = "edge".into();
    assert!(c.validate().unwrap_err().contains("tiers[1]"));
    let mut c = Config::default();
    c.discovery.resolve = crate::discovery::consul::ResolveMode::Agent;
    assert!(c.validate().unwrap_err().contains("discovery.resolve"));
    let c = Config {
        clients: 0,
        ..Config::default()
    };
    assert!(c.validate().unwrap_err().contains("clients"));
}

fn at(s: f64) -> Instant {
    Instant((s * 1e9) as u64)
}

fn window(
    index: usize,
    kind: FaultKind,
    begin: f64,
    end: f64,
    hosts: &[u32],
    processes: &[u32],
) -> FaultWindow {
    FaultWindow {
        index,
        kind,
        label: format!("fault {index}"),
        begin: at(begin),
        end: Some(at(end)),
        hosts: hosts.iter().map(|h| HostId(*h)).collect(),
        processes: processes.iter().map(|p| ProcessId(*p)).collect(),
    }
}

#[test]
fn self_healing_figures_come_from_the_fault_windows_and_what_the_platform_recorded() {
    let config = Config::default();
    // Processes from 19 on are instances (3 + 1 + 3 + 9 + 3 boot processes).
    assert_eq!(config.layout().boot_processes(), 19);
    let mut m = Metrics::default();
    // A kill of instance p20 (40-50 s); a crash of node host 10 (70-80 s) that took its
    // agent p13 and instance p21.
    m.fault_began(window(0, FaultKind::KillProcess, 40.0, 50.0, &[9], &[20]));
    m.fault_began(window(1, FaultKind::Crash, 70.0, 80.0, &[10], &[13, 21]));
    for t in [40.5, 41.0, 69.5, 72.0] {
        m.observe_at("requests.failed", at(t), 0);
    }
    for (t, to) in [
        (39.0, 20),
        (42.0, 20),
        (45.0, 20),
        (55.0, 20),
        (71.0, 21),
        (73.0, 21),
        (74.0, 22),
    ] {
        m.observe_at(process::ROUTES, at(t), to);
    }
    // Nine allocations desired from 30 s to 90 s; the crashed host's agent counts nothing
    // from 70 s until the replacement runs at 86 s. The killed one its agent still counts.
    for tick in 30..=90u64 {
        let ns = tick * 1_000_000_000;
        for _ in 0..9 {
            m.observe(scheduler::server::DESIRED_AT, ns);
        }
        let running = if (70..86).contains(&tick) { 8 } else { 9 };
        for _ in 0..running {
            m.observe(scheduler::client::RUNNING_AT, ns);
        }
    }
    let h = self_healing(&config, &m, at(100.0));
    // The kill's first error after 0.5 s; the crash came while clients already failed.
    assert_eq!(h.first_error, [Duration::from_millis(500)]);
    // p20 last sent to at 45 s (55 s is after its restart); p21 at 73 s; p13 is no instance.
    assert_eq!(h.stop_routing, [Duration::from_secs(5), Duration::from_secs(3)]);
    // Back at count when the kill ended (50 s) and when the replacement ran (86 s).
    assert_eq!(
        h.desired_count,
        [Duration::from_secs(10), Duration::from_secs(16)]
    );
    let s = summarize(&config, &m, at(100.0));
    assert_eq!(s["time_to_first_error_s"], 0.5);
    assert_eq!(s["time_to_stop_routing_s"], 4.0);
    assert_eq!(s["time_to_desired_count_s"], 13.0);
}

#[test]
fn the_slo_is_checked_only_in_windows_outside_every_blast_window() {
    let config = Config::default();
    let mut m = Metrics::default();
    // Blast window: 35 s to 40 s + 30 s of grace. SLO windows: 10 s each from 20 s.
    m.fault_began(window(0, FaultKind::Crash, 35.0, 40.0, &[6], &[]));
    for s in 20..100u64 {
        for k in 0..10 {
            let t = at(s as f64 + k as f64 / 10.0);
            // All failing in [50, 60) s (blasted) and [80, 90) s (not).
            let failing = (50..60).contains(&s) || (80..90).contains(&s);
            m.observe_at(if failing { "requests.failed" } else { "requests.ok" }, t, 0);
        }
    }
    let judged = |m: &Metrics, now: f64| check_slo_outside_blast(m, &config, SloProgress::default(), at(now));
    let up_to = SloProgress {
        next_window: 6,
        up: true,
    };
    assert_eq!(judged(&m, 85.0), Ok(up_to));
    let err = check_slo_outside_blast(&m, &config, up_to, at(90.0)).unwrap_err();
    assert!(err.contains("0.0000 of the 100 client requests"), "{err}");
    // Without the fault, [50, 60) s is judged too.
    let mut bare = Metrics::default();
    for (name, series) in m.timed_series() {
        for (t, v) in series {
            bare.observe_at(name, *t, *v);
        }
    }
    assert!(judged(&bare, 85.0).unwrap_err().contains("[@50"));
    // Until a window first meets the SLO the platform is starting, not failing.
    let mut starting = Metrics::default();
    for s in 20..60u64 {
        let name = if s < 40 { "requests.failed" } else { "requests.ok" };
        starting.observe_at(name, at(s as f64), 0);
    }
    assert_eq!(
        judged(&starting, 60.0),
        Ok(SloProgress {
            next_window: 4,
            up: true
        })
    );
}

/// One edge instance only, its host crashed at 40 s for good (healed at 80 s): every client
/// request fails until the scheduler places a replacement and discovery lists it.
fn a_lone_edge_crashed() -> (Config, FaultPlan) {
    let mut config = Config::default();
    config.tiers[0].serve.servers = 1;
    let plan = FaultPlan {
        actions: vec![FaultAction {
            at: Instant::ZERO + secs(40),
            fault: Fault::CrashRole {
                target: "the edge".parse().expect("a target"),
                down_for: secs(1000),
            },
        }],
        heal_at: Some(Instant::ZERO + secs(80)),
    };
    (config, plan)
}

#[test]
fn the_slo_outside_blast_windows_holds_when_the_platform_heals_within_the_grace() {
    let (config, plan) = a_lone_edge_crashed();
    let mut sim = build(&config, 3, secs(150), plan);
    let report = sim.run();
    assert!(
        report
            .failure
            .as_ref()
            .is_none_or(|f| f.property.as_deref() != Some("slo_outside_blast_windows")),
        "{report:?}"
    );
    // The clients failed in the blast window (excused), and healed well before 110 s.
    let m = sim.metrics();
    assert!(success_between(m, at(40.0), at(50.0)).0 < 0.9);
    assert!(success_between(m, at(110.0), at(150.0)).0 >= config.slo.success_rate);
    let h = self_healing(&config, m, at(150.0));
    assert_eq!(h.first_error.len(), 1, "{h:?}");
    assert_eq!(h.desired_count.len(), 1, "{h:?}");
    assert!(
        h.desired_count[0] > Duration::ZERO && h.desired_count[0] < secs(40),
        "{h:?}"
    );
}

#[test]
fn a_scheduler_that_never_replaces_breaks_the_slo_outside_blast_windows() {
    let (mut config, plan) = a_lone_edge_crashed();
    config.scheduler.bugs.lost_allocs_not_replaced = true;
    let report = build(&config, 3, secs(150), plan).run();
    let failure = report.failure.expect("a failure");
    assert_eq!(
        failure.property.as_deref(),
        Some("slo_outside_blast_windows"),
        "{failure:?}"
    );
    // Judged only once the blast window (to the heal at 80 s, plus 30 s) was over.
    assert!(failure.time >= at(120.0), "{failure:?}");
}

/// `scenarios/data/platform_strained.toml` without its faults: a crash-looping job beside the
/// tiers, nodes that hold one tier instance each, 4 workers at 50 ms per node examined, and
/// servers that take 3 heartbeats a second.
fn strained() -> Config {
    let mut c = Config::default();
    let s = &mut c.scheduler;
    s.workers = 4;
    s.scheduling_cost_per_node = Duration::from_millis(50);
    s.node_capacity = scheduler::placement::Resources::new(600, 8192);
    s.crashing_jobs = 1;
    s.crash_after = secs(2);
    s.service_resources = scheduler::placement::Resources::new(100, 128);
    s.heartbeat.max_heartbeats_per_second = 3;
    s.heartbeat.min_heartbeat_ttl = secs(1);
    s.heartbeat.heartbeat_grace = secs(20);
    c
}

#[test]
fn the_strained_platform_holds_and_its_strain_is_real() {
    let config = strained();
    // Past the crash-looping allocation's first reschedule (failed at about 38 s, replaced
    // 30 s later) and a few heartbeat windows after the warm-up.
    let mut sim = build(&config, 1, secs(90), FaultPlan::default());
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report:?}");
    let m = sim.metrics();
    // The applier re-checked overlapping plans and turned placements away.
    assert!(m.counter("sched.placements_rejected") > 0);
    // The crash loop failed its task and its allocation was replaced (after the delay).
    assert!(m.counter("sched.task_failures") >= 3);
    let leader = (0..config.scheduler.servers)
        .filter_map(|i| sim.process(ProcessId(i)).and_then(Platform::as_sched_server))
        .find(|s| s.is_acting_leader())
        .expect("a scheduler leader");
    assert!(
        leader
            .state()
            .allocs
            .values()
            .any(|a| a.job == "crashing-0" && a.previous.is_some()),
        "the crash-looping allocation was never replaced"
    );
    // About 20 heartbeats per 10 s window, within the limit (37).
    let most = (0..config.scheduler.servers)
        .filter_map(|i| sim.process(ProcessId(i)).and_then(Platform::as_sched_server))
        .map(|s| s.max_window_heartbeats)
        .max()
        .unwrap_or(0);
    assert!((10..=37).contains(&most), "{most} heartbeats in a window");
    // Every tier at its count: one instance per node, on 9 distinct nodes.
    let nodes: BTreeSet<_> = leader
        .state()
        .allocs
        .values()
        .filter(|a| a.live() && a.job != "crashing-0")
        .map(|a| a.node)
        .collect();
    assert_eq!(nodes.len(), 9);
}

/// The strained platform with one scheduler bug switch on (`set`), no faults, run for
/// `horizon` on seed 1: the property that fails.
fn strained_with_bug(set: fn(&mut scheduler::Bugs), horizon: Duration) -> Option<String> {
    let mut config = strained();
    set(&mut config.scheduler.bugs);
    let report = build(&config, 1, horizon, FaultPlan::default()).run();
    assert_eq!(report.verdict, Verdict::SafetyViolation, "{report:?}");
    report.failure.and_then(|f| f.property)
}

#[test]
fn the_applier_trusting_its_snapshot_oversubscribes_a_node_inside_the_platform() {
    let failed = strained_with_bug(|b| b.applier_trusts_snapshot = true, secs(20));
    assert_eq!(failed.as_deref(), Some("scheduler.capacity"));
}

#[test]
fn rescheduling_without_backoff_is_found_inside_the_platform() {
    let failed = strained_with_bug(|b| b.reschedule_without_backoff = true, secs(60));
    assert_eq!(failed.as_deref(), Some("scheduler.reschedule_backoff"));
}

#[test]
fn a_fixed_heartbeat_ttl_floods_the_platforms_scheduler() {
    let failed = strained_with_bug(|b| b.fixed_heartbeat_ttl = true, secs(60));
    assert_eq!(failed.as_deref(), Some("scheduler.heartbeat_load"));
}
