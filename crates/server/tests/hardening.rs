//! What an attacker found, each as a test on a real server on loopback: login ids checked
//! before any bookkeeping and the login body capped; slow clients cut off and connections
//! limited; computations bounded in size, number, time and stopped when the client leaves;
//! a busy database answered with 503 and `Retry-After` (SQLite and PostgreSQL); security
//! headers and the `Secure` cookie; login timing that does not tell which users exist; and
//! e-signature password guesses counted toward the login lockout.

mod common;

use std::time::{Duration, Instant};

use common::*;
use lodestone_server::auth::{SessionPolicy, Sessions};
use lodestone_server::limits::Limits;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn quick_limits() -> Limits {
    Limits {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(1),
        ..Limits::default()
    }
}

/// Finding 2: 300 failed logins with 1.5 MB ids grew the server by 430 MiB, every id kept in
/// the lockout map. Now the body is capped (413), an id that is not an id is refused (422)
/// before any lookup, and neither leaves anything behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_ids_are_checked_before_any_bookkeeping_and_the_body_is_capped() {
    let server = sqlite_server(Limits::default(), SessionPolicy::default()).await;
    let addr = server.addr;
    let huge = "u".repeat(1_500_000);
    for _ in 0..3 {
        let r = json(
            addr,
            "POST",
            "/api/login",
            None,
            &json!({"user": huge, "password": "x"}),
        )
        .await;
        assert_eq!(r.status, 413, "{}", r.body);
        assert!(r.detail().contains("4096"), "{}", r.detail());
    }
    for bad in ["q\u{0}a", &"a".repeat(129), " qa", "", "q\u{1b}[2Ja"] {
        let r = json(
            addr,
            "POST",
            "/api/login",
            None,
            &json!({"user": bad, "password": "x"}),
        )
        .await;
        assert_eq!(r.status, 422, "{bad:?}: {}", r.body);
        assert!(r.detail().starts_with("user: "), "{}", r.detail());
    }
    assert_eq!(server.state.sessions.tracked_ids(), 0);
    let r = json(
        addr,
        "POST",
        "/api/login",
        None,
        &json!({"user": "mallory", "password": "guess"}),
    )
    .await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert_eq!(server.state.sessions.tracked_ids(), 1);
    // The real user still logs in.
    login(addr, "qa", "qa-password").await;
    server.stop().await;
}

/// Reads until the server closes the connection; how long that took.
async fn time_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> Duration {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(within, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(_)) => continue,
            Err(_) => panic!("the connection was still open after {within:?}"),
        }
    }
}

