//! The storage seam: one SQL text for both databases through sqlx's `Any` driver, with the few
//! differences (schema DDL, connection pragmas, database creation) behind [`Backend`].
//!
//! Writes happen in [`WriteTx`]: the chain head row is locked first (which also serialises
//! writers on both databases), events are hashed in order and inserted in multi-row batches
//! together with the projection updates, and the whole batch commits or nothing does.

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{Any, AnyPool, Executor, Row, Transaction};

use crate::error::{MesError, Result};
use crate::event::{Event, EventRecord};
use crate::model::Timestamp;

/// The database engines Lodestone runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file in WAL mode (the default).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

impl Backend {
    /// Which backend a database URL names; a bare path means SQLite.
    pub fn of_url(url: &str) -> Backend {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// The schema migrations of this backend, embedded in the binary (same versions and
    /// meaning on both backends; only the DDL dialect differs).
    fn migrator(self) -> sqlx::migrate::Migrator {
        use sqlx::migrate::{Migration, MigrationType, Migrator};
        // Only the event log's DDL differs between dialects (migrations/{sqlite,postgres});
        // everything else is shared (migrations/common). Each migration's text is the
        // concatenation below, byte for byte what earlier versions applied, so recorded
        // checksums still match (the event files keep their original header comment).
        macro_rules! scripts {
            ($dir:literal) => {
                &[
                    (
                        1,
                        "core",
                        concat!(
                            include_str!(concat!("../migrations/", $dir, "/0001_core_events.sql")),
                            include_str!("../migrations/common/0001_core_projections.sql")
                        ),
                    ),
                    (
                        2,
                        "quality",
                        include_str!("../migrations/common/0002_quality.sql"),
                    ),
                    (
                        3,
                        "process segments",
                        include_str!("../migrations/common/0003_process_segments.sql"),
                    ),
                    (
                        4,
                        "time indexes",
                        include_str!("../migrations/common/0004_time_indexes.sql"),
                    ),
                    (
                        5,
                        "receipt policy",
                        include_str!("../migrations/common/0005_receipt_policy.sql"),
                    ),
                    (
                        6,
                        "credentials",
                        include_str!("../migrations/common/0006_credentials.sql"),
                    ),
                    (
                        7,
                        "client commands",
                        include_str!("../migrations/common/0007_client_commands.sql"),
                    ),
                    (
                        8,
                        "sessions",
                        include_str!("../migrations/common/0008_sessions.sql"),
                    ),
                ]
            };
        }
        let scripts: &[(i64, &str, &'static str)] = match self {
            Backend::Sqlite => scripts!("sqlite"),
            Backend::Postgres => scripts!("postgres"),
        };
        Migrator::with_migrations(
            scripts
                .iter()
                .map(|&(version, description, sql)| {
                    Migration::new(
                        version,
                        description.into(),
                        MigrationType::Simple,
                        sqlx::SqlSafeStr::into_sql_str(sql),
                        false,
                    )
                })
                .collect(),
        )
    }
}

/// Turns `plant.db`, `sqlite:plant.db` or `sqlite://plant.db` into a sqlx URL; `create` allows a
/// new file, otherwise a missing file is an error rather than a silently empty database.
fn sqlite_url(url: &str, create: bool) -> String {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mode = if create { "rwc" } else { "rw" };
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("mode="))
        .collect();
    let mode_param = format!("mode={mode}");
    params.push(&mode_param);
    format!("sqlite://{path}?{}", params.join("&"))
}

/// A connection pool to the MES database.
#[derive(Debug, Clone)]
pub struct Db {
    pool: AnyPool,
    backend: Backend,
}

impl Db {
    /// Opens (and with `create`, creates) the database at `url` and brings its schema up to
    /// date.
    pub async fn open(url: &str, create: bool) -> Result<Db> {
        sqlx::any::install_default_drivers();
        let backend = Backend::of_url(url);
        let pool = match backend {
            Backend::Sqlite => {
                let path = sqlite_url(url, create);
                AnyPoolOptions::new()
                    .max_connections(4)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // FULL: a committed batch survives power loss, not only a killed
                            // process. Foreign keys are not used; integrity is checked by
                            // the command handlers. A page cache of up to 256 MB (allocated
                            // as used) keeps the genealogy and subject indexes of a large
                            // database in memory, and checkpointing the WAL every 64 MB
                            // rather than every 4 MB halves the writes of a big ingest: a
                            // twin year records 16 % faster (2026-12-05, 1.48 M events).
                            conn.execute("PRAGMA busy_timeout = 30000; PRAGMA synchronous = FULL; PRAGMA cache_size = -262144; PRAGMA wal_autocheckpoint = 16384; PRAGMA temp_store = MEMORY;")
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(&path)
                    .await
                    .map_err(|e| open_error(url, e))?
            }
            Backend::Postgres => AnyPoolOptions::new()
                .max_connections(8)
                .connect(url)
                .await
                .map_err(|e| open_error(url, e))?,
        };
        if backend == Backend::Sqlite {
            pool.execute("PRAGMA journal_mode = WAL").await?;
        }
        backend.migrator().run(&pool).await?;
        Ok(Db { pool, backend })
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for read queries.
    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Starts a write transaction: locks the chain head and remembers where the chain ends.
    pub async fn begin_write(&self) -> Result<WriteTx<'static>> {
        let mut tx = self.pool.begin().await?;
        // A no-op UPDATE takes SQLite's write lock at once (no deferred-upgrade deadlock) and
        // PostgreSQL's row lock, so concurrent writers queue here in both databases.
        let row = sqlx::query("UPDATE chain_head SET seq = seq WHERE id = 1 RETURNING seq, hash")
            .fetch_one(&mut *tx)
            .await?;
        let head_seq: i64 = row.try_get("seq")?;
        let head_hash: String = row.try_get("hash")?;
        Ok(WriteTx {
            tx,
            orders: Default::default(),
            backend: self.backend,
            pending_client_ids: Default::default(),
            known: Default::default(),
            deferred: Default::default(),
            new_lots: Default::default(),
            work_masters: Default::default(),
            latest_results: Default::default(),
            stored_client_ids: Default::default(),
            client_fingerprints: Default::default(),
            credentials: Vec::new(),
            head_seq,
            head_hash,
            pending: Vec::new(),
        })
    }

