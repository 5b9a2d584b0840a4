//! Ingest benchmark: production events per second through `Mes::execute_batch`, per batch
//! size, on SQLite and (when reachable) PostgreSQL.
//! Targets (MES issue): ≥ 20,000 events/s on SQLite (batched), ≥ 5,000 events/s on PostgreSQL.
//!
//! Run: `cargo bench -p lodestone-mes --bench ingest` (or `scripts/bench_mes.sh`).
//!
//! "Production events" are what a furnace line sends for each heat, every one with a client id
//! (idempotency key) as real equipment sends them: start the order, consume four raw lots
//! (PrNd metal, Fe, FeB, Dy-Fe), produce the heat's flake lot, complete the order — 7 events per
//! heat, sent by the line's operator session. The orders were created and released and the raw
//! lots received beforehand by the planner (untimed), as in a plant. Each batch size runs on a
//! fresh database; only the `execute_batch` calls are timed; afterwards (untimed) the chain is
//! verified and every event and lot counted.
//!
//! Then, per backend, a profiled run (1,000 events in batches of 1,000, not timed for the
//! rate) counts the SQL statements the MES sends per event, through sqlx's statement log, with
//! the time sqlx measured for each: which queries dominate, and how much of the wall time is
//! spent outside SQL statements (hashing, serialising, commit).
//!
//! Each backend and batch size runs 3 times (`LODESTONE_MES_BENCH_REPEAT`), each on a fresh
//! database; the median rate is reported with the range, since on a small VM thread wake-ups
//! and fsyncs make single runs vary by ±30 %.
//!
//! Environment: `LODESTONE_MES_BENCH_EVENTS` (events per run, default 35,000; batch size 1 runs
//! at most 2,000), `LODESTONE_MES_BENCH_BACKENDS` (`sqlite,postgres`), PostgreSQL server at
//! `LODESTONE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`);
//! `LODESTONE_REQUIRE_SERVICES=1` makes an unreachable server an error instead of a skip.
//! Result lines on stderr start with `[mes-ingest]` (`run …` per repetition, `result …` per
//! batch size, `profile …`); Markdown tables go to stdout.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use common::{bench_dir, define_plant, ms, remove_sqlite, runtime, unit_id, Sessions};
use lodestone_mes::model::OrderAction;
use lodestone_mes::{Command, Envelope, Mes};
use sqlx::Row;

/// Batch sizes timed; 1 is a reference (a commit per event).
const BATCH_SIZES: [usize; 4] = [1, 100, 1000, 5000];
const DEFAULT_EVENTS: usize = 35_000;
/// Runs per backend and batch size (the median is reported: a 2-core VM is noisy).
const DEFAULT_REPEAT: usize = 3;
/// Events per run at batch size 1 (each is a durable commit).
const MAX_EVENTS_UNBATCHED: usize = 2_000;
/// Events per heat: start, 4 × consume, produce, complete.
const EVENTS_PER_HEAT: usize = 7;
/// Raw lots per material, consumed in turn.
const RAW_LOTS: usize = 10;
/// Raw materials and kg drawn per heat.
const CHARGE: [(&str, &str, f64); 4] = [
    ("PrNd-metal", "PRND", 180.0),
    ("Fe", "FE", 372.0),
    ("FeB", "FEB", 42.0),
    ("Dy-Fe", "DYFE", 6.0),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    fn target_events_per_s(self) -> f64 {
        match self {
            Backend::Sqlite => 20_000.0,
            Backend::Postgres => 5_000.0,
        }
    }
}

fn env_usize(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("{name}='{v}' is not a number")),
        Err(_) => default,
    }
}

