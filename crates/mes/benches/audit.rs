//! Audit-chain benchmarks (divan) on a 1,500,000-event chain on SQLite (and PostgreSQL with
//! `LODESTONE_MES_BENCH_POSTGRES=1`). Targets (issue 14, item 6): the incremental check from
//! the last checkpoint < 1 s after 1.5 M events; the full check's rate in events/s.
//!
//! Run: `cargo bench -p lodestone-mes --bench audit`.
//!
//! The chain is built through real commands (`execute_batch` of 5,000 lot receipts), so rows,
//! payload sizes and hashes are what the MES writes. A checkpoint is signed after every batch
//! but the last, as a server checkpointing every few minutes would: the checkpoint file holds
//! 299 lines and the incremental check hashes the last 5,000 events after checking all of them.
//!
//! The SQLite file is cached in `target/mes-bench/audit-1500k.db` (with `.meta` naming the
//! event count, the generator version and a fingerprint of the migrations, and `.ckpt`, the
//! checkpoint file), rebuilt when they differ or with `LODESTONE_MES_BENCH_REBUILD=1`. The
//! PostgreSQL database `lodestone_bench_audit` is reused when its head has the requested
//! count. `LODESTONE_MES_BENCH_EVENTS=100000` builds a smaller chain for a quick run.
//!
//! Before divan's table, one full check per backend is timed and its rate printed on stderr
//! (`[mes-bench] audit …`), since a full check of 1.5 M events is too slow for many samples.
//! With `LODESTONE_MES_BENCH_DEEP=1` the deep check (replay and compare every projection) is
//! timed once as well.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Instant;

use common::{bench_dir, remove_sqlite, runtime};
use divan::Bencher;
use lodestone_mes::audit::{append_checkpoint, read_checkpoints, Checkpoint, CheckpointKey};
use lodestone_mes::{Command, Envelope, Mes};
use sqlx::Row;

/// Bump when the generated chain changes (forces a rebuild of the cache).
const GENERATOR_VERSION: u32 = 1;
const DEFAULT_EVENTS: usize = 1_500_000;
/// Commands per batch, and events between checkpoints.
const BATCH: usize = 5000;
/// A fixed key: the bench measures, it protects nothing.
const KEY: &[u8] = b"lodestone audit bench key, 32+ bytes long";

fn main() {
    let fx = fixtures();
    for f in fx {
        report(f);
    }
    divan::main();
}

/// Every checkpoint's signature and event, then the events after the newest one (SQLite).
#[divan::bench(sample_count = 20, sample_size = 1, max_time = 30)]
fn incremental_verify_from_checkpoint_sqlite(bencher: Bencher) {
    bench_incremental(bencher, "sqlite");
}

/// As above, on PostgreSQL (with `LODESTONE_MES_BENCH_POSTGRES=1`; otherwise not run).
#[divan::bench(sample_count = 20, sample_size = 1, max_time = 30)]
fn incremental_verify_from_checkpoint_postgres(bencher: Bencher) {
    bench_incremental(bencher, "postgres");
}

fn bench_incremental(bencher: Bencher, backend: &str) {
    let Some(fx) = fixtures().iter().find(|f| f.backend == backend) else {
        return;
    };
    let key = CheckpointKey::from_bytes(KEY).unwrap();
    bencher.bench_local(|| {
        fx.rt
            .block_on(fx.mes.audit(&fx.checkpoints, Some(&key), true))
            .expect("the chain verifies")
    });
}

struct Fixture {
    backend: &'static str,
    rt: tokio::runtime::Runtime,
    mes: Mes,
    checkpoints: Vec<Checkpoint>,
}

static FIXTURES: OnceLock<Vec<Fixture>> = OnceLock::new();

fn fixtures() -> &'static [Fixture] {
    FIXTURES.get_or_init(|| {
        let mut out = vec![sqlite_fixture()];
        if std::env::var("LODESTONE_MES_BENCH_POSTGRES").is_ok_and(|v| v == "1") {
            out.push(postgres_fixture());
        }
        out
    })
}

fn requested_events() -> usize {
    match std::env::var("LODESTONE_MES_BENCH_EVENTS") {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("LODESTONE_MES_BENCH_EVENTS='{v}' is not a number")),
        Err(_) => DEFAULT_EVENTS,
    }
}

