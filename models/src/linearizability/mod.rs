//! A reusable linearizability checker for histories of client operations.
//!
//! A model describes what its service should do as a [`Specification`]: a sequential state
//! machine (state, input, output) plus a key that splits independent parts of the state, so a
//! key-value store is checked one key at a time. Clients record each operation's invocation and
//! completion into a [`History`]; [`check`] then searches for a linearization in the style of
//! Wing and Gong (repeatedly pick a minimal pending operation, apply it to the specification,
//! backtrack on a mismatch), remembering every (linearized set, state) pair it has seen so no
//! configuration is explored twice.
//!
//! Completions are [`Outcome`]s. `Ok(output)` must be explained by the specification;
//! `Failed` means the operation certainly had no effect and is left out; `Unknown` (a timeout,
//! a crashed client, an operation still open when the history ends) may take effect at any
//! point after its invocation, or never, and its output is not checked.
//!
//! The search is bounded by a step budget and a memo memory bound: when either runs out the answer is
//! [`CheckResult::Unknown`], never a hang. When a history is not linearizable, the checker
//! shrinks the offending key's operations to a small sub-history that still fails on its own
//! and draws it as a text timeline, one line per operation:
//!
//! ```text
//! c1  |---|           put(k0, 1) -> ok
//! c2        |---|     get(k0) -> 2
//! ```
//!
//! Positions are event ranks, not times: a bar starts at the operation's invocation and ends
//! at its completion; `...` marks an unknown outcome that never completed.

pub mod edn;
pub mod generate;
pub mod jepsen;
pub mod kv;

/// How a property's failure message starts when the check ran out of budget rather than
/// finding a violation: tools report such a failure as a limit (exit code 4), not a proven
/// safety violation. Models that fail a property on [`CheckResult::Unknown`] start with it.
pub const INCONCLUSIVE: &str = "inconclusive linearizability check";

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::{self, Debug, Write as _};
use std::hash::{Hash, Hasher};

/// A sequential specification: what one copy of the service does, one operation at a time.
pub trait Specification {
    /// The state of one independent part (one key, for a key-value store).
    type State: Clone + Ord + Hash + Debug;
    /// An operation's request.
    type Input: Clone + Debug;
    /// An operation's response.
    type Output: Clone + Debug + PartialEq;
    /// Which independent part an operation touches (`()` when the state cannot be split).
    type Key: Clone + Ord + Debug;

    /// The state every part starts in.
    fn initial(&self) -> Self::State;
    /// Applies `input` to `state`, returning the new state and the response.
    fn step(&self, state: &Self::State, input: &Self::Input) -> (Self::State, Self::Output);
    /// The part of the state `input` touches. Operations on different keys must not interact.
    fn key(&self, input: &Self::Input) -> Self::Key;
    /// True if `input` never changes the state; an unknown-outcome read is then dropped, since
    /// it constrains nothing. Defaults to false (always safe).
    fn is_read_only(&self, _input: &Self::Input) -> bool {
        false
    }
}

/// How an operation ended.
#[derive(Clone, PartialEq, Eq)]
pub enum Outcome<O> {
    /// It took effect and returned this.
    Ok(O),
    /// It certainly did not take effect (the service rejected it before acting on it).
    Failed,
    /// It may or may not have taken effect (timeout, crash, still open).
    Unknown,
}

impl<O: Debug> Debug for Outcome<O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(o) => write!(f, "{o:?}"),
            Outcome::Failed => write!(f, "failed"),
            Outcome::Unknown => write!(f, "?"),
        }
    }
}

/// One operation of a history. `call` and `ret` are positions in the history's event order,
/// which is what real-time precedence means here: `a` precedes `b` iff `a.ret < b.call`.
#[derive(Clone, Debug, PartialEq)]
pub struct Operation<I, O> {
    /// Who issued it (a client or session number, for display).
    pub client: u64,
    /// The request.
    pub input: I,
    /// How it ended.
    pub outcome: Outcome<O>,
    /// Position of the invocation.
    pub call: u64,
    /// Position of the completion; `None` if it never completed.
    pub ret: Option<u64>,
}

/// A history under construction: invocations and completions in the order they happened.
#[derive(Clone, Debug)]
pub struct History<I, O> {
    ops: Vec<Operation<I, O>>,
    open: BTreeMap<u64, usize>,
    seen: BTreeSet<u64>,
    clock: u64,
}

