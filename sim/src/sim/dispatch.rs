//! The event loop: pop the earliest event, hand it to its process (or apply the fault), check
//! properties and limits, and finish with a report.

use super::core::{Event, Payload};
use super::{Failure, Progress, RunReport, Sim, Verdict, panic_message};
use crate::process::{Context, Process, ProcessId};
use crate::property::Lifecycle;
use crate::record::{EventDetail, EventRecord, NONE, RecordKind, digest};
use crate::time::Instant;
use std::panic::{AssertUnwindSafe, catch_unwind};

impl<P: Process> Sim<P> {
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
        if !self.started {
            self.start();
        }
        let horizon = Instant(self.config.limits.horizon.0);
        while self.core.event_index < index {
            let Some(next_time) = self.core.queue.peek().map(|e| e.time) else {
                return self.finish(None);
            };
            if !self.properties.is_empty()
                && let Some(f) = self.liveness_deadline_passed(next_time.min(horizon))
            {
                return self.finish(Some(f));
            }
            if next_time > horizon {
                self.core.now = horizon;
                return self.finish(None);
            }
            let event = self.core.take_top().expect("peeked");
            self.core.now = event.time;
            let dispatched = self.dispatch(event);
            self.core.drop_husk();
            if let Err(f) = dispatched {
                return self.finish(Some(f));
            }
            if self.core.stop_requested {
                return self.finish(None);
            }
            if self.core.event_index >= self.config.limits.max_events {
                let f = self.limit_failure(format!(
                    "event budget of {} exhausted at {} (the run is not converging or the budget is too small)",
                    self.config.limits.max_events, self.core.now
                ));
                return self.finish(Some(f));
            }
            if self.core.queue.len() > self.config.limits.max_queue {
                let f = self.limit_failure(format!(
                    "event queue grew past its bound of {} (runaway message or timer creation?)",
                    self.config.limits.max_queue
                ));
                return self.finish(Some(f));
            }
            if !self.properties.is_empty()
                && let Some(f) = self.check_properties()
            {
                return self.finish(Some(f));
            }
        }
        Progress::Paused
    }

    pub(super) fn finish(&mut self, failure: Option<Failure>) -> Progress {
        let failure = failure
            .or_else(|| self.liveness_deadline_passed(Instant::MAX))
            .or_else(|| self.check_at_end());
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
        };
        self.finished = Some(report.clone());
        Progress::Finished(report)
    }

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

    /// Handles one event; a model panic becomes a failure.
    pub(super) fn dispatch(&mut self, event: Event<P>) -> Result<(), Failure> {
        let target = event.target;
        match event.payload {
            Payload::FaultBegin(i) => {
                self.apply_fault(i as usize, true);
                return Ok(());
            }
            Payload::FaultEnd(i) => {
                self.apply_fault(i as usize, false);
                return Ok(());
            }
            Payload::Heal => {
                self.heal();
                return Ok(());
            }
            _ => {}
        }
        if let Payload::Timer { id, .. } = &event.payload
            && !self.core.live_timers.contains(&id.0)
        {
            return Ok(()); // cancelled: not an event
        }
        let meta = self.core.procs[target as usize];
        let host = &self.core.hosts[meta.host.index()];
        let deliverable = meta.alive && meta.incarnation == event.incarnation && host.up;
        if host.paused && deliverable {
            let r = self.record(RecordKind::Deferred, target, NONE, 0, 0);
            self.core.emit(r, EventDetail::None);
            self.core.event_index += 1;
            self.core.hosts[meta.host.index()].deferred.push(event);
            return Ok(());
        }
        if let Payload::Timer { id, .. } = &event.payload {
            self.core.live_timers.remove(&id.0);
        }
        if !deliverable {
            let (peer, digest) = match &event.payload {
                Payload::Deliver { from, message, .. } => (from.0, digest(message)),
                Payload::Timer { timer, .. } => (NONE, digest(timer)),
                _ => (NONE, 0),
            };
            let r = self.record(RecordKind::Dropped, target, peer, 0, digest);
            self.core.emit(r, EventDetail::None);
            self.core.event_index += 1;
            return Ok(());
        }
        let state = self.states[target as usize]
            .as_mut()
            .expect("live process has a state");
        let mut ctx = Context {
            core: &mut self.core,
            me: ProcessId(target),
            host: meta.host,
            rng: &mut self.rngs[target as usize],
        };
        let outcome = match event.payload {
            Payload::Deliver {
                from,
                sent_at,
                message,
            } => {
                let record = EventRecord {
                    index: ctx.core.event_index,
                    time: ctx.core.now,
                    kind: RecordKind::Deliver,
                    process: target,
                    host: meta.host.0,
                    peer: from.0,
                    aux: sent_at.0,
                    digest: digest(&message),
                };
                ctx.core.emit(record, EventDetail::Message(&message));
                ctx.core.deliveries += 1;
                catch_unwind(AssertUnwindSafe(|| state.on_message(&mut ctx, from, message)))
            }
            Payload::Timer { id, timer } => {
                let record = EventRecord {
                    index: ctx.core.event_index,
                    time: ctx.core.now,
                    kind: RecordKind::Timer,
                    process: target,
                    host: meta.host.0,
                    peer: NONE,
                    aux: id.0,
                    digest: digest(&timer),
                };
                ctx.core.emit(record, EventDetail::Timer(&timer));
                catch_unwind(AssertUnwindSafe(|| state.on_timer(&mut ctx, timer)))
            }
            Payload::Start => {
                let record = EventRecord {
                    index: ctx.core.event_index,
                    time: ctx.core.now,
                    kind: RecordKind::Start,
                    process: target,
                    host: meta.host.0,
                    peer: NONE,
                    aux: u64::from(meta.incarnation),
                    digest: 0,
                };
                ctx.core.emit(record, EventDetail::None);
                catch_unwind(AssertUnwindSafe(|| state.on_start(&mut ctx)))
            }
            Payload::FaultBegin(_) | Payload::FaultEnd(_) | Payload::Heal | Payload::Consumed => {
                unreachable!("handled above")
            }
        };
        self.core.event_index += 1;
        if let Err(panic) = outcome {
            return Err(Failure {
                verdict: Verdict::ModelPanic,
                property: None,
                message: format!("handler panicked: {}", panic_message(&*panic)),
                time: self.core.now,
                host: Some(meta.host),
                process: Some(ProcessId(target)),
                event_index: self.core.event_index - 1,
            });
        }
        if !self.core.spawned.is_empty() {
            for (id, p) in std::mem::take(&mut self.core.spawned) {
                self.install(id, p);
            }
        }
        if !self.core.stopped.is_empty() {
            for id in std::mem::take(&mut self.core.stopped) {
                self.kill(id, Lifecycle::Stopped);
            }
        }
        Ok(())
    }
}
