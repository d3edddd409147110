//! A service instance: registers, renews, re-registers on a 404, moves to the next server when one does not answer.

use super::*;
use crate::discovery::resolve::{self, ServiceId};
use ruckus_sim::{Context, Duration, Instant, ProcessId};
use std::rc::Rc;

/// A service instance: registers, renews, answers calls.
#[derive(Clone, Debug)]
pub struct EurekaInstance {
    /// Its service.
    pub service: ServiceId,
    pub(super) config: Rc<Config>,
    /// The server it talks to (index into the registries).
    pub(super) server: u32,
    pub(super) crash_at: Option<Instant>,
    pub(super) registered: bool,
    pub(super) seq: u64,
    pub(super) waiting: Option<u64>,
}

impl EurekaInstance {
    fn send(&mut self, ctx: &mut Context<'_, EurekaNode>, register: bool) {
        let (instance, service) = (ctx.id().0, self.service);
        let m = if register {
            EurekaMsg::Register {
                instance,
                service,
                replicated: false,
            }
        } else {
            EurekaMsg::Renew {
                instance,
                service,
                replicated: false,
            }
        };
        ctx.send(ProcessId(self.server % self.config.registries), m);
        self.seq += 1;
        self.waiting = Some(self.seq);
        let seq = self.seq;
        ctx.set_timer(self.config.request_timeout, EurekaTimer::RequestTimeout { seq });
    }

    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        if let Some(at) = self.crash_at {
            let now = ctx.now();
            ctx.set_timer(at.saturating_since(now), EurekaTimer::Crash);
        }
        self.send(ctx, true);
        // Instances start at spread-out times: renewals are not in step with the eviction timer.
        let first = Duration(ctx.random().range_inclusive(1, self.config.renewal_interval.0));
        ctx.set_timer(first, EurekaTimer::RenewEvery);
    }

    pub(super) fn on_message(&mut self, ctx: &mut Context<'_, EurekaNode>, from: ProcessId, m: EurekaMsg) {
        match m {
            EurekaMsg::Registered => {
                self.registered = true;
                self.waiting = None;
            }
            EurekaMsg::Renewed { known } => {
                self.waiting = None;
                if !known {
                    ctx.count("eureka.reregistrations", 1);
                    self.send(ctx, true);
                }
            }
            EurekaMsg::Call(m) => resolve::answer_call(&mut call_scope(ctx), from, m),
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, EurekaNode>, t: EurekaTimer) {
        match t {
            EurekaTimer::RenewEvery => {
                ctx.set_timer(self.config.renewal_interval, EurekaTimer::RenewEvery);
                let register = !self.registered;
                self.send(ctx, register);
            }
            EurekaTimer::RequestTimeout { seq } if self.waiting == Some(seq) => {
                self.waiting = None;
                self.server += 1;
                if !self.registered {
                    self.send(ctx, true);
                }
            }
            EurekaTimer::Crash => {
                ctx.count("discovery.scheduled_crashes", 1);
                let me = ctx.id();
                ctx.stop_process(me);
            }
            _ => {}
        }
    }
}
