//! The audit chain against an owner of the database: signed checkpoints kept outside it, checks
//! the hash chain alone cannot make, and a deep check of the projections against a replay.
//!
//! The hash chain proves that the stored events link up; whoever can write the database files
//! can also delete its tail, append correctly hashed events or re-hash everything after an edit.
//! A [`Checkpoint`] — the head's seq and hash, the event count and the time, with an
//! HMAC-SHA-256 under a key the database does not hold — is appended to a file kept elsewhere;
//! [`Mes::verify_checkpoints`] then finds any rewrite of the chain up to the last checkpoint.
//! Events appended after the last checkpoint cannot be told from genuine ones until the next
//! checkpoint is taken (so take them often).
//!
//! Why HMAC and not a signature: the verifier needs the key anyway (it is the same party,
//! the plant's quality/IT function), `hmac` + `sha2` are already in the build, and a key file
//! is simpler to keep off the database host than a key pair. A third party who must verify
//! without being able to sign would need Ed25519; the checkpoint line carries a version tag so
//! that can be added.

use std::io::Write;
use std::path::Path;

use futures_util::TryStreamExt;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sqlx::{Column, Row};

use crate::db::{event_record, push_placeholders, Backend};
use crate::error::{MesError, Result};
use crate::event::{Event, EventRecord, GENESIS_HASH};
use crate::service::{ChainReport, Mes, PROJECTION_TABLES};

type HmacSha256 = Hmac<sha2::Sha256>;

/// Shortest accepted key: 256 bits, the HMAC-SHA-256 block strength.
const KEY_MIN_BYTES: usize = 32;

/// Tag of the signed text; a new format gets a new tag.
const CHECKPOINT_VERSION: &str = "lodestone-checkpoint-v1";

/// Events read per query while hashing.
const PAGE_EVENTS: i64 = 5000;

/// The secret that signs checkpoints. Keep it off the database host: whoever holds the
/// database and the key can forge checkpoints.
#[derive(Clone)]
pub struct CheckpointKey(Vec<u8>);

impl std::fmt::Debug for CheckpointKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckpointKey(…)")
    }
}

impl CheckpointKey {
    /// A key from its bytes (at least 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<CheckpointKey> {
        if bytes.len() < KEY_MIN_BYTES {
            return Err(MesError::invalid(
                "checkpoint key",
                format!("{} bytes", bytes.len()),
                "at least 32 bytes of secret (`lodestone mes audit keygen --out FILE` writes one)",
            ));
        }
        Ok(CheckpointKey(bytes.to_vec()))
    }

    /// Reads a key file: its bytes, without trailing whitespace (so an editor's newline does
    /// not change the key).
    pub fn from_file(path: &Path) -> Result<CheckpointKey> {
        let bytes = std::fs::read(path).map_err(|e| {
            MesError::File(format!(
                "cannot read the checkpoint key file {}: {e}",
                path.display()
            ))
        })?;
        let end = bytes
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        CheckpointKey::from_bytes(&bytes[..end]).map_err(|_| {
            MesError::invalid(
                "checkpoint key file",
                format!("{} ({end} bytes)", path.display()),
                "at least 32 bytes of secret (`lodestone mes audit keygen --out FILE` writes one)",
            )
        })
    }

    /// Writes a new random key (32 bytes from the operating system, as 64 hex digits) to a
    /// file that must not exist yet, readable by its owner only.
    pub fn generate_file(path: &Path) -> Result<CheckpointKey> {
        let mut secret = [0u8; KEY_MIN_BYTES];
        getrandom::fill(&mut secret)
            .map_err(|e| MesError::File(format!("no random source for a key: {e}")))?;
        let text = hex(&secret);
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            MesError::File(format!(
                "cannot create the key file {} (an existing key is never overwritten): {e}",
                path.display()
            ))
        })?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.write_all(b"\n"))
            .and_then(|()| file.sync_all())
            .map_err(|e| MesError::File(format!("cannot write {}: {e}", path.display())))?;
        CheckpointKey::from_bytes(text.as_bytes())
    }

    fn mac(&self) -> HmacSha256 {
        // HMAC takes keys of any length; ours is at least 32 bytes.
        <HmacSha256 as KeyInit>::new_from_slice(&self.0).expect("HMAC accepts any key length")
    }
}

