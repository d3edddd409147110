//! Reads of the catalog outside Raft: (blocking) queries to one server at a time, redirected
//! by leader hints and retried elsewhere on a timeout.

use super::catalog::Listing;
use super::{Config, ConsulHost, ConsulMsg, ConsulScope, ConsulTimer, ResolveMode};
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

/// One service's listing asked of the catalog servers, as a caller resolves it: a blocking
/// query from the last index seen (watch) or a plain one (DNS-like, asked again when the
/// caller's cache expires). A refused or timed-out query is asked again at once, of the server
/// the refusal named or the next one.
#[derive(Clone, Debug)]
pub(crate) struct ListingQuery {
    pub(crate) query: QueryClient,
    service: ServiceId,
    /// The index of the last listing seen (where a watch blocks from).
    index: u64,
}

impl ListingQuery {
    pub(crate) fn new(servers: Rc<[ProcessId]>, service: ServiceId) -> ListingQuery {
        ListingQuery {
            query: QueryClient::new(servers),
            service,
            index: 0,
        }
    }

    /// Asks for the listing: from the last index seen under `Watch`, at once otherwise.
    pub(crate) fn ask<P: ConsulHost>(&mut self, cx: &mut ConsulScope<'_, '_, P>, config: &Config) {
        let (min_index, wait) = match config.resolve {
            ResolveMode::Watch => (self.index, config.watch_wait),
            ResolveMode::Dns | ResolveMode::Agent => (0, Duration::ZERO),
        };
        self.query
            .ask(cx, self.service, min_index, wait, config.query_timeout);
    }

    /// Whether a query is in flight.
    pub(crate) fn asking(&self) -> bool {
        self.query.asking.is_some()
    }

    /// A reply: the listing if it answers the query in flight; a refusal is asked again.
    pub(crate) fn on_reply<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        config: &Config,
        (id, listing, hint): (u64, Option<Listing>, Option<u32>),
    ) -> Option<Listing> {
        match self.query.on_reply(cx, id, listing, hint)? {
            Some(l) => {
                self.index = l.index;
                Some(l)
            }
            None => {
                self.ask(cx, config);
                None
            }
        }
    }

    /// A query's timeout: if it is the query in flight, counted as a failed resolve and asked
    /// again of the next server.
    pub(crate) fn on_timeout<P: ConsulHost>(
        &mut self,
        cx: &mut ConsulScope<'_, '_, P>,
        config: &Config,
        id: u64,
    ) {
        if self.query.on_timeout(id) {
            cx.count("discovery.resolve.failed", 1);
            self.ask(cx, config);
        }
    }
}
