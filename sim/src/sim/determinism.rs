//! Running a seed twice: record the first run, then replay the second against it, the way a
//! trace replays (see [`crate::divergence`]).

use super::RunReport;
use crate::divergence::{Comparison, Divergence};
use crate::model::Simulation;
use crate::record::{EventDetail, EventRecord, Observer};
use std::cell::RefCell;
use std::rc::Rc;

/// Agreeing records shown before a difference.
const CONTEXT: usize = 5;

/// Builds and runs the same simulation twice, comparing every event of the second run with the
/// first as it happens. Returns the report of the first run, or where the second first
/// differs (a determinism bug in the engine or the model). `build` may return a `Sim<P>` or a
/// `Box<dyn Simulation>`.
pub fn check_determinism<S: Simulation>(build: impl Fn() -> S) -> Result<RunReport, Box<Divergence>> {
    let recording = Rc::new(RefCell::new(Recording::default()));
    let mut first = build();
    first.set_observer(Box::new(Shared(recording.clone())));
    let report = first.run();
    drop(first);
    let recorded = std::mem::take(&mut recording.borrow_mut().records);

    let replay = Rc::new(RefCell::new(Against {
        recorded: recorded.into_iter(),
        comparison: Comparison::new(
            CONTEXT,
            "two runs of one seed differ: something outside the seed steers the run, such as a hash map's order, the wall clock or a global",
        ),
    }));
    let mut second = build();
    second.set_observer(Box::new(Shared(replay.clone())));
    let report_again = second.run();
    drop(second);
    let mut replay = replay.borrow_mut();
    if let Some(rest) = replay.recorded.next() {
        replay
            .comparison
            .ended(Some(rest), "the second run ended earlier than the first".into());
    }
    if report_again.fingerprint != report.fingerprint || report_again.verdict != report.verdict {
        replay.comparison.ended(
            None,
            format!(
                "every event matched but the runs ended differently: fingerprints {:016x} and {:016x}, verdicts {} and {}",
                report.fingerprint,
                report_again.fingerprint,
                report.verdict.name(),
                report_again.verdict.name()
            ),
        );
    }
    match replay.comparison.divergence.take() {
        None => Ok(report),
        Some(d) => Err(Box::new(d)),
    }
}

/// The first run's records.
#[derive(Default)]
struct Recording {
    records: Vec<EventRecord>,
}

impl Observer for Recording {
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        self.records.push(*record);
    }
}

/// The second run, compared with the first's records as it goes.
struct Against {
    recorded: std::vec::IntoIter<EventRecord>,
    comparison: Comparison,
}

impl Observer for Against {
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        let recorded = self.recorded.next();
        self.comparison.next(recorded, record);
    }
}

/// An observer shared with the code that reads it after the run.
struct Shared<O>(Rc<RefCell<O>>);

impl<O: Observer> Observer for Shared<O> {
    fn on_event(&mut self, record: &EventRecord, detail: EventDetail<'_>) {
        self.0.borrow_mut().on_event(record, detail);
    }
}