    /// Closes the pool, waiting for connections to finish.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn open_error(url: &str, error: sqlx::Error) -> MesError {
    let shown = match url.find('@') {
        // Do not print a password that may be in the URL.
        Some(at) if url.starts_with("postgres") => format!("postgres://…{}", &url[at..]),
        _ => url.to_string(),
    };
    MesError::File(format!("cannot open the MES database '{shown}': {error}"))
}

/// An open write transaction with its pending events.
pub struct WriteTx<'c> {
    /// The SQL transaction; projection updates run on it directly.
    pub tx: Transaction<'c, Any>,
    /// Orders read in this transaction (dropped when an event changes them), so a batch of
    /// production records reads its order once.
    pub orders: std::collections::HashMap<String, crate::model::JobOrder>,
    /// The database engine (placeholder style).
    pub backend: Backend,
    /// Client ids recorded in this batch → seq.
    pending_client_ids: std::collections::HashMap<String, i64>,
    /// Records known to exist (`table`, id), checked once per batch: master data and lots are
    /// never deleted, so a positive answer stays true.
    pub known: std::collections::HashSet<(&'static str, String)>,
    /// Latest work-master versions read in this batch: id → (version, product).
    pub work_masters: std::collections::HashMap<String, (i64, String)>,
    /// Lots created in this batch (no stored history).
    pub new_lots: std::collections::HashSet<String>,
    /// Results recorded in this batch: (lot, property) → value.
    pub latest_results: std::collections::HashMap<(String, String), f64>,
    /// Writes deferred to the end of the batch.
    pub deferred: crate::projection::Deferred,
    /// Client ids of the batch already stored: id → (seq, event kind, fingerprint of the
    /// command first sent with it, when recorded).
    pub stored_client_ids: std::collections::HashMap<String, (i64, String, Option<String>)>,
    /// Fingerprints of the commands sent with this batch's new client ids, written at commit.
    pub client_fingerprints: std::collections::HashMap<String, (String, i64)>,
    /// Passwords set in this batch (user, argon2 hash, must change at next login), written at
    /// commit to the credentials table, outside the chain.
    pub credentials: Vec<(String, String, bool)>,
    head_seq: i64,
    head_hash: String,
    pending: Vec<(EventRecord, Vec<String>)>,
}

/// Rows per multi-row INSERT: well under both databases' bound-parameter limits.
const INSERT_CHUNK_ROWS: usize = 100;

impl WriteTx<'_> {
    /// Records `event`, chained to the previous one; returns its sequence number. The row is
    /// written at [`WriteTx::commit`].
    pub fn record(
        &mut self,
        event: &Event,
        actor: &str,
        client_id: Option<&str>,
        reason: Option<&str>,
        recorded_at: &Timestamp,
    ) -> Result<i64> {
        let payload = serde_json::to_string(event)
            .map_err(|e| MesError::Corrupt(format!("cannot serialise event: {e}")))?;
        let mut record = EventRecord {
            seq: self.head_seq + 1,
            client_id: client_id.map(str::to_string),
            recorded_at: recorded_at.clone(),
            actor: actor.to_string(),
            kind: event.kind().to_string(),
            reason: reason.map(str::to_string),
            payload,
            prev_hash: self.head_hash.clone(),
            hash: String::new(),
        };
        record.hash = record.compute_hash();
        self.head_seq = record.seq;
        if let Some(id) = client_id {
            self.pending_client_ids.insert(id.to_string(), record.seq);
        }
        self.head_hash = record.hash.clone();
        self.pending.push((record, event.subjects()));
        Ok(self.head_seq)
    }

