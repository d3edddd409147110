//! Raft with a pluggable replicated state machine, clients whose histories are checked for
//! linearizability, and switches that re-introduce classic Raft bugs.
//!
//! Raft is a component: [`Server`] and [`Client`] are written once against a
//! [`ruckus_sim::Scope`] over the component's own [`Message`] and [`Timer`] types, generic over
//! the [`StateMachine`] they replicate and over the host process, so a larger system embeds them
//! as variants of its own process and message enums (see `crate::compose`). [`server_properties`],
//! [`leader_and_progress_after_heal`] and [`check_history_against`] give such a system the same
//! checks.
//!
//! The standalone model replicates the key-value store ([`KvStore`]). One process type,
//! [`Raft`], covers both roles: servers `p0..p{servers-1}` on hosts `0..servers`, then clients,
//! spread round-robin over every host of the topology.
//!
//! - **Servers** ([`Server`]) elect a leader with randomized timeouts drawn from their own
//!   random stream, replicate a log, commit by majority, and apply committed entries to the
//!   state machine (here a key-value map: get, put, compare-and-set) with per-client-session deduplication, so retried
//!   requests take effect at most once. Term, vote and log are written to the host's durable
//!   storage and synced before the server replies; `on_start` reads them back, so a restarted
//!   server resumes where its disk left it. Reads go through the log by default; with
//!   [`ReadMode::Lease`] a leader serves reads locally while a majority-confirmed lease, shortened
//!   by a clock-drift margin, lasts (followers refuse votes while they hear from a leader).
//! - **Clients** ([`Client`]) run closed-loop (one operation at a time) or open-loop (Poisson
//!   arrivals), as mixed, read-only or write-only ([`ClientRole`]) workloads, with a per-attempt
//!   timeout, retries against other servers, and a bounded number of attempts. Each operation is
//!   recorded in the history as an invocation and a completion (ok, failed, or unknown outcome).
//!
//! [`properties`] returns the invariants (election safety, log matching, leader completeness,
//! state machine safety, committed entries never lost), linearizability of the client history
//! (at the end of the run, and every [`Config::check_every`] if set), and liveness after the
//! heal. A linearizability check that runs out of budget fails as *inconclusive* (message
//! starting with [`INCONCLUSIVE`]) unless [`Config::allow_inconclusive_check`] is set: an
//! unchecked history must not pass as a checked one. [`Bugs`] holds the switches.
//!
//! ## Finding the bugs
//!
//! Each switch has a hunt (config and fault profile, in `tests.rs`: `bug_hunt`) that makes its
//! window likely without weakening the bug; with the switch off the same hunt holds.
//!
//! | bug | catches it | hunt | seeds failing (of 200) |
//! |-----|------------|------|------------------------|
//! | `stale_read_deposed_leader` | `linearizable` | 3 servers, `writers = 3`, `readers_per_host = 1`, `keys = 1`, client timeout 50 ms; partitions every 200 ms (200-800 ms); 6 s | 81 (first: seed 0) |
//! | `vote_not_persisted` | `election_safety` | 3 servers, `clients = 0`, `writers = 1`, election timeout 40-50 ms, heartbeat 10 ms; crashes (1-30 ms) every 50 ms, process kills (1-30 ms) every 30 ms, partitions, clogs, slow links, `max_hosts_down = 2`; 20 s | 44 (first: seed 10) |
//! | `commit_previous_term` | `leader_completeness` | as above with `leader_noop = false`, election timeout 40-80 ms, crashes 2-100 ms every 150 ms, partitions 20-150 ms every 50 ms, clogs and slow links every 200 ms; 60 s | 38 (first: seed 0) |
//! | `lease_without_drift_margin` | `linearizable` | the stale-read workload with `read_mode = "lease"`, election timeout 300-330 ms, heartbeat 20 ms, clock drift up to 30% (each host re-drawn every ~100 ms); 6 s | 8 (first: seed 36) |
//!
//! Measured with `cargo test -p ruckus-models --release -- --ignored --nocapture bug_seed_counts`
//! (which also shows 0 of 200 failing with each switch off). Failing runs shrink with the
//! engine's ddmin to 1 fault (stale read: the leader's partition), 2 (lease: a slow clock on
//! the leader, then its partition), 3 (vote: a crash, a bridge partition, a 16 us kill of the
//! voter) and 20 (Figure 8: a chain of leader changes); `shrink_every_bug` reproduces them and
//! the `pinned_*` tests replay them.
//!
//! What makes each window likely: a forgotten vote matters only between two candidates of one
//! term, so a narrow election-timeout range (split votes) and very short process kills (the
//! voter restarts within the same election). Figure 8 needs a chain of leaders that append and
//! are cut off before replicating: short timeouts and dense short faults give hundreds of
//! leader changes per run, and a single writer keeps entries coming without flooding the new
//! leader's first round. Stale reads need a reader next to the cut-off leader and one hot key.
//! The lease window is the election timeout times `1/(1-d) - 1/(1+d)` for drift `d`, so a long
//! timeout and large drift make it hundreds of milliseconds; a correct lease then needs a
//! margin of at least `2d/(1+d)` (46% at 30%: the switched-off hunt uses 50%).

