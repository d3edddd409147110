//! The scheduler at scale, for the `scheduler` bench: thousands of client nodes heartbeating
//! to 3 Raft servers while jobs of many allocations are submitted, placed and run; then the
//! same with a tenth of the nodes crashing for good at once.
//!
//! Properties are off: the model's checks walk every allocation after every event, which at
//! 100,000 allocations would be the whole cost. [`running_on_ready`] reads the replicated state
//! instead, every `check_every` of virtual time, so the times reported are upper bounds with
//! that resolution.
//!
//! Only the public API of `ruckus_models::scheduler` is used.

use ruckus_models::scheduler::state::{ClientStatus, ClusterState, DesiredStatus, NodeStatus};
use ruckus_models::scheduler::{Config, Scheduler, Server, setup};
use ruckus_sim::{
    Duration, Fault, FaultAction, FaultPlan, HostId, Instant, Limits, ProcessId, Progress, Sim, SimConfig,
};

/// What a run places: `nodes` client nodes, `jobs` service jobs of `per_job` allocations each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedLoad {
    /// Client nodes (one host each).
    pub nodes: u32,
    /// Service jobs submitted.
    pub jobs: u32,
    /// Allocations per job.
    pub per_job: u32,
}

/// When the first job is submitted: after the first election and the nodes' registration.
pub const SUBMIT_AT: Duration = Duration::from_secs(5);

impl SchedLoad {
    /// `nodes` nodes, `jobs` jobs of `per_job` allocations.
    pub fn new(nodes: u32, jobs: u32, per_job: u32) -> SchedLoad {
        SchedLoad { nodes, jobs, per_job }
    }

    /// Allocations submitted in all.
    pub fn allocations(&self) -> usize {
        self.jobs as usize * self.per_job as usize
    }

    /// The model's parameters: 3 servers, 2 workers, bin-pack, 10 µs of planning per node
    /// examined (at the default 1 ms, 1,000 jobs of 100 take over 10 minutes of virtual time
    /// to plan); nodes of 4000 MHz / 8192 MB, allocations of 100 MHz / 128 MB (20 per node on
    /// average at 1 node per 20 allocations, half the CPU), jobs submitted 10 ms apart. The
    /// availability grid is sampled only hourly: every agent records a sample per allocation
    /// per `sample_every`, 100,000 samples a second at the default.
    pub fn config(&self) -> Config {
        Config {
            servers: 3,
            nodes: self.nodes,
            service_jobs: self.jobs,
            service_count: self.per_job,
            service_resources: ruckus_models::scheduler::placement::Resources::new(100, 128),
            batch_jobs: 0,
            submit_at: SUBMIT_AT,
            submit_interval: Duration::from_millis(10),
            scheduling_cost_per_node: Duration::from_micros(10),
            sample_every: Duration::from_secs(3600),
            ..Config::default()
        }
    }
}

/// Crashes the hosts of every tenth node (nodes 0, 10, 20, ...) at `at`, for good (down longer
/// than any run lasts).
pub fn crash_tenth(config: &Config, at: Instant) -> FaultPlan {
    let actions = (0..config.nodes)
        .step_by(10)
        .map(|i| FaultAction {
            at,
            fault: Fault::CrashHost {
                host: config.node_host(i),
                down_for: Duration::from_secs(1_000_000),
            },
        })
        .collect();
    FaultPlan {
        actions,
        heal_at: None,
    }
}

/// Builds the run (not started), lasting at most `horizon`.
pub fn build_scheduler(load: &SchedLoad, seed: u64, horizon: Duration, plan: FaultPlan) -> Sim<Scheduler> {
    let config = load.config();
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        horizon,
        max_events: u64::MAX,
        max_queue: usize::MAX,
    };
    let mut sim = Sim::new(sim_config, &config.topology());
    setup(&mut sim, &config);
    sim.set_fault_plan(plan).expect("a valid fault plan");
    sim
}

/// The replicated state as far as the furthest server applied it.
pub fn furthest_state(sim: &Sim<Scheduler>, servers: u32) -> Option<&ClusterState> {
    (0..servers)
        .filter_map(|i| sim.process(ProcessId(i)).and_then(Scheduler::as_server))
        .max_by_key(|s| s.raft.applied)
        .map(Server::state)
}

