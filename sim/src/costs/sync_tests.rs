//! Asynchronous storage syncs (`Context::sync_async`) on a running engine: each test would fail
//! if its rule were broken.

use crate::*;

/// What the writer saw: its start (with which keys it found on disk) and each completion.
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Started { a: bool, c: bool },
    Done(u32),
}

/// At time zero writes `a`, issues `syncs` background syncs (numbered 1..), then writes `c`
/// (after every sync, so none covers it). A restart only records what it finds.
#[derive(Clone, Debug)]
struct Writer {
    syncs: u32,
}

impl Process for Writer {
    type Message = ();
    type Timer = u32;
    type Operation = Seen;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        let (a, c) = {
            let s = ctx.storage();
            (s.get("a").is_some(), s.get("c").is_some())
        };
        ctx.record(Seen::Started { a, c });
        if ctx.now() != Instant::ZERO {
            return;
        }
        ctx.storage().put("a", vec![1]);
        for n in 1..=self.syncs {
            ctx.sync_async(n);
        }
        ctx.storage().put("c", vec![3]);
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, n: u32) {
        ctx.record(Seen::Done(n));
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(n: u64) -> Instant {
    Instant(ms(n).0)
}

/// A crash loses every unsynced write.
const ALWAYS_LOSE: DiskFaultConfig = DiskFaultConfig {
    unsynced_loss_probability: 1.0,
    torn_write_probability: 0.0,
};

/// One writer on host 0 with a disk sync latency (`None`: instant) and a fault plan.
fn run(latency: Option<Duration>, syncs: u32, faults: Vec<FaultAction>) -> (Sim<Writer>, RunReport) {
    let mut topology = Topology::single_switch(1, Distribution::constant(ms(1)));
    topology.host_mut(HostId(0)).costs = HostCosts {
        handler: None,
        disk_sync: latency.map(Distribution::constant),
    };
    let mut config = SimConfig::with_seed(1);
    config.disk_faults = ALWAYS_LOSE;
    config.limits.horizon = ms(100);
    let mut sim = Sim::new(config, &topology);
    sim.spawn(HostId(0), Writer { syncs });
    sim.set_fault_plan(FaultPlan {
        actions: faults,
        heal_at: None,
    })
    .unwrap();
    let report = sim.run();
    (sim, report)
}

fn seen(sim: &Sim<Writer>) -> Vec<(Instant, Seen)> {
    sim.history()
        .iter()
        .map(|e| (e.time, e.operation.clone()))
        .collect()
}

fn crash_at(t: u64) -> FaultAction {
    FaultAction {
        at: at(t),
        fault: Fault::CrashHost {
            host: HostId(0),
            down_for: ms(1),
        },
    }
}

#[test]
fn the_completion_arrives_after_the_drawn_latency_as_a_sync_done_record() {
    let (sim, report) = run(Some(ms(5)), 1, vec![]);
    let started = Seen::Started { a: false, c: false };
    assert_eq!(seen(&sim), vec![(at(0), started.clone()), (at(5), Seen::Done(1))]);
    let done: Vec<&EventRecord> = report
        .last_events
        .iter()
        .filter(|r| r.kind == RecordKind::SyncDone)
        .collect();
    assert_eq!(done.len(), 1, "{:?}", report.last_events);
    assert_eq!((done[0].time, done[0].aux), (at(5), 0), "aux is the issue time");

    // A slow disk multiplies the asynchronous sync's latency as it does a blocking sync's.
    let slow = FaultAction {
        at: Instant::ZERO,
        fault: Fault::SlowDisk {
            host: HostId(0),
            factor: 3,
            duration: ms(50),
        },
    };
    let (sim, _) = run(Some(ms(5)), 1, vec![slow]);
    assert_eq!(seen(&sim), vec![(at(0), started), (at(15), Seen::Done(1))]);
}

#[test]
fn a_crash_before_completion_loses_the_covered_writes_and_the_completion() {
    let (sim, report) = run(Some(ms(5)), 1, vec![crash_at(3)]);
    assert_eq!(
        seen(&sim),
        vec![
            (at(0), Seen::Started { a: false, c: false }),
            (at(4), Seen::Started { a: false, c: false }),
        ],
        "the write was lost and the restarted process never heard of the sync"
    );
    assert!(
        report
            .last_events
            .iter()
            .any(|r| r.kind == RecordKind::Dropped && r.time == at(5)),
        "the completion came up for the dead incarnation and was dropped: {:?}",
        report.last_events
    );
    // After the completion the covered write survives the crash; the later one does not.
    let (sim, _) = run(Some(ms(5)), 1, vec![crash_at(7)]);
    assert_eq!(
        seen(&sim),
        vec![
            (at(0), Seen::Started { a: false, c: false }),
            (at(5), Seen::Done(1)),
            (at(8), Seen::Started { a: true, c: false }),
        ]
    );
}

#[test]
fn a_process_kill_drops_the_completion_and_leaves_the_writes_pending() {
    let kill = FaultAction {
        at: at(3),
        fault: Fault::KillProcess {
            host: HostId(0),
            process_index: 0,
            down_for: ms(1),
        },
    };
    // The restarted process still sees the writes (the OS has them) but never the completion;
    // they stay unsynced, so a host crash after the sync would have completed loses them.
    let (sim, _) = run(Some(ms(5)), 1, vec![kill, crash_at(7)]);
    assert_eq!(
        seen(&sim),
        vec![
            (at(0), Seen::Started { a: false, c: false }),
            (at(4), Seen::Started { a: true, c: true }),
            (at(8), Seen::Started { a: false, c: false }),
        ]
    );
}

#[test]
fn syncs_on_one_host_complete_in_the_order_they_were_issued() {
    let (sim, _) = run(Some(ms(5)), 3, vec![]);
    assert_eq!(
        seen(&sim)[1..],
        [
            (at(5), Seen::Done(1)),
            (at(10), Seen::Done(2)),
            (at(15), Seen::Done(3)),
        ],
        "the disk serves one sync at a time"
    );
}

#[test]
fn with_no_latency_the_completion_is_its_own_event_at_the_same_instant() {
    let (sim, report) = run(None, 1, vec![]);
    assert_eq!(
        seen(&sim),
        vec![
            (at(0), Seen::Started { a: false, c: false }),
            (at(0), Seen::Done(1)),
        ]
    );
    let kinds: Vec<(u64, RecordKind)> = report
        .last_events
        .iter()
        .filter(|r| r.process == 0)
        .map(|r| (r.index, r.kind))
        .collect();
    assert_eq!(kinds, vec![(0, RecordKind::Start), (1, RecordKind::SyncDone)]);
}

#[test]
fn a_run_that_never_syncs_in_the_background_is_unchanged() {
    // The same writer with no background sync: the write stays pending and the run's
    // fingerprint does not depend on the disk latency (nothing is drawn).
    let (_, none) = run(None, 0, vec![]);
    let (_, slow) = run(Some(ms(5)), 0, vec![]);
    assert_eq!(none.fingerprint, slow.fingerprint);
    let (_, syncing) = run(Some(ms(5)), 1, vec![]);
    assert_ne!(syncing.fingerprint, none.fingerprint);
}

/// Issues a background sync, then a blocking one, then another background one.
#[derive(Clone, Debug)]
struct Mixed;

impl Process for Mixed {
    type Message = ();
    type Timer = u32;
    type Operation = (&'static str, Instant);

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.storage().put("a", vec![1]);
        ctx.sync_async(1);
        ctx.storage().sync();
        let now = ctx.now();
        ctx.record(("blocking sync returned", now));
        ctx.sync_async(2);
    }
    fn on_message(&mut self, _: &mut Context<'_, Self>, _: ProcessId, _: ()) {}
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, n: u32) {
        let now = ctx.now();
        ctx.record((if n == 1 { "first done" } else { "second done" }, now));
    }
}

#[test]
fn a_blocking_sync_waits_for_the_background_syncs_queued_before_it_and_holds_later_ones() {
    let mut topology = Topology::single_switch(1, Distribution::constant(ms(1)));
    topology.host_mut(HostId(0)).costs = HostCosts {
        handler: None,
        disk_sync: Some(Distribution::constant(ms(5))),
    };
    let mut config = SimConfig::with_seed(1);
    config.limits.horizon = ms(100);
    let mut sim = Sim::new(config, &topology);
    sim.spawn(HostId(0), Mixed);
    sim.run();
    let seen: Vec<_> = sim.history().iter().map(|e| e.operation).collect();
    // The first completes at 5 ms, but its event waits for the stalled handler (the host's
    // one CPU) until 10 ms, when the blocking sync (5 ms to 10 ms) returns.
    assert_eq!(
        seen,
        [
            ("blocking sync returned", at(10)),
            ("first done", at(10)),
            ("second done", at(15)),
        ],
        "one disk: the blocking sync starts when the queued one is done, the next waits for it"
    );
}
