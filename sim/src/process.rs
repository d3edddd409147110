//! Processes: a model's state machines, and the context through which they act.
//!
//! A process never does I/O. Its handlers receive a [`Context`] and act only through it:
//! send, set and cancel timers, read the local clock, draw from its own random stream, use
//! durable storage, record metrics and history, leave trace notes, and start or stop sibling
//! processes on its own host. That is what lets one model be simulated, checked and replayed.

use crate::client_history::ClientOp;
use crate::network::HostId;
use crate::operation::OperationSpan;
use crate::record::{EventDetail, EventRecord, NONE, RecordKind, digest};
use crate::rng::Random;
use crate::sim::Core;
use crate::time::{Duration, Instant};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fmt::{self, Debug};
use std::hash::Hash;

/// Identifies a process for the whole run; numbered from 0 in the order processes are spawned,
/// so a model that spawns N nodes knows node i is `ProcessId(i)`. A restarted process keeps its
/// id (with a new incarnation).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ProcessId(pub u32);

impl ProcessId {
    /// The id a refused spawn returns (over [`SimConfig::max_processes`](crate::SimConfig)):
    /// no process has it, and the run ends with a `LimitExceeded` verdict.
    pub const REFUSED: ProcessId = ProcessId(u32::MAX);

    /// The index into per-process tables.
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}
impl Debug for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}
impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}", self.0)
    }
}

/// Identifies one armed timer, so it can be cancelled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TimerId(pub u64);

/// A model's state machine. One type per run: a model with several roles uses an enum.
///
/// The value passed to `Sim::spawn` is the boot image: a restart after a crash or kill begins
/// from a clone of it, then `on_start` rebuilds whatever it needs from durable storage.
pub trait Process: Clone + Debug + 'static {
    /// What processes send each other. Hashed into the fingerprint.
    type Message: Clone + Debug + Hash + 'static;
    /// What a timer carries back to `on_timer`. Hashed into the fingerprint.
    type Timer: Clone + Debug + Hash + 'static;
    /// What the process records in the history for checkers (`()` if it records nothing).
    type Operation: Clone + Debug + 'static;

    /// Runs when the process starts, and again (on a fresh boot image) after every restart.
    fn on_start(&mut self, ctx: &mut Context<'_, Self>);
    /// Runs when a message arrives.
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: Self::Message);
    /// Runs when a timer set by this incarnation fires, and when an asynchronous storage sync
    /// it issued completes ([`Context::sync_async`]; recorded as its own `sync_done` event).
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Self::Timer);

    /// Whether this process plays `role` now, judged from its current state: what lets a
    /// fault plan aim at "the leader" or "a random follower" instead of a host
    /// (`Fault::CrashRole` and the other role faults ask every live process when they begin).
    /// Role names are the model's own words (`"leader"`, `"tier1"`, `"group:api"`); a model
    /// documents the ones it answers. The default plays no role, so role faults skip it.
    fn has_role(&self, role: &str) -> bool {
        let _ = role;
        false
    }

    /// How a person knows this process now, with its current role where the model can say:
    /// `"lock-server"`, `"client-3"`, `"raft-2 (leader, term 7)"`. Failure reports print it
    /// beside the process id. The default has none, and reports show the id alone.
    fn label(&self) -> Option<String> {
        None
    }

    /// The operations a history holds, each from its invocation to its completion, for the
    /// timeline's operation lanes (one per client; see [`crate::operation`]). Only the model
    /// knows how its records pair up; the default finds none, and timelines show no lanes.
    /// Called once when a trace is written, never during the run.
    fn operations(history: &[HistoryEntry<Self::Operation>]) -> Vec<OperationSpan> {
        let _ = history;
        Vec::new()
    }

    /// The history's client operations as Jepsen-style entries (an invocation, then its
    /// completion), for checking outside the run: `ruckus check` replays a trace and checks
    /// these against [`Model::CHECKER_MODEL`](crate::Model::CHECKER_MODEL). Only the model
    /// knows what its records mean; the default exports none. Never called during the run.
    fn client_history(history: &[HistoryEntry<Self::Operation>]) -> Vec<ClientOp> {
        let _ = history;
        Vec::new()
    }
}

/// One entry of the history that checkers (such as linearizability) read.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEntry<O> {
    /// True time it was recorded.
    pub time: Instant,
    /// The process that recorded it.
    pub process: ProcessId,
    /// The model's operation record.
    pub operation: O,
}

