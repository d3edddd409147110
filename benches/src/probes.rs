//! A timer-heavy workload shaped like SWIM's failure detector, and its bare-loop yardstick.
//!
//! Every host probes a uniformly chosen other host once a second (the first probe at a random
//! phase): it sends a ping and arms a 500 ms timeout; the pinged host answers with an ack,
//! except one ping in [`IGNORE_ONE_IN`], which it ignores; an ack cancels its probe's timeout.
//! So per host and second: one probe timer, two messages, one timeout armed and almost always
//! cancelled. The engine queue holds the cancelled timeouts until they come up (about half a
//! second's worth), as SWIM's does.
//!
//! [`bare_probes`] does exactly the same work as a hand-written binary-heap loop, drawing from
//! the engine's random streams in the engine's order, so both end with the same counts at the
//! same virtual instant (a test checks it).

use crate::{LATENCY_MAX, LATENCY_MIN};
use ruckus_sim::{
    Context, Duration, HostId, Limits, Process, ProcessId, Random, Sim, SimConfig, TimerId, Topology,
};
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Probe period.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(1);
/// How long a probe waits for its ack.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(500);
/// One ping in this many goes unanswered (its timeout fires).
pub const IGNORE_ONE_IN: u64 = 50;

/// Size and length of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeLoad {
    /// Hosts, one prober each.
    pub hosts: u32,
    /// Virtual seconds the run lasts.
    pub secs: u64,
}

impl ProbeLoad {
    /// Probes a run makes, about (each host probes once a second).
    pub fn probes(&self) -> u64 {
        u64::from(self.hosts) * self.secs
    }

    fn horizon(&self) -> Duration {
        Duration::from_secs(self.secs)
    }
}

/// What a prober sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeMsg {
    /// A probe, numbered by its sender.
    Ping(u64),
    /// The answer to a ping.
    Ack(u64),
}

/// A prober's timers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProbeTimer {
    /// Time for the next probe.
    Probe,
    /// The probe with this number got no ack in time.
    Timeout(u64),
}

/// Counts a run ends with (the engine's and the bare loop's must agree).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProbeCounts {
    /// Probes sent.
    pub probes: u64,
    /// Acks that cancelled their timeout.
    pub acks: u64,
    /// Timeouts that fired.
    pub timeouts: u64,
}

impl ProbeCounts {
    fn add(&mut self, other: ProbeCounts) {
        self.probes += other.probes;
        self.acks += other.acks;
        self.timeouts += other.timeouts;
    }
}

/// One host's failure detector.
#[derive(Clone, Debug)]
pub struct Prober {
    hosts: u32,
    /// The armed timeout, and its probe's number.
    pending: Option<(u64, TimerId)>,
    /// This prober's counts.
    pub counts: ProbeCounts,
}

/// A uniformly chosen process other than `me` among `n`.
fn other(rng: &mut Random, me: u32, n: u32) -> u32 {
    let pick = rng.below(u64::from(n - 1)) as u32;
    if pick >= me { pick + 1 } else { pick }
}

