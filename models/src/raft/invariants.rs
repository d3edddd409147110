//! Raft's invariants, linearizability of the client history, and liveness after the heal.
//!
//! Logs are compared through each server's prefix hashes, so every check costs O(servers²)
//! per event rather than O(log length). The committed log is tracked as the run goes: the first
//! time any server's commit index covers an index, that entry (its prefix hash) and the term of
//! the server that committed it are recorded; every later commit must agree.
//!
//! The server invariants and the liveness check are generic over the host process: a system
//! that embeds Raft servers passes a function that finds the server inside its process type
//! ([`server_properties`], [`leader_and_progress_after_heal`]) and gets the same checks.

use super::operations::outcome_of;
use super::{Config, Raft, Record, Role, Server, StateMachine};
use crate::linearizability::kv::KvSpec;
use crate::linearizability::{
    CheckOptions, CheckResult, History, Operation, Outcome, Specification, Violation, check,
};
use ruckus_sim::{Duration, HistoryEntry, OperationOutcome, Process, Property, View};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::rc::Rc;

/// Finds the Raft server of state machine `S` inside a process, if it holds one (usually a
/// method such as `Raft::as_server`; a function item, so checks inline it).
pub trait ServerOf<P, S: StateMachine>: for<'x> Fn(&'x P) -> Option<&'x Server<S>> + Copy + 'static {}

impl<P, S: StateMachine, F> ServerOf<P, S> for F where
    F: for<'x> Fn(&'x P) -> Option<&'x Server<S>> + Copy + 'static
{
}

/// Builds the checker's history from the run's recorded client operations.
pub fn history_of<C: Clone + Debug, O: Clone + Debug>(
    entries: &[HistoryEntry<Record<C, O>>],
) -> Result<History<C, O>, String> {
    let mut ids: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    let mut history = History::new();
    for e in entries {
        match &e.operation {
            Record::Invoke { session, seq, input } => {
                let id = ids.len() as u64;
                ids.insert((*session, *seq), id);
                history.invoke(id, u64::from(e.process.0), input.clone())?;
            }
            Record::Complete {
                session,
                seq,
                outcome,
            } => {
                let id = *ids
                    .get(&(*session, *seq))
                    .ok_or_else(|| format!("{} completed operation {seq} it never invoked", e.process))?;
                history.complete(id, outcome.clone())?;
            }
        }
    }
    Ok(history)
}

/// Checks recorded client operations for linearizability within `config.check_max_steps`.
///
/// A violation is an error with the shrunk sub-history. A check that runs out of budget is an
/// error that says "inconclusive" (it proves nothing either way, so it must not pass silently)
/// unless `config.allow_inconclusive_check` is set.
pub fn check_history(config: &Config, entries: &[HistoryEntry<Record>]) -> Result<(), String> {
    check_history_against(&KvSpec, config, entries)
}

/// Like [`check_history`], for clients of any state machine whose behaviour `spec` describes.
pub fn check_history_against<Sp: Specification>(
    spec: &Sp,
    config: &Config,
    entries: &[HistoryEntry<Record<Sp::Input, Sp::Output>>],
) -> Result<(), String> {
    check_history_located(spec, config, entries).map_err(|(message, _)| message)
}

/// The earliest operation a history check could not explain, by its entries in the history
/// it was given, for [`View::blame`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unexplained {
    /// The entry that recorded its invocation.
    pub invocation: usize,
    /// The entry that recorded its completion (`None`: it never completed).
    pub completion: Option<usize>,
    /// What it was: `get(k0) -> 7`.
    pub description: String,
    /// How it ended.
    pub outcome: OperationOutcome,
    /// The operations of its key it conflicts with (for the earliest unexplained operation;
    /// empty on these): first those of the checker's shrunk witness (together with it they
    /// admit no ordering), then those that ran concurrently with it, nearest first; at most
    /// 12 (`CONFLICTS_MAX`).
    pub conflicts: Vec<Unexplained>,
}

/// The most conflicting operations a located violation names.
pub const CONFLICTS_MAX: usize = 12;

