//! The MES service: open a database, log in, execute commands (one or a batch, atomically and
//! idempotently), and query records and the audit trail.

use serde::Serialize;
use sqlx::Row;

use crate::command::{Command, Envelope};
use crate::db::{event_record, Db};
use crate::error::{MesError, Result};
use crate::event::{Event, EventRecord};
use crate::handle::{decide, explain_draw, verify_password, Session};
use crate::model::{now, JobOrder, MaterialLot, Role};
use crate::projection::{apply, find_lot, find_order, find_user, lot_from_row, order_from_row};

/// What the MES answers to an accepted command.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Receipt {
    /// Sequence number of the event that records the command.
    pub seq: i64,
    /// Event name.
    pub event: String,
    /// True when the client id had been seen: the first outcome is returned, nothing changed.
    pub duplicate: bool,
}

/// Outcome of re-checking the audit chain.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainReport {
    /// Events checked.
    pub events: i64,
    /// Hash of the last event.
    pub head_hash: String,
}

/// Applies the batch's deferred stock draws, summed per lot, each as one guarded update; a
/// refused draw comes back with the reason in words (`DrawRefused` carries the lot).
async fn flush_draws(tx: &mut crate::db::WriteTx<'_>) -> Result<()> {
    if tx.deferred.draws.is_empty() {
        return Ok(());
    }
    let mut totals: Vec<(String, f64)> = Vec::new();
    for (lot, kg) in std::mem::take(&mut tx.deferred.draws) {
        match totals.iter_mut().find(|(l, _)| *l == lot) {
            Some((_, total)) => *total += kg,
            None => totals.push((lot, kg)),
        }
    }
    for (lot, kg) in totals {
        if let Err(e) = crate::projection::draw(&mut *tx.tx, &lot, kg).await {
            return Err(match e {
                MesError::DrawRefused { lot, requested_kg } => {
                    match explain_draw(tx, &lot, requested_kg).await {
                        MesError::DrawRefused { .. } => MesError::DrawRefused { lot, requested_kg },
                        reason => reason,
                    }
                }
                other => other,
            });
        }
    }
    Ok(())
}

/// Whether `command` reads the stock of a lot that has draws pending in this batch.
fn reads_drawn_lot(command: &Command, draws: &[(String, f64)]) -> bool {
    if draws.is_empty() {
        return false;
    }
    let pending = |lot: &str| draws.iter().any(|(l, _)| l == lot);
    match command {
        Command::Consume { .. }
        | Command::Produce { .. }
        | Command::OrderAction { .. }
        | Command::SetEquipmentState { .. }
        | Command::CreateOrder { .. }
        | Command::ReceiveLot { .. }
        | Command::RecordResult { .. }
        | Command::RecordResults { .. } => false,
        Command::SplitLot { source, .. } => pending(source),
        Command::MergeLots { sources, .. } => sources.iter().any(|s| pending(&s.lot)),
        Command::MoveLot { lot, .. }
        | Command::ShipLot { lot, .. }
        | Command::ScrapLot { lot, .. }
        | Command::FeedContinuous { lot, .. }
        | Command::HoldLot { lot }
        | Command::ReleaseLot { lot, .. }
        | Command::RejectLot { lot, .. }
        | Command::RaiseNonconformance { lot, .. } => pending(lot),
        // Anything else (master data, users, specifications, NCR closure): flush to be safe.
        _ => true,
    }
}

/// Names the command behind a failed deferred draw.
fn batch_error(
    envelopes: &[Envelope],
    draw_index: &std::collections::HashMap<String, usize>,
    error: MesError,
) -> MesError {
    let lot = match &error {
        MesError::InsufficientQuantity { lot, .. } | MesError::DrawRefused { lot, .. } => {
            Some(lot.clone())
        }
        MesError::IllegalState {
            kind: "lot", id, ..
        }
        | MesError::NotFound { kind: "lot", id } => Some(id.clone()),
        _ => None,
    };
    match lot.and_then(|l| draw_index.get(&l).copied()) {
        Some(index) => MesError::InBatch {
            index,
            command: envelopes[index].command.name(),
            error: Box::new(error),
        },
        None => error,
    }
}

