//! A Raft server: election, replication, commit, persistence, and applying committed commands
//! to a pluggable [`StateMachine`].
//!
//! The server is a component: its handlers take a [`Scope`] over any host process `P`, so the
//! same code runs as the standalone Raft model and inside a larger system's process enum.

use super::state_machine::KvStore;
use super::storage::{self, META};
use super::{Answer, Command, Config, Entry, Message, MessageOf, ReadMode, StateMachine, Timer};
use ruckus_sim::{Duration, Instant, Process, ProcessId, Scope, TimerId};
use std::collections::BTreeMap;

mod persist;
use persist::PendingAck;

/// The scope a server's handlers act through, inside host process `P`.
type Cx<'s, 'a, P, S> = Scope<'s, 'a, P, MessageOf<S>, Timer>;

/// A server's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Follows a leader (or waits for one).
    Follower,
    /// Asks for votes.
    Candidate,
    /// Leads its term.
    Leader,
}

/// One Raft replica of state machine `S`. Fields are public so invariants and state dumps can
/// read them.
#[derive(Clone, Debug)]
pub struct Server<S: StateMachine = KvStore> {
    /// This server's index in `members`.
    pub id: u32,
    /// The cluster: member `i` is server `i`'s process (votes, hints and match indexes are
    /// kept by index).
    pub members: Vec<ProcessId>,
    /// Parameters.
    pub config: Config,
    /// Current term (durable).
    pub term: u64,
    /// Vote in the current term (durable).
    pub voted_for: Option<u32>,
    /// The log; entry `i` (1-based) is `log[i - 1]` (durable).
    pub log: Vec<Entry<S::Command>>,
    /// `hashes[i - 1]` hashes the log prefix up to entry `i` (derived, for invariants).
    pub hashes: Vec<u64>,
    /// Role.
    pub role: Role,
    /// The leader last heard from in the current term.
    pub leader: Option<u32>,
    /// Highest index known committed.
    pub commit: u64,
    /// Highest index applied to `state`.
    pub applied: u64,
    /// The replicated state machine.
    pub state: S,
    /// Per client session: last applied sequence number and its result.
    pub sessions: BTreeMap<u64, (u64, S::Output)>,
    /// Candidate: bitmask of votes received.
    votes: u64,
    /// Leader: next index to send to each server.
    next_index: Vec<u64>,
    /// Leader: highest index known stored on each server.
    pub match_index: Vec<u64>,
    /// Leader: latest `sent_at` each follower acknowledged in this term (for the lease).
    acked: Vec<Option<Instant>>,
    /// Leader: index of its first entry of this term (reads wait until it is applied).
    term_start: u64,
    /// Leader: client requests waiting for their entry to apply, by index.
    waiting: BTreeMap<u64, (ProcessId, u64, u64)>,
    /// Local time a current leader was last heard from (lease mode: no votes until it expires).
    last_heard: Instant,
    election_timer: Option<TimerId>,
    heartbeat_timer: Option<TimerId>,
    election_started: Instant,
    /// Outputs of applied entries, by index, for a host that asked with [`Server::keep_outputs`].
    outputs: Option<Vec<(u64, S::Output)>>,
    /// The term this incarnation read back from disk when it started (none on a first boot).
    recovered_term: Option<u64>,
    /// Highest log index known durable on this server's disk (below `last_index` only while a
    /// background sync is pending, with `Config::async_persist`).
    pub durable: u64,
    /// A background sync is in flight; entries appended meanwhile wait for the next one.
    sync_in_flight: bool,
    /// Follower: successful append replies waiting for their entries to be durable.
    unacked: Vec<PendingAck>,
}

/// The session of commands a co-located host proposes with [`Server::propose`]: applied without
/// session deduplication (the host never resends one entry; it proposes again if it must).
pub const PROPOSAL_SESSION: u64 = u64::MAX;

