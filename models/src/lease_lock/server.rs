//! The lock server (grants, expiries, the persisted token) and the fenced storage server.

use ruckus_sim::{Context, Duration, Instant, ProcessId};

use super::{LeaseLock, LeaseLockConfig, LockMessage, LockOp, LockTimer, ms};

/// Durable key holding the lock server's last granted token.
const TOKEN_KEY: &str = "last_token";

/// Durable key holding the storage's highest accepted token.
const MAX_TOKEN_KEY: &str = "max_token";

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
    pub(super) config: LeaseLockConfig,
    /// False while waiting out one lease after a restart.
    pub ready: bool,
    /// The last token granted (or recovered from disk).
    pub last_token: u64,
    /// The current lease, if any.
    pub holder: Option<Lease>,
    pub(super) expiry: Option<ruckus_sim::TimerId>,
}

/// The storage server.
#[derive(Clone, Debug)]
pub struct StorageServer {
    pub(super) config: LeaseLockConfig,
    /// The highest token accepted (durable).
    pub max_token: u64,
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
    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, LeaseLock>) {
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

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Context<'_, LeaseLock>,
        from: ProcessId,
        message: LockMessage,
    ) {
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

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, LeaseLock>, timer: LockTimer) {
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
    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, LeaseLock>) {
        self.max_token = match decode_token(ctx.storage().get(MAX_TOKEN_KEY)) {
            Ok(t) => t.unwrap_or(0),
            // Always synced before use, so a torn record is an engine or model bug.
            Err(len) => panic!("storage's synced max_token record is torn ({len} bytes)"),
        };
    }

    pub(super) fn on_message(
        &mut self,
        ctx: &mut Context<'_, LeaseLock>,
        from: ProcessId,
        message: LockMessage,
    ) {
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
