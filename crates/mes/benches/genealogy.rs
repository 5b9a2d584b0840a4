//! Genealogy trace benchmarks (divan) on a 1,000,000-lot, 10-level genealogy on SQLite.
//! Target (MES issue): a backward trace < 50 ms.
//!
//! Run: `cargo bench -p lodestone-mes --bench genealogy` (or `scripts/bench_mes.sh`).
//!
//! The genealogy is built through real commands (`execute_batch` of 5,000 commands: receive,
//! create/release/start/complete orders, consume, produce, split, merge), so the event log, its
//! hash chain and the projections are what the MES writes in production. The shape follows a
//! rare-earth chain from concentrate to magnet alloy, ten transformations deep:
//!
//! | level | lots | made by |
//! |---|---|---|
//! | 0 | `CONC` | bastnäsite concentrate, received |
//! | 1 | `LIQ` | roast & leach order: 2–4 concentrate lots → chloride liquor |
//! | 2 | `TANK` | split: liquor → 3–6 tanks |
//! | 3 | `FEED` | merge: 2–4 tanks → SX feed |
//! | 4 | `OX` | SX/precipitation order: 2–4 feeds → PrNd oxide |
//! | 5 | `DRUM` | split: oxide → 3–6 drums |
//! | 6 | `OXB` | merge: 2–4 drums → oxide blend |
//! | 7 | `MET` | electrolysis order: 2–4 oxide blends → PrNd metal |
//! | 8 | `BOX` | split: metal → 3–6 ingot boxes |
//! | 9 | `METB` | merge: 2–4 boxes → metal blend |
//! | 10 | `FLK` | VIM strip-cast heat: 2–4 metal blends → NdFeB flake (top level) |
//!
//! Orders draw FIFO on the stock of the level below (order j takes 2–4 consecutive lots around
//! position j·N_in/N_out, each lot shared by about two orders), as a plant consumes stock in
//! arrival order; so a backward trace from a flake heat reaches a few hundred lots rather than
//! 3^10. Level sizes are chosen so that the total is exactly the requested lot count.
//!
//! The built file is cached in `target/mes-bench/genealogy-1m.db` with a `.meta` file naming
//! the lot count, the generator version and a fingerprint of the SQLite migrations; it is
//! rebuilt when either differs (or with `LODESTONE_MES_BENCH_REBUILD=1`). Building 1M lots
//! takes about 4–5 minutes on a 2-core machine (1.75M events, 1.6 GB); progress goes to stderr.
//! `LODESTONE_MES_BENCH_LOTS=20000` builds (and caches) a smaller genealogy for a quick run.
//!
//! Before divan's table, up to 300 traces per direction are timed on random lots and
//! summarised on stderr (`[mes-bench] trace …`: median, p95, max, lots reached, depth), since
//! divan reports no percentiles; a slow variant stops after 60 s (at least 5 traces). Forward
//! traces start from random concentrate lots (a top-level lot has no descendants).
//!
//! Every measurement is made twice: on the connections exactly as `Mes::open` sets them up
//! (`as-built`, the number that counts against the target), and on a second pool with
//! `PRAGMA automatic_index = OFF` (`automatic-index-off`, a diagnostic): without statistics the
//! planner of the bundled SQLite (3.54) builds an automatic index over all of `step_lots` in
//! each trace query rather than probing `step_lots_by_step`, and scans `step_lots` for the
//! `walked` steps; the second variant shows what the trace costs with the intended plan.

mod common;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{bench_dir, ms, remove_sqlite, runtime, summarize, unit_id, Rng};
use divan::Bencher;
use lodestone_mes::command::LotQuantity;
use lodestone_mes::genealogy::Direction;
use lodestone_mes::model::OrderAction;
use lodestone_mes::{Command, Envelope, Mes, Session};
use sqlx::Row;

/// Bump when the shape of the generated genealogy changes (forces a rebuild of the cache).
const GENERATOR_VERSION: u32 = 1;
const DEFAULT_LOTS: usize = 1_000_000;
/// Commands per `execute_batch` while building.
const BATCH: usize = 5000;
/// Deeper than the genealogy, so every trace runs to the raw lots.
const MAX_DEPTH: i64 = 50;
/// Traces timed for the percentile summary, per direction and variant...
const SAMPLES: usize = 300;
/// ...but no fewer than this...
const MIN_SAMPLES: usize = 5;
/// ...and, past that, for no longer than this.
const REPORT_BUDGET: Duration = Duration::from_secs(60);