impl<S: StateMachine> Server<S> {
    /// How reports name this server: `NAME-ID (ROLE, term T)`, e.g. `raft-2 (leader, term 7)`
    /// (`Process::label` of every model that embeds a Raft server).
    pub fn label(&self, name: &str) -> String {
        let role = match self.role {
            Role::Leader => "leader",
            Role::Follower => "follower",
            Role::Candidate => "candidate",
        };
        format!("{name}-{} ({role}, term {})", self.id, self.term)
    }

    /// A boot image for server `id` of a cluster on processes `p0..p{servers-1}`.
    pub fn new(id: u32, config: Config) -> Server<S> {
        let members = (0..config.servers).map(ProcessId).collect();
        Server::with_members(id, members, config)
    }

    /// A boot image for server `id` of the cluster `members` (server `i` is process
    /// `members[i]`), for systems whose servers are not the first processes.
    pub fn with_members(id: u32, members: Vec<ProcessId>, config: Config) -> Server<S> {
        assert_eq!(
            members.len(),
            config.servers as usize,
            "one member per configured server"
        );
        assert!((id as usize) < members.len(), "server {id} is not a member");
        assert!(members.len() <= 64, "votes are a 64-bit mask");
        let n = config.servers as usize;
        Server {
            id,
            members,
            config,
            term: 0,
            voted_for: None,
            log: Vec::new(),
            hashes: Vec::new(),
            role: Role::Follower,
            leader: None,
            commit: 0,
            applied: 0,
            state: S::default(),
            sessions: BTreeMap::new(),
            votes: 0,
            next_index: vec![1; n],
            match_index: vec![0; n],
            acked: vec![None; n],
            term_start: 0,
            waiting: BTreeMap::new(),
            last_heard: Instant::ZERO,
            election_timer: None,
            heartbeat_timer: None,
            election_started: Instant::ZERO,
            outputs: None,
            recovered_term: None,
            durable: 0,
            sync_in_flight: false,
            unacked: Vec::new(),
        }
    }

    /// Keeps the output of every applied entry until [`Server::take_outputs`]: a host process
    /// that proposes commands itself learns when each index applied and what it returned.
    pub fn keep_outputs(mut self) -> Server<S> {
        self.outputs = Some(Vec::new());
        self
    }

    /// The outputs of the entries applied since the last call, by index, in order (empty
    /// unless [`Server::keep_outputs`] was asked for). Noops and deduplicated client
    /// retries yield nothing.
    pub fn take_outputs(&mut self) -> Vec<(u64, S::Output)> {
        self.outputs.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Whether this server leads and has applied every entry of earlier terms (its no-op
    /// applied): its state holds everything committed before its term, so it may act on it.
    pub fn established(&self) -> bool {
        self.role == Role::Leader && self.term_start > 0 && self.applied >= self.term_start
    }

    /// Appends `command` to the log if this server leads, and starts replicating it: the
    /// host's own proposal, without a client session. Returns its index; the host learns
    /// that it committed when that index shows up in [`Server::take_outputs`] while this
    /// server still leads the same term (a deposed leader's entry may commit or vanish).
    pub fn propose<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, command: S::Command) -> Option<u64> {
        if self.role != Role::Leader {
            return None;
        }
        let index = self.last_index() + 1;
        let entry = Entry {
            term: self.term,
            command: Command::Client {
                session: PROPOSAL_SESSION,
                seq: index,
                input: command,
            },
        };
        self.append_and_replicate(cx, entry);
        Some(index)
    }

    fn append_and_replicate<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, entry: Entry<S::Command>) {
        let last = self.last_index();
        self.store_entries(cx, last, &[entry]);
        let index = self.last_index();
        self.match_index[self.id as usize] = index;
        self.advance_commit(cx);
        for p in 0..self.config.servers {
            // Followers already sent everything before this entry get it now; the others
            // will get it with their pending catch-up or the next heartbeat.
            if p != self.id && self.next_index[p as usize] == index {
                self.send_append(cx, p);
            }
        }
    }

    /// Index of the last log entry (0 if empty).
    pub fn last_index(&self) -> u64 {
        self.log.len() as u64
    }

