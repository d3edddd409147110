use super::*;
use crate::clock::ClockConfig;
use crate::costs::HostCosts;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn all_pairs(n: u32) -> impl Iterator<Item = (HostId, HostId)> {
    (0..n).flat_map(move |a| (0..n).map(move |b| (HostId(a), HostId(b))))
}

#[test]
fn host_names_read_h_and_the_id() {
    for id in [0, 7, 10, 99, 4_095, 65_536, 1_000_000_007, u32::MAX] {
        let expect = format!("h{id}");
        assert_eq!(format!("{}", HostId(id)), expect);
        assert_eq!(format!("{:?}", HostId(id)), expect);
    }
    assert_eq!(format!("{:?}", vec![HostId(1), HostId(20)]), "[h1, h20]");
}

#[test]
fn single_switch_latency_is_the_fabric_latency() {
    let net = Network::new(&Topology::single_switch(3, Distribution::uniform(ms(1), ms(10))));
    let mut rng = Random::stream(1, "net", 0);
    for _ in 0..1000 {
        let Transmission::Once(t) = net.transmit(HostId(0), HostId(2), Instant(0), &mut rng) else {
            panic!("dropped without faults")
        };
        assert!((ms(1).0..=ms(10).0).contains(&t.0));
    }
    let Transmission::Once(t) = net.transmit(HostId(1), HostId(1), Instant(0), &mut rng) else {
        panic!()
    };
    assert_eq!(t, Instant(1_000), "loopback latency");
}

#[test]
fn pairs_with_the_same_path_share_one_route() {
    let net = Network::new(&Topology::single_switch(50, Distribution::uniform(ms(1), ms(10))));
    // The loopback and the switch fabric: two recipes for 2,500 pairs, in one class.
    assert_eq!(net.routes.len(), 2);
    assert_eq!(net.hops.len(), 1);
    assert_eq!((net.classes, net.class_pairs.len()), (1, 1));
    let zoned = Network::new(&Topology::zoned(
        12,
        3,
        Distribution::uniform(ms(1), ms(2)),
        Distribution::uniform(ms(5), ms(9)),
    ));
    // Loopback, same zone, other zone; a class per zone.
    assert_eq!(zoned.routes.len(), 3);
    assert_eq!(zoned.classes, 3);
}

#[test]
fn link_faults_touch_only_their_pair_and_clear_on_removal() {
    let mut net = Network::new(&Topology::single_switch(3, Distribution::constant(ms(1))));
    let mut rng = Random::stream(1, "net", 0);
    net.add_slow(1, HostId(0), HostId(1), 3);
    net.add_clog(2, HostId(0), HostId(1), Instant(ms(7).0));
    net.add_slow(3, HostId(0), HostId(1), 5);
    let t =
        |net: &Network, rng: &mut Random, a: u32, b: u32| net.transmit(HostId(a), HostId(b), Instant(0), rng);
    // The largest factor wins, then the clog holds the message back.
    assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(7).0)));
    net.remove_link_fault(2);
    assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(5).0)));
    assert_eq!(t(&net, &mut rng, 0, 2), Transmission::Once(Instant(ms(1).0)));
    net.remove_link_fault(3);
    assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(3).0)));
    net.heal();
    assert_eq!(t(&net, &mut rng, 0, 1), Transmission::Once(Instant(ms(1).0)));
    assert!(net.link_faults.is_empty());
    assert!(!net.faulted);
}

/// The inline path of a plain send must draw and decide exactly as `transmit` does, for
/// every route shape it folds (constants only, one uniform hop, several hops, the whole
/// u64 range), and step aside whenever a fault or chaos is in force.
#[test]
fn a_plain_arrival_is_exactly_what_transmit_decides() {
    let mut zoned = Topology::zoned(
        9,
        3,
        Distribution::uniform(ms(1), ms(10)),
        Distribution::Normal {
            mean: ms(20),
            std_dev: ms(3),
        },
    );
    zoned.loopback = Distribution::uniform(Duration(0), Duration(u64::MAX));
    let topologies = [
        Topology::single_switch(4, Distribution::uniform(ms(1), ms(10))),
        Topology::single_switch(4, Distribution::constant(ms(3))),
        zoned,
    ];
    for topology in &topologies {
        let mut net = Network::new(topology);
        let n = net.host_count() as u32;
        let (mut plain, mut full) = (Random::stream(7, "net", 0), Random::stream(7, "net", 0));
        for round in 0..400u64 {
            let (a, b) = (
                HostId((round % u64::from(n)) as u32),
                HostId((round / 3 % u64::from(n)) as u32),
            );
            let now = Instant(round * 1_000);
            let got = net.plain_arrival(a, b, now, &mut plain);
            assert_eq!(
                got.map(Transmission::Once),
                Some(net.transmit(a, b, now, &mut full)),
                "{a}->{b} on {topology:?}"
            );
            // Same draws: the streams are still in step.
            assert_eq!(plain.clone().next_u64(), full.clone().next_u64());
        }
        net.add_partition(1, Partition::Isolate { host: HostId(0) });
        assert_eq!(
            net.plain_arrival(HostId(1), HostId(2), Instant(0), &mut plain),
            None
        );
        net.heal();
        net.set_chaos(Some(NetworkChaos::default()));
        assert_eq!(
            net.plain_arrival(HostId(1), HostId(2), Instant(0), &mut plain),
            None
        );
        // Stepping aside draws nothing.
        assert_eq!(plain.clone().next_u64(), full.clone().next_u64());
    }
}