fn main() {
    let fx = fixture();
    report(fx);
    divan::main();
}

/// A random top-level (flake) lot, traced back to the concentrates.
#[divan::bench(sample_count = 200, sample_size = 1, max_time = 30)]
fn backward_trace_top_lot(bencher: Bencher) {
    bench_trace(bencher, Variant::AsBuilt, Direction::Backward);
}

/// A random concentrate lot, traced forward to the flake heats made from it.
#[divan::bench(sample_count = 200, sample_size = 1, max_time = 30)]
fn forward_trace_raw_lot(bencher: Bencher) {
    bench_trace(bencher, Variant::AsBuilt, Direction::Forward);
}

/// As `backward_trace_top_lot`, on connections with SQLite's automatic indexes off.
#[divan::bench(sample_count = 200, sample_size = 1, max_time = 30)]
fn backward_trace_top_lot_automatic_index_off(bencher: Bencher) {
    bench_trace(bencher, Variant::AutomaticIndexOff, Direction::Backward);
}

/// As `forward_trace_raw_lot`, on connections with SQLite's automatic indexes off.
#[divan::bench(sample_count = 200, sample_size = 1, max_time = 30)]
fn forward_trace_raw_lot_automatic_index_off(bencher: Bencher) {
    bench_trace(bencher, Variant::AutomaticIndexOff, Direction::Forward);
}

fn bench_trace(bencher: Bencher, variant: Variant, direction: Direction) {
    let fx = fixture();
    let mes = fx.mes(variant);
    let pool = fx.pool(direction);
    let mut rng = Rng::new(0x0b5e_55ed);
    bencher
        .with_inputs(|| pool[rng.below(pool.len())].clone())
        .bench_local_values(|lot| {
            fx.rt
                .block_on(mes.trace(&lot, direction, MAX_DEPTH))
                .expect("trace")
        });
}

/// How the MES connections are set up for a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    /// Exactly as `Mes::open` sets them up.
    AsBuilt,
    /// Plus `PRAGMA automatic_index = OFF` on every pooled connection: a diagnostic of the
    /// query plans (the planner of the bundled SQLite otherwise builds an automatic index over
    /// `step_lots` in every trace query instead of using `step_lots_by_step`).
    AutomaticIndexOff,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::AsBuilt => "as-built",
            Variant::AutomaticIndexOff => "automatic-index-off",
        }
    }
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    mes: Mes,
    /// A second pool on the same file, with automatic indexes off.
    no_automatic_index: Mes,
    /// Top-level (flake) lots.
    top: Vec<String>,
    /// Level-0 (concentrate) lots.
    raw: Vec<String>,
}

impl Fixture {
    fn mes(&self, variant: Variant) -> &Mes {
        match variant {
            Variant::AsBuilt => &self.mes,
            Variant::AutomaticIndexOff => {
                // Pooled connections may be replaced: set the pragma on all of them each time.
                self.rt
                    .block_on(automatic_index_off(&self.no_automatic_index));
                &self.no_automatic_index
            }
        }
    }

    /// Lots traces start from: top-level lots backward, raw lots forward.
    fn pool(&self, direction: Direction) -> &[String] {
        match direction {
            Direction::Backward => &self.top,
            Direction::Forward => &self.raw,
        }
    }
}

/// Sets `PRAGMA automatic_index = OFF` on every connection of the MES's pool (SQLite: 4).
async fn automatic_index_off(mes: &Mes) {
    let pool = mes.db().pool();
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut conn = pool.acquire().await.expect("connection");
        sqlx::query("PRAGMA automatic_index = OFF")
            .execute(&mut *conn)
            .await
            .expect("pragma");
        held.push(conn);
    }
}

static FIXTURE: OnceLock<Fixture> = OnceLock::new();

fn fixture() -> &'static Fixture {
    FIXTURE.get_or_init(open_or_build)
}

