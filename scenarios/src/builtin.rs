//! Built-in scenarios: the files in scenarios/data/, embedded in the binary so `ruckus run NAME`
//! works from any directory.

/// Every built-in scenario: its name and the text of scenarios/data/NAME.toml.
pub const BUILTIN: &[(&str, &str)] = &[
    ("pingpong", include_str!("../data/pingpong.toml")),
    ("lease_lock", include_str!("../data/lease_lock.toml")),
    (
        "lease_lock_no_fencing",
        include_str!("../data/lease_lock_no_fencing.toml"),
    ),
    (
        "lease_lock_no_sync",
        include_str!("../data/lease_lock_no_sync.toml"),
    ),
    (
        "lease_lock_clock_tokens",
        include_str!("../data/lease_lock_clock_tokens.toml"),
    ),
    ("raft", include_str!("../data/raft.toml")),
    ("raft_lease", include_str!("../data/raft_lease.toml")),
    (
        "raft_stale_read_deposed_leader",
        include_str!("../data/raft_stale_read_deposed_leader.toml"),
    ),
    (
        "raft_vote_not_persisted",
        include_str!("../data/raft_vote_not_persisted.toml"),
    ),
    (
        "raft_commit_previous_term",
        include_str!("../data/raft_commit_previous_term.toml"),
    ),
    (
        "raft_lease_without_drift_margin",
        include_str!("../data/raft_lease_without_drift_margin.toml"),
    ),
    (
        "raft_leader_crash",
        include_str!("../data/raft_leader_crash.toml"),
    ),
    ("swim", include_str!("../data/swim.toml")),
    (
        "swim_no_incarnation_bump",
        include_str!("../data/swim_no_incarnation_bump.toml"),
    ),
    (
        "swim_no_suspicion",
        include_str!("../data/swim_no_suspicion.toml"),
    ),
    ("scheduler", include_str!("../data/scheduler.toml")),
    (
        "scheduler_applier_trusts_snapshot",
        include_str!("../data/scheduler_applier_trusts_snapshot.toml"),
    ),
    (
        "scheduler_lost_allocs_not_replaced",
        include_str!("../data/scheduler_lost_allocs_not_replaced.toml"),
    ),
    (
        "scheduler_reschedule_without_backoff",
        include_str!("../data/scheduler_reschedule_without_backoff.toml"),
    ),
    (
        "scheduler_fixed_heartbeat_ttl",
        include_str!("../data/scheduler_fixed_heartbeat_ttl.toml"),
    ),
    (
        "scheduler_evals_in_leader_memory",
        include_str!("../data/scheduler_evals_in_leader_memory.toml"),
    ),
    (
        "scheduler_rolling_update",
        include_str!("../data/scheduler_rolling_update.toml"),
    ),
    (
        "scheduler_update_ignores_max_parallel",
        include_str!("../data/scheduler_update_ignores_max_parallel.toml"),
    ),
    ("catalog_stack", include_str!("../data/catalog_stack.toml")),
    ("consul", include_str!("../data/consul.toml")),
    ("platform", include_str!("../data/platform.toml")),
    (
        "platform_zone_outage",
        include_str!("../data/platform_zone_outage.toml"),
    ),
    (
        "platform_strained",
        include_str!("../data/platform_strained.toml"),
    ),
    (
        "platform_raft_churn",
        include_str!("../data/platform_raft_churn.toml"),
    ),
    ("eureka", include_str!("../data/eureka.toml")),
    (
        "eureka_no_self_preservation",
        include_str!("../data/eureka_no_self_preservation.toml"),
    ),
    (
        "consul_cache_without_expiry",
        include_str!("../data/consul_cache_without_expiry.toml"),
    ),
    (
        "consul_registrations_not_persisted",
        include_str!("../data/consul_registrations_not_persisted.toml"),
    ),
];

/// The text of the built-in scenario `name`.
pub fn text(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// The built-in names, in listing order.
pub fn names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}