/// Like [`check_history_against`], and a violation also names the earliest operation no
/// ordering explains (when the checker's shrinking budget sufficed to find it).
pub fn check_history_located<Sp: Specification>(
    spec: &Sp,
    config: &Config,
    entries: &[HistoryEntry<Record<Sp::Input, Sp::Output>>],
) -> Result<(), (String, Option<Unexplained>)> {
    let history = history_of(entries).map_err(|e| (e, None))?;
    let options = CheckOptions {
        max_steps: config.check_max_steps,
        max_memo_bytes: 256 << 20,
        ..CheckOptions::default()
    };
    match check(spec, &history, options) {
        CheckResult::Linearizable => Ok(()),
        CheckResult::NotLinearizable(violation) => {
            // `history_of` makes one history event of each entry: positions are entry indices.
            let unexplained = violation.failing.as_ref().map(|failing| {
                let mut u = located(failing, None);
                u.conflicts = conflicts(spec, &history, &violation, failing, entries);
                u
            });
            Err((format!("client history {violation}"), unexplained))
        }
        CheckResult::Unknown { reason } if !config.allow_inconclusive_check => Err((
            format!(
                "{INCONCLUSIVE}: {reason}; this is not a proven violation (raise check_max_steps, \
                 or set allow_inconclusive_check to let it pass)"
            ),
            None,
        )),
        CheckResult::Unknown { .. } => Ok(()),
    }
}

/// An operation of a history built by [`history_of`], by its entries (`completion`: the
/// entry that completed it, when the operation's own `ret` is unknown).
fn located<I: Debug, O: Debug>(o: &Operation<I, O>, completion: Option<usize>) -> Unexplained {
    Unexplained {
        invocation: o.call as usize,
        completion: o.ret.map(|r| r as usize).or(completion),
        description: format!("{:?} -> {:?}", o.input, o.outcome),
        outcome: outcome_of(&o.outcome),
        conflicts: Vec::new(),
    }
}

/// The operations `failing` conflicts with: those of the witness, then those of its key whose
/// intervals overlap its own (an open one overlaps everything after its invocation).
fn conflicts<Sp: Specification>(
    spec: &Sp,
    history: &History<Sp::Input, Sp::Output>,
    violation: &Violation<Sp::Input, Sp::Output, Sp::Key>,
    failing: &Operation<Sp::Input, Sp::Output>,
    entries: &[HistoryEntry<Record<Sp::Input, Sp::Output>>],
) -> Vec<Unexplained> {
    // An unknown outcome has no `ret` in the checker's history; its completion entry is the
    // one with the same session and sequence.
    let mut invoked_at: BTreeMap<(u64, u64), usize> = BTreeMap::new();
    let mut completed_at: BTreeMap<usize, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        match &e.operation {
            Record::Invoke { session, seq, .. } => {
                invoked_at.insert((*session, *seq), i);
            }
            Record::Complete { session, seq, .. } => {
                if let Some(call) = invoked_at.remove(&(*session, *seq)) {
                    completed_at.insert(call, i);
                }
            }
        }
    }
    let end = |o: &Operation<Sp::Input, Sp::Output>| o.ret.unwrap_or(u64::MAX);
    let witness: BTreeSet<u64> = violation.operations.iter().map(|o| o.call).collect();
    let mut concurrent: Vec<&Operation<Sp::Input, Sp::Output>> = history
        .operations()
        .iter()
        .filter(|o| o.call != failing.call && spec.key(&o.input) == violation.key)
        // As the checker sees them: a failed operation, or a read of unknown outcome,
        // constrains nothing.
        .filter(|o| match o.outcome {
            Outcome::Ok(_) => true,
            Outcome::Failed => false,
            Outcome::Unknown => !spec.is_read_only(&o.input),
        })
        .filter(|o| witness.contains(&o.call) || (o.call < end(failing) && failing.call < end(o)))
        .collect();
    // Witness first, then by distance from the failing operation's invocation.
    concurrent.sort_by_key(|o| (!witness.contains(&o.call), o.call.abs_diff(failing.call), o.call));
    concurrent.truncate(CONFLICTS_MAX);
    concurrent.sort_by_key(|o| o.call);
    concurrent
        .into_iter()
        .map(|o| located(o, completed_at.get(&(o.call as usize)).copied()))
        .collect()
}

