//! OEE query time (divan) for a line over a month of record, on SQLite and PostgreSQL.
//! Target (issue 12, item 4): `Mes::oee` for one line over a month < 50 ms.
//!
//! Run: `cargo bench -p lodestone-mes --bench oee`. Backends: `LODESTONE_MES_BENCH_BACKENDS`
//! (`sqlite,postgres`); PostgreSQL server at `LODESTONE_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`), skipped when unreachable unless
//! `LODESTONE_REQUIRE_SERVICES=1`.
//!
//! The month is the reference plant (`examples/plant/baotou-50kt.toml`, 22 lines, 30 days,
//! seed 1) recorded by the twin through `MesRecorder` with a QA release per shift, as
//! `tests/oee_month.rs` does: ≈ 7,200 heats. It is built once per
//! backend and cached (SQLite: `target/mes-bench/oee-month.db`; PostgreSQL: database
//! `lodestone_bench_oee_month`), with a `.meta` file naming the generator version and a
//! fingerprint of the migrations and the plant file; `LODESTONE_MES_BENCH_REBUILD=1` rebuilds.
//!
//! Before divan's table, the query is timed for every line (5 rounds) and summarised on stderr
//! (`[mes-bench] oee …`: median, p95, max), since divan reports no percentiles.

mod common;

use std::path::Path;
use std::sync::OnceLock;
use std::time::Instant;

use common::{bench_dir, ms, remove_sqlite, runtime, summarize};
use divan::Bencher;
use lodestone_mes::twin_recorder::{line_id, plant_commands, MesRecorder};
use lodestone_mes::{Envelope, Mes};
use lodestone_twin::model::run_replication_with;
use lodestone_twin::plant::Plant;

/// Bump when the recorded month changes shape (forces a rebuild of the caches).
const GENERATOR_VERSION: u32 = 1;
const PLANT: &str = include_str!("../../../examples/plant/baotou-50kt.toml");
const FROM: &str = "2026-12-01T00:00:00Z";
const TO: &str = "2026-12-31T00:00:00Z";
const PG_DATABASE: &str = "lodestone_bench_oee_month";
const ROUNDS: usize = 5;

struct Fixture {
    runtime: tokio::runtime::Runtime,
    backends: Vec<(&'static str, Mes)>,
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(build)
}

fn main() {
    report(fixture());
    divan::main();
}

/// FNV-1a over the migrations (names and contents), the plant file and the generator version.
fn cache_key() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut files = Vec::new();
    for dir in ["common", "sqlite", "postgres"] {
        for entry in std::fs::read_dir(root.join(dir)).expect("migrations") {
            files.push(entry.expect("dir entry").path());
        }
    }
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in files {
        eat(file.to_string_lossy().as_bytes());
        eat(&std::fs::read(&file).expect("migration"));
    }
    eat(PLANT.as_bytes());
    format!("generator={GENERATOR_VERSION}\nkey={hash:016x}\n")
}

