//! A lock service with leases and fencing tokens: why pauses and clock trouble break locks.
//!
//! The classic argument (Martin Kleppmann, "How to do distributed locking", 2016): a client
//! holding a lease checks that the lease is still valid, then is paused (a GC pause, a stalled
//! VM, a slow network) long enough for the lease to expire and be granted to someone else, and
//! then performs its write anyway. No amount of care on the client closes that window; the
//! resource itself must refuse stale writers. A *fencing token* does it: every grant carries a
//! number larger than any granted before, and storage rejects a write whose token is lower
//! than the highest it has already accepted.
//!
//! ## Roles (one process per host)
//!
//! | process | host | role |
//! |---|---|---|
//! | `p0` | `h0` | lock server: grants one lease at a time, expires it by a local timer |
//! | `p1` | `h1` | storage server: accepts writes, fenced by token |
//! | `p2..` | `h2..` | clients: acquire, check the lease, work, write, release, repeat |
//!
//! The lock server persists the last token and syncs before it grants, so a crash never hands
//! out a token twice; after restarting with a token on disk it waits one lease before granting
//! again (whoever held the lease before the crash may still believe in it). A client measures
//! its lease from when it *sent* its first request for it, shortened by a drift margin, and
//! checks it before each write; between the check and the write it works for `work`, and
//! that gap is where a pause turns it into a stale writer.
//!
//! ## Invariants
//!
//! - `storage_fenced` (safety): in the order the storage accepted writes, tokens never
//!   decrease. Once a write under token `t` has been accepted, a write under any token below
//!   `t` (necessarily an older grant) is never accepted. This is what fencing guarantees.
//! - `tokens_increasing` (safety): every fresh grant carries a token strictly greater than
//!   every token granted before it, so no token is ever granted twice (re-sending a grant to
//!   its own holder is not a fresh grant).
//! - `writes_resume` (liveness): within `liveness_bound` of the heal, some client completes
//!   a write (the storage accepted it and the client saw the acknowledgement).
//!
//! ## Planted bugs
//!
//! - `bug_no_fencing`: the storage accepts any token. A paused holder's late write lands
//!   after its successor's, violating `storage_fenced`.
//! - `bug_no_sync`: the lock server writes the token without syncing. A host crash can lose
//!   (or tear) the write, and the restarted server hands out an old token again, violating
//!   `tokens_increasing`.
//! - `bug_clock_tokens`: the lock server uses its local clock reading as the token instead of
//!   a persisted counter (timestamps as versions). A clock stepped backwards hands out a token
//!   lower than one already granted, violating `tokens_increasing` (and locking the new holder
//!   out of fenced storage until the clock catches up).
//!
//! ## Metrics
//!
//! Counters `grants`, `acquires`, `busy`, `acquire_timeouts`, `releases`, `expiries`,
//! `leases_lapsed`, `writes_sent`, `writes_accepted`, `writes_rejected`, `writes_completed`,
//! `write_timeouts`; distribution `acquire_latency_ns` (client local time from first request
//! to grant).

use ruckus_sim::{Context, Duration, HostId, Process, ProcessId, Property, Sim};

mod checks;
mod client;
mod config;
mod server;
#[cfg(test)]
mod tests;

pub use checks::properties;
pub use client::{ClientState, LockClient};
pub use config::{LeaseLockConfig, build_sim, stress_profile};
pub use server::{Lease, LockServer, StorageServer};

/// The lock server's process id (it is spawned first, on host `h0`).
pub const SERVER: ProcessId = ProcessId(0);

/// The storage server's process id (spawned second, on host `h1`).
pub const STORAGE: ProcessId = ProcessId(1);

/// What the processes send each other.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockMessage {
    /// Client to server: please grant me the lease (`req` names the attempt).
    Acquire {
        /// The client's attempt number.
        req: u64,
    },
    /// Server to client: the lease is yours, with `token`, for `remaining` of server time.
    Granted {
        /// The attempt this answers.
        req: u64,
        /// The fencing token.
        token: u64,
        /// How much of the lease is left, by the server's clock, when it replied.
        remaining: Duration,
    },
    /// Server to client: someone else holds the lease (or the server is still recovering).
    Busy {
        /// The attempt this answers.
        req: u64,
    },
    /// Client to server: I am done with the lease under `token`.
    Release {
        /// The token being released.
        token: u64,
    },
    /// Client to storage: a write under `token`.
    Write {
        /// The writer's fencing token.
        token: u64,
        /// The client's write number, echoed in the acknowledgement.
        seq: u64,
    },
    /// Storage to client: whether the write `seq` was accepted.
    WriteAck {
        /// The write this answers.
        seq: u64,
        /// False when fencing rejected it.
        accepted: bool,
    },
}

/// Timers of all roles. Client timers carry the client's step so stale ones are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockTimer {
    /// Client: time to try acquiring again.
    Think {
        /// Step that armed it.
        step: u64,
    },
    /// Client: no answer to a lock request.
    AcquireTimeout {
        /// Step that armed it.
        step: u64,
    },
    /// Client: the work between the lease check and the write is done.
    Work {
        /// Step that armed it.
        step: u64,
    },
    /// Client: no acknowledgement for a write.
    WriteTimeout {
        /// Step that armed it.
        step: u64,
    },
    /// Server: the lease under `token` ends.
    Expire {
        /// The lease's token.
        token: u64,
    },
    /// Server: the recovery wait after a restart is over.
    GraceOver,
    /// Server: a slow token sync (a buggify site) finished; the grant can go out.
    Synced {
        /// The new holder.
        client: ProcessId,
        /// Its request.
        req: u64,
        /// The token granted.
        token: u64,
    },
}

