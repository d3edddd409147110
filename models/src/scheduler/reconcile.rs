//! A scheduler worker's job: compare a job with its allocations on a snapshot of the state and
//! propose a [`Plan`] (stops and placements). Pure: the snapshot, the time and a random stream
//! in, a plan and the number of nodes examined (what scheduling time is charged for) out.

use super::placement::{Candidate, FitAlgorithm, JobKind, NodeId, choose, fit_score, sample_limit};
use super::policy::{DisconnectPolicy, ReconnectPolicy, ReschedulePolicy};
use super::state::{Allocation, ClientStatus, ClusterState, DesiredStatus, Placement, Plan};
use ruckus_sim::{Instant, Random};
use std::collections::{BTreeMap, BTreeSet};

/// What a worker needs besides the snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// How fit is scored.
    pub algorithm: FitAlgorithm,
    /// Reschedule policy of service jobs.
    pub service_reschedule: ReschedulePolicy,
    /// Reschedule policy of batch jobs.
    pub batch_reschedule: ReschedulePolicy,
    /// Bug: lost allocations still count towards the group's count, so they are never replaced.
    pub lost_allocs_not_replaced: bool,
    /// Bug: failed allocations are replaced at once, without the policy's delay.
    pub reschedule_without_backoff: bool,
    /// Allocations of a task group migrated off draining nodes at once (Nomad's
    /// `migrate.max_parallel`, default 1): each original is stopped only once its replacement
    /// runs, so the group stays at its count while a node drains.
    pub migrate_max_parallel: u32,
    /// How allocations of nodes that missed their heartbeats are kept and settled.
    pub disconnect: DisconnectPolicy,
    /// Bug: a rolling update replaces every outdated allocation at once and stops each
    /// without waiting for its replacement to be healthy.
    pub update_ignores_max_parallel: bool,
}

/// How well `a` fits its node under `algorithm` (as if placed there now); a node that takes
/// no allocations scores lowest.
fn score_on_node(algorithm: FitAlgorithm, nodes: &[Candidate], a: &Allocation) -> f64 {
    nodes.iter().find(|n| n.id == a.node).map_or(f64::MIN, |n| {
        let without = Candidate {
            used: n.used.minus(a.resources),
            ..n.clone()
        };
        fit_score(algorithm, &without, a.resources)
    })
}

/// A worker's plan and what it cost.
#[derive(Clone, Debug, PartialEq)]
pub struct Planned {
    /// The plan.
    pub plan: Plan,
    /// Nodes examined over all placements.
    pub examined: u32,
}

/// When a failed allocation may be replaced under `policy` (`None`: never).
pub fn reschedule_at(a: &Allocation, policy: &ReschedulePolicy, without_backoff: bool) -> Option<Instant> {
    if !policy.allows(a.reschedules) {
        return None;
    }
    let failed = a.finished_at.unwrap_or(a.created_at);
    if without_backoff {
        return Some(failed);
    }
    Some(failed + policy.delay_after(a.reschedules))
}