impl<I, O> Default for History<I, O> {
    fn default() -> Self {
        History {
            ops: Vec::new(),
            open: BTreeMap::new(),
            seen: BTreeSet::new(),
            clock: 0,
        }
    }
}

impl<I: Clone + Debug, O: Clone + Debug> History<I, O> {
    /// An empty history.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records that operation `id` (unique within the history) was invoked by `client`.
    pub fn invoke(&mut self, id: u64, client: u64, input: I) -> Result<(), String> {
        if !self.seen.insert(id) {
            return Err(format!("operation {id} was invoked twice"));
        }
        self.open.insert(id, self.ops.len());
        self.ops.push(Operation {
            client,
            input,
            outcome: Outcome::Unknown,
            call: self.clock,
            ret: None,
        });
        self.clock += 1;
        Ok(())
    }

    /// Records how operation `id` ended. Completing an `Unknown` leaves it open-ended.
    pub fn complete(&mut self, id: u64, outcome: Outcome<O>) -> Result<(), String> {
        let Some(i) = self.open.remove(&id) else {
            return Err(if self.seen.contains(&id) {
                format!("operation {id} completed twice")
            } else {
                format!("operation {id} completed but was never invoked")
            });
        };
        let op = &mut self.ops[i];
        if !matches!(outcome, Outcome::Unknown) {
            op.ret = Some(self.clock);
        }
        op.outcome = outcome;
        self.clock += 1;
        Ok(())
    }

    /// Every operation, in invocation order. Those never completed are `Unknown`.
    pub fn operations(&self) -> &[Operation<I, O>] {
        &self.ops
    }

    /// Builds a history directly from operations (for tests and hand-written examples).
    pub fn from_operations(ops: Vec<Operation<I, O>>) -> Self {
        let clock = ops
            .iter()
            .map(|o| o.ret.unwrap_or(o.call).max(o.call) + 1)
            .max()
            .unwrap_or(0);
        History {
            ops,
            open: BTreeMap::new(),
            seen: BTreeSet::new(),
            clock,
        }
    }
}

/// A non-linearizable sub-history: the operations of one key that cannot be ordered.
#[derive(Clone, Debug)]
pub struct Violation<I, O, K> {
    /// The key whose operations fail.
    pub key: K,
    /// A small sub-history that fails on its own (each removal tried made it pass).
    pub operations: Vec<Operation<I, O>>,
    /// How many operations the key had before shrinking.
    pub original_len: usize,
    /// The sub-history drawn as a text timeline.
    pub timeline: String,
    /// The earliest operation no ordering explains: its completion ends the longest
    /// linearizable prefix of the history (every event before it can be explained). Its
    /// `call` and `ret` are positions in the whole history, so a model can say when it ran.
    /// `None` when the shrinking budget ran out before the prefix search finished.
    pub failing: Option<Operation<I, O>>,
}

impl<I: Debug, O: Debug, K: Debug> fmt::Display for Violation<I, O, K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "key {:?}: no linearization of these {} operations (shrunk from {}):",
            self.key,
            self.operations.len(),
            self.original_len
        )?;
        write!(f, "{}", self.timeline)?;
        if let Some(o) = &self.failing {
            writeln!(
                f,
                "first unexplained: c{} {:?} -> {:?} (history positions {} to {})",
                o.client,
                o.input,
                o.outcome,
                o.call,
                o.ret.map_or("?".into(), |r| r.to_string())
            )?;
        }
        Ok(())
    }
}

/// The checker's answer.
#[derive(Clone, Debug)]
pub enum CheckResult<I, O, K> {
    /// Some linearization explains every completed operation.
    Linearizable,
    /// None does; here is a small witness.
    NotLinearizable(Box<Violation<I, O, K>>),
    /// The step budget ran out first.
    Unknown {
        /// Which key was being searched and how many steps were spent.
        reason: String,
    },
}

impl<I, O, K> CheckResult<I, O, K> {
    /// True only for a definite `Linearizable`.
    pub fn is_linearizable(&self) -> bool {
        matches!(self, CheckResult::Linearizable)
    }
}