fn postgres_server_url() -> String {
    std::env::var("LODESTONE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn services_required() -> bool {
    std::env::var("LODESTONE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

/// Records the month into a fresh MES at `url` (created first).
fn record_month(rt: &tokio::runtime::Runtime, mes: &Mes) {
    let mut plant = Plant::from_toml("baotou-50kt.toml", PLANT).expect("reference plant");
    plant.simulation.days = 30.0;
    plant.simulation.warmup_days = 0.0;
    let admin = rt
        .block_on(mes.bootstrap_admin("twin", "Plant twin", "twin-password"))
        .expect("admin");
    let setup: Vec<Envelope> = plant_commands(&plant)
        .into_iter()
        .map(Envelope::from)
        .collect();
    rt.block_on(mes.execute_batch(&admin, &setup))
        .expect("plant");
    let epoch = chrono::DateTime::parse_from_rfc3339(FROM)
        .expect("epoch")
        .to_utc();
    let mut recorder =
        MesRecorder::new(rt, mes, &admin, &plant, epoch).with_qa_signature("twin-password", 8.0);
    run_replication_with(&plant, 1, &mut recorder);
    recorder.finish().expect("every twin event accepted");
}

fn build() -> Fixture {
    let rt = runtime();
    let key = cache_key();
    let force = std::env::var("LODESTONE_MES_BENCH_REBUILD").is_ok_and(|v| v == "1");
    let wanted =
        std::env::var("LODESTONE_MES_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut backends = Vec::new();
    for name in wanted.split(',').map(str::trim) {
        let (name, meta_path) = match name {
            "sqlite" => ("sqlite", bench_dir().join("oee-month.db.meta")),
            "postgres" | "postgresql" => ("postgres", bench_dir().join("oee-month-postgres.meta")),
            other => panic!("LODESTONE_MES_BENCH_BACKENDS: '{other}' is not sqlite or postgres"),
        };
        let cached = !force && std::fs::read_to_string(&meta_path).is_ok_and(|m| m == key);
        let start = Instant::now();
        let mes = if name == "sqlite" {
            let path = bench_dir().join("oee-month.db");
            let url = path.to_str().expect("UTF-8 path").to_string();
            if cached && path.exists() {
                rt.block_on(Mes::open(&url)).expect("open cached month")
            } else {
                remove_sqlite(&path);
                let mes = rt.block_on(Mes::create(&url)).expect("create");
                record_month(&rt, &mes);
                mes
            }
        } else {
            let server = postgres_server_url();
            let base = server[..server.rfind('/').expect("a server URL")].to_string();
            let url = format!("{base}/{PG_DATABASE}");
            let reopened = if cached {
                rt.block_on(Mes::open(&url)).ok()
            } else {
                None
            };
            match reopened {
                Some(mes) => mes,
                None => {
                    match rt.block_on(lodestone_mes::db::create_postgres_database(
                        &server,
                        PG_DATABASE,
                    )) {
                        Ok(url) => {
                            let mes = rt.block_on(Mes::create(&url)).expect("create");
                            record_month(&rt, &mes);
                            mes
                        }
                        Err(e) if services_required() => panic!(
                            "PostgreSQL is required (LODESTONE_REQUIRE_SERVICES=1) but unreachable: {e}"
                        ),
                        Err(e) => {
                            eprintln!("[mes-bench] oee: skipped PostgreSQL: no server ({e})");
                            continue;
                        }
                    }
                }
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        if cached {
            eprintln!("[mes-bench] oee {name}: cached month ({seconds:.1} s to open)");
        } else {
            std::fs::write(&meta_path, &key).expect("write meta");
            eprintln!(
                "[mes-bench] oee {name}: recorded a month of the reference plant in {seconds:.1} s"
            );
        }
        backends.push((name, mes));
    }
    Fixture {
        runtime: rt,
        backends,
    }
}

fn report(fx: &Fixture) {
    for (name, mes) in &fx.backends {
        let mut times = Vec::new();
        let mut heats = 0;
        for _ in 0..ROUNDS {
            heats = 0;
            for line in 0..22 {
                let start = Instant::now();
                let r = fx
                    .runtime
                    .block_on(mes.oee(&line_id(line), FROM, TO))
                    .expect("oee");
                times.push(ms(start.elapsed()));
                heats += r.oee.total_count;
            }
        }
        let s = summarize(&times);
        eprintln!(
            "[mes-bench] oee {name}: one line over a month ({heats} heats on 22 lines), n = {}: median {:.2} ms, p95 {:.2} ms, max {:.2} ms (target < 50 ms)",
            s.n, s.median, s.p95, s.max
        );
    }
}

/// `Mes::oee` of line-01 over the month.
#[divan::bench(args = ["sqlite", "postgres"])]
fn oee_line_month(bencher: Bencher, backend: &str) {
    let fx = fixture();
    let Some((_, mes)) = fx.backends.iter().find(|(n, _)| *n == backend) else {
        return;
    };
    bencher.bench_local(|| {
        fx.runtime
            .block_on(mes.oee("line-01", FROM, TO))
            .expect("oee")
    });
}
