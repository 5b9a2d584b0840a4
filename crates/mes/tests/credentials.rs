//! Credentials (issue 14, findings 1 and 7) on SQLite and PostgreSQL: no password hash in the
//! permanent record or any audit output, password change and admin reset with a forced change,
//! a password policy, and the last active admin cannot be removed.

mod common;

use lodestone_mes::model::Role;
use lodestone_mes::{Command, MesError};

fn create(id: &str, roles: Vec<Role>, password: &str) -> Command {
    Command::CreateUser {
        id: id.into(),
        name: format!("User {id}"),
        roles,
        password: password.into(),
    }
}

#[tokio::test]
async fn no_password_hash_is_kept_in_the_record_or_shown_in_an_audit_trail() {
    for (backend, mes, admin, _dir) in common::backends("creds_no_hash").await {
        mes.execute(
            &admin,
            create("op7", vec![Role::Operator], "op7-password-1").into(),
        )
        .await
        .unwrap();
        for subject in ["user:admin", "user:op7"] {
            for record in mes.audit_trail(subject).await.unwrap() {
                assert!(
                    !record.payload.contains("argon2"),
                    "{backend}: {subject} audit trail shows a password hash: {}",
                    record.payload
                );
            }
        }
        for record in mes.audit_trail_of_user("admin").await.unwrap() {
            assert!(!record.payload.contains("argon2"), "{backend}");
        }
        // Not in the append-only table either: it could never be erased there.
        let rows = sqlx::query("SELECT payload FROM events")
            .fetch_all(mes.db().pool())
            .await
            .unwrap();
        for row in rows {
            let payload: String = sqlx::Row::get(&row, "payload");
            assert!(!payload.contains("argon2"), "{backend}: {payload}");
        }
        // The user still logs in.
        mes.login("op7", "op7-password-1").await.unwrap();
    }
}

#[tokio::test]
async fn a_user_changes_their_password_with_the_current_one() {
    for (backend, mes, admin, _dir) in common::backends("creds_change").await {
        mes.execute(
            &admin,
            create("qa7", vec![Role::Qa], "first-password-7").into(),
        )
        .await
        .unwrap();
        let qa = mes.login("qa7", "first-password-7").await.unwrap();
        let change = |current: &str, new: &str| Command::ChangePassword {
            current_password: current.into(),
            new_password: new.into(),
        };
        let wrong = mes.execute(&qa, change("not-my-password", "second-password-7").into());
        assert!(
            matches!(wrong.await, Err(MesError::AuthenticationFailed(_))),
            "{backend}"
        );
        // The policy: length, not the user id, not a common password, not the current one.
        for (new, expected) in [
            ("short", "10 to 256 characters"),
            ("password123", "most common"),
            ("aaaaaaaaaaaa", "repeated"),
            ("first-password-7", "other than the current one"),
        ] {
            let e = mes
                .execute(&qa, change("first-password-7", new).into())
                .await
                .unwrap_err();
            let text = e.to_string();
            assert!(
                text.contains("new_password") && text.contains(expected) && !text.contains(new),
                "{backend}: {text}"
            );
        }
        mes.execute(&qa, change("first-password-7", "second-password-7").into())
            .await
            .unwrap();
        assert!(mes.login("qa7", "first-password-7").await.is_err());
        mes.login("qa7", "second-password-7").await.unwrap();
        let trail = mes.audit_trail("user:qa7").await.unwrap();
        assert_eq!(trail.last().unwrap().kind, "password-changed", "{backend}");
    }
}

#[tokio::test]
async fn after_an_admin_reset_the_user_must_change_the_password_first() {
    for (backend, mes, admin, _dir) in common::backends("creds_reset").await {
        mes.execute(
            &admin,
            create("op8", vec![Role::Operator], "op8-password-1").into(),
        )
        .await
        .unwrap();
        mes.execute(
            &admin,
            Command::ResetPassword {
                id: "op8".into(),
                new_password: "temporary-op8-1".into(),
            }
            .into(),
        )
        .await
        .unwrap();
        assert!(mes.login("op8", "op8-password-1").await.is_err());
        let op = mes.login("op8", "temporary-op8-1").await.unwrap();
        assert!(op.must_change_password, "{backend}");
        // Nothing else is accepted until the password is changed.
        let hold = mes
            .execute(
                &op,
                Command::SetEquipmentState {
                    equipment: "none".into(),
                    state: lodestone_mes::model::EquipmentState::Idle,
                    at: None,
                    cause: None,
                }
                .into(),
            )
            .await
            .unwrap_err();
        assert!(
            hold.to_string().contains("change-password"),
            "{backend}: {hold}"
        );
        mes.execute(
            &op,
            Command::ChangePassword {
                current_password: "temporary-op8-1".into(),
                new_password: "op8-own-choice-2".into(),
            }
            .into(),
        )
        .await
        .unwrap();
        let op = mes.login("op8", "op8-own-choice-2").await.unwrap();
        assert!(!op.must_change_password, "{backend}");
        // Only an administrator resets passwords.
        let e = mes
            .execute(
                &op,
                Command::ResetPassword {
                    id: "admin".into(),
                    new_password: "taken-over-admin".into(),
                }
                .into(),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, MesError::PermissionDenied { .. }), "{backend}");
    }
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_removed() {
    for (backend, mes, admin, _dir) in common::backends("creds_last_admin").await {
        let set = |id: &str, roles: Vec<Role>, active: bool| Command::SetUserRoles {
            id: id.into(),
            roles,
            active,
        };
        for command in [
            set("admin", vec![Role::Admin], false),
            set("admin", vec![Role::Qa], true),
        ] {
            let e = mes.execute(&admin, command.into()).await.unwrap_err();
            assert!(
                e.to_string().contains("last active administrator"),
                "{backend}: {e}"
            );
        }
        // With a second administrator, the first may step down.
        mes.execute(
            &admin,
            create("admin2", vec![Role::Admin], "second-admin-pw").into(),
        )
        .await
        .unwrap();
        mes.execute(&admin, set("admin", vec![Role::Qa], true).into())
            .await
            .unwrap();
        let admin2 = mes.login("admin2", "second-admin-pw").await.unwrap();
        let e = mes
            .execute(&admin2, set("admin2", vec![Role::Admin], false).into())
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("last active administrator"),
            "{backend}"
        );
    }
}

#[test]
fn a_hash_recorded_before_credentials_left_the_chain_is_redacted_in_every_output() {
    let record = lodestone_mes::event::EventRecord {
        seq: 1,
        client_id: None,
        recorded_at: "2026-12-01T00:00:00.000000Z".into(),
        actor: "admin".into(),
        kind: "user-created".into(),
        reason: None,
        payload: r#"{"event":"user-created","id":"admin","name":"A","roles":["admin"],"password_hash":"$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}"#.into(),
        prev_hash: "0".repeat(64),
        hash: "1".repeat(64),
    };
    let shown = record.clone().redacted();
    assert!(!shown.payload.contains("argon2"), "{}", shown.payload);
    assert!(shown.payload.contains("[redacted]"));
    // The stored row's hash is untouched: verification reads the stored payload.
    assert_eq!(shown.hash, record.hash);
}
