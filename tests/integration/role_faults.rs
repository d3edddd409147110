//! Role-targeted faults end to end: a scenario's plan aims at "the leader", a profile's
//! instance killer at one service group, and the runs show whom they hit.

use ruckus_models::raft::{RaftModel, Role};
use ruckus_models::services::ServicesModel;
use ruckus_scenarios::registry::Registry;
use ruckus_scenarios::runner;
use ruckus_scenarios::scenario::Scenario;
use ruckus_sim::trace::shared;
use ruckus_sim::{EventRecord, Fault, Lifecycle, Model, ProcessId, RecordKind, RecordingObserver, Sim};

/// Builds `scenario` for `seed` with its fault plan.
fn build<M: Model>(scenario: &Scenario, seed: u64) -> Sim<M::Process> {
    let config = scenario.model_config::<M>().unwrap();
    let plan = runner::fault_plan(scenario, seed);
    runner::build::<M>(&scenario.topology, &config, &plan, scenario.limits, seed, None).unwrap()
}

/// Runs `sim` to the end and returns its fault begin records.
fn fault_begins<P: ruckus_sim::Process>(sim: &mut Sim<P>) -> Vec<EventRecord> {
    let (obs, records) = shared(RecordingObserver::default());
    sim.set_observer(Box::new(obs));
    sim.run();
    let records = records.borrow();
    records
        .records
        .iter()
        .filter(|r| r.kind == RecordKind::FaultBegin)
        .copied()
        .collect()
}

#[test]
fn raft_leader_crash_crashes_the_server_that_leads_at_that_moment() {
    let scenario = Scenario::load(&Registry::builtin(), "raft_leader_crash", &[]).unwrap();
    let plan = scenario.faults.plan.clone().expect("an explicit plan");
    assert!(matches!(plan.actions[0].fault, Fault::CrashRole { .. }), "{plan}");
    let mut leaders_hit = Vec::new();
    for seed in 1..=3 {
        let mut sim = build::<RaftModel>(&scenario, seed);
        let begins = fault_begins(&mut sim);
        let crash = begins.iter().find(|r| r.peer == 0).expect("the crash began");
        assert_eq!(crash.aux, 1, "seed {seed}: the crash hit nobody");
        let victim = ProcessId(crash.process);
        // The same run again, stopped just before the crash: the victim leads then, in the
        // highest term any server has reached.
        let mut again = build::<RaftModel>(&scenario, seed);
        again.run_until_event(crash.index);
        let server = |p: u32| again.process(ProcessId(p)).and_then(|r| r.as_server());
        let victim_state = server(victim.0).expect("the victim is a live server");
        assert_eq!(victim_state.role, Role::Leader, "seed {seed}");
        let top_term = (0..5).filter_map(server).map(|s| s.term).max().unwrap();
        assert_eq!(
            victim_state.term, top_term,
            "seed {seed}: a deposed leader was hit"
        );
        // One server per host: its host crashed at 3 s (with the clients on it), no other.
        assert_eq!(crash.host, victim.0);
        let crashed: Vec<u32> = (0..sim.process_count() as u32)
            .filter(|&p| {
                sim.lifecycle(ProcessId(p))
                    .iter()
                    .any(|e| e.kind == Lifecycle::Crashed)
            })
            .collect();
        assert!(crashed.contains(&victim.0), "seed {seed}");
        assert!(
            crashed.iter().all(|&p| sim.host_of(ProcessId(p)).0 == crash.host),
            "seed {seed}: {crashed:?}"
        );
        // The isolated follower was a follower, not the crashed leader.
        let isolated = begins.iter().find(|r| r.peer == 1).expect("the partition began");
        assert!(isolated.aux == 1 && isolated.process != victim.0, "seed {seed}");
        leaders_hit.push(victim.0);
    }
    assert!(leaders_hit.iter().all(|&p| p < 5), "{leaders_hit:?}");
}

const SERVICES_WITH_A_KILLER: &str = r#"
description = "two tiers under an instance killer aimed at tier1"
seed = 1

[model]
name = "services"
clients = 2
workload = { open = { rate = 100.0 } }

[[model.tiers]]
servers = 2
concurrency = 4
service_time = { exponential = { mean = "2ms" } }

[[model.tiers]]
servers = 3
concurrency = 4
service_time = { exponential = { mean = "2ms" } }

[topology]
hosts = 7
latency = { constant = { value = "1ms" } }

[faults.profile]
quiet_period = "2s"
instance_killer = { roles = ["tier1"], every = "700ms", from = "500ms", down_for = "300ms" }

