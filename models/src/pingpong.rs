//! The standard yardstick: messages bouncing between hosts.
//!
//! One process per host. At start, the first `in_flight` messages are launched round-robin from
//! the hosts; each delivery forwards the message to a uniformly chosen other process until the
//! message has used up its hops. Total deliveries are exactly `deliveries` (when no fault drops
//! a message), and the run ends when the last message lands. Latency comes from the topology.
//!
//! Under faults the accounting stays exact: a process ignores a copy of a ball it has already
//! handled at that hop (network duplication delivers both copies to the same receiver, and a
//! ball's hops only go down), and a host restarted after a crash launches its balls again,
//! which the launch budget counts (a metric, so it survives the crash).

use ruckus_sim::{
    Context, Distribution, Duration, HostId, Process, ProcessId, Property, Sim, Topology, View,
};
use serde::{Deserialize, Serialize};

/// Parameters of a pingpong run.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PingPongConfig {
    /// Number of hosts (one process each).
    pub hosts: u32,
    /// Messages in flight at once.
    pub in_flight: u32,
    /// Total deliveries the run performs.
    pub deliveries: u64,
}

impl Default for PingPongConfig {
    fn default() -> Self {
        PingPongConfig {
            hosts: 5,
            in_flight: 50,
            deliveries: 1_000_000,
        }
    }
}

impl PingPongConfig {
    /// A horizon no run of this size can reach (every hop takes at most 10 ms), so the run
    /// ends when the last message lands rather than at the horizon.
    pub fn horizon(&self) -> Duration {
        let hops_per_ball = self.deliveries / u64::from(self.in_flight.max(1)) + 1;
        Duration::from_millis(10) * hops_per_ball + Duration::from_secs(1)
    }

    /// The hop budgets each host launches at start: the deliveries split over `in_flight`
    /// balls (the first `deliveries % balls` make one more), dealt round-robin to the hosts.
    pub fn launches(&self) -> Vec<Vec<u64>> {
        let balls = u64::from(self.in_flight).min(self.deliveries.max(1));
        let mut out: Vec<Vec<u64>> = vec![Vec::new(); self.hosts as usize];
        for b in 0..balls {
            let share = self.deliveries / balls + u64::from(b < self.deliveries % balls);
            if share > 0 {
                out[(b % u64::from(self.hosts)) as usize].push(share - 1);
            }
        }
        out
    }

    /// The standard topology: every pair of hosts sees latency uniform in 1..=10 ms.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.hosts,
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(10)),
        )
    }
}

/// A message: how many more deliveries it will make after this one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ball {
    /// Deliveries left after this one.
    pub hops_left: u64,
    /// Which ball (numbered from 0 in launch order), to recognise a duplicated copy.
    pub ball: u32,
}

/// Hashes the hop count only: the fingerprint of a run is what it was before balls carried
/// their number, which is fixed by the launch anyway.
impl std::hash::Hash for Ball {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.hops_left.hash(state);
    }
}

/// The metric counting the deliveries launched balls may make (every start, restarts too).
pub const LAUNCHED: &str = "pingpong.launched";

/// One pingpong process.
#[derive(Clone, Debug)]
pub struct PingPong {
    /// Processes in the run (ids `0..peers`).
    pub peers: u32,
    /// Balls this process launches at start, with their hop budgets.
    pub launch: Vec<u64>,
    /// Deliveries this incarnation has handled.
    pub received: u64,
    /// Balls in the run.
    pub balls: u32,
    /// Per ball, the fewest hops left this incarnation has seen it with (allocated on the
    /// first delivery): a copy with as many hops or more is a duplicate.
    pub fewest_hops_seen: Vec<u64>,
    /// Duplicated copies ignored.
    pub duplicates: u64,
}

impl PingPong {
    #[inline]
    fn forward(&mut self, ctx: &mut Context<'_, Self>, ball: Ball) {
        // A uniformly chosen process other than this one.
        let me = ctx.id().0;
        let pick = ctx.random().below(u64::from(self.peers - 1)) as u32;
        let to = if pick >= me { pick + 1 } else { pick };
        ctx.send(ProcessId(to), ball);
    }
}

