//! Service discovery: membership and failure detection, and two designs for finding healthy
//! instances, each a model of its own.
//!
//! - [`swim`] is SWIM-style membership with HashiCorp memberlist's behaviour and defaults and
//!   the Lifeguard extensions, written once as a component that a system embeds in its own
//!   process, plus a standalone model of it.
//! - [`consul`] is a Consul-like catalog: Raft-replicated servers (the project's Raft with a
//!   health-catalog state machine), agents that run health checks and sync them, blocking
//!   queries, and callers that resolve through a DNS-like cache, a watch or the agent.
//! - [`eureka`] is Eureka-style client-side discovery: leases, an eviction timer,
//!   self-preservation, and callers that fetch and cache the registry.
//! - [`resolve`] is what the two designs share: instances answering calls, callers routing over
//!   the instances they believe healthy with a `services::policy` balancer, and the
//!   `no_route_to_long_dead` property.
//!
//! ## Experiments
//!
//! `ruckus explore discovery_crash` compares the designs on one instance crash;
//! `ruckus explore swim_tuning` and `ruckus explore swim_tuning_loss` vary SWIM's probe interval
//! and suspicion multiplier without and with 10 % packet loss. Their figures are quoted in the
//! docs of [`consul`] (the comparison) and [`swim`] (the tuning grid).

pub mod consul;
pub mod eureka;
pub mod resolve;
pub mod swim;