/// A signed statement of where the chain stood: event `seq` had hash `hash`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Checkpoint {
    /// Sequence number of the head event.
    pub seq: i64,
    /// Hash of the head event.
    pub hash: String,
    /// Events in the chain (equal to `seq`: the chain starts at 1 without gaps).
    pub events: i64,
    /// When the checkpoint was taken (UTC, RFC 3339).
    pub at: String,
    /// HMAC-SHA-256 of the fields above, in hex.
    pub mac: String,
}

impl Checkpoint {
    fn signed_text(seq: i64, hash: &str, events: i64, at: &str) -> String {
        format!("{CHECKPOINT_VERSION}\n{seq}\n{hash}\n{events}\n{at}")
    }

    /// Signs the head `seq`/`hash` at time `at`.
    pub fn sign(key: &CheckpointKey, seq: i64, hash: &str, at: &str) -> Checkpoint {
        let mut mac = key.mac();
        mac.update(Self::signed_text(seq, hash, seq, at).as_bytes());
        Checkpoint {
            seq,
            hash: hash.to_string(),
            events: seq,
            at: at.to_string(),
            mac: hex(&mac.finalize().into_bytes()),
        }
    }

    /// Whether the MAC matches under `key` (compared in constant time).
    pub fn signature_holds(&self, key: &CheckpointKey) -> bool {
        let Some(tag) = unhex(&self.mac) else {
            return false;
        };
        let mut mac = key.mac();
        mac.update(Self::signed_text(self.seq, &self.hash, self.events, &self.at).as_bytes());
        mac.verify_slice(&tag).is_ok()
    }

    /// The checkpoint as one line of JSON (the checkpoint file's format and the log line's).
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a checkpoint serialises")
    }
}

/// Reads a checkpoint file: one JSON checkpoint per line; blank lines are skipped.
pub fn read_checkpoints(path: &Path) -> Result<Vec<Checkpoint>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        MesError::File(format!(
            "cannot read the checkpoint file {}: {e}",
            path.display()
        ))
    })?;
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| {
                MesError::invalid(
                    &format!("{} line {}", path.display(), i + 1),
                    truncated(line, 80),
                    &format!(
                        "a checkpoint line as written by `lodestone mes audit checkpoint` ({e})"
                    ),
                )
            })
        })
        .collect()
}

/// Appends a checkpoint line to `path` (created if missing) and flushes it to disk.
pub fn append_checkpoint(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| {
            MesError::File(format!(
                "cannot open the checkpoint file {}: {e}",
                path.display()
            ))
        })?;
    let line = format!("{}\n", checkpoint.to_line());
    file.write_all(line.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| MesError::File(format!("cannot write {}: {e}", path.display())))
}

/// What `verify` checked and found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditReport {
    /// Events in the chain (the head's seq).
    pub events: i64,
    /// Hash of the head event.
    pub head_hash: String,
    /// Events whose hash was recomputed by this check (all, or those after the checkpoint).
    pub hashed: i64,
    /// Checkpoints whose signature and event were checked.
    pub checkpoints: usize,
    /// The newest checkpoint checked: anything up to its seq is proven unchanged since it was
    /// signed; events after it are not covered by any checkpoint.
    pub last_checkpoint: Option<Checkpoint>,
}

/// One projection table compared with a replay of the events.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TableComparison {
    /// Table name.
    pub table: String,
    /// Rows in the database.
    pub rows: i64,
    /// Rows in the database that a replay does not produce (edited or inserted), up to 5.
    pub only_in_database: Vec<String>,
    /// Rows a replay produces that the database lacks (edited or deleted), up to 5.
    pub only_in_replay: Vec<String>,
    /// Differing rows in all (both directions).
    pub differences: i64,
}

