use super::*;
use crate::discovery::resolve::ScheduledCrash;
use ruckus_sim::{Duration, Fault, FaultAction, FaultPlan, Limits, Partition, RunReport, SimConfig, Verdict};

fn build(config: &Config, seed: u64, plan: FaultPlan, horizon: Duration) -> Sim<EurekaNode> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        horizon,
        ..Limits::default()
    };
    let mut sim = Sim::new(sim_config, &config.topology());
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    sim.set_fault_plan(plan).expect("valid plan");
    sim
}

fn failed_property(report: &RunReport) -> Option<String> {
    report.failure.as_ref().and_then(|f| f.property.clone())
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn one_crash() -> Config {
    Config {
        crashes: vec![ScheduledCrash {
            instance: 0,
            at: secs(100),
        }],
        ..Config::default()
    }
}

#[test]
fn a_dead_instance_is_evicted_and_dropped_from_callers_views_within_the_bound() {
    let config = one_crash();
    let mut sim = build(&config, 2, FaultPlan::none(), secs(600));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let s = summarize(sim.metrics());
    assert_eq!(s["evictions"], 1.0, "{s:?}");
    // 9 of 10 renewing is above 85 %: the dead one is evicted (the first minute, with only
    // one renewal per instance, is below the threshold, as on a fresh Eureka server).
    let stop = s["stop_routing_s"];
    // At least the lease; at most the stated bound.
    assert!(stop >= config.lease_duration.as_secs_f64(), "{s:?}");
    assert!(stop <= config.routing_bound().as_secs_f64(), "{s:?}");
    assert!(s["routed_to_dead"] > 10.0, "{s:?}");
}

#[test]
fn self_preservation_keeps_a_dead_instance_when_too_many_renewals_are_missing() {
    // Four instances: one dead is 75 % of the expected renewals, below 85 %.
    let mut config = one_crash();
    config.instances = 4;
    config.nodes = 4;
    let mut sim = build(&config, 2, FaultPlan::none(), secs(600));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let s = summarize(sim.metrics());
    assert_eq!(s["evictions"], 0.0, "{s:?}");
    assert!(s["self_preservation_entered"] >= 1.0, "{s:?}");
    // The dead instance stays in the callers' views until the end.
    assert!(s["stop_routing_s"] > 400.0, "{s:?}");
    // With the switch, it is evicted.
    config.bugs.no_self_preservation = true;
    let mut sim = build(&config, 2, FaultPlan::none(), secs(600));
    assert_eq!(sim.run().verdict, Verdict::Held);
    assert_eq!(summarize(sim.metrics())["evictions"], 1.0);
}

/// The registry's host cut off for ten minutes from 60 s.
fn registry_cut_off() -> FaultPlan {
    let mut plan = FaultPlan::none();
    plan.actions.push(FaultAction {
        at: Instant::ZERO + secs(60),
        fault: Fault::Partition {
            partition: Partition::Isolate { host: HostId(0) },
            duration: secs(600),
        },
    });
    plan
}

#[test]
fn a_partition_empties_the_registry_only_without_self_preservation() {
    let config = Config::default();
    let mut sim = build(&config, 1, registry_cut_off(), secs(1200));
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    let s = summarize(sim.metrics());
    assert_eq!(s["evictions"], 0.0, "{s:?}");
    assert!(s["self_preservation_entered"] >= 1.0, "{s:?}");

    let mut buggy = config.clone();
    buggy.bugs.no_self_preservation = true;
    let mut sim = build(&buggy, 1, registry_cut_off(), secs(1200));
    let report = sim.run();
    assert_eq!(
        failed_property(&report).as_deref(),
        Some("callers_keep_live_instances"),
        "{report}"
    );
    assert!(sim.metrics().counter("eureka.evictions") >= 10);
}

#[test]
fn peers_replicate_so_callers_of_either_server_see_every_instance() {
    let config = Config {
        registries: 2,
        ..Config::default()
    };
    let mut sim = build(&config, 4, FaultPlan::none(), secs(120));
    assert_eq!(sim.run().verdict, Verdict::Held);
    for r in 0..2 {
        let Some(EurekaNode::Registry(server)) = sim.process(ProcessId(r)) else {
            panic!("p{r} is a registry");
        };
        assert_eq!(server.leases.len(), 10, "p{r}: {:?}", server.leases);
        assert_eq!(server.expected_clients, 10);
    }
    assert!(sim.metrics().counter("discovery.calls.ok") > 200);
}
