//! Node inspection fan-out against the REAL OpenSSH server: 50 endpoints on 127.0.0.1 (four
//! sshd processes of up to 16 ports each, sshd's MAX_LISTEN_SOCKS; 50 connections, each
//! known_hosts entry its own), each node a fake
//! filesystem plus stub commands as in tests/inspect_ssh.rs. Measures `kiln::node::inspect` on
//! one node, then on 50 at once (the default fan-out of 16, and 50), and the CPU kiln and the
//! servers spend a node. Then the same through an emulated link of 40 ms RTT (a delay proxy per
//! endpoint, on its own thread: one RTT to connect, every chunk delivered RTT/2 later each way),
//! where a node's time is the network's, as from an operator's host to a remote cluster. Goal:
//! the 50 in under 2x the time of one.
//!
//! Run: `cargo bench --bench inspect` (release). `cargo test --benches` runs it small.

#[path = "../tests/common/sshd.rs"]
mod sshd;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kiln::manifest::{Expectations, PinnedList};
use kiln::node::{AcceptNew, InspectOptions, Progress, Stage, Target, inspect};

const GOLDEN: &str = include_str!("../tests/stages/golden/image-manifest.json");

/// CPU seconds of a process and of its reaped descendants (`/proc/<pid>/stat`: utime, stime,
/// cutime, cstime), at 100 ticks a second.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // fields 14..17 of stat are at 11..14 after the `)` (state is field 3)
    f.get(11..15).map_or(0.0, |t| t.iter().sum::<f64>() / 100.0)
}

/// A delay proxy: each connection waits one RTT (the TCP handshake), then every chunk is
/// delivered `owd` after it was read, in both directions, order kept. Returns the listen port.
fn delay_proxy(rt: &tokio::runtime::Runtime, upstream: u16, owd: Duration) -> u16 {
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    rt.spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(async move {
                tokio::time::sleep(owd * 2).await;
                let Ok(server) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let (cr, cw) = client.into_split();
                let (sr, sw) = server.into_split();
                tokio::join!(delayed(cr, sw, owd), delayed(sr, cw, owd));
            });
        }
    });
    port
}