/// The projections compared table by table with a replay of every event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProjectionReport {
    /// Events replayed.
    pub events: i64,
    /// One entry per table.
    pub tables: Vec<TableComparison>,
}

impl ProjectionReport {
    /// Whether every table equals the replay.
    pub fn consistent(&self) -> bool {
        self.tables.iter().all(|t| t.differences == 0)
    }
}

/// The chain head and the stored seq range, read in one statement (one snapshot on both
/// databases, so a concurrent writer cannot make rows appear past the head).
struct Bounds {
    head_seq: i64,
    head_hash: String,
    min_seq: i64,
    max_seq: i64,
}

impl Mes {
    async fn bounds(&self) -> Result<Bounds> {
        let row = sqlx::query(
            "SELECT h.seq AS seq, h.hash AS hash, \
             CAST((SELECT COALESCE(MIN(seq), 1) FROM events) AS BIGINT) AS min_seq, \
             CAST((SELECT COALESCE(MAX(seq), 0) FROM events) AS BIGINT) AS max_seq \
             FROM chain_head h WHERE h.id = 1",
        )
        .fetch_optional(self.db().pool())
        .await?;
        let Some(row) = row else {
            return Err(MesError::ChainBroken {
                seq: 0,
                reason: "the chain head row is missing (deleted outside Lodestone)".into(),
            });
        };
        let bounds = Bounds {
            head_seq: row.try_get("seq")?,
            head_hash: row.try_get("hash")?,
            min_seq: row.try_get("min_seq")?,
            max_seq: row.try_get("max_seq")?,
        };
        if bounds.min_seq < 1 {
            return Err(MesError::ChainBroken {
                seq: bounds.min_seq,
                reason:
                    "an event with a sequence number below 1 is stored (inserted outside Lodestone)"
                        .into(),
            });
        }
        if bounds.max_seq > bounds.head_seq {
            // Left unreported, such a row makes every later write fail on its seq.
            return Err(MesError::ChainBroken {
                seq: bounds.max_seq,
                reason: format!(
                    "event {} is stored past the chain head (event {}): rows were written without \
                     moving the head, or the head was moved back; no command can be recorded \
                     until this is resolved",
                    bounds.max_seq, bounds.head_seq
                ),
            });
        }
        Ok(bounds)
    }

    /// Hashes events `from_seq ..= head_seq` in order, starting from `prev_hash`; returns the
    /// last hash.
    async fn walk(&self, from_seq: i64, mut prev_hash: String, head_seq: i64) -> Result<String> {
        let mut expected_seq = from_seq;
        while expected_seq <= head_seq {
            let page = self
                .events_after(
                    expected_seq - 1,
                    PAGE_EVENTS.min(head_seq - expected_seq + 1),
                )
                .await?;
            if page.is_empty() {
                break;
            }
            for record in page {
                if record.seq != expected_seq {
                    return Err(MesError::ChainBroken {
                        seq: expected_seq,
                        reason: format!(
                            "event {expected_seq} is missing (next stored is {})",
                            record.seq
                        ),
                    });
                }
                check_record(&record, &prev_hash)?;
                prev_hash = record.hash;
                expected_seq += 1;
            }
        }
        if expected_seq <= head_seq {
            return Err(MesError::ChainBroken {
                seq: expected_seq,
                reason: format!(
                    "the chain head says {head_seq} events but only {} are stored (events removed from the end?)",
                    expected_seq - 1
                ),
            });
        }
        Ok(prev_hash)
    }

    /// Recomputes every event's hash and link; the first mismatch is an error naming the
    /// event. Also checks that the head names the last stored event and that no row lies past
    /// it. A rewrite of the whole chain (tail deleted, events appended or re-hashed by the
    /// database's owner) still verifies: [`Mes::verify_checkpoints`] is what finds those.
    pub async fn verify_chain(&self) -> Result<ChainReport> {
        self.verify_chain_after(None).await
    }

