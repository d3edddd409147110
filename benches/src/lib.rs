//! Workloads shared by the criterion benches, the memory probe and `compare.sh`.
//!
//! * [`run_pingpong`]: the standard pingpong model on the engine, fingerprint and flight
//!   recorder on (they always are).
//! * [`bare_pingpong`]: the yardstick — the same work as a hand-written binary-heap loop with
//!   no engine around it: same latency distribution, same random streams, same choice of the
//!   next process. Because it draws from the same streams in the same order, it ends at exactly
//!   the same virtual time as the engine run, which the tests check.
//! * [`TimerStorm`]: a timer-heavy model where every process keeps several timers armed,
//!   re-arms each one when it fires, and now and then cancels and re-arms another.
//! * [`probes`]: SWIM's failure-detector shape (a probe a second per host, timeouts mostly
//!   cancelled) and its bare heap loop.
//! * [`turmoil_pingpong`]: the same pingpong written for turmoil, the closest Rust peer.
//! * [`trace`]: pingpong recorded to a trace file and replayed, and the file's bytes per event.
//! * [`raft`]: the healthy Raft cluster under a steady open-loop client load.
//! * [`swim`]: SWIM clusters of 100 to 10,000 members in steady state.

pub mod probes;
pub mod raft;
pub mod scheduler;
pub mod swim;
pub mod trace;

use ruckus_models::pingpong::{self, PingPong, PingPongConfig};
use ruckus_sim::{
    Context, Duration, HostId, Limits, Process, Random, RunReport, Sim, SimConfig, TimerId, Topology,
};
use std::cell::Cell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::rc::Rc;

/// Smallest one-way latency of the standard pingpong topology.
pub const LATENCY_MIN: Duration = Duration::from_millis(1);
/// Largest one-way latency of the standard pingpong topology.
pub const LATENCY_MAX: Duration = Duration::from_millis(10);

/// Limits that let a pingpong run of any size finish on its own: the run ends when the last
/// message lands, not on the default horizon or event budget.
pub fn pingpong_limits(config: &PingPongConfig) -> Limits {
    Limits {
        horizon: config.horizon(),
        max_events: config.deliveries + u64::from(config.hosts) + 1,
        ..Limits::default()
    }
}

/// A ready-to-run pingpong simulation (building it is kept out of the timed part).
pub fn build_pingpong(config: &PingPongConfig, seed: u64) -> Sim<PingPong> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = pingpong_limits(config);
    let mut sim = Sim::new(sim_config, &config.topology());
    pingpong::setup(&mut sim, config);
    sim
}

/// [`build_pingpong`] without the model's duplicate tracking, for runs with many hosts: the
/// model keeps, per process, a word per ball in the run (hosts x balls words: 8 GB at 10,000
/// hosts and 100,000 balls). Without faults no copy is ever duplicated, so the run, its
/// deliveries and its fingerprint are those of the model's own setup.
pub fn build_pingpong_untracked(config: &PingPongConfig, seed: u64) -> Sim<PingPong> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = pingpong_limits(config);
    let mut sim = Sim::new(sim_config, &config.topology());
    for (h, launch) in config.launches().into_iter().enumerate() {
        sim.spawn(
            HostId(h as u32),
            PingPong {
                peers: config.hosts,
                launch,
                received: 0,
                // No balls known, and a table of one entry (ball 0's) so that the model does
                // not build its table again on every delivery (an empty table means "not yet
                // built"): the same per-delivery model work as the tracked run. Without faults
                // no copy is a duplicate, so tracking ball 0 changes nothing.
                balls: 0,
                fewest_hops_seen: vec![u64::MAX],
                duplicates: 0,
            },
        );
    }
    sim
}

/// Builds and runs one pingpong simulation.
pub fn run_pingpong(config: &PingPongConfig, seed: u64) -> RunReport {
    build_pingpong(config, seed).run()
}

/// What the bare loop did: how many deliveries, and the virtual time of the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BareOutcome {
    /// Deliveries made.
    pub deliveries: u64,
    /// Virtual time (ns) of the last delivery.
    pub end_ns: u64,
}

