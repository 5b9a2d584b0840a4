//! Durability: a process killed with SIGKILL while it ingests loses no acknowledged event.
//!
//! The test re-executes its own binary as a child (`crash_child`, selected with `--exact` and
//! marked by an environment variable) that ingests batches of a furnace line's events (orders,
//! consumption, production, each with a client id) and prints, after every `execute_batch` that
//! returned Ok, the batch and the sequence number and client id of its last event, flushing each
//! line. The parent kills the child with SIGKILL after a random delay, mid-ingest, then reopens
//! the database: every acknowledged event must be there (by seq and client id), the hash chain
//! must verify, and ingest must continue — the first batch after the last acknowledgement is
//! resent with the same client ids, as equipment does after a lost answer, and must be recorded
//! exactly once whether or not it had committed before the kill. Several kill rounds, then a
//! final count: setup events + batches × events per batch, no more, no fewer.
//!
//! SQLite always; PostgreSQL too when reachable (`LODESTONE_REQUIRE_SERVICES=1` makes an
//! unreachable server a failure, as in `tests/common`).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command as Process, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use lodestone_mes::model::{Equipment, EquipmentLevel, MaterialDefinition, OrderAction, Role};
use lodestone_mes::{Command, Envelope, Mes};
use sqlx::Row;

/// Environment of the child: the database URL (its presence selects child mode) and the first
/// batch to send.
const CHILD_URL: &str = "LODESTONE_MES_CRASH_CHILD_URL";
const CHILD_FROM: &str = "LODESTONE_MES_CRASH_CHILD_FROM";
/// Heats per batch; each heat is 8 events.
const HEATS_PER_BATCH: usize = 10;
const EVENTS_PER_HEAT: usize = 8;
const EVENTS_PER_BATCH: usize = HEATS_PER_BATCH * EVENTS_PER_HEAT;
/// The child stops by itself after this many batches (it is always killed long before).
const CHILD_MAX_BATCHES: usize = 100_000;
/// Kill rounds per backend.
const ROUNDS: usize = 3;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn services_required() -> bool {
    std::env::var("LODESTONE_REQUIRE_SERVICES").is_ok_and(|v| v == "1")
}

fn order_action(order: &str, action: OrderAction) -> Command {
    Command::OrderAction {
        order: order.into(),
        action,
        equipment: None,
        at: None,
    }
}

/// The client id of event `n` (0-based) of heat `heat`.
fn key(heat: usize, n: usize) -> String {
    format!("vim-01:H-{heat:07}:{n}")
}

/// Batch `batch`: for each of its heats, create, release and start the order, consume three
/// raw lots, produce the flake lot, complete the order; every event with a client id.
fn batch_events(batch: usize) -> Vec<Envelope> {
    let mut events = Vec::with_capacity(EVENTS_PER_BATCH);
    for heat in batch * HEATS_PER_BATCH..(batch + 1) * HEATS_PER_BATCH {
        let order = format!("H-{heat:07}");
        let mut commands = vec![
            Command::CreateOrder {
                id: order.clone(),
                work_master: "VIM-SC-N52".into(),
                planned_kg: 600.0,
                equipment: Some("vim-01".into()),
                priority: 0,
            },
            order_action(&order, OrderAction::Release),
            order_action(&order, OrderAction::Start),
        ];
        for (lot, kg) in [("PRND-1", 186.0), ("FE-1", 360.0), ("FEB-1", 54.0)] {
            commands.push(Command::Consume {
                order: order.clone(),
                lot: lot.into(),
                quantity_kg: kg,
                at: None,
            });
        }
        commands.push(Command::Produce {
            order: order.clone(),
            lot: format!("FLAKE-{heat:07}"),
            quantity_kg: 594.0,
            material_use: None,
            definition: None,
            composition_wt_pct: Default::default(),
            location: None,
            at: None,
        });
        commands.push(order_action(&order, OrderAction::Complete));
        assert_eq!(commands.len(), EVENTS_PER_HEAT);
        for (n, command) in commands.into_iter().enumerate() {
            events.push(Envelope::from(command).with_client_id(key(heat, n)));
        }
    }
    events
}

