//! The event loop: pop the earliest event, hand it to its process (or apply the fault), check
//! properties and limits, and finish with a report.

use super::core::{DeferredEvent, Event, Payload};
use super::{Failure, ProcessLabel, Progress, RunReport, Sim, SpawnLimitExceeded, Verdict, panic_message};
use crate::network::HostId;
use crate::prefetch::{prefetch, prefetch_lines};
use crate::process::{Context, Process, ProcessId};
use crate::property::Lifecycle;
use crate::record::{EventDetail, EventRecord, NONE, RecordKind, digest};
use crate::time::{Duration, Instant};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Events per read-ahead batch (see `read_ahead`).
const READ_AHEAD_BATCH: usize = 16;
/// Fewer events than this are left to their own misses.
const READ_AHEAD_MIN: usize = 4;
/// Below this many processes their entries, clocks and streams stay in the caches (a few
/// hundred KB), and reading ahead only costs.
pub(super) const READ_AHEAD_FROM_PROCESSES: usize = 1024;
/// Lines of a process state prefetched (from its start).
const STATE_LINES: usize = 8;

impl<P: Process> Sim<P> {
    /// Queues the plan's faults, the heal and the boot processes' starts.
    pub(super) fn start(&mut self) {
        self.started = true;
        for (i, a) in self.plan.actions.iter().enumerate() {
            self.core.push(a.at, NONE, 0, Payload::FaultBegin(i as u32));
            if let Some(d) = a.fault.duration() {
                self.core
                    .push(a.at.saturating_add(d), NONE, 0, Payload::FaultEnd(i as u32));
            }
        }
        self.heal_at = self.plan.faults_end();
        if !self.plan.actions.is_empty() {
            self.core.push(self.heal_at, NONE, 0, Payload::Heal);
        }
        // Boot processes start after the faults are queued, so a fault at time t takes effect
        // before anything a process does at t.
        for id in 0..self.states.len() {
            self.core.push(Instant::ZERO, id as u32, 0, Payload::Start);
        }
    }

    /// Runs until `index` events have been processed (then pauses, so the state can be
    /// inspected) or the run ends.
    pub fn run_until_event(&mut self, index: u64) -> Progress {
        if let Some(r) = &self.finished {
            return Progress::Finished(r.clone());
        }
        if let Some(refused) = self.core.spawn_refused {
            // Refused in setup: the run is not the one the model asked for.
            return self.finish(Some(self.spawn_failure(refused)));
        }
        if !self.started {
            self.start();
        }
        // One panic guard for a whole stretch of events rather than one per handler call
        // (each of which kept the handler's arguments and context on the stack): 446 -> 426
        // instructions per pingpong delivery. The loop must stay a function of its own:
        // inlined into the guard's closure it ran 468.
        match catch_unwind(AssertUnwindSafe(|| self.run_events(index))) {
            Ok(progress) => progress,
            Err(panic) => self.after_panic(panic),
        }
    }

    /// A panic escaped the event loop: a handler's becomes the run's failure; any other (the
    /// engine's own) unwinds on.
    #[cold]
    #[inline(never)]
    fn after_panic(&mut self, panic: Box<dyn std::any::Any + Send>) -> Progress {
        let target = std::mem::replace(&mut self.core.running, NONE);
        if target == NONE {
            std::panic::resume_unwind(panic);
        }
        let event_index = self.core.event_index;
        // The handler's event counts, as it would have had it returned.
        self.core.event_index += 1;
        let f = Failure {
            verdict: Verdict::ModelPanic,
            property: None,
            message: format!("handler panicked: {}", panic_message(&*panic)),
            time: self.core.now,
            host: Some(self.core.procs[target as usize].host),
            process: Some(ProcessId(target)),
            event_index,
            operation: None,
        };
        // A handler that goes on to use a refused spawn's id panics: the refusal is the cause
        // to report.
        let f = self.core.spawn_refused.map_or(f, |r| self.spawn_failure(r));
        self.finish(Some(f))
    }

