//! Tests of the SWIM component and model.

use super::model::{Config, ScheduledStop, SwimNode, properties, setup, summarize};
use super::*;
use ruckus_sim::{Fault, FaultAction, FaultPlan, HostId, Instant, Partition, Sim, SimConfig, Verdict};

fn build(config: &Config, seed: u64, horizon: Duration, plan: FaultPlan) -> Sim<SwimNode> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits.horizon = horizon;
    let mut sim = Sim::new(sim_config, &config.topology());
    sim.set_fault_plan(plan).expect("plan names existing hosts");
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    sim
}

#[test]
fn a_healthy_cluster_converges_and_holds() {
    let config = Config {
        members: 5,
        faults_affect_reachability: false,
        ..Config::default()
    };
    let mut sim = build(&config, 1, Duration::from_secs(40), FaultPlan::none());
    let report = sim.run();
    assert_eq!(report.verdict, Verdict::Held, "{report}");
    for i in 0..5 {
        let node = sim.process(ProcessId(i)).unwrap();
        assert_eq!(node.swim.active_count(), 5, "p{i}");
    }
    assert_eq!(sim.metrics().counter("swim.suspicions"), 0);
}
