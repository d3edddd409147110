//! Invariants: named properties checked while the run goes, after the heal, or at the end.
//!
//! Checkers only observe. They get a [`View`] of true time and every process's state, and
//! return `Ok(())` or a message saying what is wrong; they can never change the run.

use crate::metrics::{FaultWindow, Metrics};
use crate::network::HostId;
use crate::operation::OperationOutcome;
use crate::process::{HistoryEntry, Process, ProcessId};
use crate::sim::Core;
use crate::time::{Duration, Instant};
use std::cell::Cell;
use std::fmt;

/// When a property is checked and what failing it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyKind {
    /// Safety: must hold at every check; checked after every event, or every `cadence` of
    /// true time when the check is expensive. A failure is a safety violation.
    Always {
        /// `None`: after every event.
        cadence: Option<Duration>,
    },
    /// Liveness: after faults stop (the heal), must come to hold within `within`. Checked after
    /// every event from the heal until it holds. A failure is a liveness failure.
    Eventually {
        /// The bound from the heal.
        within: Duration,
    },
    /// Checked once when the run ends without another failure. A failure is a safety violation.
    AtEnd,
}

/// What happened to a process, as its lifecycle records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lifecycle {
    /// Its host crashed: volatile state and unsynced writes lost.
    Crashed,
    /// A `KillProcess` fault ended it (the OS keeps its unsynced writes).
    Killed,
    /// A process on its host stopped it (`Context::stop_process`).
    Stopped,
    /// A new incarnation started from the boot image (after a crash or kill).
    Restarted,
    /// Its host was paused: it handles nothing until resumed.
    Paused,
    /// Its host resumed; deferred events run now. A crash while paused ends the pause without
    /// a `Resumed`.
    Resumed,
}

/// One lifecycle change of a process, so checkers need not infer crashes by polling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LifecycleEvent {
    /// True time it happened.
    pub time: Instant,
    /// What happened.
    pub kind: Lifecycle,
    /// The incarnation concerned: the one that ended (crash, kill, stop), the one that began
    /// (restart), or the current one (pause, resume).
    pub incarnation: u32,
}

/// What a checker sees: true time, the processes' states, history and metrics.
pub struct View<'a, P: Process> {
    pub(crate) core: &'a Core<P>,
    pub(crate) states: &'a [Option<P>],
}

impl<P: Process> fmt::Debug for View<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("View").field("now", &self.core.now).finish()
    }
}

