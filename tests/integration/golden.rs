//! Golden fingerprints: three seeds of every built-in scenario, pinned as literals.
//!
//! A fingerprint folds every event of a run in order, so any change to event order, timing or
//! random draws shows up here even when every verdict stays the same. Engine refactors must
//! leave these untouched; a change that alters runs on purpose updates the literals in the same
//! commit and says why. The runs go through the CLI (`ruckus run NAME --seed N --json`), the
//! interface that stays stable while the scenarios API changes.

use crate::support::ruckus;

/// One pinned run: seed, verdict, fingerprint, event count.
type Golden = (u64, &'static str, &'static str, u64);

/// Runs each seed of `scenario` and fails, listing every mismatch, if any run differs.
fn check(scenario: &str, pinned: &[Golden]) {
    let mut mismatches = Vec::new();
    for &(seed, verdict, fingerprint, events) in pinned {
        let ran = ruckus(&["run", scenario, "--seed", &seed.to_string(), "--json"]);
        let json: serde_json::Value = serde_json::from_str(&ran.out)
            .unwrap_or_else(|e| panic!("{scenario} seed {seed}: not JSON ({e}): {}{}", ran.out, ran.err));
        let got = (
            json["verdict"].as_str().unwrap_or("?").to_string(),
            json["fingerprint"].as_str().unwrap_or("?").to_string(),
            json["events"].as_u64().unwrap_or(0),
        );
        if got != (verdict.to_string(), fingerprint.to_string(), events) {
            mismatches.push(format!(
                "  {scenario} seed {seed}: pinned ({verdict}, {fingerprint}, {events} events), got ({}, {}, {} events)",
                got.0, got.1, got.2
            ));
        }
    }
    assert!(
        mismatches.is_empty(),
        "event order changed: if intended, update the literals in tests/integration/golden.rs\n{}",
        mismatches.join("\n")
    );
}

// pingpong is a million deliveries (about 2 s a seed in debug): one test per seed, so they
// run in parallel.
#[test]
fn pingpong_seed_1() {
    check("pingpong", &[(1, "held", "38c18714b641d8f2", 1_000_005)]);
}

#[test]
fn pingpong_seed_2() {
    check("pingpong", &[(2, "held", "1effd120c3cecedd", 1_000_005)]);
}

#[test]
fn pingpong_seed_3() {
    check("pingpong", &[(3, "held", "5d3f693792739734", 1_000_005)]);
}

#[test]
fn lease_lock() {
    check(
        "lease_lock",
        &[
            (1, "held", "a4fb9e13865fde2e", 1808),
            (2, "held", "8e0211d9f9dc2b19", 1715),
            (3, "held", "a372795ad2dcc28d", 1681),
        ],
    );
}

#[test]
fn lease_lock_no_fencing() {
    check(
        "lease_lock_no_fencing",
        &[
            (1, "safety_violation", "0790e5e867208812", 515),
            (2, "safety_violation", "8fe9d8b0171e6315", 608),
            (3, "held", "a372795ad2dcc28d", 1681),
        ],
    );
}

#[test]
fn lease_lock_no_sync() {
    check(
        "lease_lock_no_sync",
        &[
            (1, "held", "a4fb9e13865fde2e", 1808),
            (2, "held", "8e0211d9f9dc2b19", 1715),
            (3, "held", "a372795ad2dcc28d", 1681),
        ],
    );
}

#[test]
fn lease_lock_clock_tokens() {
    check(
        "lease_lock_clock_tokens",
        &[
            (1, "held", "b3832105479e3945", 1828),
            (2, "held", "348d63d31f31f620", 1715),
            (3, "held", "f651668931c70fa1", 1699),
        ],
    );
}

#[test]
fn raft() {
    check(
        "raft",
        &[
            (1, "held", "dd788da02725e2b2", 47835),
            (2, "held", "fa4117f0d15f4043", 39841),
            (3, "held", "a3c7dac4dcc5aea1", 49176),
        ],
    );
}

#[test]
fn raft_lease() {
    check(
        "raft_lease",
        &[
            (1, "held", "df77f4814922b946", 10057),
            (2, "held", "498f253c29a8f923", 10663),
            (3, "held", "8e756a609018db49", 9909),
        ],
    );
}

#[test]
fn raft_stale_read_deposed_leader() {
    check(
        "raft_stale_read_deposed_leader",
        &[
            (1, "safety_violation", "e9c316efe90b8027", 10770),
            (2, "safety_violation", "d9581e81519fd4ab", 10980),
            (3, "held", "883f0475316cb099", 9254),
        ],
    );
}