fn postgres_server_url() -> String {
    std::env::var("LODESTONE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn services_required() -> bool {
    std::env::var("LODESTONE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// A fresh, empty database of the backend; `None` when PostgreSQL is unreachable (and allowed
/// to be).
async fn fresh_database(backend: Backend, name: &str) -> Option<String> {
    match backend {
        Backend::Sqlite => {
            let path = bench_dir().join(format!("{name}.db"));
            remove_sqlite(&path);
            Some(path.to_str().expect("UTF-8 path").to_string())
        }
        Backend::Postgres => {
            match lodestone_mes::db::create_postgres_database(&postgres_server_url(), name).await {
                Ok(url) => Some(url),
                Err(e) if services_required() => panic!(
                    "PostgreSQL is required (LODESTONE_REQUIRE_SERVICES=1) but unreachable: {e}"
                ),
                Err(e) => {
                    eprintln!("[mes-ingest] skipped PostgreSQL: no server ({e})");
                    None
                }
            }
        }
    }
}

fn order_id(heat: usize) -> String {
    format!("H-{heat:06}")
}

/// The plant, raw stock for `heats` heats, and `heats` released orders (untimed).
async fn prepare(mes: &Mes, heats: usize) -> Sessions {
    let sessions = define_plant(mes).await;
    let mut setup: Vec<Envelope> = Vec::new();
    for (definition, prefix, kg_per_heat) in CHARGE {
        // Each raw lot holds its share of the campaign, with 10 % to spare.
        let kg = (kg_per_heat * (heats / RAW_LOTS + 1) as f64 * 1.1).max(1000.0);
        for i in 0..RAW_LOTS {
            setup.push(
                Command::ReceiveLot {
                    lot: format!("{prefix}-{i:02}"),
                    definition: definition.into(),
                    quantity_kg: kg,
                    supplier_lot: Some(format!("SUP-{prefix}-{i:02}")),
                    location: Some("store".into()),
                    composition_wt_pct: Default::default(),
                    disposition: None,
                    at: None,
                }
                .into(),
            );
        }
    }
    for heat in 0..heats {
        let order = order_id(heat);
        setup.push(
            Command::CreateOrder {
                id: order.clone(),
                work_master: "VIM-SC-N52".into(),
                planned_kg: 600.0,
                equipment: Some(unit_id("vim", heat)),
                priority: 0,
            }
            .into(),
        );
        setup.push(order_action(&order, OrderAction::Release).into());
    }
    for chunk in setup.chunks(5000) {
        // Receipts need production rights, orders planning rights: the admin has both.
        mes.execute_batch(&sessions.admin, chunk)
            .await
            .expect("setup");
    }
    sessions
}

fn order_action(order: &str, action: OrderAction) -> Command {
    Command::OrderAction {
        order: order.into(),
        action,
        equipment: None,
        at: None,
    }
}

/// The furnace line's events for `heats` heats, each with a client id.
fn production_events(heats: usize) -> Vec<Envelope> {
    let mut events = Vec::with_capacity(heats * EVENTS_PER_HEAT);
    for heat in 0..heats {
        let order = order_id(heat);
        let unit = unit_id("vim", heat);
        let key = |n: usize| format!("{unit}:{order}:{n}");
        events
            .push(Envelope::from(order_action(&order, OrderAction::Start)).with_client_id(key(0)));
        for (n, (_, prefix, kg)) in CHARGE.iter().enumerate() {
            events.push(
                Envelope::from(Command::Consume {
                    order: order.clone(),
                    lot: format!("{prefix}-{:02}", heat % RAW_LOTS),
                    quantity_kg: *kg,
                    at: None,
                })
                .with_client_id(key(n + 1)),
            );
        }
        events.push(
            Envelope::from(Command::Produce {
                order: order.clone(),
                lot: format!("FLAKE-{heat:06}"),
                quantity_kg: 594.0,
                material_use: None,
                definition: None,
                composition_wt_pct: Default::default(),
                location: Some("store".into()),
                at: None,
            })
            .with_client_id(key(5)),
        );
        events.push(
            Envelope::from(order_action(&order, OrderAction::Complete)).with_client_id(key(6)),
        );
    }
    events
}

/// Repetitions of one backend and batch size, each on a fresh database.
struct Runs {
    backend: Backend,
    batch: usize,
    events: usize,
    /// Events per second of each repetition.
    rates: Vec<f64>,
}

impl Runs {
    fn summary(&self) -> common::Summary {
        common::summarize(&self.rates)
    }
}

/// One timed run on a fresh database: seconds for `events` events; `None` if the backend is
/// unavailable.
async fn run(backend: Backend, batch: usize, events: usize) -> Option<f64> {
    let heats = events.div_ceil(EVENTS_PER_HEAT);
    let name = format!("lodestone_bench_ingest_{}_{batch}", backend.name());
    let url = fresh_database(backend, &name).await?;
    let mes = Mes::create(&url).await.expect("create the MES");
    let sessions = prepare(&mes, heats).await;
    let stream = production_events(heats);
    let stream = &stream[..events];
    let head_before = chain_head(&mes).await;
    let started = Instant::now();
    for chunk in stream.chunks(batch) {
        mes.execute_batch(&sessions.line, chunk)
            .await
            .unwrap_or_else(|e| panic!("{} batch {batch}: {e}", backend.name()));
    }
    let seconds = started.elapsed().as_secs_f64();
    // Untimed checks: every event recorded once, the chain intact, the heats made.
    let head_after = chain_head(&mes).await;
    assert_eq!(
        (head_after - head_before) as usize,
        events,
        "events recorded"
    );
    mes.verify_chain().await.expect("chain verifies");
    let flakes = scalar(
        &mes,
        "SELECT CAST(COUNT(*) AS BIGINT) FROM lots WHERE id LIKE 'FLAKE-%'",
    )
    .await;
    assert_eq!(
        flakes as usize,
        events / EVENTS_PER_HEAT + usize::from(events % EVENTS_PER_HEAT > 5)
    );
    mes.close().await;
    if backend == Backend::Sqlite {
        remove_sqlite(std::path::Path::new(&url));
    }
    Some(seconds)
}

async fn scalar(mes: &Mes, sql: &'static str) -> i64 {
    sqlx::query(sql)
        .fetch_one(mes.db().pool())
        .await
        .expect(sql)
        .get::<i64, _>(0)
}

async fn chain_head(mes: &Mes) -> i64 {
    scalar(mes, "SELECT seq FROM chain_head WHERE id = 1").await
}

// --- statement profile ----------------------------------------------------------------------

/// Counts sqlx's statement log records (target `sqlx::query`) while enabled: per statement
/// text, how many and how long (as sqlx measured them).
struct StatementLog {
    enabled: AtomicBool,
    statements: Mutex<BTreeMap<String, (u64, f64)>>,
}

static STATEMENTS: StatementLog = StatementLog {
    enabled: AtomicBool::new(false),
    statements: Mutex::new(BTreeMap::new()),
};

impl log::Log for StatementLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        self.enabled.load(Ordering::Relaxed) && metadata.target() == "sqlx::query"
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = record.args().to_string();
        let (statement, seconds) = parse_statement_record(&text);
        let mut map = self.statements.lock().expect("statement log");
        let entry = map.entry(statement).or_insert((0, 0.0));
        entry.0 += 1;
        entry.1 += seconds;
    }

    fn flush(&self) {}
}

/// The SQL text (whitespace collapsed, `IN ($1, …)` lists folded) and seconds of a record.
fn parse_statement_record(text: &str) -> (String, f64) {
    let seconds = text
        .split("elapsed_secs=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(0.0);
    // `db.statement` holds the full SQL when it is longer than the 4-word summary.
    let sql = match text.split_once("db.statement=") {
        Some((head, rest)) => {
            let rest = rest.trim_start_matches('"');
            let full = rest.split(" rows_affected=").next().unwrap_or(rest);
            if full
                .trim_matches(|c: char| c == '"' || c.is_whitespace() || c == '\\')
                .is_empty()
            {
                head.trim_start_matches("summary=").to_string()
            } else {
                full.replace("\\n", " ")
            }
        }
        None => text.to_string(),
    };
    let mut sql = sql
        .trim_matches(|c: char| c == '"' || c.is_whitespace())
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    // Fold long VALUES / IN lists so one statement shape is one row.
    for (open, name) in [("VALUES (", "VALUES (…)"), ("IN (", "IN (…)")] {
        if let Some(i) = sql.find(open) {
            if let Some(close) = sql[i..].rfind(')') {
                if close > 40 {
                    sql.replace_range(i..i + close + 1, name);
                }
            }
        }
    }
    (sql, seconds)
}

async fn profile(backend: Backend) {
    const EVENTS: usize = 1000;
    let heats = EVENTS / EVENTS_PER_HEAT + 1;
    let name = format!("lodestone_bench_ingest_profile_{}", backend.name());
    let Some(url) = fresh_database(backend, &name).await else {
        return;
    };
    let mes = Mes::create(&url).await.expect("create the MES");
    let sessions = prepare(&mes, heats).await;
    let stream = production_events(heats);
    let stream = &stream[..EVENTS];
    STATEMENTS.statements.lock().expect("log").clear();
    log::set_max_level(log::LevelFilter::Trace);
    STATEMENTS.enabled.store(true, Ordering::Relaxed);
    let started = Instant::now();
    mes.execute_batch(&sessions.line, stream)
        .await
        .expect("profiled batch");
    let wall = started.elapsed();
    STATEMENTS.enabled.store(false, Ordering::Relaxed);
    log::set_max_level(log::LevelFilter::Off);
    mes.close().await;
    if backend == Backend::Sqlite {
        remove_sqlite(std::path::Path::new(&url));
    }
    let map = std::mem::take(&mut *STATEMENTS.statements.lock().expect("log"));
    let mut rows: Vec<(String, u64, f64)> = map.into_iter().map(|(k, (n, s))| (k, n, s)).collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    let count: u64 = rows.iter().map(|r| r.1).sum();
    let sql_seconds: f64 = rows.iter().map(|r| r.2).sum();
    eprintln!(
        "[mes-ingest] profile backend={} events={EVENTS} batch={EVENTS} wall_ms={:.1} statements={count} \
         statements_per_event={:.2} statement_ms={:.1} outside_statements_ms={:.1}",
        backend.name(),
        ms(wall),
        count as f64 / EVENTS as f64,
        sql_seconds * 1e3,
        ms(wall) - sql_seconds * 1e3
    );
    println!();
    println!(
        "#### {} statements in one batch of {EVENTS} production events ({:.2} per event; wall {:.0} ms, {:.0} ms of it in statements as sqlx timed them)",
        backend.name(),
        count as f64 / EVENTS as f64,
        ms(wall),
        sql_seconds * 1e3
    );
    println!();
    println!("| statement | count | per event | total ms | µs each | share of statement time |");
    println!("|---|---|---|---|---|---|");
    for (sql, n, s) in rows {
        let shown: String = if sql.chars().count() > 110 {
            sql.chars().take(110).collect::<String>() + "…"
        } else {
            sql
        };
        println!(
            "| `{}` | {n} | {:.2} | {:.1} | {:.1} | {:.1} % |",
            shown.replace('|', "\\|"),
            n as f64 / EVENTS as f64,
            s * 1e3,
            s * 1e6 / n as f64,
            100.0 * s / sql_seconds
        );
    }
}

fn main() {
    log::set_logger(&STATEMENTS).expect("statement logger");
    log::set_max_level(log::LevelFilter::Off);
    let events = env_usize("LODESTONE_MES_BENCH_EVENTS", DEFAULT_EVENTS);
    let backends: Vec<Backend> = std::env::var("LODESTONE_MES_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".into())
        .split(',')
        .map(|b| match b.trim() {
            "sqlite" => Backend::Sqlite,
            "postgres" | "postgresql" => Backend::Postgres,
            other => panic!("LODESTONE_MES_BENCH_BACKENDS: unknown backend '{other}'"),
        })
        .collect();
    let repeat = env_usize("LODESTONE_MES_BENCH_REPEAT", DEFAULT_REPEAT).max(1);
    let rt = runtime();
    let mut all: Vec<Runs> = Vec::new();
    'backends: for &backend in &backends {
        for batch in BATCH_SIZES {
            let n = if batch == 1 {
                events.min(MAX_EVENTS_UNBATCHED)
            } else {
                events
            };
            let mut runs = Runs {
                backend,
                batch,
                events: n,
                rates: Vec::new(),
            };
            for rep in 1..=repeat {
                let Some(seconds) = rt.block_on(run(backend, batch, n)) else {
                    continue 'backends;
                };
                runs.rates.push(n as f64 / seconds);
                eprintln!(
                    "[mes-ingest] run backend={} batch={batch} rep={rep} events={n} seconds={seconds:.3} events_per_s={:.0}",
                    backend.name(),
                    n as f64 / seconds
                );
            }
            let s = runs.summary();
            eprintln!(
                "[mes-ingest] result backend={} batch={batch} events={n} runs={} events_per_s={:.0} min={:.0} max={:.0}",
                backend.name(),
                s.n,
                s.median,
                s.min,
                s.max
            );
            all.push(runs);
        }
    }
    println!("### MES ingest: production events per second (`cargo bench -p lodestone-mes --bench ingest`)");
    println!();
    println!(
        "Furnace-line events (start, 4 × consume, produce, complete per heat), each with a client id, \
         through `execute_batch`; each run on a fresh database; median of {repeat} runs (min–max); {} cores.",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();
    println!(
        "| backend | batch size | events per run | events/s (median) | min–max | target | met |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in &all {
        let s = r.summary();
        let (target, met) = if r.batch >= 100 {
            let t = r.backend.target_events_per_s();
            (
                format!("≥ {t:.0}/s"),
                if s.median >= t { "yes" } else { "no" },
            )
        } else {
            ("— (reference)".to_string(), "—")
        };
        println!(
            "| {} | {} | {} | {:.0} | {:.0}–{:.0} | {target} | {met} |",
            r.backend.name(),
            r.batch,
            r.events,
            s.median,
            s.min,
            s.max
        );
    }
    for &backend in &backends {
        if all.iter().any(|r| r.backend == backend) {
            rt.block_on(profile(backend));
        }
    }
}
