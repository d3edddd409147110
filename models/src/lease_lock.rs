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

use ruckus_sim::{
    Context, Distribution, Duration, FaultProfile, FaultRate, HostId, Instant, Process, ProcessId, Property,
    Sim, SimConfig, Topology, View,
};
use serde::{Deserialize, Serialize};
use std::cell::Cell;

/// The lock server's process id (it is spawned first, on host `h0`).
pub const SERVER: ProcessId = ProcessId(0);
/// The storage server's process id (spawned second, on host `h1`).
pub const STORAGE: ProcessId = ProcessId(1);

/// Durable key holding the lock server's last granted token.
const TOKEN_KEY: &str = "last_token";
/// Durable key holding the storage's highest accepted token.
const MAX_TOKEN_KEY: &str = "max_token";

/// Parameters of a lease-lock run, including the switches that plant known bugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LeaseLockConfig {
    /// Number of client processes (each on its own host).
    pub clients: u32,
    /// Lease length, in the lock server's local clock.
    pub lease: Duration,
    /// Share of the lease a client gives up as a safety margin against clock drift.
    pub drift_margin_percent: u64,
    /// How long a client waits for a reply before retrying.
    pub request_timeout: Duration,
    /// Lock requests a client sends for one acquisition before backing off.
    pub acquire_tries_max: u32,
    /// Work between checking the lease and sending a write (where a pause hurts).
    pub work: Duration,
    /// Writes a client makes under one lease before releasing it.
    pub writes_per_lease: u32,
    /// Longest pause between a client's attempts (uniform from 1 ms).
    pub think_max: Duration,
    /// Bound of the `writes_resume` liveness property, from the heal.
    pub liveness_bound: Duration,
    /// Planted bug: the storage accepts writes under any token (no fencing).
    pub bug_no_fencing: bool,
    /// Planted bug: the lock server does not sync the token before granting.
    pub bug_no_sync: bool,
    /// Planted bug: the lock server uses its local clock reading as the token.
    pub bug_clock_tokens: bool,
}

impl Default for LeaseLockConfig {
    fn default() -> Self {
        LeaseLockConfig {
            clients: 3,
            lease: Duration::from_millis(400),
            drift_margin_percent: 25,
            request_timeout: Duration::from_millis(50),
            acquire_tries_max: 4,
            work: Duration::from_millis(30),
            writes_per_lease: 3,
            think_max: Duration::from_millis(100),
            liveness_bound: Duration::from_millis(2_000),
            bug_no_fencing: false,
            bug_no_sync: false,
            bug_clock_tokens: false,
        }
    }
}

impl LeaseLockConfig {
    /// Checks the parameters, naming the field at fault.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("clients", u64::from(self.clients)),
            ("acquire_tries_max", u64::from(self.acquire_tries_max)),
            ("writes_per_lease", u64::from(self.writes_per_lease)),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        let times = [
            ("lease", self.lease),
            ("request_timeout", self.request_timeout),
            ("work", self.work),
            ("think_max", self.think_max),
            ("liveness_bound", self.liveness_bound),
        ];
        for (name, value) in times {
            // Clients think for at least 1 ms; work may be zero.
            let least = if name == "think_max" {
                Duration::from_millis(1)
            } else {
                Duration(1)
            };
            if name != "work" && value < least {
                return Err(format!(
                    "{name} must be at least {}",
                    ruckus_sim::nanos_with_unit(least.0)
                ));
            }
        }
        if self.drift_margin_percent >= 100 {
            return Err(format!(
                "drift_margin_percent must be below 100 (got {}): a client would never trust its lease",
                self.drift_margin_percent
            ));
        }
        if self.clients > 1_000 {
            return Err(format!("clients must be at most 1000 (got {})", self.clients));
        }
        // Refuse times whose sums (twice a lease, a deadline past now) would overflow.
        let max = Duration(u64::MAX / 16);
        for (name, value) in times {
            if value > max {
                return Err(format!(
                    "{name} is too large ({}; at most {})",
                    ruckus_sim::nanos_with_unit(value.0),
                    ruckus_sim::nanos_with_unit(max.0)
                ));
            }
        }
        Ok(())
    }

    /// Hosts in the run: the lock server, the storage, then one per client.
    pub fn hosts(&self) -> u32 {
        2 + self.clients
    }

    /// The host of client `i` (0-based).
    pub fn client_host(&self, i: u32) -> HostId {
        HostId(2 + i)
    }

    /// The standard topology: every pair of hosts sees latency uniform in 1..=5 ms.
    pub fn topology(&self) -> Topology {
        Topology::single_switch(
            self.hosts(),
            Distribution::uniform(Duration::from_millis(1), Duration::from_millis(5)),
        )
    }

    fn lease(&self) -> Duration {
        self.lease
    }
}

