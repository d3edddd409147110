//! The queue and what a handler's context reaches: events ordered by (time, sequence), hosts,
//! process records, the network, timers, and the record every event leaves.

use super::SpawnLimitExceeded;
use super::queue::EventQueue;
use crate::clock::Clock;
use crate::disk::{Disk, DiskFaultConfig};
use crate::metrics::Metrics;
use crate::network::{HostId, Network, Transmission};
use crate::process::{HistoryEntry, Process, ProcessId, TimerId};
use crate::property::LifecycleEvent;
use crate::record::{EventDetail, EventRecord, Fingerprint, FlightRecorder, Observer};
use crate::rng::Random;
use crate::time::{Duration, Instant};
use crate::timers::TimerSet;
use std::cmp::Ordering;

pub(crate) enum Payload<P: Process> {
    Start,
    Deliver {
        from: ProcessId,
        sent_at: Instant,
        message: P::Message,
    },
    Timer {
        id: TimerId,
        timer: P::Timer,
    },
    /// An asynchronous storage sync completed: the target's writes up to `mark` are durable.
    SyncDone {
        issued_at: Instant,
        mark: u64,
        timer: P::Timer,
    },
    FaultBegin(u32),
    FaultEnd(u32),
    Heal,
}

pub(crate) struct Event<P: Process> {
    pub(crate) time: Instant,
    pub(crate) seq: u64,
    pub(crate) target: u32,
    pub(crate) incarnation: u32,
    pub(crate) payload: Payload<P>,
}

impl<P: Process> Event<P> {
    /// A placeholder left where an event was moved out of a vector that is cleared next.
    #[inline]
    pub(crate) fn filler() -> Self {
        Event {
            time: Instant::ZERO,
            seq: 0,
            target: 0,
            incarnation: 0,
            payload: Payload::Heal,
        }
    }
}

impl<P: Process> PartialEq for Event<P> {
    fn eq(&self, other: &Self) -> bool {
        (self.time, self.seq) == (other.time, other.seq)
    }
}
impl<P: Process> Eq for Event<P> {}
impl<P: Process> PartialOrd for Event<P> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<P: Process> Ord for Event<P> {
    // Reversed: the queue's BinaryHeap is a max-heap and the earliest (time, seq) must come out first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.time, other.seq).cmp(&(self.time, self.seq))
    }
}

/// An event held for a paused host; it is queued again, with a new sequence number, at the
/// resume time.
pub(crate) struct DeferredEvent<P: Process> {
    pub(crate) target: u32,
    pub(crate) incarnation: u32,
    pub(crate) payload: Payload<P>,
}

pub(crate) struct HostState<P: Process> {
    pub(crate) disk: Disk,
    pub(crate) deferred: Vec<DeferredEvent<P>>,
    pub(crate) processes: Vec<ProcessId>,
    pub(crate) disk_rng: Random,
    /// Drift to return to when a drift fault ends.
    pub(crate) base_drift_ppm: i64,
    /// The host's CPU is busy (with an earlier handler's cost, or booting) until then.
    pub(crate) busy_until: Instant,
    /// CPU time each handler call takes, and the stream it is drawn from.
    pub(crate) handler_cost: Option<crate::rng::Distribution>,
    pub(crate) cpu_rng: Random,
    /// Storage sync latency and the slow-disk faults in force.
    pub(crate) disk_timing: crate::costs::DiskTiming,
    /// Active `Fault::Degrade` conditions as (fault index, mode), in the order they began.
    /// Environmental: a crash keeps them, their end or the heal removes them. Change them only
    /// through `Core::set_degradations`, which keeps `HostStatus::degraded` true to them.
    pub(crate) degradations: Vec<(u32, String)>,
}

