//! SPC query benchmark: the control chart of one property over a month of lots, read from the
//! record and computed, on SQLite and (when reachable) PostgreSQL.
//! Target (issue 12, item 5): < 50 ms for ≈ 3,000 lots, I-MR and EWMA.
//!
//! Run: `cargo bench -p lodestone-mes --bench spc`.
//!
//! Data (untimed): the bench plant of `common`; 3,000 `ndfeb-flake` lots received over 30 days
//! (one every 14.4 min), each with a lab report of four properties (Nd, Pr, B, TRE), plus as
//! many `NdFeB-flake` lots with the same report so the query has to pick one definition and one
//! property out of 24,000 results; 2 % of the lots get a corrected Nd result (a second result
//! for the same property), so "the latest result per lot" is exercised.
//!
//! Timed, 30 repetitions each after one warm-up: `Mes::measurements("ndfeb-flake", "Nd")` (the
//! series, 3,000 values) followed by `spc::i_mr` — and the same followed by `spc::ewma_chart`
//! (λ 0.2) — the work `GET /api/spc` and `lodestone mes spc` do, without HTTP and printing.
//! The query alone is reported too. Result lines on stderr start with `[mes-spc]`; a Markdown
//! table goes to stdout.
//!
//! Environment: `LODESTONE_MES_BENCH_BACKENDS` (`sqlite,postgres`), `LODESTONE_SPC_BENCH_LOTS`
//! (default 3,000), PostgreSQL at `LODESTONE_TEST_POSTGRES_URL`;
//! `LODESTONE_REQUIRE_SERVICES=1` makes an unreachable server an error instead of a skip.

mod common;

use std::time::Instant;

use common::{bench_dir, define_plant, ms, remove_sqlite, runtime, summarize, Rng};
use lodestone_mes::command::ResultValue;
use lodestone_mes::spc::{self, ChartOptions, EwmaOptions};
use lodestone_mes::{Command, Envelope, Mes};

const REPEAT: usize = 30;
const TARGET_MS: f64 = 50.0;