fn requested_lots() -> usize {
    match std::env::var("LODESTONE_MES_BENCH_LOTS") {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("LODESTONE_MES_BENCH_LOTS='{v}' is not a number")),
        Err(_) => DEFAULT_LOTS,
    }
}

/// FNV-1a over the SQLite migration files (names and contents): changes when the schema does.
fn schema_fingerprint() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .collect();
    files.sort();
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for file in files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for byte in name.bytes().chain(text) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

fn open_or_build() -> Fixture {
    let lots = requested_lots();
    let label = if lots == 1_000_000 {
        "1m".to_string()
    } else {
        lots.to_string()
    };
    let path = bench_dir().join(format!("genealogy-{label}.db"));
    let meta_path = path.with_extension("db.meta");
    let key = format!(
        "lots={lots}\ngenerator={GENERATOR_VERSION}\nschema={}\n",
        schema_fingerprint()
    );
    let meta = std::fs::read_to_string(&meta_path).unwrap_or_default();
    let force = std::env::var("LODESTONE_MES_BENCH_REBUILD").is_ok_and(|v| v == "1");
    let rt = runtime();
    let url = path.to_str().expect("UTF-8 path").to_string();
    let build_seconds = if !force && path.exists() && meta.starts_with(&key) {
        let built = meta
            .lines()
            .find_map(|l| l.strip_prefix("build_seconds="))
            .unwrap_or("?")
            .to_string();
        eprintln!(
            "[mes-bench] genealogy: cached {} (built in {built} s; LODESTONE_MES_BENCH_REBUILD=1 rebuilds)",
            path.display()
        );
        built
    } else {
        let _ = std::fs::remove_file(&meta_path);
        remove_sqlite(&path);
        eprintln!(
            "[mes-bench] genealogy: building {lots} lots in {} (cached afterwards)",
            path.display()
        );
        let started = Instant::now();
        let events = rt.block_on(build(&url, lots));
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "[mes-bench] genealogy: built {lots} lots, {events} events in {seconds:.0} s ({:.0} commands/s)",
            events as f64 / seconds
        );
        std::fs::write(&meta_path, format!("{key}build_seconds={seconds:.0}\n"))
            .unwrap_or_else(|e| panic!("{}: {e}", meta_path.display()));
        format!("{seconds:.0}")
    };
    let mes = rt.block_on(Mes::open(&url)).expect("open the genealogy");
    let (top, raw, count, events) = rt.block_on(async {
        let ids = |definition: &'static str| {
            let mes = &mes;
            async move {
                sqlx::query("SELECT id FROM lots WHERE definition = $1 ORDER BY id")
                    .bind(definition)
                    .fetch_all(mes.db().pool())
                    .await
                    .expect("lot ids")
                    .iter()
                    .map(|r| r.get::<String, _>("id"))
                    .collect::<Vec<String>>()
            }
        };
        let scalar = |sql: &'static str| {
            let mes = &mes;
            async move {
                let row = sqlx::query(sql)
                    .fetch_one(mes.db().pool())
                    .await
                    .expect(sql);
                row.get::<i64, _>(0)
            }
        };
        (
            ids("ndfeb-flake").await,
            ids("bastnasite-concentrate").await,
            scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM lots").await,
            scalar("SELECT seq FROM chain_head WHERE id = 1").await,
        )
    });
    assert_eq!(count as usize, lots, "lots in {}", path.display());
    let size_mb = ["", "-wal"]
        .iter()
        .filter_map(|s| std::fs::metadata(format!("{url}{s}")).ok())
        .map(|m| m.len())
        .sum::<u64>() as f64
        / 1e6;
    eprintln!(
        "[mes-bench] genealogy: lots={count} events={events} top_level_lots={} raw_lots={} file_mb={size_mb:.0} build_seconds={build_seconds}",
        top.len(),
        raw.len()
    );
    let no_automatic_index = rt
        .block_on(Mes::open(&url))
        .expect("open the genealogy again");
    Fixture {
        rt,
        mes,
        no_automatic_index,
        top,
        raw,
    }
}

