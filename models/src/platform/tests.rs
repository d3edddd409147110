use super::*;
use ruckus_sim::{Fault, FaultAction, FaultPlan, Limits, SimConfig, Verdict};

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
