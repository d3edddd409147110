//! Raft as a model scenario files can name.

use super::{Config, Raft, properties, setup};
use ruckus_sim::{Instant, Metrics, Property, Sim};
use std::collections::BTreeMap;

/// Raft with a replicated key-value store, linearizability checking and four bug switches.
#[derive(Debug)]
pub struct RaftModel;

/// The probes Raft's server fires itself, so every model that embeds the servers (the
/// scheduler, the Consul and compose catalogs, the platform) declares them: the states the
/// `vote_not_persisted` and `commit_previous_term` switches need. (The other probes of
/// [`PROBES`] fire in Raft's own properties, or only where reads are served locally.)
pub const SERVER_PROBES: &[&str] = &[
    "raft.vote_requested_in_recovered_term",
    "raft.leader_with_uncommitted_entries_of_earlier_terms",
];

/// Raft's coverage probes, as [`RaftModel`] declares them.
pub const PROBES: &[&str] = &[
    "raft.leader_change_during_partition",
    "raft.two_leaders_at_once",
    "raft.vote_requested_in_recovered_term",
    "raft.leader_with_uncommitted_entries_of_earlier_terms",
    "raft.local_read_served",
];

impl ruckus_sim::Model for RaftModel {
    const NAME: &'static str = "raft";
    const ABOUT: &'static str =
        "Raft with a key-value store and linearizable clients, with four classic bugs as switches";
    const WORKLOAD_KNOBS: &'static [(&'static str, u64)] = &[
        ("clients", 0),
        ("writers", 0),
        ("readers_per_host", 0),
        ("keys", 1),
    ];
    const CHECKER_MODEL: Option<&'static str> = Some("kv");
    type Config = Config;
    type Process = Raft;
    fn setup(sim: &mut Sim<Raft>, config: &Config) {
        setup(sim, config);
    }
    fn properties(config: &Config) -> Vec<Property<Raft>> {
        properties(config)
    }
    /// The states the planted bugs need: a vote asked for in a term a restarted server read
    /// back (`vote_not_persisted`), a new leader with uncommitted entries of earlier terms
    /// (`commit_previous_term`), two leaders at once and a local read (`stale_read_deposed_leader`,
    /// `lease_without_drift_margin`), and a leader change during a partition.
    fn probes() -> &'static [&'static str] {
        PROBES
    }
    /// The election figures of [`super::availability::summarize`]: split-vote rounds and the
    /// time without a leader after the leader fails.
    fn summarize(_config: &Config, metrics: &Metrics, end: Instant) -> BTreeMap<String, f64> {
        super::availability::summarize(metrics, end)
    }
    fn check(config: &Config, hosts: u32) -> Result<(), String> {
        config.validate()?;
        if hosts < config.servers {
            return Err(format!(
                "raft with {} servers needs one host per server, the topology has {hosts}",
                config.servers
            ));
        }
        Ok(())
    }
}