    /// The event loop of [`run_until_event`](Self::run_until_event), under its panic guard.
    #[inline(never)]
    fn run_events(&mut self, index: u64) -> Progress {
        let horizon = Instant(self.config.limits.horizon.0);
        let max_events = self.config.limits.max_events;
        // The event budget is the loop's bound too, so it costs no test of its own: the run
        // stops after the event that spends it (and after one event on a budget of 0, as when
        // it was checked after each event).
        let until = index.min(max_events.max(1));
        while self.core.event_index < until {
            let Some(next_time) = self.core.queue.peek_time() else {
                return self.finish(None);
            };
            if !self.properties.is_empty()
                && let Some(f) = self.liveness_deadline_passed(next_time.min(horizon))
                && let Some(f) = self.property_failed(f)
            {
                return self.finish(Some(f));
            }
            if next_time > horizon {
                self.core.now = horizon;
                return self.finish(None);
            }
            if self.reads_ahead() {
                if self.read_ahead_left > 0 {
                    self.read_ahead_left -= 1;
                    self.read_ahead_step();
                } else {
                    self.read_ahead();
                }
            }
            let event = self.core.queue.pop_peeked();
            // Taken apart at once: moved whole, the event was copied twice on the stack.
            let Event {
                time,
                target,
                incarnation,
                payload,
                ..
            } = event;
            debug_assert!(time >= self.core.now, "time never goes backwards");
            self.core.now = time;
            self.dispatch(target, incarnation, payload);
            if self.core.stop_requested {
                let refused = self.core.spawn_refused.map(|r| self.spawn_failure(r));
                return self.finish(refused);
            }
            if self.core.queue.len() > self.config.limits.max_queue {
                let f = self.limit_exceeded();
                return self.finish(Some(f));
            }
            if !self.properties.is_empty()
                && let Some(f) = self.check_properties()
                && let Some(f) = self.property_failed(f)
            {
                return self.finish(Some(f));
            }
        }
        if self.core.event_index >= max_events {
            let f = self.limit_exceeded();
            return self.finish(Some(f));
        }
        Progress::Paused
    }

    /// Whether the loop reads ahead: from `read_ahead_from` processes (below, their state is
    /// in the cache anyway).
    #[inline]
    fn reads_ahead(&self) -> bool {
        self.core.procs.len() >= self.read_ahead_from
    }

    /// Lists the targets of the coming events for the next batch's prefetches (see
    /// `read_ahead_step`). The events may lie in the buckets after the current one, so a run
    /// whose buckets hold a few dozen events is read ahead across them.
    #[inline(never)]
    fn read_ahead(&mut self) {
        self.core
            .queue
            .upcoming_targets(3 * READ_AHEAD_BATCH, &mut self.read_ahead_targets);
        self.read_ahead_at = 0;
        let listed = self.read_ahead_targets.len();
        self.read_ahead_left = if listed < READ_AHEAD_MIN {
            // Too few to overlap much.
            READ_AHEAD_MIN - 1
        } else {
            listed.min(READ_AHEAD_BATCH) - 1
        };
        self.read_ahead_step();
    }

    /// Prefetches, before each event, what handling two later events will touch first: for
    /// the event two batches ahead, the lines found from its target alone (its process entry,
    /// the first lines of its state, its random stream's first line); for the event one batch
    /// ahead, whose entry was prefetched a batch ago, the lines found through that entry (its
    /// host's flags and clock, and the line of the stream's next draw when its last handler
    /// drew). At thousands of processes each of those lines is a cache miss; prefetched, the
    /// misses overlap each other and the handlers in between, where loads would each wait.
    /// A dozen prefetches per event rather than ~200 per batch: issued in one burst, most of
    /// a batch's prefetches were lost (at SWIM 10,000 a state read still missed on 5.5% of
    /// samples, and a clock read on 7.6% until the nearer batch went first). Prefetches
    /// change nothing a run can see: it is the same event for event.
    #[inline(always)]
    fn read_ahead_step(&mut self) {
        let at = self.read_ahead_at;
        let targets = &self.read_ahead_targets;
        if at + READ_AHEAD_BATCH >= targets.len() {
            return;
        }
        self.read_ahead_at = at + 1;
        // Faults and the heal are addressed to no process.
        let t = targets[at + READ_AHEAD_BATCH] as usize;
        if let Some(&meta) = self.core.procs.get(t) {
            prefetch(&self.core.status[meta.host.index()]);
            prefetch(&self.core.clocks[meta.host.index()]);
            if meta.drew {
                prefetch(self.rngs[t].next_draw_word());
            }
        }
        if let Some(&t) = targets.get(at + 2 * READ_AHEAD_BATCH) {
            let t = t as usize;
            if let Some(meta) = self.core.procs.get(t) {
                prefetch(meta);
                prefetch_lines(&self.states[t], STATE_LINES);
                prefetch(&self.rngs[t]);
            }
        }
    }

