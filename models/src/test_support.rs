//! What the models' unit tests share: building a checked run of a model.

use ruckus_sim::{Duration, FaultPlan, FaultProfile, Limits, Model, Sim, SimConfig, Topology};

/// A run of model `M` on `topology` under `sim_config`'s seed and disk faults, every property
/// of `config` checked, `profile`'s plan for the seed over `horizon` (no faults when empty).
pub(crate) fn build_checked<M: Model>(
    mut sim_config: SimConfig,
    topology: Topology,
    config: &M::Config,
    profile: &FaultProfile,
    horizon: Duration,
) -> Sim<M::Process> {
    let seed = sim_config.seed;
    sim_config.limits = Limits {
        horizon,
        ..Limits::default()
    };
    let mut sim = Sim::new(sim_config, &topology);
    M::setup(&mut sim, config);
    for p in M::properties(config) {
        sim.add_property(p);
    }
    let plan = if profile.is_empty() {
        FaultPlan::none()
    } else {
        profile.plan(seed, topology.hosts(), horizon)
    };
    sim.set_fault_plan(plan).expect("valid plan");
    sim
}