    /// Like [`Mes::verify_chain`], but hashes only the events after `checkpoint` (routine use
    /// on a large chain), after checking that the checkpointed event is still stored with its
    /// hash, that its hash matches its contents and its link to the event before it. Edits
    /// before the checkpoint that do not re-hash up to it are left to a full check.
    pub async fn verify_chain_after(&self, checkpoint: Option<&Checkpoint>) -> Result<ChainReport> {
        // The head first: a batch writes its events and moves the head in one transaction, so
        // every event up to the head read here is stored, while events a writer adds during
        // the check (beyond it) are left for the next check.
        let bounds = self.bounds().await?;
        let (from_seq, prev_hash) = match checkpoint {
            None => (1, GENESIS_HASH.to_string()),
            Some(cp) => {
                let anchor = self.checked_anchor(cp, bounds.head_seq).await?;
                (cp.seq + 1, anchor)
            }
        };
        let last_hash = self.walk(from_seq, prev_hash, bounds.head_seq).await?;
        if bounds.head_hash != last_hash {
            return Err(MesError::ChainBroken {
                seq: bounds.head_seq,
                reason: "the chain head's hash is not the last event's (head moved back or edited)"
                    .into(),
            });
        }
        Ok(ChainReport {
            events: bounds.head_seq,
            head_hash: last_hash,
        })
    }

    /// Checks the checkpointed event and its link; returns its hash.
    async fn checked_anchor(&self, cp: &Checkpoint, head_seq: i64) -> Result<String> {
        if head_seq < cp.seq {
            return Err(MesError::ChainBroken {
                seq: cp.seq,
                reason: format!(
                    "the chain head is at event {head_seq}, before the checkpoint of {} at event {} \
                     (events removed from the end, or the database truncated)",
                    cp.at, cp.seq
                ),
            });
        }
        if cp.seq == 0 {
            return Ok(GENESIS_HASH.to_string());
        }
        let rows = sqlx::query("SELECT * FROM events WHERE seq IN ($1, $2) ORDER BY seq")
            .bind(cp.seq - 1)
            .bind(cp.seq)
            .fetch_all(self.db().pool())
            .await?;
        let records: Vec<EventRecord> = rows.iter().map(event_record).collect::<Result<_>>()?;
        let record = records.iter().find(|r| r.seq == cp.seq);
        let previous = match cp.seq {
            1 => Some(GENESIS_HASH.to_string()),
            _ => records
                .iter()
                .find(|r| r.seq == cp.seq - 1)
                .map(|r| r.hash.clone()),
        };
        let (Some(record), Some(previous)) = (record, previous) else {
            return Err(MesError::ChainBroken {
                seq: cp.seq,
                reason: format!(
                    "the checkpoint of {} signed event {}, which is no longer stored (or the one \
                     before it is missing)",
                    cp.at, cp.seq
                ),
            });
        };
        anchor_matches(record, cp)?;
        check_record(record, &previous)?;
        Ok(record.hash.clone())
    }