    /// The `LimitExceeded` failure of a refused spawn.
    #[cold]
    fn spawn_failure(&self, refused: SpawnLimitExceeded) -> Failure {
        Failure {
            verdict: Verdict::LimitExceeded,
            property: None,
            message: refused.to_string(),
            time: refused.at,
            host: Some(refused.host),
            process: None,
            event_index: self.core.event_index,
            operation: None,
        }
    }

    /// Ends the run: the last liveness and end-of-run checks, then the report (kept, so asking
    /// again returns the same one).
    /// A property failed: the failure that ends the run, or none when the run goes on to its
    /// horizon (the failure is kept for the report and no property is checked again).
    #[cold]
    fn property_failed(&mut self, f: Failure) -> Option<Failure> {
        if !self.run_to_horizon {
            return Some(f);
        }
        self.first_failure.get_or_insert(f);
        self.properties.clear();
        None
    }

    pub(super) fn finish(&mut self, failure: Option<Failure>) -> Progress {
        // A property failure kept while the run went on came first.
        let failure = self
            .first_failure
            .take()
            .or(failure)
            .or_else(|| self.end_of_run_failure());
        let report = RunReport {
            seed: self.config.seed,
            verdict: failure.as_ref().map_or(Verdict::Held, |f| f.verdict),
            failure,
            events: self.core.event_index,
            deliveries: self.core.deliveries,
            end_time: self.core.now,
            fingerprint: self.core.fingerprint.value(),
            last_events: self.core.recorder.events(),
            metrics: self.core.metrics.clone(),
            processes: self.process_labels(),
            probes: self.core.probes.borrow().reached(),
        };
        self.finished = Some(report.clone());
        Progress::Finished(report)
    }

    /// Every labelled process's label now, from its state (or its boot image while it is
    /// down); processes whose model gives no label are left out.
    pub fn process_labels(&self) -> Vec<ProcessLabel> {
        (0..self.states.len())
            .filter_map(|i| {
                let up = self.states[i].is_some();
                let label = self.states[i].as_ref().or(self.boot_images.get(i))?.label()?;
                Some(ProcessLabel {
                    id: ProcessId(i as u32),
                    host: self.core.procs[i].host,
                    label,
                    up,
                })
            })
            .collect()
    }