    /// Term of entry `index` (0 for index 0 or beyond the log).
    pub fn term_at(&self, index: u64) -> u64 {
        if index == 0 {
            0
        } else {
            self.log.get(index as usize - 1).map_or(0, |e| e.term)
        }
    }

    /// Hash of the log prefix up to `index` (0 for the empty prefix).
    pub fn hash_at(&self, index: u64) -> u64 {
        if index == 0 {
            0
        } else {
            self.hashes[index as usize - 1]
        }
    }

    fn majority(&self) -> u32 {
        self.config.servers / 2 + 1
    }

    /// The member index of process `p`, if it is a server of this cluster.
    fn index_of(&self, p: ProcessId) -> Option<u32> {
        // Fast path: servers are usually the first processes.
        if self.members.get(p.index()) == Some(&p) {
            return Some(p.0);
        }
        self.members.iter().position(|&m| m == p).map(|i| i as u32)
    }

    // ---- persistence ----

    fn persist_meta<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        // The bug: the vote stays in memory only.
        let vote = self.voted_for.filter(|_| !self.config.bugs.vote_not_persisted);
        let mut disk = cx.storage();
        disk.put(META, storage::encode_meta(self.term, vote));
        disk.sync();
        // The sync covers every earlier write of this process, log entries included.
        self.durable = self.last_index();
    }

    fn push_entry(&mut self, entry: Entry<S::Command>) {
        let h = storage::chain::<S>(self.hash_at(self.last_index()), &entry);
        self.log.push(entry);
        self.hashes.push(h);
    }

    /// Truncates the log after `keep` entries and appends `entries`, on disk too, then syncs.
    fn store_entries<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        keep: u64,
        entries: &[Entry<S::Command>],
    ) {
        let append_only = keep == self.last_index();
        let mut disk = cx.storage();
        for i in keep + 1..=self.last_index() {
            disk.delete(&storage::log_key(i));
        }
        self.log.truncate(keep as usize);
        self.hashes.truncate(keep as usize);
        for e in entries {
            self.push_entry(e.clone());
            disk.put(
                &storage::log_key(self.last_index()),
                storage::encode_entry::<S>(e),
            );
        }
        if self.config.async_persist && append_only {
            self.persist_in_background(cx);
        } else {
            // A truncation syncs at once: deletes and appends lost unevenly at a crash could
            // leave an older term's entry after a newer one.
            disk.sync();
            self.durable = self.last_index();
        }
    }

    fn recover<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        let mut disk = cx.storage();
        if self.config.async_persist {
            // After a process kill the page cache may still hold writes the last incarnation
            // never saw synced: make them durable before acknowledging anything they hold.
            disk.sync();
        }
        if let Some((term, vote)) = disk.get(META).and_then(storage::decode_meta) {
            self.term = term;
            self.voted_for = vote;
            self.recovered_term = Some(term);
        }
        let mut entries = Vec::new();
        while let Some(e) = disk
            .get(&storage::log_key(entries.len() as u64 + 1))
            .and_then(storage::decode_entry::<S>)
        {
            entries.push(e);
        }
        for e in entries {
            self.push_entry(e);
        }
        self.durable = self.last_index();
    }

    // ---- timers ----

    fn reset_election_timer<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        if let Some(t) = self.election_timer.take() {
            cx.cancel_timer(t);
        }
        let (lo, hi) = (
            self.config.election_timeout_min.0,
            self.config.election_timeout_max.0,
        );
        let mut after = Duration(cx.random().range_inclusive(lo, hi));
        // A timer that fires far too early (a scheduler hiccup, a stepped clock): an election
        // nobody needed, which Raft must survive.
        if cx.buggify("raft.spurious_election_timeout") {
            after = Duration(lo / 8);
        }
        self.election_timer = Some(cx.set_timer(after, Timer::Election));
    }

    fn arm_heartbeat<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        if let Some(t) = self.heartbeat_timer.take() {
            cx.cancel_timer(t);
        }
        self.heartbeat_timer = Some(cx.set_timer(self.config.heartbeat_interval, Timer::Heartbeat));
    }

    // ---- handlers ----

    /// Boots (or reboots after a crash) from durable storage.
    pub fn on_start<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        self.recover(cx);
        // Lease mode: a restarted server does not know when it last heard from a leader, so it
        // assumes just now and withholds votes for one election timeout.
        self.last_heard = cx.now();
        self.reset_election_timer(cx);
    }

    /// Handles one of its timers (client timers are ignored).
    pub fn on_timer<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, timer: Timer) {
        match timer {
            Timer::Election => {
                self.election_timer = None;
                if self.role != Role::Leader {
                    self.start_election(cx);
                }
            }
            Timer::Heartbeat => {
                self.heartbeat_timer = None;
                match self.role {
                    Role::Leader => {
                        for p in 0..self.config.servers {
                            if p != self.id {
                                self.send_append(cx, p);
                            }
                        }
                        self.arm_heartbeat(cx);
                    }
                    Role::Candidate => {
                        for p in 0..self.config.servers {
                            if p != self.id && self.votes & (1 << p) == 0 {
                                self.request_vote(cx, p);
                            }
                        }
                        self.arm_heartbeat(cx);
                    }
                    Role::Follower => {}
                }
            }
            Timer::Persisted { index, term } => self.on_persisted(cx, index, term),
            Timer::ClientNext | Timer::ClientTimeout { .. } | Timer::ClientRetry { .. } => {}
        }
    }

    /// Handles a message from a peer server or a client.
    pub fn on_message<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        from: ProcessId,
        message: MessageOf<S>,
    ) {
        if let Message::Request { session, seq, input } = message {
            self.on_request(cx, from, session, seq, input);
            return;
        }
        // Everything else is server to server: ignore anything from outside the cluster.
        let Some(peer) = self.index_of(from) else {
            return;
        };
        match message {
            Message::RequestVote {
                term,
                last_index,
                last_term,
            } => self.on_request_vote(cx, peer, term, last_index, last_term),
            Message::Vote { term, granted } => self.on_vote(cx, peer, term, granted),
            Message::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
                sent_at,
            } => self.on_append(cx, peer, term, prev_index, prev_term, &entries, commit, sent_at),
            Message::AppendReply {
                term,
                success,
                match_index,
                sent_at,
            } => self.on_append_reply(cx, peer, term, success, match_index, sent_at),
            Message::Request { .. } | Message::Reply { .. } => {}
        }
    }

    /// Adopts a newer term as follower.
    fn observe_term<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, term: u64) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.leader = None;
            self.persist_meta(cx);
            self.step_down(cx);
        }
    }

    fn step_down<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        if self.role == Role::Leader {
            // Requests already appended may still commit under the next leader.
            for (_, (client, session, seq)) in std::mem::take(&mut self.waiting) {
                cx.send(
                    client,
                    Message::Reply {
                        session,
                        seq,
                        answer: Answer::Lost,
                    },
                );
            }
        }
        if self.role != Role::Follower {
            self.role = Role::Follower;
            if let Some(t) = self.heartbeat_timer.take() {
                cx.cancel_timer(t);
            }
            self.reset_election_timer(cx);
        }
    }

    fn start_election<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        self.term += 1;
        self.role = Role::Candidate;
        self.voted_for = Some(self.id);
        self.leader = None;
        self.votes = 1 << self.id;
        self.election_started = cx.now();
        self.persist_meta(cx);
        cx.count("raft.elections", 1);
        cx.observe_timed(super::availability::ELECTION_ROUND, self.term);
        self.reset_election_timer(cx);
        if self.votes.count_ones() >= self.majority() {
            self.become_leader(cx);
            return;
        }
        for p in 0..self.config.servers {
            if p != self.id {
                self.request_vote(cx, p);
            }
        }
        self.arm_heartbeat(cx);
    }

    fn request_vote<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, to: u32) {
        cx.send(
            self.members[to as usize],
            Message::RequestVote {
                term: self.term,
                last_index: self.last_index(),
                last_term: self.term_at(self.last_index()),
            },
        );
    }

    fn on_request_vote<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        peer: u32,
        term: u64,
        last_index: u64,
        last_term: u64,
    ) {
        if self.config.read_mode == ReadMode::Lease && term > self.term {
            // Leader stickiness: while a leader's lease may be running, refuse to help depose it.
            let quiet = cx.now().saturating_since(self.last_heard);
            if self.role == Role::Leader || quiet < self.config.election_timeout_min {
                cx.send(
                    self.members[peer as usize],
                    Message::Vote {
                        term: self.term,
                        granted: false,
                    },
                );
                return;
            }
        }
        self.observe_term(cx, term);
        // The window of `vote_not_persisted`: asked for a vote in the very term this
        // incarnation read back from disk, whose vote a buggy server forgot.
        cx.sometimes(
            "raft.vote_requested_in_recovered_term",
            term == self.term && self.recovered_term == Some(term),
        );
        let my_last_term = self.term_at(self.last_index());
        let up_to_date =
            last_term > my_last_term || (last_term == my_last_term && last_index >= self.last_index());
        let granted = term == self.term && self.voted_for.is_none_or(|v| v == peer) && up_to_date;
        if granted {
            if self.voted_for.is_none() {
                self.voted_for = Some(peer);
                self.persist_meta(cx);
            }
            self.reset_election_timer(cx);
        }
        if cx.buggify("raft.dropped_vote_reply") {
            return;
        }
        cx.send(
            self.members[peer as usize],
            Message::Vote {
                term: self.term,
                granted,
            },
        );
    }

    fn on_vote<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, peer: u32, term: u64, granted: bool) {
        self.observe_term(cx, term);
        if self.role != Role::Candidate || term != self.term || !granted {
            return;
        }
        self.votes |= 1 << peer;
        if self.votes.count_ones() >= self.majority() {
            self.become_leader(cx);
        }
    }

    fn become_leader<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        if let Some(t) = self.election_timer.take() {
            cx.cancel_timer(t);
        }
        cx.count("raft.leaders_elected", 1);
        let code = super::availability::leader_code(cx.host(), cx.id());
        cx.observe_timed(super::availability::LEADER_ELECTED, code);
        cx.observe(
            "raft.election_ns",
            cx.now().saturating_since(self.election_started).0,
        );
        cx.note(&format!("leader of term {}", self.term));
        let last = self.last_index();
        // The window of `commit_previous_term`: a new leader holding entries of earlier
        // terms that are not known committed.
        cx.sometimes(
            "raft.leader_with_uncommitted_entries_of_earlier_terms",
            last > self.commit,
        );
        self.next_index.iter_mut().for_each(|n| *n = last + 1);
        self.match_index.iter_mut().for_each(|m| *m = 0);
        self.acked.iter_mut().for_each(|a| *a = None);
        if self.config.leader_noop {
            let noop = Entry {
                term: self.term,
                command: Command::Noop,
            };
            self.store_entries(cx, last, &[noop]);
        }
        self.term_start = last + 1;
        self.match_index[self.id as usize] = self.last_index();
        self.advance_commit(cx);
        for p in 0..self.config.servers {
            if p != self.id {
                self.send_append(cx, p);
            }
        }
        self.arm_heartbeat(cx);
    }

    fn send_append<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>, to: u32) {
        let next = self.next_index[to as usize].clamp(1, self.last_index() + 1);
        let end = self
            .last_index()
            .min(next - 1 + u64::from(self.config.max_entries_per_append));
        let entries = self.log[next as usize - 1..end as usize].to_vec();
        // Optimistic: assume delivery; a rejection resets it.
        self.next_index[to as usize] = end + 1;
        cx.send(
            self.members[to as usize],
            Message::Append {
                term: self.term,
                prev_index: next - 1,
                prev_term: self.term_at(next - 1),
                entries,
                commit: self.commit,
                sent_at: cx.now(),
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        peer: u32,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: &[Entry<S::Command>],
        commit: u64,
        sent_at: Instant,
    ) {
        if term < self.term {
            let reply = Message::AppendReply {
                term: self.term,
                success: false,
                match_index: 0,
                sent_at,
            };
            cx.send(self.members[peer as usize], reply);
            return;
        }
        self.observe_term(cx, term);
        if self.role != Role::Follower {
            self.step_down(cx);
        }
        self.leader = Some(peer);
        self.last_heard = cx.now();
        self.reset_election_timer(cx);
        let reject = |server: &Self, cx: &mut Cx<'_, '_, P, S>, hint: u64| {
            let reply = Message::AppendReply {
                term: server.term,
                success: false,
                match_index: hint,
                sent_at,
            };
            cx.send(server.members[peer as usize], reply);
        };
        if prev_index > self.last_index() {
            reject(self, cx, self.last_index());
            return;
        }
        if self.term_at(prev_index) != prev_term {
            // Skip back over the whole conflicting term.
            let conflict = self.term_at(prev_index);
            let mut i = prev_index;
            while i > 1 && self.term_at(i - 1) == conflict {
                i -= 1;
            }
            reject(self, cx, i - 1);
            return;
        }
        // Find the first entry that is new or conflicts; keep everything before it.
        let mut skip = 0;
        while skip < entries.len() {
            let index = prev_index + 1 + skip as u64;
            if index > self.last_index() || self.term_at(index) != entries[skip].term {
                break;
            }
            skip += 1;
        }
        if skip < entries.len() {
            let keep = prev_index + skip as u64;
            self.store_entries(cx, keep, &entries[skip..]);
        }
        let last_new = prev_index + entries.len() as u64;
        if commit > self.commit {
            self.commit = commit.min(last_new).max(self.commit);
            self.apply(cx);
        }
        let reply = Message::AppendReply {
            term: self.term,
            success: true,
            match_index: last_new,
            sent_at,
        };
        if cx.buggify("raft.dropped_append_reply") {
            return;
        }
        if self.config.async_persist && last_new > self.durable {
            self.unacked.push(PendingAck {
                peer,
                term: self.term,
                match_index: last_new,
                sent_at,
            });
            return;
        }
        cx.send(self.members[peer as usize], reply);
    }

    fn on_append_reply<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        peer: u32,
        term: u64,
        success: bool,
        match_index: u64,
        sent_at: Instant,
    ) {
        self.observe_term(cx, term);
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let p = peer as usize;
        if success {
            self.match_index[p] = self.match_index[p].max(match_index);
            self.next_index[p] = self.next_index[p].max(match_index + 1);
            self.acked[p] = Some(self.acked[p].map_or(sent_at, |a| a.max(sent_at)));
            self.advance_commit(cx);
            if self.match_index[p] < self.last_index() && self.next_index[p] <= self.last_index() {
                self.send_append(cx, peer);
            }
        } else {
            self.next_index[p] = (match_index + 1).max(self.match_index[p] + 1);
            self.send_append(cx, peer);
        }
    }

    fn advance_commit<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        let mut matches = self.match_index.clone();
        // With background syncs a leader counts itself only for what its own disk holds.
        matches[self.id as usize] = if self.config.async_persist {
            self.durable.min(self.last_index())
        } else {
            self.last_index()
        };
        matches.sort_unstable_by(|a, b| b.cmp(a));
        let candidate = matches[self.majority() as usize - 1];
        let ours = self.term_at(candidate) == self.term;
        if candidate > self.commit && (ours || self.config.bugs.commit_previous_term) {
            cx.count("raft.entries_committed", candidate - self.commit);
            self.commit = candidate;
            self.apply(cx);
        }
    }

    fn apply<P: Process>(&mut self, cx: &mut Cx<'_, '_, P, S>) {
        while self.applied < self.commit {
            self.applied += 1;
            let Command::Client {
                session,
                seq,
                ref input,
            } = self.log[self.applied as usize - 1].command
            else {
                continue;
            };
            if session == PROPOSAL_SESSION {
                let out = self.state.apply(input);
                if let Some(outputs) = self.outputs.as_mut() {
                    outputs.push((self.applied, out));
                }
                continue;
            }
            let output = match self.sessions.get(&session) {
                Some((last, out)) if *last == seq => Some(out.clone()),
                Some((last, _)) if *last > seq => None,
                _ => {
                    let out = self.state.apply(input);
                    self.sessions.insert(session, (seq, out.clone()));
                    if let Some(outputs) = self.outputs.as_mut() {
                        outputs.push((self.applied, out.clone()));
                    }
                    Some(out)
                }
            };
            if let Some((client, s, q)) = self.waiting.remove(&self.applied) {
                let answer = match output {
                    Some(out) if s == session && q == seq => Answer::Done(out),
                    _ => Answer::Lost,
                };
                cx.send(
                    client,
                    Message::Reply {
                        session: s,
                        seq: q,
                        answer,
                    },
                );
            }
        }
    }

    fn lease_valid(&self, now: Instant) -> bool {
        let mut starts: Vec<Instant> = (0..self.config.servers as usize)
            .map(|p| {
                if p == self.id as usize {
                    now
                } else {
                    self.acked[p].unwrap_or(Instant::ZERO)
                }
            })
            .collect();
        starts.sort_unstable_by(|a, b| b.cmp(a));
        let start = starts[self.majority() as usize - 1];
        if start == Instant::ZERO {
            return false;
        }
        let margin = if self.config.bugs.lease_without_drift_margin {
            0
        } else {
            self.config.lease_drift_margin_ppm
        };
        let lease = Duration(
            (u128::from(self.config.election_timeout_min.0) * u128::from(1_000_000 - margin) / 1_000_000)
                as u64,
        );
        now < start.saturating_add(lease)
    }

    fn on_request<P: Process>(
        &mut self,
        cx: &mut Cx<'_, '_, P, S>,
        from: ProcessId,
        session: u64,
        seq: u64,
        input: S::Command,
    ) {
        if self.role != Role::Leader {
            let hint = self.leader.filter(|&l| l != self.id);
            cx.send(
                from,
                Message::Reply {
                    session,
                    seq,
                    answer: Answer::NotLeader { hint },
                },
            );
            return;
        }
        match self.sessions.get(&session) {
            Some((last, out)) if *last == seq => {
                let answer = Answer::Done(out.clone());
                cx.send(from, Message::Reply { session, seq, answer });
                return;
            }
            Some((last, _)) if *last > seq => return,
            _ => {}
        }
        // A read-only command may be answered from local state, when that is safe (or when
        // the stale-read bug says so).
        if let Some(output) = self.state.read(&input) {
            let local = if self.config.bugs.stale_read_deposed_leader {
                true
            } else {
                self.config.read_mode == ReadMode::Lease
                    && self.applied >= self.term_start
                    && self.lease_valid(cx.now())
            };
            if local {
                cx.count("raft.local_reads", 1);
                cx.sometimes("raft.local_read_served", true);
                let answer = Answer::Done(output);
                cx.send(from, Message::Reply { session, seq, answer });
                return;
            }
        }
        let entry = Entry {
            term: self.term,
            command: Command::Client { session, seq, input },
        };
        let last = self.last_index();
        self.store_entries(cx, last, &[entry]);
        let index = self.last_index();
        self.waiting.insert(index, (from, session, seq));
        self.match_index[self.id as usize] = index;
        self.advance_commit(cx);
        for p in 0..self.config.servers {
            // Followers already sent everything before this entry get it now; the others
            // will get it with their pending catch-up or the next heartbeat.
            if p != self.id && self.next_index[p as usize] == index {
                self.send_append(cx, p);
            }
        }
    }
}