#[test]
fn raft_vote_not_persisted() {
    check(
        "raft_vote_not_persisted",
        &[
            (1, "held", "3c685a763e3503fe", 12698),
            (2, "held", "87866b9ae57b1cc1", 11731),
            (3, "held", "9b2f288c7d5150cd", 11597),
        ],
    );
}

#[test]
fn raft_commit_previous_term() {
    check(
        "raft_commit_previous_term",
        &[
            (1, "held", "824c5a06c8f346ad", 33853),
            (2, "held", "9f2a5e8630feb090", 35626),
            (3, "safety_violation", "adfee3f1bb34322e", 7913),
        ],
    );
}

#[test]
fn raft_lease_without_drift_margin() {
    check(
        "raft_lease_without_drift_margin",
        &[
            (1, "held", "f0ae8f7e93dc280c", 10464),
            (2, "held", "feba00c4e16e8435", 10885),
            (3, "held", "8d72cb941bff4938", 10146),
        ],
    );
}

#[test]
fn raft_leader_crash() {
    check(
        "raft_leader_crash",
        &[
            (1, "held", "8c5aa33973b28a78", 45875),
            (2, "held", "3016c86d3822262c", 46531),
            (3, "held", "a5eb9eb747ef4a56", 46358),
        ],
    );
}

#[test]
fn swim() {
    check(
        "swim",
        &[
            (1, "held", "79af470ac1b17146", 3808),
            (2, "held", "e1acb2b4cf75acb4", 3369),
            (3, "held", "1e2814ca6374e5c6", 3768),
        ],
    );
}

#[test]
fn scheduler() {
    check(
        "scheduler",
        &[
            (1, "held", "2750c8a64c3592cd", 12578),
            (2, "held", "cd70b61e35860fd0", 13116),
            (3, "held", "4315e416eb0567d0", 12623),
        ],
    );
}

#[test]
fn scheduler_applier_trusts_snapshot() {
    check(
        "scheduler_applier_trusts_snapshot",
        &[
            (1, "safety_violation", "0e25c66a2eb4aaa3", 259),
            (2, "safety_violation", "a9fd232b67964006", 234),
            (3, "safety_violation", "adbeac382fd70dbb", 226),
        ],
    );
}

#[test]
fn catalog_stack() {
    check(
        "catalog_stack",
        &[
            (1, "held", "8a6e098bfe33f0cd", 13961),
            (2, "held", "769e5c2d8dc4ec2e", 17710),
            (3, "held", "0321389720dd8a9d", 12791),
        ],
    );
}

#[test]
fn scheduler_lost_allocs_not_replaced() {
    check(
        "scheduler_lost_allocs_not_replaced",
        &[
            (1, "liveness_failure", "debab906a651f2b4", 11868),
            (2, "liveness_failure", "1fef70ecac3eb3df", 12570),
            (3, "liveness_failure", "f22f4a788276bbb5", 12195),
        ],
    );
}

#[test]
fn scheduler_reschedule_without_backoff() {
    check(
        "scheduler_reschedule_without_backoff",
        &[
            (1, "safety_violation", "c52de65d98ddf94f", 577),
            (2, "safety_violation", "b798a5021114620d", 617),
            (3, "safety_violation", "6a9bf7538f46f6a5", 633),
        ],
    );
}

#[test]
fn scheduler_fixed_heartbeat_ttl() {
    check(
        "scheduler_fixed_heartbeat_ttl",
        &[
            (1, "safety_violation", "c5bdd791a04055b0", 35709),
            (2, "safety_violation", "8ca24ead3437da37", 35103),
            (3, "safety_violation", "2b0846082755a475", 34980),
        ],
    );
}

#[test]
fn scheduler_evals_in_leader_memory() {
    check(
        "scheduler_evals_in_leader_memory",
        &[
            (1, "held", "938a9e5d31c89799", 11648),
            (2, "held", "2df8a71d5c53d057", 11809),
            (3, "liveness_failure", "f81f0df423627787", 10487),
        ],
    );
}

#[test]
fn scheduler_rolling_update() {
    check(
        "scheduler_rolling_update",
        &[
            (1, "held", "f6d2fe75e823a507", 20967),
            (2, "held", "ba24a319c65fb349", 21531),
            (3, "held", "e06909b616961c60", 20996),
        ],
    );
}