impl<'a, P: Process> View<'a, P> {
    /// True (global) time.
    pub fn now(&self) -> Instant {
        self.core.now
    }
    /// Every live process with its host and state, in id order.
    pub fn processes(&self) -> impl Iterator<Item = (ProcessId, HostId, &'a P)> + 'a {
        let core = self.core;
        self.states
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| s.as_ref().map(|p| (ProcessId(i as u32), core.procs[i].host, p)))
    }
    /// A live process's state.
    pub fn process(&self, id: ProcessId) -> Option<&'a P> {
        self.states.get(id.index()).and_then(|s| s.as_ref())
    }
    /// Whether a host is up (not crashed).
    pub fn host_up(&self, host: HostId) -> bool {
        self.core.status[host.index()].up
    }
    /// A host's wall-clock reading now (what `Context::now` gives a process there).
    pub fn local_time(&self, host: HostId) -> Instant {
        self.core.clocks[host.index()].local(self.core.now)
    }
    /// A host's monotonic reading now (what `Context::monotonic` gives a process there).
    pub fn monotonic_time(&self, host: HostId) -> Instant {
        self.core.clocks[host.index()].monotonic(self.core.now)
    }
    /// The history recorded so far.
    pub fn history(&self) -> &'a [HistoryEntry<P::Operation>] {
        &self.core.history
    }
    /// The history recorded since `cursor` last read it (all of it the first time), for
    /// checkers that keep their own running state; see [`HistoryCursor`].
    pub fn history_since(&self, cursor: &HistoryCursor) -> &'a [HistoryEntry<P::Operation>] {
        cursor.advance(&self.core.history)
    }
    /// The metrics recorded so far.
    pub fn metrics(&self) -> &'a Metrics {
        &self.core.metrics
    }
    /// The fault windows so far: each fault begun, when it ended, what it hit (the same as
    /// `metrics().fault_windows()`).
    pub fn fault_windows(&self) -> &'a [FaultWindow] {
        self.core.metrics.fault_windows()
    }
    /// Messages delivered so far.
    pub fn deliveries(&self) -> u64 {
        self.core.deliveries
    }
    /// Whether a host is paused (its processes handle nothing until it resumes).
    pub fn host_paused(&self, host: HostId) -> bool {
        self.core.status[host.index()].paused
    }
    /// A process's crashes, kills, stops, restarts, pauses and resumes so far, in order.
    ///
    /// A checker that must know whether a process restarted between two of its checks
    /// compares incarnations or scans this list, instead of guessing from state it polls.
    pub fn lifecycle(&self, id: ProcessId) -> &'a [LifecycleEvent] {
        &self.core.lifecycles[id.index()]
    }
    /// A process's current incarnation: 0 at spawn, bumped when it dies and again when it
    /// restarts, never decreasing. Equal incarnations at two checks mean no crash between.
    pub fn incarnation(&self, id: ProcessId) -> u32 {
        self.core.procs[id.index()].incarnation
    }
    /// A coverage probe from a checker: records that the state `name` stands for was
    /// reached, if `cond` holds (see [`crate::probe`]). Recording is not steering: the run is
    /// the same with or without it.
    pub fn sometimes(&self, name: &str, cond: bool) -> bool {
        if cond {
            self.core.probes.borrow_mut().hit(name, self.core.now);
        }
        cond
    }
    /// Blames the failure this check is about to return on an operation of the history:
    /// `invocation` and `completion` index [`history`](Self::history) (the entries that
    /// recorded its start and its end; `None`: it never completed), `description` says what
    /// it was (`get(k0) -> 7`).
    ///
    /// A check that finds a failure after the fact (a history checked at the end or every
    /// few seconds) calls this so that the report, the trace's footer, its timeline and
    /// `replay --stop-at` point at the moment the operation completed (or, never completed,
    /// was invoked), and name it, instead of at the check. Without it a failure is placed
    /// where the check ran. Ignored when the check returns `Ok`; the last call wins.
    ///
    /// # Panics
    ///
    /// If an index is past the history's end (a checker bug, reported as a checker panic).
    pub fn blame(&self, invocation: usize, completion: Option<usize>, description: &str) {
        self.assert_in_history("blamed", invocation, completion);
        *self.core.blame.borrow_mut() = Some(Blame {
            invocation,
            completion,
            description: description.to_owned(),
            conflicts: Vec::new(),
        });
    }
    /// Names an operation the one just [`blame`](Self::blame)d conflicts with (for a
    /// linearizability failure: one of its key that no ordering reconciles with it, or one
    /// that ran concurrently with it), by its history entries as `blame` takes them, with how
    /// it ended. Reports list them under the blamed operation, and the timeline highlights
    /// them in the operation lanes. Each call adds one; ignored without a blame.
    ///
    /// # Panics
    ///
    /// If an index is past the history's end (a checker bug, reported as a checker panic).
    pub fn conflict(
        &self,
        invocation: usize,
        completion: Option<usize>,
        description: &str,
        outcome: OperationOutcome,
    ) {
        self.assert_in_history("conflicting", invocation, completion);
        if let Some(blame) = self.core.blame.borrow_mut().as_mut() {
            blame
                .conflicts
                .push((invocation, completion, description.to_owned(), outcome));
        }
    }
    /// A checker bug: history indexes past the history's end.
    fn assert_in_history(&self, what: &str, invocation: usize, completion: Option<usize>) {
        let len = self.core.history.len();
        assert!(
            invocation < len && completion.is_none_or(|c| c < len),
            "{what} history entries {invocation}/{completion:?}, but the history has {len}"
        );
    }
    /// A host's clock drift now, in parts per million (positive: fast), faults included.
    pub fn drift_ppm(&self, host: HostId) -> i64 {
        self.core.clocks[host.index()].drift_ppm()
    }
    /// Whether messages from host `a` currently reach host `b` (no partition or clog between).
    pub fn reachable(&self, a: HostId, b: HostId) -> bool {
        self.core.net.reachable(a, b)
    }
    /// Whether a process would handle an event now: alive, and its host neither crashed nor
    /// paused.
    pub fn process_up(&self, id: ProcessId) -> bool {
        let meta = self.core.procs[id.index()];
        let host = self.core.status[meta.host.index()];
        meta.alive && host.up && !host.paused
    }
}