/// Checks the client operations `entries` hold for linearizability and, on a violation,
/// blames its earliest unexplained operation on `v`, so the failure points at the moment
/// that operation completed rather than at the check. `entries` is `v.history()` itself
/// (`index`: `None`) or a part of it, `index[i]` being the position of `entries[i]` there.
pub fn check_linearizable_in<P: Process, Sp: Specification>(
    v: &View<'_, P>,
    spec: &Sp,
    config: &Config,
    entries: &[HistoryEntry<Record<Sp::Input, Sp::Output>>],
    index: Option<&[usize]>,
) -> Result<(), String> {
    check_history_located(spec, config, entries).map_err(|(message, unexplained)| {
        if let Some(u) = unexplained {
            let at = |i: usize| index.map_or(i, |index| index[i]);
            v.blame(at(u.invocation), u.completion.map(at), &u.description);
            for c in &u.conflicts {
                v.conflict(at(c.invocation), c.completion.map(at), &c.description, c.outcome);
            }
        }
        message
    })
}

/// How a failure message starts when the linearizability check ran out of budget (the shared
/// checker's wording, which the command line maps to its "limit" exit code).
pub use crate::linearizability::INCONCLUSIVE;

/// The committed log as observed so far.
#[derive(Debug, Default)]
struct Committed {
    /// Per committed index (from 1): prefix hash and the term of the server that committed it.
    entries: Vec<(u64, u64)>,
    /// First index committed by a server in each term.
    first_in_term: BTreeMap<u64, u64>,
}

fn servers<'a, P: Process, S: StateMachine>(
    v: &View<'a, P>,
    server: impl ServerOf<P, S>,
) -> impl Iterator<Item = &'a Server<S>> + 'a {
    v.processes().filter_map(move |(_, _, p)| server(p))
}

/// The Raft invariants (election safety, log matching, state machine safety, leader
/// completeness, committed entries never lost) for any process type that embeds servers of
/// `config.servers`; `server` finds the server in a process.
pub fn server_properties<P: Process, S: StateMachine>(
    config: &Config,
    server: impl ServerOf<P, S>,
) -> Vec<Property<P>> {
    let committed = Rc::new(RefCell::new(Committed::default()));
    let mut props = Vec::new();
    let leaders: RefCell<BTreeMap<u64, u32>> = RefCell::new(BTreeMap::new());
    props.push(Property::always("election_safety", move |v: &View<'_, P>| {
        let mut leaders = leaders.borrow_mut();
        let mut leading = 0;
        let mut new_leader = false;
        for s in servers(v, server).filter(|s| s.role == Role::Leader) {
            leading += 1;
            let first = *leaders.entry(s.term).or_insert_with(|| {
                new_leader = true;
                s.id
            });
            if first != s.id {
                return Err(format!("two leaders in term {}: p{first} and p{}", s.term, s.id));
            }
        }
        // Coverage: the states the stale-read and lease bugs need (a deposed leader that does
        // not know it yet), and a leader elected while the cluster is cut.
        v.sometimes("raft.two_leaders_at_once", leading >= 2);
        if new_leader {
            let hosts: Vec<_> = v
                .processes()
                .filter_map(|(_, h, p)| server(p).map(|_| h))
                .collect();
            let cut = hosts
                .iter()
                .any(|&a| hosts.iter().any(|&b| a != b && !v.reachable(a, b)));
            v.sometimes("raft.leader_change_during_partition", cut);
        }
        Ok(())
    }));

    props.push(Property::always("log_matching", move |v: &View<'_, P>| {
        let all: Vec<&Server<S>> = servers(v, server).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                // The highest index where both hold an entry of the same term: equal terms there
                // must mean equal prefixes.
                let mut k = a.last_index().min(b.last_index());
                while k > 0 && a.term_at(k) != b.term_at(k) {
                    k -= 1;
                }
                if a.hash_at(k) != b.hash_at(k) {
                    let first = (1..=k).find(|&j| a.hash_at(j) != b.hash_at(j)).unwrap_or(k);
                    return Err(format!(
                        "p{} and p{} both hold an entry of term {} at index {k} but their logs differ at index {first}",
                        a.id,
                        b.id,
                        a.term_at(k)
                    ));
                }
            }
        }
        Ok(())
    }));

    let record = committed.clone();
    props.push(Property::always("state_machine_safety", move |v: &View<'_, P>| {
        let mut rec = record.borrow_mut();
        for s in servers(v, server) {
            if s.commit > s.last_index() {
                return Err(format!(
                    "p{} has commit index {} but only {} log entries: committed entries were lost",
                    s.id,
                    s.commit,
                    s.last_index()
                ));
            }
            for i in rec.entries.len() as u64 + 1..=s.commit {
                rec.entries.push((s.hash_at(i), s.term));
                rec.first_in_term.entry(s.term).or_insert(i);
            }
            let k = s.commit.min(rec.entries.len() as u64);
            if k > 0 && s.hash_at(k) != rec.entries[k as usize - 1].0 {
                let first = (1..=k)
                    .find(|&j| s.hash_at(j) != rec.entries[j as usize - 1].0)
                    .unwrap_or(k);
                return Err(format!(
                    "p{} committed a different entry at index {first} (term {}) than was committed there before",
                    s.id,
                    s.term_at(first)
                ));
            }
        }
        Ok(())
    }));

    let record = committed.clone();
    props.push(Property::always("leader_completeness", move |v: &View<'_, P>| {
        let rec = record.borrow();
        for s in servers(v, server).filter(|s| s.role == Role::Leader) {
            // Entries committed by leaders of earlier terms: everything before the first
            // index committed in this term or later.
            let later = rec.first_in_term.range(s.term..).map(|(_, &i)| i).min();
            let must = later.map_or(rec.entries.len() as u64, |i| i - 1);
            if must == 0 {
                continue;
            }
            if s.last_index() < must || s.hash_at(must) != rec.entries[must as usize - 1].0 {
                return Err(format!(
                    "p{} leads term {} without the entries committed up to index {must} in earlier terms",
                    s.id, s.term
                ));
            }
        }
        Ok(())
    }));

    let record = committed;
    let majority = config.servers / 2 + 1;
    props.push(Property::at_end("committed_never_lost", move |v: &View<'_, P>| {
        let rec = record.borrow();
        let n = rec.entries.len() as u64;
        if n == 0 {
            return Ok(());
        }
        let holders = servers(v, server)
            .filter(|s| s.last_index() >= n && s.hash_at(n) == rec.entries[n as usize - 1].0)
            .count() as u32;
        if holders >= majority {
            Ok(())
        } else {
            Err(format!(
                "only {holders} servers hold the {n} committed entries at the end; a majority ({majority}) must"
            ))
        }
    }));
    props
}

