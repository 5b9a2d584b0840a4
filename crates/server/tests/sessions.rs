//! Sessions in the database: two server processes on one PostgreSQL database serve the same
//! logins, a restart keeps them, logout on one ends the session on the other, and the database
//! holds only a hash of each token.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use lodestone_mes::Mes;
use lodestone_server::auth::{SessionPolicy, Sessions};
use lodestone_server::limits::Limits;
use lodestone_server::AppState;
use sqlx::Row;

/// A server over `mes` whose sessions live in its database.
async fn serve_with_stored_sessions(mes: Mes, policy: SessionPolicy) -> Server {
    let sessions = Sessions::in_database(policy, mes.db().pool().clone());
    let state = Arc::new(AppState::new(mes, sessions, None, Limits::default()));
    serve_state(state).await
}

async fn two_servers_share_logins(url: &str, mes: Mes) {
    let policy = SessionPolicy::default();
    let a = serve_with_stored_sessions(mes, policy).await;
    let b = serve_with_stored_sessions(Mes::open(url).await.unwrap(), policy).await;
    let token = login(a.addr, "qa", "qa-password").await;
    let me = get(b.addr, "/api/me", Some(&token)).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.json()["user"], "qa");
    assert_eq!(me.json()["name"], "Quinn QA");
    // Only a digest of the token is stored.
    let rows = sqlx::query("SELECT token_sha256 FROM sessions")
        .fetch_all(a.state.mes.db().pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].get("token_sha256");
    assert_ne!(stored, token);
    assert_eq!(stored.len(), 64);
    // A restart of A keeps the login.
    a.stop().await;
    let a = serve_with_stored_sessions(Mes::open(url).await.unwrap(), policy).await;
    assert_eq!(get(a.addr, "/api/me", Some(&token)).await.status, 200);
    // Logout on B ends the session on A too.
    let out = send(b.addr, "POST", "/api/logout", Some(&token), None).await;
    assert_eq!(out.status, 204);
    assert_eq!(get(a.addr, "/api/me", Some(&token)).await.status, 401);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn two_servers_on_one_postgres_database_share_logins_and_a_restart_keeps_them() {
    let Some((mes, url)) = postgres_mes("lodestone_test_sessions_shared").await else {
        return;
    };
    two_servers_share_logins(&url, mes).await;
}

#[tokio::test]
async fn two_servers_on_one_sqlite_file_share_logins_and_a_restart_keeps_them() {
    let (mes, url, _dir) = sqlite_mes().await;
    two_servers_share_logins(&url, mes).await;
}

#[tokio::test]
async fn stored_sessions_end_when_idle_and_a_user_keeps_at_most_the_cap() {
    let (mes, url, _dir) = sqlite_mes().await;
    let policy = SessionPolicy {
        idle: Duration::from_millis(800),
        ..SessionPolicy::default()
    };
    let server = serve_with_stored_sessions(mes, policy).await;
    let token = login(server.addr, "qa", "qa-password").await;
    assert_eq!(get(server.addr, "/api/me", Some(&token)).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(get(server.addr, "/api/me", Some(&token)).await.status, 401);
    // The cap: the oldest of a user's sessions ends when one more is opened.
    let mut tokens = Vec::new();
    for _ in 0..=Sessions::MAX_SESSIONS_PER_USER {
        tokens.push(login(server.addr, "qa", "qa-password").await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let reopened = Mes::open(&url).await.unwrap();
    let n: i64 =
        sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM sessions WHERE user_id = 'qa'")
            .fetch_one(reopened.db().pool())
            .await
            .unwrap()
            .get("n");
    assert_eq!(n as usize, Sessions::MAX_SESSIONS_PER_USER);
    assert_eq!(
        get(server.addr, "/api/me", Some(&tokens[0])).await.status,
        401
    );
    assert_eq!(
        get(server.addr, "/api/me", Some(tokens.last().unwrap()))
            .await
            .status,
        200
    );
    server.stop().await;
}
