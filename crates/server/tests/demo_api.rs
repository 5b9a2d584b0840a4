//! A real server on loopback with the demo plant running: the API answers with the right
//! statuses and problem+json errors, the plant's overview moves while the twin writes, a lot
//! traces back to its raw lots, roles are enforced, and QA can release a held drum with an
//! e-signature.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lodestone_server::{demo::Demo, AppState};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Reply {
    status: u16,
    content_type: String,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// One HTTP/1.1 request with a JSON body, if any.
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Reply {
    let body = body.map(|b| b.to_string());
    send(
        addr,
        method,
        path,
        token,
        body.as_deref().map(|b| ("application/json", b)),
    )
    .await
}

/// Posts a text body (a TOML plan or case) to `path`.
async fn post_text(addr: SocketAddr, token: &str, path: &str, text: &str) -> Reply {
    send(addr, "POST", path, Some(token), Some(("text/plain", text))).await
}

/// One HTTP/1.1 request over a fresh connection (`Connection: close`, body read to the end),
/// with an optional (content type, body).
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content: Option<(&str, &str)>,
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    if let Some((content_type, body)) = content {
        request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ));
    } else {
        request.push_str("\r\n");
    }
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let header = |name: &str| {
        head.lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let body = if header("transfer-encoding").eq_ignore_ascii_case("chunked") {
        let mut out = String::new();
        let mut rest = rest;
        while let Some((size, tail)) = rest.split_once("\r\n") {
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if n == 0 {
                break;
            }
            out.push_str(&tail[..n.min(tail.len())]);
            rest = tail.get(n + 2..).unwrap_or("");
        }
        out
    } else {
        rest.to_string()
    };
    Reply {
        status,
        content_type: header("content-type"),
        body,
    }
}