/// Every property of a Raft run.
pub fn properties(config: &Config) -> Vec<Property<Raft>> {
    let mut props = server_properties(config, Raft::as_server);
    let lin_config = config.clone();
    let check_linearizable =
        move |v: &View<'_, Raft>| check_linearizable_in(v, &KvSpec, &lin_config, v.history(), None);
    props.push(Property::at_end("linearizable", check_linearizable.clone()));
    if let Some(cadence) = config.check_every {
        // The history so far: operations still open count as unknown outcomes, so a prefix
        // that fails here fails in every longer run too.
        props.push(Property::always_every(
            "linearizable_so_far",
            cadence,
            check_linearizable,
        ));
    }

    let need_client = config.clients + config.writers + config.readers_per_host > 0;
    props.push(leader_and_progress_after_heal(
        config.liveness_within,
        need_client,
        Raft::as_server,
    ));
    props
}

/// Liveness after the heal: within `within`, a leader of the highest term exists and (if
/// `need_client`) some client operation completed since the heal (`raft.client.ok` grew).
pub fn leader_and_progress_after_heal<P: Process, S: StateMachine>(
    within: Duration,
    need_client: bool,
    server: impl ServerOf<P, S>,
) -> Property<P> {
    let baseline: Cell<Option<u64>> = Cell::new(None);
    Property::eventually(
        "leader_and_progress_after_heal",
        within,
        move |v: &View<'_, P>| {
            let ok = v.metrics().counter("raft.client.ok");
            let base = *baseline.get().get_or_insert(ok);
            baseline.set(Some(base));
            let top = servers(v, server).map(|s| s.term).max().unwrap_or(0);
            if !servers(v, server).any(|s| s.role == Role::Leader && s.term == top) {
                return Err(format!("no leader in the highest term {top}"));
            }
            if need_client && ok <= base {
                return Err("no client operation completed since the heal".into());
            }
            Ok(())
        },
    )
}