    /// Checks every checkpoint's signature under `key` and that the database still holds each
    /// checkpointed event with the signed hash and its head at or past it. Finds truncation,
    /// tail deletion, forged appends and re-hashing up to the last checkpoint; says nothing of
    /// events after it.
    pub async fn verify_checkpoints(
        &self,
        checkpoints: &[Checkpoint],
        key: &CheckpointKey,
    ) -> Result<()> {
        for (i, cp) in checkpoints.iter().enumerate() {
            if !cp.signature_holds(key) {
                return Err(MesError::invalid(
                    &format!("checkpoint {} (of {}, event {})", i + 1, cp.at, cp.seq),
                    &cp.mac,
                    "a signature made with this key: the checkpoint was altered, or the key is not the one that signed it",
                ));
            }
        }
        let bounds = self.bounds().await?;
        let Some(newest) = checkpoints.iter().max_by_key(|cp| cp.seq) else {
            return Ok(());
        };
        if bounds.head_seq < newest.seq {
            return Err(MesError::ChainBroken {
                seq: newest.seq,
                reason: format!(
                    "the chain head is at event {}, before the checkpoint of {} at event {} \
                     (events removed from the end, or the database truncated)",
                    bounds.head_seq, newest.at, newest.seq
                ),
            });
        }
        let wanted: Vec<&Checkpoint> = checkpoints.iter().filter(|cp| cp.seq > 0).collect();
        for chunk in wanted.chunks(500) {
            let mut sql = String::from("SELECT seq, hash FROM events WHERE seq IN ");
            push_placeholders(self.db().backend(), &mut sql, 1, chunk.len());
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for cp in chunk {
                query = query.bind(cp.seq);
            }
            let mut stored = std::collections::HashMap::new();
            for row in query.fetch_all(self.db().pool()).await? {
                stored.insert(
                    row.try_get::<i64, _>("seq")?,
                    row.try_get::<String, _>("hash")?,
                );
            }
            for cp in chunk {
                match stored.get(&cp.seq) {
                    None => {
                        return Err(MesError::ChainBroken {
                            seq: cp.seq,
                            reason: format!(
                                "the checkpoint of {} signed event {}, which is no longer stored",
                                cp.at, cp.seq
                            ),
                        })
                    }
                    Some(hash) if *hash != cp.hash => {
                        return Err(MesError::ChainBroken {
                            seq: cp.seq,
                            reason: format!(
                                "event {} does not have the hash the checkpoint of {} signed: \
                                 the chain was rewritten up to here (events replaced, or edited and re-hashed)",
                                cp.seq, cp.at
                            ),
                        })
                    }
                    Some(_) => {}
                }
            }
        }
        Ok(())
    }

    /// The routine check: every checkpoint (signatures, events, head), then the chain — all
    /// of it, or with `from_checkpoint` only the events after the newest checkpoint.
    pub async fn audit(
        &self,
        checkpoints: &[Checkpoint],
        key: Option<&CheckpointKey>,
        from_checkpoint: bool,
    ) -> Result<AuditReport> {
        if let Some(key) = key {
            self.verify_checkpoints(checkpoints, key).await?;
        }
        let last = match key {
            Some(_) => checkpoints.iter().max_by_key(|cp| cp.seq).cloned(),
            None => None,
        };
        let start = if from_checkpoint { last.as_ref() } else { None };
        let report = self.verify_chain_after(start).await?;
        Ok(AuditReport {
            events: report.events,
            hashed: report.events - start.map_or(0, |cp| cp.seq),
            head_hash: report.head_hash,
            checkpoints: if key.is_some() { checkpoints.len() } else { 0 },
            last_checkpoint: last,
        })
    }

    /// Verifies the chain (from the newest checkpoint of `path`, after checking all of its
    /// checkpoints, or fully when there is none yet), then signs the head and appends the
    /// checkpoint to `path`. A chain that does not verify is never signed.
    pub async fn write_checkpoint(&self, key: &CheckpointKey, path: &Path) -> Result<Checkpoint> {
        let earlier = if path.exists() {
            read_checkpoints(path)?
        } else {
            Vec::new()
        };
        let report = self.audit(&earlier, Some(key), true).await?;
        let checkpoint =
            Checkpoint::sign(key, report.events, &report.head_hash, &crate::model::now());
        append_checkpoint(path, &checkpoint)?;
        Ok(checkpoint)
    }