/// Allocations the servers see running (wanted, reported running) on nodes they see ready.
pub fn running_on_ready(state: &ClusterState) -> usize {
    state
        .allocs
        .values()
        .filter(|a| a.desired == DesiredStatus::Run && a.client == ClientStatus::Running)
        .filter(|a| {
            state
                .nodes
                .get(&a.node)
                .is_some_and(|n| n.status == NodeStatus::Ready)
        })
        .count()
}

/// Nodes the servers have marked down.
pub fn nodes_down(state: &ClusterState) -> usize {
    state
        .nodes
        .values()
        .filter(|n| n.status == NodeStatus::Down)
        .count()
}

/// Steps the run in slices of `slice_events` events, testing `done` on the furthest state
/// each time virtual time has advanced `check_every`, until it holds (returning the time it
/// was seen) or the run ends (`None`).
pub fn run_until(
    sim: &mut Sim<Scheduler>,
    servers: u32,
    check_every: Duration,
    slice_events: u64,
    mut done: impl FnMut(&ClusterState) -> bool,
) -> Option<Instant> {
    let mut next_check = sim.now();
    loop {
        if sim.now() >= next_check {
            if furthest_state(sim, servers).is_some_and(&mut done) {
                return Some(sim.now());
            }
            next_check = sim.now() + check_every;
        }
        if let Progress::Finished(_) = sim.run_until_event(sim.events() + slice_events) {
            return None;
        }
    }
}

/// When a tenth of the nodes crash in [`scale_run`]: after every allocation runs (checked).
pub const CRASH_AT: Duration = Duration::from_secs(120);
/// How often [`scale_run`] reads the servers' state for the end of a phase (its resolution).
pub const CHECK_EVERY: Duration = Duration::from_millis(100);
const SLICE_EVENTS: u64 = 2_000;

/// One scale run's figures: placing everything, then healing after a tenth of the nodes crash.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScaleFigures {
    /// Virtual time from the first submission until every allocation runs.
    pub placed_after: Duration,
    /// Wall time of that phase.
    pub place_wall: std::time::Duration,
    /// Events of that phase.
    pub place_events: u64,
    /// Virtual time from the crash until every lost allocation runs again.
    pub healed_after: Duration,
    /// Wall time of that phase.
    pub heal_wall: std::time::Duration,
    /// Events of that phase.
    pub heal_events: u64,
    /// Nodes the servers marked down.
    pub nodes_down: usize,
    /// Allocations the servers marked lost.
    pub lost: usize,
}

/// Runs `load` under seed `seed`: phase 1 until every allocation runs, then a tenth of the
/// nodes crash at [`CRASH_AT`] and phase 2 lasts until every lost allocation runs again.
/// Building the simulation is not timed. Panics if a phase does not end before `horizon`.
#[allow(clippy::disallowed_types, clippy::disallowed_methods)] // wall time of whole phases, outside the run
pub fn scale_run(load: &SchedLoad, seed: u64, horizon: Duration) -> ScaleFigures {
    use std::time::Instant as Wall;
    const SERVERS: u32 = 3;
    let config = load.config();
    let crash_at = Instant::ZERO + CRASH_AT;
    let mut sim = build_scheduler(load, seed, horizon, crash_tenth(&config, crash_at));
    let total = load.allocations();
    let start = Wall::now();
    let placed = run_until(&mut sim, SERVERS, CHECK_EVERY, SLICE_EVENTS, |s| {
        running_on_ready(s) == total
    })
    .expect("every allocation runs before the horizon");
    let place_wall = start.elapsed();
    let place_events = sim.events();
    assert!(
        placed < crash_at,
        "placement ({placed}) must end before the crash"
    );
    let crashed = config.nodes.div_ceil(10) as usize;
    let start = Wall::now();
    let healed = run_until(&mut sim, SERVERS, CHECK_EVERY, SLICE_EVENTS, |s| {
        nodes_down(s) == crashed && running_on_ready(s) == total
    })
    .expect("every lost allocation runs again before the horizon");
    let heal_wall = start.elapsed();
    let state = furthest_state(&sim, SERVERS).expect("a live server");
    ScaleFigures {
        placed_after: placed - (Instant::ZERO + SUBMIT_AT),
        place_wall,
        place_events,
        healed_after: healed - crash_at,
        heal_wall,
        heal_events: sim.events() - place_events,
        nodes_down: nodes_down(state),
        lost: state
            .allocs
            .values()
            .filter(|a| a.client == ClientStatus::Lost)
            .count(),
    }
}

