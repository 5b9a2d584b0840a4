//! Charge benchmarks (divan): wall time of `charge()` — the three LP/MILP stages (elastic
//! feasibility, least deviation, least cost) plus assembling the weigh list — for one heat.
//! Target (issue: alloy charge optimiser): one heat < 20 ms, for the example plan and for a
//! 15-material, 12-element heat with integer pieces on several lots.
//!
//! Run: `cargo bench -p lodestone-alloy --bench charge` (or `scripts/bench_alloy.sh`). Each
//! plan is parsed once, outside the timed closure; before divan's table every heat is charged
//! once, untimed, and its outcome printed to stderr (`[alloy-bench] <name>: …`), so a heat that
//! stopped charging is not mistaken for a fast one.
//!
//! The 15-material heat is `scripts/peer/alloy-15-materials.toml` (continuous, the plan
//! `scripts/peer/alloy_highs.py` checks against scipy/HiGHS); `_pieces` adds whole pieces on
//! six of its lots (PrNd and Nd ingots, DyFe and Tb pieces, cobalt pieces, bags of returns).

use divan::{black_box, Bencher};
use lodestone_alloy::{charge, parse_plan, ChargeRequest};

fn main() {
    report_outcomes();
    divan::main();
}

/// The example: 600 kg low-B Ga heat, 9 lots (one on hold), PrNd in 2 kg ingots.
const EXAMPLE: &str = include_str!("../../../examples/alloy/n52-low-boron-600kg.toml");
/// 800 kg 45SH-type heat from 15 lots over 12 elements, continuous.
const FIFTEEN: &str = include_str!("../../../scripts/peer/alloy-15-materials.toml");

/// Lots of the 15-material heat charged in whole pieces: (the lot's price line, piece kg).
const PIECES: [(&str, f64); 6] = [
    ("price_per_kg = 530.0", 2.0),  // PN-2411-07 PrNd ingots
    ("price_per_kg = 560.0", 5.0),  // ND-2409-02 Nd ingots
    ("price_per_kg = 2100.0", 1.0), // DY-2408-05 DyFe
    ("price_per_kg = 7200.0", 0.5), // TB-2407-01 Tb
    ("price_per_kg = 230.0", 1.0),  // CO-2408-02 cobalt
    ("price_per_kg = 160.0", 10.0), // RT-2411-12 bags of returns
];

/// The 15-material heat with whole pieces on six lots.
fn fifteen_with_pieces() -> String {
    let mut text = FIFTEEN.to_string();
    for (line, piece) in PIECES {
        assert_eq!(text.matches(line).count(), 1, "{line}");
        text = text.replacen(line, &format!("{line}\npiece_kg = {piece:?}"), 1);
    }
    text
}

fn request(name: &str) -> ChargeRequest {
    let text = match name {
        "example_n52_low_boron_600kg" => EXAMPLE.to_string(),
        "fifteen_materials_continuous" => FIFTEEN.to_string(),
        "fifteen_materials_pieces" => fifteen_with_pieces(),
        other => panic!("unknown heat {other}"),
    };
    parse_plan(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

const HEATS: [&str; 3] = [
    "example_n52_low_boron_600kg",
    "fifteen_materials_continuous",
    "fifteen_materials_pieces",
];

fn report_outcomes() {
    for name in HEATS {
        let r = request(name);
        let pieces = r.lots.iter().filter(|l| l.piece_kg.is_some()).count();
        match charge(&r) {
            Ok(c) => eprintln!(
                "[alloy-bench] {name}: {} lots ({pieces} in pieces), charged {:.3} kg, cost {:.2}, on_aim={}",
                r.lots.len(),
                c.charged_kg,
                c.cost,
                c.on_aim
            ),
            Err(e) => eprintln!("[alloy-bench] {name}: NOT CHARGED: {e}"),
        }
    }
}

#[divan::bench(args = HEATS, sample_count = 50)]
fn charge_heat(bencher: Bencher, name: &str) {
    let r = request(name);
    bencher.bench_local(|| charge(black_box(&r)));
}

/// Parsing alone, for scale (not part of the 20 ms target).
#[divan::bench(sample_count = 50)]
fn parse_fifteen_materials(bencher: Bencher) {
    bencher.bench_local(|| parse_plan(black_box(FIFTEEN)));
}
