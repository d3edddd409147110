//! Metrics a model records during a run: counters, distributions of samples, samples stamped
//! with the time they were taken (for charts over time), and marked moments. The engine adds
//! the fault windows: when each fault of the plan really began and ended, and what it hit.

use crate::fault::FaultKind;
use crate::network::HostId;
use crate::process::ProcessId;
use crate::time::{Duration, Instant};
use std::collections::BTreeMap;

/// One fault of the plan as it happened: when it began and ended, and what it hit.
///
/// The engine records one per fault begun (role faults with the processes they resolved to),
/// so summaries and checkers can relate what the system did to the faults it met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultWindow {
    /// The fault's index in the (sorted) plan.
    pub index: usize,
    /// Its kind (a role fault has the kind of its host counterpart: `KillRole` is
    /// `KillProcess`, `CrashRole` is `Crash`...).
    pub kind: FaultKind,
    /// What it was, for a reader (the fault's description, e.g. `"kill a random api for 10s"`).
    pub label: String,
    /// When it began.
    pub begin: Instant,
    /// When it ended: its own end or the heal, whichever came first (equal to `begin` for an
    /// instantaneous fault). `None` while it lasts, or if nothing undid it before the run ended.
    pub end: Option<Instant>,
    /// The hosts it acted on: the host it names, both ends of a link fault, the hosts of a
    /// partition's named side (of a cut zone), the hosts of a role fault's processes. Empty
    /// for faults on the whole network (network chaos).
    pub hosts: Vec<HostId>,
    /// The processes it acted on: for a crash, every process that died with the hosts; for a
    /// kill, the process killed; for a pause, those on the paused hosts; for any other role
    /// fault, the processes it resolved to. Empty otherwise, and when it hit nobody.
    pub processes: Vec<ProcessId>,
}

impl FaultWindow {
    /// Its end, or `end_of_run` if it had none.
    pub fn end_or(&self, end_of_run: Instant) -> Instant {
        self.end.unwrap_or(end_of_run)
    }

    /// Whether `[begin, end + grace)` (open-ended while it lasts) overlaps `[from, to)`: a
    /// fault's blast window, for checks that excuse what happens during and shortly after it.
    pub fn blast_overlaps(&self, grace: Duration, from: Instant, to: Instant) -> bool {
        let blast_end = self.end.map_or(Instant::MAX, |e| e.saturating_add(grace));
        self.begin < to && blast_end > from && from < to
    }
}

/// Counters and sample sets, keyed by name and kept in sorted order for stable reports.
///
/// Metrics are outside the fingerprint: recording more of them never changes a run.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    /// Counter name to its slot in `values` (sorted, for reports).
    counter_slots: BTreeMap<String, u32>,
    /// Counter values by slot, and each slot's name (to confirm a cache hit).
    values: Vec<u64>,
    slot_names: Vec<String>,
    /// Recently counted names by address: most counts name a string literal, so the same
    /// address finds the slot without a search of the names.
    recent: RecentNames,
    samples: BTreeMap<String, Vec<u64>>,
    timed: BTreeMap<String, Vec<(Instant, u64)>>,
    marks: Vec<(Instant, String)>,
    faults: Vec<FaultWindow>,
}

/// Two metrics are equal when they hold the same figures, whatever order counters were
/// first counted in.
impl PartialEq for Metrics {
    fn eq(&self, other: &Self) -> bool {
        self.counters().iter().eq(other.counters().iter())
            && self.samples == other.samples
            && self.timed == other.timed
            && self.marks == other.marks
            && self.faults == other.faults
    }
}

const RECENT: usize = 64;

/// A direct-mapped cache from a name's address and length to its counter slot. A hit is
/// confirmed by comparing the name, so a string freed and another allocated at the same
/// address cannot count into the wrong counter; it only changes speed, never a figure.
#[derive(Clone)]
struct RecentNames([(usize, usize, u32); RECENT]);

impl Default for RecentNames {
    fn default() -> Self {
        RecentNames([(0, 0, 0); RECENT])
    }
}

impl std::fmt::Debug for RecentNames {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RecentNames")
    }
}

impl RecentNames {
    fn key(name: &str) -> (usize, usize, usize) {
        let address = name.as_ptr() as usize;
        let slot = ((address >> 3) ^ (address >> 9) ^ name.len()) % RECENT;
        (address, name.len(), slot)
    }
}

/// A counter registered once ([`Metrics::counter_id`]) and counted by index
/// ([`Metrics::count_id`]), for hot paths that would rather not look a name up each time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CounterId(u32);

/// The counters of a [`Metrics`], sorted by name.
#[derive(Clone, Copy)]
pub struct Counters<'a> {
    slots: &'a BTreeMap<String, u32>,
    values: &'a [u64],
}

impl<'a> Counters<'a> {
    /// Each counter's name and value, sorted by name.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&'a String, &'a u64)> + 'a {
        let values = self.values;
        self.slots
            .iter()
            .map(move |(name, &slot)| (name, &values[slot as usize]))
    }
    /// A counter's value, if it was ever counted.
    pub fn get(&self, name: &str) -> Option<u64> {
        self.slots.get(name).map(|&slot| self.values[slot as usize])
    }
    /// Whether counter `name` was ever counted (even by zero).
    pub fn contains_key(&self, name: &str) -> bool {
        self.slots.contains_key(name)
    }
    /// How many counters there are.
    pub fn len(&self) -> usize {
        self.slots.len()
    }
    /// Whether no counter was ever counted.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }
}

