//! The plan applier: a worker's plan re-checked against the latest committed state and
//! committed in the part that still fits (the rest goes back for a new evaluation).

use super::*;

impl ClusterState {
    /// Applies `plan` at `now`: stops, then each placement that still fits (all of them when
    /// the applier trusts the worker's snapshot, the bug), then the follow-up evaluations.
    pub(super) fn apply_plan(&mut self, plan: Plan, trust_snapshot: bool, now: Instant, out: &mut Applied) {
        for id in plan.eval.iter().chain(&plan.coalesced) {
            if let Some(e) = self.evals.get_mut(id) {
                e.done = true;
            }
        }
        if !self.jobs.contains_key(&plan.job) {
            return;
        }
        // Judged before the plan's stops: those may stop the allocation that fails it.
        self.fail_deployment_if_due(&plan.job, now, out);
        for id in &plan.stops {
            if let Some(a) = self.allocs.get_mut(id)
                && a.live()
            {
                a.desired = DesiredStatus::Stop;
                account(&mut self.used, a, true);
                out.stopped += 1;
                out.nodes_touched.insert(a.node);
                // A stopped replacement of an allocation that runs on gives it back its slot.
                if let Some(prev) = a.previous
                    && let Some(p) = self.allocs.get_mut(&prev)
                    && p.live()
                {
                    p.replaced = false;
                }
            }
        }
        let job = self.jobs[&plan.job].job.clone();
        let version = self.jobs[&plan.job].version;
        for p in plan.placements {
            // Checked against what is committed, the plan's accepted placements included.
            let fits = trust_snapshot || self.placement_fits(&job, version, &p);
            if !fits {
                out.rejected += 1;
                continue;
            }
            let Some(node) = self.nodes.get(&p.node) else {
                out.rejected += 1;
                continue;
            };
            let node_id = node.id;
            let id = AllocId(self.next_alloc);
            self.next_alloc += 1;
            if let Some(prev) = p.previous.and_then(|prev| self.allocs.get_mut(&prev)) {
                prev.replaced = true;
                if prev.node != node_id {
                    out.moved += 1;
                }
            }
            self.by_job.entry(job.name.clone()).or_default().push(id);
            self.by_node.entry(node_id).or_default().push(id);
            let a = self.allocs.entry(id).or_insert(Allocation {
                id,
                job: job.name.clone(),
                group: p.group,
                node: node_id,
                resources: p.resources,
                desired: DesiredStatus::Run,
                client: ClientStatus::Pending,
                created_index: self.index,
                created_at: now,
                finished_at: None,
                previous: p.previous,
                reschedules: p.reschedules,
                replaced: false,
                ran: false,
                version,
                task: job.groups[p.group as usize].task,
                running_since: None,
                healthy: false,
            });
            account(&mut self.used, a, false);
            out.placed += 1;
            out.nodes_touched.insert(node_id);
        }
        if out.rejected > 0 {
            let e = self.new_eval(job.name.clone(), Trigger::PlanRejected, None);
            out.evals.push(e);
        } else if plan.blocked && plan.snapshot_index < self.capacity_changed_at {
            // Capacity appeared while the worker planned (or its plan waited for Raft): the
            // unblocking it missed happens now.
            let e = self.new_eval(job.name.clone(), Trigger::Unblocked, None);
            out.evals.push(e);
        } else if plan.blocked {
            self.blocked.insert(job.name.clone());
        }
        if let Some(at) = plan.follow_up {
            let e = self.new_eval(job.name.clone(), Trigger::Reschedule, Some(at));
            out.evals.push(e);
        }
        self.settle_deployment(&job.name, now, out);
        if out.stopped > 0 {
            self.capacity_changed_at = self.index;
            let blocked_other: Vec<String> =
                self.blocked.iter().filter(|j| **j != job.name).cloned().collect();
            for j in blocked_other {
                self.blocked.remove(&j);
                let e = self.new_eval(j, Trigger::Unblocked, None);
                out.evals.push(e);
            }
        }
    }

    /// The plan applier's re-check of one placement against the latest state: the node is
    /// schedulable, the resources fit with what is committed (and accepted earlier in this
    /// plan), the constraints hold, and the group is not already at its count.
    fn placement_fits(&self, job: &Job, version: u64, p: &Placement) -> bool {
        let Some(node) = self.nodes.get(&p.node) else {
            return false;
        };
        if !node.schedulable() {
            return false;
        }
        let now_used = self.used.get(&p.node).copied().unwrap_or_default();
        if !now_used.plus(p.resources).fits_in(node.capacity) {
            return false;
        }
        let Some(group) = job.groups.get(p.group as usize) else {
            return false;
        };
        for c in &group.constraints {
            let ok = match c {
                Constraint::AttributeEquals { attribute, value } => node.attributes.get(*attribute) == value,
                Constraint::DistinctHosts => !self.on_node(p.node).any(|a| a.live() && a.job == job.name),
            };
            if !ok {
                return false;
            }
        }
        // A migrating, unknown or outdated allocation with a live replacement (committed,
        // earlier in this plan, or this one; replacements are of the current version) gives up
        // its slot.
        let group_live: Vec<&Allocation> = self
            .of_job(&job.name)
            .filter(|a| a.live() && a.group == p.group)
            .collect();
        let replaced_ids: BTreeSet<AllocId> = group_live.iter().filter_map(|r| r.previous).collect();
        let migrated = group_live
            .iter()
            .filter(|a| {
                let replaced = p.previous == Some(a.id) || replaced_ids.contains(&a.id);
                replaced && (self.migrating(a.id) || a.client == ClientStatus::Unknown || a.version < version)
            })
            .count();
        group_live.len() - migrated < group.count as usize
    }
}