/// The one-read send path is on exactly while nothing but the route decides a send between
/// two hosts, and comes back when the fault or chaos goes.
#[test]
fn the_direct_latency_holds_only_while_no_fault_or_chaos_is_in_force() {
    let uniform = Distribution::uniform(ms(1), ms(10));
    let mut net = Network::new(&Topology::single_switch(4, uniform));
    assert!(net.direct.is_some());
    net.add_partition(1, Partition::Isolate { host: HostId(3) });
    assert_eq!(net.direct, None);
    net.remove_partition(1);
    assert!(net.direct.is_some());
    net.add_clog(2, HostId(0), HostId(1), Instant(5));
    assert_eq!(net.direct, None);
    net.remove_link_fault(2);
    assert!(net.direct.is_some());
    net.set_chaos(Some(NetworkChaos::default()));
    assert_eq!(net.direct, None);
    net.heal();
    assert!(net.direct.is_some());
    // Constant links, several classes, or a lone host: never.
    assert_eq!(
        Network::new(&Topology::single_switch(4, Distribution::constant(ms(2)))).direct,
        None
    );
    assert_eq!(
        Network::new(&Topology::zoned(9, 3, uniform, uniform)).direct,
        None
    );
    assert_eq!(Network::new(&Topology::single_switch(1, uniform)).direct, None);
}

#[test]
fn sends_skip_the_fault_checks_only_while_no_fault_is_active() {
    let mut net = Network::new(&Topology::single_switch(4, Distribution::constant(ms(2))));
    let mut rng = Random::stream(1, "net", 0);
    assert!(!net.faulted);
    net.add_partition(1, Partition::Isolate { host: HostId(3) });
    assert!(net.faulted);
    assert_eq!(
        net.transmit(HostId(0), HostId(3), Instant(0), &mut rng),
        Transmission::Dropped
    );
    net.remove_partition(1);
    assert!(!net.faulted);
    net.add_slow(2, HostId(1), HostId(2), 4);
    assert!(net.faulted);
    assert_eq!(
        net.transmit(HostId(1), HostId(2), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(8).0))
    );
    net.heal();
    assert!(!net.faulted);
    assert_eq!(
        net.transmit(HostId(1), HostId(2), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(2).0))
    );
}

/// Latency parts of the shortest path from `a` to `b`, as the table would fold them:
/// the constant sum and the sampled hops' keys, or `None` without a path.
fn own_route(topo: &Topology, a: HostId, b: HostId) -> Option<(u64, Vec<[u64; 3]>)> {
    let parts = if a == b {
        vec![topo.loopback]
    } else {
        topo.paths_from(a)[b.index()].clone()?
    };
    let constant = parts
        .iter()
        .map(|d| match d {
            Distribution::Constant { value } => value.0,
            _ => 0,
        })
        .sum();
    let sampled = parts
        .iter()
        .filter(|d| !matches!(d, Distribution::Constant { .. }))
        .map(distribution_key)
        .collect();
    Some((constant, sampled))
}

