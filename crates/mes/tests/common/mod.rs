//! Test harness: every store test runs on a fresh SQLite file and, when a PostgreSQL server is
//! reachable, on a fresh PostgreSQL database. With `LODESTONE_REQUIRE_SERVICES=1` (as in CI) an
//! unreachable server fails the test instead of skipping it.
#![allow(dead_code)]

use lodestone_mes::{Mes, Session};

/// The PostgreSQL server the tests use.
pub fn postgres_server_url() -> String {
    std::env::var("LODESTONE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn services_required() -> bool {
    std::env::var("LODESTONE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A fresh MES on each available backend, with an admin session. `name` must be unique per
/// test (it names the PostgreSQL database).
pub async fn backends(name: &str) -> Vec<(&'static str, Mes, Session, Option<tempfile::TempDir>)> {
    let mut out = Vec::new();
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mes.db");
    let mes = Mes::create(path.to_str().unwrap())
        .await
        .expect("create SQLite MES");
    let admin = mes
        .bootstrap_admin("admin", "Ada Admin", "admin-password")
        .await
        .expect("bootstrap admin");
    out.push(("sqlite", mes, admin, Some(dir)));

    let db_name = format!("lodestone_test_{name}");
    match lodestone_mes::db::create_postgres_database(&postgres_server_url(), &db_name).await {
        Ok(url) => {
            let mes = Mes::create(&url).await.expect("open PostgreSQL MES");
            let admin = mes
                .bootstrap_admin("admin", "Ada Admin", "admin-password")
                .await
                .expect("bootstrap admin");
            out.push(("postgres", mes, admin, None));
        }
        Err(e) if services_required() => {
            panic!("PostgreSQL is required (LODESTONE_REQUIRE_SERVICES=1) but unreachable: {e}")
        }
        Err(e) => eprintln!("skipped PostgreSQL backend: no server ({e})"),
    }
    out
}