/// Whether a host is up and whether it is paused: read for every event, so kept apart from the
/// rest of a host's state (hundreds of bytes), packed for all hosts in a few cache lines.
#[derive(Clone, Copy, Debug)]
pub(crate) struct HostStatus {
    pub(crate) up: bool,
    pub(crate) paused: bool,
    /// Whether the host has a handler cost or has ever been busy: only then are its events
    /// checked against `busy_until` (so a run without costs pays nothing for them).
    pub(crate) costly: bool,
    /// Whether the host has active degradations: handlers ask for them on every message, and
    /// without one active (the common case) the answer comes from here, not from `HostState`.
    pub(crate) degraded: bool,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ProcMeta {
    pub(crate) host: HostId,
    pub(crate) incarnation: u32,
    pub(crate) alive: bool,
    pub(crate) boot: bool,
    /// Killed by a fault (so the heal restarts it), as opposed to stopped by a sibling.
    pub(crate) killed: bool,
    /// Whether its last handler drew from its random stream: only then is the stream read
    /// ahead of its next event (most processes of a membership protocol rarely draw).
    pub(crate) drew: bool,
}

/// Everything but the process states, so a handler can hold its own state mutably while the
/// context reaches the rest.
pub(crate) struct Core<P: Process> {
    pub(crate) now: Instant,
    pub(crate) seq: u64,
    pub(crate) queue: EventQueue<P>,
    pub(crate) hosts: Vec<HostState<P>>,
    /// Each host's up and paused flags, indexed like `hosts`.
    pub(crate) status: Vec<HostStatus>,
    /// Each host's clock, indexed like `hosts`: read by handlers on most events (the time, a
    /// timer's true delay), so packed densely rather than inside `HostState`.
    pub(crate) clocks: Vec<Clock>,
    pub(crate) procs: Vec<ProcMeta>,
    /// Each process's crashes, kills, stops, restarts, pauses and resumes, in order.
    pub(crate) lifecycles: Vec<Vec<LifecycleEvent>>,
    pub(crate) net: Network,
    /// The network's streams: one per sending host, or one for all (`net_mask` 0).
    pub(crate) net_rngs: Vec<Random>,
    /// A sending host's index masked by this is its stream's: all ones when each host has its
    /// own network stream, 0 when they share `net_rngs[0]` (a mask, not a multiply, as the
    /// index is on the send's chain of dependent work).
    pub(crate) net_mask: usize,
    pub(crate) next_timer: u64,
    pub(crate) live_timers: TimerSet,
    pub(crate) event_index: u64,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) recorder: FlightRecorder,
    pub(crate) observer: Option<Box<dyn Observer>>,
    pub(crate) metrics: Metrics,
    pub(crate) history: Vec<HistoryEntry<P::Operation>>,
    /// The index of the event each history entry was recorded in (parallel to `history`), so
    /// a failure blamed on an entry points at that event.
    pub(crate) history_events: Vec<u64>,
    pub(crate) spawned: Vec<(ProcessId, P)>,
    pub(crate) stopped: Vec<ProcessId>,
    pub(crate) stop_requested: bool,
    /// The process whose handler is running, or `NONE` between handlers: the run's panic
    /// guard tells a handler's panic (a failure) from the engine's own by it.
    pub(crate) running: u32,
    /// Whether the running handler has asked for its random stream.
    pub(crate) drew: bool,
    pub(crate) deliveries: u64,
    /// Virtual time the running handler has spent so far (zero between handlers).
    pub(crate) spent: Duration,
    pub(crate) disk_faults: DiskFaultConfig,
    /// Most processes the run may hold.
    pub(crate) max_processes: usize,
    /// The first spawn refused for being over `max_processes`.
    pub(crate) spawn_refused: Option<SpawnLimitExceeded>,
    /// Coverage probes reached (a cell: checkers record them through a shared `View`).
    pub(crate) probes: std::cell::RefCell<crate::probe::Probes>,
    /// What the running check blamed its failure on (`View::blame`), taken when it fails.
    pub(crate) blame: std::cell::RefCell<Option<crate::property::Blame>>,
    /// Buggify sites met and their streams.
    pub(crate) buggify: crate::buggify::Buggify,
}

/// Hands a record to the observer. Out of line so that the record needs no address on the
/// common path: with one, it was built on the stack field by field and copied into the
/// flight recorder with wide loads that stalled on those narrow stores (~8% of a pingpong run).
#[cold]
#[inline(never)]
fn observe(obs: &mut dyn Observer, record: EventRecord, detail: EventDetail<'_>) {
    obs.on_event(&record, detail);
}

impl<P: Process> Core<P> {
    #[inline(always)]
    pub(super) fn push(&mut self, time: Instant, target: u32, incarnation: u32, payload: Payload<P>) {
        debug_assert!(
            time >= self.now,
            "an event scheduled at {time}, before now ({})",
            self.now
        );
        self.seq += 1;
        self.queue.push(Event {
            time,
            seq: self.seq,
            target,
            incarnation,
            payload,
        });
    }

