//! The scheduler's properties, reusable inside a larger system through an [`Embedding`].

use super::*;

/// How the properties find the scheduler in a host system: its servers among the processes,
/// and its job acknowledgements among the history's records.
#[derive(Debug)]
pub struct Embedding<P: Process> {
    /// The scheduler server a process is, if it is one.
    pub as_server: fn(&P) -> Option<&Server>,
    /// The scheduler record a history entry is, if it is one.
    pub as_op: fn(&P::Operation) -> Option<&Op>,
}

impl<P: Process> Clone for Embedding<P> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P: Process> Copy for Embedding<P> {}

impl Embedding<Scheduler> {
    /// The standalone scheduler.
    pub fn standalone() -> Self {
        Embedding {
            as_server: Scheduler::as_server,
            as_op: |op| Some(op),
        }
    }
}

fn servers_in<'v, P: Process>(v: &View<'v, P>, e: Embedding<P>) -> impl Iterator<Item = &'v Server> + 'v {
    v.processes().filter_map(move |(_, _, p)| (e.as_server)(p))
}

/// The replicated state as far as any live server has applied it. Every server applies the
/// same log, and the first to reach an index is then the furthest: checking this one after
/// every event checks every state the log passes through.
pub fn replicated_state<'v>(v: &View<'v, Scheduler>) -> Option<&'v ClusterState> {
    replicated_state_in(v, Embedding::standalone())
}

/// [`replicated_state`] of a scheduler embedded in a larger system.
pub fn replicated_state_in<'v, P: Process>(v: &View<'v, P>, e: Embedding<P>) -> Option<&'v ClusterState> {
    servers_in(v, e).max_by_key(|s| s.raft.applied).map(Server::state)
}

/// The acting leader of the highest term (its leadership established), if any.
pub fn acting_leader<'v>(v: &View<'v, Scheduler>) -> Option<&'v Server> {
    acting_leader_in(v, Embedding::standalone())
}

/// [`acting_leader`] of a scheduler embedded in a larger system.
pub fn acting_leader_in<'v, P: Process>(v: &View<'v, P>, e: Embedding<P>) -> Option<&'v Server> {
    servers_in(v, e)
        .filter(|s| s.is_acting_leader())
        .max_by_key(|s| s.raft.term)
}

/// Every job acknowledged in term `term` or earlier (`acknowledged`: job to the term its ack
/// came from) is in `state`, a leader's of `term`.
pub fn check_acknowledged_kept(
    state: &ClusterState,
    term: u64,
    acknowledged: &BTreeMap<String, u64>,
) -> Result<(), String> {
    let missing = acknowledged
        .iter()
        .find(|(j, t)| **t <= term && !state.jobs.contains_key(*j))
        .map(|(j, _)| j);
    match missing {
        Some(job) => Err(format!(
            "job {job} was acknowledged but the leader's state (index {}) does not hold it",
            state.index
        )),
        None => Ok(()),
    }
}

/// No node's live allocations use more than it offers (by the server's committed state).
pub fn check_capacity(state: &ClusterState) -> Result<(), String> {
    for (node, used) in state.usage() {
        let capacity = state.nodes.get(node).map(|n| n.capacity).unwrap_or_default();
        if !used.fits_in(capacity) {
            return Err(format!(
                "node {} holds {used:?}, over its capacity {capacity:?}",
                node.0
            ));
        }
    }
    Ok(())
}