/// Sharing routes by class gives every pair exactly the route its own shortest-path search
/// finds, in a topology mixing shared switches, distinct link latencies, a host on two
/// switches, a host linked straight to another, and an unlinked host.
#[test]
fn class_routes_match_every_pairs_own_path() {
    let mut t = Topology::new();
    let s1 = t.add_switch(Distribution::uniform(ms(1), ms(3)));
    let s2 = t.add_switch(Distribution::constant(ms(2)));
    t.link_switches(s1, s2, Distribution::constant(ms(7)));
    let hosts: Vec<HostId> = (0..11)
        .map(|i| {
            t.add_host(HostSpec {
                name: format!("h{i}"),
                zone: None,
                clock: ClockConfig::default(),
                costs: HostCosts::default(),
            })
        })
        .collect();
    let zero = Distribution::constant(Duration::ZERO);
    for &h in &hosts[0..4] {
        t.link_host(h, s1, zero);
    }
    t.link_host(hosts[4], s1, Distribution::constant(ms(1)));
    t.link_host(hosts[5], s2, zero);
    t.link_host(hosts[6], s2, zero);
    t.link_host(hosts[7], s1, zero);
    t.link_host(hosts[7], s2, Distribution::uniform(ms(1), ms(2)));
    t.link_hosts(hosts[8], hosts[0], Distribution::constant(ms(4)));
    t.link_host(hosts[9], s1, zero);
    // hosts[10] has no link.
    let net = Network::new(&t);
    // {1,2,3,9}, {4}, {5,6}, and h0 (two links), h7, h8, h10 alone.
    assert_eq!(net.classes, 7);
    let (mut blocked, mut open) = (0, 0);
    for (a, b) in all_pairs(11) {
        let cell = net.cell(a.index(), b.index());
        match own_route(&t, a, b) {
            None => {
                blocked += 1;
                assert_ne!(cell & PAIR_BLOCKED, 0, "{a}->{b} has no path");
                assert!(!net.reachable(a, b));
            }
            Some((constant, sampled)) => {
                open += 1;
                assert_eq!(cell & PAIR_BLOCKED, 0, "{a}->{b} has a path");
                let r = net.routes[(cell & PAIR_ROUTE) as usize];
                let hops = &net.hops[r.hop_start as usize..(r.hop_start + r.hop_len) as usize];
                let keys: Vec<[u64; 3]> = hops.iter().map(distribution_key).collect();
                assert_eq!((r.constant_ns, keys), (constant, sampled), "{a}->{b}");
            }
        }
    }
    // h10 reaches nobody and nobody reaches it; h8 reaches only h0 (hosts never relay).
    assert_eq!(blocked, 2 * 10 + 2 * 8);
    assert_eq!(open + blocked, 121);
}

#[test]
fn zoned_paths_add_inter_zone_links() {
    let t = Topology::zoned(
        4,
        2,
        Distribution::constant(ms(1)),
        Distribution::constant(ms(20)),
    );
    let net = Network::new(&t);
    let mut rng = Random::stream(1, "net", 0);
    // h0 and h2 share zone z0; h0 and h1 are in different zones.
    assert_eq!(
        net.transmit(HostId(0), HostId(2), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(1).0))
    );
    assert_eq!(
        net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(22).0))
    );
}

#[test]
fn partitions_block_exactly_the_cut_pairs() {
    let topo = Topology::zoned(6, 2, Distribution::constant(ms(1)), Distribution::constant(ms(5)));
    let hosts = topo.hosts().to_vec();
    let h = HostId;
    let cases = vec![
        Partition::Isolate { host: h(2) },
        Partition::Halves {
            side: vec![h(0), h(1), h(2)],
        },
        Partition::OneWay {
            from: vec![h(0)],
            to: vec![h(1), h(3)],
        },
        Partition::Bridge {
            left: vec![h(0), h(1)],
            right: vec![h(3), h(4)],
            bridge: h(2),
        },
        Partition::Zone { zone: "z1".into() },
    ];
    for p in cases {
        let mut net = Network::new(&topo);
        net.add_partition(7, p.clone());
        for (a, b) in all_pairs(6) {
            let expect_cut = match &p {
                Partition::Isolate { host } => a != b && (a == *host || b == *host),
                Partition::Halves { side } => side.contains(&a) != side.contains(&b),
                Partition::OneWay { .. } => a == h(0) && (b == h(1) || b == h(3)),
                Partition::Bridge { .. } => {
                    let l = |x: HostId| x.0 <= 1;
                    let r = |x: HostId| x.0 == 3 || x.0 == 4;
                    (l(a) && r(b)) || (r(a) && l(b))
                }
                Partition::Zone { .. } => {
                    let z1 = |x: HostId| hosts[x.index()].zone.as_deref() == Some("z1");
                    z1(a) != z1(b)
                }
            };
            assert_eq!(!net.reachable(a, b), expect_cut, "{p:?} {a}->{b}");
        }
        net.remove_partition(7);
        assert!(all_pairs(6).all(|(a, b)| net.reachable(a, b)), "healed {p:?}");
    }
}

/// The labels (and, past the label bits, the per-pair counts) after any sequence of
/// partitions coming and going (overlapping, with hosts named twice or on both sides of a
/// bridge) block exactly what checking every active partition on every pair would. Run
/// with all 64 bits, with 3 (so some partitions are counted while others hold bits), and
/// with none (all counted).
#[test]
fn incremental_partitions_match_a_full_recomputation() {
    for bits in [PARTITION_BITS, 3, 0] {
        partitions_match_a_full_recomputation(bits);
    }
}

