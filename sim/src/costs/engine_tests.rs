//! The cost rules on a running engine: each test would fail if its rule were broken.

use crate::*;

/// What a process saw, with the true time it saw it (the history's stamp).
#[derive(Clone, Debug, PartialEq)]
enum Seen {
    Started,
    Ping(ProcessId),
    Pong(u32),
    Timer,
}

/// A server answers pings (spending `work` and syncing first, if asked); a client pings the
/// server at start; every process may arm a timer at start.
#[derive(Clone, Debug)]
struct Node {
    server: Option<ProcessId>,
    work: Duration,
    sync: bool,
    timer: Option<Duration>,
}

fn server() -> Node {
    Node {
        server: None,
        work: Duration::ZERO,
        sync: false,
        timer: None,
    }
}

fn client(of: ProcessId) -> Node {
    Node {
        server: Some(of),
        ..server()
    }
}

impl Process for Node {
    type Message = u32;
    type Timer = ();
    type Operation = Seen;

    fn on_start(&mut self, ctx: &mut Context<'_, Self>) {
        ctx.record(Seen::Started);
        if let Some(s) = self.server {
            ctx.send(s, ctx.id().0);
        }
        if let Some(t) = self.timer {
            ctx.set_timer(t, ());
        }
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Self>, from: ProcessId, value: u32) {
        if self.server.is_some() {
            ctx.record(Seen::Pong(value));
            return;
        }
        ctx.record(Seen::Ping(from));
        ctx.spend(self.work);
        if self.sync {
            ctx.storage().put("k", vec![1]);
            ctx.storage().sync();
        }
        ctx.send(from, value);
    }
    fn on_timer(&mut self, ctx: &mut Context<'_, Self>, _: ()) {
        ctx.record(Seen::Timer);
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `clients` clients on hosts 1.., a server on host 0 with `server_costs`, 10 ms apart.
fn build(clients: u32, server_costs: HostCosts, node: Node) -> Sim<Node> {
    let mut topology = Topology::single_switch(clients + 1, Distribution::constant(ms(10)));
    topology.host_mut(HostId(0)).costs = server_costs;
    let mut sim = Sim::new(SimConfig::with_seed(3), &topology);
    let s = sim.spawn(HostId(0), node);
    for c in 0..clients {
        sim.spawn(HostId(c + 1), client(s));
    }
    sim
}

/// When each pong arrived (true time), in order.
fn pongs(sim: &Sim<Node>) -> Vec<(Instant, u32)> {
    sim.history()
        .iter()
        .filter_map(|e| match e.operation {
            Seen::Pong(v) => Some((e.time, v)),
            _ => None,
        })
        .collect()
}

fn handler_cost(d: Duration) -> HostCosts {
    HostCosts {
        handler: Some(Distribution::constant(d)),
        disk_sync: None,
    }
}

#[test]
fn a_host_with_a_handler_cost_answers_that_much_later() {
    let mut free = build(1, HostCosts::default(), server());
    free.run();
    assert_eq!(pongs(&free), vec![(Instant(ms(20).0), 1)]);
    let mut slow = build(1, handler_cost(ms(10)), server());
    slow.run();
    assert_eq!(pongs(&slow), vec![(Instant(ms(30).0), 1)]);
}

#[test]
fn a_busy_host_queues_its_events_in_arrival_order() {
    // Three pings arrive together at 10 ms; each takes 10 ms of the server's one CPU.
    let mut sim = build(3, handler_cost(ms(10)), server());
    sim.run();
    let got = pongs(&sim);
    assert_eq!(
        got,
        vec![
            (Instant(ms(30).0), 1),
            (Instant(ms(40).0), 2),
            (Instant(ms(50).0), 3),
        ]
    );
    let handled: Vec<Instant> = sim
        .history()
        .iter()
        .filter(|e| matches!(e.operation, Seen::Ping(_)))
        .map(|e| e.time)
        .collect();
    assert_eq!(
        handled,
        vec![Instant(ms(10).0), Instant(ms(20).0), Instant(ms(30).0)]
    );
}

#[test]
fn spent_time_and_disk_syncs_delay_what_follows_and_a_slow_disk_multiplies_syncs() {
    let work = Node {
        work: ms(3),
        ..server()
    };
    let mut sim = build(1, HostCosts::default(), work.clone());
    sim.run();
    assert_eq!(pongs(&sim), vec![(Instant(ms(23).0), 1)], "spend(3ms)");

    let disk = HostCosts {
        handler: None,
        disk_sync: Some(Distribution::constant(ms(2))),
    };
    let syncing = Node { sync: true, ..work };
    let mut sim = build(1, disk, syncing.clone());
    sim.run();
    assert_eq!(
        pongs(&sim),
        vec![(Instant(ms(25).0), 1)],
        "spend(3ms) + a 2 ms sync"
    );

    let mut sim = build(1, disk, syncing);
    let slow = Fault::SlowDisk {
        host: HostId(0),
        factor: 4,
        duration: ms(100),
    };
    sim.set_fault_plan(FaultPlan {
        actions: vec![FaultAction {
            at: Instant::ZERO,
            fault: slow,
        }],
        heal_at: None,
    })
    .unwrap();
    sim.run();
    assert_eq!(
        pongs(&sim),
        vec![(Instant(ms(31).0), 1)],
        "the sync takes 4 x 2 ms"
    );
}

#[test]
fn a_zero_cost_moves_nothing() {
    let run = |costs: HostCosts| {
        let mut sim = build(3, costs, server());
        sim.run().fingerprint
    };
    let none = run(HostCosts::default());
    assert_eq!(run(handler_cost(Duration::ZERO)), none);
    assert_ne!(run(handler_cost(Duration::from_micros(1))), none);
}

#[test]
fn clocks_that_start_apart_fire_first_timers_at_different_instants() {
    let firings = |spread: ClockSpread| {
        let mut topology = Topology::single_switch(3, Distribution::constant(ms(1)));
        topology.clock_spread = spread;
        let mut sim: Sim<Node> = Sim::new(SimConfig::with_seed(5), &topology);
        for h in 0..3 {
            let node = Node {
                timer: Some(ms(150)),
                ..server()
            };
            sim.spawn(HostId(h), node);
        }
        sim.run();
        let mut fired: Vec<(ProcessId, Instant)> = sim
            .history()
            .iter()
            .filter(|e| e.operation == Seen::Timer)
            .map(|e| (e.process, e.time))
            .collect();
        fired.sort();
        fired.into_iter().map(|(_, t)| t).collect::<Vec<_>>()
    };
    let same = firings(ClockSpread::default());
    assert_eq!(same, vec![Instant(ms(150).0); 3]);
    let apart = firings(ClockSpread {
        offset_max: ms(100),
        drift_max_ppm: 100,
        start_jitter_max: ms(50),
    });
    assert_eq!(apart.len(), 3);
    for (i, a) in apart.iter().enumerate() {
        assert!(*a >= Instant(ms(150).0) - Duration::from_micros(20), "{apart:?}");
        assert!(*a <= Instant(ms(200).0) + Duration::from_micros(20), "{apart:?}");
        for b in &apart[i + 1..] {
            assert_ne!(a, b, "two hosts fired together: {apart:?}");
        }
    }
}

#[test]
fn a_message_to_a_host_still_booting_waits_for_its_start() {
    // The server boots late; the client's ping, arriving at 1 ms, is handled after the start.
    let mut topology = Topology::single_switch(2, Distribution::constant(ms(1)));
    topology.clock_spread = ClockSpread {
        offset_max: Duration::ZERO,
        drift_max_ppm: 0,
        start_jitter_max: ms(100),
    };
    // A seed where the server (host 0) boots after the client's ping arrives.
    let spread = topology.clock_spread;
    let seed = (0..100u64)
        .find(|s| spread.draw(*s, 0).boot_at > spread.draw(*s, 1).boot_at + ms(2))
        .expect("some seed boots host 0 late");
    let boot = topology.clock_spread.draw(seed, 0).boot_at;
    let mut sim: Sim<Node> = Sim::new(SimConfig::with_seed(seed), &topology);
    let s = sim.spawn(HostId(0), server());
    sim.spawn(HostId(1), client(s));
    sim.run();
    let server_saw: Vec<(Instant, Seen)> = sim
        .history()
        .iter()
        .filter(|e| e.process == s)
        .map(|e| (e.time, e.operation.clone()))
        .collect();
    assert_eq!(server_saw[0], (Instant(boot.0), Seen::Started));
    assert_eq!(server_saw[1].1, Seen::Ping(ProcessId(1)));
    assert_eq!(server_saw[1].0, Instant(boot.0));
}
