//! `GET /api/audit/verify` names a row stored past the chain head (inserted by someone with
//! the database files), rather than leaving it to fail every later write unexplained.

mod common;

use common::*;
use lodestone_server::auth::SessionPolicy;
use lodestone_server::limits::Limits;

#[tokio::test]
async fn a_row_past_the_chain_head_is_named_by_the_verify_route() {
    let server = sqlite_server(Limits::default(), SessionPolicy::default()).await;
    let qa = login(server.addr, "qa", "qa-password").await;
    let r = get(server.addr, "/api/audit/verify", Some(&qa)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let head = r.json()["events"].as_i64().unwrap();
    // A correctly hashed row after the head, the head left where it was.
    let mut forged = lodestone_mes::event::EventRecord {
        seq: head + 1,
        client_id: None,
        recorded_at: "2026-12-07T12:00:00Z".into(),
        actor: "admin".into(),
        kind: "lot-held".into(),
        reason: None,
        payload: r#"{"event":"lot-held","lot":"PN-1"}"#.into(),
        prev_hash: r.json()["head_hash"].as_str().unwrap().into(),
        hash: String::new(),
    };
    forged.hash = forged.compute_hash();
    sqlx::query(
        "INSERT INTO events (seq, recorded_at, actor, kind, payload, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(forged.seq)
    .bind(forged.recorded_at.clone())
    .bind(forged.actor.clone())
    .bind(forged.kind.clone())
    .bind(forged.payload.clone())
    .bind(forged.prev_hash.clone())
    .bind(forged.hash.clone())
    .execute(server.state.mes.db().pool())
    .await
    .unwrap();
    let r = get(server.addr, "/api/audit/verify", Some(&qa)).await;
    assert_eq!(r.status, 500, "{}", r.body);
    let detail = r.detail();
    assert!(
        detail.contains(&format!("event {} is stored past the chain head", head + 1))
            && detail.contains("no command can be recorded"),
        "{detail}"
    );
    server.stop().await;
}