#[cfg(test)]
mod async_persist_tests;
pub mod availability;
mod client;
mod export;
mod invariants;
mod model;
mod operations;
mod server;
mod state_machine;
mod storage;
#[cfg(test)]
mod tests;

pub use client::{Client, ClientRole, Completion, KvWorkload, Submitted, Workload};
pub use export::{AsClientOp, client_history, client_history_in};
pub use invariants::{
    INCONCLUSIVE, Unexplained, check_history, check_history_against, check_history_located,
    check_linearizable_in, history_of, leader_and_progress_after_heal, server_properties,
};
pub use model::{PROBES, RaftModel, SERVER_PROBES};
pub use operations::{operation_spans, operation_spans_in, outcome_of};
pub use server::{PROPOSAL_SESSION, Role, Server};
pub use state_machine::{KvStore, StateMachine};

use crate::linearizability::Outcome;
use crate::linearizability::kv::{KvInput, KvOutput};
use crate::services::SharedSchedule;
use ruckus_sim::{
    Context, Distribution, Duration, HistoryEntry, HostId, Instant, OperationSpan, Process, ProcessId,
    Property, Sim, Topology,
};
use serde::{Deserialize, Serialize};

/// How a leader serves reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadMode {
    /// Reads are log entries like writes: always linearizable, one replication round each.
    #[default]
    Log,
    /// A leader holding a majority-confirmed lease answers reads from its own state. Safe while
    /// clock drift stays within the margin and clocks do not jump.
    Lease,
}

/// Switches that re-introduce known Raft bugs, so the simulator can be shown to find them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Bugs {
    /// The term is synced but the vote is not written before the vote reply (nor after): a
    /// server that restarts forgets whom it voted for and can vote twice in one term, so a
    /// term can get two leaders.
    pub vote_not_persisted: bool,
    /// The leader commits any entry a majority stores, even from an earlier term (the "Figure 8"
    /// bug): such an entry can later be overwritten, losing a committed write.
    pub commit_previous_term: bool,
    /// Lease reads use the full election timeout as the lease, with no allowance for clock
    /// drift: a slow leader clock outlives the lease its followers grant.
    pub lease_without_drift_margin: bool,
    /// A leader answers reads from its own state without confirming it is still leader: a
    /// deposed leader cut off from the majority serves stale values.
    pub stale_read_deposed_leader: bool,
}