/// Every live allocation's constraints hold on its node.
pub fn check_constraints(state: &ClusterState) -> Result<(), String> {
    let mut per_node_job: BTreeMap<(u32, &str), u32> = BTreeMap::new();
    for a in state.allocs.values().filter(|a| a.live()) {
        *per_node_job.entry((a.node.0, a.job.as_str())).or_default() += 1;
    }
    for a in state.allocs.values().filter(|a| a.live()) {
        let (Some(record), Some(node)) = (state.jobs.get(&a.job), state.nodes.get(&a.node)) else {
            continue;
        };
        for c in &record.job.groups[a.group as usize].constraints {
            match c {
                Constraint::AttributeEquals { attribute, value } => {
                    if node.attributes.get(*attribute) != value {
                        return Err(format!("alloc {} on node {} breaks {c:?}", a.id.0, a.node.0));
                    }
                }
                Constraint::DistinctHosts => {
                    let n = per_node_job[&(a.node.0, a.job.as_str())];
                    if n > 1 {
                        return Err(format!(
                            "job {} has {n} allocations on node {} (distinct_hosts)",
                            a.job, a.node.0
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// No live allocation was placed on a node after it became down, draining or ineligible.
pub fn check_usable_nodes(state: &ClusterState) -> Result<(), String> {
    for a in state.allocs.values().filter(|a| a.live()) {
        if let Some(since) = state.nodes.get(&a.node).and_then(|n| n.unusable_since)
            && a.created_index > since
        {
            return Err(format!(
                "alloc {} placed on node {} at index {} after it became unusable at {since}",
                a.id.0, a.node.0, a.created_index
            ));
        }
    }
    Ok(())
}

/// No task group runs more allocations than its count.
pub fn check_counts(state: &ClusterState) -> Result<(), String> {
    for (name, record) in &state.jobs {
        for (g, group) in record.job.groups.iter().enumerate() {
            let running = state.running_count(name, g as u32);
            if running > group.count as usize {
                return Err(format!(
                    "job {name} group {g} runs {running} of count {}",
                    group.count
                ));
            }
        }
    }
    Ok(())
}

/// Every replacement of a failed allocation waited the reschedule policy's delay.
pub fn check_backoff(state: &ClusterState, config: &Config) -> Result<(), String> {
    for a in state.allocs.values() {
        let Some(prev) = a.previous.and_then(|p| state.allocs.get(&p)) else {
            continue;
        };
        // Placed while its predecessor still ran (a rolling update or a migration), it
        // replaces no failure even if the predecessor failed later.
        if prev.client != ClientStatus::Failed || prev.finished_at.is_none_or(|f| a.created_at < f) {
            continue;
        }
        let kind = state.jobs.get(&a.job).map_or(JobKind::Service, |j| j.job.kind);
        let policy = match kind {
            JobKind::Service => config.service_reschedule,
            JobKind::Batch => config.batch_reschedule,
        };
        let earliest = reconcile::reschedule_at(prev, &policy, false);
        if earliest.is_none_or(|at| a.created_at < at) {
            return Err(format!(
                "alloc {} replaces failed alloc {} at {} before the reschedule delay (due {earliest:?})",
                a.id.0, prev.id.0, a.created_at
            ));
        }
    }
    Ok(())
}

/// While a service job's deployment runs or after it failed, each of its task groups keeps at
/// least `count - max_parallel` healthy allocations by the servers' view (an older version's
/// running allocation counts as healthy, a new one once it has run `min_healthy_time`).
/// Scoped to what faults do not excuse: checked only while every node is schedulable, for a
/// job that ran at its count before the update, and an allocation lost, unknown or failed
/// counts as healthy until a replacement of it is healthy.
pub fn check_update_keeps_healthy(state: &ClusterState, now: Instant) -> Result<(), String> {
    if state.nodes.values().any(|n| !n.schedulable()) {
        return Ok(());
    }
    for (name, record) in &state.jobs {
        let Some(d) = record.deployment else {
            continue;
        };
        if d.status == DeploymentStatus::Successful || record.running_at.is_none_or(|t| t > d.started_at) {
            continue;
        }
        for (g, group) in record.job.groups.iter().enumerate() {
            let allocs: Vec<_> = state
                .of_job(name)
                .filter(|a| a.group == g as u32 && a.desired == DesiredStatus::Run)
                .collect();
            let healthy = |a: &state::Allocation| {
                a.client == ClientStatus::Running && (a.version < d.version || state.healthy(a, now))
            };
            let up = allocs.iter().filter(|a| healthy(a)).count();
            let excused = allocs
                .iter()
                .filter(|a| {
                    matches!(
                        a.client,
                        ClientStatus::Lost | ClientStatus::Unknown | ClientStatus::Failed
                    )
                })
                .filter(|a| !allocs.iter().any(|r| r.previous == Some(a.id) && healthy(r)))
                .count();
            let floor = (group.count as usize).saturating_sub(d.policy.max_parallel as usize);
            if up + excused < floor {
                return Err(format!(
                    "job {name} group {g} (deploying version {}): {up} healthy allocations (+{excused} lost or failed) of count {}, below count - max_parallel = {floor}",
                    d.version, group.count
                ));
            }
        }
    }
    Ok(())
}

/// A failed deployment stopped at most `max_parallel` allocations of an older version per task
/// group without a healthy replacement (a replacement lost with its node excuses its original;
/// drains stop allocations of their own accord and are left out).
pub fn check_failed_update_stops(state: &ClusterState, now: Instant) -> Result<(), String> {
    for (name, record) in &state.jobs {
        let Some(d) = record.deployment.filter(|d| d.status == DeploymentStatus::Failed) else {
            continue;
        };
        for g in 0..record.job.groups.len() as u32 {
            let stopped = state
                .of_job(name)
                .filter(|a| a.group == g && a.version < d.version)
                .filter(|a| a.desired == DesiredStatus::Stop)
                .filter(|a| {
                    state
                        .nodes
                        .get(&a.node)
                        .is_some_and(|n| n.drain_deadline.is_none())
                })
                .filter(|a| {
                    let replacements: Vec<_> = state
                        .allocs
                        .values()
                        .filter(|r| r.previous == Some(a.id) && r.version == d.version)
                        .collect();
                    !replacements.is_empty()
                        && !replacements.iter().any(|r| {
                            state.healthy(r, now)
                                || matches!(r.client, ClientStatus::Lost | ClientStatus::Unknown)
                        })
                })
                .count();
            if stopped > d.policy.max_parallel as usize {
                return Err(format!(
                    "job {name} group {g}: the failed deployment of version {} stopped {stopped} old allocations without a healthy replacement (max_parallel {})",
                    d.version, d.policy.max_parallel
                ));
            }
        }
    }
    Ok(())
}

/// Every evaluation that is due (created, and past its `wait_until` if it has one) has been
/// processed: none is stranded in a broker that lost it.
pub fn check_evaluations_complete(state: &ClusterState, now: Instant) -> Result<(), String> {
    match state
        .evals
        .values()
        .find(|e| !e.done && e.wait_until.is_none_or(|t| t <= now))
    {
        Some(e) => Err(format!(
            "evaluation {} of job {} ({:?}) is still pending",
            e.id.0, e.job, e.trigger
        )),
        None => Ok(()),
    }
}

/// Jobs whose groups all fit the schedulable capacity (together) run at their count.
/// Jobs whose tasks crash by design or at random are left out: they need not converge.
/// With an update configured, the service jobs are judged by their new version: a good one
/// must have been applied and completed, every allocation the job wants at the new version.
pub fn check_jobs_at_count(state: &ClusterState, config: &Config) -> Result<(), String> {
    if config.task_mean_time_to_failure.is_some() {
        return Ok(());
    }
    let mut jobs = config.all_jobs();
    for updated in config.updated_jobs() {
        if let Some(j) = jobs.iter_mut().find(|j| j.name == updated.name) {
            *j = updated;
        }
    }
    let schedulable: Vec<_> = state.nodes.values().filter(|n| n.schedulable()).collect();
    let capacity = schedulable
        .iter()
        .fold(Resources::default(), |acc, n| acc.plus(n.capacity));
    let mut demand = Resources::default();
    for job in &jobs {
        for g in &job.groups {
            if g.constraints.contains(&Constraint::DistinctHosts) && g.count as usize > schedulable.len() {
                return Ok(());
            }
            for _ in 0..g.count {
                demand = demand.plus(g.resources);
            }
        }
    }
    if !demand.fits_in(capacity) {
        return Ok(());
    }
    for job in jobs
        .iter()
        .filter(|j| j.groups.iter().all(|g| g.task.fail_after.is_none()))
    {
        let Some(record) = state.jobs.get(&job.name) else {
            return Err(format!("job {} is not registered", job.name));
        };
        if config.update.is_some() && job.kind == JobKind::Service {
            if record.version == 0 {
                return Err(format!("job {} was not updated", job.name));
            }
            if record
                .deployment
                .is_some_and(|d| d.status == DeploymentStatus::Failed)
            {
                return Err(format!(
                    "job {}: the deployment of version {} failed",
                    job.name, record.version
                ));
            }
            if let Some(a) = state
                .of_job(&job.name)
                .find(|a| a.version < record.version && (a.live() || a.client == ClientStatus::Unknown))
            {
                return Err(format!(
                    "job {}: alloc {} still at version {} of {}",
                    job.name, a.id.0, a.version, record.version
                ));
            }
        }
        for (g, group) in record.job.groups.iter().enumerate() {
            let running = state.running_count(&job.name, g as u32);
            let done = match job.kind {
                JobKind::Batch => state.complete_count(&job.name, g as u32),
                JobKind::Service => 0,
            };
            if running + done < group.count as usize {
                return Err(format!(
                    "job {} group {g}: {running} running + {done} complete of count {}",
                    job.name, group.count
                ));
            }
        }
    }
    Ok(())
}

/// The safety properties (checked after every event on the replicated state, see
/// [`replicated_state`]), acknowledged registrations kept by every acting leader, the
/// heartbeat load bound, and liveness after the heal (on the acting leader, within
/// [`Config::liveness_within`]).
pub fn properties(config: &Config) -> Vec<Property<Scheduler>> {
    properties_in(config, Embedding::standalone())
}

/// [`properties`] of a scheduler embedded in a larger system (the same checks, found through
/// `e`).
pub fn properties_in<P: Process>(config: &Config, e: Embedding<P>) -> Vec<Property<P>> {
    let with_state = |f: fn(&ClusterState) -> Result<(), String>| {
        move |v: &View<'_, P>| replicated_state_in(v, e).map_or(Ok(()), f)
    };
    let cursor = ruckus_sim::HistoryCursor::new();
    let acknowledged: RefCell<BTreeMap<String, u64>> = RefCell::new(BTreeMap::new());
    let backoff_config = config.clone();
    let live_config = config.clone();
    // Counted after the warm-up (two base TTLs and the grace), when every node holds a TTL
    // sized for the whole cluster; a quarter over the target allows for the stagger's noise.
    let window_limit = config.heartbeat.max_heartbeats_per_second * 10 * 5 / 4;
    let mut update_properties = Vec::new();
    if config.update.is_some() {
        update_properties.push(Property::always(
            "update_keeps_healthy",
            move |v: &View<'_, P>| {
                replicated_state_in(v, e).map_or(Ok(()), |s| check_update_keeps_healthy(s, v.now()))
            },
        ));
        update_properties.push(Property::always(
            "failed_update_stops_few",
            move |v: &View<'_, P>| {
                replicated_state_in(v, e).map_or(Ok(()), |s| check_failed_update_stops(s, v.now()))
            },
        ));
    }
    let mut properties = vec![
        Property::always("capacity", with_state(check_capacity)),
        Property::always("constraints", with_state(check_constraints)),
        Property::always("usable_nodes", with_state(check_usable_nodes)),
        Property::always("count", with_state(check_counts)),
        Property::always("reschedule_backoff", move |v| {
            replicated_state_in(v, e).map_or(Ok(()), |s| check_backoff(s, &backoff_config))
        }),
        Property::always("acknowledged_registrations_kept", move |v| {
            let mut acked = acknowledged.borrow_mut();
            for entry in v.history_since(&cursor) {
                let Some(Op::JobAcknowledged { job, term }) = (e.as_op)(&entry.operation) else {
                    continue;
                };
                let first = acked.entry(job.clone()).or_insert(*term);
                *first = (*first).min(*term);
            }
            for s in servers_in(v, e).filter(|s| s.is_acting_leader()) {
                check_acknowledged_kept(s.state(), s.raft.term, &acked)
                    .map_err(|e| format!("p{} (term {}): {e}", s.raft.id, s.raft.term))?;
            }
            Ok(())
        }),
        Property::always("heartbeat_load", move |v| {
            let most = servers_in(v, e)
                .map(|s| s.max_window_heartbeats)
                .max()
                .unwrap_or(0);
            if most > window_limit {
                return Err(format!(
                    "{most} heartbeats in one 10 s window on one server (limit {window_limit})"
                ));
            }
            Ok(())
        }),
        Property::eventually("jobs_at_count", config.liveness_within(), move |v| {
            acting_leader_in(v, e).map_or(Err("no acting leader".into()), |s| {
                check_jobs_at_count(s.state(), &live_config)
            })
        }),
        Property::eventually("evaluations_complete", config.liveness_within(), move |v| {
            acting_leader_in(v, e).map_or(Err("no acting leader".into()), |s| {
                check_evaluations_complete(s.state(), v.now())
            })
        }),
    ];
    properties.extend(update_properties);
    properties
}