/// What a check blamed its failure on (see [`View::blame`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Blame {
    pub(crate) invocation: usize,
    pub(crate) completion: Option<usize>,
    pub(crate) description: String,
    /// Conflicting operations: invocation, completion, description, outcome.
    pub(crate) conflicts: Vec<(usize, Option<usize>, String, OperationOutcome)>,
}

/// How far an incremental checker has read the history, so each check looks only at the
/// entries recorded since the previous one instead of rescanning from the start.
///
/// Checks are `Fn` closures, so the cursor advances through a shared reference (a `Cell`).
/// Move one cursor into one property's closure; the history only grows during a run.
///
/// ```
/// use ruckus_sim::{Duration, HistoryCursor, Process, Property};
/// use std::cell::Cell;
///
/// /// At most `limit` operations recorded in total, checked every 10 ms of true time.
/// fn bounded<P: Process>(limit: usize) -> Property<P> {
///     let cursor = HistoryCursor::new();
///     let total = Cell::new(0);
///     Property::always_every("bounded", Duration::from_millis(10), move |v| {
///         total.set(total.get() + v.history_since(&cursor).len());
///         if total.get() <= limit { Ok(()) } else { Err(format!("{} operations", total.get())) }
///     })
/// }
/// ```
#[derive(Debug, Default)]
pub struct HistoryCursor {
    read: Cell<usize>,
}

impl HistoryCursor {
    /// A cursor at the start of the history.
    pub fn new() -> HistoryCursor {
        HistoryCursor::default()
    }

    /// The entries after the cursor; moves the cursor past them. A history shorter than the
    /// cursor (the closure reused in a new run) is read again from its start.
    pub fn advance<'h, O>(&self, history: &'h [HistoryEntry<O>]) -> &'h [HistoryEntry<O>] {
        let from = if self.read.get() > history.len() {
            0
        } else {
            self.read.get()
        };
        self.read.set(history.len());
        &history[from..]
    }

    /// How many entries have been read.
    pub fn position(&self) -> usize {
        self.read.get()
    }
}

/// The signature of a check: `Ok(())` when it holds, otherwise what is wrong.
pub type CheckFn<P> = Box<dyn Fn(&View<'_, P>) -> Result<(), String>>;

/// A named property of a run.
///
/// # Closures without type annotations
///
/// The constructors take `impl Fn(&View<'_, P>) -> Result<(), String>`, so a closure passed
/// to them gets its argument type from that bound, higher-ranked lifetime included: `|v|`
/// needs no annotation. What the bound cannot supply is `P` itself when nothing has fixed it
/// yet: rustc checks a closure's body where it stands, and in `vec![Property::always(..)]`
/// or `list.push(Property::always(..))` the model type only arrives later (from the return
/// type), so `v.processes()` yields `&_` and reading a field of the state fails with "type
/// annotations needed". Methods of the view itself (`v.metrics()`, `v.history()`) work in
/// any case. To read states without annotating each closure, name the process type once:
/// collect into [`Properties<P>`](Properties), or write `Property::<Node>::always`. A closure
/// kept in a variable to be used twice gets its signature from [`Property::check_fn`].
///
/// ```
/// use ruckus_sim::{Process, Property};
///
/// /// Generic over the model: `|v|` is inferred, no `&View<'_, P>` annotation.
/// fn few_retries<P: Process>(limit: u64) -> Property<P> {
///     Property::always("few_retries", move |v| {
///         let retries = v.metrics().counter("retries");
///         if retries <= limit { Ok(()) } else { Err(format!("{retries} retries")) }
///     })
/// }
/// ```
pub struct Property<P: Process> {
    /// The name reports use.
    pub name: String,
    /// When it is checked.
    pub kind: PropertyKind,
    /// The check.
    pub check: CheckFn<P>,
}

impl<P: Process> fmt::Debug for Property<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Property")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish()
    }
}