impl<'a> IntoIterator for Counters<'a> {
    type Item = (&'a String, &'a u64);
    type IntoIter = Box<dyn Iterator<Item = (&'a String, &'a u64)> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

impl std::fmt::Debug for Counters<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Metrics {
    /// Adds `delta` to counter `name`.
    pub fn count(&mut self, name: &str, delta: u64) {
        let (address, len, slot) = RecentNames::key(name);
        let (a, l, i) = self.recent.0[slot];
        if a == address && l == len && self.slot_names[i as usize] == name {
            self.values[i as usize] += delta;
            return;
        }
        let i = self.counter_id(name).0;
        self.recent.0[slot] = (address, len, i);
        self.values[i as usize] += delta;
    }

    /// Registers counter `name` (at zero, so it is reported even if never counted again) and
    /// returns its handle for [`count_id`](Metrics::count_id).
    pub fn counter_id(&mut self, name: &str) -> CounterId {
        if let Some(&i) = self.counter_slots.get(name) {
            return CounterId(i);
        }
        let i = u32::try_from(self.values.len()).expect("fewer than 2^32 counters");
        self.counter_slots.insert(name.to_string(), i);
        self.slot_names.push(name.to_string());
        self.values.push(0);
        CounterId(i)
    }

    /// Adds `delta` to the counter behind `id` (from this [`Metrics`]'s
    /// [`counter_id`](Metrics::counter_id)).
    pub fn count_id(&mut self, id: CounterId, delta: u64) {
        self.values[id.0 as usize] += delta;
    }

    /// Appends one sample to distribution `name`.
    pub fn observe(&mut self, name: &str, value: u64) {
        match self.samples.get_mut(name) {
            Some(s) => s.push(value),
            None => {
                self.samples.insert(name.to_string(), vec![value]);
            }
        }
    }

    /// A counter's value (0 if never counted).
    pub fn counter(&self, name: &str) -> u64 {
        self.counters().get(name).unwrap_or(0)
    }

    /// All counters, sorted by name.
    pub fn counters(&self) -> Counters<'_> {
        Counters {
            slots: &self.counter_slots,
            values: &self.values,
        }
    }

