//! Denial of service, bounded and on loopback only: the attacks of findings 2, 3 and 4 at a
//! few hundred connections, against a server in this process. The server's resident memory
//! (this process's VmRSS) must grow by less than [`MAX_RSS_GROWTH_MIB`] and `/healthz` must
//! answer within [`MAX_HEALTHZ`] throughout; slow connections must be closed by the header
//! timeout, refused computations answered at once, and abandoned ones stopped.
//!
//! One test in this binary, so nothing else runs in the process while RSS is measured.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use lodestone_server::auth::SessionPolicy;
use lodestone_server::limits::Limits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Largest growth of the resident set over the attacks, MiB. Most of what it allows is
/// argon2's 19 MiB working memory per password check, which the allocator keeps (for a
/// while) per thread that ran one: measured 12–85 MiB here, whatever the number of logins.
/// Before the fixes, attack 2 alone grew the server by 430 MiB.
const MAX_RSS_GROWTH_MIB: f64 = 128.0;

/// Slowest `/healthz` answer allowed while under attack.
const MAX_HEALTHZ: Duration = Duration::from_secs(1);

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status");
    kib / 1024.0
}

/// `/healthz` latencies sampled every 50 ms until `stop` is set.
fn probe_health(
    addr: SocketAddr,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<Duration>> {
    tokio::spawn(async move {
        let mut samples = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            let started = Instant::now();
            let r = tokio::time::timeout(Duration::from_secs(10), get(addr, "/healthz", None))
                .await
                .expect("/healthz answered within 10 s");
            assert_eq!(r.status, 200, "{}", r.body);
            samples.push(started.elapsed());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        samples
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_withstands_bounded_attacks_within_stated_limits() {
    let header_timeout = Duration::from_secs(2);
    let server = sqlite_server(
        Limits {
            header_timeout,
            max_computations: 2,
            ..Limits::default()
        },
        SessionPolicy::default(),
    )
    .await;
    let addr = server.addr;
    let qa = login(addr, "qa", "qa-password").await;
    // Warm up: allocator arenas (argon2 takes 19 MiB per check, which each request thread's
    // arena then keeps for the next), the dummy hash, one solve.
    for _ in 0..20 {
        assert_eq!(get(addr, "/healthz", None).await.status, 200);
    }
    let mut warm = tokio::task::JoinSet::new();
    for i in 0..8 {
        warm.spawn(async move {
            json(
                addr,
                "POST",
                "/api/login",
                None,
                &serde_json::json!({"user": format!("warm-{i}"), "password": "warm-warm"}),
            )
            .await
            .status
        });
    }
    while let Some(status) = warm.join_next().await {
        assert_eq!(status.unwrap(), 401);
    }
    let example = lodestone_server::sx::EXAMPLE_CASE;
    let r = send(
        addr,
        "POST",
        "/api/sx/simulate",
        Some(&qa),
        Some(("text/plain", example.as_bytes())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rss_before = rss_mib();
    let tracked_before = server.state.sessions.tracked_ids();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let health = probe_health(addr, stop.clone());

    // Attack 2: 300 failed logins with 1.5 MB user ids, 20 at a time.
    let started = Instant::now();
    let body = Arc::new(
        serde_json::json!({"user": "u".repeat(1_500_000), "password": "x"})
            .to_string()
            .into_bytes(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..300 {
        let body = body.clone();
        tasks.spawn(async move {
            send(
                addr,
                "POST",
                "/api/login",
                None,
                Some(("application/json", &body)),
            )
            .await
            .status
        });
        if i % 20 == 19 {
            while let Some(status) = tasks.join_next().await {
                assert_eq!(status.unwrap(), 413);
            }
        }
    }
    assert_eq!(server.state.sessions.tracked_ids(), tracked_before);
    eprintln!(
        "attack 2: 300 logins with 1.5 MB ids in {:.1} s, RSS {:+.1} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib() - rss_before
    );

    // Attack 2b: 200 failed logins of distinct, valid ids, 50 at a time: each an argon2 check
    // (as costly for an unknown id as for a known one). At most `max_logins` run at once; the
    // rest are 503, and the server's other requests do not starve.
    let started = Instant::now();
    let (mut refused_401, mut busy_503) = (0, 0);
    for round in 0..4 {
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..50 {
            tasks.spawn(async move {
                json(
                    addr,
                    "POST",
                    "/api/login",
                    None,
                    &serde_json::json!({"user": format!("guess-{round}-{i}"), "password": "guess-guess"}),
                )
                .await
                .status
            });
        }
        while let Some(status) = tasks.join_next().await {
            match status.unwrap() {
                401 => refused_401 += 1,
                503 => busy_503 += 1,
                other => panic!("login flood answered {other}"),
            }
        }
    }
    assert!(refused_401 > 0);
    assert!(server.state.sessions.tracked_ids() <= tracked_before + 200);
    eprintln!(
        "attack 2b: 200 logins of distinct ids in {:.1} s: {refused_401} refused 401, {busy_503} busy 503, RSS {:+.1} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib() - rss_before
    );

    // Attack 3: 300 connections that never finish their headers.
    let started = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..300 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            .await
            .unwrap();
        slow.push(c);
    }
    tokio::time::sleep(header_timeout + Duration::from_secs(1)).await;
    let mut closed = 0;
    for c in &mut slow {
        let mut rest = Vec::new();
        if let Ok(Ok(_)) =
            tokio::time::timeout(Duration::from_millis(100), c.read_to_end(&mut rest)).await
        {
            closed += 1;
        }
    }
    assert_eq!(closed, 300, "slow connections closed by the header timeout");
    drop(slow);
    eprintln!(
        "attack 3: 300 unfinished headers, all closed within {:.1} s, RSS {:+.1} MiB",
        started.elapsed().as_secs_f64(),
        rss_mib() - rss_before
    );

    // Attack 4: oversized solves (refused at once), then more long solves than slots, whose
    // clients then leave.
    let started = Instant::now();
    let huge = example.replace("extraction_stages = 17", "extraction_stages = 99980");
    for _ in 0..20 {
        let r = send(
            addr,
            "POST",
            "/api/sx/simulate",
            Some(&qa),
            Some(("text/plain", huge.as_bytes())),
        )
        .await;
        assert_eq!(r.status, 422, "{}", r.body);
    }
    let case = slow_sx_case(1_000_000);
    let mut long = Vec::new();
    for _ in 0..2 {
        let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
        c.write_all(
            format!(
                "POST /api/sx/simulate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {qa}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{case}",
                case.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
        long.push(c);
    }
    while server.state.gate.free_computations() > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut refused = 0;
    for _ in 0..10 {
        let r = send(
            addr,
            "POST",
            "/api/sx/simulate",
            Some(&qa),
            Some(("text/plain", case.as_bytes())),
        )
        .await;
        assert_eq!(r.status, 503, "{}", r.body);
        assert!(r.header("retry-after").is_some());
        refused += 1;
    }
    // Two solves run for 2 s next to the health probe, then their clients leave.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(long);
    let left = Instant::now();
    while server.state.gate.free_computations() < 2 {
        assert!(
            left.elapsed() < Duration::from_secs(2),
            "abandoned solves still running"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    eprintln!(
        "attack 4: 20 oversized cases refused, {refused} solves beyond the 2 slots refused, abandoned solves stopped {:.0} ms after their clients left ({:.1} s)",
        left.elapsed().as_secs_f64() * 1e3,
        started.elapsed().as_secs_f64()
    );

    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut samples = health.await.unwrap();
    samples.sort();
    let growth = rss_mib() - rss_before;
    let worst = *samples.last().unwrap();
    let median = samples[samples.len() / 2];
    eprintln!(
        "under attack: /healthz median {:.1} ms, worst {:.1} ms over {} probes; RSS {rss_before:.0} MiB → {:+.1} MiB",
        median.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
        samples.len(),
        growth
    );
    assert!(growth < MAX_RSS_GROWTH_MIB, "RSS grew {growth:.1} MiB");
    assert!(worst < MAX_HEALTHZ, "/healthz took {worst:?}");
    server.stop().await;
}
