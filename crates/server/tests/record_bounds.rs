//! What the permanent record accepts, on SQLite and PostgreSQL alike (issue 14, findings 5 and
//! 8): bounded text (a 1.9 MB downtime reason was accepted 20 times), NUL and other control
//! characters refused on both backends — 422 in a command, 400 in a path or query (PostgreSQL
//! answered 500 on 11 routes, SQLite stored them), and a client id reused for a different command refused with 409 (it was
//! answered `duplicate: true` and silently not applied).

mod common;

use common::*;
use lodestone_server::auth::SessionPolicy;
use lodestone_server::limits::Limits;
use serde_json::json;

async fn servers() -> Vec<(&'static str, Server)> {
    let mut out = Vec::new();
    let (mes, _, dir) = sqlite_mes().await;
    let mut server = serve(mes, Limits::default(), SessionPolicy::default()).await;
    server.keep(dir);
    out.push(("sqlite", server));
    if let Some((mes, _)) = postgres_mes("lodestone_test_record_bounds").await {
        out.push((
            "postgres",
            serve(mes, Limits::default(), SessionPolicy::default()).await,
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_takes_bounded_printable_text_and_one_command_per_client_id() {
    for (backend, server) in servers().await {
        let addr = server.addr;
        let admin = login(addr, "admin", "admin-password").await;
        let command = |body: serde_json::Value| {
            let admin = admin.clone();
            async move { json(addr, "POST", "/api/commands", Some(&admin), &body).await }
        };
        // Unbounded text: a 1.9 MB reason, a 1.9 MB NCR description.
        let huge = "x".repeat(1_900_000);
        let r = command(json!({"command": "hold-lot", "lot": "PN-1", "reason": huge})).await;
        assert!(matches!(r.status, 413 | 422), "{backend}: {}", r.status);
        let r = command(
            json!({"command": "raise-nonconformance", "id": "NCR-BIG", "lot": "PN-1",
            "description": "y".repeat(2001), "severity": "minor"}),
        )
        .await;
        assert_eq!(r.status, 422, "{backend}: {}", r.body);
        assert!(
            r.detail().contains("at most 2000 characters"),
            "{backend}: {}",
            r.body
        );

        // NUL in a text field: refused, not stored (SQLite) or 500 (PostgreSQL).
        let r = command(
            json!({"command": "raise-nonconformance", "id": "NCR-NUL", "lot": "PN-1",
            "description": "bad\u{0}value", "severity": "minor"}),
        )
        .await;
        assert_eq!(r.status, 422, "{backend}: {}", r.body);
        assert!(r.detail().contains("U+0000"), "{backend}: {}", r.body);
        // NUL in ids, paths and queries, with and without a login.
        let r = json(
            addr,
            "POST",
            "/api/login",
            None,
            &json!({"user": "ad\u{0}min", "password": "x"}),
        )
        .await;
        assert!(r.status < 500, "{backend}: login {}", r.status);
        for path in [
            "/api/lots/PN%001",
            "/api/lots/PN%001/trace",
            "/api/lots/PN%001/results",
            "/api/lots/PN%001/evaluation",
            "/api/lots/PN%001/recall",
            "/api/orders/O%00",
            "/api/specifications/N%00",
            "/api/audit/lot%3A%00",
            "/api/oee/line%00?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z",
            "/api/spc?definition=N%00&property=Nd",
            "/api/lots?definition=%00",
        ] {
            let r = get(addr, path, Some(&admin)).await;
            assert_eq!(r.status, 400, "{backend}: GET {path}: {}", r.body);
            assert!(
                r.detail().contains("control character"),
                "{backend}: {}",
                r.body
            );
        }
        let r = get(addr, "/api/lots/PN%001", None).await;
        assert!(
            r.status == 400 || r.status == 401,
            "{backend}: {}",
            r.status
        );

        // One client id, one command: a retry is answered with the first outcome, another
        // command under the same id is refused.
        let hold = json!({"command": "hold-lot", "lot": "PN-1", "client_id": "c-1"});
        let first = command(hold.clone()).await;
        assert_eq!(first.status, 201, "{backend}: {}", first.body);
        let retry = command(hold).await;
        assert_eq!(retry.status, 200, "{backend}: {}", retry.body);
        assert_eq!(retry.json()["duplicate"], true);
        let other = command(
            json!({"command": "raise-nonconformance", "id": "NCR-2", "lot": "PN-1",
            "description": "wrong certificate", "severity": "minor", "client_id": "c-1"}),
        )
        .await;
        assert_eq!(other.status, 409, "{backend}: {}", other.body);
        assert!(other.detail().contains("client_id 'c-1'"), "{backend}");
        let ncrs = get(addr, "/api/nonconformances", Some(&admin)).await.json();
        assert_eq!(
            ncrs.as_array().unwrap().len(),
            0,
            "{backend}: nothing half-applied"
        );
        server.stop().await;
    }
}
