//! A real server on loopback over a small plant (admin, QA, one received lot), with raw
//! HTTP/1.1 over TCP so tests can misbehave the way an attacker does.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;

use lodestone_mes::command::Command;
use lodestone_mes::model::{MaterialDefinition, Role};
use lodestone_mes::Mes;
use lodestone_server::auth::{SessionPolicy, Sessions};
use lodestone_server::limits::Limits;
use lodestone_server::{AppState, Shared};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub struct Reply {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    pub fn detail(&self) -> String {
        self.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

/// Parses a whole `Connection: close` answer.
pub fn parse(raw: &[u8]) -> Reply {
    let raw = String::from_utf8_lossy(raw).to_string();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
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
        head: head.to_string(),
        body,
    }
}

/// One request over a fresh connection (`Connection: close`), with an optional
/// (content type, body). A server that closes early (e.g. 413 before the body is read) still
/// gives its answer.
pub async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content: Option<(&str, &[u8])>,
) -> Reply {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    match content {
        Some((content_type, body)) => request.push_str(&format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )),
        None => request.push_str("\r\n"),
    }
    stream.write_all(request.as_bytes()).await.unwrap();
    if let Some((_, body)) = content {
        // The server may answer and close before reading a body it refuses.
        let _ = stream.write_all(body).await;
    }
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw).await;
    parse(&raw)
}

pub async fn json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Reply {
    let body = body.to_string();
    send(
        addr,
        method,
        path,
        token,
        Some(("application/json", body.as_bytes())),
    )
    .await
}

pub async fn get(addr: SocketAddr, path: &str, token: Option<&str>) -> Reply {
    send(addr, "GET", path, token, None).await
}

pub async fn login(addr: SocketAddr, user: &str, password: &str) -> String {
    let r = json(
        addr,
        "POST",
        "/api/login",
        None,
        &serde_json::json!({"user": user, "password": password}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["token"].as_str().unwrap().to_string()
}

pub struct Server {
    pub addr: SocketAddr,
    pub state: Shared,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// Keeps `dir` (the SQLite file's) until the server is dropped.
    pub fn keep(&mut self, dir: tempfile::TempDir) {
        self._dir = Some(dir);
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }
}

/// The MES on a fresh SQLite file, with admin (`admin-password`), QA (`qa-password`) and
/// lot `PN-1` received (pending QA).
pub async fn sqlite_mes() -> (Mes, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = dir.path().join("mes.db").display().to_string();
    let mes = Mes::create(&url).await.unwrap();
    plant(&mes).await;
    (mes, url, dir)
}

/// The MES on a fresh PostgreSQL database `name`, or `None` when there is no server (a
/// failure when `LODESTONE_REQUIRE_SERVICES=1`).
pub async fn postgres_mes(name: &str) -> Option<(Mes, String)> {
    let server = std::env::var("LODESTONE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let url = match lodestone_mes::db::create_postgres_database(&server, name).await {
        Ok(url) => url,
        Err(e) if std::env::var("LODESTONE_REQUIRE_SERVICES").is_ok_and(|v| v == "1") => {
            panic!("PostgreSQL is required (LODESTONE_REQUIRE_SERVICES=1) but unreachable: {e}")
        }
        Err(e) => {
            eprintln!("skipped: no PostgreSQL server ({e})");
            return None;
        }
    };
    let mes = Mes::create(&url).await.unwrap();
    plant(&mes).await;
    Some((mes, url))
}

async fn plant(mes: &Mes) {
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
    let receive: Command = serde_json::from_value(serde_json::json!({"command": "receive-lot",
        "lot": "PN-1", "definition": "PrNd-metal", "quantity_kg": 500.0, "supplier_lot": "SUP-9",
        "composition_wt_pct": {"Nd": 75.0, "Pr": 24.9}}))
    .unwrap();
    mes.execute(&admin, receive.into()).await.unwrap();
}

/// Serves `mes` on a loopback port with `limits` and `policy`.
pub async fn serve(mes: Mes, limits: Limits, policy: SessionPolicy) -> Server {
    serve_state(Arc::new(AppState::new(
        mes,
        Sessions::new(policy),
        None,
        limits,
    )))
    .await
}

/// Serves `state` on a loopback port.
pub async fn serve_state(state: Shared) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(lodestone_server::serve(listener, state.clone(), async {
        let _ = stop_rx.await;
    }));
    Server {
        addr,
        state,
        stop: Some(stop_tx),
        task: Some(task),
        _dir: None,
    }
}

/// A server over a fresh SQLite plant.
pub async fn sqlite_server(limits: Limits, policy: SessionPolicy) -> Server {
    let (mes, _, dir) = sqlite_mes().await;
    let mut server = serve(mes, limits, policy).await;
    server._dir = Some(dir);
    server
}

/// A 1000-stage mass-action case (the shipped 53-stage example stretched): allowed by the
/// server's size limits, and seconds of solving — long enough to watch the gate.
pub fn slow_sx_case(max_iterations: u64) -> String {
    let text = include_str!("../../../../examples/sx/mass-action-pr-nd.toml");
    let mut out = String::new();
    for line in text.lines() {
        let line = match line.split('#').next().unwrap_or("").trim() {
            "stages = 53" => "stages = 1000".to_string(),
            "last = 20" => "last = 400".into(),
            "first = 21" => "first = 401".into(),
            "last = 45" => "last = 900".into(),
            "first = 46" => "first = 901".into(),
            "last = 53" => "last = 1000".into(),
            "stage = 20" => "stage = 400".into(),
            "stage = 45" => "stage = 900".into(),
            "stage = 53" => "stage = 1000".into(),
            "stage = 46" => "stage = 901".into(),
            _ => line.to_string(),
        };
        out.push_str(&line);
        out.push('\n');
    }
    out.push_str(&format!("\n[solver]\nmax_iterations = {max_iterations}\n"));
    out
}