/// Times traces from random lots and prints median, p95 and the lots reached: up to
/// [`SAMPLES`] per direction and variant, within [`REPORT_BUDGET`].
fn report(fx: &Fixture) {
    for variant in [Variant::AsBuilt, Variant::AutomaticIndexOff] {
        for direction in [Direction::Backward, Direction::Forward] {
            let pool = fx.pool(direction);
            let mes = fx.mes(variant);
            let mut rng = Rng::new(42);
            let lot = &pool[rng.below(pool.len())];
            fx.rt
                .block_on(mes.trace(lot, direction, MAX_DEPTH))
                .expect("warm-up trace");
            let mut times = Vec::with_capacity(SAMPLES);
            let mut reached = Vec::with_capacity(SAMPLES);
            let mut steps = Vec::with_capacity(SAMPLES);
            let mut depth = Vec::with_capacity(SAMPLES);
            let started = Instant::now();
            while times.len() < SAMPLES
                && (times.len() < MIN_SAMPLES || started.elapsed() < REPORT_BUDGET)
            {
                let lot = &pool[rng.below(pool.len())];
                let t = Instant::now();
                let trace = fx
                    .rt
                    .block_on(mes.trace(lot, direction, MAX_DEPTH))
                    .expect("trace");
                times.push(ms(t.elapsed()));
                reached.push((trace.lots.len() - 1) as f64);
                steps.push(trace.steps.len() as f64);
                depth.push(trace.lots.iter().map(|(_, d)| *d).max().unwrap_or(0) as f64);
            }
            let t = summarize(&times);
            let r = summarize(&reached);
            let s = summarize(&steps);
            let d = summarize(&depth);
            let direction = match direction {
                Direction::Backward => "backward from=top-level",
                Direction::Forward => "forward from=raw",
            };
            eprintln!(
                "[mes-bench] trace direction={direction} variant={} n={} median_ms={:.2} p95_ms={:.2} \
                 max_ms={:.2} mean_ms={:.2} lots_reached_median={:.0} lots_reached_min={:.0} \
                 lots_reached_max={:.0} steps_median={:.0} depth_max={:.0}",
                variant.name(),
                t.n,
                t.median,
                t.p95,
                t.max,
                t.mean,
                r.median,
                r.min,
                r.max,
                s.median,
                d.max
            );
        }
    }
}

/// How a level's lots are made.
enum Make {
    /// Received from a supplier.
    Receive,
    /// By orders of a work master on units with a prefix, each consuming 2–4 lots below.
    Order {
        work_master: &'static str,
        unit: &'static str,
        order_prefix: &'static str,
        yield_fraction: f64,
    },
    /// Each lot below split into 3–6.
    Split,
    /// 2–4 consecutive lots below merged into one of a definition.
    Merge { definition: &'static str },
}

struct Stage {
    lot_prefix: &'static str,
    make: Make,
}

const STAGES: [Stage; 11] = [
    Stage {
        lot_prefix: "CONC",
        make: Make::Receive,
    },
    Stage {
        lot_prefix: "LIQ",
        make: Make::Order {
            work_master: "ROAST-LEACH",
            unit: "roast",
            order_prefix: "RL",
            yield_fraction: 1.45,
        },
    },
    Stage {
        lot_prefix: "TANK",
        make: Make::Split,
    },
    Stage {
        lot_prefix: "FEED",
        make: Make::Merge {
            definition: "sx-feed",
        },
    },
    Stage {
        lot_prefix: "OX",
        make: Make::Order {
            work_master: "SX-PRND",
            unit: "sx",
            order_prefix: "SX",
            yield_fraction: 0.25,
        },
    },
    Stage {
        lot_prefix: "DRUM",
        make: Make::Split,
    },
    Stage {
        lot_prefix: "OXB",
        make: Make::Merge {
            definition: "prnd-oxide-blend",
        },
    },
    Stage {
        lot_prefix: "MET",
        make: Make::Order {
            work_master: "ELECTROLYSIS",
            unit: "cell",
            order_prefix: "EL",
            yield_fraction: 0.83,
        },
    },
    Stage {
        lot_prefix: "BOX",
        make: Make::Split,
    },
    Stage {
        lot_prefix: "METB",
        make: Make::Merge {
            definition: "prnd-metal-blend",
        },
    },
    Stage {
        lot_prefix: "FLK",
        make: Make::Order {
            work_master: "VIM-SC-BLEND",
            unit: "vim",
            order_prefix: "VIM",
            yield_fraction: 0.99,
        },
    },
];

/// Sends commands in batches and reports progress.
struct Builder<'a> {
    mes: &'a Mes,
    session: Session,
    pending: Vec<Envelope>,
    events: usize,
    lots: usize,
    target_lots: usize,
    bar: indicatif::ProgressBar,
    started: Instant,
    next_line: Duration,
}