    /// Writes the buffered genealogy edges (multi-row inserts).
    pub async fn flush_step_lots(&mut self) -> Result<()> {
        let rows = std::mem::take(&mut self.deferred.step_lots);
        write_step_lots(&mut self.tx, self.backend, &rows).await
    }

    /// Writes the pending events and the new chain head, and commits everything.
    pub async fn commit(mut self) -> Result<()> {
        for chunk in self.pending.chunks(INSERT_CHUNK_ROWS) {
            let mut sql = String::from(
                "INSERT INTO events (seq, client_id, recorded_at, actor, kind, reason, payload, prev_hash, hash) VALUES ",
            );
            push_placeholders(self.backend, &mut sql, chunk.len(), 9);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (r, _) in chunk {
                query = query
                    .bind(r.seq)
                    .bind(r.client_id.clone())
                    .bind(r.recorded_at.clone())
                    .bind(r.actor.clone())
                    .bind(r.kind.clone())
                    .bind(r.reason.clone())
                    .bind(r.payload.clone())
                    .bind(r.prev_hash.clone())
                    .bind(r.hash.clone());
            }
            query.execute(&mut *self.tx).await?;
        }
        let subjects: Vec<(i64, &String)> = self
            .pending
            .iter()
            .flat_map(|(r, subjects)| {
                let mut unique: Vec<&String> = subjects.iter().collect();
                unique.sort();
                unique.dedup();
                unique.into_iter().map(move |s| (r.seq, s))
            })
            .collect();
        for chunk in subjects.chunks(INSERT_CHUNK_ROWS * 4) {
            let mut sql = String::from("INSERT INTO event_subjects (subject, seq) VALUES ");
            push_placeholders(self.backend, &mut sql, chunk.len(), 2);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
            for (seq, subject) in chunk {
                query = query.bind((*subject).clone()).bind(*seq);
            }
            query.execute(&mut *self.tx).await?;
        }
        self.flush_step_lots().await?;
        for (client_id, (fingerprint, seq)) in std::mem::take(&mut self.client_fingerprints) {
            sqlx::query(
                "INSERT INTO client_commands (client_id, command_sha256, seq) VALUES ($1, $2, $3)",
            )
            .bind(client_id)
            .bind(fingerprint)
            .bind(seq)
            .execute(&mut *self.tx)
            .await?;
        }
        for (user, hash, must_change) in std::mem::take(&mut self.credentials) {
            sqlx::query(
                "INSERT INTO credentials (user_id, password_hash, must_change, changed_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET \
                 password_hash = excluded.password_hash, must_change = excluded.must_change, \
                 changed_at = excluded.changed_at",
            )
            .bind(user)
            .bind(hash)
            .bind(must_change as i64)
            .bind(crate::model::now())
            .execute(&mut *self.tx)
            .await?;
        }
        if !self.pending.is_empty() {
            sqlx::query("UPDATE chain_head SET seq = $1, hash = $2 WHERE id = 1")
                .bind(self.head_seq)
                .bind(self.head_hash.clone())
                .execute(&mut *self.tx)
                .await?;
        }
        self.tx.commit().await?;
        Ok(())
    }

    /// The sequence number the next recorded event will get.
    pub fn next_seq(&self) -> i64 {
        self.head_seq + 1
    }

    /// The seq a pending event with this client id got earlier in the same batch.
    pub fn pending_client_seq(&self, client_id: &str) -> Option<i64> {
        self.pending_client_ids.get(client_id).copied()
    }

