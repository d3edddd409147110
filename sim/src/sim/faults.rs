//! Applying the fault plan: each fault's begin and end, and the heal that undoes them all.
//! Host and process faults act through `lifecycle`; the rest set network, clock and
//! degradation state.

use super::Sim;
use crate::fault::Fault;
use crate::network::HostId;
use crate::process::{Process, ProcessId};
use crate::record::{EventDetail, EventRecord, NONE, RecordKind};

impl<P: Process> Sim<P> {
    /// Begins or ends fault `i` of the plan. Ends of faults the heal already undid do nothing.
    pub(super) fn apply_fault(&mut self, i: usize, begin: bool) {
        let fault = self.plan.actions[i].fault.clone();
        self.record_fault(i, begin, &fault);
        if !begin && self.core.now > self.heal_at {
            return;
        }
        let (now, id, net) = (self.core.now, i as u64, &mut self.core.net);
        match fault {
            Fault::CrashHost { host, .. } if begin => self.crash_host(host),
            Fault::CrashHost { host, .. } => self.restart_host(host),
            Fault::PauseHost { host, .. } if begin => self.pause_host(host),
            Fault::PauseHost { host, .. } => self.resume_host(host),
            Fault::KillProcess {
                host, process_index, ..
            } => self.kill_fault(host, process_index, begin),
            Fault::Partition { partition, .. } if begin => net.add_partition(id, partition),
            Fault::Partition { .. } => net.remove_partition(id),
            Fault::Clog { from, to, duration } if begin => {
                net.add_clog(id, from, to, now.saturating_add(duration))
            }
            Fault::SlowLink { from, to, factor, .. } if begin => net.add_slow(id, from, to, factor),
            Fault::Clog { .. } | Fault::SlowLink { .. } => net.remove_link_fault(id),
            Fault::NetworkChaos { chaos, .. } => net.set_chaos(begin.then_some(chaos)),
            Fault::ClockJump { host, delta_ns } => self.core.hosts[host.index()].clock.jump(now, delta_ns),
            Fault::ClockDrift { host, drift_ppm, .. } => {
                let hs = &mut self.core.hosts[host.index()];
                let ppm = if begin { drift_ppm } else { hs.base_drift_ppm };
                hs.clock.set_drift(now, ppm);
            }
            Fault::Degrade { host, mode, .. } => {
                let active = &mut self.core.hosts[host.index()].degradations;
                if begin {
                    active.push((i as u32, mode));
                } else {
                    active.retain(|(k, _)| *k != i as u32);
                }
            }
        }
    }

    /// The fault's begin or end event in the record (every one counts, even a no-op end).
    fn record_fault(&mut self, i: usize, begin: bool, fault: &Fault) {
        let r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind: if begin {
                RecordKind::FaultBegin
            } else {
                RecordKind::FaultEnd
            },
            process: NONE,
            host: NONE,
            peer: i as u32,
            aux: 0,
            digest: self.fault_digests[i],
        };
        self.core.emit(r, EventDetail::Fault(fault));
        self.core.event_index += 1;
    }

    /// Undoes every fault: restarts crashed hosts and killed processes, resumes paused hosts,
    /// heals the network, restores clock rates and ends degradations. Clock readings keep any
    /// jumps.
    pub(super) fn heal(&mut self) {
        let r = EventRecord {
            index: self.core.event_index,
            time: self.core.now,
            kind: RecordKind::Heal,
            process: NONE,
            host: NONE,
            peer: NONE,
            aux: 0,
            digest: 0,
        };
        self.core.emit(r, EventDetail::None);
        self.core.event_index += 1;
        self.core.net.heal();
        let now = self.core.now;
        for h in 0..self.core.hosts.len() {
            let host = HostId(h as u32);
            self.restart_host(host);
            self.resume_host(host);
            let hs = &mut self.core.hosts[h];
            let base = hs.base_drift_ppm;
            hs.clock.set_drift(now, base);
            hs.degradations.clear();
        }
        for p in 0..self.core.procs.len() {
            if self.core.procs[p].killed {
                self.restart(ProcessId(p as u32));
            }
        }
    }
}