async fn login(addr: SocketAddr, user: &str, password: &str) -> String {
    let r = http(
        addr,
        "POST",
        "/api/login",
        None,
        Some(&serde_json::json!({"user": user, "password": password})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

/// The demo plant served on a loopback port.
struct DemoServer {
    _dir: tempfile::TempDir,
    addr: SocketAddr,
    state: std::sync::Arc<AppState>,
    stop_tx: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// A fresh demo database with its twin at ten simulated hours per second (heats finish within
/// a test), served until `stop_tx` is sent.
async fn demo_server() -> DemoServer {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("demo.db").display().to_string();
    let (mes, demo) = Demo::start(&url, 36_000.0).await.unwrap();
    let state = Arc::new(AppState::new(
        mes,
        Default::default(),
        Some(demo),
        Default::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lodestone_server::serve(listener, state.clone(), async {
        let _ = stop_rx.await;
    }));
    DemoServer {
        _dir: dir,
        addr,
        state,
        stop_tx,
        server,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_plant_runs_live_behind_the_api() {
    let DemoServer {
        _dir,
        addr,
        state,
        stop_tx,
        server,
    } = demo_server().await;

    assert_eq!(http(addr, "GET", "/healthz", None, None).await.status, 200);
    let page = http(addr, "GET", "/", None, None).await;
    assert!(page.status == 200 && page.body.contains("<script src=\"/app.js\">"));
    // Without a session: 401 as problem+json.
    let r = http(addr, "GET", "/api/overview", None, None).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.content_type, "application/problem+json");
    assert_eq!(r.json()["status"], 401);
    let bad = http(
        addr,
        "POST",
        "/api/login",
        None,
        Some(&serde_json::json!({"user": "qa", "password": "nope"})),
    )
    .await;
    assert_eq!(bad.status, 401, "{}", bad.body);

    let qa = login(addr, "qa", "lodestone-qa").await;
    let operator = login(addr, "operator", "lodestone-operator").await;
    // The overview moves: events and heats grow while the twin writes.
    let first = http(addr, "GET", "/api/overview", Some(&qa), None)
        .await
        .json();
    let started = Instant::now();
    let overview = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let o = http(addr, "GET", "/api/overview", Some(&qa), None)
            .await
            .json();
        if o["heats_24h"].as_i64().unwrap_or(0) >= 20
            && o["open_nonconformances"].as_i64().unwrap_or(0) >= 1
        {
            break o;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "the plant did not move: {o}"
        );
    };
    assert!(overview["head_seq"].as_i64() > first["head_seq"].as_i64());
    assert_eq!(
        overview["lines"].as_array().unwrap().len(),
        22,
        "{overview}"
    );
    assert!(overview["clock"].as_str() > first["clock"].as_str());
    assert!(overview["plan_kg_per_day"].as_f64().unwrap() > 130_000.0);

    // A drum traces back through its heat to supplier lots.
    let heat = overview["recent"][0]["id"].as_str().unwrap().to_string();
    let trace = http(
        addr,
        "GET",
        &format!("/api/lots/{heat}-D1/trace?direction=backward"),
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(trace.status, 200, "{}", trace.body);
    let lots = trace.json()["lots"].as_array().unwrap().len();
    assert!(lots >= 7, "{lots} lots in the trace of {heat}-D1");
    let r = http(addr, "GET", "/api/lots/NO-SUCH-LOT", Some(&qa), None).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (404, "application/problem+json")
    );
    let r = http(
        addr,
        "GET",
        &format!("/api/lots/{heat}/trace?direction=sideways"),
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.json()["detail"].as_str().unwrap().contains("direction"));

    // Malformed requests and unknown routes are problem+json too, not axum's plain text.
    let r = http(addr, "GET", "/api/lots?limit=many", Some(&qa), None).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (400, "application/problem+json"),
        "{}",
        r.body
    );
    assert!(r.json()["detail"].as_str().unwrap().contains("limit"));
    let r = http(addr, "GET", "/api/no-such-route", Some(&qa), None).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (404, "application/problem+json")
    );
    let r = send(
        addr,
        "POST",
        "/api/commands",
        Some(&qa),
        Some(("application/json", "{not json")),
    )
    .await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (400, "application/problem+json"),
        "{}",
        r.body
    );

    // The plant model, the grade's specification and a heat's evaluation against it.
    let plant = http(addr, "GET", "/api/plant", Some(&qa), None).await;
    assert_eq!(plant.status, 200, "{}", plant.body);
    let plant = plant.json();
    assert!(
        plant["equipment"].as_array().unwrap().len() >= 22,
        "{plant}"
    );
    assert!(plant["work_masters"].as_array().unwrap().len() >= 4);
    let definition = overview["recent"][0]["definition"].as_str().unwrap();
    let spec = http(
        addr,
        "GET",
        &format!("/api/specifications/{definition}"),
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(spec.status, 200, "{}", spec.body);
    assert!(spec.json()["limits"].as_array().unwrap().len() >= 5);
    let evaluation = http(
        addr,
        "GET",
        &format!("/api/lots/{heat}/evaluation"),
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(evaluation.status, 200, "{}", evaluation.body);
    assert!(evaluation.json()["checks"].as_array().unwrap().len() >= 5);

    // The OpenAPI document lists every API route, and needs no session.
    let doc = http(addr, "GET", "/api/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    let doc = doc.json();
    assert_eq!(doc["openapi"], "3.1.0");
    for path in [
        "/api/plant",
        "/api/commands",
        "/api/lots/{id}/trace",
        "/api/spc",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} not documented");
    }

    // A held drum of an out-of-spec heat: the operator may not release it; QA may, signed.
    let ncrs = http(addr, "GET", "/api/nonconformances", Some(&qa), None)
        .await
        .json();
    let held_heat = ncrs[0]["lot"].as_str().unwrap().to_string();
    let drum = format!("{held_heat}-D1");
    let release = |user: &str, password: &str| {
        serde_json::json!({"command": "release-lot", "lot": drum, "reason": "MRB: use as is",
            "signature": {"user": user, "password": password, "meaning": "approval"}})
    };
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&operator),
        Some(&release("operator", "lodestone-operator")),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&qa),
        Some(&release("qa", "wrong")),
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.body);
    // Its heat's NCR is open: QA's plain release is refused, naming the NCR.
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&qa),
        Some(&release("qa", "lodestone-qa")),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains(&format!("NCR-{held_heat}")), "{}", r.body);
    // Released under deviation by someone allowed to, with a signature that says so.
    let admin = login(addr, "admin", "lodestone-admin").await;
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&admin),
        Some(&serde_json::json!({"command": "release-lot", "lot": drum,
            "deviation": {"reference": "CON-17", "reason": "MRB: use as is for magnet grade N48"},
            "signature": {"user": "admin", "password": "lodestone-admin", "meaning": "deviation-approval"}})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let lot = http(addr, "GET", &format!("/api/lots/{drum}"), Some(&qa), None)
        .await
        .json();
    assert_eq!(lot["disposition"], "released");
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&qa),
        Some(&serde_json::json!({"command": "hold-lot"})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);

    // SPC: an individuals chart of N52 total RE with Nelson rules, drawn as SVG.
    let r = http(
        addr,
        "GET",
        "/api/spc?definition=N52-flake&property=TRE",
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let chart = r.json();
    assert!(
        chart["count"].as_u64().unwrap() >= 3 && chart["svg"].as_str().unwrap().contains("<svg")
    );
    // Capability against the grade's total-RE band: Nd 23.10 + Pr 6.90 = 30.00 wt% ± 0.20
    // (GB/T 29655 quality grade 045001, the reference plant's spec).
    let cap = &chart["capability"];
    assert!((cap["lsl"].as_f64().unwrap() - 29.80).abs() < 1e-9, "{cap}");
    assert!(cap["cpk"]["value"].as_f64().unwrap() > 0.0, "{cap}");
    let r = http(
        addr,
        "GET",
        "/api/spc?definition=N52-flake&property=TRE&last=3",
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    let r = http(
        addr,
        "GET",
        "/api/spc?definition=N52-flake&property=Unobtainium",
        Some(&qa),
        None,
    )
    .await;
    assert_eq!(r.status, 404, "{}", r.body);

    // The batching calculator: the example plan charges; a plan with a typo is refused (422)
    // naming the key.
    let plan = http(addr, "GET", "/api/alloy/example", Some(&qa), None)
        .await
        .body;
    let ok = post_text(addr, &qa, "/api/alloy/charge", &plan).await;
    assert!(
        ok.status == 200 && ok.body.contains("\"lines\""),
        "{}",
        ok.body
    );
    let bad = post_text(
        addr,
        &qa,
        "/api/alloy/charge",
        &plan.replace("output_kg", "output_kgs"),
    )
    .await;
    assert!(
        bad.status == 422 && bad.body.contains("output_kgs"),
        "{}",
        bad.body
    );

    // The SX case viewer: the example converges; a case with a typo is refused (422).
    let case = http(addr, "GET", "/api/sx/example", Some(&qa), None)
        .await
        .body;
    let ok = post_text(addr, &qa, "/api/sx/simulate", &case).await;
    assert!(
        ok.status == 200 && ok.body.contains("\"converged\":true"),
        "{}",
        &ok.body[..ok.body.len().min(400)]
    );
    let bad = post_text(addr, &qa, "/api/sx/simulate", "[cascade]\nstages = -3\n").await;
    assert_eq!(bad.status, 422, "{}", bad.body);

    // Only admins and planners change the speed.
    let r = http(
        addr,
        "POST",
        "/api/demo",
        Some(&qa),
        Some(&serde_json::json!({"speed": 0})),
    )
    .await;
    assert_eq!(r.status, 403);
    // The event stream sends overviews.
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(
            format!(
                "GET /api/stream HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {qa}\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let mut seen = String::new();
    while !seen.contains("event: overview") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert!(n > 0);
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("text/event-stream"));
    drop(stream);

    // People act on the plant's lots: QA holds every raw lot on hand. The MES refuses the
    // twin's draws on them; the twin skips those, says so, and the plant keeps running.
    let admin = login(addr, "admin", "lodestone-admin").await;
    let lots = http(addr, "GET", "/api/lots?limit=1000", Some(&qa), None)
        .await
        .json();
    let mut held = 0;
    for lot in lots.as_array().unwrap() {
        if lot["status"] == "available" && lot["supplier_lot"].is_string() {
            let hold = serde_json::json!({"command": "hold-lot", "lot": lot["id"]});
            let r = http(addr, "POST", "/api/commands", Some(&qa), Some(&hold)).await;
            assert_eq!(r.status, 201, "{}", r.body);
            held += 1;
        }
    }
    assert!(held > 5, "{held}");
    let before = http(addr, "GET", "/api/overview", Some(&qa), None)
        .await
        .json();
    let started = Instant::now();
    let status = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s = http(addr, "GET", "/api/demo", Some(&admin), None)
            .await
            .json();
        if s["refused_commands"].as_u64().unwrap_or(0) > 0 {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no refusal: {s}"
        );
    };
    assert_eq!(status["running"], true, "{status}");
    assert!(
        status["last_refusal"].as_str().unwrap().contains("held"),
        "{status}"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after = http(addr, "GET", "/api/overview", Some(&qa), None)
        .await
        .json();
    assert!(after["clock"].as_str() > before["clock"].as_str());
    assert!(after["head_seq"].as_i64() > before["head_seq"].as_i64());

    let metrics = http(addr, "GET", "/metrics", None, None).await;
    assert!(
        metrics
            .body
            .contains("lodestone_http_requests_total{route=\"/api/overview\",status=\"200\"}"),
        "{}",
        metrics.body
    );
    assert!(metrics.body.contains("lodestone_mes_events "));
    let chain = http(addr, "GET", "/api/audit/verify", Some(&qa), None).await;
    assert_eq!(chain.status, 200, "{}", chain.body);

    // Graceful shutdown: the server stops, the twin writes what it buffered, and the chain
    // is whole.
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
    let events = state.demo.as_ref().unwrap().stop().unwrap();
    assert!(events > 1000, "{events}");
    state.mes.verify_chain().await.unwrap();
}

/// `lodestone serve --db postgres://…`: the same API on a PostgreSQL MES (a fresh database).
/// Skipped without a server, unless `LODESTONE_REQUIRE_SERVICES=1` (CI).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_serves_a_postgres_mes() {
    use lodestone_mes::command::Command;
    use lodestone_mes::model::{MaterialDefinition, Role};
    let server = std::env::var("LODESTONE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let url =
        match lodestone_mes::db::create_postgres_database(&server, "lodestone_test_server_api")
            .await
        {
            Ok(url) => url,
            Err(e) if std::env::var("LODESTONE_REQUIRE_SERVICES").is_ok_and(|v| v == "1") => {
                panic!("PostgreSQL is required (LODESTONE_REQUIRE_SERVICES=1) but unreachable: {e}")
            }
            Err(e) => {
                eprintln!("skipped: no PostgreSQL server ({e})");
                return;
            }
        };
    let mes = lodestone_mes::Mes::create(&url).await.unwrap();
    let admin = mes
        .bootstrap_admin("admin", "Ada Admin", "admin-password")
        .await
        .unwrap();
    let setup: Vec<lodestone_mes::Envelope> = vec![
        Command::DefineMaterialClass {
            id: "raw".into(),
            name: "Raw".into(),
            receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
        }
        .into(),
        Command::DefineMaterialDefinition(MaterialDefinition {
            id: "PrNd-metal".into(),
            name: "PrNd metal".into(),
            class: "raw".into(),
        })
        .into(),
        Command::CreateUser {
            id: "qa".into(),
            name: "Quinn QA".into(),
            roles: vec![Role::Qa],
            password: "qa-password".into(),
        }
        .into(),
    ];
    mes.execute_batch(&admin, &setup).await.unwrap();
    let state = Arc::new(AppState::new(
        mes,
        Default::default(),
        None,
        Default::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(lodestone_server::serve(listener, state.clone(), async {
        let _ = stop_rx.await;
    }));
    assert_eq!(http(addr, "GET", "/healthz", None, None).await.status, 200);
    let admin = login(addr, "admin", "admin-password").await;
    let qa = login(addr, "qa", "qa-password").await;
    let receive = serde_json::json!({"command": "receive-lot", "lot": "PN-1", "definition": "PrNd-metal",
        "quantity_kg": 500.0, "supplier_lot": "SUP-9", "composition_wt_pct": {"Nd": 75.0, "Pr": 24.9},
        "client_id": "scale-1:1"});
    let r = http(addr, "POST", "/api/commands", Some(&admin), Some(&receive)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    // A retry with the same client id is acknowledged, not recorded twice.
    let r = http(addr, "POST", "/api/commands", Some(&admin), Some(&receive)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["duplicate"], true);
    let lot = http(addr, "GET", "/api/lots/PN-1", Some(&qa), None).await;
    assert_eq!(lot.status, 200, "{}", lot.body);
    assert_eq!(lot.json()["supplier_lot"], "SUP-9");
    // QA may not define master data (admin's and engineer's): 403 problem+json.
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&qa),
        Some(&serde_json::json!({"command": "define-material-class", "id": "x", "name": "X"})),
    )
    .await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (403, "application/problem+json"),
        "{}",
        r.body
    );
    let overview = http(addr, "GET", "/api/overview", Some(&qa), None).await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.json()["plan_kg_per_day"].is_null());
    let chain = http(addr, "GET", "/api/audit/verify", Some(&qa), None)
        .await
        .json();
    assert_eq!(chain["events"], 5);

    // Role changes take effect on the next request, not at the next login: without roles QA
    // may read nothing (403); deactivated, the session ends (401).
    let set_roles = |roles: Vec<&str>, active: bool| serde_json::json!({"command": "set-user-roles", "id": "qa", "roles": roles, "active": active});
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&admin),
        Some(&set_roles(vec![], true)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = http(addr, "GET", "/api/lots/PN-1", Some(&qa), None).await;
    assert_eq!(r.status, 403, "{}", r.body);
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&admin),
        Some(&set_roles(vec!["qa"], false)),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = http(addr, "GET", "/api/lots/PN-1", Some(&qa), None).await;
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .contains("no longer active"));

    // Five failed logins lock the id for 15 minutes (429), whether or not the user exists.
    let guess = serde_json::json!({"user": "mallory", "password": "guess-guess"});
    for attempt in 1..=5 {
        let r = http(addr, "POST", "/api/login", None, Some(&guess)).await;
        assert_eq!(r.status, 401, "attempt {attempt}: {}", r.body);
    }
    let r = http(addr, "POST", "/api/login", None, Some(&guess)).await;
    assert_eq!(
        (r.status, r.content_type.as_str()),
        (429, "application/problem+json"),
        "{}",
        r.body
    );
    assert!(r.json()["detail"].as_str().unwrap().contains("locked"));
    let _ = stop_tx.send(());
    task.await.unwrap().unwrap();
}

