//! The audit chain against someone who can write the database files (issue 14, item 6): what
//! the hash chain alone misses (tail deleted and head moved back, forged appends, re-hashing
//! after an edit, truncation, a row past the head, edited projections) and what signed
//! checkpoints kept outside the database and the deep check find — on SQLite and PostgreSQL.
//! The triggers that refuse UPDATE/DELETE on events are dropped first, as an owner would.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lodestone_mes::audit::{read_checkpoints, CheckpointKey};
use lodestone_mes::db::Backend;
use lodestone_mes::event::{EventRecord, GENESIS_HASH};
use lodestone_mes::model::{Equipment, EquipmentLevel, MaterialDefinition, Role};
use lodestone_mes::{Command, Envelope, Mes, MesError, Session};
use sqlx::Row;

const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test-key";

fn key() -> CheckpointKey {
    CheckpointKey::from_bytes(KEY).unwrap()
}

fn receive(lot: &str, kg: f64) -> Command {
    Command::ReceiveLot {
        lot: lot.into(),
        definition: "Fe".into(),
        quantity_kg: kg,
        supplier_lot: None,
        location: Some("store".into()),
        composition_wt_pct: BTreeMap::from([("Fe".to_string(), 99.9)]),
        disposition: None,
        at: None,
    }
}

/// Master data, an operator, and `lots` received lots: about 5 + `lots` events.
async fn record_some(mes: &Mes, admin: &Session, lots: usize) -> Session {
    let mut commands: Vec<Envelope> = vec![
        Command::DefineEquipment(Equipment {
            id: "store".into(),
            name: "Store".into(),
            level: EquipmentLevel::StorageZone,
            parent: None,
            ideal_cycle_s: None,
        })
        .into(),
        Command::DefineMaterialClass {
            id: "metal".into(),
            name: "Metals".into(),
            receipt: None,
        }
        .into(),
        Command::DefineMaterialDefinition(MaterialDefinition {
            id: "Fe".into(),
            name: "Iron".into(),
            class: "metal".into(),
        })
        .into(),
        Command::CreateUser {
            id: "op1".into(),
            name: "Oscar Operator".into(),
            roles: vec![Role::Operator],
            password: "operator-pw".into(),
        }
        .into(),
    ];
    mes.execute_batch(admin, &commands)
        .await
        .expect("master data");
    let op = mes.login("op1", "operator-pw").await.unwrap();
    commands = (0..lots)
        .map(|i| receive(&format!("FE-{i}"), 100.0 + i as f64).into())
        .collect();
    for command in commands {
        mes.execute(&op, command).await.expect("receive");
    }
    op
}

async fn sql(mes: &Mes, text: &str) {
    sqlx::query(sqlx::AssertSqlSafe(text.to_string()))
        .execute(mes.db().pool())
        .await
        .unwrap_or_else(|e| panic!("{text}: {e}"));
}

/// What a database owner does first: remove the append-only triggers.
async fn drop_triggers(mes: &Mes) {
    match mes.db().backend() {
        Backend::Sqlite => {
            sql(mes, "DROP TRIGGER events_append_only_update").await;
            sql(mes, "DROP TRIGGER events_append_only_delete").await;
        }
        Backend::Postgres => sql(mes, "DROP TRIGGER events_append_only ON events").await,
    }
}

async fn head(mes: &Mes) -> (i64, String) {
    let row = sqlx::query("SELECT seq, hash FROM chain_head WHERE id = 1")
        .fetch_one(mes.db().pool())
        .await
        .unwrap();
    (row.get("seq"), row.get("hash"))
}

async fn set_head(mes: &Mes, seq: i64, hash: &str) {
    sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(hash.to_string())
        .execute(mes.db().pool())
        .await
        .unwrap();
}

async fn hash_of(mes: &Mes, seq: i64) -> String {
    if seq == 0 {
        return GENESIS_HASH.to_string();
    }
    sqlx::query("SELECT hash FROM events WHERE seq = $1")
        .bind(seq)
        .fetch_one(mes.db().pool())
        .await
        .unwrap()
        .get("hash")
}