impl Process for Prober {
    type Message = ProbeMsg;
    type Timer = ProbeTimer;
    type Operation = ();

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let phase = ctx.random().below(PROBE_INTERVAL.as_nanos());
        ctx.set_timer(Duration(phase), ProbeTimer::Probe);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, msg: ProbeMsg) {
        match msg {
            ProbeMsg::Ping(k) => {
                if ctx.random().below(IGNORE_ONE_IN) != 0 {
                    ctx.send(from, ProbeMsg::Ack(k));
                }
            }
            ProbeMsg::Ack(k) => {
                if let Some((pending, id)) = self.pending
                    && pending == k
                {
                    ctx.cancel_timer(id);
                    self.pending = None;
                    self.counts.acks += 1;
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: ProbeTimer) {
        match timer {
            ProbeTimer::Probe => {
                let k = self.counts.probes;
                self.counts.probes += 1;
                let me = ctx.id().0;
                let to = other(ctx.random(), me, self.hosts);
                ctx.send(ProcessId(to), ProbeMsg::Ping(k));
                if let Some((_, id)) = self.pending.take() {
                    ctx.cancel_timer(id);
                }
                let id = ctx.set_timer(PROBE_TIMEOUT, ProbeTimer::Timeout(k));
                self.pending = Some((k, id));
                ctx.set_timer(PROBE_INTERVAL, ProbeTimer::Probe);
            }
            ProbeTimer::Timeout(_) => {
                self.pending = None;
                self.counts.timeouts += 1;
            }
        }
    }
}

/// A ready-to-run probe workload: one switch, latency uniform 1-10 ms.
pub fn build_probes(load: &ProbeLoad, seed: u64) -> Sim<Prober> {
    let mut config = SimConfig::with_seed(seed);
    config.limits = Limits {
        horizon: load.horizon(),
        max_events: u64::MAX,
        ..Limits::default()
    };
    let topology = Topology::single_switch(
        load.hosts,
        ruckus_sim::Distribution::uniform(LATENCY_MIN, LATENCY_MAX),
    );
    let mut sim = Sim::new(config, &topology);
    for h in 0..load.hosts {
        sim.spawn(
            HostId(h),
            Prober {
                hosts: load.hosts,
                pending: None,
                counts: ProbeCounts::default(),
            },
        );
    }
    sim
}

/// The summed counts of a finished engine run.
pub fn engine_counts(sim: &Sim<Prober>, load: &ProbeLoad) -> ProbeCounts {
    let mut total = ProbeCounts::default();
    for p in 0..load.hosts {
        total.add(sim.process(ProcessId(p)).expect("probers never die").counts);
    }
    total
}

/// What the bare loop did: its counts, events handled and the time of the last one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BareProbeOutcome {
    /// Summed counts.
    pub counts: ProbeCounts,
    /// Events handled (cancelled timeouts are skipped, as in the engine).
    pub events: u64,
    /// Virtual time (ns) of the last event handled.
    pub end_ns: u64,
}

/// What a bare-loop entry is: a start, a message, or a timer (with its id, for cancelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Bare {
    Start,
    Ping { from: u32, k: u64 },
    Ack { k: u64 },
    Probe,
    Timeout { id: u64 },
}

/// (time, sequence, receiver, what): ordered by (time, sequence) like the engine's queue.
type BareProbeEntry = Reverse<(u64, u64, u32, Bare)>;

