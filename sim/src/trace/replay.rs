//! Replay verification: re-run the recorded seed and check every event against the file.

use super::*;

/// Where a re-execution first differs from its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplayDivergence {
    /// Position of the first differing record in the file (0-based).
    pub position: u64,
    /// What the recording has there (`None`: the recording ended earlier).
    pub recorded: Option<EventRecord>,
    /// What the re-execution did there (`None`: the re-execution ended earlier).
    pub replayed: Option<EventRecord>,
    /// Up to `context` records both agreed on just before.
    pub before: Vec<EventRecord>,
    /// A short explanation.
    pub reason: String,
}

impl fmt::Display for ReplayDivergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "replay diverges at record #{}: {}", self.position, self.reason)?;
        for r in &self.before {
            writeln!(f, "    both:     {r:?}")?;
        }
        match &self.recorded {
            Some(r) => writeln!(f, "    recorded: {r:?}")?,
            None => writeln!(f, "    recorded: (the recording ends here)")?,
        }
        match &self.replayed {
            Some(r) => write!(f, "    replayed: {r:?}"),
            None => write!(f, "    replayed: (the re-execution ends here)"),
        }
    }
}

/// The observer behind [`Replay`]: compares each event with the next recorded one.
struct ReplayChecker {
    reader: TraceReader,
    context: usize,
    recent: std::collections::VecDeque<EventRecord>,
    position: u64,
    divergence: Option<ReplayDivergence>,
    error: Option<TraceError>,
}

impl ReplayChecker {
    fn check(&mut self, replayed: &EventRecord) {
        if self.divergence.is_some() || self.error.is_some() {
            return;
        }
        match self.reader.next_event() {
            Err(e) => self.error = Some(e),
            Ok(recorded) => {
                let recorded = recorded.map(|e| e.record);
                if recorded.as_ref() == Some(replayed) {
                    if self.recent.len() == self.context {
                        self.recent.pop_front();
                    }
                    if self.context > 0 {
                        self.recent.push_back(*replayed);
                    }
                    self.position += 1;
                } else {
                    let reason = match &recorded {
                        None => "the re-execution goes on after the recording ended".to_string(),
                        Some(r) => describe_difference(r, replayed),
                    };
                    self.divergence = Some(ReplayDivergence {
                        position: self.position,
                        recorded,
                        replayed: Some(*replayed),
                        before: self.recent.iter().copied().collect(),
                        reason,
                    });
                }
            }
        }
    }
}

fn describe_difference(a: &EventRecord, b: &EventRecord) -> String {
    let mut fields = Vec::new();
    if a.index != b.index {
        fields.push("index");
    }
    if a.time != b.time {
        fields.push("time");
    }
    if a.kind != b.kind {
        fields.push("kind");
    }
    if a.process != b.process {
        fields.push("process");
    }
    if a.host != b.host {
        fields.push("host");
    }
    if a.peer != b.peer {
        fields.push("peer");
    }
    if a.aux != b.aux {
        fields.push("aux");
    }
    if a.digest != b.digest {
        fields.push("payload digest");
    }
    format!(
        "{} differ (has the model or the engine changed since the recording?)",
        fields.join(", ")
    )
}

impl Observer for ReplayChecker {
    #[inline]
    fn on_event(&mut self, record: &EventRecord, _detail: EventDetail<'_>) {
        self.check(record);
    }
}

/// How a verified replay ended.
// Made once per replay or step, never per event; the report in it is large (metrics).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayOutcome {
    /// Every event matched the recording, and the fingerprint and verdict agree.
    Matches {
        /// Events the run processed.
        events: u64,
        /// Records compared.
        records: u64,
        /// The common fingerprint.
        fingerprint: u64,
        /// The re-execution's report.
        report: RunReport,
    },
    /// The re-execution differs; it was stopped at the first difference.
    Diverged(Box<ReplayDivergence>),
}

impl fmt::Display for ReplayOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayOutcome::Matches {
                events, fingerprint, ..
            } => write!(f, "matches, {events} events (fingerprint {fingerprint:016x})"),
            ReplayOutcome::Diverged(d) => write!(f, "{d}"),
        }
    }
}

/// Where a stepped replay stands.
// Made once per replay or step, never per event; the report in it is large (metrics).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum ReplayStatus {
    /// Paused after `events` events, all matching so far; inspect the `Sim`, then continue.
    Paused {
        /// Events processed.
        events: u64,
    },
    /// The replay is over.
    Done(ReplayOutcome),
}