/// The handle a handler acts through. It lives for one handler call.
pub struct Context<'a, P: Process> {
    pub(crate) core: &'a mut Core<P>,
    pub(crate) me: ProcessId,
    pub(crate) host: HostId,
    pub(crate) rng: &'a mut Random,
}

impl<P: Process> Debug for Context<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("me", &self.me)
            .field("host", &self.host)
            .field("true_time", &self.core.now)
            .finish()
    }
}

impl<P: Process> Context<'_, P> {
    /// This process's id.
    pub fn id(&self) -> ProcessId {
        self.me
    }

    /// The host this process runs on.
    pub fn host(&self) -> HostId {
        self.host
    }

    /// The host's wall clock: offset, drift and jumps (an NTP step moves it, even backwards).
    /// Use it for what a real system reads the wall clock for: timestamps shown to users,
    /// comparing readings across hosts, clock-based tokens. Do not measure elapsed time with
    /// it (leases, timeouts, TTLs): a jump makes such a span wrong; use [`monotonic`](Self::monotonic).
    pub fn now(&self) -> Instant {
        self.core.clocks[self.host.index()].local(self.core.now.saturating_add(self.core.spent))
    }

    /// The host's monotonic clock: the same oscillator as [`now`](Self::now) (offset and
    /// drift) without the jumps, so it never goes backwards, like `CLOCK_MONOTONIC`. Measure
    /// elapsed local time with it: lease expiries, timeouts, TTLs, rate limits. Only meaningful
    /// on this host (its origin is arbitrary), and it still drifts: a lease that must hold
    /// against a fast or slow clock needs a drift margin. Timers run on this clock.
    pub fn monotonic(&self) -> Instant {
        self.core.clocks[self.host.index()].monotonic(self.core.now.saturating_add(self.core.spent))
    }

    /// Spends `cpu` of virtual processing time in this handler (see [`crate::costs`]): what it
    /// does afterwards takes effect that much later (messages depart, timers count and clocks
    /// read from there), and the host stays busy, its other events waiting, until the handler's
    /// whole cost has elapsed.
    pub fn spend(&mut self, cpu: Duration) {
        self.core.spent = self.core.spent.saturating_add(cpu);
    }

    /// The time this handler has spent so far: the host's handler cost for this event, what
    /// it [`spend`](Self::spend)s and its storage syncs.
    pub fn spent(&self) -> Duration {
        self.core.spent
    }

    /// The model-defined conditions (`Fault::Degrade` modes) active on this host now, in the
    /// order they began. The engine attaches no meaning to them: a model that supports
    /// degradations reads them when it decides (e.g. how long a request takes) and ignores the
    /// modes it does not know or panics on them. No handler is called when one begins or ends.
    pub fn degradations(&self) -> impl Iterator<Item = &str> + '_ {
        self.core
            .degradations(self.host)
            .iter()
            .map(|(_, mode)| mode.as_str())
    }

    /// The host a process lives on.
    pub fn host_of(&self, process: ProcessId) -> HostId {
        self.core.procs[process.index()].host
    }

    /// Sends `message` to `to`. Its fate (latency, loss, partitions) is decided now from the
    /// network stream; it reaches only the incarnation of `to` that is current at this moment.
    #[inline]
    pub fn send(&mut self, to: ProcessId, message: P::Message) {
        self.core.send(self.me, self.host, to, message);
    }

    /// Arms a timer that fires after `after` has elapsed on this host's clock.
    pub fn set_timer(&mut self, after: Duration, timer: P::Timer) -> TimerId {
        self.core.set_timer(self.me, self.host, after, timer)
    }

    /// Disarms a timer; cancelling one that already fired or was cancelled does nothing.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.core.live_timers.remove(&id.0);
    }

    /// This process's own random stream (derived from the seed, the process and incarnation).
    pub fn random(&mut self) -> &mut Random {
        self.core.drew = true;
        self.rng
    }

    /// This process's durable storage on its host's disk.
    pub fn storage(&mut self) -> Storage<'_> {
        let core = &mut *self.core;
        let host = &mut core.hosts[self.host.index()];
        Storage {
            disk: &mut host.disk,
            process: self.me.0,
            timing: Some((&mut host.disk_timing, core.now, &mut core.spent)),
        }
    }

    /// Starts a storage sync in the background (an fsync handed to the disk while the
    /// handler goes on): it covers every write this process has made so far, none made later,
    /// and `done` comes back to [`Process::on_timer`] when the disk completes it, as an event
    /// of its own (a `sync_done` record). It takes the host's disk sync latency (times any
    /// slow-disk fault in force) and the host's syncs complete one at a time in the order
    /// they were issued, so a second sync issued while one is queued completes after it. The
    /// writes become durable only at completion: a host crash before then resolves them as
    /// unsynced writes (kept, lost or torn) and the completion never arrives; after a process
    /// kill it never arrives either, and the writes stay pending (the OS still has them). With
    /// no disk latency it completes at the same instant, as its own event after this handler.
    /// The handler spends no time on it (unlike [`Storage::sync`]), and it cannot be
    /// cancelled.
    pub fn sync_async(&mut self, done: P::Timer) {
        self.core.sync_async(self.me, self.host, done);
    }

    /// Adds `delta` to a counter metric.
    pub fn count(&mut self, metric: &str, delta: u64) {
        self.core.metrics.count(metric, delta);
    }

    /// Records one sample of a distribution metric (latency in nanoseconds, queue length...).
    pub fn observe(&mut self, metric: &str, value: u64) {
        self.core.metrics.observe(metric, value);
    }

    /// Records one sample stamped with the current true time, for charts over time (see
    /// [`crate::Metrics::observe_at`] for the `<group>.ok` / `<group>.failed` convention).
    pub fn observe_timed(&mut self, metric: &str, value: u64) {
        let now = self.core.now;
        self.core.metrics.observe_at(metric, now, value);
    }

    /// Marks this moment (true time) on charts, e.g. "node n3 marked down".
    pub fn mark(&mut self, label: &str) {
        let now = self.core.now;
        self.core.metrics.mark(now, label);
    }

    /// Appends an operation to the history, stamped with true time.
    pub fn record(&mut self, operation: P::Operation) {
        let time = self.core.now;
        self.core.history.push(HistoryEntry {
            time,
            process: self.me,
            operation,
        });
        self.core.history_events.push(self.core.event_index);
    }

    /// Logs a note into the trace. It is hashed into the fingerprint and kept in full traces.
    pub fn note(&mut self, text: &str) {
        let record = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind: RecordKind::Note,
            process: self.me.0,
            host: self.host.0,
            peer: NONE,
            aux: 0,
            digest: digest(text),
        };
        self.core.emit(record, || EventDetail::Note(text));
    }

    /// A coverage probe: records that the state `name` stands for was reached, if `cond`
    /// holds (see [`crate::probe`]), and returns `cond`. Costs a comparison when `cond` is
    /// false; never changes the run (no draw, no event, outside the fingerprint).
    #[inline]
    pub fn sometimes(&mut self, name: &str, cond: bool) -> bool {
        if cond {
            self.core.probes.get_mut().hit(name, self.core.now);
        }
        cond
    }

    /// A buggify site: whether to take the rare path `site` names now (see [`crate::buggify`]).
    /// Always false unless the run has buggify on; then the site is enabled or not for the
    /// whole run from the seed, and an enabled site fires with the configured probability.
    /// The choices are trace notes, so they are part of the run and its fingerprint.
    #[inline]
    pub fn buggify(&mut self, site: &str) -> bool {
        let Some(choice) = self.core.buggify.decide(site) else {
            return false;
        };
        if let Some(enabled) = choice.first {
            let state = if enabled { "enabled" } else { "disabled" };
            self.note(&format!("buggify {site}: {state}"));
        }
        if choice.fires {
            self.note(&format!("buggify {site}: fired"));
        }
        choice.fires
    }

    /// Starts a sibling process on this host; it runs `on_start` at the current time. Siblings
    /// die with the host and are not restarted by a host restart (the parent re-spawns them).
    pub fn spawn(&mut self, process: P) -> ProcessId {
        self.core.spawn_from_handler(self.host, process)
    }

    /// Stops a process on this host (possibly this one), for good: a kill fault that holds it
    /// down does not restart it when it ends. Panics if it lives on another host: a process
    /// cannot reach across the network except by messages.
    pub fn stop_process(&mut self, process: ProcessId) {
        let host = self.core.procs[process.index()].host;
        assert_eq!(
            host, self.host,
            "{} may only stop processes on its own host",
            self.me
        );
        self.core.stopped.push(process);
    }

    /// Ends the run now, successfully (e.g. a workload reached its target).
    pub fn stop_run(&mut self) {
        self.core.stop_requested = true;
    }
}