fn postgres_server_url() -> String {
    std::env::var("LODESTONE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

fn services_required() -> bool {
    std::env::var("LODESTONE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

async fn open(backend: &str) -> Option<Mes> {
    match backend {
        "sqlite" => {
            let path = bench_dir().join("spc.db");
            remove_sqlite(&path);
            Some(Mes::create(path.to_str().unwrap()).await.expect("SQLite"))
        }
        _ => match lodestone_mes::db::create_postgres_database(
            &postgres_server_url(),
            "lodestone_bench_spc",
        )
        .await
        {
            Ok(url) => Some(Mes::create(&url).await.expect("PostgreSQL")),
            Err(e) if services_required() => panic!("PostgreSQL is required but unreachable: {e}"),
            Err(e) => {
                eprintln!("[mes-spc] skipped PostgreSQL: no server ({e})");
                None
            }
        },
    }
}

/// ISO time of minute `m` of November 2026.
fn at(minute: usize) -> String {
    let (d, rem) = (minute / 1440, minute % 1440);
    format!("2026-11-{:02}T{:02}:{:02}:00Z", 1 + d, rem / 60, rem % 60)
}

async fn load(mes: &Mes, lots: usize) {
    let sessions = define_plant(mes).await;
    let mut rng = Rng::new(12);
    let mut commands: Vec<Envelope> = Vec::new();
    let step_min = 30 * 1440 / lots.max(1);
    for (definition, prefix) in [("ndfeb-flake", "F"), ("NdFeB-flake", "G")] {
        for i in 0..lots {
            let lot = format!("{prefix}-{i:05}");
            let minute = i * step_min;
            commands.push(
                Command::ReceiveLot {
                    lot: lot.clone(),
                    definition: definition.into(),
                    quantity_kg: 600.0,
                    supplier_lot: None,
                    location: None,
                    composition_wt_pct: Default::default(),
                    disposition: None,
                    at: Some(at(minute)),
                }
                .into(),
            );
            let noise = |rng: &mut Rng| (rng.below(1000) as f64 - 500.0) / 5000.0;
            let nd = 23.1 + noise(&mut rng);
            let pr = 6.9 + noise(&mut rng);
            commands.push(
                Command::RecordResults {
                    lot: lot.clone(),
                    sample: Some(format!("S-{lot}")),
                    method: Some("ICP-OES".into()),
                    at: Some(at(minute + 5)),
                    results: vec![
                        ResultValue {
                            property: "Nd".into(),
                            value: nd,
                            unit: "wt%".into(),
                        },
                        ResultValue {
                            property: "Pr".into(),
                            value: pr,
                            unit: "wt%".into(),
                        },
                        ResultValue {
                            property: "B".into(),
                            value: 0.98,
                            unit: "wt%".into(),
                        },
                        ResultValue {
                            property: "TRE".into(),
                            value: nd + pr,
                            unit: "wt%".into(),
                        },
                    ],
                }
                .into(),
            );
            if rng.below(50) == 0 {
                commands.push(
                    Command::RecordResult {
                        lot: lot.clone(),
                        sample: Some(format!("S-{lot}-retest")),
                        property: "Nd".into(),
                        value: nd + 0.01,
                        unit: "wt%".into(),
                        method: Some("ICP-OES".into()),
                        at: Some(at(minute + 9)),
                    }
                    .into(),
                );
            }
        }
    }
    for chunk in commands.chunks(5000) {
        mes.execute_batch(&sessions.admin, chunk)
            .await
            .expect("load");
    }
}

fn main() {
    let lots: usize = std::env::var("LODESTONE_SPC_BENCH_LOTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let backends = std::env::var("LODESTONE_MES_BENCH_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres".to_string());
    let rt = runtime();
    println!("| backend | lots | query ms (median / p95) | query + I-MR ms (median / p95) | query + EWMA ms (median / p95) | target |");
    println!("|---|---|---|---|---|---|");
    for backend in backends.split(',').map(str::trim) {
        rt.block_on(async {
            let Some(mes) = open(backend).await else {
                return;
            };
            let t = Instant::now();
            load(&mes, lots).await;
            eprintln!("[mes-spc] {backend}: loaded {} lots in {:.1} s", 2 * lots, t.elapsed().as_secs_f64());
            let opts = ChartOptions::default();
            let (mut query, mut imr, mut ewma) = (Vec::new(), Vec::new(), Vec::new());
            for round in 0..=REPEAT {
                let t = Instant::now();
                let series = mes.measurements("ndfeb-flake", "Nd").await.expect("series");
                let q = ms(t.elapsed());
                assert_eq!(series.len(), lots);
                let values: Vec<f64> = series.iter().map(|m| m.value).collect();
                let pair = spc::i_mr(&values, &[], &opts).expect("I-MR");
                assert_eq!(pair.location.points.len(), lots);
                let i = ms(t.elapsed());
                let t = Instant::now();
                let series = mes.measurements("ndfeb-flake", "Nd").await.expect("series");
                let groups: Vec<Vec<f64>> = series.iter().map(|m| vec![m.value]).collect();
                let chart = spc::ewma_chart(&groups, &[], &EwmaOptions::default(), &opts)
                    .expect("EWMA");
                assert_eq!(chart.points.len(), lots);
                let e = ms(t.elapsed());
                if round > 0 {
                    query.push(q);
                    imr.push(i);
                    ewma.push(e);
                }
            }
            let (q, i, e) = (summarize(&query), summarize(&imr), summarize(&ewma));
            let pass = i.p95 < TARGET_MS && e.p95 < TARGET_MS;
            eprintln!(
                "[mes-spc] result backend={backend} lots={lots} query_ms={:.2}/{:.2} imr_ms={:.2}/{:.2} ewma_ms={:.2}/{:.2} target_ms={TARGET_MS} {}",
                q.median, q.p95, i.median, i.p95, e.median, e.p95,
                if pass { "PASS" } else { "FAIL" }
            );
            println!(
                "| {backend} | {lots} | {:.2} / {:.2} | {:.2} / {:.2} | {:.2} / {:.2} | < {TARGET_MS} ms: {} |",
                q.median, q.p95, i.median, i.p95, e.median, e.p95,
                if pass { "met" } else { "MISSED" }
            );
        });
    }
}