#[test]
fn scheduler_update_ignores_max_parallel() {
    check(
        "scheduler_update_ignores_max_parallel",
        &[
            (1, "safety_violation", "b63f5101b5c4e062", 2309),
            (2, "safety_violation", "e5a6f72b3fa564fa", 2380),
            (3, "safety_violation", "fa56b192b7a59c3e", 2268),
        ],
    );
}

#[test]
fn consul() {
    check(
        "consul",
        &[
            (1, "held", "f3d383f23707e82e", 26828),
            (2, "held", "b2f1c19efa044251", 27472),
            (3, "held", "7e1bb9f38812b578", 27534),
        ],
    );
}

#[test]
fn consul_cache_without_expiry() {
    check(
        "consul_cache_without_expiry",
        &[
            (1, "safety_violation", "4b68b5473c9096ea", 10213),
            (2, "safety_violation", "e575934fde8b4541", 10068),
            (3, "safety_violation", "0557e5f2bd33e1ef", 10071),
        ],
    );
}

#[test]
fn consul_registrations_not_persisted() {
    check(
        "consul_registrations_not_persisted",
        &[
            (1, "held", "c1a32413cafea114", 9214),
            // Verdicts, not events, changed deliberately: the lost registration
            // (`acknowledged_registrations_kept`, checked at the end) outranks the liveness
            // property whose deadline lies past the horizon.
            (2, "safety_violation", "cf39f5b6692cb8ef", 9567),
            (3, "safety_violation", "d743f38014246c85", 9175),
        ],
    );
}

#[test]
fn eureka() {
    check(
        "eureka",
        &[
            (1, "held", "5bec69ca90911d56", 41748),
            (2, "held", "6e679fc795b8cd7a", 40897),
            (3, "held", "5010c638528a9553", 42452),
        ],
    );
}

#[test]
fn eureka_no_self_preservation() {
    check(
        "eureka_no_self_preservation",
        &[
            (1, "safety_violation", "79754d1d66ba40f9", 25911),
            (2, "held", "7e5a09c7aa8d1b59", 41647),
            (3, "safety_violation", "608b7e913566e241", 32595),
        ],
    );
}

#[test]
fn platform() {
    check(
        "platform",
        &[
            (1, "held", "430ad72dde7925d6", 600761),
            (2, "held", "634ec9b0d3d2858b", 597715),
            (3, "held", "1c7c9566543d33ca", 563737),
        ],
    );
}

#[test]
fn platform_zone_outage() {
    check(
        "platform_zone_outage",
        &[
            (1, "held", "80b3ff4523c3b8d5", 403883),
            (2, "held", "dc6d517dd1c1d154", 410855),
            (3, "held", "7fd177c7165db064", 411007),
        ],
    );
}

#[test]
fn platform_strained() {
    check(
        "platform_strained",
        &[
            (1, "held", "8dfbb6e690d7baf5", 618749),
            (2, "held", "c50745a488b1382f", 597211),
            (3, "held", "6fea932869fad5af", 595938),
        ],
    );
}

#[test]
fn platform_raft_churn() {
    check(
        "platform_raft_churn",
        &[
            (1, "held", "90c6ef1931ae5d04", 402222),
            (2, "held", "b3b2c07ca579a210", 398245),
            (3, "held", "318d216551df878e", 385345),
        ],
    );
}

#[test]
fn swim_no_incarnation_bump() {
    check(
        "swim_no_incarnation_bump",
        &[
            (1, "liveness_failure", "fc8eefc084c51b11", 3147),
            (2, "liveness_failure", "885784686263cf38", 2918),
            (3, "liveness_failure", "22065f2d81eb9528", 3065),
        ],
    );
}

#[test]
fn swim_no_suspicion() {
    check(
        "swim_no_suspicion",
        &[
            (1, "safety_violation", "5cb42cfd4ab67206", 1201),
            (2, "held", "db59bd12711daef0", 5381),
            (3, "held", "360b33354066febf", 5568),
        ],
    );
}

#[test]
fn every_builtin_scenario_is_pinned() {
    let source = include_str!("golden.rs");
    let missing: Vec<&str> = ruckus_scenarios::builtin::names()
        .filter(|name| {
            !source.contains(&format!("check(\"{name}\""))
                && !source.contains(&format!("\"{name}\",\n        &["))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "built-in scenarios without golden fingerprints (add three seeds each): {missing:?}"
    );
}
