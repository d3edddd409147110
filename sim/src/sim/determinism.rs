//! Running a seed twice and naming the first event where the runs differ.

use super::RunReport;
use crate::model::Simulation;
use crate::record::{EventDetail, EventRecord, Observer};
use std::fmt;

/// Where two runs of the same seed first differ.
#[derive(Clone, Debug, PartialEq)]
pub struct Divergence {
    /// Position of the first differing event.
    pub index: usize,
    /// That event in the first run (`None` if the first run ended earlier).
    pub first: Option<EventRecord>,
    /// That event in the second run (`None` if the second run ended earlier).
    pub second: Option<EventRecord>,
    /// Up to five events both runs agreed on just before.
    pub before: Vec<EventRecord>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "runs diverge at event #{}:", self.index)?;
        for r in &self.before {
            writeln!(f, "    both:   {r:?}")?;
        }
        writeln!(f, "    first:  {:?}", self.first)?;
        write!(f, "    second: {:?}", self.second)
    }
}

/// Builds and runs the same simulation twice, comparing every event. Returns the report of the
/// first run, or where the two first differ (a determinism bug in the engine or the model).
/// `build` may return a `Sim<P>` or a `Box<dyn Simulation>`.
pub fn check_determinism<S: Simulation>(build: impl Fn() -> S) -> Result<RunReport, Box<Divergence>> {
    let run = || {
        let mut sim = build();
        let (tx, records) = shared_recording();
        sim.set_observer(Box::new(tx));
        let report = sim.run();
        drop(sim);
        (report, records.take())
    };
    let (report, a) = run();
    let (report_b, b) = run();
    let first_diff = a
        .iter()
        .zip(&b)
        .position(|(x, y)| x != y)
        .or_else(|| (a.len() != b.len()).then_some(a.len().min(b.len())));
    match first_diff {
        None if report.fingerprint == report_b.fingerprint => Ok(report),
        None => Err(Box::new(Divergence {
            index: a.len(),
            first: None,
            second: None,
            before: Vec::new(),
        })),
        Some(index) => Err(Box::new(Divergence {
            index,
            first: a.get(index).copied(),
            second: b.get(index).copied(),
            before: a[index.saturating_sub(5)..index].to_vec(),
        })),
    }
}

/// An observer that appends into a vector shared with its creator (single-threaded).
fn shared_recording() -> (SharedRecorder, std::rc::Rc<std::cell::RefCell<Vec<EventRecord>>>) {
    let cell = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    (SharedRecorder(cell.clone()), cell)
}

struct SharedRecorder(std::rc::Rc<std::cell::RefCell<Vec<EventRecord>>>);

impl Observer for SharedRecorder {
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        self.0.borrow_mut().push(*record);
    }
}