/// Parameters of a Raft run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Number of servers (one per host, hosts `0..servers`).
    pub servers: u32,
    /// Number of mixed clients (reads and writes; spread round-robin over all hosts).
    pub clients: u32,
    /// Number of write-only clients (spread round-robin over all hosts, after the mixed ones):
    /// a dedicated writer keeps entries flowing, which is what commit bugs need.
    pub writers: u32,
    /// Number of read-only clients on every host: a reader next to each server catches one
    /// that answers reads it should not (a deposed leader, an expired lease).
    pub readers_per_host: u32,
    /// Clients invoke operations at Poisson arrival times (from their own random stream)
    /// instead of one at a time: load keeps coming while the cluster struggles.
    pub open_loop: bool,
    /// Open loop: mean time between one client's arrivals.
    pub open_loop_mean_interval: Duration,
    /// Open loop: how each client's arrival rate changes over the run: steps `{ at, rate }`
    /// and ramps `{ at, ramp_to, over }` in operations per second, starting from one per
    /// `open_loop_mean_interval`; arrivals stay Poisson on the changing rate. Empty:
    /// the rate never changes.
    #[serde(skip_serializing_if = "SharedSchedule::is_empty")]
    pub schedule: SharedSchedule,
    /// Open loop: most operations one client has outstanding; further arrivals are shed
    /// (counted in `raft.client.shed`, never invoked).
    pub open_loop_max_outstanding: u32,
    /// Number of distinct keys clients use (fewer keys: more contention).
    pub keys: u32,
    /// Shortest election timeout (local clock).
    pub election_timeout_min: Duration,
    /// Longest election timeout (local clock).
    pub election_timeout_max: Duration,
    /// How often a leader sends heartbeats (and a candidate re-asks for missing votes).
    pub heartbeat_interval: Duration,
    /// Most log entries in one append message.
    pub max_entries_per_append: u32,
    /// A new leader appends an empty entry so earlier-term entries commit promptly. Lease reads
    /// need it (a leader serves reads only once an entry of its own term has been applied).
    pub leader_noop: bool,
    /// How reads are served.
    pub read_mode: ReadMode,
    /// Lease shortening for clock drift, in parts per million of the election timeout.
    pub lease_drift_margin_ppm: u64,
    /// How long a client waits for one attempt.
    pub client_timeout: Duration,
    /// Attempts (timeouts) before a client gives up with an unknown outcome.
    pub client_attempts: u32,
    /// Percentage of client operations that are reads (the rest: 2/3 puts, 1/3 compare-and-sets).
    pub read_percent: u32,
    /// Longest pause between a client's operations (uniform from zero).
    pub client_think_time: Duration,
    /// After the heal, a leader must exist and a client operation complete within this bound.
    pub liveness_within: Duration,
    /// Step budget of each linearizability check.
    pub check_max_steps: u64,
    /// Also check linearizability of the history so far every this often (true time), so a
    /// violation stops the run near its cause; `None`: only at the end.
    pub check_every: Option<Duration>,
    /// A check that exhausts its budget is inconclusive. By default that fails the
    /// `linearizable` property with an "inconclusive" message; set this to let it pass.
    pub allow_inconclusive_check: bool,
    /// Persist appended entries with a background sync (`Context::sync_async`) instead of a
    /// blocking one: a follower answers an append only once its sync completed, a leader
    /// counts itself toward the commit quorum only once its own sync did, and a sync in
    /// flight covers what was written before it (later entries wait for the next: group
    /// commit). Term and vote, and a log truncation, still sync before the server goes on.
    /// Off: every write syncs at once (the handler stalls for the disk's latency).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub async_persist: bool,
    /// Bug switches (all off: a correct Raft).
    pub bugs: Bugs,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            servers: 5,
            clients: 5,
            writers: 0,
            readers_per_host: 0,
            open_loop: false,
            open_loop_mean_interval: Duration::from_millis(20),
            schedule: SharedSchedule::default(),
            open_loop_max_outstanding: 16,
            keys: 3,
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            heartbeat_interval: Duration::from_millis(50),
            max_entries_per_append: 64,
            leader_noop: true,
            read_mode: ReadMode::Log,
            lease_drift_margin_ppm: 250_000,
            client_timeout: Duration::from_millis(400),
            client_attempts: 5,
            read_percent: 40,
            client_think_time: Duration::from_millis(10),
            liveness_within: Duration::from_secs(4),
            check_max_steps: 50_000_000,
            check_every: None,
            allow_inconclusive_check: false,
            async_persist: false,
            bugs: Bugs::default(),
        }
    }
}

impl Config {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        if self.servers == 0 {
            return Err("servers must be at least 1".into());
        }
        if self.keys == 0 {
            return Err("keys must be at least 1".into());
        }
        if !self.schedule.is_empty() && !self.open_loop {
            return Err("schedule changes open-loop clients' rate: it needs open_loop = true".into());
        }
        if self.election_timeout_min == Duration::ZERO {
            return Err("election_timeout_min must be positive".into());
        }
        if self.election_timeout_min > self.election_timeout_max {
            return Err(format!(
                "election_timeout_min ({}) is larger than election_timeout_max ({})",
                self.election_timeout_min, self.election_timeout_max
            ));
        }
        if self.heartbeat_interval == Duration::ZERO || self.heartbeat_interval >= self.election_timeout_min {
            return Err(format!(
                "heartbeat_interval ({}) must be positive and below election_timeout_min ({})",
                self.heartbeat_interval, self.election_timeout_min
            ));
        }
        if self.max_entries_per_append == 0 {
            return Err("max_entries_per_append must be at least 1".into());
        }
        if self.read_mode == ReadMode::Lease && !self.leader_noop {
            return Err("read_mode = \"lease\" needs leader_noop = true".into());
        }
        if self.lease_drift_margin_ppm >= 1_000_000 {
            return Err("lease_drift_margin_ppm must be below 1000000".into());
        }
        if self.read_percent > 100 {
            return Err(format!(
                "read_percent must be at most 100, got {}",
                self.read_percent
            ));
        }
        if self.client_timeout == Duration::ZERO || self.client_attempts == 0 {
            return Err("client_timeout and client_attempts must be positive".into());
        }
        if self.open_loop
            && (self.open_loop_mean_interval == Duration::ZERO || self.open_loop_max_outstanding == 0)
        {
            return Err(
                "open_loop needs a positive open_loop_mean_interval and open_loop_max_outstanding".into(),
            );
        }
        if self.check_every == Some(Duration::ZERO) {
            return Err("check_every must be positive (or absent)".into());
        }
        Ok(())
    }

    /// A single-switch topology with one host per server, latency uniform 1..=5 ms.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.servers,
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        )
    }
}

