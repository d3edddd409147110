//! The byte encoding of [`Command`]s, for Raft's log on disk: little-endian integers,
//! length-prefixed strings and lists, one tag byte per enum. [`decode`] accepts exactly what
//! [`encode`] wrote (a torn or padded write does not decode).

use super::placement::{
    Attribute, Constraint, Job, JobKind, NodeAttributes, NodeId, Resources, TaskGroup, TaskSpec,
};
use super::policy::UpdatePolicy;
use super::state::{AllocId, ClientStatus, Command, EvalId, Placement, Plan, Trigger};
use ruckus_sim::{Duration, Instant, ProcessId};

/// Appends `command`'s bytes to `out`.
pub fn encode(command: &Command, out: &mut Vec<u8>) {
    let w = &mut Writer(out);
    match command {
        Command::RegisterNode {
            id,
            agent,
            capacity,
            attributes,
        } => {
            w.u8(0);
            w.u32(id.0);
            w.u32(agent.0);
            w.resources(*capacity);
            for s in [
                &attributes.datacenter,
                &attributes.rack,
                &attributes.class,
                &attributes.zone,
            ] {
                w.str(s);
            }
        }
        Command::NodeDown { id, now, unknown_for } if *unknown_for == Duration::ZERO => {
            w.u8(1);
            w.u32(id.0);
            w.u64(now.0);
        }
        Command::NodeDown { id, now, unknown_for } => {
            w.u8(8);
            w.u32(id.0);
            w.u64(now.0);
            w.u64(unknown_for.0);
        }
        Command::DrainNode { id, deadline } => {
            w.u8(2);
            w.u32(id.0);
            w.u64(deadline.0);
        }
        Command::DrainDeadline { id } => {
            w.u8(3);
            w.u32(id.0);
        }
        Command::RegisterJob { job, now } => {
            w.u8(4);
            w.job(job);
            w.u64(now.0);
        }
        Command::CreateEval {
            job,
            trigger,
            wait_until,
        } => {
            w.u8(5);
            w.str(job);
            w.u8(*trigger as u8);
            w.opt_u64(wait_until.map(|t| t.0));
        }
        Command::ApplyPlan {
            plan,
            trust_snapshot,
            now,
        } => {
            w.u8(6);
            w.plan(plan);
            w.u8(u8::from(*trust_snapshot));
            w.u64(now.0);
        }
        Command::UpdateJob {
            job,
            version,
            policy,
            now,
        } => {
            w.u8(9);
            w.job(job);
            w.u64(*version);
            w.u32(policy.max_parallel);
            w.u64(policy.min_healthy_time.0);
            w.u64(policy.healthy_deadline.0);
            w.u64(now.0);
        }
        Command::UpdateAllocs { node, updates, now } => {
            w.u8(7);
            w.u32(node.0);
            w.u32(updates.len() as u32);
            for (id, status) in updates {
                w.u64(id.0);
                w.u8(*status as u8);
            }
            w.u64(now.0);
        }
    }
}

/// Decodes exactly the bytes [`encode`] wrote; `None` for anything else.
pub fn decode(bytes: &[u8]) -> Option<Command> {
    let mut r = Reader(bytes);
    let command = match r.u8()? {
        0 => Command::RegisterNode {
            id: NodeId(r.u32()?),
            agent: ProcessId(r.u32()?),
            capacity: r.resources()?,
            attributes: NodeAttributes {
                datacenter: r.str()?,
                rack: r.str()?,
                class: r.str()?,
                zone: r.str()?,
            },
        },
        1 => Command::NodeDown {
            id: NodeId(r.u32()?),
            now: Instant(r.u64()?),
            unknown_for: Duration::ZERO,
        },
        8 => Command::NodeDown {
            id: NodeId(r.u32()?),
            now: Instant(r.u64()?),
            unknown_for: Duration(r.u64()?),
        },
        2 => Command::DrainNode {
            id: NodeId(r.u32()?),
            deadline: Instant(r.u64()?),
        },
        3 => Command::DrainDeadline { id: NodeId(r.u32()?) },
        4 => Command::RegisterJob {
            job: r.job()?,
            now: Instant(r.u64()?),
        },
        5 => Command::CreateEval {
            job: r.str()?,
            trigger: trigger(r.u8()?)?,
            wait_until: r.opt_u64()?.map(Instant),
        },
        6 => Command::ApplyPlan {
            plan: r.plan()?,
            trust_snapshot: r.bool()?,
            now: Instant(r.u64()?),
        },
        7 => {
            let node = NodeId(r.u32()?);
            let n = r.len()?;
            let mut updates = Vec::with_capacity(n);
            for _ in 0..n {
                updates.push((AllocId(r.u64()?), client_status(r.u8()?)?));
            }
            Command::UpdateAllocs {
                node,
                updates,
                now: Instant(r.u64()?),
            }
        }
        9 => Command::UpdateJob {
            job: r.job()?,
            version: r.u64()?,
            policy: UpdatePolicy {
                max_parallel: r.u32()?,
                min_healthy_time: Duration(r.u64()?),
                healthy_deadline: Duration(r.u64()?),
            },
            now: Instant(r.u64()?),
        },
        _ => return None,
    };
    r.0.is_empty().then_some(command)
}

