//! A caller: resolves its service (DNS-like cache, watch, or the local agent), then calls one
//! passing instance through a balancer.

use super::query::ListingQuery;
use super::{Config, ConsulHost, ConsulMsg, ConsulScope, ConsulTimer, ResolveMode, call_scope};
use crate::discovery::resolve::{Router, ServiceId};
use crate::services::interval_gap;
use ruckus_sim::{Duration, Instant, ProcessId};
use std::rc::Rc;

/// A caller: resolves its service, then calls one passing instance.
#[derive(Clone, Debug)]
pub struct ConsulCaller {
    /// The service it calls.
    pub service: ServiceId,
    pub(super) config: Rc<Config>,
    pub(super) agent: ProcessId,
    /// Its view and balancer.
    pub router: Router,
    pub(super) listing: ListingQuery,
    /// Calls waiting for a lookup (DNS mode after expiry).
    pub(super) waiting_calls: u32,
    pub(super) next_resolve: u64,
    pub(super) resolving: Option<(u64, Instant)>,
}

impl ConsulCaller {
    pub fn on_start<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        // Callers start at spread-out times, so their DNS caches expire at unrelated moments.
        let spread = match self.config.resolve {
            ResolveMode::Dns => self.config.call_interval.max(self.config.cache_ttl),
            ResolveMode::Watch | ResolveMode::Agent => self.config.call_interval,
        };
        let first = Duration(cx.random().below(spread.0));
        cx.set_timer(first, ConsulTimer::CallEvery);
        self.listing.query.target = cx.random().below(u64::from(self.config.raft.servers)) as u32;
        if self.config.resolve == ResolveMode::Watch {
            self.listing.ask(cx, &self.config);
        }
    }

    /// Handles the caller's timer.
    pub fn on_timer<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, t: ConsulTimer) {
        match t {
            ConsulTimer::CallEvery => self.on_call_every(cx),
            ConsulTimer::QueryTimeout { id } => self.on_query_timeout(cx, id),
            ConsulTimer::Call(t) => call_scope(cx, |s| self.router.on_call_timer(s, t)),
            _ => {}
        }
    }

    pub(super) fn on_call_every<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>) {
        let now_ns = cx.now().as_nanos();
        let (interval, schedule) = (self.config.call_interval, &self.config.schedule);
        let next = interval_gap(interval, schedule, cx.random(), now_ns);
        cx.set_timer(next, ConsulTimer::CallEvery);
        let now = cx.monotonic();
        match self.config.resolve {
            ResolveMode::Watch => {
                call_scope(cx, |s| self.router.call(s));
            }
            ResolveMode::Dns => {
                // The bug keeps any answer that listed instances for ever.
                let forever = self.config.bugs.cache_without_expiry && !self.router.healthy().is_empty();
                let fresh = self
                    .router
                    .confirmed_at()
                    .is_some_and(|at| forever || now.saturating_since(at) < self.config.cache_ttl);
                if fresh {
                    call_scope(cx, |s| self.router.call(s));
                    return;
                }
                if self.router.confirmed_at().is_some() {
                    self.router.clear_view();
                }
                self.waiting_calls = (self.waiting_calls + 1).min(1);
                if !self.listing.asking() {
                    self.listing.ask(cx, &self.config);
                }
            }
            ResolveMode::Agent => {
                if let Some((_, sent)) = self.resolving {
                    if now.saturating_since(sent) < self.config.query_timeout {
                        return;
                    }
                    cx.count("discovery.resolve.failed", 1);
                }
                self.next_resolve += 1;
                let id = self.next_resolve;
                self.resolving = Some((id, now));
                cx.send(
                    self.agent,
                    ConsulMsg::Resolve {
                        id,
                        service: self.service,
                    },
                );
            }
        }
    }

    pub fn on_message<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, m: ConsulMsg) {
        let now = cx.monotonic();
        match m {
            ConsulMsg::QueryReply { id, listing, hint } => {
                let Some(l) = self.listing.on_reply(cx, &self.config, (id, listing, hint)) else {
                    return;
                };
                match self.config.resolve {
                    ResolveMode::Watch => {
                        self.router.set_view(l.passing(), now);
                        self.listing.ask(cx, &self.config);
                    }
                    ResolveMode::Dns => {
                        self.router.set_view(l.passing(), now);
                        for _ in 0..std::mem::take(&mut self.waiting_calls) {
                            call_scope(cx, |s| self.router.call(s));
                        }
                    }
                    ResolveMode::Agent => {}
                }
            }
            ConsulMsg::Resolved { id, passing, age } => {
                if self.resolving.map(|(r, _)| r) != Some(id) {
                    return;
                }
                self.resolving = None;
                self.router
                    .set_view(passing, Instant(now.0.saturating_sub(age.0)));
                call_scope(cx, |s| self.router.call(s));
            }
            ConsulMsg::Call(m) => call_scope(cx, |s| self.router.on_call_msg(s, m)),
            _ => {}
        }
    }

    pub(super) fn on_query_timeout<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, id: u64) {
        self.listing.on_timeout(cx, &self.config, id);
    }
}