/// The probe workload as a bare binary-heap loop: the same draws from the same streams in the
/// same order as the engine, timeouts cancelled by id and skipped when they come up.
pub fn bare_probes(load: &ProbeLoad, seed: u64) -> BareProbeOutcome {
    let n = load.hosts;
    assert!(n >= 2, "probing needs at least two hosts");
    let mut rngs: Vec<Random> = (0..n)
        .map(|p| Random::stream(seed, "process", u64::from(p) << 32))
        .collect();
    let mut net = Random::stream(seed, "network", 0);
    let (lo, hi) = (LATENCY_MIN.as_nanos(), LATENCY_MAX.as_nanos());
    let horizon = load.horizon().as_nanos();
    // Per prober: probes made, the pending timeout (probe number, timer id).
    let mut probes = vec![0u64; n as usize];
    let mut pending: Vec<Option<(u64, u64)>> = vec![None; n as usize];
    // Per timer id (from 1, as the engine numbers them): armed and not cancelled.
    let mut live = vec![false];
    let mut heap: BinaryHeap<BareProbeEntry> = BinaryHeap::with_capacity(4 * n as usize);
    let mut seq = 0u64;
    let mut next_timer = 0u64;
    for p in 0..n {
        seq += 1;
        heap.push(Reverse((0, seq, p, Bare::Start)));
    }
    let mut out = BareProbeOutcome {
        counts: ProbeCounts::default(),
        events: 0,
        end_ns: 0,
    };
    while let Some(Reverse((now, _, me, what))) = heap.pop() {
        if now > horizon {
            break;
        }
        if let Bare::Timeout { id } = what
            && !live[id as usize]
        {
            continue; // cancelled: not an event
        }
        out.events += 1;
        out.end_ns = now;
        let timer = |heap: &mut BinaryHeap<BareProbeEntry>, seq: &mut u64, at: u64, what: Bare| {
            *seq += 1;
            heap.push(Reverse((at, *seq, me, what)));
        };
        match what {
            Bare::Start => {
                next_timer += 1;
                live.push(false);
                let phase = rngs[me as usize].below(PROBE_INTERVAL.as_nanos());
                timer(&mut heap, &mut seq, now + phase, Bare::Probe);
            }
            Bare::Ping { from, k } => {
                if rngs[me as usize].below(IGNORE_ONE_IN) != 0 {
                    seq += 1;
                    heap.push(Reverse((
                        now + net.range_inclusive(lo, hi),
                        seq,
                        from,
                        Bare::Ack { k },
                    )));
                }
            }
            Bare::Ack { k } => {
                if let Some((pk, id)) = pending[me as usize]
                    && pk == k
                {
                    live[id as usize] = false;
                    pending[me as usize] = None;
                    out.counts.acks += 1;
                }
            }
            Bare::Probe => {
                let k = probes[me as usize];
                probes[me as usize] += 1;
                out.counts.probes += 1;
                let to = other(&mut rngs[me as usize], me, n);
                seq += 1;
                heap.push(Reverse((
                    now + net.range_inclusive(lo, hi),
                    seq,
                    to,
                    Bare::Ping { from: me, k },
                )));
                if let Some((_, id)) = pending[me as usize].take() {
                    live[id as usize] = false;
                }
                next_timer += 1;
                live.push(true);
                pending[me as usize] = Some((k, next_timer));
                timer(
                    &mut heap,
                    &mut seq,
                    now + PROBE_TIMEOUT.as_nanos(),
                    Bare::Timeout { id: next_timer },
                );
                next_timer += 1;
                live.push(false);
                timer(&mut heap, &mut seq, now + PROBE_INTERVAL.as_nanos(), Bare::Probe);
            }
            Bare::Timeout { id } => {
                live[id as usize] = false;
                pending[me as usize] = None;
                out.counts.timeouts += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::Verdict;

    #[test]
    fn the_bare_loop_does_exactly_the_engine_work() {
        for load in [
            ProbeLoad { hosts: 2, secs: 3 },
            ProbeLoad { hosts: 7, secs: 20 },
            ProbeLoad { hosts: 300, secs: 5 },
        ] {
            let mut sim = build_probes(&load, 9);
            let report = sim.run();
            assert_eq!(report.verdict, Verdict::Held, "{load:?}");
            let bare = bare_probes(&load, 9);
            assert_eq!(bare.counts, engine_counts(&sim, &load), "{load:?}");
            assert_eq!(bare.events, report.events, "{load:?}");
            let last = report.last_events.last().expect("events ran");
            assert_eq!(bare.end_ns, last.time.as_nanos(), "{load:?}");
            // Every host probes once a second; mostly cancelled: the shape the workload is for.
            let c = bare.counts;
            assert!(
                c.probes >= load.probes() - u64::from(load.hosts),
                "{load:?}: {c:?}"
            );
            if c.probes >= 1_000 {
                assert!(c.acks > 20 * c.timeouts, "{load:?}: {c:?}");
            }
        }
        let load = ProbeLoad { hosts: 50, secs: 30 };
        assert!(bare_probes(&load, 9).counts.timeouts > 0);
        assert_ne!(bare_probes(&load, 9), bare_probes(&load, 10));
    }
}