async fn delayed(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    owd: Duration,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(tokio::time::Instant, Vec<u8>)>(64);
    let reader = async move {
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0
                || tx
                    .send((tokio::time::Instant::now() + owd, buf[..n].to_vec()))
                    .await
                    .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((at, data)) = rx.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&data).await.is_err() {
                break;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let (nodes, runs) = if quick { (8, 1) } else { (50, 5) };
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let mut servers = Vec::new();
    let mut left = nodes;
    while left > 0 {
        let ports = left.min(13);
        left -= ports;
        servers.push(sshd::Sshd::start(
            &root.join(format!("sshd{}", servers.len())),
            &sshd::SshdSpec {
                ports,
                extra: vec![],
                env: vec![],
            },
        ));
    }
    let pinned = PinnedList::load(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("stages/03-prepull-images.sh"),
    )
    .expect("pinned list");
    let node = root.join("node");
    std::fs::create_dir_all(&node).expect("node dir");
    let mut manifest: serde_json::Value = serde_json::from_str(GOLDEN).expect("golden");
    let harbor: Vec<String> = pinned
        .images
        .iter()
        .map(|p| p.harbor_ref("harbor.vitro.lan"))
        .collect();
    manifest["prepulled_images"] = harbor
        .iter()
        .cloned()
        .map(serde_json::Value::from)
        .collect();
    manifest["prepull_failures"] = serde_json::json!([]);
    manifest["prepulled_image_upstream"] = pinned
        .images
        .iter()
        .map(|p| {
            (
                p.harbor_ref("harbor.vitro.lan"),
                serde_json::Value::from(p.upstream.clone()),
            )
        })
        .collect::<serde_json::Map<_, _>>()
        .into();
    std::fs::write(node.join("image-manifest.json"), manifest.to_string()).expect("manifest");
    let images: String = pinned
        .images
        .iter()
        .flat_map(|p| [p.harbor_ref("harbor.vitro.lan"), p.upstream.clone()])
        .map(|r| r + "\n")
        .collect();
    std::fs::write(node.join("images.txt"), images).expect("images");
    let client_pub = servers[0].dir.join("keys/client.pub");
    let mut trusted = String::new();
    for server in &servers {
        server.stub(
            "rke2",
            "printf 'rke2 version v1.28.15+rke2r1 (a1b2c3d)\\ngo version go1.22.8\\n'",
        );
        server.stub(
            "ctr",
            &format!("exec cat {}", node.join("images.txt").display()),
        );
        server.stub("pro", "echo '{\"attached\": false, \"services\": []}'");
        std::fs::copy(&client_pub, server.dir.join("keys/authorized_keys")).expect("authorize");
        trusted.push_str(&server.known_hosts());
    }
    let server = &servers[0];
    let known_hosts = root.join("known_hosts");
    std::fs::write(&known_hosts, trusted).expect("known_hosts");

    let mut options = InspectOptions::new(root);
    options.user = server.user.clone();
    options.identities = vec![server.client_key.clone()];
    options.default_identities = Vec::new();
    options.known_hosts = known_hosts;
    options.manifest_path = node.join("image-manifest.json").display().to_string();
    let expect = Expectations {
        pinned: Some(pinned),
        k8s_version: Some("v1.28.15+rke2r1".into()),
        ..Expectations::default()
    };
    let targets: Vec<Target> = servers
        .iter()
        .flat_map(|s| s.ports.iter())
        .map(|p| Target::new("127.0.0.1", *p))
        .collect();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let server_pids: Vec<u32> = servers.iter().filter_map(|s| s.pid()).collect();
    let server_cpu = || server_pids.iter().map(|p| cpu_seconds(*p)).sum::<f64>();
    let own_cpu = || cpu_seconds(std::process::id());
    let measure = |targets: &[Target], parallel: usize| -> (f64, Duration, Duration) {
        let mut o = options.clone();
        o.parallel = parallel;
        let phases: Arc<Mutex<Vec<(usize, Stage, Instant)>>> = Arc::default();
        let p = phases.clone();
        let started = Instant::now();
        let reports = rt.block_on(inspect(
            targets,
            &o,
            &expect,
            Arc::new(AcceptNew(false)),
            Arc::new(move |e: Progress| {
                if let Ok(mut v) = p.lock() {
                    v.push((e.index, e.stage, Instant::now()));
                }
            }),
        ));
        let wall = started.elapsed().as_secs_f64();
        for r in &reports {
            assert!(r.ok, "{}: {:?}", r.host, r.error);
            assert!(r.drift.is_empty(), "{}: {:?}", r.host, r.drift);
        }
        // median connect (Connecting -> Reading) and read (Reading -> Done) per node
        let v = phases.lock().map(|v| v.clone()).unwrap_or_default();
        let at = |i: usize, f: &dyn Fn(&Stage) -> bool| {
            v.iter()
                .find(|(j, s, _)| *j == i && f(s))
                .map(|(_, _, t)| *t)
        };
        let mut connect = Vec::new();
        let mut read = Vec::new();
        for i in 0..targets.len() {
            if let (Some(c), Some(r), Some(d)) = (
                at(i, &|s| *s == Stage::Connecting),
                at(i, &|s| *s == Stage::Reading),
                at(i, &|s| matches!(s, Stage::Done { .. })),
            ) {
                connect.push(r - c);
                read.push(d - r);
            }
        }
        connect.sort();
        read.sort();
        (wall, connect[connect.len() / 2], read[read.len() / 2])
    };
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    // warm up (page cache, sshd's first fork)
    measure(&targets[..1], 1);
    let mut one = Vec::new();
    let mut phases_one = (Duration::ZERO, Duration::ZERO);
    for _ in 0..runs {
        let (w, c, r) = measure(&targets[..1], 1);
        one.push(w);
        phases_one = (c, r);
    }
    let one = median(one);
    println!(
        "inspect: 1 node {:.3}s (connect {:.3}s, reads {:.3}s; median of {runs})",
        one,
        phases_one.0.as_secs_f64(),
        phases_one.1.as_secs_f64()
    );
    let report = |label: &str, targets: &[Target], one: f64| {
        for parallel in [kiln::node::options::DEFAULT_PARALLEL, targets.len()] {
            let mut all = Vec::new();
            let mut ph = (Duration::ZERO, Duration::ZERO);
            for _ in 0..runs {
                let (w, c, r) = measure(targets, parallel);
                all.push(w);
                ph = (c, r);
            }
            let all = median(all);
            println!(
                "inspect{label}: {} nodes, {parallel} at once: {all:.3}s = {:.2}x one node (goal < 2x); per node median connect {:.3}s, reads {:.3}s",
                targets.len(),
                all / one,
                ph.0.as_secs_f64(),
                ph.1.as_secs_f64()
            );
        }
    };
    let (k0, s0) = (own_cpu(), server_cpu());
    measure(&targets, kiln::node::options::DEFAULT_PARALLEL);
    let (k1, s1) = (own_cpu(), server_cpu());
    println!(
        "inspect: CPU for {nodes} nodes: kiln {:.3}s ({:.1} ms a node), the sshds and the node commands {:.3}s ({:.1} ms a node), on {} cores",
        k1 - k0,
        (k1 - k0) * 1000.0 / nodes as f64,
        s1 - s0,
        (s1 - s0) * 1000.0 / nodes as f64,
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    report("", &targets, one);

    // the same through a 40 ms RTT link
    let links = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("link runtime");
    let owd = Duration::from_millis(20);
    let mut via_link = Vec::new();
    let mut trusted_link = String::new();
    for server in &servers {
        for p in &server.ports {
            let port = delay_proxy(&links, *p, owd);
            trusted_link.push_str(&format!("[127.0.0.1]:{port} {}\n", server.host_key));
            via_link.push(Target::new("127.0.0.1", port));
        }
    }
    std::fs::write(
        &options.known_hosts,
        format!(
            "{}{trusted_link}",
            std::fs::read_to_string(&options.known_hosts).unwrap_or_default()
        ),
    )
    .expect("known_hosts");
    measure(&via_link[..1], 1);
    let mut one_link = Vec::new();
    for _ in 0..runs {
        one_link.push(measure(&via_link[..1], 1).0);
    }
    let one_link = median(one_link);
    println!("inspect, 40 ms RTT: 1 node {one_link:.3}s (median of {runs})");
    report(", 40 ms RTT", &via_link, one_link);
}
