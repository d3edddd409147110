//! # ruckus-models: modelled systems for the ruckus engine
//!
//! Each model is written only against `ruckus-sim`'s public API and comes with its invariants
//! (as `Property` values) and, where it has them, switches that re-introduce known design bugs.

pub mod compose;
pub mod discovery;
pub mod lease_lock;
pub mod linearizability;
pub mod pingpong;
pub mod platform;
pub mod raft;
pub mod scheduler;
pub mod services;
#[cfg(test)]
mod test_support;