/// A replicated command: what the log holds, for commands `C` of the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Command<C = KvInput> {
    /// A new leader's empty entry.
    Noop,
    /// A client request, identified by session and sequence number for deduplication.
    Client {
        /// The client session.
        session: u64,
        /// The request's sequence number within the session.
        seq: u64,
        /// The state machine command.
        input: C,
    },
}

/// A log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Entry<C = KvInput> {
    /// The term of the leader that created it.
    pub term: u64,
    /// What it does.
    pub command: Command<C>,
}

/// A server's answer to a client, for outputs `O` of the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer<O = KvOutput> {
    /// Applied (or read) with this result.
    Done(O),
    /// This server is not the leader; it may know who is (an index into the members). Nothing
    /// was appended.
    NotLeader {
        /// The leader this server last heard from.
        hint: Option<u32>,
    },
    /// The server lost leadership after appending the request: it may still commit.
    Lost,
}

/// What Raft servers and their clients send each other: the component's message type, for
/// commands `C` and outputs `O` of the replicated state machine (the key-value store by default).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Message<C = KvInput, O = KvOutput> {
    /// A candidate asks for a vote.
    RequestVote {
        /// The candidate's term.
        term: u64,
        /// Index of its last log entry.
        last_index: u64,
        /// Term of its last log entry.
        last_term: u64,
    },
    /// A vote reply.
    Vote {
        /// The voter's term.
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// A leader replicates entries (or just heartbeats).
    Append {
        /// The leader's term.
        term: u64,
        /// Index of the entry before `entries`.
        prev_index: u64,
        /// Its term.
        prev_term: u64,
        /// Entries to store after `prev_index`.
        entries: Vec<Entry<C>>,
        /// The leader's commit index.
        commit: u64,
        /// The leader's clock when sent (echoed back, for leases).
        sent_at: Instant,
    },
    /// A follower's answer to `Append`.
    AppendReply {
        /// The follower's term.
        term: u64,
        /// Whether the entries were stored.
        success: bool,
        /// On success the last index stored; on failure where the leader should resume.
        match_index: u64,
        /// The `sent_at` of the append this answers.
        sent_at: Instant,
    },
    /// A client request.
    Request {
        /// The client session.
        session: u64,
        /// Sequence number within the session.
        seq: u64,
        /// The request.
        input: C,
    },
    /// A server's answer to `Request`.
    Reply {
        /// The request's session (a restarted client must not take its predecessor's answers).
        session: u64,
        /// The request's sequence number.
        seq: u64,
        /// The answer.
        answer: Answer<O>,
    },
}

/// The message type of a Raft cluster replicating `S`.
pub type MessageOf<S> = Message<<S as StateMachine>::Command, <S as StateMachine>::Output>;

/// The component's timers (servers and clients share one type, so a system embeds Raft with
/// one timer variant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Timer {
    /// A follower or candidate heard from no leader in time.
    Election,
    /// A leader's heartbeat round (a candidate's vote re-request).
    Heartbeat,
    /// A client starts its next operation.
    ClientNext,
    /// A client attempt timed out.
    ClientTimeout {
        /// The operation.
        seq: u64,
        /// The attempt.
        attempt: u32,
    },
    /// A client retries after a redirect without a hint.
    ClientRetry {
        /// The operation.
        seq: u64,
    },
    /// A server's background sync completed (`Config::async_persist`): the log up to
    /// `index` (which held an entry of `term` when the sync was issued) is durable.
    Persisted {
        /// The last entry the sync covers.
        index: u64,
        /// That entry's term.
        term: u64,
    },
}

/// What clients record in the history, for commands `C` and outputs `O`. A system that embeds
/// clients records these through `From<Record<C, O>>` on its own operation type.
#[derive(Clone, Debug, PartialEq)]
pub enum Record<C = KvInput, O = KvOutput> {
    /// An operation was invoked.
    Invoke {
        /// The client session.
        session: u64,
        /// Sequence number within the session.
        seq: u64,
        /// The request.
        input: C,
    },
    /// An operation ended.
    Complete {
        /// The client session.
        session: u64,
        /// Sequence number within the session.
        seq: u64,
        /// How it ended.
        outcome: Outcome<O>,
    },
}

