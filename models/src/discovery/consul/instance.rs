//! A service instance: registers through its agent, keeps its TTL check fresh, answers probes
//! and calls; crashes or deregisters and shuts down gracefully at a scheduled time.

use super::{CheckKind, ConsulMsg, ConsulNode, ConsulOp, ConsulTimer, call_scope};
use crate::discovery::resolve::{self, DiscoveryOp, ServiceId};
use ruckus_sim::{Context, Duration, Instant, ProcessId};

/// How long an instance waits for its agent's acknowledgement before asking again.
const RETRY: Duration = Duration::from_secs(1);

/// A service instance.
#[derive(Clone, Debug)]
pub struct ConsulInstance {
    /// Its service.
    pub service: ServiceId,
    pub(super) agent: ProcessId,
    pub(super) check: CheckKind,
    pub(super) ttl_refresh: Duration,
    pub(super) crash_at: Option<Instant>,
    pub(super) deregister_at: Option<Instant>,
    pub(super) deregister_grace: Duration,
    /// Whether its agent acknowledged the registration.
    pub registered: bool,
    /// Whether it has asked to be deregistered (it no longer refreshes its check).
    pub deregistering: bool,
    /// Whether its agent acknowledged the deregistration.
    pub deregistered: bool,
}

impl ConsulInstance {
    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        let now = ctx.now();
        if let Some(at) = self.crash_at {
            ctx.set_timer(at.saturating_since(now), ConsulTimer::Crash);
        }
        if let Some(at) = self.deregister_at {
            ctx.set_timer(at.saturating_since(now), ConsulTimer::DeregisterAt);
            if at <= now {
                // Restarted after its deregistration: it only finishes leaving.
                return;
            }
        }
        self.register(ctx);
        if self.check == CheckKind::Ttl {
            ctx.set_timer(Duration::ZERO, ConsulTimer::TtlRefresh);
        }
    }

    fn register(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        let instance = ctx.id().0;
        ctx.send(
            self.agent,
            ConsulMsg::Register {
                instance,
                service: self.service,
            },
        );
        ctx.set_timer(RETRY, ConsulTimer::RegisterRetry);
    }

    fn deregister(&mut self, ctx: &mut Context<'_, ConsulNode>) {
        self.deregistering = true;
        let instance = ctx.id().0;
        ctx.send(self.agent, ConsulMsg::Deregister { instance });
        ctx.set_timer(RETRY, ConsulTimer::DeregisterAt);
    }

    pub(super) fn on_message(&mut self, ctx: &mut Context<'_, ConsulNode>, from: ProcessId, m: ConsulMsg) {
        match m {
            ConsulMsg::Registered if !self.registered && !self.deregistering => {
                self.registered = true;
                let instance = ctx.id().0;
                ctx.record(ConsulOp::Discovery(DiscoveryOp::Acknowledged {
                    instance,
                    service: self.service,
                }));
            }
            ConsulMsg::Deregistered if self.deregistering && !self.deregistered => {
                self.deregistered = true;
                let instance = ctx.id().0;
                ctx.record(ConsulOp::Deregistered {
                    instance,
                    service: self.service,
                });
                ctx.set_timer(self.deregister_grace, ConsulTimer::ShutDown);
            }
            ConsulMsg::Probe { seq } => ctx.send(from, ConsulMsg::ProbeAck { seq }),
            ConsulMsg::Call(m) => resolve::answer_call(&mut call_scope(ctx), from, m),
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, ConsulNode>, t: ConsulTimer) {
        match t {
            ConsulTimer::RegisterRetry if !self.registered && !self.deregistering => self.register(ctx),
            ConsulTimer::TtlRefresh if !self.deregistering => {
                ctx.set_timer(self.ttl_refresh, ConsulTimer::TtlRefresh);
                let instance = ctx.id().0;
                ctx.send(self.agent, ConsulMsg::TtlPass { instance });
            }
            ConsulTimer::DeregisterAt if !self.deregistered => self.deregister(ctx),
            ConsulTimer::Crash => {
                ctx.count("discovery.scheduled_crashes", 1);
                let me = ctx.id();
                ctx.stop_process(me);
            }
            ConsulTimer::ShutDown => {
                ctx.count("consul.graceful_shutdowns", 1);
                let me = ctx.id();
                ctx.stop_process(me);
            }
            _ => {}
        }
    }
}
