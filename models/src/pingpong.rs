//! The standard yardstick: messages bouncing between hosts.
//!
//! One process per host. At start, the first `in_flight` messages are launched round-robin from
//! the hosts; each delivery forwards the message to a uniformly chosen other process until the
//! message has used up its hops. Total deliveries are exactly `deliveries` (when no fault drops
//! a message), and the run ends when the last message lands. Latency comes from the topology.

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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Ball {
    /// Deliveries left after this one.
    pub hops_left: u64,
}

/// One pingpong process.
#[derive(Clone, Debug)]
pub struct PingPong {
    /// Processes in the run (ids `0..peers`).
    pub peers: u32,
    /// Balls this process launches at start, with their hop budgets.
    pub launch: Vec<u64>,
    /// Deliveries this incarnation has handled.
    pub received: u64,
}

impl PingPong {
    fn forward(&mut self, ctx: &mut Context<'_, Self>, hops_left: u64) {
        // A uniformly chosen process other than this one.
        let me = ctx.id().0;
        let pick = ctx.random().below(u64::from(self.peers - 1)) as u32;
        let to = if pick >= me { pick + 1 } else { pick };
        ctx.send(ProcessId(to), Ball { hops_left });
    }
}

impl Process for PingPong {
    type Message = Ball;
    type Timer = ();
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        for hops in std::mem::take(&mut self.launch) {
            self.forward(ctx, hops);
        }
    }

    #[inline]
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, _from: ProcessId, ball: Ball) {
        self.received += 1;
        if ball.hops_left > 0 {
            self.forward(ctx, ball.hops_left - 1);
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
    for (h, launch) in config.launches().into_iter().enumerate() {
        sim.spawn(
            HostId(h as u32),
            PingPong {
                peers: config.hosts,
                launch,
                received: 0,
            },
        );
    }
}

/// Pingpong's invariant: no process handles more deliveries than the run can make in total.
pub fn properties(config: &PingPongConfig) -> Vec<Property<PingPong>> {
    let total = config.deliveries;
    vec![Property::at_end(
        "deliveries_bounded",
        move |v: &View<'_, PingPong>| {
            let sum: u64 = v.processes().map(|(_, _, p)| p.received).sum();
            if sum <= total {
                Ok(())
            } else {
                Err(format!("{sum} deliveries exceed the total of {total}"))
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
}
