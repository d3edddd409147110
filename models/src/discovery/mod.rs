//! Service discovery: membership and failure detection that other models build on.
//!
//! [`swim`] is SWIM-style membership with HashiCorp memberlist's behaviour and defaults and
//! the Lifeguard extensions, written once as a component that a system embeds in its own
//! process, plus a standalone model of it.

pub mod consul;
pub mod eureka;
pub mod resolve;
pub mod swim;