    /// The hash of the latest event (pending or stored) touching each subject, in one query per
    /// 500 subjects (bulk signatures).
    pub async fn last_hashes_of(
        &mut self,
        subjects: &[String],
    ) -> Result<std::collections::HashMap<String, String>> {
        let mut found = std::collections::HashMap::new();
        let wanted: std::collections::HashSet<&String> = subjects.iter().collect();
        for (r, subs) in self.pending.iter().rev() {
            for s in subs {
                if wanted.contains(s) && !found.contains_key(s) {
                    found.insert(s.clone(), r.hash.clone());
                }
            }
        }
        let missing: Vec<&String> = subjects
            .iter()
            .filter(|s| !found.contains_key(*s))
            .collect();
        for chunk in missing.chunks(500) {
            let mut sql = String::from(
                "SELECT s.subject AS subject, e.hash AS hash FROM event_subjects s \
                 JOIN events e ON e.seq = s.seq WHERE s.seq = \
                 (SELECT MAX(s2.seq) FROM event_subjects s2 WHERE s2.subject = s.subject) \
                 AND s.subject IN ",
            );
            push_placeholders(self.backend, &mut sql, 1, chunk.len());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for s in chunk {
                query = query.bind((*s).clone());
            }
            for row in query.fetch_all(&mut *self.tx).await? {
                found.insert(row.try_get("subject")?, row.try_get("hash")?);
            }
        }
        Ok(found)
    }

    /// The hash of the latest event (pending or stored) touching `subject`.
    pub async fn last_hash_of(&mut self, subject: &str) -> Result<Option<String>> {
        if let Some((r, _)) = self
            .pending
            .iter()
            .rev()
            .find(|(_, subjects)| subjects.iter().any(|s| s == subject))
        {
            return Ok(Some(r.hash.clone()));
        }
        let row = sqlx::query(
            "SELECT e.hash FROM event_subjects s JOIN events e ON e.seq = s.seq \
             WHERE s.subject = $1 ORDER BY s.seq DESC LIMIT 1",
        )
        .bind(subject.to_string())
        .fetch_optional(&mut *self.tx)
        .await?;
        Ok(match row {
            Some(row) => Some(row.try_get("hash")?),
            None => None,
        })
    }
}

/// Inserts genealogy edges in multi-row inserts. `Backend::Postgres` placeholders work on
/// SQLite too (slower there for wide inserts), for callers that do not know the backend.
pub async fn write_step_lots(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
    rows: &[crate::projection::StepLotRow],
) -> Result<()> {
    for chunk in rows.chunks(INSERT_CHUNK_ROWS) {
        let mut sql = String::from(
            "INSERT INTO step_lots (step, lot, direction, material_use, quantity_kg, at, seq) VALUES ",
        );
        push_placeholders(backend, &mut sql, chunk.len(), 7);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
        for r in chunk {
            query = query
                .bind(r.step.clone())
                .bind(r.lot.clone())
                .bind(r.direction)
                .bind(r.material_use.as_str())
                .bind(r.quantity_kg)
                .bind(r.at.clone())
                .bind(r.seq);
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Appends `(?, ?, ...), (...)` (SQLite) or `($1, $2, ...), (...)` (PostgreSQL) for `rows` rows
/// of `columns` parameters. SQLite resolves `$N` by name with a linear scan, which makes a
/// 900-parameter insert 8× slower than with anonymous `?`; PostgreSQL only takes `$N`.
pub fn push_placeholders(backend: Backend, sql: &mut String, rows: usize, columns: usize) {
    use std::fmt::Write;
    let mut n = 1;
    for r in 0..rows {
        if r > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            match backend {
                Backend::Sqlite => sql.push('?'),
                Backend::Postgres => {
                    let _ = write!(sql, "${n}");
                }
            }
            n += 1;
        }
        sql.push(')');
    }
}

/// Reads an event row.
pub fn event_record(row: &AnyRow) -> Result<EventRecord> {
    Ok(EventRecord {
        seq: row.try_get("seq")?,
        client_id: row.try_get("client_id")?,
        recorded_at: row.try_get("recorded_at")?,
        actor: row.try_get("actor")?,
        kind: row.try_get("kind")?,
        reason: row.try_get("reason")?,
        payload: row.try_get("payload")?,
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

/// Parses a stored enum text, reporting corruption (not user error) on failure.
pub fn stored<T>(parse: impl Fn(&str, &str) -> Result<T>, column: &str, text: &str) -> Result<T> {
    parse(column, text).map_err(|_| {
        MesError::Corrupt(format!(
            "column {column} holds '{text}', which this version does not know"
        ))
    })
}

/// Ensures `url` names a usable PostgreSQL database for tests, creating `name` on the server.
/// Returns the URL of the new database.
pub async fn create_postgres_database(server_url: &str, name: &str) -> Result<String> {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(server_url)
        .await?;
    let drop = format!("DROP DATABASE IF EXISTS \"{name}\"");
    pool.execute(sqlx::AssertSqlSafe(drop.as_str())).await?;
    let create = format!("CREATE DATABASE \"{name}\"");
    pool.execute(sqlx::AssertSqlSafe(create.as_str())).await?;
    pool.close().await;
    let base = match server_url.rfind('/') {
        Some(slash) if slash > "postgres://".len() => &server_url[..slash],
        _ => server_url,
    };
    Ok(format!("{base}/{name}"))
}