fn partitions_match_a_full_recomputation(bit_capacity: u32) {
    let topo = Topology::zoned(9, 3, Distribution::constant(ms(1)), Distribution::constant(ms(5)));
    let hosts = topo.hosts().to_vec();
    let mut net = Network::new(&topo);
    net.bit_capacity = bit_capacity;
    let mut rng = Random::stream(11, "test", 0);
    let pick = |rng: &mut Random, k: u64| -> Vec<HostId> {
        (0..rng.below(k) + 1)
            .map(|_| HostId(rng.below(9) as u32))
            .collect()
    };
    let mut active: Vec<(u64, Partition)> = Vec::new();
    let (mut most_counted, mut most_bits) = (0, 0);
    for step in 0..400u64 {
        if active.is_empty() || rng.chance(0.55) {
            let p = match rng.below(5) {
                0 => Partition::Isolate {
                    host: HostId(rng.below(9) as u32),
                },
                1 => Partition::Halves {
                    side: pick(&mut rng, 6),
                },
                2 => Partition::OneWay {
                    from: pick(&mut rng, 5),
                    to: pick(&mut rng, 5),
                },
                3 => Partition::Bridge {
                    left: pick(&mut rng, 4),
                    right: pick(&mut rng, 4),
                    bridge: HostId(rng.below(9) as u32),
                },
                _ => Partition::Zone {
                    zone: format!("z{}", rng.below(3)),
                },
            };
            net.add_partition(step, p.clone());
            active.push((step, p));
        } else {
            let (id, _) = active.remove(rng.below(active.len() as u64) as usize);
            net.remove_partition(id);
        }
        most_counted = most_counted.max(net.counted);
        most_bits = most_bits.max(net.used_bits.count_ones());
        for (a, b) in all_pairs(9) {
            let cut = active.iter().any(|(_, p)| p.blocks(a, b, &hosts));
            assert_eq!(
                !net.reachable(a, b),
                cut,
                "{bit_capacity} bits, step {step}: {a}->{b} under {active:?}"
            );
        }
        assert_eq!(net.faulted, !active.is_empty());
    }
    // Both ways of keeping a partition were exercised as the capacity asks.
    assert_eq!(most_bits > 0, bit_capacity > 0);
    assert_eq!(most_counted > 0, bit_capacity < 8, "{bit_capacity} bits");
    assert!(most_bits <= bit_capacity);
    net.heal();
    assert!(all_pairs(9).all(|(a, b)| net.reachable(a, b)));
    assert!(net.cuts.iter().all(|&c| c == 0));
    assert_eq!((net.used_bits, net.counted), (0, 0));
    assert!(net.labels.iter().all(|l| *l == HostLabels::default()));
}

#[test]
fn one_way_cuts_one_direction_only() {
    let mut net = Network::new(&Topology::single_switch(2, Distribution::constant(ms(1))));
    net.add_partition(
        1,
        Partition::OneWay {
            from: vec![HostId(0)],
            to: vec![HostId(1)],
        },
    );
    let mut rng = Random::stream(1, "net", 0);
    assert_eq!(
        net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
        Transmission::Dropped
    );
    assert_eq!(
        net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(1).0))
    );
}

#[test]
fn slow_and_clogged_links_delay_messages() {
    let mut net = Network::new(&Topology::single_switch(2, Distribution::constant(ms(1))));
    let mut rng = Random::stream(1, "net", 0);
    net.add_slow(1, HostId(0), HostId(1), 10);
    assert_eq!(
        net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(10).0))
    );
    assert_eq!(
        net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(1).0))
    );
    net.add_clog(2, HostId(1), HostId(0), Instant(ms(50).0));
    assert_eq!(
        net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(50).0))
    );
    net.remove_link_fault(1);
    net.remove_link_fault(2);
    assert_eq!(
        net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(1).0))
    );
    assert_eq!(
        net.transmit(HostId(1), HostId(0), Instant(0), &mut rng),
        Transmission::Once(Instant(ms(1).0))
    );
}

#[test]
fn chaos_loses_and_duplicates_at_about_the_set_rates() {
    let mut net = Network::new(&Topology::single_switch(2, Distribution::constant(ms(1))));
    net.set_chaos(Some(NetworkChaos {
        loss: 0.2,
        duplicate: 0.1,
        reorder: 0.0,
        reorder_window: Duration::ZERO,
    }));
    let mut rng = Random::stream(5, "net", 0);
    let (mut lost, mut dup) = (0, 0);
    for _ in 0..10_000 {
        match net.transmit(HostId(0), HostId(1), Instant(0), &mut rng) {
            Transmission::Dropped => lost += 1,
            Transmission::Twice(..) => dup += 1,
            Transmission::Once(_) => {}
        }
    }
    assert!((1800..2200).contains(&lost), "lost {lost}");
    assert!((650..950).contains(&dup), "dup {dup}");
    net.heal();
    assert!(matches!(
        net.transmit(HostId(0), HostId(1), Instant(0), &mut rng),
        Transmission::Once(_)
    ));
}