/// One in-flight message of the bare loop: arrival time, tie-break sequence, receiver, and
/// the hops it has left. Ordered by (time, sequence), as the engine orders its queue.
type BareEntry = Reverse<(u64, u64, u32, u64)>;

/// The pingpong work as a bare binary-heap loop: pop the earliest message, count it, pick a
/// uniformly chosen other process from the receiver's stream, draw a uniform 1-10 ms latency
/// from the network stream, push. It uses the engine's stream names so its choices match the
/// engine's exactly.
pub fn bare_pingpong(config: &PingPongConfig, seed: u64) -> BareOutcome {
    let n = config.hosts;
    assert!(n >= 2, "pingpong needs at least two hosts");
    let mut choice: Vec<Random> = (0..n)
        .map(|p| Random::stream(seed, "process", u64::from(p) << 32))
        .collect();
    let mut net = Random::stream(seed, "network", 0);
    let (lo, hi) = (LATENCY_MIN.as_nanos(), LATENCY_MAX.as_nanos());
    let mut heap: BinaryHeap<BareEntry> = BinaryHeap::with_capacity(config.in_flight as usize + 1);
    let mut seq = 0u64;
    let mut send = |heap: &mut BinaryHeap<BareEntry>, rng: &mut Random, now: u64, me: u32, hops: u64| {
        let pick = rng.below(u64::from(n - 1)) as u32;
        let to = if pick >= me { pick + 1 } else { pick };
        let at = now + net.range_inclusive(lo, hi);
        seq += 1;
        heap.push(Reverse((at, seq, to, hops)));
    };
    for (h, balls) in config.launches().into_iter().enumerate() {
        for hops in balls {
            send(&mut heap, &mut choice[h], 0, h as u32, hops);
        }
    }
    let mut out = BareOutcome {
        deliveries: 0,
        end_ns: 0,
    };
    while let Some(Reverse((now, _, to, hops))) = heap.pop() {
        out.deliveries += 1;
        out.end_ns = now;
        if hops > 0 {
            send(&mut heap, &mut choice[to as usize], now, to, hops - 1);
        }
    }
    out
}

/// Parameters of the timer-heavy workload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerStormConfig {
    /// Hosts, one process each.
    pub hosts: u32,
    /// Timers each process keeps armed.
    pub timers_per_process: u32,
    /// Timer firings each process handles before it cancels the rest and goes quiet.
    pub fires_per_process: u64,
}

impl Default for TimerStormConfig {
    fn default() -> Self {
        TimerStormConfig {
            hosts: 50,
            timers_per_process: 8,
            fires_per_process: 20_000,
        }
    }
}

impl TimerStormConfig {
    /// Total timer firings of a run.
    pub fn fires(&self) -> u64 {
        u64::from(self.hosts) * self.fires_per_process
    }
}

/// A process that keeps `slots.len()` timers armed at uniform 1-10 ms delays. Each firing
/// re-arms its slot; one firing in four also cancels another slot's timer and re-arms it, so
/// the queue always holds cancelled timers the engine must skip.
#[derive(Clone, Debug)]
pub struct TimerStorm {
    /// The armed timer of each slot.
    pub slots: Vec<Option<TimerId>>,
    /// Firings left before the process cancels everything.
    pub fires_left: u64,
    /// Firings handled.
    pub fired: u64,
}

impl TimerStorm {
    fn arm(&mut self, ctx: &mut Context<'_, Self>, slot: u32) {
        let delay = ctx
            .random()
            .range_inclusive(LATENCY_MIN.as_nanos(), LATENCY_MAX.as_nanos());
        self.slots[slot as usize] = Some(ctx.set_timer(Duration(delay), slot));
    }
}

impl Process for TimerStorm {
    type Message = ();
    type Timer = u32;
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        for slot in 0..self.slots.len() as u32 {
            self.arm(ctx, slot);
        }
    }

    fn on_message(&mut self, _ctx: &mut Context<'_, Self>, _from: ruckus_sim::ProcessId, _msg: ()) {}

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, slot: u32) {
        self.fired += 1;
        self.slots[slot as usize] = None;
        self.fires_left -= 1;
        if self.fires_left == 0 {
            for id in self.slots.iter_mut().filter_map(Option::take) {
                ctx.cancel_timer(id);
            }
            return;
        }
        self.arm(ctx, slot);
        if ctx.random().below(4) == 0 {
            let other = ctx.random().below(self.slots.len() as u64) as u32;
            if let Some(id) = self.slots[other as usize].take() {
                ctx.cancel_timer(id);
            }
            self.arm(ctx, other);
        }
    }
}