[limits]
horizon = "8s"
"#;

#[test]
fn the_instance_killer_kills_only_instances_of_the_named_group() {
    let registry = Registry::builtin();
    let scenario = Scenario::from_text(
        &registry,
        "killer",
        "killer",
        "killer.toml",
        SERVICES_WITH_A_KILLER,
        &[],
    )
    .unwrap();
    // Processes: tier 0 is p0-p1, tier 1 is p2-p4, clients p5-p6.
    let tier1 = [2u32, 3, 4];
    for seed in 1..=3 {
        let plan = runner::fault_plan(&scenario, seed);
        // 0.5 s + k * 0.7 s before faults stop at 6 s: kills at 1.2, 1.9, ... 5.4 s.
        assert_eq!(plan.actions.len(), 7, "{plan}");
        let mut sim = build::<ServicesModel>(&scenario, seed);
        let begins = fault_begins(&mut sim);
        assert_eq!(begins.len(), 7);
        let hit: Vec<u32> = begins.iter().map(|r| r.process).collect();
        assert!(hit.iter().all(|p| tier1.contains(p)), "seed {seed}: {hit:?}");
        for p in 0..7u32 {
            let kills = sim
                .lifecycle(ProcessId(p))
                .iter()
                .filter(|e| e.kind == Lifecycle::Killed)
                .count();
            let expected = hit.iter().filter(|&&h| h == p).count();
            assert_eq!(kills, expected, "seed {seed}: p{p}");
        }
        let mut distinct = hit.clone();
        distinct.sort();
        distinct.dedup();
        assert!(
            distinct.len() >= 2,
            "seed {seed}: seven kills, one instance: {hit:?}"
        );
    }
}

#[test]
fn scenario_checks_name_the_chaos_field_at_fault() {
    let registry = Registry::builtin();
    // `extra` goes into [faults.profile], before the instance killer.
    let load = |extra: &str| {
        let text =
            SERVICES_WITH_A_KILLER.replace("instance_killer = ", &format!("{extra}\ninstance_killer = "));
        Scenario::from_text(&registry, "k", "k", "k.toml", &text, &[])
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    load("").unwrap();
    let err = load(
        r#"latency_monkey = { role = "tier1", percent = 50, mode = "warp:9", at = "1s", duration = "1s" }"#,
    )
    .unwrap_err();
    assert!(
        err.contains("faults.profile.latency_monkey.mode") && err.contains("warp:9"),
        "{err}"
    );
    let err = load(r#"zone_outage = { at = "1s", down_for = "1s" }"#).unwrap_err();
    assert!(
        err.contains("faults.profile.zone_outage") && err.contains("zoned"),
        "{err}"
    );
    let err = load(r#"leader_crash = { target = "the very leader", down_for = "1s" }"#).unwrap_err();
    assert!(err.contains("not understood"), "{err}");
    // An explicit plan with a role degradation is checked against the model's modes too.
    let plan = SERVICES_WITH_A_KILLER
        .replace(
            r#"instance_killer = { roles = ["tier1"], every = "700ms", from = "500ms", down_for = "300ms" }"#,
            "",
        )
        .replace("[faults.profile]\nquiet_period = \"2s\"\n", "")
        + r#"
[[faults.plan.actions]]
at = "1s"
fault = { degrade_role = { target = "30% of tier1", mode = "warp:9", duration = "1s" } }
"#;
    let err = Scenario::from_text(&registry, "k", "k", "k.toml", &plan, &[])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("faults.plan.actions") && err.contains("warp:9"),
        "{err}"
    );
}

#[test]
fn ruckus_replay_says_whom_each_role_fault_hit() {
    let dir = crate::support::TempDir::new("role-replay");
    let trace = dir.file("leader.trace");
    let trace = trace.to_str().unwrap();
    let ran = crate::support::ruckus(&["run", "raft_leader_crash", "--seed", "1", "--trace", trace]);
    assert!(ran.out.contains("held"), "{}{}", ran.out, ran.err);
    let replayed = crate::support::ruckus(&["replay", trace]);
    let out = &replayed.out;
    assert!(out.contains("matches"), "{out}{}", replayed.err);
    // Seed 1's leader at 3 s is server 3 (p3 on h3), pinned by the golden run.
    assert!(
        out.contains("fault #0 @3.000000000s (crash the leader for 2.000000000s): hit p3 on h3"),
        "{out}"
    );
    assert!(
        out.contains(
            "fault #1 @4.000000000s (partition a random follower from the rest for 1.000000000s): hit p"
        ),
        "{out}"
    );
}
