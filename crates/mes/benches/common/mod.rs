//! Shared by the MES benches (`genealogy`, `ingest`): a rare-earth plant (equipment, material
//! classes and definitions, work masters, users), a small deterministic random generator,
//! timing statistics and the output directory `target/mes-bench/`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use lodestone_mes::model::{Equipment, EquipmentLevel, MaterialDefinition, Role};
use lodestone_mes::{Command, Envelope, Mes, Session};

/// `target/mes-bench/` of the workspace (or of `CARGO_TARGET_DIR`), created if missing.
pub fn bench_dir() -> PathBuf {
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let workspace = std::fs::canonicalize(&workspace).unwrap_or(workspace);
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    };
    let dir = target.join("mes-bench");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir
}

/// Removes an SQLite database and its WAL and shared-memory files.
pub fn remove_sqlite(path: &std::path::Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// A single-threaded tokio runtime for driving the async MES from sync bench code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// SplitMix64: small, fast, deterministic; good enough to pick lots and fan-ins.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.below(hi - lo + 1)
    }
}

/// Median, 95th percentile and extremes of a sample.
#[derive(Debug, Clone, Copy)]
pub struct Summary {
    /// Sample size.
    pub n: usize,
    /// Smallest.
    pub min: f64,
    /// Median.
    pub median: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Summary of `values` (any unit).
pub fn summarize(values: &[f64]) -> Summary {
    assert!(!values.is_empty(), "empty sample");
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let rank = |q: f64| v[((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
    Summary {
        n: v.len(),
        min: v[0],
        median: if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        },
        p95: rank(0.95),
        max: v[v.len() - 1],
        mean: v.iter().sum::<f64>() / v.len() as f64,
    }
}

/// Milliseconds of a duration.
pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn unit(id: &str, level: EquipmentLevel, parent: &str) -> Command {
    Command::DefineEquipment(Equipment {
        id: id.into(),
        name: id.to_uppercase(),
        level,
        parent: Some(parent.into()),
        ideal_cycle_s: None,
    })
}

/// Units of each processing area: (area, unit prefix, how many).
pub const UNITS: [(&str, &str, usize); 4] = [
    ("separation", "roast", 4),
    ("separation", "sx", 2),
    ("metal", "cell", 8),
    ("alloy", "vim", 3),
];

/// The unit `index` (wrapping) of a prefix in [`UNITS`], e.g. `cell-03`.
pub fn unit_id(prefix: &str, index: usize) -> String {
    let count = UNITS
        .iter()
        .find(|(_, p, _)| *p == prefix)
        .map(|(_, _, n)| *n)
        .unwrap_or_else(|| panic!("no unit prefix {prefix}"));
    format!("{prefix}-{:02}", index % count + 1)
}

/// Material definitions: (id, class).
pub const DEFINITIONS: [(&str, &str); 13] = [
    ("bastnasite-concentrate", "concentrate"),
    ("re-chloride-liquor", "intermediate"),
    ("sx-feed", "intermediate"),
    ("prnd-oxide", "oxide"),
    ("prnd-oxide-blend", "oxide"),
    ("prnd-metal", "metal"),
    ("prnd-metal-blend", "metal"),
    ("ndfeb-flake", "alloy"),
    ("PrNd-metal", "metal"),
    ("Fe", "metal"),
    ("FeB", "metal"),
    ("Dy-Fe", "metal"),
    ("NdFeB-flake", "alloy"),
];

/// A work master: id, process segment, product, bill (definition, kg per kg).
pub type WorkMasterRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, f64)],
);