impl Builder<'_> {
    async fn push(&mut self, command: Command, new_lots: usize) {
        self.pending.push(command.into());
        self.lots += new_lots;
        if self.pending.len() >= BATCH {
            self.flush().await;
        }
    }

    async fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut self.pending);
        if let Err(e) = self.mes.execute_batch(&self.session, &batch).await {
            panic!("building the genealogy: {e}");
        }
        self.events += batch.len();
        self.bar.set_position(self.lots as u64);
        self.bar.set_message(format!("{} events", self.events));
        // Without a terminal the bar is hidden: print a line every 30 s instead.
        if self.bar.is_hidden() && self.started.elapsed() >= self.next_line {
            self.next_line += Duration::from_secs(30);
            let s = self.started.elapsed().as_secs_f64();
            eprintln!(
                "[mes-bench] genealogy: {}/{} lots ({:.1} %), {} events, {:.0} s, {:.0} events/s",
                self.lots,
                self.target_lots,
                100.0 * self.lots as f64 / self.target_lots as f64,
                self.events,
                s,
                self.events as f64 / s
            );
        }
    }
}

fn lot_id(prefix: &str, i: usize) -> String {
    format!("{prefix}-{i:07}")
}

/// Builds the genealogy; returns the number of events recorded.
async fn build(url: &str, target_lots: usize) -> usize {
    // Expected lots per concentrate lot over the eleven levels (see the table at the top):
    // 1 + 3 × (2/3 + 3 + 1) + 2/3 = 15 2/3.
    let raw_lots = ((target_lots as f64 / (47.0 / 3.0)).round() as usize).max(4);
    assert!(target_lots >= 100, "at least 100 lots");
    let mes = Mes::create(url)
        .await
        .expect("create the genealogy database");
    let sessions = common::define_plant(&mes).await;
    let bar = indicatif::ProgressBar::with_draw_target(
        Some(target_lots as u64),
        indicatif::ProgressDrawTarget::stderr_with_hz(2),
    );
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {human_pos}/{human_len} lots ({per_sec}, eta {eta}) {msg}",
        )
        .expect("progress template")
        .progress_chars("=> "),
    );
    let mut b = Builder {
        mes: &mes,
        session: sessions.engineer,
        pending: Vec::with_capacity(BATCH),
        events: 0,
        lots: 0,
        target_lots,
        bar,
        started: Instant::now(),
        next_line: Duration::from_secs(30),
    };
    let mut rng = Rng::new(0x10de_5702e);
    // Lots of the level below: (id, kg). Each level is consumed only by the next one.
    let mut below: Vec<(String, f64)> = Vec::new();
    let last = STAGES.len() - 1;
    for (level, stage) in STAGES.iter().enumerate() {
        let mut made: Vec<(String, f64)> = Vec::new();
        match stage.make {
            Make::Receive => {
                for i in 0..raw_lots {
                    let id = lot_id(stage.lot_prefix, i);
                    let kg = 1000.0 + rng.below(1000) as f64;
                    b.push(
                        Command::ReceiveLot {
                            lot: id.clone(),
                            definition: "bastnasite-concentrate".into(),
                            quantity_kg: kg,
                            supplier_lot: Some(format!("BAYAN-OBO-{:06}", i / 4)),
                            location: Some("store".into()),
                            composition_wt_pct: common::composition(&[
                                ("La", 17.0),
                                ("Ce", 25.0),
                                ("Pr", 2.6),
                                ("Nd", 8.4),
                            ]),
                            disposition: None,
                            at: None,
                        },
                        1,
                    )
                    .await;
                    made.push((id, kg));
                }
            }
            Make::Order {
                work_master,
                unit,
                order_prefix,
                yield_fraction,
            } => {
                let n_in = below.len();
                let orders = if level == last {
                    target_lots
                        .checked_sub(b.lots)
                        .filter(|n| *n > 0)
                        .expect("room for the top level")
                } else {
                    (n_in * 2).div_ceil(3)
                };
                // FIFO windows: order j takes k consecutive lots from about j·n_in/orders.
                let windows: Vec<(usize, usize)> = (0..orders)
                    .map(|j| {
                        let k = rng.range(2, 4).min(n_in);
                        let start = (j * n_in / orders).min(n_in - k);
                        (start, k)
                    })
                    .collect();
                let mut users = vec![0usize; n_in];
                for &(start, k) in &windows {
                    for u in &mut users[start..start + k] {
                        *u += 1;
                    }
                }
                let initial: Vec<f64> = below.iter().map(|(_, kg)| *kg).collect();
                let shares = users.clone();
                for (j, &(start, k)) in windows.iter().enumerate() {
                    let order = format!("{order_prefix}-{j:07}");
                    b.push(
                        Command::CreateOrder {
                            id: order.clone(),
                            work_master: work_master.into(),
                            planned_kg: 1000.0,
                            equipment: Some(unit_id(unit, j)),
                            priority: 0,
                        },
                        0,
                    )
                    .await;
                    for action in [OrderAction::Release, OrderAction::Start] {
                        b.push(order_action(&order, action), 0).await;
                    }
                    let mut consumed = 0.0;
                    for i in start..start + k {
                        // Equal shares; the last user takes what is left, so the lot is used up.
                        let kg = if users[i] == 1 {
                            below[i].1
                        } else {
                            initial[i] / shares[i] as f64
                        };
                        users[i] -= 1;
                        below[i].1 -= kg;
                        consumed += kg;
                        b.push(
                            Command::Consume {
                                order: order.clone(),
                                lot: below[i].0.clone(),
                                quantity_kg: kg,
                                at: None,
                            },
                            0,
                        )
                        .await;
                    }
                    let id = lot_id(stage.lot_prefix, j);
                    let kg = consumed * yield_fraction;
                    b.push(
                        Command::Produce {
                            order: order.clone(),
                            lot: id.clone(),
                            quantity_kg: kg,
                            material_use: None,
                            definition: None,
                            composition_wt_pct: Default::default(),
                            location: None,
                            at: None,
                        },
                        1,
                    )
                    .await;
                    b.push(order_action(&order, OrderAction::Complete), 0).await;
                    made.push((id, kg));
                }
            }
            Make::Split => {
                for (source, kg) in &below {
                    let n = rng.range(3, 6);
                    let part = (kg / n as f64 * 1000.0).floor() / 1000.0;
                    let mut parts = Vec::with_capacity(n);
                    for p in 0..n {
                        let q = if p + 1 == n {
                            kg - part * (n - 1) as f64
                        } else {
                            part
                        };
                        let id = lot_id(stage.lot_prefix, made.len());
                        parts.push(LotQuantity {
                            lot: id.clone(),
                            quantity_kg: q,
                        });
                        made.push((id, q));
                    }
                    b.push(
                        Command::SplitLot {
                            source: source.clone(),
                            parts,
                            at: None,
                        },
                        n,
                    )
                    .await;
                }
            }
            Make::Merge { definition } => {
                let mut i = 0;
                while i < below.len() {
                    let m = rng.range(2, 4).min(below.len() - i);
                    let sources: Vec<LotQuantity> = below[i..i + m]
                        .iter()
                        .map(|(lot, kg)| LotQuantity {
                            lot: lot.clone(),
                            quantity_kg: *kg,
                        })
                        .collect();
                    let total = sources.iter().fold(0.0, |t, s| t + s.quantity_kg);
                    let id = lot_id(stage.lot_prefix, made.len());
                    b.push(
                        Command::MergeLots {
                            sources,
                            lot: id.clone(),
                            definition: Some(definition.into()),
                            location: Some("store".into()),
                            at: None,
                        },
                        1,
                    )
                    .await;
                    made.push((id, total));
                    i += m;
                }
            }
        }
        below = made;
    }
    b.flush().await;
    b.bar.finish();
    assert_eq!(b.lots, target_lots, "lots made");
    let events = b.events;
    mes.close().await;
    events
}

fn order_action(order: &str, action: OrderAction) -> Command {
    Command::OrderAction {
        order: order.into(),
        action,
        equipment: None,
        at: None,
    }
}
