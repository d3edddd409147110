//! A caller: fetches the registry every `fetch_interval`, keeps its copy when a fetch fails, and routes calls over it.

use super::*;
use crate::discovery::resolve::{Router, ServiceId};
use crate::services::interval_gap;
use ruckus_sim::{Context, Duration, ProcessId};
use std::rc::Rc;

/// A caller: fetches and caches the registry, calls listed instances.
#[derive(Clone, Debug)]
pub struct EurekaCaller {
    /// The service it calls.
    pub service: ServiceId,
    pub(super) config: Rc<Config>,
    pub(super) server: u32,
    /// Its view and balancer.
    pub router: Router,
    pub(super) next_fetch: u64,
    pub(super) fetching: Option<u64>,
}

impl EurekaCaller {
    fn fetch(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        self.next_fetch += 1;
        let id = self.next_fetch;
        self.fetching = Some(id);
        ctx.send(
            ProcessId(self.server % self.config.registries),
            EurekaMsg::Fetch { id },
        );
        ctx.set_timer(self.config.request_timeout, EurekaTimer::FetchTimeout { id });
    }

    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        self.server = ctx.random().below(u64::from(self.config.registries)) as u32;
        self.fetch(ctx);
        // Callers started at spread-out times fetch out of step with each other and the server.
        let next = Duration(ctx.random().range_inclusive(1, self.config.fetch_interval.0));
        ctx.set_timer(next, EurekaTimer::FetchEvery);
        let first = Duration(ctx.random().below(self.config.call_interval.0));
        ctx.set_timer(first, EurekaTimer::CallEvery);
    }

    pub(super) fn on_message(&mut self, ctx: &mut Context<'_, EurekaNode>, m: EurekaMsg) {
        match m {
            EurekaMsg::FetchReply { id, registry } if self.fetching == Some(id) => {
                self.fetching = None;
                match registry {
                    Some(entries) => {
                        let mine = entries
                            .iter()
                            .filter(|(_, s)| *s == self.service)
                            .map(|(i, _)| *i)
                            .collect();
                        let now = ctx.monotonic();
                        self.router.set_view(mine, now);
                    }
                    None => self.server += 1,
                }
            }
            EurekaMsg::Call(m) => self.router.on_call_msg(&mut call_scope(ctx), m),
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, EurekaNode>, t: EurekaTimer) {
        match t {
            EurekaTimer::FetchEvery => {
                ctx.set_timer(self.config.fetch_interval, EurekaTimer::FetchEvery);
                self.fetch(ctx);
            }
            EurekaTimer::FetchTimeout { id } if self.fetching == Some(id) => {
                // Keep the cached registry; ask the next server next time.
                self.fetching = None;
                self.server += 1;
                ctx.count("discovery.resolve.failed", 1);
            }
            EurekaTimer::CallEvery => {
                let now = ctx.now().as_nanos();
                let (interval, schedule) = (self.config.call_interval, &self.config.schedule);
                let next = interval_gap(interval, schedule, ctx.random(), now);
                ctx.set_timer(next, EurekaTimer::CallEvery);
                self.router.call(&mut call_scope(ctx));
            }
            EurekaTimer::Call(t) => self.router.on_call_timer(&mut call_scope(ctx), t),
            _ => {}
        }
    }
}