/// Re-executes a recorded run and checks every event against the recording.
///
/// Build the `Sim` from the header (same scenario, seed and plan), attach, then run to the end
/// or step with [`run_until`](Replay::run_until) to inspect process state at an event.
pub struct Replay {
    checker: Rc<RefCell<ReplayChecker>>,
    footer: TraceFooter,
}

impl fmt::Debug for Replay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Replay").field("footer", &self.footer).finish()
    }
}

/// Events run between divergence checks; a divergence stops the run within this many events.
const REPLAY_STEP: u64 = 4096;

impl Replay {
    /// Attaches the checker (and `also`, e.g. a [`DetailText`], if given) as the sim's observer.
    /// `context` is how many agreeing records to show before a divergence.
    pub fn attach(
        sim: &mut dyn Simulation,
        reader: TraceReader,
        context: usize,
        also: Option<Box<dyn Observer>>,
    ) -> Replay {
        let footer = reader.footer().clone();
        let (observer, checker) = shared(ReplayChecker {
            reader,
            context,
            recent: std::collections::VecDeque::with_capacity(context),
            position: 0,
            divergence: None,
            error: None,
        });
        match also {
            None => sim.set_observer(Box::new(observer)),
            Some(extra) => sim.set_observer(Box::new(Observers(vec![Box::new(observer), extra]))),
        }
        Replay { checker, footer }
    }

    /// Runs until `events` events have been processed (then pauses), a divergence, or the end.
    pub fn run_until(&self, sim: &mut dyn Simulation, events: u64) -> Result<ReplayStatus, TraceError> {
        loop {
            let target = events.min(sim.events().saturating_add(REPLAY_STEP));
            let progress = sim.run_until_event(target);
            let mut checker = self.checker.borrow_mut();
            if let Some(e) = checker.error.take() {
                return Err(e);
            }
            if let Some(d) = checker.divergence.take() {
                return Ok(ReplayStatus::Done(ReplayOutcome::Diverged(Box::new(d))));
            }
            match progress {
                Progress::Paused if target >= events => {
                    return Ok(ReplayStatus::Paused { events: sim.events() });
                }
                Progress::Paused => {}
                Progress::Finished(report) => {
                    return self.finish(&mut checker, report).map(ReplayStatus::Done);
                }
            }
        }
    }

    /// Runs to the end and reports "matches" or the first divergence.
    pub fn run_to_end(&self, sim: &mut dyn Simulation) -> Result<ReplayOutcome, TraceError> {
        match self.run_until(sim, u64::MAX)? {
            ReplayStatus::Done(outcome) => Ok(outcome),
            ReplayStatus::Paused { .. } => unreachable!("run_until(MAX) only pauses at the end"),
        }
    }

    fn finish(&self, checker: &mut ReplayChecker, report: RunReport) -> Result<ReplayOutcome, TraceError> {
        let diverged = |checker: &mut ReplayChecker, recorded: Option<EventRecord>, reason: String| {
            ReplayOutcome::Diverged(Box::new(ReplayDivergence {
                position: checker.position,
                recorded,
                replayed: None,
                before: checker.recent.iter().copied().collect(),
                reason,
            }))
        };
        // The re-execution is over: the recording must be too.
        if let Some(rest) = checker.reader.next_event()? {
            return Ok(diverged(
                checker,
                Some(rest.record),
                "the re-execution ended but the recording goes on".into(),
            ));
        }
        if report.fingerprint != self.footer.fingerprint || report.events != self.footer.events {
            return Ok(diverged(
                checker,
                None,
                format!(
                    "every record matched but the run ended differently ({} events, fingerprint {:016x}; recorded {} events, {:016x})",
                    report.events, report.fingerprint, self.footer.events, self.footer.fingerprint
                ),
            ));
        }
        if report.verdict != self.footer.verdict || report.failure != self.footer.failure {
            return Ok(diverged(
                checker,
                None,
                format!(
                    "every event matched but the verdict differs: now {}, recorded {} (have the properties changed?)",
                    report.verdict.name(),
                    self.footer.verdict.name()
                ),
            ));
        }
        Ok(ReplayOutcome::Matches {
            events: report.events,
            records: checker.position,
            fingerprint: report.fingerprint,
            report,
        })
    }
}