fn trigger(tag: u8) -> Option<Trigger> {
    Some(match tag {
        0 => Trigger::JobRegister,
        1 => Trigger::NodeUpdate,
        2 => Trigger::AllocFailed,
        3 => Trigger::PlanRejected,
        4 => Trigger::Reschedule,
        5 => Trigger::Drain,
        6 => Trigger::Unblocked,
        7 => Trigger::Deployment,
        _ => return None,
    })
}

fn client_status(tag: u8) -> Option<ClientStatus> {
    Some(match tag {
        0 => ClientStatus::Pending,
        1 => ClientStatus::Running,
        2 => ClientStatus::Failed,
        3 => ClientStatus::Complete,
        4 => ClientStatus::Lost,
        5 => ClientStatus::Unknown,
        _ => return None,
    })
}

fn attribute(tag: u8) -> Option<Attribute> {
    Some(match tag {
        0 => Attribute::Datacenter,
        1 => Attribute::Rack,
        2 => Attribute::Class,
        3 => Attribute::Zone,
        _ => return None,
    })
}

struct Writer<'a>(&'a mut Vec<u8>);

impl Writer<'_> {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn opt_u64(&mut self, v: Option<u64>) {
        match v {
            None => self.u8(0),
            Some(v) => {
                self.u8(1);
                self.u64(v);
            }
        }
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.0.extend_from_slice(s.as_bytes());
    }
    fn resources(&mut self, r: Resources) {
        self.u64(r.cpu_mhz);
        self.u64(r.memory_mb);
    }
    fn job(&mut self, job: &Job) {
        self.str(&job.name);
        self.u8(job.kind as u8);
        self.u32(job.groups.len() as u32);
        for g in &job.groups {
            self.u32(g.count);
            self.resources(g.resources);
            self.u32(g.constraints.len() as u32);
            for c in &g.constraints {
                match c {
                    Constraint::AttributeEquals { attribute, value } => {
                        self.u8(0);
                        self.u8(*attribute as u8);
                        self.str(value);
                    }
                    Constraint::DistinctHosts => self.u8(1),
                }
            }
            match g.spread {
                None => self.u8(0),
                Some(a) => {
                    self.u8(1);
                    self.u8(a as u8);
                }
            }
            self.opt_u64(g.task.run_for.map(|d| d.0));
            // A task's service rides on the tag of `fail_after` (2 and 3 instead of 0 and 1),
            // so tasks without one encode exactly as before.
            match (g.task.fail_after, g.task.service) {
                (fail_after, None) => self.opt_u64(fail_after.map(|d| d.0)),
                (None, Some(service)) => {
                    self.u8(2);
                    self.u32(service);
                }
                (Some(d), Some(service)) => {
                    self.u8(3);
                    self.u64(d.0);
                    self.u32(service);
                }
            }
        }
    }
    fn plan(&mut self, plan: &Plan) {
        self.opt_u64(plan.eval.map(|e| e.0));
        self.u32(plan.coalesced.len() as u32);
        for e in &plan.coalesced {
            self.u64(e.0);
        }
        self.str(&plan.job);
        self.u32(plan.stops.len() as u32);
        for a in &plan.stops {
            self.u64(a.0);
        }
        self.u32(plan.placements.len() as u32);
        for p in &plan.placements {
            self.u32(p.group);
            self.u32(p.node.0);
            self.resources(p.resources);
            self.opt_u64(p.previous.map(|a| a.0));
            self.u32(p.reschedules);
        }
        self.opt_u64(plan.follow_up.map(|t| t.0));
        self.u8(u8::from(plan.blocked));
        self.u64(plan.snapshot_index);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        Some(self.take(1)?[0])
    }
    fn bool(&mut self) -> Option<bool> {
        match self.u8()? {
            0 => Some(false),
            1 => Some(true),
            _ => None,
        }
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    /// A list length, refused when the rest could not hold that many elements of a byte each.
    fn len(&mut self) -> Option<usize> {
        let n = self.u32()? as usize;
        (n <= self.0.len()).then_some(n)
    }
    fn opt_u64(&mut self) -> Option<Option<u64>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.u64()?)),
            _ => None,
        }
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u32()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn resources(&mut self) -> Option<Resources> {
        Some(Resources::new(self.u64()?, self.u64()?))
    }
    fn job(&mut self) -> Option<Job> {
        let name = self.str()?;
        let kind = match self.u8()? {
            0 => JobKind::Service,
            1 => JobKind::Batch,
            _ => return None,
        };
        let n = self.len()?;
        let mut groups = Vec::with_capacity(n);
        for _ in 0..n {
            let count = self.u32()?;
            let resources = self.resources()?;
            let m = self.len()?;
            let mut constraints = Vec::with_capacity(m);
            for _ in 0..m {
                constraints.push(match self.u8()? {
                    0 => Constraint::AttributeEquals {
                        attribute: attribute(self.u8()?)?,
                        value: self.str()?,
                    },
                    1 => Constraint::DistinctHosts,
                    _ => return None,
                });
            }
            let spread = match self.u8()? {
                0 => None,
                1 => Some(attribute(self.u8()?)?),
                _ => return None,
            };
            let run_for = self.opt_u64()?.map(Duration);
            let (fail_after, service) = match self.u8()? {
                0 => (None, None),
                1 => (Some(Duration(self.u64()?)), None),
                2 => (None, Some(self.u32()?)),
                3 => (Some(Duration(self.u64()?)), Some(self.u32()?)),
                _ => return None,
            };
            let task = TaskSpec {
                run_for,
                fail_after,
                service,
            };
            groups.push(TaskGroup {
                count,
                resources,
                constraints,
                spread,
                task,
            });
        }
        Some(Job { name, kind, groups })
    }
    fn plan(&mut self) -> Option<Plan> {
        let eval = self.opt_u64()?.map(EvalId);
        let n = self.len()?;
        let mut coalesced = Vec::with_capacity(n);
        for _ in 0..n {
            coalesced.push(EvalId(self.u64()?));
        }
        let job = self.str()?;
        let n = self.len()?;
        let mut stops = Vec::with_capacity(n);
        for _ in 0..n {
            stops.push(AllocId(self.u64()?));
        }
        let n = self.len()?;
        let mut placements = Vec::with_capacity(n);
        for _ in 0..n {
            placements.push(Placement {
                group: self.u32()?,
                node: NodeId(self.u32()?),
                resources: self.resources()?,
                previous: self.opt_u64()?.map(AllocId),
                reschedules: self.u32()?,
            });
        }
        Some(Plan {
            eval,
            coalesced,
            job,
            stops,
            placements,
            follow_up: self.opt_u64()?.map(Instant),
            blocked: self.bool()?,
            snapshot_index: self.u64()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Command> {
        let job = Job {
            name: "web".into(),
            kind: JobKind::Batch,
            groups: vec![TaskGroup {
                count: 3,
                resources: Resources::new(500, 256),
                constraints: vec![
                    Constraint::AttributeEquals {
                        attribute: Attribute::Rack,
                        value: "r1".into(),
                    },
                    Constraint::DistinctHosts,
                ],
                spread: Some(Attribute::Zone),
                task: TaskSpec {
                    run_for: Some(Duration::from_secs(60)),
                    fail_after: None,
                    service: Some(2),
                },
            }],
        };
        let plan = Plan {
            eval: Some(EvalId(4)),
            coalesced: vec![EvalId(5), EvalId(6)],
            job: "web".into(),
            stops: vec![AllocId(1)],
            placements: vec![Placement {
                group: 0,
                node: NodeId(2),
                resources: Resources::new(500, 256),
                previous: Some(AllocId(1)),
                reschedules: 2,
            }],
            follow_up: Some(Instant(77)),
            blocked: true,
            snapshot_index: 41,
        };
        vec![
            Command::RegisterNode {
                id: NodeId(3),
                agent: ProcessId(9),
                capacity: Resources::new(4000, 8192),
                attributes: NodeAttributes {
                    datacenter: "dc1".into(),
                    rack: "r0".into(),
                    class: "c0".into(),
                    zone: "z1".into(),
                },
            },
            Command::NodeDown {
                id: NodeId(1),
                now: Instant(5),
                unknown_for: Duration::ZERO,
            },
            Command::NodeDown {
                id: NodeId(2),
                now: Instant(5),
                unknown_for: Duration::from_secs(30),
            },
            Command::DrainNode {
                id: NodeId(1),
                deadline: Instant(6),
            },
            Command::DrainDeadline { id: NodeId(1) },
            Command::RegisterJob { job, now: Instant(7) },
            Command::CreateEval {
                job: "web".into(),
                trigger: Trigger::Unblocked,
                wait_until: None,
            },
            Command::ApplyPlan {
                plan,
                trust_snapshot: false,
                now: Instant(8),
            },
            Command::UpdateJob {
                job: Job {
                    name: "api".into(),
                    kind: JobKind::Service,
                    groups: vec![TaskGroup::default()],
                },
                version: 3,
                policy: UpdatePolicy {
                    max_parallel: 2,
                    min_healthy_time: Duration::from_secs(10),
                    healthy_deadline: Duration::from_secs(300),
                },
                now: Instant(8),
            },
            Command::CreateEval {
                job: "api".into(),
                trigger: Trigger::Deployment,
                wait_until: Some(Instant(3)),
            },
            Command::UpdateAllocs {
                node: NodeId(2),
                updates: vec![
                    (AllocId(1), ClientStatus::Lost),
                    (AllocId(2), ClientStatus::Running),
                ],
                now: Instant(9),
            },
        ]
    }

    #[test]
    fn commands_round_trip_and_torn_or_padded_ones_do_not_decode() {
        for command in samples() {
            let mut bytes = Vec::new();
            encode(&command, &mut bytes);
            assert_eq!(decode(&bytes), Some(command.clone()));
            for cut in 0..bytes.len() {
                assert_eq!(decode(&bytes[..cut]), None, "{command:?} cut at {cut}");
            }
            bytes.push(0);
            assert_eq!(decode(&bytes), None);
        }
    }
}