    // Always inlined: the record is built field by field at each call site, and passing it
    // through a call cost a store and reload of 48 bytes per event. The detail is built only
    // for an observer: built always, a message's cost five stores per event.
    #[inline(always)]
    pub(crate) fn emit<'d>(&mut self, record: EventRecord, detail: impl FnOnce() -> EventDetail<'d>) {
        self.fingerprint.add(&record);
        self.recorder.push(record);
        if let Some(obs) = self.observer.as_mut() {
            observe(obs.as_mut(), record, detail());
        }
    }

    #[inline]
    pub(crate) fn send(&mut self, from: ProcessId, from_host: HostId, to: ProcessId, message: P::Message) {
        let target = self.procs[to.index()];
        // A message departs once the time the handler spent so far has elapsed.
        let now = self.now.saturating_add(self.spent);
        // The common case (no fault or chaos on the network) inline; the rest out of line.
        match self.net.plain_arrival(
            from_host,
            target.host,
            now,
            &mut self.net_rngs[from_host.index() & self.net_mask],
        ) {
            Some(t) => self.push(
                t,
                to.0,
                target.incarnation,
                Payload::Deliver {
                    from,
                    sent_at: now,
                    message,
                },
            ),
            None => self.send_general(from, from_host, to, target.host, target.incarnation, now, message),
        }
    }

    /// A send the network's faults or chaos decide: dropped, delivered once or twice.
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    fn send_general(
        &mut self,
        from: ProcessId,
        from_host: HostId,
        to: ProcessId,
        to_host: HostId,
        incarnation: u32,
        now: Instant,
        message: P::Message,
    ) {
        let rng = &mut self.net_rngs[from_host.index() & self.net_mask];
        match self.net.transmit(from_host, to_host, now, rng) {
            Transmission::Dropped => {}
            Transmission::Once(t) => {
                self.push(
                    t,
                    to.0,
                    incarnation,
                    Payload::Deliver {
                        from,
                        sent_at: now,
                        message,
                    },
                );
            }
            Transmission::Twice(t1, t2) => {
                self.push(
                    t1,
                    to.0,
                    incarnation,
                    Payload::Deliver {
                        from,
                        sent_at: now,
                        message: message.clone(),
                    },
                );
                self.push(
                    t2,
                    to.0,
                    incarnation,
                    Payload::Deliver {
                        from,
                        sent_at: now,
                        message,
                    },
                );
            }
        }
    }

    pub(crate) fn set_timer(
        &mut self,
        me: ProcessId,
        host: HostId,
        after: Duration,
        timer: P::Timer,
    ) -> TimerId {
        self.next_timer += 1;
        let id = self.next_timer;
        self.live_timers.insert(id);
        let delay = self.clocks[host.index()].true_duration(after);
        let at = self.now.saturating_add(self.spent).saturating_add(delay);
        let incarnation = self.procs[me.index()].incarnation;
        self.push(
            at,
            me.0,
            incarnation,
            Payload::Timer {
                id: TimerId(id),
                timer,
            },
        );
        TimerId(id)
    }

    /// Queues an asynchronous sync of `me`'s writes so far on its host's disk; `done` comes
    /// back to `on_timer` when it completes (see `Context::sync_async`).
    pub(crate) fn sync_async(&mut self, me: ProcessId, host: HostId, done: P::Timer) {
        let issued_at = self.now.saturating_add(self.spent);
        let h = &mut self.hosts[host.index()];
        let mark = h.disk.write_mark();
        let at = h.disk_timing.queue_sync(issued_at);
        let incarnation = self.procs[me.index()].incarnation;
        self.push(
            at,
            me.0,
            incarnation,
            Payload::SyncDone {
                issued_at,
                mark,
                timer: done,
            },
        );
    }

    /// Changes a host's active degradations and keeps its `degraded` flag true to them.
    pub(super) fn set_degradations(&mut self, host: HostId, change: impl FnOnce(&mut Vec<(u32, String)>)) {
        let active = &mut self.hosts[host.index()].degradations;
        change(active);
        self.status[host.index()].degraded = !active.is_empty();
    }

    /// The active degradations of a host, without touching its `HostState` when it has none.
    #[inline]
    pub(crate) fn degradations(&self, host: HostId) -> &[(u32, String)] {
        if self.status[host.index()].degraded {
            &self.hosts[host.index()].degradations
        } else {
            &[]
        }
    }

    pub(super) fn new_process(&mut self, host: HostId, boot: bool) -> ProcessId {
        let id = ProcessId(self.procs.len() as u32);
        self.procs.push(ProcMeta {
            host,
            incarnation: 0,
            alive: true,
            boot,
            killed: false,
            drew: false,
        });
        self.lifecycles.push(Vec::new());
        self.hosts[host.index()].processes.push(id);
        id
    }

    /// Whether one more process fits under `max_processes`; if not, records the refusal and
    /// asks the run to stop after the current event.
    pub(super) fn admit_spawn(&mut self, host: HostId) -> Result<(), SpawnLimitExceeded> {
        if self.procs.len() < self.max_processes {
            return Ok(());
        }
        let refused = SpawnLimitExceeded {
            bound: self.max_processes,
            host,
            at: self.now,
        };
        self.spawn_refused.get_or_insert(refused);
        self.stop_requested = true;
        Err(refused)
    }

    /// A sibling spawned by a handler, or [`ProcessId::REFUSED`] over `max_processes`.
    pub(crate) fn spawn_from_handler(&mut self, host: HostId, process: P) -> ProcessId {
        if self.admit_spawn(host).is_err() {
            return ProcessId::REFUSED;
        }
        let id = self.new_process(host, false);
        self.push(self.now, id.0, 0, Payload::Start);
        self.spawned.push((id, process));
        id
    }
}