    /// A distribution's samples in recording order (empty if none).
    pub fn samples(&self, name: &str) -> &[u64] {
        self.samples.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// All distributions, sorted by name.
    pub fn distributions(&self) -> &BTreeMap<String, Vec<u64>> {
        &self.samples
    }

    /// Appends one sample stamped with time `at`, for charts over time.
    ///
    /// Reports bucket these by time: the rate of each series, and percentiles of its values. By
    /// convention, series named `<group>.ok` and `<group>.failed` are outcomes of the same
    /// operations (values: latency in nanoseconds), and reports chart their success rate.
    pub fn observe_at(&mut self, name: &str, at: Instant, value: u64) {
        match self.timed.get_mut(name) {
            Some(s) => s.push((at, value)),
            None => {
                self.timed.insert(name.to_string(), vec![(at, value)]);
            }
        }
    }

    /// A timed series in recording order (empty if none).
    pub fn timed(&self, name: &str) -> &[(Instant, u64)] {
        self.timed.get(name).map(|v| v.as_slice()).unwrap_or(&[])
    }

    /// All timed series, sorted by name.
    pub fn timed_series(&self) -> &BTreeMap<String, Vec<(Instant, u64)>> {
        &self.timed
    }

    /// Marks a moment worth showing on a chart (a failure detected, work rescheduled, a
    /// recovery), labelled for a reader.
    pub fn mark(&mut self, at: Instant, label: &str) {
        self.marks.push((at, label.to_string()));
    }

    /// The marked moments in recording order.
    pub fn marks(&self) -> &[(Instant, String)] {
        &self.marks
    }

    /// Records a fault's begin (the engine does this for every fault of the plan; tests build
    /// windows by hand). Windows stay in the order they began.
    pub fn fault_began(&mut self, window: FaultWindow) {
        self.faults.push(window);
    }

    /// Records the end at `at` of plan fault `index`'s window, if it is still open.
    pub fn fault_ended(&mut self, index: usize, at: Instant) {
        if let Some(w) = self
            .faults
            .iter_mut()
            .rev()
            .find(|w| w.index == index && w.end.is_none())
        {
            w.end = Some(at);
        }
    }

    /// Ends every open fault window at `at` (the heal undoes every fault).
    pub fn faults_healed(&mut self, at: Instant) {
        for w in self.faults.iter_mut().filter(|w| w.end.is_none()) {
            w.end = Some(at);
        }
    }

    /// The fault windows so far, in the order the faults began.
    pub fn fault_windows(&self) -> &[FaultWindow] {
        &self.faults
    }

    /// The `q`-quantile (0.0..=1.0) of a distribution by the nearest-rank method, or `None`.
    pub fn quantile(&self, name: &str, q: f64) -> Option<u64> {
        let mut v = self.samples(name).to_vec();
        if v.is_empty() {
            return None;
        }
        v.sort_unstable();
        let rank = ((q.clamp(0.0, 1.0) * v.len() as f64).ceil() as usize).clamp(1, v.len());
        Some(v[rank - 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_and_quantiles() {
        let mut m = Metrics::default();
        m.count("ok", 2);
        m.count("ok", 3);
        assert_eq!(m.counter("ok"), 5);
        assert_eq!(m.counter("missing"), 0);
        for v in 1..=100 {
            m.observe("lat", v);
        }
        assert_eq!(m.quantile("lat", 0.5), Some(50));
        assert_eq!(m.quantile("lat", 0.99), Some(99));
        assert_eq!(m.quantile("lat", 1.0), Some(100));
        assert_eq!(m.quantile("none", 0.5), None);
    }

    #[test]
    fn names_at_a_reused_address_count_into_their_own_counters() {
        let mut m = Metrics::default();
        // Each formatted name is freed after counting, so the next one often lands at the
        // same address with the same length: the cache must not mistake it for the last.
        for round in 0..3 {
            for i in 0..50u64 {
                m.count(&format!("n.{i:02}"), i + round);
            }
        }
        for i in 0..50u64 {
            assert_eq!(m.counter(&format!("n.{i:02}")), 3 * i + 3, "n.{i:02}");
        }
        let names: Vec<&String> = m.counters().iter().map(|(n, _)| n).collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]), "sorted by name");
        assert_eq!(m.counters().len(), 50);
    }

    #[test]
    fn a_registered_counter_counts_by_handle_like_by_name() {
        let mut m = Metrics::default();
        let id = m.counter_id("sent");
        assert_eq!(m.counter_id("sent"), id);
        m.count_id(id, 2);
        m.count("sent", 3);
        assert_eq!(m.counter("sent"), 5);
        let mut by_name = Metrics::default();
        by_name.count("sent", 5);
        assert_eq!(m, by_name);
        assert_eq!(format!("{:?}", m.counters()), "{\"sent\": 5}");
    }

    #[test]
    fn timed_samples_and_marks_keep_their_order_and_names() {
        let mut m = Metrics::default();
        m.observe_at("calls.ok", Instant(5), 10);
        m.observe_at("calls.failed", Instant(7), 0);
        m.observe_at("calls.ok", Instant(3), 20);
        assert_eq!(m.timed("calls.ok"), &[(Instant(5), 10), (Instant(3), 20)]);
        assert_eq!(m.timed("none"), &[]);
        assert_eq!(
            m.timed_series().keys().collect::<Vec<_>>(),
            ["calls.failed", "calls.ok"]
        );
        // A timed series is not a distribution of the same name.
        assert!(m.samples("calls.ok").is_empty());
        m.mark(Instant(9), "node down");
        assert_eq!(m.marks(), &[(Instant(9), "node down".to_string())]);
    }

    fn window(index: usize, begin: u64) -> FaultWindow {
        FaultWindow {
            index,
            kind: FaultKind::Crash,
            label: format!("fault {index}"),
            begin: Instant(begin),
            end: None,
            hosts: vec![HostId(index as u32)],
            processes: Vec::new(),
        }
    }

    #[test]
    fn fault_windows_close_by_index_once_and_the_heal_closes_the_rest() {
        let mut m = Metrics::default();
        m.fault_began(window(0, 10));
        m.fault_began(window(1, 20));
        m.fault_began(window(2, 30));
        m.fault_ended(1, Instant(25));
        // A second end of the same fault (after the heal undid it, say) changes nothing.
        m.fault_ended(1, Instant(99));
        m.faults_healed(Instant(40));
        m.fault_ended(0, Instant(50));
        let ends: Vec<_> = m.fault_windows().iter().map(|w| (w.index, w.end)).collect();
        assert_eq!(
            ends,
            [
                (0, Some(Instant(40))),
                (1, Some(Instant(25))),
                (2, Some(Instant(40)))
            ]
        );
    }

    #[test]
    fn a_blast_window_reaches_grace_past_the_end_and_forever_while_open() {
        let mut w = window(0, 100);
        let grace = Duration(50);
        // Open: everything from its begin on.
        assert!(w.blast_overlaps(grace, Instant(1_000), Instant(2_000)));
        assert!(!w.blast_overlaps(grace, Instant(0), Instant(100)));
        w.end = Some(Instant(200));
        assert!(w.blast_overlaps(grace, Instant(0), Instant(101)));
        assert!(w.blast_overlaps(grace, Instant(249), Instant(300)));
        assert!(!w.blast_overlaps(grace, Instant(250), Instant(300)));
        assert!(!w.blast_overlaps(Duration::ZERO, Instant(200), Instant(300)));
        assert_eq!(w.end_or(Instant(7)), Instant(200));
        // An instantaneous fault still blasts for the grace.
        w.end = Some(Instant(100));
        assert!(w.blast_overlaps(grace, Instant(120), Instant(130)));
    }
}