impl<P: Process> Property<P> {
    /// A safety property checked after every event.
    pub fn always(name: &str, check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static) -> Self {
        Property {
            name: name.into(),
            kind: PropertyKind::Always { cadence: None },
            check: Box::new(check),
        }
    }
    /// A safety property checked every `cadence` of true time (for expensive checks).
    pub fn always_every(
        name: &str,
        cadence: Duration,
        check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static,
    ) -> Self {
        Property {
            name: name.into(),
            kind: PropertyKind::Always {
                cadence: Some(cadence),
            },
            check: Box::new(check),
        }
    }
    /// A liveness property: within `within` of the heal it must hold.
    pub fn eventually(
        name: &str,
        within: Duration,
        check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static,
    ) -> Self {
        Property {
            name: name.into(),
            kind: PropertyKind::Eventually { within },
            check: Box::new(check),
        }
    }
    /// A check run once at the end of a run.
    pub fn at_end(name: &str, check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static) -> Self {
        Property {
            name: name.into(),
            kind: PropertyKind::AtEnd,
            check: Box::new(check),
        }
    }
    /// Returns `check` unchanged, with the signature of a check fixed: a closure stored in a
    /// variable (to serve two properties, say) otherwise gets no higher-ranked signature and
    /// fails with "implementation of `Fn` is not general enough".
    ///
    /// ```
    /// # use ruckus_sim::{Context, Process, ProcessId, Property};
    /// # #[derive(Clone, Debug)] struct Node;
    /// # impl Process for Node {
    /// #     type Message = (); type Timer = (); type Operation = u32;
    /// #     fn on_start(&mut self, _: &mut Context<'_, Self>) {}
    /// #     fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    /// #     fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
    /// # }
    /// let small = Property::<Node>::check_fn(|v| match v.history().iter().find(|e| e.operation > 9) {
    ///     Some(e) => Err(format!("{} recorded {}", e.process, e.operation)),
    ///     None => Ok(()),
    /// });
    /// let props = [Property::always("small", small), Property::at_end("small_at_end", small)];
    /// # assert_eq!(props.len(), 2);
    /// ```
    pub fn check_fn<F>(check: F) -> F
    where
        F: Fn(&View<'_, P>) -> Result<(), String>,
    {
        check
    }
}

/// A model's list of properties, with its process type named once, so the checks' closures
/// can read process states without annotating `v` (see [`Property`] for why `vec![..]` of
/// `Property::always(..)` cannot).
///
/// ```
/// use ruckus_sim::{Context, Duration, Process, ProcessId, Properties, Property};
///
/// #[derive(Clone, Debug)]
/// struct Node { term: u64, leader: bool }
/// # impl Process for Node {
/// #     type Message = (); type Timer = (); type Operation = ();
/// #     fn on_start(&mut self, _: &mut Context<'_, Self>) {}
/// #     fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
/// #     fn on_timer(&mut self, _: &mut Context<'_, Self>, _: ()) {}
/// # }
///
/// fn properties() -> Vec<Property<Node>> {
///     let mut props = Properties::<Node>::new();
///     props
///         .always("one_leader_per_term", |v| {
///             let mut terms: Vec<u64> = v.processes().filter(|(_, _, n)| n.leader).map(|(_, _, n)| n.term).collect();
///             terms.sort_unstable();
///             match terms.windows(2).find(|w| w[0] == w[1]) {
///                 Some(w) => Err(format!("two leaders in term {}", w[0])),
///                 None => Ok(()),
///             }
///         })
///         .eventually("a_leader", Duration::from_secs(5), |v| {
///             if v.processes().any(|(_, _, n)| n.leader) { Ok(()) } else { Err("no leader".into()) }
///         });
///     props.into()
/// }
/// assert_eq!(properties().len(), 2);
/// ```
pub struct Properties<P: Process> {
    list: Vec<Property<P>>,
}

impl<P: Process> Default for Properties<P> {
    fn default() -> Self {
        Properties { list: Vec::new() }
    }
}

impl<P: Process> fmt::Debug for Properties<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.list).finish()
    }
}