/// A stored value that did not decode as the type asked for: a torn unsynced write, a value
/// written as another type, or a format change between the writer and the reader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError {
    /// The key read.
    pub key: String,
    /// What the decoder said.
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stored value of `{}` does not decode: {}",
            self.key, self.message
        )
    }
}

impl std::error::Error for DecodeError {}

/// A process's view of its durable storage: a key-value store on the host's disk.
///
/// Writes are visible to the process at once but survive a host crash only after `sync`.
/// [`put_value`](Self::put_value) and [`get_value`](Self::get_value) store typed values in
/// postcard, the compact binary format traces use.
#[derive(Debug)]
pub struct Storage<'a> {
    disk: &'a mut crate::disk::Disk,
    process: u32,
    /// The host's sync latency and the handler's time spent, which a sync adds to.
    /// The host's disk timing, the handler's start time and the time it has spent so far.
    timing: Option<(&'a mut crate::costs::DiskTiming, Instant, &'a mut Duration)>,
}

impl Storage<'_> {
    /// The value of `key`, including unsynced writes.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.disk.get(self.process, key)
    }
    /// Writes `value` under `key` (durable only after `sync`).
    pub fn put(&mut self, key: &str, value: Vec<u8>) {
        self.disk.put(self.process, key, value);
    }
    /// Deletes `key` (durable only after `sync`).
    pub fn delete(&mut self, key: &str) {
        self.disk.delete(self.process, key);
    }
    /// Makes every earlier write of this process durable (fsync). It takes the host's disk
    /// sync latency (times any slow-disk fault in force), spent by the handler like CPU time:
    /// the single-threaded handler stalls on the fsync (see [`crate::costs`]). The writes are
    /// durable at once: a crash during the stall keeps them. The disk serves one sync at a
    /// time, so a sync issued while background syncs ([`Context::sync_async`]) are queued
    /// waits for them first, and background syncs issued later wait for it. To go on while
    /// the disk works and hear when it is done, use [`Context::sync_async`] instead.
    pub fn sync(&mut self) {
        self.disk.sync(self.process);
        if let Some((timing, started, spent)) = &mut self.timing {
            let done = timing.queue_sync(started.saturating_add(**spent));
            **spent = done.saturating_since(*started);
        }
    }
    /// Every key this process has, sorted.
    pub fn keys(&self) -> Vec<String> {
        self.disk.keys(self.process)
    }
    /// Writes `value` under `key`, encoded with postcard (durable only after `sync`). Panics
    /// if serde cannot encode it (a model bug, e.g. a sequence of unknown length).
    pub fn put_value<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        let bytes = postcard::to_allocvec(value)
            .unwrap_or_else(|e| panic!("cannot encode the value for storage key `{key}`: {e}"));
        self.put(key, bytes);
    }
    /// The value of `key` decoded as `T`: `None` if absent, an error if the bytes are not a
    /// `T` (a crash can tear an unsynced write, so a model must decide what that means).
    pub fn get_value<T: DeserializeOwned>(&self, key: &str) -> Option<Result<T, DecodeError>> {
        let bytes = self.get(key)?;
        Some(postcard::from_bytes(bytes).map_err(|e| DecodeError {
            key: key.to_string(),
            message: e.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::{Disk, DiskFaultConfig};
    use std::collections::BTreeMap;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Persistent {
        term: u64,
        voted_for: Option<ProcessId>,
        log: Vec<(u64, String)>,
    }

    #[test]
    fn typed_values_survive_a_crash_after_sync_and_torn_ones_fail_to_decode() {
        let tear_everything = DiskFaultConfig {
            unsynced_loss_probability: 0.0,
            torn_write_probability: 1.0,
        };
        let state = Persistent {
            term: 7,
            voted_for: Some(ProcessId(2)),
            log: vec![(1, "set x".into()), (7, "set y".into())],
        };
        let mut disk = Disk::default();
        let mut storage = Storage {
            disk: &mut disk,
            process: 3,
            timing: None,
        };
        storage.put_value("state", &state);
        storage.sync();
        let mut index = BTreeMap::new();
        index.insert("x".to_string(), 1u32);
        storage.put_value("index", &index);
        assert_eq!(storage.get_value::<Persistent>("nothing"), None);
        disk.crash(&tear_everything, &mut Random::stream(1, "disk", 0));
        let storage = Storage {
            disk: &mut disk,
            process: 3,
            timing: None,
        };
        assert_eq!(storage.get_value::<Persistent>("state"), Some(Ok(state)));
        let torn = storage.get_value::<BTreeMap<String, u32>>("index");
        let err = torn.expect("a torn write keeps a prefix").unwrap_err();
        assert_eq!(err.key, "index");
        assert!(
            err.to_string()
                .starts_with("stored value of `index` does not decode"),
            "{err}"
        );
        let wrong_type = storage.get_value::<bool>("state").unwrap();
        assert!(wrong_type.is_err(), "{wrong_type:?}");
    }
}