/// Defines a one-furnace plant, the line's user and raw stock; returns the events recorded.
async fn setup(url: &str) -> i64 {
    let mes = Mes::create(url).await.expect("create the MES");
    let admin = mes
        .bootstrap_admin("admin", "Ada Admin", "admin-password")
        .await
        .expect("bootstrap");
    let equipment = |id: &str, level, parent: Option<&str>| {
        Command::DefineEquipment(Equipment {
            id: id.into(),
            name: id.into(),
            level,
            parent: parent.map(str::to_string),
            ideal_cycle_s: None,
        })
    };
    let definition = |id: &str, class: &str| {
        Command::DefineMaterialDefinition(MaterialDefinition {
            id: id.into(),
            name: id.into(),
            class: class.into(),
        })
    };
    let mut commands = vec![
        equipment("plant", EquipmentLevel::Site, None),
        equipment("vim-01", EquipmentLevel::Unit, Some("plant")),
        Command::DefineMaterialClass {
            id: "metal".into(),
            name: "Metals".into(),
            receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
        },
        Command::DefineMaterialClass {
            id: "alloy".into(),
            name: "Alloys".into(),
            receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
        },
        definition("PrNd-metal", "metal"),
        definition("Fe", "metal"),
        definition("FeB", "metal"),
        definition("NdFeB-flake", "alloy"),
        Command::DefineProcessSegment {
            id: "melt-and-cast".into(),
            name: "Melt and cast".into(),
            equipment_level: None,
        },
        Command::DefineWorkMaster {
            id: "VIM-SC-N52".into(),
            segment: "melt-and-cast".into(),
            product: "NdFeB-flake".into(),
            bill_kg_per_kg: [("PrNd-metal", 0.31), ("Fe", 0.6), ("FeB", 0.09)]
                .iter()
                .map(|(d, kg)| (d.to_string(), *kg))
                .collect(),
            parameters: Default::default(),
        },
        Command::CreateUser {
            id: "line".into(),
            name: "Furnace line 1".into(),
            roles: vec![Role::Planner, Role::Operator],
            password: "line-password".into(),
        },
    ];
    for (lot, def) in [("PRND-1", "PrNd-metal"), ("FE-1", "Fe"), ("FEB-1", "FeB")] {
        commands.push(Command::ReceiveLot {
            lot: lot.into(),
            definition: def.into(),
            quantity_kg: 1e8,
            supplier_lot: None,
            location: None,
            composition_wt_pct: Default::default(),
            // Released against the supplier's certificate (the class allows it).
            disposition: Some(lodestone_mes::model::Disposition::Released),
            at: None,
        });
    }
    let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
    mes.execute_batch(&admin, &envelopes).await.expect("setup");
    let head = chain_head(&mes).await;
    mes.close().await;
    head
}

async fn chain_head(mes: &Mes) -> i64 {
    sqlx::query("SELECT seq FROM chain_head WHERE id = 1")
        .fetch_one(mes.db().pool())
        .await
        .expect("chain head")
        .get::<i64, _>("seq")
}

/// The child: ingest batches from `CHILD_FROM` on, acknowledging each on stdout.
#[test]
#[ignore = "the child process of the crash tests; they start it themselves"]
fn crash_child() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
    let from: usize = std::env::var(CHILD_FROM)
        .expect("first batch")
        .parse()
        .expect("first batch number");
    runtime().block_on(async {
        let mes = Mes::open(&url).await.expect("child: open");
        let line = mes
            .login("line", "line-password")
            .await
            .expect("child: log in");
        let stdout = std::io::stdout();
        for batch in from..from + CHILD_MAX_BATCHES {
            let envelopes = batch_events(batch);
            let receipts = mes
                .execute_batch(&line, &envelopes)
                .await
                .expect("child: batch");
            let last = receipts.last().expect("receipts");
            let mut out = stdout.lock();
            writeln!(
                out,
                "ACK batch={batch} seq={} client_id={}",
                last.seq,
                envelopes.last().unwrap().client_id.as_deref().unwrap()
            )
            .and_then(|()| out.flush())
            .expect("child: stdout");
        }
    });
}

/// One acknowledgement read from the child.
#[derive(Debug, Clone, PartialEq)]
struct Ack {
    batch: usize,
    seq: i64,
    client_id: String,
}