/// Work masters.
pub const WORK_MASTERS: [WorkMasterRow; 5] = [
    (
        "ROAST-LEACH",
        "roast-and-leach",
        "re-chloride-liquor",
        &[("bastnasite-concentrate", 1.6)],
    ),
    (
        "SX-PRND",
        "sx-precipitate-calcine",
        "prnd-oxide",
        &[("sx-feed", 4.0)],
    ),
    (
        "ELECTROLYSIS",
        "fluoride-electrolysis",
        "prnd-metal",
        &[("prnd-oxide-blend", 1.2)],
    ),
    (
        "VIM-SC-BLEND",
        "melt-and-cast",
        "ndfeb-flake",
        &[("prnd-metal-blend", 1.0)],
    ),
    (
        "VIM-SC-N52",
        "melt-and-cast",
        "NdFeB-flake",
        &[("PrNd-metal", 0.31), ("Fe", 0.6), ("FeB", 0.09)],
    ),
];

/// Sessions on a freshly defined plant.
pub struct Sessions {
    /// Administrator.
    pub admin: Session,
    /// Planner: creates and releases orders.
    pub planner: Session,
    /// Furnace line (operator): sends production events.
    pub line: Session,
    /// Process engineer: plans and executes (for building genealogies in mixed batches).
    pub engineer: Session,
}

/// Defines the plant on an empty MES (one batch) and logs its users in.
pub async fn define_plant(mes: &Mes) -> Sessions {
    let admin = mes
        .bootstrap_admin("admin", "Ada Admin", "admin-password")
        .await
        .expect("bootstrap admin");
    let mut commands = vec![
        Command::DefineEquipment(Equipment {
            id: "baotou".into(),
            name: "Baotou works".into(),
            level: EquipmentLevel::Site,
            parent: None,
            ideal_cycle_s: None,
        }),
        unit("separation", EquipmentLevel::Area, "baotou"),
        unit("metal", EquipmentLevel::Area, "baotou"),
        unit("alloy", EquipmentLevel::Area, "baotou"),
        unit("store", EquipmentLevel::StorageZone, "baotou"),
    ];
    for (area, prefix, count) in UNITS {
        for i in 0..count {
            commands.push(unit(&unit_id(prefix, i), EquipmentLevel::Unit, area));
        }
    }
    for class in ["concentrate", "intermediate", "oxide", "metal", "alloy"] {
        commands.push(Command::DefineMaterialClass {
            id: class.into(),
            name: class.into(),
            receipt: Some(lodestone_mes::model::ReceiptPolicy::Certificate),
        });
    }
    for (id, class) in DEFINITIONS {
        commands.push(Command::DefineMaterialDefinition(MaterialDefinition {
            id: id.into(),
            name: id.into(),
            class: class.into(),
        }));
    }
    for (_, segment, _, _) in WORK_MASTERS {
        commands.push(Command::DefineProcessSegment {
            id: segment.into(),
            name: segment.into(),
            equipment_level: None,
        });
    }
    for (id, segment, product, bill) in WORK_MASTERS {
        commands.push(Command::DefineWorkMaster {
            id: id.into(),
            segment: segment.into(),
            product: product.into(),
            bill_kg_per_kg: bill.iter().map(|(d, kg)| (d.to_string(), *kg)).collect(),
            parameters: BTreeMap::new(),
        });
    }
    for (id, role) in [
        ("planner", Role::Planner),
        ("line", Role::Operator),
        ("engineer", Role::Engineer),
    ] {
        commands.push(Command::CreateUser {
            id: id.into(),
            name: id.into(),
            roles: vec![role],
            password: format!("{id}-password"),
        });
    }
    let envelopes: Vec<Envelope> = commands.into_iter().map(Envelope::from).collect();
    mes.execute_batch(&admin, &envelopes)
        .await
        .expect("define the plant");
    let login = |id: &'static str| async move {
        mes.login(id, &format!("{id}-password"))
            .await
            .expect("log in")
    };
    Sessions {
        planner: login("planner").await,
        line: login("line").await,
        engineer: login("engineer").await,
        admin,
    }
}

/// Composition of a lot as a map.
pub fn composition(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
    pairs.iter().map(|(e, w)| (e.to_string(), *w)).collect()
}