/// Reconciles `job` on `state` at `now` (see the module docs).
pub fn compute_plan(
    state: &ClusterState,
    job: &str,
    now: Instant,
    settings: &Settings,
    rng: &mut Random,
) -> Planned {
    let mut plan = Plan {
        job: job.to_owned(),
        ..Plan::default()
    };
    let Some(record) = state.jobs.get(job) else {
        return Planned { plan, examined: 0 };
    };
    let job = &record.job;
    // A rolling update in progress (service jobs only): its version and policy, and whether it
    // has failed (then nothing more is replaced).
    let deployment = record.deployment.filter(|_| job.kind == JobKind::Service);
    let deployment_failed = state.deployment_failing(&job.name, now);
    let policy = match job.kind {
        JobKind::Service => settings.service_reschedule,
        JobKind::Batch => settings.batch_reschedule,
    };
    // Candidates: schedulable nodes, with what their live allocations use.
    let usage = state.usage();
    let mut nodes: Vec<Candidate> = state
        .nodes
        .values()
        .filter(|n| n.schedulable())
        .map(|n| Candidate {
            id: n.id,
            capacity: n.capacity,
            used: usage.get(&n.id).copied().unwrap_or_default(),
            attributes: &n.attributes,
            job_allocs: 0,
            group_allocs: 0,
        })
        .collect();
    let limit = sample_limit(job.kind, nodes.len());
    let mut examined = 0;
    // The job's live allocations per node and per (group, node), counted in one pass: a scan
    // per node made planning cost nodes x allocations (85% of a 500-node run).
    let mut job_per_node: BTreeMap<NodeId, u32> = BTreeMap::new();
    let mut group_per_node: BTreeMap<(u32, NodeId), u32> = BTreeMap::new();
    for a in state.of_job(&job.name).filter(|a| a.live()) {
        *job_per_node.entry(a.node).or_default() += 1;
        *group_per_node.entry((a.group, a.node)).or_default() += 1;
    }
    for (g, group) in job.groups.iter().enumerate() {
        let g = g as u32;
        let allocs: Vec<&Allocation> = state.of_job(&job.name).filter(|a| a.group == g).collect();
        for n in nodes.iter_mut() {
            n.job_allocs = job_per_node.get(&n.id).copied().unwrap_or(0);
            n.group_allocs = group_per_node.get(&(g, n.id)).copied().unwrap_or(0);
        }
        let draining: BTreeSet<_> = state
            .nodes
            .values()
            .filter(|n| n.drain_deadline.is_some())
            .map(|n| n.id)
            .collect();
        // Unknown allocations (their node missed its heartbeats) are settled below, apart.
        let live: Vec<&&Allocation> = allocs
            .iter()
            .filter(|a| a.live() && a.client != ClientStatus::Unknown)
            .collect();
        let live_ids: BTreeSet<_> = live.iter().map(|a| a.id).collect();
        let migrating: Vec<&&Allocation> = live
            .iter()
            .copied()
            .filter(|a| draining.contains(&a.node))
            .collect();
        // A migrating allocation's live replacement, if it has one (it holds the slot).
        let replacement_of = |a: &Allocation| live.iter().find(|r| r.previous == Some(a.id)).copied();
        let mut in_flight = 0;
        let mut waiting: Vec<&Allocation> = Vec::new();
        for a in &migrating {
            match replacement_of(a) {
                // Its replacement runs: the original may go now.
                Some(r) if r.client == ClientStatus::Running => plan.stops.push(a.id),
                Some(_) => in_flight += 1,
                None => waiting.push(a),
            }
        }
        // Back from a disconnection while a replacement runs or waits: the reconnect policy
        // picks which of the two stays. A replacement of a newer version is a rolling
        // update's instead: the original is stopped once the replacement is healthy, or, the
        // deployment failed, the unhealthy replacement goes.
        let mut settled: BTreeSet<_> = BTreeSet::new();
        let mut updating = 0;
        let mut outdated: Vec<&Allocation> = Vec::new();
        for a in live.iter().filter(|a| !draining.contains(&a.node)) {
            let Some(r) = replacement_of(a) else {
                if deployment.is_some_and(|d| a.version < d.version) {
                    outdated.push(a);
                }
                continue;
            };
            if let Some(d) = deployment.filter(|d| a.version < d.version && r.version == d.version) {
                // When it may be healthy, or when its deadline passes.
                let at = match r.running_since {
                    Some(t) if r.client == ClientStatus::Running => t + d.policy.min_healthy_time,
                    _ => r.created_at + d.policy.healthy_deadline,
                };
                if state.healthy(r, now) || settings.update_ignores_max_parallel {
                    plan.stops.push(a.id);
                } else if deployment_failed || at <= now {
                    plan.stops.push(r.id);
                } else {
                    updating += 1;
                    plan.follow_up = Some(plan.follow_up.map_or(at, |f| f.min(at)));
                }
                settled.insert(a.id);
                settled.insert(r.id);
                continue;
            }
            let keep_replacement = match settings.disconnect.reconcile {
                ReconnectPolicy::KeepOriginal => false,
                ReconnectPolicy::BestScore => {
                    score_on_node(settings.algorithm, &nodes, r)
                        > score_on_node(settings.algorithm, &nodes, a)
                }
            };
            plan.stops.push(if keep_replacement { a.id } else { r.id });
            settled.insert(a.id);
            settled.insert(r.id);
        }
        let superseded = migrating.iter().filter(|a| replacement_of(a).is_some()).count() + settled.len() / 2;
        let mut held = live.len() - superseded;
        // Replacements owed for lost and failed allocations, with their chain positions.
        let mut owed: Vec<(Option<&Allocation>, u32)> = Vec::new();
        for a in allocs
            .iter()
            .filter(|a| a.desired == DesiredStatus::Run && !a.replaced)
            // A failed replacement of an allocation still running: the original holds the slot.
            .filter(|a| !a.previous.is_some_and(|p| live_ids.contains(&p)))
        {
            match a.client {
                ClientStatus::Lost if settings.lost_allocs_not_replaced => held += 1,
                ClientStatus::Lost => owed.push((Some(a), a.reschedules)),
                ClientStatus::Unknown => {
                    let lost_at = a.finished_at.unwrap_or(a.created_at) + settings.disconnect.lost_after;
                    if lost_at <= now {
                        owed.push((Some(a), a.reschedules));
                    } else {
                        held += 1;
                        plan.follow_up = Some(plan.follow_up.map_or(lost_at, |f| f.min(lost_at)));
                    }
                }
                ClientStatus::Failed => {
                    match reschedule_at(a, &policy, settings.reschedule_without_backoff) {
                        Some(at) if at <= now => owed.push((Some(a), a.reschedules + 1)),
                        Some(at) => {
                            held += 1;
                            plan.follow_up = Some(plan.follow_up.map_or(at, |f| f.min(at)));
                        }
                        // Attempts exhausted: the failure stands, the slot is not refilled.
                        None => held += 1,
                    }
                }
                ClientStatus::Complete if job.kind == JobKind::Batch => held += 1,
                _ => {}
            }
        }
        let count = group.count as usize;
        if held > count {
            // Excess: stop the newest live allocations not already leaving.
            let mut excess = held - count;
            for a in live.iter().rev() {
                if excess == 0 {
                    break;
                }
                let migration = migrating.iter().any(|m| m.id == a.id || a.previous == Some(m.id));
                if !migration && !settled.contains(&a.id) {
                    plan.stops.push(a.id);
                    excess -= 1;
                }
            }
        }
        let missing = count.saturating_sub(held);
        owed.truncate(missing);
        while owed.len() < missing {
            owed.push((None, 0));
        }
        // Migrations: at most `migrate_max_parallel` allocations on draining nodes get a
        // replacement at once; each is stopped once its replacement runs (above).
        let budget = (settings.migrate_max_parallel.max(1) as usize).saturating_sub(in_flight);
        let mut moves: Vec<(Option<&Allocation>, u32)> = owed
            .into_iter()
            .chain(waiting.iter().take(budget).map(|a| (Some(*a), a.reschedules)))
            .collect();
        // A rolling update: at most `max_parallel` outdated allocations have a replacement
        // in flight; each is stopped once its replacement is healthy (above).
        if let Some(d) = deployment.filter(|_| !deployment_failed) {
            let budget = if settings.update_ignores_max_parallel {
                outdated.len()
            } else {
                (d.policy.max_parallel.max(1) as usize).saturating_sub(updating)
            };
            for a in outdated.iter().take(budget) {
                if settings.update_ignores_max_parallel {
                    plan.stops.push(a.id);
                }
                moves.push((Some(*a), a.reschedules));
            }
            if budget > 0 && !outdated.is_empty() {
                let at = now + d.policy.healthy_deadline;
                plan.follow_up = Some(plan.follow_up.map_or(at, |f| f.min(at)));
            }
        }
        for (previous, reschedules) in moves {
            let choice = choose(settings.algorithm, &nodes, group, limit, rng);
            examined += choice.examined;
            let Some(i) = choice.index else {
                plan.blocked = true;
                continue;
            };
            let node = &mut nodes[i];
            node.used = node.used.plus(group.resources);
            node.job_allocs += 1;
            node.group_allocs += 1;
            plan.placements.push(Placement {
                group: g,
                node: node.id,
                resources: group.resources,
                previous: previous.map(|a| a.id),
                reschedules,
            });
        }
    }
    Planned { plan, examined }
}
