//! `GET /api/spc` on a small MES with 35 lots of primer paint (qcc's `viscosity` data, one
//! result per lot): EWMA and CUSUM, a known centre and σ (phase II), exclusion by lot,
//! violations by lot, and clear refusals (issue 12, item 5).

use std::net::SocketAddr;
use std::sync::Arc;

use lodestone_mes::{Command, Envelope, Mes};
use lodestone_server::AppState;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const VISCOSITY: &str = include_str!("../../mes/tests/data/spc/viscosity.csv");

/// One HTTP/1.1 request over a fresh connection; (status, body).
async fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    if let Some(t) = token {
        request.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    match body {
        Some(b) => {
            let b = b.to_string();
            request.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
                b.len()
            ));
        }
        None => request.push_str("\r\n"),
    }
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await.unwrap();
    let raw = String::from_utf8_lossy(&raw).to_string();
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
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
    (status, body)
}

fn command(v: Value) -> Envelope {
    serde_json::from_value::<Command>(v).unwrap().into()
}

/// A MES with the paint lots V-01 … V-35 and their viscosity, in batch order.
async fn paint_plant(path: &str) -> Mes {
    let mes = Mes::create(path).await.unwrap();
    let admin = mes
        .bootstrap_admin("admin", "Ada Admin", "admin-password")
        .await
        .unwrap();
    let mut batch = vec![
        command(
            json!({"command": "define-material-class", "id": "coating", "name": "coating", "receipt": "certificate"}),
        ),
        command(
            json!({"command": "define-material-definition", "id": "primer", "name": "primer", "class": "coating"}),
        ),
    ];
    for line in VISCOSITY.lines().filter(|l| !l.starts_with('#')).skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        let n: u32 = cells[0].parse().unwrap();
        let lot = format!("V-{n:02}");
        batch.push(command(json!({"command": "receive-lot", "lot": lot, "definition": "primer", "quantity_kg": 200.0})));
        batch.push(command(json!({
            "command": "record-result", "lot": lot, "property": "viscosity",
            "value": cells[1].parse::<f64>().unwrap(), "unit": "cSt",
            "at": format!("2026-11-{:02}T{:02}:00:00Z", 1 + n / 24, n % 24),
        })));
    }
    mes.execute_batch(&admin, &batch).await.unwrap();
    mes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spc_offers_ewma_cusum_phase_two_and_exclusion_by_lot() {
    let dir = tempfile::tempdir().unwrap();
    let mes = paint_plant(dir.path().join("paint.db").to_str().unwrap()).await;
    let state = Arc::new(AppState::new(
        mes,
        Default::default(),
        None,
        Default::default(),
    ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(lodestone_server::serve(
        listener,
        state,
        std::future::pending(),
    ));
    let (status, body) = http(
        addr,
        "POST",
        "/api/login",
        None,
        Some(&json!({"user": "admin", "password": "admin-password"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let token: Value = serde_json::from_str(&body).unwrap();
    let token = token["token"].as_str().unwrap().to_string();
    let get = |query: &str| {
        let path = format!("/api/spc?definition=primer&property=viscosity&last=35{query}");
        let token = token.clone();
        async move { http(addr, "GET", &path, Some(&token), None).await }
    };
    let ok = |(status, body): (u16, String)| -> Value {
        assert_eq!(status, 200, "{body}");
        serde_json::from_str(&body).unwrap()
    };
    let lots = |c: &Value| -> Vec<String> {
        c["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["lot"].as_str().unwrap().to_string())
            .collect()
    };

    // The default stays an individuals chart with Nelson rules; violations by lot.
    let c = ok(get("").await);
    assert_eq!(c["chart"], "i-mr");
    assert_eq!(c["count"], 35);
    assert!(lots(&c).contains(&"V-04".to_string()), "{c}");

    // Phase II: the qcc example's phase-I centre and σ (qcc vignette: 34.088, 0.5076521)
    // given as known values, all 35 lots monitored. CUSUM ([python] reference of qcc's
    // recursion: batches 30–35 signal).
    let c = ok(get("&chart=cusum&center=34.088&std_dev=0.5076521").await);
    assert_eq!(c["known"], true);
    assert_eq!(lots(&c), ["V-30", "V-31", "V-32", "V-33", "V-34", "V-35"]);
    assert_eq!(c["limits"], json!([-5.0, 5.0]));
    // EWMA λ 0.2 at 2.7σ ([python]: only batch 35 beyond; qcc vignette last limits
    // 33.63111 / 34.54489).
    let c = ok(get("&chart=ewma&lambda=0.2&nsigmas=2.7&center=34.088&std_dev=0.5076521").await);
    assert_eq!(lots(&c), ["V-35"]);
    let limits = c["limits"].as_array().unwrap();
    assert!((limits[0].as_f64().unwrap() - 33.63111).abs() < 5e-6, "{c}");
    assert!((limits[1].as_f64().unwrap() - 34.54489).abs() < 5e-6, "{c}");
    assert!(c["svg"].as_str().unwrap().contains("Subgroup V-35"));

    // Exclusion by lot: V-04 leaves the estimates and stays on the chart, marked.
    let c = ok(get("&exclude=V-04").await);
    assert_eq!(c["excluded"], json!(["V-04"]));
    assert_eq!(c["points"][3]["excluded"], true);
    assert!(lots(&c).contains(&"V-04".to_string()));
    // σ method SD (qcc's other individuals method).
    let c = ok(get("&std_dev_method=SD").await);
    assert!(c["std_dev"].as_f64().unwrap() > 0.0);

    // Refusals name the parameter, the value and what is allowed.
    for (query, expected) in [
        (
            "&chart=pareto",
            "chart: 'pareto' is not allowed; expected i-mr, ewma or cusum",
        ),
        (
            "&chart=cusum&lambda=0.3",
            "lambda does not apply to a cusum chart",
        ),
        ("&chart=cusum&nsigmas=2", "nsigmas does not apply"),
        ("&std_dev_method=UWAVE-R", "use one of MR, SD"),
        ("&std_dev_method=range", "'range' is not known"),
        (
            "&exclude=V-99",
            "sample 'V-99' is not among the 35 phase-I samples",
        ),
        ("&chart=ewma&lambda=2", "lambda = 2"),
        ("&chart=cusum&head_start=7", "head_start = 7"),
    ] {
        let (status, body) = get(query).await;
        assert_eq!(status, 422, "{query}: {body}");
        assert!(body.contains(expected), "{query}: {body}");
    }
    let (status, body) = get("&lambda=abc").await;
    assert_eq!(status, 400, "{body}");
}