fn parse_ack(line: &str) -> Option<Ack> {
    let rest = &line[line.find("ACK ")? + 4..];
    let mut batch = None;
    let mut seq = None;
    let mut client_id = None;
    for field in rest.split_whitespace() {
        match field.split_once('=')? {
            ("batch", v) => batch = v.parse().ok(),
            ("seq", v) => seq = v.parse().ok(),
            ("client_id", v) => client_id = Some(v.to_string()),
            _ => {}
        }
    }
    Some(Ack {
        batch: batch?,
        seq: seq?,
        client_id: client_id?,
    })
}

/// A small random generator seeded from the clock (the seed is printed).
fn random_delays(seed: u64) -> impl Iterator<Item = Duration> {
    let mut state = seed;
    std::iter::repeat_with(move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Duration::from_millis(50 + (z ^ (z >> 31)) % 600)
    })
}

/// Starts the child on `url` from batch `from`, waits for its first acknowledgement, lets it run
/// for `delay`, kills it with SIGKILL and returns every acknowledgement it printed.
fn ingest_and_kill(backend: &str, url: &str, from: usize, delay: Duration) -> Vec<Ack> {
    let mut child = Process::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "crash_child",
            "--nocapture",
            "--include-ignored",
            "--test-threads=1",
        ])
        .env(CHILD_URL, url)
        .env(CHILD_FROM, from.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the child");
    let stdout = child.stdout.take().expect("child stdout");
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(ack) = parse_ack(&line) {
                if tx.send(ack).is_err() {
                    break;
                }
            }
        }
    });
    let mut acks = Vec::new();
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(ack) => acks.push(ack),
        Err(e) => {
            let _ = child.kill();
            let status = child.wait();
            panic!("{backend}: no acknowledgement from the child ({e}); it ended with {status:?}");
        }
    }
    std::thread::sleep(delay);
    assert!(
        child.try_wait().expect("child status").is_none(),
        "{backend}: the child stopped by itself before it was killed"
    );
    child.kill().expect("SIGKILL the child");
    let status = child.wait().expect("reap the child");
    assert_eq!(
        status.signal(),
        Some(9),
        "{backend}: the child was killed by SIGKILL ({status:?})"
    );
    reader.join().expect("reader thread");
    acks.extend(rx.try_iter());
    for (a, b) in acks.iter().zip(acks.iter().skip(1)) {
        assert_eq!(b.batch, a.batch + 1, "{backend}: acknowledgements in order");
    }
    acks
}