/// Limits on a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckOptions {
    /// Search steps (one per operation applied) across the whole history.
    pub max_steps: u64,
    /// Extra steps spent shrinking a failing key's sub-history.
    pub max_shrink_steps: u64,
    /// Most memory, roughly, the memo of one key's search may hold. Histories with many
    /// concurrent unknown outcomes on one key can need far more than the step budget suggests
    /// (each memo entry holds a bit per operation), so running out is also an `Unknown`.
    pub max_memo_bytes: u64,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            max_steps: 20_000_000,
            max_shrink_steps: 2_000_000,
            max_memo_bytes: 1 << 30,
        }
    }
}

/// The operations of one specification.
type SpecOps<S> = Vec<Operation<<S as Specification>::Input, <S as Specification>::Output>>;

/// A witness over one specification's operations.
type SpecWitness<S> = Witness<<S as Specification>::Input, <S as Specification>::Output>;

/// What one key's search concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Search {
    Found,
    Impossible,
    OutOfBudget,
}

/// Checks `history` against `spec`, key by key, within `options`' budget.
pub fn check<S: Specification>(
    spec: &S,
    history: &History<S::Input, S::Output>,
    options: CheckOptions,
) -> CheckResult<S::Input, S::Output, S::Key> {
    check_operations(spec, history.operations(), options)
}

/// Like [`check`], for a plain list of operations.
pub fn check_operations<S: Specification>(
    spec: &S,
    operations: &[Operation<S::Input, S::Output>],
    options: CheckOptions,
) -> CheckResult<S::Input, S::Output, S::Key> {
    let parts = partition(spec, operations);
    let mut budget = options.max_steps;
    let mut shrink_budget = options.max_shrink_steps;
    let mut never = || false;
    // Every failing key's longest linearizable prefix: the one that fails earliest in the
    // history is reported (the first key in order may fail long after another).
    let mut earliest: Option<(S::Key, SpecOps<S>, SpecWitness<S>)> = None;
    for (key, ops) in parts {
        match search(spec, &ops, &mut budget, options.max_memo_bytes, None) {
            Search::Found => {}
            Search::Impossible => {
                let found = witness_within(
                    spec,
                    &ops,
                    &mut shrink_budget,
                    options.max_memo_bytes,
                    false,
                    &mut never,
                );
                let ends = |w: &SpecWitness<S>| (!w.complete, w.prefix_end);
                if earliest.as_ref().is_none_or(|(_, _, w)| ends(&found) < ends(w)) {
                    earliest = Some((key, ops, found));
                }
            }
            // A violation found is a violation, whatever the other keys would say.
            Search::OutOfBudget if earliest.is_some() => break,
            Search::OutOfBudget => {
                return CheckResult::Unknown {
                    reason: format!(
                        "step budget of {} or memo bound of {} bytes exhausted while checking key {key:?} ({} operations)",
                        options.max_steps,
                        options.max_memo_bytes,
                        ops.len()
                    ),
                };
            }
        }
    }
    let Some((key, ops, found)) = earliest else {
        return CheckResult::Linearizable;
    };
    let failing = found.failing.map(|i| ops[i].clone());
    let operations = if found.complete {
        thin_within(
            spec,
            found.operations,
            &mut shrink_budget,
            options.max_memo_bytes,
            &mut never,
        )
        .0
    } else {
        found.operations
    };
    let timeline = timeline(&operations);
    CheckResult::NotLinearizable(Box::new(Violation {
        key,
        operations,
        original_len: ops.len(),
        timeline,
        failing,
    }))
}

/// A fixed-size set of operation indices.
struct Bits(Vec<u64>);

impl Bits {
    fn new(n: usize) -> Bits {
        Bits(vec![0; n.div_ceil(64)])
    }
    fn get(&self, i: usize) -> bool {
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
    fn set(&mut self, i: usize) {
        self.0[i / 64] |= 1 << (i % 64);
    }
    fn clear(&mut self, i: usize) {
        self.0[i / 64] &= !(1 << (i % 64));
    }
}

/// A fixed, seedless hasher for the memo (the memo is never iterated, so only speed and spread
/// matter): words folded by multiply-rotate, then a final mix so the low bits pick the slot.
#[derive(Default)]
struct WordHasher(u64);

impl WordHasher {
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.word(u64::from_le_bytes(w));
        }
    }
    fn write_u64(&mut self, i: u64) {
        self.word(i);
    }
    fn finish(&self) -> u64 {
        ruckus_sim::mix64(self.0)
    }
}