/// What the server and storage record for the checkers (true time is added by the engine).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockOp {
    /// The server made a fresh grant.
    Granted {
        /// The token.
        token: u64,
        /// The new holder.
        client: ProcessId,
    },
    /// The storage accepted a write.
    WriteAccepted {
        /// The writer's token.
        token: u64,
        /// The writer.
        client: ProcessId,
    },
    /// The storage rejected a stale write.
    WriteRejected {
        /// The writer's token.
        token: u64,
        /// The writer.
        client: ProcessId,
    },
}

/// One process of the model: a role.
#[derive(Clone, Debug)]
pub enum LeaseLock {
    /// The lock server.
    Server(LockServer),
    /// The storage server.
    Storage(StorageServer),
    /// A client.
    Client(LockClient),
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Process for LeaseLock {
    type Message = LockMessage;
    type Timer = LockTimer;
    type Operation = LockOp;

    /// Roles for role-targeted faults: `server` (the lock server), `storage`, `client`, and
    /// `holder` (a client that believes it holds the lease: working or writing under it).
    fn has_role(&self, role: &str) -> bool {
        match self {
            LeaseLock::Server(_) => role == "server",
            LeaseLock::Storage(_) => role == "storage",
            LeaseLock::Client(c) => match role {
                "client" => true,
                "holder" => matches!(c.state, ClientState::Working { .. } | ClientState::Writing { .. }),
                _ => false,
            },
        }
    }

    /// `lock-server`, `storage`, `client-N` (numbered from 0 in spawn order), with
    /// `(holds the lease)` while a client works or writes under it.
    fn label(&self) -> Option<String> {
        Some(match self {
            LeaseLock::Server(_) => "lock-server".into(),
            LeaseLock::Storage(_) => "storage".into(),
            LeaseLock::Client(c) => {
                let holds = matches!(c.state, ClientState::Working { .. } | ClientState::Writing { .. });
                format!(
                    "client-{}{}",
                    c.number,
                    if holds { " (holds the lease)" } else { "" }
                )
            }
        })
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        match self {
            LeaseLock::Server(s) => s.on_start(ctx),
            LeaseLock::Storage(s) => s.on_start(ctx),
            LeaseLock::Client(c) => c.go_idle(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, message: LockMessage) {
        match self {
            LeaseLock::Server(s) => s.on_message(ctx, from, message),
            LeaseLock::Storage(s) => s.on_message(ctx, from, message),
            LeaseLock::Client(c) => c.on_message(ctx, from, message),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, timer: LockTimer) {
        match self {
            LeaseLock::Server(s) => s.on_timer(ctx, timer),
            LeaseLock::Storage(_) => panic!("storage sets no timers, got {timer:?}"),
            LeaseLock::Client(c) => c.on_timer(ctx, timer),
        }
    }
}

/// Places the lock server on `h0`, the storage on `h1` and client `i` on `h(2+i)`.
/// Panics on an invalid config (call `validate` first for a clear error).
pub fn setup(sim: &mut Sim<LeaseLock>, config: &LeaseLockConfig) {
    if let Err(e) = config.validate() {
        panic!("invalid lease_lock config: {e}");
    }
    assert!(
        sim.hosts().len() >= config.hosts() as usize,
        "lease_lock with {} clients needs {} hosts, the topology has {}",
        config.clients,
        config.hosts(),
        sim.hosts().len()
    );
    assert_eq!(
        sim.process_count(),
        0,
        "lease_lock must be the first thing spawned"
    );
    let server = LockServer {
        config: *config,
        ready: false,
        last_token: 0,
        holder: None,
        expiry: None,
    };
    sim.spawn(HostId(0), LeaseLock::Server(server));
    sim.spawn(
        HostId(1),
        LeaseLock::Storage(StorageServer {
            config: *config,
            max_token: 0,
        }),
    );
    for i in 0..config.clients {
        let client = LockClient {
            config: *config,
            number: i,
            state: ClientState::Idle,
            next_req: 0,
            next_seq: 0,
            step: 0,
        };
        sim.spawn(config.client_host(i), LeaseLock::Client(client));
    }
}

/// The lock service as a model scenario files can name.
#[derive(Debug)]
pub struct LeaseLockModel;

impl ruckus_sim::Model for LeaseLockModel {
    const NAME: &'static str = "lease_lock";
    const ABOUT: &'static str = "a lock service with leases and fencing tokens, with planted bugs";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[("clients", 1), ("writes_per_lease", 1)];
    type Config = LeaseLockConfig;
    type Process = LeaseLock;
    fn setup(sim: &mut Sim<LeaseLock>, config: &LeaseLockConfig) {
        setup(sim, config);
    }
    fn properties(config: &LeaseLockConfig) -> Vec<Property<LeaseLock>> {
        properties(config)
    }
    /// The states the planted bugs need: a lease expired while its holder is paused and a
    /// stale write reaching the storage (`bug_no_fencing`), a grant by a restarted server
    /// (`bug_no_sync`), a grant after the server's clock stepped back (`bug_clock_tokens`),
    /// and the holder's and server's clocks drifting apart (what the drift margin is for).
    fn probes() -> &'static [&'static str] {
        &[
            "lease_lock.lease_expired_while_holder_paused",
            "lease_lock.stale_write_reached_storage",
            "lease_lock.grant_after_server_restart",
            "lease_lock.grant_after_server_clock_stepped_back",
            "lease_lock.holder_clock_slow_while_server_clock_fast",
        ]
    }
    fn check(config: &LeaseLockConfig, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.hosts() {
            return Err(format!(
                "lease_lock with {} clients needs {} hosts (a lock server, a storage server and one per client), the topology has {hosts}",
                config.clients,
                config.hosts()
            ));
        }
        Ok(())
    }
}