/// A fault profile that exercises every way this model can go wrong: every fault kind, each
/// starting about once every 1.5 s and lasting 50 ms to 1 s, at most one host down at once,
/// and a quiet final `quiet` stretch in which liveness is judged.
pub fn stress_profile(quiet: Duration) -> FaultProfile {
    let mut profile = FaultProfile::everything(FaultRate {
        mean_interval: Duration::from_millis(1_500),
        duration_min: Duration::from_millis(50),
        duration_max: Duration::from_millis(1_000),
    });
    profile.quiet_period = quiet;
    profile
}

/// Builds a ready-to-run simulation: the model, its properties and the plan `profile` expands
/// to for `seed` over `horizon`. Panics on an invalid config or profile (validate first).
pub fn build_sim(
    config: &LeaseLockConfig,
    seed: u64,
    horizon: Duration,
    profile: &FaultProfile,
) -> Sim<LeaseLock> {
    let topology = config.topology();
    let mut sim_config = SimConfig::with_seed(seed);
    sim_config.limits.horizon = horizon;
    let mut sim = Sim::new(sim_config, &topology);
    if let Err(e) = profile.validate() {
        panic!("invalid fault profile: {e}");
    }
    let plan = profile.plan(seed, topology.hosts(), horizon);
    sim.set_fault_plan(plan)
        .expect("a generated plan names only existing hosts");
    setup(&mut sim, config);
    for p in properties(config) {
        sim.add_property(p);
    }
    sim
}

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

/// The lease the server currently considers held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The holder.
    pub client: ProcessId,
    /// The fencing token.
    pub token: u64,
    /// Server local time of the grant.
    pub granted_local: Instant,
}

/// The lock server.
#[derive(Clone, Debug)]
pub struct LockServer {
    config: LeaseLockConfig,
    /// False while waiting out one lease after a restart.
    pub ready: bool,
    /// The last token granted (or recovered from disk).
    pub last_token: u64,
    /// The current lease, if any.
    pub holder: Option<Lease>,
    expiry: Option<ruckus_sim::TimerId>,
}

/// The storage server.
#[derive(Clone, Debug)]
pub struct StorageServer {
    config: LeaseLockConfig,
    /// The highest token accepted (durable).
    pub max_token: u64,
}

/// Where a client is in its cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientState {
    /// Waiting to try again.
    Idle,
    /// Asking for the lease.
    Acquiring {
        /// Attempt number.
        req: u64,
        /// Local time the first request of this attempt was sent.
        first_sent: Instant,
        /// Requests sent so far.
        tries: u32,
    },
    /// Holds a lease it checked, and is working towards a write.
    Working {
        /// The fencing token.
        token: u64,
        /// Local time after which it no longer trusts the lease.
        deadline: Instant,
        /// Writes completed under this lease.
        writes_done: u32,
    },
    /// Sent a write and waits for the acknowledgement.
    Writing {
        /// The fencing token.
        token: u64,
        /// Local time after which it no longer trusts the lease.
        deadline: Instant,
        /// Writes completed under this lease.
        writes_done: u32,
        /// The write in flight.
        seq: u64,
    },
}

/// A client of the lock service.
#[derive(Clone, Debug)]
pub struct LockClient {
    config: LeaseLockConfig,
    /// Which client this is (0-based), for reports.
    number: u32,
    /// Where the client is in its cycle.
    pub state: ClientState,
    next_req: u64,
    next_seq: u64,
    /// Bumped on every state change; timers from older steps are ignored.
    step: u64,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn decode_token(bytes: Option<&[u8]>) -> Result<Option<u64>, usize> {
    match bytes {
        None => Ok(None),
        Some(b) => <[u8; 8]>::try_from(b)
            .map(|a| Some(u64::from_le_bytes(a)))
            .map_err(|_| b.len()),
    }
}

impl LockServer {
    fn on_start(&mut self, ctx: &mut Context<'_, LeaseLock>) {
        match decode_token(ctx.storage().get(TOKEN_KEY)) {
            Ok(None) => {
                // Never granted anything: nobody can hold a lease from us.
                self.last_token = 0;
                self.ready = true;
            }
            Ok(Some(t)) => {
                self.last_token = t;
                self.wait_out_old_lease(ctx);
            }
            Err(len) => {
                ctx.note(&format!("token record torn ({len} bytes); starting from token 0"));
                self.last_token = 0;
                self.wait_out_old_lease(ctx);
            }
        }
    }

    /// Whoever held the lease before the restart may still be using it.
    fn wait_out_old_lease(&mut self, ctx: &mut Context<'_, LeaseLock>) {
        self.ready = false;
        ctx.set_timer(self.config.lease(), LockTimer::GraceOver);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, LeaseLock>, from: ProcessId, message: LockMessage) {
        match message {
            LockMessage::Acquire { req } => self.on_acquire(ctx, from, req),
            LockMessage::Release { token } => {
                if self.holder.is_some_and(|h| h.token == token && h.client == from) {
                    self.holder = None;
                    if let Some(t) = self.expiry.take() {
                        ctx.cancel_timer(t);
                    }
                    ctx.count("releases", 1);
                }
            }
            other => panic!("lock server got an unexpected message {other:?} from {from}"),
        }
    }