impl Process for PingPong {
    type Message = Ball;
    type Timer = ();
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let launch = std::mem::take(&mut self.launch);
        let budget: u64 = launch.iter().map(|h| h.saturating_add(1)).sum();
        if budget > 0 {
            ctx.count(LAUNCHED, budget);
        }
        // Balls are dealt round-robin: this host's i-th is ball `host + i * hosts`.
        let me = ctx.id().0;
        for (i, hops_left) in launch.into_iter().enumerate() {
            let ball = me + i as u32 * self.peers;
            self.forward(ctx, Ball { hops_left, ball });
        }
    }

    #[inline]
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, _from: ProcessId, ball: Ball) {
        if self.fewest_hops_seen.is_empty() {
            self.fewest_hops_seen = vec![u64::MAX; self.balls as usize];
        }
        if let Some(fewest) = self.fewest_hops_seen.get_mut(ball.ball as usize) {
            if ball.hops_left >= *fewest {
                self.duplicates += 1;
                return;
            }
            *fewest = ball.hops_left;
        }
        self.received += 1;
        if ball.hops_left > 0 {
            self.forward(
                ctx,
                Ball {
                    hops_left: ball.hops_left - 1,
                    ball: ball.ball,
                },
            );
        }
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Self>, _timer: ()) {}
}

/// Places one process per host and splits the deliveries over `in_flight` balls.
pub fn setup(sim: &mut Sim<PingPong>, config: &PingPongConfig) {
    assert!(config.hosts >= 2, "pingpong needs at least two hosts");
    assert!(
        config.in_flight >= 1,
        "pingpong needs at least one message in flight"
    );
    let launches = config.launches();
    let balls = launches.iter().map(Vec::len).sum::<usize>() as u32;
    for (h, launch) in launches.into_iter().enumerate() {
        sim.spawn(
            HostId(h as u32),
            PingPong {
                peers: config.hosts,
                launch,
                received: 0,
                balls,
                fewest_hops_seen: Vec::new(),
                duplicates: 0,
            },
        );
    }
}

