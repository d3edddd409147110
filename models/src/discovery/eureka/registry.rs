//! The registry server: leases, renewals, eviction with self-preservation, peer replication.

use super::*;
use crate::discovery::resolve::{InstanceId, ServiceId};
use ruckus_sim::{Context, Duration, Instant, ProcessId};
use std::collections::BTreeMap;
use std::rc::Rc;

/// One lease.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The instance's service.
    pub service: ServiceId,
    /// Wall-clock time of the last renewal (or registration). Eureka's registry stamps leases
    /// with the wall clock, as here, so a clock stepped forward on the registry's host expires
    /// leases early: that is Eureka's behaviour, kept on purpose.
    pub last_renewal: Instant,
}

/// The disk key that tells a restarted server from a first start.
const BOOTED_KEY: &str = "eureka.booted";

/// A registry server.
#[derive(Clone, Debug)]
pub struct RegistryServer {
    pub(super) config: Rc<Config>,
    pub(super) peers: Vec<ProcessId>,
    /// Leases by instance.
    pub leases: BTreeMap<InstanceId, Lease>,
    /// Clients expected to renew (Eureka's `expectedNumberOfClientsSendingRenews`).
    pub expected_clients: u32,
    pub(super) renewals_this_minute: u64,
    /// Renewals in the last full minute (`None` before the first one ends).
    pub renewals_last_minute: Option<u64>,
    /// Whether self-preservation holds evictions back now.
    pub preserving: bool,
    pub(super) response_cache: Vec<Entry>,
    /// Whether this is a restart (it then waits before serving), when the first registration
    /// reached it since, and when its response cache was last built (local times).
    pub(super) restarted: bool,
    pub(super) first_contact: Option<Instant>,
    pub(super) cache_built_at: Instant,
}

impl RegistryServer {
    /// Eureka's `numberOfRenewsPerMinThreshold`.
    pub fn renewal_threshold(&self) -> u64 {
        let per_minute = Duration::from_secs(60).0 as f64 / self.config.renewal_interval.0 as f64;
        (f64::from(self.expected_clients) * per_minute * self.config.renewal_percent_threshold) as u64
    }

    /// Whether evictions may run now.
    pub fn lease_expiration_enabled(&self) -> bool {
        self.config.bugs.no_self_preservation
            || self
                .renewals_last_minute
                .is_some_and(|n| n > self.renewal_threshold())
    }

    fn update_preserving(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        let preserving = !self.lease_expiration_enabled() && self.expected_clients > 0;
        if preserving && !self.preserving {
            ctx.count("eureka.self_preservation_entered", 1);
        }
        self.preserving = preserving;
    }

    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        let mut disk = ctx.storage();
        self.restarted = disk.get(BOOTED_KEY).is_some();
        disk.put(BOOTED_KEY, vec![1]);
        disk.sync();
        ctx.set_timer(self.config.eviction_interval, EurekaTimer::EvictEvery);
        ctx.set_timer(Duration::ZERO, EurekaTimer::CacheRefresh);
        ctx.set_timer(Duration::from_secs(60), EurekaTimer::MinuteTick);
        ctx.set_timer(
            self.config.threshold_update_interval,
            EurekaTimer::ThresholdUpdate,
        );
    }

    fn register(&mut self, ctx: &mut Context<'_, EurekaNode>, instance: InstanceId, service: ServiceId) {
        let now = ctx.now();
        let lease = Lease {
            service,
            last_renewal: now,
        };
        if self.leases.insert(instance, lease).is_none() {
            self.expected_clients += 1;
        }
    }

    fn replicate(&self, ctx: &mut Context<'_, EurekaNode>, m: &EurekaMsg) {
        let me = ctx.id();
        for &p in &self.peers {
            if p != me {
                ctx.send(p, m.clone());
            }
        }
    }

    pub(super) fn on_message(&mut self, ctx: &mut Context<'_, EurekaNode>, from: ProcessId, m: EurekaMsg) {
        // A registration proves a lease exists (a renewal may be of a lease it lost).
        if matches!(m, EurekaMsg::Register { .. }) && self.first_contact.is_none() {
            self.first_contact = Some(ctx.now());
        }
        match m {
            EurekaMsg::Register {
                instance,
                service,
                replicated,
            } => {
                self.register(ctx, instance, service);
                if !replicated {
                    ctx.send(from, EurekaMsg::Registered);
                    let copy = EurekaMsg::Register {
                        instance,
                        service,
                        replicated: true,
                    };
                    self.replicate(ctx, &copy);
                }
            }
            EurekaMsg::Renew {
                instance,
                service,
                replicated,
            } => {
                self.renewals_this_minute += 1;
                let now = ctx.now();
                let known = match self.leases.get_mut(&instance) {
                    Some(lease) => {
                        lease.last_renewal = now;
                        true
                    }
                    None if replicated => {
                        self.register(ctx, instance, service);
                        true
                    }
                    None => false,
                };
                if !replicated {
                    ctx.send(from, EurekaMsg::Renewed { known });
                    if known {
                        let copy = EurekaMsg::Renew {
                            instance,
                            service,
                            replicated: true,
                        };
                        self.replicate(ctx, &copy);
                    }
                }
            }
            EurekaMsg::Fetch { id } => {
                let settle = self.config.renewal_interval + self.config.request_timeout;
                let serving = !self.restarted
                    || self
                        .first_contact
                        .is_some_and(|f| self.cache_built_at >= f.saturating_add(settle));
                let registry = serving.then(|| self.response_cache.clone());
                ctx.send(from, EurekaMsg::FetchReply { id, registry });
            }
            _ => {}
        }
    }

    fn evict(&mut self, ctx: &mut Context<'_, EurekaNode>) {
        self.update_preserving(ctx);
        if !self.lease_expiration_enabled() {
            return;
        }
        let now = ctx.now();
        let mut expired: Vec<InstanceId> = self
            .leases
            .iter()
            .filter(|(_, l)| now.saturating_since(l.last_renewal) > self.config.lease_duration)
            .map(|(&i, _)| i)
            .collect();
        let size = self.leases.len();
        let keep = (size as f64 * self.config.renewal_percent_threshold) as usize;
        let limit = size - keep.min(size);
        ctx.random().shuffle(&mut expired);
        for i in expired.into_iter().take(limit) {
            self.leases.remove(&i);
            ctx.count("eureka.evictions", 1);
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, EurekaNode>, t: EurekaTimer) {
        match t {
            EurekaTimer::EvictEvery => {
                ctx.set_timer(self.config.eviction_interval, EurekaTimer::EvictEvery);
                self.evict(ctx);
            }
            EurekaTimer::CacheRefresh => {
                ctx.set_timer(self.config.response_cache_interval, EurekaTimer::CacheRefresh);
                self.response_cache = self.leases.iter().map(|(&i, l)| (i, l.service)).collect();
                self.cache_built_at = ctx.now();
            }
            EurekaTimer::MinuteTick => {
                ctx.set_timer(Duration::from_secs(60), EurekaTimer::MinuteTick);
                self.renewals_last_minute = Some(std::mem::take(&mut self.renewals_this_minute));
                self.update_preserving(ctx);
            }
            EurekaTimer::ThresholdUpdate => {
                ctx.set_timer(
                    self.config.threshold_update_interval,
                    EurekaTimer::ThresholdUpdate,
                );
                let count = self.leases.len() as f64;
                let floor = self.config.renewal_percent_threshold * f64::from(self.expected_clients);
                if count > floor || self.config.bugs.no_self_preservation {
                    self.expected_clients = count as u32;
                }
            }
            _ => {}
        }
    }
}
