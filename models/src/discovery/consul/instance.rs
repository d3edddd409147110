//! A service instance: registers through its agent, keeps its TTL check fresh, answers probes
//! and calls; crashes or deregisters and shuts down gracefully at a scheduled time.

use super::{CheckKind, Config, ConsulHost, ConsulMsg, ConsulOp, ConsulScope, ConsulTimer, call_scope};
use crate::discovery::resolve::{self, DiscoveryOp, ServiceId};
use ruckus_sim::{Duration, Instant, ProcessId};

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
    /// An instance of `service` that registers through `agent` and keeps the check `config`
    /// names, with no scheduled crash or deregistration (whoever runs it decides when it ends).
    pub fn new(service: ServiceId, agent: ProcessId, config: &Config) -> ConsulInstance {
        ConsulInstance {
            service,
            agent,
            check: config.check,
            ttl_refresh: config.ttl_refresh,
            crash_at: None,
            deregister_at: None,
            deregister_grace: config.deregister_grace,
            registered: false,
            deregistering: false,
            deregistered: false,
        }
    }

    pub fn on_start<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        let now = cx.now();
        if let Some(at) = self.crash_at {
            cx.set_timer(at.saturating_since(now), ConsulTimer::Crash);
        }
        if let Some(at) = self.deregister_at {
            cx.set_timer(at.saturating_since(now), ConsulTimer::DeregisterAt);
            if at <= now {
                // Restarted after its deregistration: it only finishes leaving.
                return;
            }
        }
        self.register(cx);
        if self.check == CheckKind::Ttl {
            cx.set_timer(Duration::ZERO, ConsulTimer::TtlRefresh);
        }
    }

    fn register<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        let instance = cx.id().0;
        cx.send(
            self.agent,
            ConsulMsg::Register {
                instance,
                service: self.service,
            },
        );
        cx.set_timer(RETRY, ConsulTimer::RegisterRetry);
    }

    fn deregister<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        self.deregistering = true;
        let instance = cx.id().0;
        cx.send(self.agent, ConsulMsg::Deregister { instance });
        cx.set_timer(RETRY, ConsulTimer::DeregisterAt);
    }

    pub fn on_message<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        from: ProcessId,
        m: ConsulMsg,
    ) {
        match m {
            ConsulMsg::Registered if !self.registered && !self.deregistering => {
                self.registered = true;
                let instance = cx.id().0;
                cx.context().record(
                    ConsulOp::Discovery(DiscoveryOp::Acknowledged {
                        instance,
                        service: self.service,
                    })
                    .into(),
                );
            }
            ConsulMsg::Deregistered if self.deregistering && !self.deregistered => {
                self.deregistered = true;
                let instance = cx.id().0;
                cx.context().record(
                    ConsulOp::Deregistered {
                        instance,
                        service: self.service,
                    }
                    .into(),
                );
                cx.set_timer(self.deregister_grace, ConsulTimer::ShutDown);
            }
            ConsulMsg::Probe { seq } => cx.send(from, ConsulMsg::ProbeAck { seq }),
            ConsulMsg::Call(m) => call_scope(cx, |s| resolve::answer_call(s, from, m)),
            _ => {}
        }
    }

    pub fn on_timer<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, t: ConsulTimer) {
        match t {
            ConsulTimer::RegisterRetry if !self.registered && !self.deregistering => self.register(cx),
            ConsulTimer::TtlRefresh if !self.deregistering => {
                cx.set_timer(self.ttl_refresh, ConsulTimer::TtlRefresh);
                let instance = cx.id().0;
                cx.send(self.agent, ConsulMsg::TtlPass { instance });
            }
            ConsulTimer::DeregisterAt if !self.deregistered => self.deregister(cx),
            ConsulTimer::Crash => {
                cx.count("discovery.scheduled_crashes", 1);
                let me = cx.id();
                cx.context().stop_process(me);
            }
            ConsulTimer::ShutDown => {
                cx.count("consul.graceful_shutdowns", 1);
                let me = cx.id();
                cx.context().stop_process(me);
            }
            _ => {}
        }
    }
}