    /// Replays every event into a fresh SQLite database (a temporary file) and compares each
    /// projection table, and the event-subject index, row by row with this database. Finds
    /// projection rows edited, inserted or deleted outside Lodestone (a user given the admin
    /// role by SQL, stock changed). Numbers are compared to 12 significant digits.
    pub async fn verify_projections(&self) -> Result<ProjectionReport> {
        let scratch = Scratch::new()?;
        let replay = Mes::create(scratch.path.to_str().ok_or_else(|| {
            MesError::File(format!(
                "temporary path {} is not UTF-8",
                scratch.path.display()
            ))
        })?)
        .await?;
        let result = self.compare_with_replay(&replay).await;
        replay.close().await;
        drop(scratch);
        result
    }

    async fn compare_with_replay(&self, replay: &Mes) -> Result<ProjectionReport> {
        let head = self.bounds().await?.head_seq;
        // Copy the events (as stored: their hashes are the chain's business) with the
        // subjects each event's payload names.
        let mut after = 0;
        while after < head {
            let page = self
                .events_after(after, PAGE_EVENTS.min(head - after))
                .await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            let mut tx = replay.db().pool().begin().await?;
            for chunk in page.chunks(100) {
                let mut sql = String::from(
                    "INSERT INTO events (seq, client_id, recorded_at, actor, kind, reason, payload, prev_hash, hash) VALUES ",
                );
                push_placeholders(Backend::Sqlite, &mut sql, chunk.len(), 9);
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                let mut subjects = Vec::new();
                for r in chunk {
                    let event: Event = serde_json::from_str(&r.payload).map_err(|e| {
                        MesError::Corrupt(format!("event {} cannot be read: {e}", r.seq))
                    })?;
                    let mut s = event.subjects();
                    s.sort();
                    s.dedup();
                    subjects.extend(s.into_iter().map(|s| (s, r.seq)));
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
                query.execute(&mut *tx).await?;
                for sub in subjects.chunks(400) {
                    let mut sql = String::from("INSERT INTO event_subjects (subject, seq) VALUES ");
                    push_placeholders(Backend::Sqlite, &mut sql, sub.len(), 2);
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (s, seq) in sub {
                        query = query.bind(s.clone()).bind(*seq);
                    }
                    query.execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
        }
        let events = replay.rebuild_projections().await?;
        let mut tables = Vec::new();
        for table in PROJECTION_TABLES.iter().chain(&["event_subjects"]) {
            tables.push(compare_table(self, replay, table).await?);
        }
        Ok(ProjectionReport { events, tables })
    }
}

/// Checks one event against its predecessor's hash.
fn check_record(record: &EventRecord, prev_hash: &str) -> Result<()> {
    if record.prev_hash != prev_hash {
        return Err(MesError::ChainBroken {
            seq: record.seq,
            reason: "its link to the previous event does not match".into(),
        });
    }
    if record.compute_hash() != record.hash {
        return Err(MesError::ChainBroken {
            seq: record.seq,
            reason: "its contents do not match its hash (the row was edited)".into(),
        });
    }
    Ok(())
}

fn anchor_matches(record: &EventRecord, cp: &Checkpoint) -> Result<()> {
    if record.hash != cp.hash {
        return Err(MesError::ChainBroken {
            seq: cp.seq,
            reason: format!(
                "event {} does not have the hash the checkpoint of {} signed: the chain was \
                 rewritten up to here (events replaced, or edited and re-hashed)",
                cp.seq, cp.at
            ),
        });
    }
    Ok(())
}

/// Compares one table of `live` with the same table of `replay` as multisets of rows. The
/// replay's rows are held as SHA-256 digests (tens of bytes a row, whatever the row's width);
/// rows are shown only when they differ (a second pass finds the replay's missing ones).
async fn compare_table(live: &Mes, replay: &Mes, table: &str) -> Result<TableComparison> {
    use sha2::Digest;
    const SHOWN: usize = 5;
    let digest = |row: &str| -> [u8; 32] { sha2::Sha256::digest(row.as_bytes()).into() };
    let sql = format!("SELECT * FROM {table}");
    let mut expected: std::collections::HashMap<[u8; 32], i64> = Default::default();
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).fetch(replay.db().pool());
    while let Some(row) = rows.try_next().await? {
        *expected
            .entry(digest(&canonical_row(table, &row)?))
            .or_default() += 1;
    }
    drop(rows);
    let mut comparison = TableComparison {
        table: table.to_string(),
        rows: 0,
        only_in_database: Vec::new(),
        only_in_replay: Vec::new(),
        differences: 0,
    };
    let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone())).fetch(live.db().pool());
    while let Some(row) = rows.try_next().await? {
        comparison.rows += 1;
        let text = canonical_row(table, &row)?;
        match expected.get_mut(&digest(&text)) {
            Some(n) if *n > 0 => *n -= 1,
            _ => {
                comparison.differences += 1;
                if comparison.only_in_database.len() < SHOWN {
                    comparison.only_in_database.push(text);
                }
            }
        }
    }
    drop(rows);
    expected.retain(|_, n| *n > 0);
    comparison.differences += expected.values().sum::<i64>();
    if !expected.is_empty() {
        let mut rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch(replay.db().pool());
        while let Some(row) = rows.try_next().await? {
            if comparison.only_in_replay.len() >= SHOWN {
                break;
            }
            let text = canonical_row(table, &row)?;
            if let Some(n) = expected.get_mut(&digest(&text)) {
                if *n > 0 {
                    *n -= 1;
                    comparison.only_in_replay.push(text);
                }
            }
        }
    }
    Ok(comparison)
}