/// FNV-1a over the migration files (names and contents): changes when the schema does.
fn schema_fingerprint() -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for sub in ["sqlite", "common"] {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(sub);
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        files.sort();
        for file in files {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            for byte in name.bytes().chain(text) {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }
    format!("{hash:016x}")
}

fn sqlite_fixture() -> Fixture {
    let events = requested_events();
    let path = bench_dir().join(format!("audit-{}k.db", events / 1000));
    let meta_path = path.with_extension("db.meta");
    let ckpt_path = path.with_extension("ckpt");
    let key = format!(
        "events={events}\ngenerator={GENERATOR_VERSION}\nschema={}\n",
        schema_fingerprint()
    );
    let meta = std::fs::read_to_string(&meta_path).unwrap_or_default();
    let force = std::env::var("LODESTONE_MES_BENCH_REBUILD").is_ok_and(|v| v == "1");
    let rt = runtime();
    let url = path.to_str().expect("UTF-8 path").to_string();
    if force || !path.exists() || !meta.starts_with(&key) || !ckpt_path.exists() {
        let _ = std::fs::remove_file(&meta_path);
        let _ = std::fs::remove_file(&ckpt_path);
        remove_sqlite(&path);
        let seconds = build("sqlite", &rt, &url, &ckpt_path, events);
        std::fs::write(&meta_path, format!("{key}build_seconds={seconds:.0}\n"))
            .unwrap_or_else(|e| panic!("{}: {e}", meta_path.display()));
    } else {
        eprintln!(
            "[mes-bench] audit sqlite: cached {} (LODESTONE_MES_BENCH_REBUILD=1 rebuilds)",
            path.display()
        );
    }
    let mes = rt.block_on(Mes::open(&url)).expect("open the chain");
    Fixture {
        backend: "sqlite",
        checkpoints: read_checkpoints(&ckpt_path).expect("checkpoints"),
        rt,
        mes,
    }
}

fn postgres_fixture() -> Fixture {
    let events = requested_events();
    let server = std::env::var("LODESTONE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string());
    let base = &server[..server.rfind('/').expect("a database in the URL")];
    let url = format!("{base}/lodestone_bench_audit");
    let ckpt_path = bench_dir().join(format!("audit-{}k-postgres.ckpt", events / 1000));
    let rt = runtime();
    let head = rt.block_on(async {
        let mes = Mes::open(&url).await.ok()?;
        let row = sqlx::query("SELECT seq FROM chain_head WHERE id = 1")
            .fetch_one(mes.db().pool())
            .await
            .ok()?;
        mes.close().await;
        Some(row.get::<i64, _>("seq"))
    });
    if head != Some(built_events(events)) || !ckpt_path.exists() {
        let _ = std::fs::remove_file(&ckpt_path);
        let url = rt
            .block_on(lodestone_mes::db::create_postgres_database(
                &server,
                "lodestone_bench_audit",
            ))
            .expect("create the bench database");
        build("postgres", &rt, &url, &ckpt_path, events);
    } else {
        eprintln!("[mes-bench] audit postgres: reusing {url}");
    }
    let mes = rt.block_on(Mes::open(&url)).expect("open the chain");
    Fixture {
        backend: "postgres",
        checkpoints: read_checkpoints(&ckpt_path).expect("checkpoints"),
        rt,
        mes,
    }
}

/// Events the builder records for `events` requested: the admin, then whole batches.
fn built_events(events: usize) -> i64 {
    1 + (events.div_ceil(BATCH) * BATCH) as i64 + 3
}

/// Records `events` lot receipts in batches, signing a checkpoint after each but the last.
fn build(
    backend: &str,
    rt: &tokio::runtime::Runtime,
    url: &str,
    ckpt_path: &Path,
    events: usize,
) -> f64 {
    eprintln!("[mes-bench] audit {backend}: building {events} events (cached afterwards)");
    let key = CheckpointKey::from_bytes(KEY).unwrap();
    let started = Instant::now();
    rt.block_on(async {
        let mes = Mes::create(url).await.expect("create");
        let admin = mes
            .bootstrap_admin("admin", "Ada Admin", "admin-password")
            .await
            .expect("admin");
        let setup: Vec<Envelope> = vec![
            Command::DefineEquipment(lodestone_mes::model::Equipment {
                id: "store".into(),
                name: "Store".into(),
                level: lodestone_mes::model::EquipmentLevel::StorageZone,
                parent: None,
                ideal_cycle_s: None,
            })
            .into(),
            Command::DefineMaterialClass {
                id: "metal".into(),
                name: "Metals".into(),
                receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
            }
            .into(),
            Command::DefineMaterialDefinition(lodestone_mes::model::MaterialDefinition {
                id: "Fe".into(),
                name: "Iron".into(),
                class: "metal".into(),
            })
            .into(),
        ];
        mes.execute_batch(&admin, &setup).await.expect("setup");
        let batches = events.div_ceil(BATCH);
        for b in 0..batches {
            let commands: Vec<Envelope> = (0..BATCH)
                .map(|i| {
                    let n = b * BATCH + i;
                    Command::ReceiveLot {
                        lot: format!("FE-{n:08}"),
                        definition: "Fe".into(),
                        quantity_kg: 100.0 + (n % 900) as f64,
                        supplier_lot: Some(format!("SUP-{n:08}")),
                        location: Some("store".into()),
                        composition_wt_pct: common::composition(&[("Fe", 99.8), ("C", 0.02)]),
                        disposition: None,
                        at: None,
                    }
                    .into()
                })
                .collect();
            let receipts = mes.execute_batch(&admin, &commands).await.expect("batch");
            if b + 1 < batches {
                let seq = receipts.last().unwrap().seq;
                let hash: String = sqlx::query("SELECT hash FROM events WHERE seq = $1")
                    .bind(seq)
                    .fetch_one(mes.db().pool())
                    .await
                    .expect("head")
                    .get("hash");
                let cp = Checkpoint::sign(&key, seq, &hash, &lodestone_mes::model::now());
                append_checkpoint(ckpt_path, &cp).expect("checkpoint");
            }
            if b % 20 == 19 {
                eprintln!(
                    "[mes-bench] audit {backend}: {} events, {:.0} s",
                    (b + 1) * BATCH,
                    started.elapsed().as_secs_f64()
                );
            }
        }
        mes.close().await;
    });
    let seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "[mes-bench] audit {backend}: built {events} events in {seconds:.0} s ({:.0} events/s)",
        events as f64 / seconds
    );
    seconds
}

/// Times one full check, one check of the checkpoints alone and one incremental check.
fn report(fx: &Fixture) {
    let key = CheckpointKey::from_bytes(KEY).unwrap();
    let started = Instant::now();
    let full = fx.rt.block_on(fx.mes.verify_chain()).expect("full check");
    let full_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    fx.rt
        .block_on(fx.mes.verify_checkpoints(&fx.checkpoints, &key))
        .expect("checkpoints");
    let checkpoints_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let incremental = fx
        .rt
        .block_on(fx.mes.audit(&fx.checkpoints, Some(&key), true))
        .expect("incremental check");
    let incremental_s = started.elapsed().as_secs_f64();
    eprintln!(
        "[mes-bench] audit {}: full check of {} events in {full_s:.2} s ({:.0} events/s); \
         {} checkpoints alone in {:.1} ms; incremental (checkpoints + {} events) in {:.1} ms (target < 1000 ms)",
        fx.backend,
        full.events,
        full.events as f64 / full_s,
        fx.checkpoints.len(),
        checkpoints_s * 1e3,
        incremental.hashed,
        incremental_s * 1e3
    );
    if std::env::var("LODESTONE_MES_BENCH_DEEP").is_ok_and(|v| v == "1") {
        let started = Instant::now();
        let deep = fx
            .rt
            .block_on(fx.mes.verify_projections())
            .expect("deep check");
        assert!(deep.consistent(), "{deep:?}");
        let rows: i64 = deep.tables.iter().map(|t| t.rows).sum();
        eprintln!(
            "[mes-bench] audit {}: deep check (replay of {} events, {rows} projection rows compared) in {:.1} s",
            fx.backend,
            deep.events,
            started.elapsed().as_secs_f64()
        );
    }
}