/// How many events of batch `batch` are stored (by client id).
async fn stored_of_batch(mes: &Mes, batch: usize) -> i64 {
    let keys: Vec<String> = batch_events(batch)
        .into_iter()
        .map(|e| e.client_id.unwrap())
        .collect();
    let placeholders: Vec<String> = (1..=keys.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "SELECT CAST(COUNT(*) AS BIGINT) AS n FROM events WHERE client_id IN ({})",
        placeholders.join(", ")
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for k in keys {
        query = query.bind(k);
    }
    query
        .fetch_one(mes.db().pool())
        .await
        .expect("count a batch")
        .get("n")
}

/// Checks that every acknowledged batch is stored whole and the chain verifies.
async fn check_acknowledged(backend: &str, mes: &Mes, acks: &[Ack]) {
    let report = mes
        .verify_chain()
        .await
        .unwrap_or_else(|e| panic!("{backend}: the chain does not verify after SIGKILL: {e}"));
    for ack in acks {
        assert!(
            ack.seq <= report.events,
            "{backend}: acknowledged seq {} is beyond the stored chain ({} events)",
            ack.seq,
            report.events
        );
        let row = sqlx::query("SELECT client_id FROM events WHERE seq = $1")
            .bind(ack.seq)
            .fetch_optional(mes.db().pool())
            .await
            .expect("read an event")
            .unwrap_or_else(|| panic!("{backend}: acknowledged event {} is lost", ack.seq));
        let client_id: Option<String> = row.get("client_id");
        assert_eq!(
            client_id.as_deref(),
            Some(ack.client_id.as_str()),
            "{backend}: event {} is not the acknowledged one",
            ack.seq
        );
        let n = stored_of_batch(mes, ack.batch).await;
        assert_eq!(
            n as usize, EVENTS_PER_BATCH,
            "{backend}: acknowledged batch {} is not stored whole",
            ack.batch
        );
    }
}

fn sigkill_rounds(backend: &str, url: &str) {
    let rt = runtime();
    let setup_events = rt.block_on(setup(url));
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_nanos() as u64;
    eprintln!("{backend}: delay seed {seed}");
    let started = Instant::now();
    let mut next = 0;
    let mut acknowledged = 0;
    for (round, delay) in random_delays(seed).take(ROUNDS).enumerate() {
        let acks = ingest_and_kill(backend, url, next, delay);
        assert_eq!(
            acks[0].batch, next,
            "{backend}: the child starts where told"
        );
        next = acks.last().unwrap().batch + 1;
        // The batch in flight at the kill is stored whole or not at all.
        let in_flight = rt.block_on(async {
            let mes = Mes::open(url).await.expect("reopen after SIGKILL");
            check_acknowledged(backend, &mes, &acks).await;
            let n = stored_of_batch(&mes, next).await;
            assert!(
                n == 0 || n as usize == EVENTS_PER_BATCH,
                "{backend}: batch {next}, in flight at the kill, is partly stored ({n} events)"
            );
            assert_eq!(stored_of_batch(&mes, next + 1).await, 0, "{backend}");
            mes.close().await;
            n > 0
        });
        acknowledged += acks.len();
        eprintln!(
            "{backend}: round {round}: killed after {delay:?}; {} batches acknowledged, all stored; \
             the batch in flight {}",
            acks.len(),
            if in_flight {
                "had committed (unacknowledged)"
            } else {
                "left nothing"
            }
        );
    }
    // Ingest continues: resend the batch that was in flight at the last kill (it may or may not
    // have committed), then a new one; each must be recorded exactly once.
    rt.block_on(async {
        let mes = Mes::open(url).await.expect("reopen");
        let line = mes.login("line", "line-password").await.expect("log in");
        for batch in [next, next + 1] {
            let receipts = mes
                .execute_batch(&line, &batch_events(batch))
                .await
                .unwrap_or_else(|e| panic!("{backend}: ingest after the crash: {e}"));
            assert_eq!(receipts.len(), EVENTS_PER_BATCH);
            let duplicates = receipts.iter().filter(|r| r.duplicate).count();
            assert!(
                duplicates == 0 || duplicates == EVENTS_PER_BATCH,
                "{backend}: a resent batch is all new or all duplicates ({duplicates})"
            );
        }
        let report = mes.verify_chain().await.expect("chain after resuming");
        assert_eq!(
            report.events,
            setup_events + ((next + 2) * EVENTS_PER_BATCH) as i64,
            "{backend}: every batch recorded exactly once"
        );
        let flakes: i64 =
            sqlx::query("SELECT CAST(COUNT(*) AS BIGINT) AS n FROM lots WHERE id LIKE 'FLAKE-%'")
                .fetch_one(mes.db().pool())
                .await
                .expect("count lots")
                .get("n");
        assert_eq!(flakes as usize, (next + 2) * HEATS_PER_BATCH, "{backend}");
        mes.close().await;
    });
    eprintln!(
        "{backend}: {ROUNDS} SIGKILLs, {acknowledged} acknowledged batches kept, resumed; {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn sigkill_during_ingest_loses_no_acknowledged_event_on_sqlite() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crash.db");
    sigkill_rounds("sqlite", path.to_str().expect("UTF-8 path"));
}

#[test]
fn sigkill_during_ingest_loses_no_acknowledged_event_on_postgres() {
    let created = runtime().block_on(lodestone_mes::db::create_postgres_database(
        &common::postgres_server_url(),
        "lodestone_test_crash",
    ));
    match created {
        Ok(url) => sigkill_rounds("postgres", &url),
        Err(e) if services_required() => {
            panic!("PostgreSQL is required (LODESTONE_REQUIRE_SERVICES=1) but unreachable: {e}")
        }
        Err(e) => eprintln!("skipped PostgreSQL: no server ({e})"),
    }
}