    fn on_acquire(&mut self, ctx: &mut Context<'_, LeaseLock>, from: ProcessId, req: u64) {
        if !self.ready {
            ctx.send(from, LockMessage::Busy { req });
            return;
        }
        match self.holder {
            Some(h) if h.client == from => {
                // The holder asks again (its grant was lost, or it restarted): same lease,
                // with what is left of it.
                let elapsed = ctx.now().saturating_since(h.granted_local);
                let remaining = Duration(self.config.lease().0.saturating_sub(elapsed.0));
                ctx.send(
                    from,
                    LockMessage::Granted {
                        req,
                        token: h.token,
                        remaining,
                    },
                );
            }
            Some(_) => ctx.send(from, LockMessage::Busy { req }),
            None => self.grant(ctx, from, req),
        }
    }

    fn grant(&mut self, ctx: &mut Context<'_, LeaseLock>, client: ProcessId, req: u64) {
        let token = if self.config.bug_clock_tokens {
            // Planted bug: a timestamp is not a counter; it goes back when the clock does.
            ctx.now().as_nanos().max(1)
        } else {
            let token = self.last_token + 1;
            let mut storage = ctx.storage();
            storage.put(TOKEN_KEY, token.to_le_bytes().to_vec());
            if !self.config.bug_no_sync {
                storage.sync();
            }
            token
        };
        self.last_token = token;
        let now = ctx.now();
        self.holder = Some(Lease {
            client,
            token,
            granted_local: now,
        });
        self.expiry = Some(ctx.set_timer(self.config.lease(), LockTimer::Expire { token }));
        ctx.record(LockOp::Granted { token, client });
        ctx.count("grants", 1);
        if ctx.buggify("lease_lock.slow_token_sync") {
            // The sync takes a while: the lease runs from the grant, the reply goes out late.
            let slow = ctx.random().range_inclusive(ms(1).0, self.config.lease().0 / 2);
            ctx.set_timer(Duration(slow), LockTimer::Synced { client, req, token });
            return;
        }
        if ctx.buggify("lease_lock.dropped_grant") {
            return;
        }
        ctx.send(
            client,
            LockMessage::Granted {
                req,
                token,
                remaining: self.config.lease(),
            },
        );
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, LeaseLock>, timer: LockTimer) {
        match timer {
            LockTimer::Expire { token } => {
                if self.holder.is_some_and(|h| h.token == token) {
                    self.holder = None;
                    self.expiry = None;
                    ctx.count("expiries", 1);
                }
            }
            LockTimer::GraceOver => self.ready = true,
            LockTimer::Synced { client, req, token } => {
                if let Some(h) = self.holder.filter(|h| h.token == token) {
                    let elapsed = ctx.now().saturating_since(h.granted_local);
                    let remaining = Duration(self.config.lease().0.saturating_sub(elapsed.0));
                    ctx.send(
                        client,
                        LockMessage::Granted {
                            req,
                            token,
                            remaining,
                        },
                    );
                }
            }
            other => panic!("lock server got a client timer {other:?}"),
        }
    }
}

impl StorageServer {
    fn on_start(&mut self, ctx: &mut Context<'_, LeaseLock>) {
        self.max_token = match decode_token(ctx.storage().get(MAX_TOKEN_KEY)) {
            Ok(t) => t.unwrap_or(0),
            // Always synced before use, so a torn record is an engine or model bug.
            Err(len) => panic!("storage's synced max_token record is torn ({len} bytes)"),
        };
    }

    fn on_message(&mut self, ctx: &mut Context<'_, LeaseLock>, from: ProcessId, message: LockMessage) {
        let LockMessage::Write { token, seq } = message else {
            panic!("storage got an unexpected message {message:?} from {from}");
        };
        // The window of `bug_no_fencing`: a stale holder's write reaches the storage.
        ctx.sometimes("lease_lock.stale_write_reached_storage", token < self.max_token);
        if !self.config.bug_no_fencing && token < self.max_token {
            ctx.record(LockOp::WriteRejected { token, client: from });
            ctx.count("writes_rejected", 1);
            ctx.send(from, LockMessage::WriteAck { seq, accepted: false });
            return;
        }
        if token > self.max_token {
            self.max_token = token;
            let mut storage = ctx.storage();
            storage.put(MAX_TOKEN_KEY, token.to_le_bytes().to_vec());
            storage.sync();
        }
        ctx.record(LockOp::WriteAccepted { token, client: from });
        ctx.count("writes_accepted", 1);
        if ctx.buggify("lease_lock.dropped_write_ack") {
            return;
        }
        ctx.send(from, LockMessage::WriteAck { seq, accepted: true });
    }
}

impl LockClient {
    fn go_idle(&mut self, ctx: &mut Context<'_, LeaseLock>) {
        self.step += 1;
        self.state = ClientState::Idle;
        let think = ctx.random().range_inclusive(ms(1).0, self.config.think_max.0);
        ctx.set_timer(Duration(think), LockTimer::Think { step: self.step });
    }