/// Looks up, in one query per 500, which client ids of a batch are already recorded.
async fn prefetch_client_ids(
    tx: &mut crate::db::WriteTx<'_>,
    envelopes: &[Envelope],
) -> Result<()> {
    let ids: Vec<&String> = envelopes
        .iter()
        .filter_map(|e| e.client_id.as_ref())
        .collect();
    for chunk in ids.chunks(500) {
        let mut sql = String::from(
            "SELECT e.client_id AS client_id, e.seq AS seq, e.kind AS kind, c.command_sha256 AS fingerprint \
             FROM events e LEFT JOIN client_commands c ON c.client_id = e.client_id WHERE e.client_id IN ",
        );
        crate::db::push_placeholders(tx.backend, &mut sql, 1, chunk.len());
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind((*id).clone());
        }
        for row in query.fetch_all(&mut *tx.tx).await? {
            let id: String = row.try_get("client_id")?;
            tx.stored_client_ids.insert(
                id,
                (
                    row.try_get("seq")?,
                    row.try_get("kind")?,
                    row.try_get("fingerprint")?,
                ),
            );
        }
    }
    Ok(())
}

/// SHA-256 of a command as JSON with every password blanked (a password must not be kept,
/// even hashed without salt): what a client id was first used for.
fn command_fingerprint(command: &Command) -> String {
    use sha2::{Digest, Sha256};
    let mut value = serde_json::to_value(command).unwrap_or_default();
    fn blank(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                for (key, v) in map.iter_mut() {
                    if key.contains("password") {
                        *v = serde_json::Value::Null;
                    } else {
                        blank(v);
                    }
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(blank),
            _ => {}
        }
    }
    blank(&mut value);
    Sha256::digest(value.to_string().as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The receipt of a retry: the first outcome, when `client_id` was used before (in this batch
/// or stored) for the same command. A different command with a used id is refused.
fn find_client_id(
    tx: &crate::db::WriteTx<'_>,
    client_id: &str,
    fingerprint: &str,
) -> Result<Option<Receipt>> {
    let (seq, event, first) = if let Some(seq) = tx.pending_client_seq(client_id) {
        let first = tx
            .client_fingerprints
            .get(client_id)
            .map(|(f, _)| f.clone());
        (seq, String::new(), first)
    } else if let Some((seq, kind, first)) = tx.stored_client_ids.get(client_id) {
        (*seq, kind.clone(), first.clone())
    } else {
        return Ok(None);
    };
    // Ids used before fingerprints were kept have none: taken as retries, as they were.
    if first.is_some_and(|f| f != fingerprint) {
        return Err(MesError::ClientIdReused {
            client_id: client_id.to_string(),
            seq,
        });
    }
    Ok(Some(Receipt {
        seq,
        event,
        duplicate: true,
    }))
}

/// The MES on one database.
#[derive(Debug, Clone)]
pub struct Mes {
    db: Db,
}

/// Projection tables, cleared and refilled by [`Mes::rebuild_projections`].
pub(crate) const PROJECTION_TABLES: &[&str] = &[
    "users",
    "equipment",
    "equipment_states",
    "material_classes",
    "material_definitions",
    "process_segments",
    "work_masters",
    "lots",
    "orders",
    "steps",
    "step_lots",
    "continuous_feeds",
    "shipments",
    "specifications",
    "results",
    "nonconformances",
];

impl Mes {
    /// Opens an existing MES database (SQLite path or URL, or a PostgreSQL URL), migrating its
    /// schema if this version is newer.
    pub async fn open(url: &str) -> Result<Mes> {
        Ok(Mes {
            db: Db::open(url, false).await?,
        })
    }

    /// Opens the database, creating an SQLite file if it does not exist.
    pub async fn create(url: &str) -> Result<Mes> {
        Ok(Mes {
            db: Db::open(url, true).await?,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Creates the first administrator. Refused once any user exists.
    pub async fn bootstrap_admin(&self, id: &str, name: &str, password: &str) -> Result<Session> {
        let row = sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM users")
            .fetch_one(self.db.pool())
            .await?;
        let users: i64 = row.try_get("n")?;
        if users > 0 {
            return Err(MesError::AlreadyExists {
                kind: "administrator",
                id: "(users exist; log in as an admin to add users)".into(),
            });
        }
        let session = Session {
            user: id.to_string(),
            name: name.to_string(),
            roles: vec![Role::Admin],
            must_change_password: false,
        };
        self.execute(
            &session,
            Command::CreateUser {
                id: id.into(),
                name: name.into(),
                roles: vec![Role::Admin],
                password: password.into(),
            }
            .into(),
        )
        .await?;
        Ok(session)
    }

    /// Checks a user's password and returns a session with the user's roles.
    ///
    /// An unknown or inactive user costs the same argon2 verification as a wrong password
    /// (against a dummy hash made once per process, with its own random salt; the result is
    /// ignored), so the answer's timing does not tell which user ids exist.
    pub async fn login(&self, user: &str, password: &str) -> Result<Session> {
        static DUMMY_HASH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
        let found = find_user(self.db.pool(), user).await?;
        match found {
            Some((u, credential)) if u.active => {
                if verify_password(password, &credential.password_hash) {
                    return Ok(Session {
                        user: u.id,
                        name: u.name,
                        roles: u.roles,
                        must_change_password: credential.must_change,
                    });
                }
            }
            _ => {
                // The result is ignored: only the time it takes matters.
                let dummy =
                    DUMMY_HASH.get_or_init(|| crate::handle::hash_password("no such user").ok());
                if let Some(dummy) = dummy {
                    verify_password(password, dummy);
                }
            }
        }
        Err(MesError::AuthenticationFailed(user.to_string()))
    }

    /// Executes one command.
    pub async fn execute(&self, session: &Session, envelope: Envelope) -> Result<Receipt> {
        let mut receipts = self
            .execute_batch(session, std::slice::from_ref(&envelope))
            .await
            .map_err(|e| match e {
                MesError::InBatch { error, .. } => *error,
                other => other,
            })?;
        Ok(receipts.remove(0))
    }

    /// Executes commands in order in one transaction: all are recorded or none is.
    pub async fn execute_batch(
        &self,
        session: &Session,
        envelopes: &[Envelope],
    ) -> Result<Vec<Receipt>> {
        if session.must_change_password {
            if let Some((index, envelope)) = envelopes
                .iter()
                .enumerate()
                .find(|(_, e)| !matches!(e.command, Command::ChangePassword { .. }))
            {
                return Err(MesError::InBatch {
                    index,
                    command: envelope.command.name(),
                    error: Box::new(MesError::PermissionDenied {
                        user: session.user.clone(),
                        roles: "password reset by an administrator".into(),
                        action: envelope.command.name().to_string(),
                        permission: "a changed password (change-password first)",
                    }),
                });
            }
        }
        if envelopes.len() > crate::bounds::MAX_BATCH_COMMANDS {
            return Err(MesError::invalid(
                "commands",
                format!("{} commands in one batch", envelopes.len()),
                &format!("at most {}", crate::bounds::MAX_BATCH_COMMANDS),
            ));
        }
        let recorded_at = now();
        let mut tx = self.db.begin_write().await?;
        prefetch_client_ids(&mut tx, envelopes).await?;
        let mut receipts = Vec::with_capacity(envelopes.len());
        // Last command of the batch that drew on each lot, to name it if the draw fails.
        let mut draw_index: std::collections::HashMap<String, usize> = Default::default();
        for (index, envelope) in envelopes.iter().enumerate() {
            let wrap = |e: MesError| MesError::InBatch {
                index,
                command: envelope.command.name(),
                error: Box::new(e),
            };
            crate::bounds::check_envelope(envelope).map_err(wrap)?;
            let fingerprint = envelope
                .client_id
                .as_ref()
                .map(|_| command_fingerprint(&envelope.command));
            if let (Some(client_id), Some(fingerprint)) = (&envelope.client_id, &fingerprint) {
                if let Some(receipt) = find_client_id(&tx, client_id, fingerprint).map_err(wrap)? {
                    receipts.push(receipt);
                    continue;
                }
            }
            if reads_drawn_lot(&envelope.command, &tx.deferred.draws) {
                // A command that reads a lot sees every earlier draw of the batch on it.
                flush_draws(&mut tx)
                    .await
                    .map_err(|e| batch_error(envelopes, &draw_index, e))?;
            }
            if matches!(
                envelope.command,
                Command::ReleaseLot { .. }
                    | Command::ReleaseLots { .. }
                    | Command::OrderAction {
                        action: crate::model::OrderAction::Complete,
                        ..
                    }
            ) {
                // The release guard reads the genealogy (a drum's heat) and completion the
                // order's inputs and outputs: this batch's edges must be written first.
                tx.flush_step_lots().await.map_err(wrap)?;
            }
            let event = decide(&mut tx, session, &envelope.command, &recorded_at)
                .await
                .map_err(wrap)?;
            let seq = tx.record(
                &event,
                &session.user,
                envelope.client_id.as_deref(),
                envelope.reason.as_deref(),
                &recorded_at,
            )?;
            if let (Some(client_id), Some(fingerprint)) = (&envelope.client_id, fingerprint) {
                tx.client_fingerprints
                    .insert(client_id.clone(), (fingerprint, seq));
            }
            match apply(&mut tx.tx, &mut tx.deferred, &event, seq).await {
                Ok(()) => {}
                Err(MesError::DrawRefused { lot, requested_kg }) => {
                    return Err(wrap(explain_draw(&mut tx, &lot, requested_kg).await));
                }
                Err(e) => return Err(wrap(e)),
            }
            if let Event::MaterialConsumed { lot, .. } = &event {
                draw_index.insert(lot.clone(), index);
            }
            crate::projection::remember(&mut tx, &event);
            receipts.push(Receipt {
                seq,
                event: event.kind().to_string(),
                duplicate: false,
            });
        }
        flush_draws(&mut tx)
            .await
            .map_err(|e| batch_error(envelopes, &draw_index, e))?;
        tx.commit().await?;
        Ok(receipts)
    }

    /// A lot.
    pub async fn lot(&self, id: &str) -> Result<MaterialLot> {
        find_lot(self.db.pool(), id)
            .await?
            .ok_or_else(|| MesError::not_found("lot", id))
    }

    /// Lots, newest first, optionally of one material definition.
    pub async fn lots(&self, definition: Option<&str>, limit: i64) -> Result<Vec<MaterialLot>> {
        let rows = match definition {
            Some(d) => sqlx::query(
                "SELECT * FROM lots WHERE definition = $1 ORDER BY created_at DESC, id LIMIT $2",
            )
            .bind(d.to_string())
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?,
            None => {
                sqlx::query("SELECT * FROM lots ORDER BY created_at DESC, id LIMIT $1")
                    .bind(limit)
                    .fetch_all(self.db.pool())
                    .await?
            }
        };
        rows.iter().map(lot_from_row).collect()
    }

    /// An order.
    pub async fn order(&self, id: &str) -> Result<JobOrder> {
        find_order(self.db.pool(), id)
            .await?
            .ok_or_else(|| MesError::not_found("order", id))
    }

    /// Orders, by priority then age.
    pub async fn orders(&self) -> Result<Vec<JobOrder>> {
        let rows = sqlx::query("SELECT * FROM orders ORDER BY priority DESC, created_at, id")
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(order_from_row).collect()
    }

    /// The audit trail of one record (`lot:L1`, `order:O1`, `user:qa1`, `equipment:vim-01`).
    pub async fn audit_trail(&self, subject: &str) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query(
            "SELECT e.* FROM event_subjects s JOIN events e ON e.seq = s.seq \
             WHERE s.subject = $1 ORDER BY e.seq",
        )
        .bind(subject.to_string())
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| event_record(r).map(EventRecord::redacted))
            .collect()
    }

    /// Everything a user did, in order.
    pub async fn audit_trail_of_user(&self, user: &str) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query("SELECT * FROM events WHERE actor = $1 ORDER BY seq")
            .bind(user.to_string())
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| event_record(r).map(EventRecord::redacted))
            .collect()
    }

    /// The audit trail searched: events touching `subject` (`lot:H-1`), recorded by `user`,
    /// recorded in `[from, to)` (RFC 3339), any combination; oldest first, at most `limit`.
    pub async fn audit_search(
        &self,
        subject: Option<&str>,
        user: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        limit: i64,
    ) -> Result<Vec<EventRecord>> {
        let from = from
            .map(|t| crate::model::parse_timestamp("from", t))
            .transpose()?;
        let to = to
            .map(|t| crate::model::parse_timestamp("to", t))
            .transpose()?;
        if let Some(s) = subject {
            crate::bounds::check_text("subject", s, 300, false)?;
        }
        if let Some(u) = user {
            crate::model::check_id("user", u)?;
        }
        // Fixed SQL with optional filters (a NULL parameter switches its filter off).
        let sql = if subject.is_some() {
            "SELECT e.* FROM event_subjects s JOIN events e ON e.seq = s.seq WHERE s.subject = $1 \
             AND ($2 IS NULL OR e.actor = $2) AND ($3 IS NULL OR e.recorded_at >= $3) \
             AND ($4 IS NULL OR e.recorded_at < $4) ORDER BY e.seq LIMIT $5"
        } else {
            "SELECT e.* FROM events e WHERE ($1 IS NULL OR $1 = '') \
             AND ($2 IS NULL OR e.actor = $2) AND ($3 IS NULL OR e.recorded_at >= $3) \
             AND ($4 IS NULL OR e.recorded_at < $4) ORDER BY e.seq LIMIT $5"
        };
        let rows = sqlx::query(sql)
            .bind(subject.unwrap_or("").to_string())
            .bind(user.map(str::to_string))
            .bind(from)
            .bind(to)
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter()
            .map(|r| event_record(r).map(EventRecord::redacted))
            .collect()
    }

    /// Events after `after_seq`, at most `limit`.
    pub async fn events_after(&self, after_seq: i64, limit: i64) -> Result<Vec<EventRecord>> {
        let rows = sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(self.db.pool())
            .await?;
        rows.iter().map(event_record).collect()
    }

    /// Clears the projection tables and replays every event into them.
    pub async fn rebuild_projections(&self) -> Result<i64> {
        let mut tx = self.db.begin_write().await?;
        for table in PROJECTION_TABLES {
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&mut *tx.tx)
                .await?;
        }
        let mut after = 0;
        loop {
            let rows = sqlx::query("SELECT * FROM events WHERE seq > $1 ORDER BY seq LIMIT 5000")
                .bind(after)
                .fetch_all(&mut *tx.tx)
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let record = event_record(row)?;
                let event: Event = serde_json::from_str(&record.payload).map_err(|e| {
                    MesError::Corrupt(format!("event {} cannot be read: {e}", record.seq))
                })?;
                apply(&mut tx.tx, &mut tx.deferred, &event, record.seq).await?;
                // Replay keeps the recorded order of draws exactly.
                flush_draws(&mut tx).await?;
                tx.deferred.compositions.clear();
                after = record.seq;
            }
            tx.flush_step_lots().await?;
        }
        tx.commit().await?;
        Ok(after)
    }

    /// Closes the database.
    pub async fn close(&self) {
        self.db.close().await;
    }
}
