//! The lock client: acquire, check the lease, work, write, release, repeat.

use ruckus_sim::{Context, Duration, Instant, ProcessId};

use super::{LeaseLock, LeaseLockConfig, LockMessage, LockTimer, SERVER, STORAGE, ms};

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
    pub(super) config: LeaseLockConfig,
    /// Which client this is (0-based), for reports.
    pub(super) number: u32,
    /// Where the client is in its cycle.
    pub state: ClientState,
    pub(super) next_req: u64,
    pub(super) next_seq: u64,
    /// Bumped on every state change; timers from older steps are ignored.
    pub(super) step: u64,
}

impl LockClient {
    pub(super) fn go_idle(&mut self, ctx: &mut Context<'_, LeaseLock>) {
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

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Context<'_, LeaseLock>,
        from: ProcessId,
        message: LockMessage,
    ) {
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

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, LeaseLock>, timer: LockTimer) {
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
