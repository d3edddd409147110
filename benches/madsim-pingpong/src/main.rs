//! Pingpong on madsim: 5 nodes, 50 balls in flight, 1,000,000 deliveries (by default).
//!
//! Build and run with `RUSTFLAGS="--cfg madsim" cargo run --release -- [DELIVERIES]`; prints
//! `madsim: <deliveries/s> deliveries/s (<n> deliveries in <secs> s)`. `benches/compare.sh`
//! runs it next to the ruckus benches.
//!
//! Differences from the ruckus run, stated honestly:
//! * Latency: madsim's `net.send_latency` is a uniform range, set to 1 ms..10 ms. madsim draws
//!   from the half-open range (10 ms itself never occurs) with nanosecond resolution; ruckus
//!   draws from 1..=10 ms inclusive. The means differ by half a nanosecond.
//! * Messages go through madsim `Endpoint`s (its datagram-like API with tags), one per node.
//! * The next node is chosen with the same ruckus `Random` functions, one stream per node, as
//!   in ruckus; madsim's own random stream still drives its latency and scheduling.
//! * When the last ball lands, its receiver sends a STOP datagram to the other nodes so all
//!   node tasks finish; those are not counted.

#[cfg(not(madsim))]
fn main() {
    eprintln!("build this crate with RUSTFLAGS=\"--cfg madsim\" (see benches/compare.sh)");
    std::process::exit(2);
}

#[cfg(madsim)]
fn main() {
    let deliveries = match std::env::args().nth(1).map(|a| a.parse::<u64>()) {
        None => 1_000_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: madsim-pingpong [DELIVERIES]  (a positive whole number)");
            std::process::exit(2);
        }
    };
    // Wall-clock timing happens outside the simulation (madsim only virtualises time inside
    // its runtime), around the whole run.
    let start = std::time::Instant::now();
    let delivered = sim::run(5, 50, deliveries, 1);
    let secs = start.elapsed().as_secs_f64();
    if delivered != deliveries {
        eprintln!("expected {deliveries} deliveries, made {delivered}");
        std::process::exit(1);
    }
    println!(
        "madsim: {:.0} deliveries/s ({delivered} deliveries in {secs:.3} s)",
        delivered as f64 / secs
    );
}

#[cfg(madsim)]
mod sim {
    use madsim::net::Endpoint;
    use madsim::runtime::{Handle, Runtime};
    use ruckus_sim::Random;
    use std::net::{IpAddr, Ipv4Addr, SocketAddr};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::Duration;

    const PORT: u16 = 9000;
    const TAG: u64 = 1;
    const STOP: u64 = u64::MAX;

    fn addr(h: u32) -> SocketAddr {
        SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 0, (h >> 8) as u8, h as u8 + 1)),
            PORT,
        )
    }

    /// The hop budgets each node launches, split as ruckus's `pingpong::setup` splits them.
    fn launches(hosts: u32, in_flight: u32, deliveries: u64) -> Vec<Vec<u64>> {
        let balls = u64::from(in_flight).min(deliveries.max(1));
        let mut out = vec![Vec::new(); hosts as usize];
        for b in 0..balls {
            let share = deliveries / balls + u64::from(b < deliveries % balls);
            if share > 0 {
                out[(b % u64::from(hosts)) as usize].push(share - 1);
            }
        }
        out
    }

    /// Runs one pingpong and returns the deliveries made.
    pub fn run(hosts: u32, in_flight: u32, deliveries: u64, seed: u64) -> u64 {
        let mut config = madsim::Config::default();
        config.net.send_latency = Duration::from_millis(1)..Duration::from_millis(10);
        let rt = Runtime::with_seed_and_config(seed, config);
        let delivered = Arc::new(AtomicU64::new(0));
        let counter = delivered.clone();
        rt.block_on(async move {
            let handle = Handle::current();
            let mut joins = Vec::new();
            for (h, balls) in launches(hosts, in_flight, deliveries).into_iter().enumerate() {
                let me = h as u32;
                let node = handle
                    .create_node()
                    .name(format!("h{h}"))
                    .ip(addr(me).ip())
                    .build();
                let counter = counter.clone();
                let mut rng = Random::stream(seed, "process", u64::from(me) << 32);
                joins.push(node.spawn(async move {
                    let ep = Endpoint::bind(addr(me)).await.expect("bind");
                    let mut pick = move || {
                        let p = rng.below(u64::from(hosts - 1)) as u32;
                        addr(if p >= me { p + 1 } else { p })
                    };
                    for hops in balls {
                        ep.send_to(pick(), TAG, &hops.to_le_bytes()).await.expect("send");
                    }
                    let mut buf = [0u8; 8];
                    loop {
                        let (len, _) = ep.recv_from(TAG, &mut buf).await.expect("recv");
                        assert_eq!(len, 8, "pingpong datagrams are 8 bytes");
                        let hops = u64::from_le_bytes(buf);
                        if hops == STOP {
                            return;
                        }
                        let done = counter.fetch_add(1, Ordering::Relaxed) + 1;
                        if done == deliveries {
                            for other in (0..hosts).filter(|&o| o != me) {
                                ep.send_to(addr(other), TAG, &STOP.to_le_bytes())
                                    .await
                                    .expect("send");
                            }
                            return;
                        }
                        if hops > 0 {
                            ep.send_to(pick(), TAG, &(hops - 1).to_le_bytes())
                                .await
                                .expect("send");
                        }
                    }
                }));
            }
            for j in joins {
                j.await.expect("node task");
            }
        });
        delivered.load(Ordering::Relaxed)
    }
}