/// Pingpong's invariant: the processes handle no more deliveries than the launched balls
/// allow (`deliveries`, plus what balls launched again after a restart allow); duplicated
/// copies are not deliveries.
pub fn properties(_config: &PingPongConfig) -> Vec<Property<PingPong>> {
    vec![Property::at_end(
        "deliveries_bounded",
        move |v: &View<'_, PingPong>| {
            let sum: u64 = v.processes().map(|(_, _, p)| p.received).sum();
            let allowed = v.metrics().counter(LAUNCHED);
            if sum <= allowed {
                Ok(())
            } else {
                Err(format!(
                    "{sum} deliveries exceed the {allowed} the launched balls allow"
                ))
            }
        },
    )]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{Limits, SimConfig, Verdict};

    #[test]
    fn delivers_exactly_the_requested_number() {
        for deliveries in [1, 49, 50, 51, 10_000] {
            let config = PingPongConfig {
                hosts: 5,
                in_flight: 50,
                deliveries,
            };
            let mut sim_config = SimConfig::with_seed(1);
            sim_config.limits = Limits {
                horizon: config.horizon(),
                ..Limits::default()
            };
            let mut sim = Sim::new(sim_config, &config.topology());
            setup(&mut sim, &config);
            for p in properties(&config) {
                sim.add_property(p);
            }
            let report = sim.run();
            assert_eq!(report.verdict, Verdict::Held);
            assert_eq!(report.deliveries, deliveries, "{config:?}");
        }
    }

    #[test]
    fn duplicated_copies_and_restarts_do_not_count_as_extra_deliveries() {
        use ruckus_sim::{Fault, FaultAction, FaultPlan, Instant, NetworkChaos};
        let config = PingPongConfig {
            hosts: 4,
            in_flight: 8,
            deliveries: 4_000,
        };
        let chaos = NetworkChaos {
            loss: 0.0,
            duplicate: 0.5,
            reorder: 0.0,
            reorder_window: Duration::ZERO,
        };
        let chaos_fault = FaultAction {
            at: Instant::ZERO,
            fault: Fault::NetworkChaos {
                chaos,
                duration: Duration::from_secs(100),
            },
        };
        let crash = FaultAction {
            at: Instant(Duration::from_millis(200).as_nanos()),
            fault: Fault::CrashHost {
                host: HostId(1),
                down_for: Duration::from_millis(50),
            },
        };
        let run = |actions: Vec<FaultAction>| {
            let mut sim = Sim::new(SimConfig::with_seed(3), &config.topology());
            setup(&mut sim, &config);
            sim.set_fault_plan(FaultPlan {
                actions,
                heal_at: None,
            })
            .unwrap();
            for p in properties(&config) {
                sim.add_property(p);
            }
            let report = sim.run();
            let ignored: u64 = (0..sim.process_count() as u32)
                .filter_map(|i| sim.process(ProcessId(i)))
                .map(|p| p.duplicates)
                .sum();
            (report, ignored)
        };
        let (report, ignored) = run(vec![chaos_fault.clone()]);
        assert_eq!(report.verdict, Verdict::Held, "{:?}", report.failure);
        // Half the sends were duplicated: the engine delivered far more than the total, and
        // every extra copy was recognised.
        assert!(report.deliveries > 5_000, "{} deliveries", report.deliveries);
        assert_eq!(report.deliveries, 4_000 + ignored);
        // A restarted host launches its balls again: still within the launch budget.
        let (report, _) = run(vec![chaos_fault, crash]);
        assert_eq!(report.verdict, Verdict::Held, "{:?}", report.failure);
    }

    #[test]
    fn latency_keeps_mean_around_five_and_a_half_ms() {
        let config = PingPongConfig {
            hosts: 5,
            in_flight: 50,
            deliveries: 50_000,
        };
        let mut sim = Sim::new(SimConfig::with_seed(2), &config.topology());
        setup(&mut sim, &config);
        let report = sim.run();
        // 1000 deliveries per ball at a mean of 5.5 ms each.
        let secs = report.end_time.as_nanos() as f64 / 1e9;
        assert!((5.0..6.5).contains(&secs), "ended at {secs}s");
    }
}

/// The pingpong yardstick as a model scenario files can name.
#[derive(Debug)]
pub struct PingPongModel;

impl ruckus_sim::Model for PingPongModel {
    const NAME: &'static str = "pingpong";
    const ABOUT: &'static str = "messages bouncing between hosts (the standard performance yardstick)";
    const HOSTS_KEY: Option<&'static str> = Some("hosts");
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] =
        &[("hosts", 2), ("in_flight", 1), ("deliveries", 1)];
    type Config = PingPongConfig;
    type Process = PingPong;
    fn setup(sim: &mut Sim<PingPong>, config: &PingPongConfig) {
        setup(sim, config);
    }
    fn properties(config: &PingPongConfig) -> Vec<Property<PingPong>> {
        properties(config)
    }
    fn check(config: &PingPongConfig, _hosts: u32) -> Result<(), String> {
        // (Too few hosts or no ball in flight are refused by the setup's assertions.)
        // Each process keeps one word per ball to recognise duplicates.
        let balls = u64::from(config.in_flight).min(config.deliveries.max(1));
        if balls * u64::from(config.hosts) > MAX_BALL_SLOTS {
            return Err(format!(
                "in_flight = {} on {} hosts needs {} duplicate-detection slots, over the bound of {MAX_BALL_SLOTS}",
                config.in_flight,
                config.hosts,
                balls * u64::from(config.hosts)
            ));
        }
        Ok(())
    }
}

/// Most (ball, process) pairs a run may track (8 bytes each).
pub const MAX_BALL_SLOTS: u64 = 20_000_000;