    fn send_acquire(&mut self, ctx: &mut Context<'_, LeaseLock>, req: u64, first_sent: Instant, tries: u32) {
        self.step += 1;
        self.state = ClientState::Acquiring {
            req,
            first_sent,
            tries,
        };
        ctx.send(SERVER, LockMessage::Acquire { req });
        let mut timeout = self.config.request_timeout;
        if ctx.buggify("lease_lock.spurious_acquire_timeout") {
            timeout = Duration(timeout.0 / 10);
        }
        ctx.set_timer(timeout, LockTimer::AcquireTimeout { step: self.step });
    }

    /// Checks the lease by the local clock; if it still holds, starts the work for a write.
    fn check_then_work(
        &mut self,
        ctx: &mut Context<'_, LeaseLock>,
        token: u64,
        deadline: Instant,
        writes_done: u32,
    ) {
        if ctx.now() >= deadline {
            ctx.count("leases_lapsed", 1);
            ctx.send(SERVER, LockMessage::Release { token });
            self.go_idle(ctx);
            return;
        }
        self.step += 1;
        self.state = ClientState::Working {
            token,
            deadline,
            writes_done,
        };
        ctx.set_timer(self.config.work, LockTimer::Work { step: self.step });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, LeaseLock>, from: ProcessId, message: LockMessage) {
        match (self.state, message) {
            (
                ClientState::Acquiring { req, first_sent, .. },
                LockMessage::Granted {
                    req: r,
                    token,
                    remaining,
                },
            ) if r == req => {
                // Measured from the first request: the server granted no earlier than that.
                let margin = Duration(remaining.0 / 100 * self.config.drift_margin_percent);
                let deadline = first_sent.saturating_add(Duration(remaining.0 - margin.0));
                ctx.count("acquires", 1);
                ctx.observe("acquire_latency_ns", ctx.now().saturating_since(first_sent).0);
                self.check_then_work(ctx, token, deadline, 0);
            }
            (ClientState::Acquiring { req, .. }, LockMessage::Busy { req: r }) if r == req => {
                ctx.count("busy", 1);
                self.go_idle(ctx);
            }
            (
                ClientState::Writing {
                    token,
                    deadline,
                    writes_done,
                    seq,
                },
                LockMessage::WriteAck { seq: s, accepted },
            ) if s == seq => {
                if !accepted {
                    // Fenced off: someone holds a newer lease. Ours is worthless.
                    ctx.send(SERVER, LockMessage::Release { token });
                    self.go_idle(ctx);
                    return;
                }
                ctx.count("writes_completed", 1);
                if writes_done + 1 < self.config.writes_per_lease {
                    self.check_then_work(ctx, token, deadline, writes_done + 1);
                } else {
                    ctx.send(SERVER, LockMessage::Release { token });
                    self.go_idle(ctx);
                }
            }
            // Late, duplicated or stale replies.
            (_, LockMessage::Granted { .. } | LockMessage::Busy { .. } | LockMessage::WriteAck { .. }) => {}
            (_, other) => panic!("client got an unexpected message {other:?} from {from}"),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, LeaseLock>, timer: LockTimer) {
        let step = match timer {
            LockTimer::Think { step }
            | LockTimer::AcquireTimeout { step }
            | LockTimer::Work { step }
            | LockTimer::WriteTimeout { step } => step,
            other => panic!("client got a server timer {other:?}"),
        };
        if step != self.step {
            return; // armed by an earlier step
        }
        match (self.state, timer) {
            (ClientState::Idle, LockTimer::Think { .. }) => {
                self.next_req += 1;
                let now = ctx.now();
                self.send_acquire(ctx, self.next_req, now, 1);
            }
            (
                ClientState::Acquiring {
                    req,
                    first_sent,
                    tries,
                },
                LockTimer::AcquireTimeout { .. },
            ) => {
                ctx.count("acquire_timeouts", 1);
                if tries < self.config.acquire_tries_max {
                    self.send_acquire(ctx, req, first_sent, tries + 1);
                } else {
                    self.go_idle(ctx);
                }
            }
            (
                ClientState::Working {
                    token,
                    deadline,
                    writes_done,
                },
                LockTimer::Work { .. },
            ) => {
                // No second look at the lease: the check was made before the work. A pause
                // during the work is exactly what makes this write stale.
                self.next_seq += 1;
                let seq = self.next_seq;
                self.step += 1;
                self.state = ClientState::Writing {
                    token,
                    deadline,
                    writes_done,
                    seq,
                };
                ctx.count("writes_sent", 1);
                ctx.send(STORAGE, LockMessage::Write { token, seq });
                ctx.set_timer(
                    self.config.request_timeout,
                    LockTimer::WriteTimeout { step: self.step },
                );
            }
            (
                ClientState::Writing {
                    token,
                    deadline,
                    writes_done,
                    ..
                },
                LockTimer::WriteTimeout { .. },
            ) => {
                ctx.count("write_timeouts", 1);
                self.check_then_work(ctx, token, deadline, writes_done);
            }
            (state, timer) => panic!("client in {state:?} got {timer:?} for its current step"),
        }
    }
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

/// Reads the history entries not yet seen by a checker, advancing its cursor.
fn unseen<'a>(v: &View<'a, LeaseLock>, cursor: &Cell<usize>) -> &'a [ruckus_sim::HistoryEntry<LockOp>] {
    let history = v.history();
    let new = &history[cursor.get().min(history.len())..];
    cursor.set(history.len());
    new
}

/// Coverage of the holder's side: a client that believes in a lease the server has already
/// expired while its host is paused (what fencing exists for), and a holder whose clock runs
/// slow while the server's runs fast (the drift its margin must cover), by more than a
/// crystal's own spread: scenario files give every clock up to ±20 ppm, which no margin notices.
fn holder_probes(v: &View<'_, LeaseLock>) {
    const NOTABLE_DRIFT_PPM: i64 = 1_000;
    let Some(LeaseLock::Server(server)) = v.process(SERVER) else {
        return;
    };
    let server_drift = v.drift_ppm(HostId(0));
    for (_, host, p) in v.processes() {
        let LeaseLock::Client(c) = p else { continue };
        let (ClientState::Working { token, .. } | ClientState::Writing { token, .. }) = c.state else {
            continue;
        };
        let expired = server.holder.is_none_or(|h| h.token != token);
        v.sometimes(
            "lease_lock.lease_expired_while_holder_paused",
            expired && v.host_paused(host),
        );
        v.sometimes(
            "lease_lock.holder_clock_slow_while_server_clock_fast",
            server_drift > 0 && v.drift_ppm(host) < 0 && server_drift - v.drift_ppm(host) > NOTABLE_DRIFT_PPM,
        );
    }
}

/// The model's invariants; see the module docs for their exact statements.
pub fn properties(config: &LeaseLockConfig) -> Vec<Property<LeaseLock>> {
    // Each checker scans only history it has not seen yet; what it keeps is its own summary of
    // what it has seen, so checking stays O(1) per event. Checkers never steer the run.
    let fenced_cursor = Cell::new(0usize);
    let fenced_max: Cell<Option<(u64, ProcessId, Instant)>> = Cell::new(None);
    let storage_fenced = Property::always("storage_fenced", move |v| {
        holder_probes(v);
        for e in unseen(v, &fenced_cursor) {
            if let LockOp::WriteAccepted { token, client } = e.operation {
                match fenced_max.get() {
                    Some((max, holder, at)) if token < max => {
                        return Err(format!(
                            "storage accepted a write under token {token} from {client} at {}, after it had \
                             accepted token {max} from {holder} at {at}",
                            e.time
                        ));
                    }
                    Some((max, ..)) if token == max => {}
                    _ => fenced_max.set(Some((token, client, e.time))),
                }
            }
        }
        Ok(())
    });

    let grants_cursor = Cell::new(0usize);
    let grants_max: Cell<Option<(u64, ProcessId, Instant)>> = Cell::new(None);
    let last_grant_local: Cell<Option<Instant>> = Cell::new(None);
    let tokens_increasing = Property::always("tokens_increasing", move |v| {
        for e in unseen(v, &grants_cursor) {
            if let LockOp::Granted { token, client } = e.operation {
                // The window of `bug_clock_tokens`: the server's clock reads no later than at
                // an earlier grant (checked right after the grant, so this is its reading).
                let local = v.local_time(HostId(0));
                v.sometimes(
                    "lease_lock.grant_after_server_clock_stepped_back",
                    last_grant_local.get().is_some_and(|t| local <= t),
                );
                last_grant_local.set(Some(local));
                // The window of `bug_no_sync`: a grant by a restarted lock server.
                v.sometimes(
                    "lease_lock.grant_after_server_restart",
                    grants_max.get().is_some() && v.incarnation(SERVER) > 0,
                );
                if let Some((max, holder, at)) = grants_max.get()
                    && token <= max
                {
                    let earlier = if token == max {
                        format!("token {max} was already granted")
                    } else {
                        format!("it is lower than token {max}, granted")
                    };
                    return Err(format!(
                        "token {token} granted to {client} at {}, but {earlier} to {holder} at {at}",
                        e.time
                    ));
                }
                grants_max.set(Some((token, client, e.time)));
            }
        }
        Ok(())
    });

    // The first check runs at the heal; the property holds once writes completed exceed the
    // count seen then.
    let baseline: Cell<Option<u64>> = Cell::new(None);
    let writes_resume = Property::eventually("writes_resume", config.liveness_bound, move |v| {
        let done = v.metrics().counter("writes_completed");
        let base = *baseline.get().get_or_insert(done);
        baseline.set(Some(base));
        if done > base {
            Ok(())
        } else {
            Err(format!(
                "no client completed a write since the heal ({done} writes completed in all)"
            ))
        }
    });

    vec![storage_fenced, tokens_increasing, writes_resume]
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruckus_sim::{Fault, FaultAction, FaultPlan, Progress, RunReport, Verdict};

    const HORIZON: Duration = Duration::from_secs(8);
    const QUIET: Duration = Duration::from_secs(3);

    fn run(config: &LeaseLockConfig, seed: u64) -> RunReport {
        build_sim(config, seed, HORIZON, &stress_profile(QUIET)).run()
    }

    /// The first seed in `0..limit` whose run fails, with the failed property.
    fn first_failure(config: &LeaseLockConfig, limit: u64) -> Option<(u64, String)> {
        (0..limit).find_map(|seed| {
            let report = run(config, seed);
            report
                .failure
                .map(|f| (seed, f.property.unwrap_or_else(|| f.message.clone())))
        })
    }

    #[test]
    fn healthy_design_holds_under_every_fault_kind() {
        let config = LeaseLockConfig::default();
        let mut writes = 0;
        let mut rejected = 0;
        let mut pauses = 0;
        let mut crashes = 0;
        for seed in 0..100 {
            let mut sim = build_sim(&config, seed, HORIZON, &stress_profile(QUIET));
            for a in &sim.fault_plan().actions {
                pauses += u32::from(matches!(a.fault, Fault::PauseHost { .. }));
                crashes += u32::from(matches!(a.fault, Fault::CrashHost { .. }));
            }
            let report = sim.run();
            assert_eq!(report.verdict, Verdict::Held, "seed {seed}:\n{report}");
            writes += sim.metrics().counter("writes_completed");
            rejected += sim.metrics().counter("writes_rejected");
        }
        assert!(
            pauses > 100 && crashes > 100,
            "{pauses} pauses, {crashes} crashes"
        );
        // The run does real work, and fencing really had stale writes to turn away.
        assert!(writes > 100 * 20, "only {writes} writes completed");
        assert!(rejected > 0, "no stale write was ever fenced off in 100 seeds");
    }

    // How many seeds a sweep needs to find each planted bug. Measured with the default config,
    // `stress_profile(3 s)` and an 8 s horizon (`measure_sweeps` prints these):
    //
    // | switch             | first failing seed | seeds needed | seeds failing of 2000 | property          |
    // |--------------------|--------------------|--------------|-----------------------|-------------------|
    // | `bug_no_fencing`   | 0                  | 1            | 437 (22%)             | storage_fenced    |
    // | `bug_no_sync`      | 8                  | 9            | 428 (21%)             | tokens_increasing |
    // | `bug_clock_tokens` | 6                  | 7            | 254 (13%)             | tokens_increasing |
    // | (healthy)          | none               | -            | 0                     | -                 |
    //
    // The tests allow 30 seeds each, so a change to the engine's random streams that moves the
    // first failing seed does not break them, while a switch that stopped planting its bug
    // (at these rates, 30 clean seeds in a row are about a 1-2% fluke for the rarest) does.
    const FENCING_SEEDS: u64 = 30;
    const NO_SYNC_SEEDS: u64 = 30;
    const CLOCK_SEEDS: u64 = 30;

    /// Every run a planted bug fails reached the probe the model declares for that bug's
    /// window, and some runs of the healthy design reach it too: the probe marks where the bug
    /// can show, not the bug itself.
    #[test]
    fn each_bugs_failing_runs_reached_its_probe() {
        let cases = [
            (
                LeaseLockConfig {
                    bug_no_fencing: true,
                    ..LeaseLockConfig::default()
                },
                "lease_lock.stale_write_reached_storage",
            ),
            (
                LeaseLockConfig {
                    bug_no_sync: true,
                    ..LeaseLockConfig::default()
                },
                "lease_lock.grant_after_server_restart",
            ),
            (
                LeaseLockConfig {
                    bug_clock_tokens: true,
                    ..LeaseLockConfig::default()
                },
                "lease_lock.grant_after_server_clock_stepped_back",
            ),
        ];
        for (config, probe) in cases {
            assert!(<LeaseLockModel as ruckus_sim::Model>::probes().contains(&probe));
            let mut failed = 0;
            for seed in 0..30 {
                let report = run(&config, seed);
                let reached = report.probes.iter().any(|p| p.name == probe);
                if report.verdict != Verdict::Held {
                    failed += 1;
                    assert!(reached, "seed {seed} failed without reaching {probe}:\n{report}");
                }
            }
            assert!(failed > 0, "no seed of 30 failed for {probe}");
            let healthy = (0..30).any(|seed| {
                run(&LeaseLockConfig::default(), seed)
                    .probes
                    .iter()
                    .any(|p| p.name == probe)
            });
            assert!(healthy, "no healthy run reached {probe}");
        }
    }

    #[test]
    fn bug_no_fencing_is_found_within_a_small_sweep() {
        let config = LeaseLockConfig {
            bug_no_fencing: true,
            ..LeaseLockConfig::default()
        };
        let found = first_failure(&config, FENCING_SEEDS);
        assert!(
            matches!(&found, Some((_, p)) if p == "storage_fenced"),
            "{found:?}"
        );
    }

    #[test]
    fn bug_no_sync_is_found_within_a_small_sweep() {
        let config = LeaseLockConfig {
            bug_no_sync: true,
            ..LeaseLockConfig::default()
        };
        let found = first_failure(&config, NO_SYNC_SEEDS);
        assert!(
            matches!(&found, Some((_, p)) if p == "tokens_increasing"),
            "{found:?}"
        );
    }

    #[test]
    fn bug_clock_tokens_is_found_within_a_small_sweep() {
        let config = LeaseLockConfig {
            bug_clock_tokens: true,
            ..LeaseLockConfig::default()
        };
        let found = first_failure(&config, CLOCK_SEEDS);
        assert!(
            matches!(&found, Some((_, p)) if p == "tokens_increasing"),
            "{found:?}"
        );
    }

    /// Runs a fault-free sim until some client has checked its lease and started working;
    /// returns that moment and the client's host.
    fn first_holder_at_work(config: &LeaseLockConfig, seed: u64) -> (Instant, HostId) {
        let mut sim = build_sim(config, seed, HORIZON, &FaultProfile::none());
        for index in 1.. {
            assert!(
                matches!(sim.run_until_event(index), Progress::Paused),
                "run ended early"
            );
            for c in 0..config.clients {
                let id = ProcessId(2 + c);
                if let Some(LeaseLock::Client(LockClient {
                    state: ClientState::Working { .. },
                    ..
                })) = sim.process(id)
                {
                    return (sim.now(), sim.host_of(id));
                }
            }
        }
        unreachable!()
    }

    #[test]
    fn the_holder_role_names_the_client_at_work_and_nobody_before() {
        use ruckus_sim::trace::shared;
        use ruckus_sim::{RecordKind, RecordingObserver};
        let config = LeaseLockConfig::default();
        for seed in 1..=3 {
            let (at, host) = first_holder_at_work(&config, seed);
            let mut sim = build_sim(&config, seed, HORIZON, &FaultProfile::none());
            let pause = |at: Instant| FaultAction {
                at,
                fault: Fault::PauseRole {
                    target: "the holder".parse().unwrap(),
                    paused_for: ms(5),
                },
            };
            let plan = FaultPlan {
                actions: vec![pause(Instant::ZERO), pause(at.saturating_add(Duration(1)))],
                heal_at: None,
            };
            sim.set_fault_plan(plan).unwrap();
            let (obs, records) = shared(RecordingObserver::default());
            sim.set_observer(Box::new(obs));
            sim.run();
            let begins: Vec<(u32, u64)> = records
                .borrow()
                .records
                .iter()
                .filter(|r| r.kind == RecordKind::FaultBegin)
                .map(|r| (r.host, r.aux))
                .collect();
            // Nobody holds the lease at the start; the client at work is the holder later.
            assert_eq!(
                begins,
                vec![(ruckus_sim::record::NONE, 0), (host.0, 1)],
                "seed {seed}"
            );
        }
    }

    /// The run's report and how many writes fencing rejected.
    fn with_long_pause(config: &LeaseLockConfig, seed: u64) -> (RunReport, u64) {
        let (at, host) = first_holder_at_work(config, seed);
        let mut sim_config = SimConfig::with_seed(seed);
        sim_config.limits.horizon = HORIZON;
        let mut sim = Sim::new(sim_config, &config.topology());
        // The holder stalls mid-work for two leases: it will write long after its lease ended.
        let pause = FaultAction {
            at: at.saturating_add(ms(1)),
            fault: Fault::PauseHost {
                host,
                paused_for: config.lease.saturating_mul(2),
            },
        };
        sim.set_fault_plan(FaultPlan {
            actions: vec![pause],
            heal_at: None,
        })
        .unwrap();
        setup(&mut sim, config);
        for p in properties(config) {
            sim.add_property(p);
        }
        let report = sim.run();
        assert!(sim.metrics().counter("writes_sent") > 0);
        (report, sim.metrics().counter("writes_rejected"))
    }

    #[test]
    fn a_long_pause_of_the_holder_breaks_unfenced_storage_and_fencing_stops_it() {
        let buggy = LeaseLockConfig {
            bug_no_fencing: true,
            ..LeaseLockConfig::default()
        };
        for seed in [1, 2, 3] {
            let (report, _) = with_long_pause(&buggy, seed);
            assert_eq!(report.verdict, Verdict::SafetyViolation, "seed {seed}: {report}");
            let failure = report.failure.as_ref().unwrap();
            assert_eq!(failure.property.as_deref(), Some("storage_fenced"));
            // The paused first holder's token 1 lands after a successor's newer token.
            assert!(
                failure.message.contains("under token 1 from"),
                "seed {seed}: {}",
                failure.message
            );
            // Deterministic: the same plan fails the same way.
            assert_eq!(with_long_pause(&buggy, seed).0, report);

            // The same pause against the healthy design: the stale write is fenced off.
            let (report, rejected) = with_long_pause(&LeaseLockConfig::default(), seed);
            assert_eq!(report.verdict, Verdict::Held, "seed {seed}: {report}");
            assert!(rejected >= 1, "seed {seed}: the stale write was not rejected");
        }
    }

    /// Prints, for each planted bug, the first failing seeds of a 200-seed sweep, and the
    /// healthy design's failures over the same seeds: the figures quoted in the docs.
    /// `cargo test -p ruckus-models --release -- --ignored --nocapture measure_sweeps`
    #[test]
    #[ignore = "prints measurements; run by hand"]
    fn measure_sweeps() {
        const SWEEP: u64 = 200;
        let configs = [
            ("healthy", LeaseLockConfig::default()),
            (
                "bug_no_fencing",
                LeaseLockConfig {
                    bug_no_fencing: true,
                    ..LeaseLockConfig::default()
                },
            ),
            (
                "bug_no_sync",
                LeaseLockConfig {
                    bug_no_sync: true,
                    ..LeaseLockConfig::default()
                },
            ),
            (
                "bug_clock_tokens",
                LeaseLockConfig {
                    bug_clock_tokens: true,
                    ..LeaseLockConfig::default()
                },
            ),
        ];
        for (name, config) in configs {
            let failing: Vec<(u64, String)> = (0..SWEEP)
                .filter_map(|seed| {
                    run(&config, seed)
                        .failure
                        .map(|f| (seed, f.property.unwrap_or(f.message)))
                })
                .collect();
            println!(
                "{name}: {} of {SWEEP} seeds fail; first: {:?}",
                failing.len(),
                &failing[..failing.len().min(5)]
            );
        }
    }

    #[test]
    fn writes_resume_fails_when_writes_cannot_complete_in_time() {
        // No write can complete within 1 ms of the heal (a round trip alone takes 2 ms or more).
        let config = LeaseLockConfig {
            liveness_bound: Duration::from_millis(1),
            ..LeaseLockConfig::default()
        };
        let report = run(&config, 0);
        assert_eq!(report.verdict, Verdict::LivenessFailure, "{report}");
        assert_eq!(report.failure.unwrap().property.as_deref(), Some("writes_resume"));
    }

    #[test]
    fn failure_reports_name_the_processes_in_their_last_events() {
        let config = LeaseLockConfig {
            bug_no_fencing: true,
            ..LeaseLockConfig::default()
        };
        let report = (0..50)
            .map(|seed| run(&config, seed))
            .find(|r| r.failure.is_some())
            .expect("no_fencing fails within 50 seeds");
        let text = report.to_string();
        assert!(text.contains("  processes:"), "{text}");
        assert!(text.contains("p0@h0 lock-server"), "{text}");
        assert!(text.contains("p1@h1 storage"), "{text}");
        assert!(text.contains("client-"), "{text}");
        let labels: Vec<&str> = report.processes.iter().map(|p| p.label.as_str()).collect();
        assert_eq!(labels.len(), 2 + config.clients as usize, "{labels:?}");
    }

    #[test]
    fn invalid_configs_are_named() {
        let bad = LeaseLockConfig {
            clients: 0,
            ..LeaseLockConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("clients"));
        let bad = LeaseLockConfig {
            drift_margin_percent: 100,
            ..LeaseLockConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("drift_margin_percent"));
        let bad = LeaseLockConfig {
            lease: Duration(u64::MAX),
            ..LeaseLockConfig::default()
        };
        assert!(bad.validate().unwrap_err().contains("lease is too large"));
        let bad = LeaseLockConfig {
            think_max: Duration::from_micros(10),
            ..LeaseLockConfig::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .contains("think_max must be at least 1ms")
        );
        LeaseLockConfig::default().validate().unwrap();
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