/// A row as `column=value, …` in column-name order, numbers to 12 significant digits (the
/// databases agree on doubles, but an integer may come back as a real or the other way);
/// password hashes as their SHA-256.
fn canonical_row(table: &str, row: &sqlx::any::AnyRow) -> Result<String> {
    let mut fields: Vec<(String, String)> = Vec::with_capacity(row.columns().len());
    for (i, column) in row.columns().iter().enumerate() {
        let value = if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
            v.map_or("null".to_string(), |v| v.to_string())
        } else if let Ok(v) = row.try_get::<Option<f64>, _>(i) {
            v.map_or("null".to_string(), number)
        } else if let Ok(v) = row.try_get::<Option<String>, _>(i) {
            v.map_or("null".to_string(), |v| {
                serde_json::to_string(&v).expect("a string serialises")
            })
        } else if let Ok(v) = row.try_get::<Option<bool>, _>(i) {
            v.map_or("null".to_string(), |v| i64::from(v).to_string())
        } else if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(i) {
            v.map_or("null".to_string(), |v| format!("x'{}'", hex(&v)))
        } else {
            return Err(MesError::Corrupt(format!(
                "column {table}.{} has a type this check cannot read",
                column.name()
            )));
        };
        let value = if column.name().contains("password") {
            // Compared, never shown: a report must not hand out password hashes to crack.
            use sha2::Digest;
            format!("sha256:{}", hex(&sha2::Sha256::digest(value.as_bytes())))
        } else {
            value
        };
        fields.push((column.name().to_string(), value));
    }
    fields.sort();
    Ok(fields
        .into_iter()
        .map(|(c, v)| format!("{c}={v}"))
        .collect::<Vec<_>>()
        .join(", "))
}

fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:.11e}")
    }
}

/// A private temporary directory (mode 0700: the replay holds every user's password hash)
/// with the replay's SQLite file, removed when dropped.
struct Scratch {
    dir: std::path::PathBuf,
    path: std::path::PathBuf,
}

impl Scratch {
    fn new() -> Result<Scratch> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir =
            std::env::temp_dir().join(format!("lodestone-replay-{}-{nanos}", std::process::id()));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        builder.create(&dir).map_err(|e| {
            MesError::File(format!(
                "cannot create a scratch directory {} for the replay: {e}",
                dir.display()
            ))
        })?;
        Ok(Scratch {
            path: dir.join("replay.db"),
            dir,
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

fn truncated(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}
