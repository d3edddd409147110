//! The job submitter: an operator that submits the configured jobs and starts the configured
//! node drains, resending each to the next server until the leader acknowledges it (only once
//! it is committed). Acknowledged registrations go into the history ([`Op::JobAcknowledged`]),
//! which `acknowledged_registrations_kept` checks against every later leader's state.
//! With [`Config::update`] it also sends each service job's new version at the update's
//! time, again until acknowledged.

use super::placement::{Job, NodeId};
use super::policy::UpdatePolicy;
use super::{Config, DrainSpec, Msg, Op, Timer};
use ruckus_sim::{Duration, Process, ProcessId, Scope};
use std::collections::BTreeSet;

/// The job submitter (see the module docs).
#[derive(Clone, Debug)]
pub struct Submitter {
    servers: u32,
    jobs: Vec<Job>,
    drains: Vec<DrainSpec>,
    submit_at: Duration,
    submit_interval: Duration,
    retry: Duration,
    /// The server believed to lead.
    leader: u32,
    /// Where each job was last sent (moved on from only if it stays unanswered).
    job_sent_to: Vec<Option<u32>>,
    jobs_acked: BTreeSet<String>,
    drain_sent_to: Vec<Option<u32>>,
    drains_acked: BTreeSet<u32>,
    /// The new versions (version 1) to send, when, and how to roll them out.
    updates: Vec<Job>,
    update_at: Duration,
    update_policy: UpdatePolicy,
    update_sent_to: Vec<Option<u32>>,
    updates_acked: BTreeSet<String>,
}

impl Submitter {
    /// The submitter of `config`'s jobs and drains.
    pub fn new(config: &Config) -> Submitter {
        let jobs = config.all_jobs();
        let updates = config.updated_jobs();
        let update = config.update.unwrap_or_default();
        Submitter {
            update_sent_to: vec![None; updates.len()],
            updates,
            update_at: update.at,
            update_policy: update.policy,
            updates_acked: BTreeSet::new(),
            servers: config.servers.max(1),
            job_sent_to: vec![None; jobs.len()],
            jobs,
            drain_sent_to: vec![None; config.drains.len()],
            drains: config.drains.clone(),
            submit_at: config.submit_at,
            submit_interval: config.submit_interval,
            retry: config.client_retry,
            leader: 0,
            jobs_acked: BTreeSet::new(),
            drains_acked: BTreeSet::new(),
        }
    }

    /// Schedules the submissions and drains.
    pub fn on_start<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>) {
        for i in 0..self.jobs.len() as u64 {
            cx.set_timer(self.submit_at + self.submit_interval * i, Timer::Submit(i as u32));
        }
        for (i, d) in self.drains.iter().enumerate() {
            cx.set_timer(d.at, Timer::Drain(i as u32));
        }
        for i in 0..self.updates.len() as u64 {
            cx.set_timer(self.update_at + self.submit_interval * i, Timer::Update(i as u32));
        }
    }

    /// Moves on to the next server if `sent_to` is still the one believed to lead: it did not
    /// answer.
    fn next_if_silent(&mut self, sent_to: Option<u32>) {
        if sent_to == Some(self.leader) {
            self.leader = (self.leader + 1) % self.servers;
        }
    }

    /// Submits a job or starts a drain, again until acknowledged.
    pub fn on_timer<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, t: Timer) {
        match t {
            Timer::Submit(i) => {
                let job = self.jobs[i as usize].clone();
                if self.jobs_acked.contains(&job.name) {
                    return;
                }
                self.next_if_silent(self.job_sent_to[i as usize]);
                self.job_sent_to[i as usize] = Some(self.leader);
                cx.send(ProcessId(self.leader), Msg::SubmitJob { job });
                cx.set_timer(self.retry, Timer::Submit(i));
            }
            Timer::Drain(i) => {
                let d = self.drains[i as usize];
                if self.drains_acked.contains(&d.node) {
                    return;
                }
                self.next_if_silent(self.drain_sent_to[i as usize]);
                self.drain_sent_to[i as usize] = Some(self.leader);
                let m = Msg::DrainNode {
                    node: NodeId(d.node),
                    deadline: d.deadline,
                };
                cx.send(ProcessId(self.leader), m);
                cx.set_timer(self.retry, Timer::Drain(i));
            }
            Timer::Update(i) => {
                let job = self.updates[i as usize].clone();
                if self.updates_acked.contains(&job.name) {
                    return;
                }
                self.next_if_silent(self.update_sent_to[i as usize]);
                self.update_sent_to[i as usize] = Some(self.leader);
                let m = Msg::UpdateJob {
                    job,
                    version: 1,
                    policy: self.update_policy,
                };
                cx.send(ProcessId(self.leader), m);
                cx.set_timer(self.retry, Timer::Update(i));
            }
            _ => {}
        }
    }

    /// Takes acknowledgements (recording job registrations in the history) and redirects.
    pub fn on_message<P: Process<Operation: From<Op>>>(
        &mut self,
        cx: &mut Scope<'_, '_, P, Msg, Timer>,
        from: ProcessId,
        m: Msg,
    ) {
        match m {
            Msg::JobAck { name, term } if self.jobs_acked.insert(name.clone()) => {
                cx.count("sched.jobs_acknowledged", 1);
                cx.context()
                    .record(Op::JobAcknowledged { job: name, term }.into());
            }
            Msg::DrainAck { node } => {
                self.drains_acked.insert(node.0);
            }
            Msg::UpdateAck { name } => {
                self.updates_acked.insert(name);
            }
            Msg::NotLeader { hint } if from.0 == self.leader => {
                self.leader = match hint {
                    Some(p) if p.0 < self.servers => p.0,
                    _ => (self.leader + 1) % self.servers,
                };
            }
            _ => {}
        }
    }
}
