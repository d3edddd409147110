//! A Raft server: election, replication, commit, persistence, and applying committed commands
//! to a pluggable [`StateMachine`].
//!
//! The server is a component: its handlers take a [`Scope`] over any host process `P`, so the
//! same code runs as the standalone Raft model and inside a larger system's process enum.

use super::state_machine::KvStore;
use super::{Command, Config, Entry, Message, MessageOf, StateMachine, Timer};
use ruckus_sim::{Instant, Process, ProcessId, Scope, TimerId};
use std::collections::BTreeMap;

mod election;
mod log;
mod persist;
mod replication;
mod requests;
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
}
