//! Reads of the catalog outside Raft: (blocking) queries to one server at a time, redirected
//! by leader hints and retried elsewhere on a timeout.

use super::catalog::Listing;
use super::{ConsulHost, ConsulMsg, ConsulScope, ConsulTimer};
use crate::discovery::resolve::ServiceId;
use ruckus_sim::{Duration, ProcessId, TimerId};
use std::rc::Rc;

/// A blocking query in flight (agent cache or caller watch).
#[derive(Clone, Debug)]
pub(crate) struct Asking {
    pub(crate) id: u64,
    timer: TimerId,
}

/// Talks to the catalog servers for reads: whom to ask, the query in flight.
#[derive(Clone, Debug)]
pub(crate) struct QueryClient {
    servers: Rc<[ProcessId]>,
    pub(crate) target: u32,
    next_id: u64,
    pub(crate) asking: Option<Asking>,
}

impl QueryClient {
    pub(crate) fn new(servers: Rc<[ProcessId]>) -> QueryClient {
        QueryClient {
            servers,
            target: 0,
            next_id: 0,
            asking: None,
        }
    }

    /// Whether `id` is the query in flight.
    pub(crate) fn asks(&self, id: u64) -> bool {
        self.asking.as_ref().map(|a| a.id) == Some(id)
    }

    pub(crate) fn ask<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        service: ServiceId,
        min_index: u64,
        wait: Duration,
        timeout: Duration,
    ) {
        if let Some(a) = self.asking.take() {
            cx.cancel_timer(a.timer);
        }
        self.next_id += 1;
        let id = self.next_id;
        let to = self.servers[self.target as usize % self.servers.len()];
        cx.send(
            to,
            ConsulMsg::Query {
                id,
                service,
                min_index,
                wait,
            },
        );
        let timer = cx.set_timer(wait + timeout, ConsulTimer::QueryTimeout { id });
        self.asking = Some(Asking { id, timer });
    }

    /// The listing of a reply to the query in flight; redirects on a refusal (`None`).
    pub(crate) fn on_reply<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        id: u64,
        listing: Option<Listing>,
        hint: Option<u32>,
    ) -> Option<Option<Listing>> {
        if !self.asks(id) {
            return None;
        }
        let a = self.asking.take().expect("checked");
        cx.cancel_timer(a.timer);
        if listing.is_none() {
            self.target = match hint {
                Some(h) => h,
                None => self.target + 1,
            };
        }
        Some(listing)
    }

    /// Whether the timeout is for the query in flight (which is then dropped and the next
    /// server tried).
    pub(crate) fn on_timeout(&mut self, id: u64) -> bool {
        if !self.asks(id) {
            return false;
        }
        self.asking = None;
        self.target += 1;
        true
    }
}
