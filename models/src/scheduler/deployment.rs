//! Rolling updates on the cluster state: when a new version's allocation is healthy, when a
//! deployment fails, and when it is complete.

use super::state::{
    AllocId, Allocation, Applied, ClientStatus, ClusterState, DeploymentStatus, DesiredStatus,
};
use ruckus_sim::Instant;

impl ClusterState {
    /// Whether `a` is healthy for its job's deployment at `now`: judged so before, or running
    /// without interruption for the policy's `min_healthy_time`.
    pub fn healthy(&self, a: &Allocation, now: Instant) -> bool {
        let Some(d) = self.jobs.get(&a.job).and_then(|r| r.deployment) else {
            return a.client == ClientStatus::Running;
        };
        a.healthy
            || (a.client == ClientStatus::Running
                && a.running_since
                    .is_some_and(|t| t + d.policy.min_healthy_time <= now))
    }

    /// Whether `job`'s running deployment must fail at `now`: an allocation of its version
    /// failed, or is still not healthy at its `healthy_deadline`.
    pub fn deployment_failing(&self, job: &str, now: Instant) -> bool {
        let Some(d) = self.jobs.get(job).and_then(|r| r.deployment) else {
            return false;
        };
        if d.status != DeploymentStatus::Running {
            return d.status == DeploymentStatus::Failed;
        }
        self.of_job(job)
            .filter(|a| a.version == d.version && a.desired == DesiredStatus::Run)
            .filter(|a| !self.healthy(a, now))
            .any(|a| match a.client {
                ClientStatus::Failed => true,
                ClientStatus::Pending | ClientStatus::Running => {
                    a.created_at + d.policy.healthy_deadline <= now
                }
                ClientStatus::Complete | ClientStatus::Lost | ClientStatus::Unknown => false,
            })
    }

    /// Marks `job`'s running deployment failed if it must be at `now`; whether it did.
    pub(super) fn fail_deployment_if_due(&mut self, job: &str, now: Instant, out: &mut Applied) -> bool {
        let running = self
            .jobs
            .get(job)
            .and_then(|r| r.deployment)
            .is_some_and(|d| d.status == DeploymentStatus::Running);
        if !running || !self.deployment_failing(job, now) {
            return false;
        }
        out.deployments_failed.push(job.to_owned());
        if let Some(d) = self.jobs.get_mut(job).and_then(|r| r.deployment.as_mut()) {
            d.status = DeploymentStatus::Failed;
        }
        true
    }

    /// After a plan for `job` applied at `now`: marks its new allocations healthy once they
    /// are, fails the deployment if it must, or completes it once every allocation the job
    /// wants runs the new version, healthy.
    pub(super) fn settle_deployment(&mut self, job: &str, now: Instant, out: &mut Applied) {
        let Some(d) = self.jobs.get(job).and_then(|r| r.deployment) else {
            return;
        };
        if d.status != DeploymentStatus::Running {
            return;
        }
        let healthy: Vec<AllocId> = self
            .of_job(job)
            .filter(|a| a.version == d.version && !a.healthy && a.live())
            .filter(|a| self.healthy(a, now))
            .map(|a| a.id)
            .collect();
        for id in healthy {
            if let Some(a) = self.allocs.get_mut(&id) {
                a.healthy = true;
            }
        }
        if self.fail_deployment_if_due(job, now, out) {
            return;
        }
        let status = {
            let record = &self.jobs[job];
            let done = (0..record.job.groups.len() as u32).all(|g| {
                let mut live = self
                    .of_job(job)
                    .filter(|a| a.group == g && (a.live() || a.client == ClientStatus::Unknown));
                let all_new = live.clone().all(|a| a.version == d.version && a.healthy);
                all_new && live.by_ref().count() >= record.job.groups[g as usize].count as usize
            });
            if !done {
                return;
            }
            out.deployments_done.push(now.saturating_since(d.started_at));
            DeploymentStatus::Successful
        };
        if let Some(dep) = self.jobs.get_mut(job).and_then(|r| r.deployment.as_mut()) {
            dep.status = status;
        }
    }
}
