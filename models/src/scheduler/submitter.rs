//! The job submitter: an operator that submits the configured jobs, resubmits them
//! periodically (a no-op for jobs the server knows: it rebuilds a server that lost its state),
//! and starts the configured node drains.

use super::placement::{Job, NodeId};
use super::{Config, DrainSpec, Msg, Timer};
use ruckus_sim::{Duration, Process, ProcessId, Scope};

/// The job submitter (see the module docs).
#[derive(Clone, Debug)]
pub struct Submitter {
    server: ProcessId,
    jobs: Vec<Job>,
    drains: Vec<DrainSpec>,
    submit_at: Duration,
    submit_interval: Duration,
    resubmit_every: Duration,
}

impl Submitter {
    /// The submitter of `config`'s jobs and drains, talking to `server`.
    pub fn new(server: ProcessId, config: &Config) -> Submitter {
        Submitter {
            server,
            jobs: config.all_jobs(),
            drains: config.drains.clone(),
            submit_at: config.submit_at,
            submit_interval: config.submit_interval,
            resubmit_every: config.resubmit_every,
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
    }

    /// Submits a job (and arms its resubmission) or starts a drain.
    pub fn on_timer<P: Process>(&mut self, cx: &mut Scope<'_, '_, P, Msg, Timer>, t: Timer) {
        match t {
            Timer::Submit(i) => {
                let job = self.jobs[i as usize].clone();
                cx.send(self.server, Msg::SubmitJob { job });
                cx.set_timer(self.resubmit_every, Timer::Submit(i));
            }
            Timer::Drain(i) => {
                let d = self.drains[i as usize];
                let m = Msg::DrainNode {
                    node: NodeId(d.node),
                    deadline: d.deadline,
                };
                cx.send(self.server, m);
            }
            _ => {}
        }
    }
}