/// The history record type of clients of a cluster replicating `S`.
pub type RecordOf<S> = Record<<S as StateMachine>::Command, <S as StateMachine>::Output>;

/// The standalone Raft model's process: a server or a client of the key-value store. Both
/// roles are the embeddable components ([`Server`], [`Client`]) run through
/// `ctx.scope(|m| m, |t| t)`: this model's message and timer types are the component's own.
// One value per process, stored in place and never moved per event: boxing the server would
// only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum Raft {
    /// A replica.
    Server(Server),
    /// A client.
    Client(Client),
}

impl Raft {
    /// The server state, if this is a server.
    pub fn as_server(&self) -> Option<&Server> {
        match self {
            Raft::Server(s) => Some(s),
            Raft::Client(_) => None,
        }
    }
}

impl Process for Raft {
    type Message = Message;
    type Timer = Timer;
    type Operation = Record;

    /// Roles for role-targeted faults: `server` and `client`, and a server's current role
    /// `leader`, `follower` or `candidate` (a deposed leader that has not heard of the newer
    /// term still answers `leader`).
    fn has_role(&self, role: &str) -> bool {
        match self {
            Raft::Server(s) => match role {
                "server" => true,
                "leader" => s.role == Role::Leader,
                "follower" => s.role == Role::Follower,
                "candidate" => s.role == Role::Candidate,
                _ => false,
            },
            Raft::Client(_) => role == "client",
        }
    }

    /// The clients' operations, each invocation paired with its completion.
    fn operations(history: &[HistoryEntry<Record>]) -> Vec<OperationSpan> {
        operation_spans(history)
    }

    /// The clients' operations in the `kv` model's terms, for `ruckus check` on a trace.
    fn client_history(history: &[HistoryEntry<Record>]) -> Vec<ruckus_sim::ClientOp> {
        client_history(history)
    }

    /// `raft-N (leader, term T)` for server N, `client` for a client.
    fn label(&self) -> Option<String> {
        Some(match self {
            Raft::Server(s) => s.label("raft"),
            Raft::Client(_) => "client".into(),
        })
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let mut cx = ctx.scope(|m| m, |t| t);
        match self {
            Raft::Server(s) => s.on_start(&mut cx),
            Raft::Client(c) => c.on_start(&mut cx),
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: Message) {
        let mut cx = ctx.scope(|m| m, |t| t);
        match self {
            Raft::Server(s) => s.on_message(&mut cx, from, message),
            Raft::Client(c) => {
                c.on_message(&mut cx, from, message);
            }
        }
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: Timer) {
        let mut cx = ctx.scope(|m| m, |t| t);
        match self {
            Raft::Server(s) => s.on_timer(&mut cx, timer),
            Raft::Client(c) => {
                c.on_timer(&mut cx, timer);
            }
        }
    }
}

/// Places servers on hosts `0..servers` (processes `p0..`), then the mixed clients and the
/// writers round-robin over all hosts, then `readers_per_host` readers on every host.
///
/// Panics with [`Config::validate`]'s message on a bad config, or if the topology has fewer
/// hosts than servers; callers taking user input should validate first.
pub fn setup(sim: &mut Sim<Raft>, config: &Config) {
    if let Err(e) = config.validate() {
        panic!("invalid raft config: {e}");
    }
    let hosts = sim.hosts().len() as u32;
    assert!(
        hosts >= config.servers,
        "raft needs one host per server: {} servers, {hosts} hosts",
        config.servers
    );
    for i in 0..config.servers {
        let id = sim.spawn(HostId(i), Raft::Server(Server::new(i, config.clone())));
        debug_assert_eq!(id, ProcessId(i));
    }
    for i in 0..config.clients {
        sim.spawn(HostId(i % hosts), Raft::Client(Client::new(config.clone())));
    }
    for i in 0..config.writers {
        let client = Client::with_role(config.clone(), ClientRole::Writer);
        sim.spawn(HostId(i % hosts), Raft::Client(client));
    }
    for h in 0..hosts {
        for _ in 0..config.readers_per_host {
            let client = Client::with_role(config.clone(), ClientRole::Reader);
            sim.spawn(HostId(h), Raft::Client(client));
        }
    }
}

/// The invariants, linearizability and liveness of a Raft run (see the module docs).
pub fn properties(config: &Config) -> Vec<Property<Raft>> {
    invariants::properties(config)
}
