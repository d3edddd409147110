//! Where a run first differs from a recording of the same run.
//!
//! Replaying a trace and checking determinism are one operation: record a run, run it again,
//! and compare the second run's events with the recording as they happen. A trace file is a
//! recording on disk ([`crate::trace::Replay`]); [`crate::check_determinism`] keeps the first
//! run's records in memory. Both report the same [`Divergence`].

use crate::record::EventRecord;
use std::collections::VecDeque;
use std::fmt;

/// The first event where a re-execution differs from its recording.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// Position of the first differing record (0-based).
    pub position: u64,
    /// What the recording has there (`None`: the recording ended earlier).
    pub recorded: Option<EventRecord>,
    /// What the re-execution did there (`None`: the re-execution ended earlier).
    pub replayed: Option<EventRecord>,
    /// Records both agreed on just before (oldest first).
    pub before: Vec<EventRecord>,
    /// What differs, and what usually causes it.
    pub reason: String,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the re-execution diverges at record #{}: {}",
            self.position, self.reason
        )?;
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

/// Compares a re-execution's records, one at a time, with the recorded ones; keeps the first
/// difference and the `context` agreeing records before it.
#[derive(Clone, Debug)]
pub(crate) struct Comparison {
    context: usize,
    recent: VecDeque<EventRecord>,
    /// Records that agreed so far.
    pub(crate) position: u64,
    pub(crate) divergence: Option<Divergence>,
    /// Appended to the list of differing fields: what usually causes a difference here.
    hint: &'static str,
}

impl Comparison {
    /// A comparison showing `context` agreeing records before a difference, explaining a
    /// difference with `hint`.
    pub(crate) fn new(context: usize, hint: &'static str) -> Comparison {
        Comparison {
            context,
            recent: VecDeque::with_capacity(context.min(1024)),
            position: 0,
            divergence: None,
            hint,
        }
    }

    /// Compares the re-execution's next record with the recording's (`None`: it has ended).
    pub(crate) fn next(&mut self, recorded: Option<EventRecord>, replayed: &EventRecord) {
        if self.divergence.is_some() {
            return;
        }
        if recorded.as_ref() == Some(replayed) {
            if self.context > 0 {
                if self.recent.len() == self.context {
                    self.recent.pop_front();
                }
                self.recent.push_back(*replayed);
            }
            self.position += 1;
            return;
        }
        let reason = match &recorded {
            None => "the re-execution goes on after the recording ended".to_string(),
            Some(r) => format!("{} differ ({})", differing_fields(r, replayed), self.hint),
        };
        self.diverge(recorded, Some(*replayed), reason);
    }

    /// Records a difference found when the re-execution ended (`replayed` is `None`).
    pub(crate) fn ended(&mut self, recorded: Option<EventRecord>, reason: String) {
        if self.divergence.is_none() {
            self.diverge(recorded, None, reason);
        }
    }

    fn diverge(&mut self, recorded: Option<EventRecord>, replayed: Option<EventRecord>, reason: String) {
        self.divergence = Some(Divergence {
            position: self.position,
            recorded,
            replayed,
            before: self.recent.iter().copied().collect(),
            reason,
        });
    }
}

/// The fields in which two records differ, as a list for messages.
fn differing_fields(a: &EventRecord, b: &EventRecord) -> String {
    let fields = [
        (a.index != b.index, "index"),
        (a.time != b.time, "time"),
        (a.kind != b.kind, "kind"),
        (a.process != b.process, "process"),
        (a.host != b.host, "host"),
        (a.peer != b.peer, "peer"),
        (a.aux != b.aux, "aux"),
        (a.digest != b.digest, "payload digest"),
    ];
    let names: Vec<&str> = fields.iter().filter(|(d, _)| *d).map(|(_, n)| *n).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{NONE, RecordKind};
    use crate::time::Instant;

    fn rec(i: u64, digest: u64) -> EventRecord {
        EventRecord {
            index: i,
            time: Instant(i * 10),
            kind: RecordKind::Deliver,
            process: 1,
            host: 1,
            peer: NONE,
            aux: 0,
            digest,
        }
    }

    #[test]
    fn the_first_difference_is_kept_with_the_agreeing_records_before_it() {
        let mut c = Comparison::new(2, "hint");
        for i in 0..4 {
            c.next(Some(rec(i, 7)), &rec(i, 7));
        }
        c.next(Some(rec(4, 7)), &rec(4, 8));
        c.next(Some(rec(5, 7)), &rec(5, 9));
        let d = c.divergence.expect("a difference");
        assert_eq!(d.position, 4);
        assert_eq!(d.before, vec![rec(2, 7), rec(3, 7)]);
        assert_eq!(d.replayed, Some(rec(4, 8)));
        assert_eq!(d.reason, "payload digest differ (hint)");
        assert!(d.to_string().contains("diverges at record #4"), "{d}");
    }

    #[test]
    fn a_re_execution_that_goes_on_or_stops_early_diverges() {
        let mut c = Comparison::new(0, "hint");
        c.next(None, &rec(0, 1));
        assert!(c.divergence.unwrap().reason.contains("after the recording ended"));
        let mut c = Comparison::new(0, "hint");
        c.ended(Some(rec(0, 1)), "stopped early".into());
        let d = c.divergence.unwrap();
        assert_eq!(
            (d.position, d.replayed, d.reason.as_str()),
            (0, None, "stopped early")
        );
    }
}