/// Finding 3: connections that never finished their headers stayed open and starved the
/// server. Now headers must arrive within the header timeout (which also closes idle
/// keep-alive connections), bodies within the body timeout, and connections beyond the limit
/// wait for a slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_connections_are_limited() {
    let server = sqlite_server(
        Limits {
            max_connections: 8,
            ..quick_limits()
        },
        SessionPolicy::default(),
    )
    .await;
    let addr = server.addr;

    // Headers that never finish.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let closed = time_to_close(&mut slow, Duration::from_secs(5)).await;
    assert!(closed >= Duration::from_millis(700), "{closed:?}");

    // An idle keep-alive connection after one answered request.
    let mut idle = tokio::net::TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    time_to_close(&mut idle, Duration::from_secs(5)).await;

    // A body that never finishes: 408.
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"POST /api/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"user\":")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let started = Instant::now();
    tokio::time::timeout(Duration::from_secs(5), stalled.read_to_end(&mut raw))
        .await
        .expect("answered")
        .unwrap();
    let reply = parse(&raw);
    assert_eq!(reply.status, 408, "{}", reply.body);
    assert!(started.elapsed() >= Duration::from_millis(700));

    // A request head over 64 KiB: 431.
    let mut big = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    let _ = big.write_all(head.as_bytes()).await;
    let mut raw = Vec::new();
    let _ = big.read_to_end(&mut raw).await;
    assert_eq!(parse(&raw).status, 431);

    // Eight silent connections take every slot: the next request waits until the header
    // timeout frees them, then is served.
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(tokio::net::TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let r = get(addr, "/healthz", None).await;
    let waited = started.elapsed();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(
        waited >= Duration::from_millis(500) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    drop(silent);
    server.stop().await;
}

fn plan_with_lots(n: usize) -> String {
    let mut plan = lodestone_server::alloy::EXAMPLE_PLAN.to_string();
    for i in 0..n {
        plan.push_str(&format!(
            "\n[[lot]]\nid = \"X-{i}\"\nmaterial = \"iron\"\nchemistry_wt_pct = {{ Fe = 99.8 }}\nstock_kg = 100.0\nprice_per_kg = 1.0\n"
        ));
    }
    plan
}

async fn wait_for_free_slot(server: &Server, within: Duration) -> Duration {
    let started = Instant::now();
    while server.state.gate.free_computations() == 0 {
        assert!(
            started.elapsed() < within,
            "the computation still runs after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

/// Finding 4: a 100,000-stage case ran 204 s, and abandoned solves kept running. Now sizes
/// are limited, one computation slot here is taken by one solve (the next gets 503 with
/// `Retry-After`), a solve past the time limit is stopped (503), and a solve whose client
/// disconnects stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn computations_are_bounded_in_size_number_and_time_and_stop_when_the_client_leaves() {
    let server = sqlite_server(
        Limits {
            max_computations: 1,
            compute_timeout: Duration::from_secs(2),
            ..Limits::default()
        },
        SessionPolicy::default(),
    )
    .await;
    let addr = server.addr;
    let qa = login(addr, "qa", "qa-password").await;
    let post = |path: &'static str, body: String| {
        let qa = qa.clone();
        async move {
            send(
                addr,
                "POST",
                path,
                Some(&qa),
                Some(("text/plain", body.as_bytes())),
            )
            .await
        }
    };

    let huge = lodestone_server::sx::EXAMPLE_CASE
        .replace("extraction_stages = 17", "extraction_stages = 99980");
    let r = post("/api/sx/simulate", huge).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(
        r.detail().starts_with("stages: 100000") && r.detail().contains("at most 1000"),
        "{}",
        r.detail()
    );
    let r = post("/api/alloy/charge", plan_with_lots(500)).await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.detail().contains("at most 500"), "{}", r.detail());
    let r = post("/api/alloy/charge", plan_with_lots(10)).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // One slot: a long solve holds it, the next computation is refused at once.
    let started = Instant::now();
    let long = tokio::spawn(post("/api/sx/simulate", slow_sx_case(1_000_000)));
    while server.state.gate.free_computations() == 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let r = post("/api/alloy/charge", plan_with_lots(0)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after").as_deref(), Some("5"));
    assert!(r.header("content-type").unwrap().contains("problem+json"));
    // The time limit stops it (503 naming the limit), and the solver itself stops.
    let r = long.await.unwrap();
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.detail().contains("--compute-timeout-s"), "{}", r.detail());
    assert!(started.elapsed() < Duration::from_secs(6));
    wait_for_free_slot(&server, Duration::from_secs(2)).await;

    // A client that goes away: its solve stops (it would run minutes).
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let case = slow_sx_case(1_000_000);
    stream
        .write_all(
            format!(
                "POST /api/sx/simulate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {qa}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{case}",
                case.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    while server.state.gate.free_computations() == 1 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(stream);
    let stopped = wait_for_free_slot(&server, Duration::from_secs(1)).await;
    eprintln!("the abandoned solve stopped {stopped:?} after the client left");
    server.stop().await;
}

/// Finding 8: a held SQLite write lock answered 500 "database is locked" after 30 s. Now a
/// request that cannot finish in time is 503 with `Retry-After`, and the databases' own busy
/// errors map to 503 too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_sqlite_database_answers_503_with_retry_after() {
    use sqlx::Connection;
    let (mes, url, _dir) = sqlite_mes().await;
    let server = serve(mes, quick_limits(), SessionPolicy::default()).await;
    let qa = login(server.addr, "qa", "qa-password").await;
    let mut holder = sqlx::AnyConnection::connect(&format!("sqlite:{url}"))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let started = Instant::now();
    let r = json(
        server.addr,
        "POST",
        "/api/commands",
        Some(&qa),
        &json!({"command": "hold-lot", "lot": "PN-1", "reason": "suspect"}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after").as_deref(), Some("2"));
    assert!(started.elapsed() < Duration::from_secs(5));
    // SQLite's own busy error, from a connection that will not wait.
    let mut impatient = sqlx::AnyConnection::connect(&format!("sqlite:{url}"))
        .await
        .unwrap();
    sqlx::raw_sql("PRAGMA busy_timeout = 0")
        .execute(&mut impatient)
        .await
        .unwrap();
    let e = sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut impatient)
        .await
        .unwrap_err();
    assert!(lodestone_server::problem::database_busy(&e), "{e}");
    let p = lodestone_server::problem::Problem::from(e);
    assert_eq!(p.status.as_u16(), 503);
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    // Released: the command goes through.
    let r = json(
        server.addr,
        "POST",
        "/api/commands",
        Some(&qa),
        &json!({"command": "hold-lot", "lot": "PN-1", "reason": "suspect"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    server.stop().await;
}

/// The same on PostgreSQL: a writer waiting on a held chain head is answered 503 when the
/// request time runs out; a lock timeout is 503.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_postgres_database_answers_503_with_retry_after() {
    use sqlx::Connection;
    let Some((mes, url)) = postgres_mes("lodestone_test_server_busy").await else {
        return;
    };
    let server = serve(mes, quick_limits(), SessionPolicy::default()).await;
    let qa = login(server.addr, "qa", "qa-password").await;
    let mut holder = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN; SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE")
        .execute(&mut holder)
        .await
        .unwrap();
    let r = json(
        server.addr,
        "POST",
        "/api/commands",
        Some(&qa),
        &json!({"command": "hold-lot", "lot": "PN-1", "reason": "suspect"}),
    )
    .await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    let mut impatient = sqlx::AnyConnection::connect(&url).await.unwrap();
    let e = sqlx::raw_sql(
        "SET lock_timeout = '100ms'; BEGIN; SELECT seq FROM chain_head WHERE id = 1 FOR UPDATE",
    )
    .execute(&mut impatient)
    .await
    .unwrap_err();
    assert!(lodestone_server::problem::database_busy(&e), "{e}");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut holder)
        .await
        .unwrap();
    let r = json(
        server.addr,
        "POST",
        "/api/commands",
        Some(&qa),
        &json!({"command": "hold-lot", "lot": "PN-1", "reason": "suspect"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    server.stop().await;
}

/// Finding 8: no CSP, X-Frame-Options, X-Content-Type-Options or Referrer-Policy, and no
/// `Secure` on the cookie over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_security_headers_and_the_cookie_is_secure_behind_tls() {
    let server = sqlite_server(
        Limits::default(),
        SessionPolicy {
            secure_cookie: true,
            ..SessionPolicy::default()
        },
    )
    .await;
    let addr = server.addr;
    let token = login(addr, "qa", "qa-password").await;
    for path in [
        "/",
        "/app.js",
        "/style.css",
        "/healthz",
        "/api/nope",
        "/api/me",
    ] {
        let r = get(addr, path, Some(&token)).await;
        assert_eq!(
            r.header("content-security-policy").as_deref(),
            Some(lodestone_server::limits::CONTENT_SECURITY_POLICY),
            "{path}"
        );
        assert_eq!(
            r.header("x-frame-options").as_deref(),
            Some("DENY"),
            "{path}"
        );
        assert_eq!(
            r.header("x-content-type-options").as_deref(),
            Some("nosniff"),
            "{path}"
        );
        assert_eq!(
            r.header("referrer-policy").as_deref(),
            Some("no-referrer"),
            "{path}"
        );
    }
    let r = json(
        addr,
        "POST",
        "/api/login",
        None,
        &json!({"user": "qa", "password": "qa-password"}),
    )
    .await;
    let cookie = r.header("set-cookie").unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.ends_with("; Secure"),
        "{cookie}"
    );
    server.stop().await;
}

/// Finding 7: an unknown user was refused in 1.0 ms, a known one with a wrong password in
/// 18.6 ms. Now both cost one argon2 verification: the medians are within a factor of two.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_and_known_users_are_refused_in_the_same_time() {
    let (mes, _, _dir) = sqlite_mes().await;
    // The dummy hash is made on first use; warm both paths.
    let _ = mes.login("nobody", "wrong-password").await;
    let _ = mes.login("qa", "wrong-password").await;
    let mut unknown = Vec::new();
    let mut known = Vec::new();
    for i in 0..9 {
        let t = Instant::now();
        assert!(mes
            .login(&format!("nobody-{i}"), "wrong-password")
            .await
            .is_err());
        unknown.push(t.elapsed());
        let t = Instant::now();
        assert!(mes.login("qa", "wrong-password").await.is_err());
        known.push(t.elapsed());
    }
    unknown.sort();
    known.sort();
    let (u, k) = (unknown[4].as_secs_f64(), known[4].as_secs_f64());
    assert!(
        u > k / 2.0 && u < k * 2.0,
        "unknown {u:.4} s, known {k:.4} s"
    );
}

/// Finding 7: e-signature passwords could be guessed without limit by a logged-in user. Now
/// each wrong one counts as a failed login of that id: the fifth locks it (429 for signing and
/// for logging in).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_e_signature_passwords_lock_the_user_id() {
    let server = sqlite_server(Limits::default(), SessionPolicy::default()).await;
    let addr = server.addr;
    let qa = login(addr, "qa", "qa-password").await;
    let r = json(
        addr,
        "POST",
        "/api/commands",
        Some(&qa),
        &json!({"command": "hold-lot", "lot": "PN-1", "reason": "suspect"}),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let release = |password: &str| {
        json!({"command": "release-lot", "lot": "PN-1",
            "signature": {"user": "qa", "password": password, "meaning": "approval"}})
    };
    for attempt in 1..=Sessions::MAX_FAILURES {
        let r = json(
            addr,
            "POST",
            "/api/commands",
            Some(&qa),
            &release("guess-guess"),
        )
        .await;
        assert_eq!(r.status, 403, "attempt {attempt}: {}", r.body);
        assert_eq!(
            r.detail().contains("locked"),
            attempt == Sessions::MAX_FAILURES,
            "{}",
            r.detail()
        );
    }
    // Even the right password may not sign now, and the id may not log in.
    let r = json(
        addr,
        "POST",
        "/api/commands",
        Some(&qa),
        &release("qa-password"),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.header("retry-after").is_some());
    let r = json(
        addr,
        "POST",
        "/api/login",
        None,
        &json!({"user": "qa", "password": "qa-password"}),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
    // A missing signature is a mistake, not a guess: it does not count.
    let admin = login(addr, "admin", "admin-password").await;
    for _ in 0..Sessions::MAX_FAILURES {
        let r = json(
            addr,
            "POST",
            "/api/commands",
            Some(&admin),
            &json!({"command": "release-lot", "lot": "PN-1"}),
        )
        .await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    login(addr, "admin", "admin-password").await;
    server.stop().await;
}

/// Finding 4: four concurrent whole-chain checks at 1.84 M events slowed every other request a
/// hundredfold. Now one runs at a time (the others get 503 with `Retry-After`), off the request
/// threads, and a check past its time limit is stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_chain_checks_run_one_at_a_time_within_a_time_limit() {
    let (mes, _, dir) = sqlite_mes().await;
    let admin = mes.login("admin", "admin-password").await.unwrap();
    let started = Instant::now();
    for batch in 0..20 {
        let commands: Vec<lodestone_mes::Envelope> = (0..1000)
            .map(|i| {
                serde_json::from_value::<lodestone_mes::command::Command>(json!({
                    "command": "receive-lot", "lot": format!("L-{batch}-{i}"),
                    "definition": "PrNd-metal", "quantity_kg": 10.0,
                    "composition_wt_pct": {"Nd": 75.0, "Pr": 24.9}}))
                .unwrap()
                .into()
            })
            .collect();
        mes.execute_batch(&admin, &commands).await.unwrap();
    }
    eprintln!("20,000 events in {:.1} s", started.elapsed().as_secs_f64());
    let mut server = serve(mes, Limits::default(), SessionPolicy::default()).await;
    let qa = login(server.addr, "qa", "qa-password").await;
    let addr = server.addr;
    let started = Instant::now();
    let r = get(addr, "/api/audit/verify", Some(&qa)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let alone = started.elapsed();
    eprintln!("one check of {} events: {alone:?}", r.json()["events"]);
    let mut checks = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let qa = qa.clone();
        checks.spawn(async move { get(addr, "/api/audit/verify", Some(&qa)).await });
    }
    let mut statuses = Vec::new();
    while let Some(r) = checks.join_next().await {
        let r = r.unwrap();
        if r.status == 503 {
            assert_eq!(r.header("retry-after").as_deref(), Some("5"));
            assert!(r.detail().contains("--max-chain-checks"), "{}", r.detail());
        }
        statuses.push(r.status);
    }
    // Sent together, they overlap the first one's check: the others are refused at once.
    assert!(statuses.contains(&200), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 503),
        "{statuses:?}"
    );
    server.stop().await;

    // A time limit shorter than one check: stopped, 503 naming the flag.
    let mes = lodestone_mes::Mes::open(&dir.path().join("mes.db").display().to_string())
        .await
        .unwrap();
    server = serve(
        mes,
        Limits {
            chain_check_timeout: alone / 10,
            ..Limits::default()
        },
        SessionPolicy::default(),
    )
    .await;
    let qa = login(server.addr, "qa", "qa-password").await;
    let r = get(server.addr, "/api/audit/verify", Some(&qa)).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(
        r.detail().contains("--chain-check-timeout-s"),
        "{}",
        r.detail()
    );
    // The check itself stops (its slot comes back), well before it would have finished.
    let waiting = Instant::now();
    while server.state.gate.free_chain_checks() == 0 {
        assert!(waiting.elapsed() < alone, "the stopped check still runs");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.stop().await;
}