/// The two lines a scale run prints (the bench and the `scheduler_scale` binary).
pub fn describe(load: &SchedLoad, f: &ScaleFigures) -> String {
    let rate = |events: u64, wall: std::time::Duration| events as f64 / wall.as_secs_f64();
    format!(
        "scheduler {nodes} nodes, {allocs} allocations ({jobs} jobs x {per_job}): all running {:.1} s (virtual) after the first submission; {:.2} s wall, {} events, {:.0} events/s\n\
         scheduler {nodes} nodes, {} crashed at {} s: {} marked down, {} allocations lost; every lost allocation running again {:.1} s (virtual) after the crash; {:.2} s wall, {} events, {:.0} events/s\n",
        f.placed_after.as_secs_f64(),
        f.place_wall.as_secs_f64(),
        f.place_events,
        rate(f.place_events, f.place_wall),
        load.nodes.div_ceil(10),
        CRASH_AT.as_secs_f64(),
        f.nodes_down,
        f.lost,
        f.healed_after.as_secs_f64(),
        f.heal_wall.as_secs_f64(),
        f.heal_events,
        rate(f.heal_events, f.heal_wall),
        nodes = load.nodes,
        allocs = load.allocations(),
        jobs = load.jobs,
        per_job = load.per_job,
    )
}

/// The host of node `i` (for tests of which hosts a plan crashes).
pub fn node_host(load: &SchedLoad, i: u32) -> HostId {
    load.config().node_host(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHECK: Duration = Duration::from_millis(100);

    #[test]
    fn a_small_load_is_placed_and_runs() {
        let load = SchedLoad::new(50, 10, 20);
        let mut sim = build_scheduler(&load, 1, Duration::from_secs(120), FaultPlan::none());
        let total = load.allocations();
        let at = run_until(&mut sim, 3, CHECK, 500, |s| running_on_ready(s) == total)
            .expect("every allocation runs before the horizon");
        assert!(at > Instant::ZERO + SUBMIT_AT, "{at}");
        let state = furthest_state(&sim, 3).unwrap();
        assert_eq!(state.allocs.len(), total, "no allocation placed twice");
    }

    #[test]
    fn lost_allocations_run_again_after_a_tenth_of_the_nodes_crash() {
        let load = SchedLoad::new(50, 10, 20);
        let config = load.config();
        let crash_at = Instant::ZERO + Duration::from_secs(30);
        let plan = crash_tenth(&config, crash_at);
        assert_eq!(plan.actions.len(), 5);
        assert!(
            matches!(plan.actions[1].fault, Fault::CrashHost { host, .. } if host == node_host(&load, 10))
        );
        let mut sim = build_scheduler(&load, 1, Duration::from_secs(300), plan);
        let total = load.allocations();
        run_until(&mut sim, 3, CHECK, 500, |s| running_on_ready(s) == total).expect("placed");
        assert!(sim.now() < crash_at, "placed before the crash");
        let healed = run_until(&mut sim, 3, CHECK, 500, |s| {
            nodes_down(s) == 5 && running_on_ready(s) == total
        })
        .expect("every lost allocation runs again");
        let state = furthest_state(&sim, 3).unwrap();
        let lost = state
            .allocs
            .values()
            .filter(|a| a.client == ClientStatus::Lost)
            .count();
        assert!(lost > 0, "the crashed nodes held allocations");
        assert_eq!(
            state.allocs.len(),
            total + lost,
            "one replacement per lost allocation"
        );
        // Detection waits the heartbeat TTL (at least 10 s) and its grace.
        assert!(
            healed - crash_at >= Duration::from_secs(10),
            "{}",
            healed - crash_at
        );
    }
}