/// A ready-to-run timer storm.
pub fn build_timer_storm(config: &TimerStormConfig, seed: u64) -> Sim<TimerStorm> {
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits = Limits {
        // Every firing is at most 10 ms after the previous one of its slot.
        horizon: LATENCY_MAX * (config.fires_per_process + 1),
        max_events: config.fires() + u64::from(config.hosts) + 1,
        ..Limits::default()
    };
    let topology = Topology::single_switch(
        config.hosts,
        ruckus_sim::Distribution::uniform(LATENCY_MIN, LATENCY_MAX),
    );
    let mut sim = Sim::new(sim_config, &topology);
    for h in 0..config.hosts {
        sim.spawn(
            HostId(h),
            TimerStorm {
                slots: vec![None; config.timers_per_process as usize],
                fires_left: config.fires_per_process,
                fired: 0,
            },
        );
    }
    sim
}

/// The UDP port every turmoil pingpong node listens on.
const TURMOIL_PORT: u16 = 9000;
/// A datagram carrying this hop count tells a node the run is over; it is not a delivery.
const STOP: u64 = u64::MAX;

/// Pingpong on turmoil: one client per host, each a UDP socket that forwards every ball it
/// receives to a uniformly chosen other host. Returns the deliveries made.
///
/// Differences from the ruckus run, stated honestly:
/// * Latency. turmoil has no uniform latency; a message takes
///   `min + floor((max - min) * X)` whole milliseconds with `X ~ Exp(rate)`, clamped to `max`.
///   With min 1 ms, max 10 ms and a rate of 1.32 the mean is about 5.5 ms, matching the uniform
///   1-10 ms mean, but the shape differs and latencies are whole milliseconds.
/// * Time advances in turmoil ticks of 1 ms (its default), so deliveries land on tick edges.
/// * The next host is chosen with the same ruckus random functions, one stream per node.
/// * When the last ball lands, its receiver sends a STOP datagram to the other nodes so every
///   client returns and `Sim::run` ends; those are not counted as deliveries.
pub fn turmoil_pingpong(config: &PingPongConfig, seed: u64) -> u64 {
    let n = config.hosts;
    assert!(n >= 2, "pingpong needs at least two hosts");
    let horizon = std::time::Duration::from_nanos(config.horizon().as_nanos()) * 2;
    let mut sim = turmoil::Builder::new()
        .simulation_duration(horizon)
        .min_message_latency(std::time::Duration::from_nanos(LATENCY_MIN.as_nanos()))
        .max_message_latency(std::time::Duration::from_nanos(LATENCY_MAX.as_nanos()))
        .udp_capacity(config.in_flight as usize + n as usize + 16)
        .rng_seed(seed)
        .build();
    sim.set_message_latency_curve(1.32);
    let delivered = Rc::new(Cell::new(0u64));
    let total = config.deliveries;
    let names: Rc<Vec<String>> = Rc::new((0..n).map(|h| format!("h{h}")).collect());
    for (h, balls) in config.launches().into_iter().enumerate() {
        let me = h as u32;
        let delivered = delivered.clone();
        let names = names.clone();
        let mut rng = Random::stream(seed, "process", u64::from(me) << 32);
        sim.client(names[h].clone(), async move {
            use std::net::{IpAddr, Ipv4Addr, SocketAddr};
            let sock =
                turmoil::net::UdpSocket::bind((IpAddr::V4(Ipv4Addr::UNSPECIFIED), TURMOIL_PORT)).await?;
            let peers: Vec<SocketAddr> = names
                .iter()
                .map(|name| SocketAddr::new(turmoil::lookup(name.as_str()), TURMOIL_PORT))
                .collect();
            let mut pick = move || {
                let p = rng.below(u64::from(n - 1)) as u32;
                peers[(if p >= me { p + 1 } else { p }) as usize]
            };
            for hops in balls {
                sock.send_to(&hops.to_le_bytes(), pick()).await?;
            }
            let mut buf = [0u8; 8];
            loop {
                let (len, _from) = sock.recv_from(&mut buf).await?;
                assert_eq!(len, 8, "pingpong datagrams are 8 bytes");
                let hops = u64::from_le_bytes(buf);
                if hops == STOP {
                    return Ok(());
                }
                delivered.set(delivered.get() + 1);
                if delivered.get() == total {
                    for (other, name) in names.iter().enumerate() {
                        if other as u32 != me {
                            let addr = SocketAddr::new(turmoil::lookup(name.as_str()), TURMOIL_PORT);
                            sock.send_to(&STOP.to_le_bytes(), addr).await?;
                        }
                    }
                    return Ok(());
                }
                if hops > 0 {
                    sock.send_to(&(hops - 1).to_le_bytes(), pick()).await?;
                }
            }
        });
    }
    sim.run().expect("turmoil pingpong run failed");
    delivered.get()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::Verdict;

    fn small(hosts: u32, in_flight: u32, deliveries: u64) -> PingPongConfig {
        PingPongConfig {
            hosts,
            in_flight,
            deliveries,
        }
    }

    #[test]
    fn bare_loop_does_exactly_the_engine_work() {
        for config in [small(5, 50, 20_000), small(7, 13, 5_001), small(2, 1, 10)] {
            let report = run_pingpong(&config, 11);
            assert_eq!(report.verdict, Verdict::Held, "{config:?}");
            let bare = bare_pingpong(&config, 11);
            assert_eq!(bare.deliveries, config.deliveries, "{config:?}");
            assert_eq!(report.deliveries, config.deliveries, "{config:?}");
            // Same streams, same order: the last delivery lands at the same virtual instant.
            assert_eq!(bare.end_ns, report.end_time.as_nanos(), "{config:?}");
        }
        // And a different seed really is a different run.
        let config = small(5, 50, 20_000);
        assert_ne!(
            bare_pingpong(&config, 11).end_ns,
            bare_pingpong(&config, 12).end_ns
        );
    }

    #[test]
    fn untracked_pingpong_is_the_same_run() {
        let config = small(40, 400, 30_000);
        let tracked = run_pingpong(&config, 4);
        let mut sim = build_pingpong_untracked(&config, 4);
        let untracked = sim.run();
        assert_eq!(untracked.verdict, Verdict::Held);
        assert_eq!(untracked.fingerprint, tracked.fingerprint);
        assert_eq!(untracked.deliveries, config.deliveries);
        let p = sim.process(ruckus_sim::ProcessId(0)).expect("alive");
        assert_eq!(p.fewest_hops_seen.len(), 1, "the table was never built");
    }

    #[test]
    fn pingpong_limits_fit_a_run_larger_than_the_default_budget() {
        let config = small(5, 50, 100_000_000);
        let limits = pingpong_limits(&config);
        assert!(limits.max_events > Limits::default().max_events);
        assert!(limits.horizon > Limits::default().horizon);
    }

    #[test]
    fn timer_storm_fires_exactly_its_budget_and_cancels_the_rest() {
        let config = TimerStormConfig {
            hosts: 4,
            timers_per_process: 5,
            fires_per_process: 300,
        };
        let mut sim = build_timer_storm(&config, 3);
        let report = sim.run();
        assert_eq!(report.verdict, Verdict::Held);
        // Cancelled timers are not events: only the starts and the budgeted firings are.
        assert_eq!(report.events, u64::from(config.hosts) + config.fires());
        for p in 0..config.hosts {
            let state = sim.process(ruckus_sim::ProcessId(p)).expect("alive");
            assert_eq!(state.fired, config.fires_per_process);
            assert!(state.slots.iter().all(Option::is_none));
        }
        assert_eq!(sim.queue_len(), 0);
    }

    #[test]
    fn turmoil_pingpong_delivers_exactly_the_requested_number() {
        for config in [small(5, 50, 2_000), small(3, 4, 37)] {
            assert_eq!(turmoil_pingpong(&config, 5), config.deliveries, "{config:?}");
        }
    }
}