    /// A record of the current event for `process` (or none: `NONE`).
    pub(super) fn record(
        &self,
        kind: RecordKind,
        process: u32,
        peer: u32,
        aux: u64,
        digest: u64,
    ) -> EventRecord {
        let host = if process == NONE {
            NONE
        } else {
            self.core.procs[process as usize].host.0
        };
        EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind,
            process,
            host,
            peer,
            aux,
            digest,
        }
    }

    /// Handles one event: applies a fault, or hands a message, timer or start to its process
    /// (deferred if its host is paused, dropped if it is addressed to a dead incarnation).
    pub(super) fn dispatch(&mut self, target: u32, incarnation: u32, payload: Payload<P>) {
        let timer = match &payload {
            Payload::FaultBegin(i) => {
                self.apply_fault(*i as usize, true);
                return;
            }
            Payload::FaultEnd(i) => {
                self.apply_fault(*i as usize, false);
                return;
            }
            Payload::Heal => {
                self.heal();
                return;
            }
            Payload::Timer { id, .. } => Some(id.0),
            Payload::Deliver { .. } | Payload::Start => None,
            Payload::SyncDone { mark, .. } => {
                self.complete_sync(target, incarnation, *mark);
                None
            }
        };
        if let Some(id) = timer
            && !self.core.live_timers.contains(&id)
        {
            return; // cancelled: not an event
        }
        let meta = self.core.procs[target as usize];
        debug_assert!(
            incarnation <= meta.incarnation,
            "an event addressed to an incarnation that does not exist yet"
        );
        let host = self.core.status[meta.host.index()];
        let deliverable = meta.alive && meta.incarnation == incarnation && host.up;
        // The usual event (a live process on a running host with no CPU cost) is told apart
        // with one test; the rest are sorted out below.
        if !(deliverable & !host.paused & !host.costly) {
            if !deliverable {
                if let Some(id) = timer {
                    self.core.live_timers.remove(&id);
                }
                self.drop_event(target, payload);
                return;
            }
            if host.paused {
                self.defer(target, incarnation, payload, meta.host);
                return;
            }
            // A costly host's.
            let hs = &mut self.core.hosts[meta.host.index()];
            let free_at = hs.busy_until;
            if free_at > self.core.now {
                // The host's CPU is busy: the event waits its turn (FIFO: requeued in the
                // order events come up, each with a new sequence number).
                self.core.push(free_at, target, incarnation, payload);
                return;
            }
            if let Some(cost) = hs.handler_cost {
                self.core.spent = cost.sample(&mut hs.cpu_rng);
            }
        }
        if let Some(id) = timer {
            self.core.live_timers.remove(&id);
        }
        self.handle(target, payload, meta.host, meta.incarnation);
        if self.core.spent != Duration::ZERO {
            self.end_busy(meta.host);
        }
        self.apply_spawns_and_stops();
    }

    /// An asynchronous sync's disk work is done: its writes are durable now, even if the
    /// process hears of it later (its host paused or busy). One for a dead incarnation or a
    /// crashed host never completes: the crash already resolved its writes.
    #[cold]
    fn complete_sync(&mut self, target: u32, incarnation: u32, mark: u64) {
        let meta = self.core.procs[target as usize];
        if meta.alive && meta.incarnation == incarnation && self.core.status[meta.host.index()].up {
            self.core.hosts[meta.host.index()].disk.sync_through(target, mark);
        }
    }

    /// The handler spent time: its host is busy until that time has elapsed.
    #[cold]
    fn end_busy(&mut self, host: HostId) {
        let spent = std::mem::take(&mut self.core.spent);
        self.core.hosts[host.index()].busy_until = self.core.now.saturating_add(spent);
        self.core.status[host.index()].costly = true;
    }

    /// Keeps an event for a paused host until it resumes.
    #[cold]
    #[inline(never)]
    fn defer(&mut self, target: u32, incarnation: u32, payload: Payload<P>, host: HostId) {
        let r = self.record(RecordKind::Deferred, target, NONE, 0, 0);
        self.core.emit(r, || EventDetail::None);
        self.core.event_index += 1;
        self.core.hosts[host.index()].deferred.push(DeferredEvent {
            target,
            incarnation,
            payload,
        });
    }

    /// Records an event whose process (incarnation) or host is gone, and forgets it.
    #[cold]
    #[inline(never)]
    fn drop_event(&mut self, target: u32, payload: Payload<P>) {
        let (peer, digest) = match &payload {
            Payload::Deliver { from, message, .. } => (from.0, digest(message)),
            Payload::Timer { timer, .. } | Payload::SyncDone { timer, .. } => (NONE, digest(timer)),
            _ => (NONE, 0),
        };
        let r = self.record(RecordKind::Dropped, target, peer, 0, digest);
        self.core.emit(r, || EventDetail::None);
        self.core.event_index += 1;
    }

    /// Records a deliverable event and runs its handler. A panic unwinds to the guard in
    /// `run_until_event`, which makes it the run's failure (`after_panic`).
    #[inline]
    fn handle(&mut self, target: u32, payload: Payload<P>, host: HostId, incarnation: u32) {
        let state = self.states[target as usize]
            .as_mut()
            .expect("live process has a state");
        let core = &mut self.core;
        let rng = &mut self.rngs[target as usize];
        // The context is made in each arm: made once before them, it was written to the stack
        // for every event, as the arms whose handler is not inlined take its address.
        let context = |core, rng| Context {
            core,
            me: ProcessId(target),
            host,
            rng,
        };
        // Each record is built field by field where it is emitted: building one and copying it
        // with changes cost measurably more per event.
        let (index, now) = (core.event_index, core.now);
        // Marks the handler running, for the run's panic guard: from here a panic is the
        // model's (the payload's digest runs its `Hash`).
        core.running = target;
        match payload {
            Payload::Deliver {
                from,
                sent_at,
                message,
            } => {
                let record = EventRecord {
                    index,
                    time: now,
                    kind: RecordKind::Deliver,
                    process: target,
                    host: host.0,
                    peer: from.0,
                    aux: sent_at.0,
                    digest: digest(&message),
                };
                core.emit(record, || EventDetail::Message(&message));
                core.deliveries += 1;
                state.on_message(&mut context(core, rng), from, message);
            }
            Payload::Timer { id, timer } => {
                fire(&mut context(core, rng), state, RecordKind::Timer, id.0, timer)
            }
            Payload::SyncDone { issued_at, timer, .. } => fire(
                &mut context(core, rng),
                state,
                RecordKind::SyncDone,
                issued_at.0,
                timer,
            ),
            Payload::Start => {
                let record = EventRecord {
                    index,
                    time: now,
                    kind: RecordKind::Start,
                    process: target,
                    host: host.0,
                    peer: NONE,
                    aux: u64::from(incarnation),
                    digest: 0,
                };
                core.emit(record, || EventDetail::None);
                state.on_start(&mut context(core, rng));
            }
            Payload::FaultBegin(_) | Payload::FaultEnd(_) | Payload::Heal => {
                unreachable!("not addressed to a process")
            }
        }
        self.core.running = NONE;
        self.core.event_index += 1;
        // Only the read-ahead asks whether a handler drew.
        if self.reads_ahead() {
            self.core.procs[target as usize].drew = std::mem::take(&mut self.core.drew);
        }
    }

    /// Installs the processes a handler spawned and ends those it stopped.
    #[inline]
    fn apply_spawns_and_stops(&mut self) {
        if !self.core.spawned.is_empty() {
            self.install_spawned();
        }
        if !self.core.stopped.is_empty() {
            self.end_stopped();
        }
    }

    // Out of the loop's way: most events spawn and stop nothing, and the loop's code is
    // smaller for it.
    #[cold]
    #[inline(never)]
    fn install_spawned(&mut self) {
        for (id, p) in std::mem::take(&mut self.core.spawned) {
            self.install(id, p);
        }
    }

    #[cold]
    #[inline(never)]
    fn end_stopped(&mut self) {
        for id in std::mem::take(&mut self.core.stopped) {
            self.kill(id, Lifecycle::Stopped);
            // A stop is final: a kill fault holding it down must not restart it at its end.
            self.core.procs[id.index()].killed = false;
        }
    }
}

/// Hands a timer (or a completed sync, which comes back as the timer it named) to its process,
/// recorded as `kind` with `aux` (the timer's id or the sync's issue time). Always inlined, so
/// the record is still built in place (see `handle`).
#[inline(always)]
fn fire<P: Process>(ctx: &mut Context<'_, P>, state: &mut P, kind: RecordKind, aux: u64, timer: P::Timer) {
    let record = EventRecord {
        index: ctx.core.event_index,
        time: ctx.core.now,
        kind,
        process: ctx.me.0,
        host: ctx.host.0,
        peer: NONE,
        aux,
        digest: digest(&timer),
    };
    ctx.core.emit(record, || EventDetail::Timer(&timer));
    state.on_timer(ctx, timer);
}