/// Issue 14, finding 1: walks every GET route of the OpenAPI document as each demo role (and
/// POSTs a command, a login and a refused change) over a running demo plant, and finds no
/// password hash, no demo password and no session token in any answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_route_shows_a_credential_to_any_role() {
    let DemoServer {
        _dir,
        addr,
        stop_tx,
        server,
        ..
    } = demo_server().await;
    let mut secrets: Vec<String> = lodestone_server::demo::USERS
        .iter()
        .map(|u| u.3.to_string())
        .collect();
    secrets.push("twin-demo-password".into());
    let mut tokens = Vec::new();
    for (user, _, _, password) in lodestone_server::demo::USERS {
        tokens.push((user, login(addr, user, password).await));
    }
    secrets.extend(tokens.iter().map(|(_, t)| t.clone()));
    // Some production to look at: heats, drums, orders.
    let admin = &tokens[0].1;
    let started = Instant::now();
    let drum = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let lots = http(addr, "GET", "/api/lots?limit=50", Some(admin), None)
            .await
            .json();
        if let Some(drum) = lots
            .as_array()
            .and_then(|l| l.iter().find(|x| x["id"].as_str().unwrap().contains("-D")))
        {
            break drum["id"].as_str().unwrap().to_string();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "no drum yet");
    };
    let heat = drum.split("-D").next().unwrap().to_string();
    let doc = http(addr, "GET", "/api/openapi.json", None, None)
        .await
        .json();
    let mut checked = 0;
    for (user, token) in &tokens {
        for (path, operations) in doc["paths"].as_object().unwrap() {
            if operations.get("get").is_none() || path == "/api/stream" {
                continue;
            }
            let concrete = match path.as_str() {
                "/api/oee/{unit}" => {
                    "/api/oee/line-01?from=2026-01-01T00:00:00Z&to=2030-01-01T00:00:00Z".to_string()
                }
                "/api/spc" => "/api/spc?definition=N52-flake&property=TRE".to_string(),
                "/api/orders/{id}" => format!("/api/orders/{heat}"),
                "/api/specifications/{definition}" => "/api/specifications/N52-flake".to_string(),
                p => p.replace("{id}", &drum),
            };
            let subjects = ["user:admin", "user:twin", "user:qa"];
            let paths: Vec<String> = if concrete.contains("{subject}") {
                subjects
                    .iter()
                    .map(|s| concrete.replace("{subject}", s))
                    .collect()
            } else {
                vec![concrete]
            };
            for path in paths {
                let r = http(addr, "GET", &path, Some(token), None).await;
                assert!(r.status < 500, "{user} GET {path}: {}", r.status);
                assert!(
                    !r.body.contains("argon2"),
                    "{user} GET {path} shows a password hash"
                );
                for secret in &secrets {
                    assert!(
                        !r.body.contains(secret.as_str()),
                        "{user} GET {path} shows a credential"
                    );
                }
                checked += 1;
            }
        }
    }
    // A refused password change and a wrong login echo no password either.
    let r = http(
        addr,
        "POST",
        "/api/commands",
        Some(&tokens[1].1),
        Some(&serde_json::json!({"command": "change-password",
            "current_password": "lodestone-operator", "new_password": "password123"})),
    )
    .await;
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(!r.body.contains("password123") && !r.body.contains("lodestone-operator"));
    assert!(checked >= 5 * 20, "{checked} answers checked");
    let _ = stop_tx.send(());
    server.await.unwrap().unwrap();
}