impl<P: Process> Properties<P> {
    /// An empty list.
    pub fn new() -> Self {
        Properties::default()
    }
    /// Adds a property built elsewhere.
    pub fn push(&mut self, property: Property<P>) -> &mut Self {
        self.list.push(property);
        self
    }
    /// Adds [`Property::always`].
    pub fn always(
        &mut self,
        name: &str,
        check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static,
    ) -> &mut Self {
        self.push(Property::always(name, check))
    }
    /// Adds [`Property::always_every`].
    pub fn always_every(
        &mut self,
        name: &str,
        cadence: Duration,
        check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static,
    ) -> &mut Self {
        self.push(Property::always_every(name, cadence, check))
    }
    /// Adds [`Property::eventually`].
    pub fn eventually(
        &mut self,
        name: &str,
        within: Duration,
        check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static,
    ) -> &mut Self {
        self.push(Property::eventually(name, within, check))
    }
    /// Adds [`Property::at_end`].
    pub fn at_end(
        &mut self,
        name: &str,
        check: impl Fn(&View<'_, P>) -> Result<(), String> + 'static,
    ) -> &mut Self {
        self.push(Property::at_end(name, check))
    }
    /// How many properties there are.
    pub fn len(&self) -> usize {
        self.list.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

impl<P: Process> From<Properties<P>> for Vec<Property<P>> {
    fn from(properties: Properties<P>) -> Self {
        properties.list
    }
}

impl<P: Process> IntoIterator for Properties<P> {
    type Item = Property<P>;
    type IntoIter = std::vec::IntoIter<Property<P>>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(n: u32) -> HistoryEntry<u32> {
        HistoryEntry {
            time: Instant(u64::from(n)),
            process: ProcessId(0),
            operation: n,
        }
    }

    #[test]
    fn a_cursor_hands_out_each_entry_once() {
        let cursor = HistoryCursor::new();
        let mut history: Vec<HistoryEntry<u32>> = (0..3).map(entry).collect();
        let ops = |c: &HistoryCursor, h: &[HistoryEntry<u32>]| -> Vec<u32> {
            c.advance(h).iter().map(|e| e.operation).collect()
        };
        assert_eq!(ops(&cursor, &history), [0, 1, 2]);
        assert_eq!(ops(&cursor, &history), [] as [u32; 0], "nothing new");
        history.extend((3..5).map(entry));
        assert_eq!(ops(&cursor, &history), [3, 4]);
        assert_eq!(cursor.position(), 5);
        history.truncate(1);
        assert_eq!(ops(&cursor, &history), [0], "a shorter history is a new run");
    }

    /// Records its timer number every 10 ms, ten times; number 3 is the "bad" one.
    #[derive(Clone, Debug)]
    struct Ticker;

    impl Process for Ticker {
        type Message = ();
        type Timer = u32;
        type Operation = u32;
        fn on_start(&mut self, ctx: &mut crate::Context<'_, Self>) {
            ctx.set_timer(Duration::from_millis(10), 0);
        }
        fn on_message(&mut self, _: &mut crate::Context<'_, Self>, _: ProcessId, _: ()) {}
        fn on_timer(&mut self, ctx: &mut crate::Context<'_, Self>, n: u32) {
            ctx.record(n);
            if n < 9 {
                ctx.set_timer(Duration::from_millis(10), n + 1);
            }
        }
    }

    fn run_with(property: Property<Ticker>) -> crate::RunReport {
        let topology =
            crate::Topology::single_switch(2, crate::Distribution::constant(Duration::from_millis(1)));
        let mut sim = crate::Sim::new(crate::SimConfig::with_seed(1), &topology);
        sim.spawn(HostId(0), Ticker);
        sim.spawn(HostId(1), Ticker);
        sim.add_property(property);
        sim.run()
    }

    /// The first entry recording 3, as a history checker at the end would find it.
    fn blame_the_three(v: &View<'_, Ticker>) -> Result<(), String> {
        let at = v
            .history()
            .iter()
            .position(|e| e.operation == 3)
            .expect("recorded");
        v.blame(at - 2, Some(at), "tick 3");
        Err("3 is bad".into())
    }

    #[test]
    fn a_blamed_failure_points_at_the_operation_not_at_the_check() {
        let report = run_with(Property::at_end("no_three", blame_the_three));
        let f = report.failure.expect("fails");
        assert_eq!(f.property.as_deref(), Some("no_three"));
        // Tick 3 fires at 40 ms (start, then every 10 ms); the run went on to 100 ms.
        assert_eq!(f.time, Instant::ZERO + Duration::from_millis(40));
        assert!(report.end_time > f.time);
        assert_eq!(
            f.process,
            Some(ProcessId(0)),
            "process 0's timer fires first at 40 ms"
        );
        assert_eq!(f.host, Some(HostId(0)));
        // The event that recorded it.
        let event = report_event_of(&f);
        assert_eq!(event.index, f.event_index);
        assert_eq!(event.time, f.time);
        assert_eq!(event.process, 0);
        assert!(f.event_index < report.events);
        let op = f.operation.expect("named");
        assert_eq!(op.description, "tick 3");
        assert_eq!(op.invoked, Instant::ZERO + Duration::from_millis(30));
        assert_eq!(op.completed, Some(f.time));
        assert_eq!(
            op.to_string(),
            "p0 tick 3, invoked @30.000000ms, completed @40.000000ms"
        );
    }

    #[test]
    fn a_blamed_failure_names_the_operations_it_conflicts_with() {
        let report = run_with(Property::at_end("no_three", |v: &View<'_, Ticker>| {
            let three = v
                .history()
                .iter()
                .position(|e| e.operation == 3)
                .expect("recorded");
            // Conflicts named before the blame belong to no blame and are dropped.
            v.conflict(0, None, "too early", crate::OperationOutcome::Unknown);
            v.blame(three - 2, Some(three), "tick 3");
            // The other process's tick 3 (recorded right after), and tick 1 never completed.
            v.conflict(three + 1, None, "other tick 3", crate::OperationOutcome::Unknown);
            v.conflict(0, Some(2), "tick 1", crate::OperationOutcome::Fail);
            Err("3 is bad".into())
        }));
        let f = report.failure.clone().expect("fails");
        let op = f.operation.expect("named");
        let conflicts: Vec<String> = op.conflicts.iter().map(|c| c.to_string()).collect();
        assert_eq!(
            conflicts,
            [
                "p1 other tick 3 [unknown], invoked @40.000000ms, never completed",
                "p0 tick 1 [fail], invoked @10.000000ms, completed @20.000000ms",
            ]
        );
        // The report lists them under the blamed operation.
        let text = report.to_string();
        let listed = "  blamed operation: p0 tick 3, invoked @30.000000ms, completed @40.000000ms\n  it conflicts with:\n    p1 other tick 3";
        assert!(text.contains(listed), "{text}");
    }

    /// The last event of the same run replayed through event `f.event_index` (what
    /// `replay --stop-at` one more does).
    fn report_event_of(f: &crate::Failure) -> crate::EventRecord {
        struct Last(std::rc::Rc<Cell<Option<crate::EventRecord>>>);
        impl crate::Observer for Last {
            fn on_event(&mut self, record: &crate::EventRecord, _: crate::EventDetail<'_>) {
                self.0.set(Some(*record));
            }
        }
        let topology =
            crate::Topology::single_switch(2, crate::Distribution::constant(Duration::from_millis(1)));
        let mut sim = crate::Sim::new(crate::SimConfig::with_seed(1), &topology);
        sim.spawn(HostId(0), Ticker);
        sim.spawn(HostId(1), Ticker);
        let last = std::rc::Rc::new(Cell::new(None));
        sim.set_observer(Box::new(Last(last.clone())));
        let _ = sim.run_until_event(f.event_index + 1);
        assert_eq!(sim.events(), f.event_index + 1);
        last.get().expect("an event")
    }

    #[test]
    fn an_unblamed_failure_stays_where_the_check_ran() {
        let report = run_with(Property::at_end("no_three", |v| {
            if v.history().iter().any(|e| e.operation == 3) {
                Err("3 is bad".into())
            } else {
                Ok(())
            }
        }));
        let f = report.failure.expect("fails");
        assert_eq!(f.time, report.end_time);
        assert_eq!(f.event_index, report.events);
        assert_eq!((f.process, f.operation), (None, None));
    }

    #[test]
    fn a_blame_from_a_check_that_holds_is_forgotten() {
        // The first check that sees a history blames it and holds; the failure found later is
        // placed where it ran.
        let blamed = Cell::new(false);
        let report = run_with(Property::always("late", move |v| {
            if !blamed.get() && !v.history().is_empty() {
                blamed.set(true);
                v.blame(0, None, "unused");
                return Ok(());
            }
            if v.now() >= Instant::ZERO + Duration::from_millis(70) {
                Err("late".into())
            } else {
                Ok(())
            }
        }));
        assert!(report.failure.is_some());
        let f = report.failure.expect("fails");
        assert_eq!(f.time, Instant::ZERO + Duration::from_millis(70));
        assert_eq!(f.operation, None);
    }

    /// A run with a liveness property that never holds within `within` and a failing check
    /// at the end.
    fn cut_short(within: Duration) -> crate::RunReport {
        let topology =
            crate::Topology::single_switch(1, crate::Distribution::constant(Duration::from_millis(1)));
        let mut sim = crate::Sim::new(crate::SimConfig::with_seed(1), &topology);
        sim.spawn(HostId(0), Ticker);
        sim.add_property(Property::eventually("never", within, |_| Err("not yet".into())));
        sim.add_property(Property::at_end("no_three", blame_the_three));
        sim.run()
    }

    #[test]
    fn a_violation_found_at_the_end_outranks_a_liveness_property_the_horizon_cut_off() {
        // The run ends at 100 ms, long before the liveness deadline at 10 s: not judged.
        let report = cut_short(Duration::from_secs(10));
        assert_eq!(report.verdict, crate::Verdict::SafetyViolation, "{report}");
        assert_eq!(report.failure.unwrap().property.as_deref(), Some("no_three"));
        // A deadline that passed during the run is a liveness failure, as before.
        let report = cut_short(Duration::from_millis(50));
        assert_eq!(report.verdict, crate::Verdict::LivenessFailure, "{report}");
    }

    #[test]
    fn blaming_past_the_history_is_a_checker_panic() {
        let report = run_with(Property::at_end("bad_index", |v| {
            v.blame(v.history().len(), None, "nothing");
            Err("never reached".into())
        }));
        let f = report.failure.expect("fails");
        assert_eq!(f.verdict, crate::Verdict::ModelPanic);
        assert!(f.message.contains("blamed history entries"), "{}", f.message);
    }
}