/// Deletes events after `keep` and moves the head back to `keep`.
async fn delete_tail(mes: &Mes, keep: i64) {
    sqlx::query("DELETE FROM events WHERE seq > $1")
        .bind(keep)
        .execute(mes.db().pool())
        .await
        .unwrap();
    let hash = hash_of(mes, keep).await;
    set_head(mes, keep, &hash).await;
}

/// A correctly hashed event the MES never decided: an admin created by `admin`.
fn forged(seq: i64, prev_hash: &str, user: &str) -> EventRecord {
    let payload = format!(
        r#"{{"event":"user-created","id":"{user}","name":"Mallory","roles":["admin"],"password_hash":"x"}}"#
    );
    let mut record = EventRecord {
        seq,
        client_id: None,
        recorded_at: "2026-12-07T12:00:00Z".into(),
        actor: "admin".into(),
        kind: "user-created".into(),
        reason: None,
        payload,
        prev_hash: prev_hash.to_string(),
        hash: String::new(),
    };
    record.hash = record.compute_hash();
    record
}

async fn insert(mes: &Mes, r: &EventRecord) {
    sqlx::query(
        "INSERT INTO events (seq, client_id, recorded_at, actor, kind, reason, payload, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(r.seq)
    .bind(r.client_id.clone())
    .bind(r.recorded_at.clone())
    .bind(r.actor.clone())
    .bind(r.kind.clone())
    .bind(r.reason.clone())
    .bind(r.payload.clone())
    .bind(r.prev_hash.clone())
    .bind(r.hash.clone())
    .execute(mes.db().pool())
    .await
    .unwrap();
}

/// Appends correctly hashed forged events and moves the head over them.
async fn append_forged(mes: &Mes, n: usize) {
    let (mut seq, mut hash) = head(mes).await;
    for i in 0..n {
        let record = forged(seq + 1, &hash, &format!("mallory{i}"));
        insert(mes, &record).await;
        (seq, hash) = (record.seq, record.hash);
    }
    set_head(mes, seq, &hash).await;
}

fn checkpoint_file(dir: &Path) -> PathBuf {
    dir.join("checkpoints.jsonl")
}

/// A checkpoint file beside the SQLite one, or in a new temp dir for PostgreSQL.
fn scratch_dir(dir: &Option<tempfile::TempDir>) -> tempfile::TempDir {
    match dir {
        Some(d) => tempfile::tempdir_in(d.path()).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn broken_at(result: Result<impl std::fmt::Debug, MesError>, backend: &str) -> (i64, String) {
    match result {
        Err(MesError::ChainBroken { seq, reason }) => (seq, reason),
        other => panic!("{backend}: not detected: {other:?}"),
    }
}

#[tokio::test]
async fn a_deleted_tail_with_the_head_moved_back_is_caught_by_the_checkpoint() {
    for (backend, mes, admin, dir) in common::backends("chain_tail").await {
        record_some(&mes, &admin, 6).await;
        let tmp = scratch_dir(&dir);
        let file = checkpoint_file(tmp.path());
        let cp = mes.write_checkpoint(&key(), &file).await.unwrap();
        drop_triggers(&mes).await;
        delete_tail(&mes, cp.seq - 2).await;
        // The chain alone is consistent again: this is what the attacker relied on.
        mes.verify_chain()
            .await
            .expect("a shortened chain still links up");
        let cps = read_checkpoints(&file).unwrap();
        let (seq, reason) = broken_at(mes.verify_checkpoints(&cps, &key()).await, backend);
        assert_eq!(seq, cp.seq, "{backend}: {reason}");
        assert!(reason.contains("head is at event"), "{backend}: {reason}");
        broken_at(mes.audit(&cps, Some(&key()), true).await, backend);
    }
}

#[tokio::test]
async fn a_forged_tail_replacing_checkpointed_events_is_caught() {
    for (backend, mes, admin, dir) in common::backends("chain_forged").await {
        record_some(&mes, &admin, 6).await;
        let tmp = scratch_dir(&dir);
        let file = checkpoint_file(tmp.path());
        let cp = mes.write_checkpoint(&key(), &file).await.unwrap();
        drop_triggers(&mes).await;
        // Replace the last two events with three forged ones, correctly hashed.
        delete_tail(&mes, cp.seq - 2).await;
        append_forged(&mes, 3).await;
        mes.verify_chain().await.expect("forged events link up");
        let cps = read_checkpoints(&file).unwrap();
        let (seq, reason) = broken_at(mes.verify_checkpoints(&cps, &key()).await, backend);
        assert_eq!(seq, cp.seq, "{backend}");
        assert!(reason.contains("rewritten"), "{backend}: {reason}");
        // The incremental check anchors on the same event and fails the same way.
        let (seq, _) = broken_at(mes.verify_chain_after(Some(&cp)).await, backend);
        assert_eq!(seq, cp.seq, "{backend}");
    }
}

#[tokio::test]
async fn an_edit_re_hashed_through_the_chain_is_caught_up_to_the_last_checkpoint() {
    for (backend, mes, admin, dir) in common::backends("chain_rehash").await {
        record_some(&mes, &admin, 6).await;
        let tmp = scratch_dir(&dir);
        let file = checkpoint_file(tmp.path());
        let cp = mes.write_checkpoint(&key(), &file).await.unwrap();
        drop_triggers(&mes).await;
        // Change a received quantity, then recompute every later hash and link and the head.
        let mut records = mes.events_after(0, 1000).await.unwrap();
        let edited = records
            .iter()
            .position(|r| r.kind == "lot-received")
            .unwrap();
        records[edited].payload = records[edited].payload.replace("100.0", "10.0");
        assert!(records[edited].payload.contains("10.0"), "{backend}");
        let mut prev = records[edited - 1].hash.clone();
        for r in &mut records[edited..] {
            r.prev_hash = prev.clone();
            r.hash = r.compute_hash();
            prev = r.hash.clone();
            sqlx::query("UPDATE events SET payload = $1, prev_hash = $2, hash = $3 WHERE seq = $4")
                .bind(r.payload.clone())
                .bind(r.prev_hash.clone())
                .bind(r.hash.clone())
                .bind(r.seq)
                .execute(mes.db().pool())
                .await
                .unwrap();
        }
        let last = records.last().unwrap();
        set_head(&mes, last.seq, &last.hash).await;
        mes.verify_chain()
            .await
            .expect("a re-hashed chain links up");
        let cps = read_checkpoints(&file).unwrap();
        let (seq, reason) = broken_at(mes.verify_checkpoints(&cps, &key()).await, backend);
        assert_eq!(seq, cp.seq, "{backend}: {reason}");
        broken_at(mes.audit(&cps, Some(&key()), true).await, backend);
        broken_at(mes.audit(&cps, Some(&key()), false).await, backend);
    }
}

#[tokio::test]
async fn truncated_events_with_the_head_reset_are_caught_by_the_checkpoint() {
    for (backend, mes, admin, dir) in common::backends("chain_truncate").await {
        record_some(&mes, &admin, 3).await;
        let tmp = scratch_dir(&dir);
        let file = checkpoint_file(tmp.path());
        let cp = mes.write_checkpoint(&key(), &file).await.unwrap();
        drop_triggers(&mes).await;
        match mes.db().backend() {
            Backend::Postgres => sql(&mes, "TRUNCATE events, event_subjects").await,
            Backend::Sqlite => {
                sql(&mes, "DELETE FROM events").await;
                sql(&mes, "DELETE FROM event_subjects").await;
            }
        }
        set_head(&mes, 0, GENESIS_HASH).await;
        // "intact: 0 events" — the chain alone cannot tell.
        assert_eq!(mes.verify_chain().await.unwrap().events, 0, "{backend}");
        let cps = read_checkpoints(&file).unwrap();
        let (seq, reason) = broken_at(mes.verify_checkpoints(&cps, &key()).await, backend);
        assert_eq!(seq, cp.seq, "{backend}");
        assert!(reason.contains("truncated"), "{backend}: {reason}");
    }
}

#[tokio::test]
async fn a_row_past_the_head_is_reported_instead_of_blocking_writes() {
    for (backend, mes, admin, _dir) in common::backends("chain_past_head").await {
        let op = record_some(&mes, &admin, 2).await;
        // An INSERT needs no trigger dropped.
        let (seq, hash) = head(&mes).await;
        insert(&mes, &forged(seq + 1, &hash, "mallory")).await;
        let (at, reason) = broken_at(mes.verify_chain().await, backend);
        assert_eq!(at, seq + 1, "{backend}");
        assert!(
            reason.contains("past the chain head") && reason.contains("no command can be recorded"),
            "{backend}: {reason}"
        );
        // Which is what writes run into.
        assert!(
            mes.execute(&op, receive("FE-X", 1.0).into()).await.is_err(),
            "{backend}"
        );
        // A row far beyond the head, with a gap, is reported as well.
        drop_triggers(&mes).await;
        sqlx::query("DELETE FROM events WHERE seq = $1")
            .bind(seq + 1)
            .execute(mes.db().pool())
            .await
            .unwrap();
        insert(&mes, &forged(seq + 1000, &hash, "mallory")).await;
        let (at, _) = broken_at(mes.verify_chain().await, backend);
        assert_eq!(at, seq + 1000, "{backend}");
    }
}

#[tokio::test]
async fn limit_events_appended_after_the_last_checkpoint_pass_until_the_next_checkpoint() {
    // The documented limit: a checkpoint covers the chain up to its seq. Forged events
    // appended after it by a database owner verify like genuine ones; the next checkpoint
    // signs them. Frequent checkpoints make that window short.
    for (backend, mes, admin, dir) in common::backends("chain_limit").await {
        record_some(&mes, &admin, 2).await;
        let tmp = scratch_dir(&dir);
        let file = checkpoint_file(tmp.path());
        mes.write_checkpoint(&key(), &file).await.unwrap();
        append_forged(&mes, 2).await;
        let cps = read_checkpoints(&file).unwrap();
        let report = mes.audit(&cps, Some(&key()), true).await.unwrap();
        assert_eq!(report.hashed, 2, "{backend}");
        assert_eq!(
            report.last_checkpoint.unwrap().seq,
            report.events - 2,
            "{backend}: the report says how far the checkpoints reach"
        );
    }
}

#[tokio::test]
async fn incremental_verify_hashes_only_events_after_the_checkpoint_and_finds_edits_there() {
    for (backend, mes, admin, dir) in common::backends("chain_incremental").await {
        let op = record_some(&mes, &admin, 3).await;
        let tmp = scratch_dir(&dir);
        let file = checkpoint_file(tmp.path());
        let first = mes.write_checkpoint(&key(), &file).await.unwrap();
        for i in 0..4 {
            mes.execute(&op, receive(&format!("FE-B{i}"), 5.0).into())
                .await
                .unwrap();
        }
        let second = mes.write_checkpoint(&key(), &file).await.unwrap();
        assert_eq!(second.seq, first.seq + 4, "{backend}");
        mes.execute(&op, receive("FE-C", 5.0).into()).await.unwrap();
        let cps = read_checkpoints(&file).unwrap();
        assert_eq!(cps, vec![first.clone(), second.clone()], "{backend}");
        let report = mes.audit(&cps, Some(&key()), true).await.unwrap();
        assert_eq!((report.hashed, report.checkpoints), (1, 2), "{backend}");
        let full = mes.audit(&cps, Some(&key()), false).await.unwrap();
        assert_eq!(full.hashed, full.events, "{backend}");
        // An edit after the newest checkpoint is found by the incremental check.
        drop_triggers(&mes).await;
        sqlx::query("UPDATE events SET payload = REPLACE(payload, '5.0', '50.0') WHERE seq = $1")
            .bind(second.seq + 1)
            .execute(mes.db().pool())
            .await
            .unwrap();
        let (seq, reason) = broken_at(mes.audit(&cps, Some(&key()), true).await, backend);
        assert_eq!(seq, second.seq + 1, "{backend}: {reason}");
        // An edit of the checkpointed event itself (no re-hash) is found too.
        sqlx::query("UPDATE events SET actor = 'someone' WHERE seq = $1")
            .bind(second.seq)
            .execute(mes.db().pool())
            .await
            .unwrap();
        let (seq, reason) = broken_at(mes.verify_chain_after(Some(&second)).await, backend);
        assert_eq!(seq, second.seq, "{backend}: {reason}");
        assert!(reason.contains("edited"), "{backend}: {reason}");
        // A chain that does not verify is never signed.
        broken_at(mes.write_checkpoint(&key(), &file).await, backend);
        assert_eq!(read_checkpoints(&file).unwrap().len(), 2, "{backend}");
    }
}

#[tokio::test]
async fn altered_checkpoints_and_a_wrong_key_are_refused() {
    for (backend, mes, admin, dir) in common::backends("chain_signature").await {
        record_some(&mes, &admin, 3).await;
        let tmp = scratch_dir(&dir);
        let file = checkpoint_file(tmp.path());
        let cp = mes.write_checkpoint(&key(), &file).await.unwrap();
        let line = std::fs::read_to_string(&file).unwrap();
        assert_eq!(line.trim(), cp.to_line(), "{backend}");
        // Moving a checkpoint back (to match a shortened chain) breaks its signature.
        let mut moved = cp.clone();
        moved.seq -= 1;
        moved.events -= 1;
        moved.hash = hash_of(&mes, moved.seq).await;
        let e = mes.verify_checkpoints(&[moved], &key()).await.unwrap_err();
        assert!(
            matches!(&e, MesError::Invalid { field, .. } if field.starts_with("checkpoint 1")),
            "{backend}: {e}"
        );
        let other = CheckpointKey::from_bytes(b"another key of thirty-two bytes or more").unwrap();
        assert!(
            mes.verify_checkpoints(std::slice::from_ref(&cp), &other)
                .await
                .is_err(),
            "{backend}"
        );
        mes.verify_checkpoints(&[cp], &key()).await.unwrap();
        // A garbled line names the file and the line.
        std::fs::write(&file, format!("{line}not a checkpoint\n")).unwrap();
        let e = read_checkpoints(&file).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{backend}: {e}");
    }
}

#[test]
fn a_short_key_is_refused_with_its_length() {
    let e = CheckpointKey::from_bytes(b"short").unwrap_err().to_string();
    assert!(e.contains("5 bytes") && e.contains("at least 32"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key");
    std::fs::write(&path, "too short\n").unwrap();
    let e = CheckpointKey::from_file(&path).unwrap_err().to_string();
    assert!(e.contains("key file") && e.contains("9 bytes"), "{e}");
    // A generated key loads, and an existing key is never overwritten.
    let path = dir.path().join("new.key");
    CheckpointKey::generate_file(&path).unwrap();
    CheckpointKey::from_file(&path).unwrap();
    assert!(CheckpointKey::generate_file(&path).is_err());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "readable by its owner only: {mode:o}");
    }
}

#[tokio::test]
async fn a_user_promoted_by_sql_is_found_by_the_deep_check() {
    for (backend, mes, admin, _dir) in common::backends("chain_deep").await {
        record_some(&mes, &admin, 3).await;
        let report = mes.verify_projections().await.unwrap();
        assert!(report.consistent(), "{backend}: {report:?}");
        assert!(report
            .tables
            .iter()
            .any(|t| t.table == "users" && t.rows == 2));
        // The attacker's SQL, and what the promoted operator then did through the MES.
        sql(&mes, "UPDATE users SET roles = 'admin' WHERE id = 'op1'").await;
        let promoted = mes.login("op1", "operator-pw").await.unwrap();
        mes.execute(
            &promoted,
            Command::CreateUser {
                id: "eve".into(),
                name: "Eve".into(),
                roles: vec![Role::Admin],
                password: "eve-password".into(),
            }
            .into(),
        )
        .await
        .expect("the promotion works");
        // The chain is intact (the events are genuine); the projections are not.
        mes.verify_chain().await.unwrap();
        let report = mes.verify_projections().await.unwrap();
        assert!(!report.consistent(), "{backend}");
        let users = report.tables.iter().find(|t| t.table == "users").unwrap();
        assert_eq!(users.differences, 2, "{backend}: {users:?}");
        assert!(
            users.only_in_database[0].contains("id=\"op1\"")
                && users.only_in_database[0].contains("roles=\"admin\""),
            "{backend}: {users:?}"
        );
        assert!(
            users.only_in_replay[0].contains("roles=\"operator\""),
            "{backend}: {users:?}"
        );
        assert!(
            !format!("{users:?}").contains("argon2"),
            "{backend}: password hashes are not shown: {users:?}"
        );
        for t in report.tables.iter().filter(|t| t.table != "users") {
            assert_eq!(t.differences, 0, "{backend}: {t:?}");
        }
        // Stock changed by SQL and an audit-trail entry removed are found too.
        sql(
            &mes,
            "UPDATE lots SET quantity_kg = quantity_kg + 1 WHERE id = 'FE-1'",
        )
        .await;
        sql(
            &mes,
            "DELETE FROM event_subjects WHERE subject = 'lot:FE-2'",
        )
        .await;
        let report = mes.verify_projections().await.unwrap();
        for table in ["lots", "event_subjects"] {
            let t = report.tables.iter().find(|t| t.table == table).unwrap();
            assert!(t.differences > 0, "{backend}: {t:?}");
        }
    }
}

#[test]
fn three_twin_days_replay_to_the_same_projections_on_every_backend() {
    use lodestone_mes::twin_recorder::{plant_commands, MesRecorder};
    // Every kind of projection row (heats, splits, results, states, NCRs) must compare equal
    // with its replay, or the deep check would cry wolf.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let text = include_str!("../../../examples/plant/baotou-50kt.toml");
    let mut plant = lodestone_twin::plant::Plant::from_toml("baotou-50kt.toml", text).unwrap();
    plant.simulation.days = 365.0;
    plant.simulation.warmup_days = 0.0;
    let epoch = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    for (backend, mes, admin, _dir) in runtime.block_on(common::backends("chain_twin")) {
        let setup: Vec<Envelope> = plant_commands(&plant)
            .into_iter()
            .map(Envelope::from)
            .collect();
        runtime.block_on(mes.execute_batch(&admin, &setup)).unwrap();
        let mut recorder = MesRecorder::new(&runtime, &mes, &admin, &plant, epoch);
        let mut twin = lodestone_twin::model::Twin::new(&plant, 1, &mut recorder);
        twin.advance_to(3.0 * 86_400.0);
        twin.recorder_mut().flush_now().unwrap();
        drop(twin);
        let events = recorder.finish().unwrap();
        assert!(events > 1000, "{backend}: {events}");
        let report = runtime.block_on(mes.verify_projections()).unwrap();
        for t in &report.tables {
            assert_eq!(t.differences, 0, "{backend}: {t:?}");
        }
        assert!(
            report
                .tables
                .iter()
                .any(|t| t.table == "step_lots" && t.rows > 100),
            "{backend}: {:?}",
            report.tables
        );
    }
}