/// The (linearized operations, state) pairs the search has already explored: an open-addressing
/// set over flat arrays, so recording a pair allocates nothing but the arrays' growth (a tree of
/// cloned bit sets cost an allocation and a dozen comparisons per step).
struct Memo<St> {
    /// Words of one bit set.
    words: usize,
    /// Entry k's bit set is `bits[k * words..(k + 1) * words]`.
    bits: Vec<u64>,
    states: Vec<St>,
    hashes: Vec<u64>,
    /// Entry index + 1 per slot; 0 is empty. Its length is a power of two.
    table: Vec<u32>,
}

impl<St: Clone + Eq + Hash> Memo<St> {
    fn new(words: usize) -> Memo<St> {
        Memo {
            words,
            bits: Vec::new(),
            states: Vec::new(),
            hashes: Vec::new(),
            table: vec![0; 1024],
        }
    }

    fn len(&self) -> usize {
        self.states.len()
    }

    /// Records the pair; false if it was already there.
    fn insert(&mut self, done: &Bits, state: &St) -> bool {
        if (self.len() + 1) * 2 > self.table.len() {
            self.grow();
        }
        let mut h = WordHasher::default();
        done.0.iter().for_each(|&w| h.word(w));
        state.hash(&mut h);
        let hash = h.finish();
        let mask = self.table.len() - 1;
        let mut slot = hash as usize & mask;
        loop {
            match self.table[slot] {
                0 => {
                    self.table[slot] = self.states.len() as u32 + 1;
                    self.bits.extend_from_slice(&done.0);
                    self.states.push(state.clone());
                    self.hashes.push(hash);
                    return true;
                }
                e => {
                    let k = e as usize - 1;
                    if self.hashes[k] == hash
                        && self.bits[k * self.words..(k + 1) * self.words] == done.0[..]
                        && self.states[k] == *state
                    {
                        return false;
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = self.table.len() * 2;
        let mask = size - 1;
        let mut table = vec![0u32; size];
        for (k, &hash) in self.hashes.iter().enumerate() {
            let mut slot = hash as usize & mask;
            while table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            table[slot] = k as u32 + 1;
        }
        self.table = table;
    }
}

/// One level of the depth-first search: the state reached and where to resume the candidates.
struct Frame<St> {
    state: St,
    /// The operation linearized to reach this frame (`usize::MAX` for the root).
    chosen: usize,
    /// Next candidate position (in call order) to try from this frame.
    next: usize,
}

/// Searches for a linearization of `ops` (one key, sorted by call).
fn search<S: Specification>(
    spec: &S,
    ops: &[Operation<S::Input, S::Output>],
    budget: &mut u64,
    max_memo_bytes: u64,
    path: Option<&mut Vec<usize>>,
) -> Search {
    let n = ops.len();
    // Bytes one memo entry costs, roughly: the bit set, the state, its hash and two slots.
    let entry_bytes = (n.div_ceil(64) * 8 + std::mem::size_of::<S::State>() + 16) as u64;
    // Entry indexes are u32 in the memo's table.
    let max_memo = ((max_memo_bytes / entry_bytes).max(1) as usize).min(u32::MAX as usize / 2);
    let must: usize = ops.iter().filter(|o| matches!(o.outcome, Outcome::Ok(_))).count();
    if must == 0 {
        if let Some(path) = path {
            path.clear();
        }
        return Search::Found;
    }
    // Completed operations by return position: the first not yet linearized bounds the
    // candidates (nothing invoked after it returned may go before it).
    let mut by_ret: Vec<usize> = (0..n)
        .filter(|&i| matches!(ops[i].outcome, Outcome::Ok(_)))
        .collect();
    by_ret.sort_by_key(|&i| ops[i].ret.unwrap_or(u64::MAX));
    let mut done = Bits::new(n);
    let mut done_must = 0usize;
    let mut memo: Memo<S::State> = Memo::new(n.div_ceil(64));
    let mut stack: Vec<Frame<S::State>> = vec![Frame {
        state: spec.initial(),
        chosen: usize::MAX,
        next: 0,
    }];
    loop {
        let Some(top) = stack.last_mut() else {
            return Search::Impossible;
        };
        // The earliest return among completed operations still to place.
        let bound = by_ret
            .iter()
            .find(|&&i| !done.get(i))
            .map_or(u64::MAX, |&i| ops[i].ret.unwrap_or(u64::MAX));
        let mut advanced = false;
        while top.next < n {
            let i = top.next;
            top.next += 1;
            if ops[i].call > bound {
                top.next = n;
                break;
            }
            if done.get(i) {
                continue;
            }
            if *budget == 0 {
                return Search::OutOfBudget;
            }
            *budget -= 1;
            let (state, output) = spec.step(&top.state, &ops[i].input);
            if let Outcome::Ok(expected) = &ops[i].outcome
                && *expected != output
            {
                continue;
            }
            done.set(i);
            if memo.len() >= max_memo {
                return Search::OutOfBudget;
            }
            if !memo.insert(&done, &state) {
                done.clear(i);
                continue;
            }
            if matches!(ops[i].outcome, Outcome::Ok(_)) {
                done_must += 1;
                if done_must == must {
                    if let Some(path) = path {
                        path.clear();
                        path.extend(stack.iter().skip(1).map(|f| f.chosen));
                        path.push(i);
                    }
                    return Search::Found;
                }
            }
            stack.push(Frame {
                state,
                chosen: i,
                next: 0,
            });
            advanced = true;
            break;
        }
        if !advanced {
            let frame = stack.pop().expect("non-empty");
            if frame.chosen != usize::MAX {
                done.clear(frame.chosen);
                if matches!(ops[frame.chosen].outcome, Outcome::Ok(_)) {
                    done_must -= 1;
                }
            }
        }
    }
}

/// One key's operations: what the checker keeps of `operations` (failed operations and
/// unknown-outcome reads dropped), split by key and sorted by invocation.
pub fn partition<S: Specification>(
    spec: &S,
    operations: &[Operation<S::Input, S::Output>],
) -> BTreeMap<S::Key, SpecOps<S>> {
    let mut parts: BTreeMap<S::Key, SpecOps<S>> = BTreeMap::new();
    for op in operations {
        let keep = match &op.outcome {
            Outcome::Ok(_) => true,
            Outcome::Failed => false,
            Outcome::Unknown => !spec.is_read_only(&op.input),
        };
        if keep {
            parts.entry(spec.key(&op.input)).or_default().push(op.clone());
        }
    }
    for ops in parts.values_mut() {
        ops.sort_by_key(|o| o.call);
    }
    parts
}

/// The verdict on one key, without a witness: what a tool reports before (or instead of)
/// spending time on shrinking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Some linearization explains every completed operation.
    Linearizable,
    /// None does.
    NotLinearizable,
    /// The step budget or memo bound ran out first.
    Inconclusive,
}

/// Decides one key's operations (as [`partition`] returns them) within `options.max_steps`;
/// also returns the steps spent. Single-threaded; callers may run keys in parallel.
pub fn decide<S: Specification>(
    spec: &S,
    key_operations: &[Operation<S::Input, S::Output>],
    options: CheckOptions,
) -> (Decision, u64) {
    let mut budget = options.max_steps;
    let decision = match search(spec, key_operations, &mut budget, options.max_memo_bytes, None) {
        Search::Found => Decision::Linearizable,
        Search::Impossible => Decision::NotLinearizable,
        Search::OutOfBudget => Decision::Inconclusive,
    };
    (decision, options.max_steps - budget)
}

/// Where and why one key's history fails, for reports and drawings.
#[derive(Clone, Debug)]
pub struct Witness<I, O> {
    /// A small failing sub-history (the whole failing prefix when thinning was skipped or cut short).
    pub operations: Vec<Operation<I, O>>,
    /// Event position that ends the longest linearizable prefix found: every event before it
    /// can be explained, the event at it cannot be added.
    pub prefix_end: u64,
    /// Index (in the key's operations) of the operation whose completion at `prefix_end`
    /// no ordering can explain, if the prefix search finished.
    pub failing: Option<usize>,
    /// A linearization of the longest linearizable prefix: indices into the key's operations,
    /// in the order they take effect.
    pub linearization: Vec<usize>,
    /// False if the step budget or the `stop` callback cut the search short.
    pub complete: bool,
}

/// Finds where one failing key's operations (as [`partition`] returns them) stop being
/// linearizable and, if `thin`, shrinks them to a small failing sub-history. Bounded by
/// `options.max_shrink_steps` and by `stop`, asked between searches (a tool can pass a
/// wall-clock deadline; inside a run, pass `|| false`).
pub fn witness<S: Specification>(
    spec: &S,
    key_operations: &[Operation<S::Input, S::Output>],
    options: CheckOptions,
    thin: bool,
    stop: &mut dyn FnMut() -> bool,
) -> Witness<S::Input, S::Output> {
    let mut budget = options.max_shrink_steps;
    witness_within(
        spec,
        key_operations,
        &mut budget,
        options.max_memo_bytes,
        thin,
        stop,
    )
}

fn witness_within<S: Specification>(
    spec: &S,
    ops: &[Operation<S::Input, S::Output>],
    budget: &mut u64,
    max_memo_bytes: u64,
    thin: bool,
    stop: &mut dyn FnMut() -> bool,
) -> Witness<S::Input, S::Output> {
    // The prefix of events before position p: operations invoked before p, with those not
    // completed before p turned into unknown outcomes. If a prefix fails, every longer one
    // does. Each kept operation remembers its index in `ops`.
    let prefix = |p: u64| -> (SpecOps<S>, Vec<usize>) {
        let mut kept = Vec::new();
        let mut index = Vec::new();
        for (i, o) in ops.iter().enumerate().filter(|(_, o)| o.call < p) {
            let mut o = o.clone();
            if o.ret.is_none_or(|r| r >= p) {
                if spec.is_read_only(&o.input) {
                    continue;
                }
                o.ret = None;
                o.outcome = Outcome::Unknown;
            }
            kept.push(o);
            index.push(i);
        }
        (kept, index)
    };
    let mut hi = ops
        .iter()
        .map(|o| o.ret.unwrap_or(o.call).max(o.call) + 1)
        .max()
        .unwrap_or(0);
    let mut lo = 0u64;
    let mut best = ops.to_vec();
    let mut linearization = Vec::new();
    let mut path = Vec::new();
    let mut complete = true;
    // Invariant: prefix(hi) fails; prefix(lo) is not known to fail.
    while lo + 1 < hi {
        if stop() {
            complete = false;
            break;
        }
        let mid = lo + (hi - lo) / 2;
        let (candidate, index) = prefix(mid);
        match search(spec, &candidate, budget, max_memo_bytes, Some(&mut path)) {
            Search::Impossible => {
                hi = mid;
                best = candidate;
            }
            Search::Found => {
                lo = mid;
                linearization = path.iter().map(|&i| index[i]).collect();
            }
            Search::OutOfBudget => {
                complete = false;
                break;
            }
        }
    }
    let failing = if complete {
        ops.iter().position(|o| o.ret == Some(lo))
    } else {
        None
    };
    if thin && complete {
        (best, complete) = thin_within(spec, best, budget, max_memo_bytes, stop);
    }
    Witness {
        operations: best,
        prefix_end: lo,
        failing,
        linearization,
        complete,
    }
}

/// Drops single operations from a failing sub-history while the rest still fails on its own;
/// also says whether it finished (false: the budget or `stop` cut it short).
fn thin_within<S: Specification>(
    spec: &S,
    mut best: SpecOps<S>,
    budget: &mut u64,
    max_memo_bytes: u64,
    stop: &mut dyn FnMut() -> bool,
) -> (SpecOps<S>, bool) {
    let mut i = best.len();
    while i > 0 {
        if stop() {
            return (best, false);
        }
        i -= 1;
        let mut without = best.clone();
        without.remove(i);
        match search(spec, &without, budget, max_memo_bytes, None) {
            Search::Impossible => best = without,
            Search::Found => {}
            Search::OutOfBudget => return (best, false),
        }
    }
    (best, true)
}

/// Draws operations as a text timeline: one line per operation, bars between event ranks.
pub fn timeline<I: Debug, O: Debug>(ops: &[Operation<I, O>]) -> String {
    let mut points: Vec<u64> = ops.iter().flat_map(|o| [Some(o.call), o.ret]).flatten().collect();
    points.sort_unstable();
    points.dedup();
    let col = |p: u64| points.binary_search(&p).unwrap_or(0) * 3;
    let width = points.len() * 3 + 3;
    let mut out = String::new();
    for o in ops {
        let start = col(o.call);
        let mut line = format!("c{:<4}", o.client);
        let mut bar = " ".repeat(start);
        match o.ret {
            Some(r) => {
                let end = col(r);
                bar.push('|');
                bar.push_str(&"-".repeat(end.saturating_sub(start).saturating_sub(1)));
                bar.push('|');
            }
            None => bar.push_str("|..."),
        }
        let _ = write!(line, "{bar:<width$} {:?} -> {:?}", o.input, o.outcome);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests;
