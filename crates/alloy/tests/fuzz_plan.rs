//! Property tests of the batch-plan parser and the charge optimiser.
//!
//! - Arbitrary strings, and line- and byte-level mutations of the example plan, never make
//!   `parse_plan` + `charge` panic.
//! - Structured random plans (3–15 released lots over ≤ 12 elements, random prices and stock,
//!   optional pieces, heel and returns policy) either charge to grade — every aimed element in
//!   its band, impurities within their limits, stock, pieces and returns policy respected — or
//!   are refused as `AlloyError::Infeasible` with at least one reason; never another error.
//!
//!   Each structured charge runs on a worker thread with a deadline (20 s, debug build;
//!   `FUZZ_CHARGE_TIMEOUT_S`) so a branch and bound that runs away is reported, not waited on.
//!
//! Case counts are modest by default (48, ≈ 0.2 s in a debug build); set `PROPTEST_CASES` for a
//! longer run (3000 ≈ 40 s). Known microlp failures are tolerated by the default structured test
//! and reported on stderr; the `#[ignore]`d strict variant and regression cases document them.

use lodestone_alloy::{
    charge, parse_plan, AlloyError, Charge, ChargeRequest, Grade, Heel, Lot, LotStatus,
    QualityGrade, Rule,
};
use lodestone_chem::Element::{self, *};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use std::collections::BTreeMap;

const EXAMPLE: &str = include_str!("../../../examples/alloy/n52-low-boron-600kg.toml");

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(48)
}

/// No regression files: this suite must not write into the source tree. A failure prints the
/// minimal input instead.
fn config() -> Config {
    Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    }
}

/// Parses and charges; the result is irrelevant, only that nothing panics.
fn run_text(text: &str) -> Result<Charge, AlloyError> {
    parse_plan(text).and_then(|request| charge(&request))
}

// ---------------------------------------------------------------------------------------------
// Text-level fuzzing.

/// Byte ranges of number literals in a text (a digit, or a sign followed by a digit, then
/// digits, `.`, `e`, `E`, `+`, `-`, `_`).
fn number_spans(text: &str) -> Vec<(usize, usize)> {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let starts = b[i].is_ascii_digit()
            || ((b[i] == b'-' || b[i] == b'+') && i + 1 < b.len() && b[i + 1].is_ascii_digit());
        // Skip digits inside identifiers such as lot ids ("PN-2411-07") and the quality code.
        let in_word = i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'-');
        if starts && !in_word {
            let start = i;
            i += 1;
            while i < b.len() && (b[i].is_ascii_digit() || b"._eE+-".contains(&b[i])) {
                i += 1;
            }
            spans.push((start, i));
        } else {
            i += 1;
        }
    }
    spans
}

#[derive(Debug, Clone)]
enum LineEdit {
    Delete(Index),
    Duplicate(Index),
    Swap(Index, Index),
    Insert(Index, String),
    ReplaceNumber(Index, String),
    Truncate(Index),
}

fn number_literal() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "0", "0.0", "-0.0", "-1", "1", "1e-300", "1e300", "1e308", "-1e308", "nan", "inf",
            "-inf", "100", "100.5", "99.5", "1_000", "0.99999", "600", "2", "1e-9",
        ])
        .prop_map(str::to_string),
        (-1.0e4..1.0e4f64).prop_map(|v| format!("{v:?}")),
        (-5i64..2000).prop_map(|v| v.to_string()),
        any::<f64>()
            .prop_filter("a TOML float", |v| v.is_finite())
            .prop_map(|v| format!("{v:e}")),
    ]
}

fn snippet() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "status = \"on-hold\"",
        "status = \"rejected\"",
        "piece_kg = 7.0",
        "piece_kg = 0.001",
        "is_return = true",
        "[heel]\nmass_kg = 100.0\ncomposition_wt_pct = { Nd = 22.5, Pr = 7.5, B = 0.92, Fe = 69.08 }",
        "[heel]\nmass_kg = 599.9\ncomposition_wt_pct = { Fe = 100.0 }",
        "[[lot]]",
        "[[lot]]\nid = \"X\"\nmaterial = \"x\"\nchemistry_wt_pct = { Dy = 100.0 }\nstock_kg = 1e6\nprice_per_kg = 0.0",
        "[[lot]]\nid = \"Y\"\nmaterial = \"y\"\nchemistry_wt_pct = { La = 50.0, Fe = 50.0 }\nstock_kg = 100\nprice_per_kg = 1\npiece_kg = 3.3",
        "Nd = 0.5",
        "Dy = 1.0",
        "[[grade.rules]]\nrule = \"ratio\"\nname = \"r\"\nnumerator = [\"Pr\"]\ndenominator = [\"Nd\"]\nmin = 0.3\nmax = 0.2\nbasis = \"atomic\"",
        "[[grade.rules]]\nrule = \"ratio\"\nname = \"z\"\nnumerator = [\"Dy\"]\ndenominator = [\"Tb\"]\nmin = 0.0\nbasis = \"mass\"",
        "[[grade.rules]]\nrule = \"low-boron\"",
        "[grade.tolerance_wt_pct]\nB = 0.0",
        "[grade.tolerance_wt_pct]\nNd = 1e300",
        "[grade.impurity_max_wt_pct]\nO = 0.0",
        "[grade.impurity_max_wt_pct]\nFe = 0.0",
        "quality = \"045004\"",
        "balance = \"Nd\"",
        "balance = \"Co\"",
        "min_returns_kg = 1e9",
        "output_kg = 1e-9",
        "",
        "#",
        "[",
        "=",
        "\"",
    ])
    .prop_map(str::to_string)
}

fn line_edit() -> impl Strategy<Value = LineEdit> {
    prop_oneof![
        1 => any::<Index>().prop_map(LineEdit::Delete),
        1 => any::<Index>().prop_map(LineEdit::Duplicate),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| LineEdit::Swap(a, b)),
        2 => (any::<Index>(), snippet()).prop_map(|(i, s)| LineEdit::Insert(i, s)),
        // Numbers are where a mutation gets past the parser into the optimiser: weight them.
        8 => (any::<Index>(), number_literal()).prop_map(|(i, s)| LineEdit::ReplaceNumber(i, s)),
        1 => any::<Index>().prop_map(LineEdit::Truncate),
    ]
}

fn apply_line_edits(edits: &[LineEdit]) -> String {
    let mut text = EXAMPLE.to_string();
    for edit in edits {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        let n = lines.len().max(1);
        match edit {
            LineEdit::Delete(i) if !lines.is_empty() => {
                lines.remove(i.index(n));
            }
            LineEdit::Duplicate(i) if !lines.is_empty() => {
                let k = i.index(n);
                lines.insert(k, lines[k].clone());
            }
            LineEdit::Swap(a, b) if !lines.is_empty() => lines.swap(a.index(n), b.index(n)),
            LineEdit::Insert(i, s) => lines.insert(i.index(n + 1).min(lines.len()), s.clone()),
            LineEdit::ReplaceNumber(i, s) => {
                let spans = number_spans(&text);
                if !spans.is_empty() {
                    let (a, b) = spans[i.index(spans.len())];
                    text.replace_range(a..b, s);
                }
                continue;
            }
            LineEdit::Truncate(i) => {
                let k = i.index(text.len() + 1);
                let k = (0..=k)
                    .rev()
                    .find(|&k| text.is_char_boundary(k))
                    .unwrap_or(0);
                text.truncate(k);
                continue;
            }
            _ => {}
        }
        text = lines.join("\n");
        text.push('\n');
    }
    text
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    FlipBit(Index, u8),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    // Mostly TOML punctuation, digits and letters; sometimes any byte.
    let byte = prop_oneof![
        3 => prop::sample::select(b"=[]{}\",.-+0123456789eE \n#'_abcdefnrst".to_vec()),
        1 => any::<u8>(),
    ];
    prop_oneof![
        (any::<Index>(), byte.clone()).prop_map(|(i, b)| ByteEdit::Set(i, b)),
        (any::<Index>(), byte).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        any::<Index>().prop_map(ByteEdit::Delete),
        (any::<Index>(), 0u8..8).prop_map(|(i, b)| ByteEdit::FlipBit(i, b)),
    ]
}

fn apply_byte_edits(edits: &[ByteEdit]) -> String {
    let mut bytes = EXAMPLE.as_bytes().to_vec();
    for edit in edits {
        let n = bytes.len().max(1);
        match edit {
            ByteEdit::Set(i, b) if !bytes.is_empty() => bytes[i.index(n)] = *b,
            ByteEdit::Insert(i, b) => bytes.insert(i.index(bytes.len() + 1), *b),
            ByteEdit::Delete(i) if !bytes.is_empty() => {
                bytes.remove(i.index(n));
            }
            ByteEdit::FlipBit(i, bit) if !bytes.is_empty() => bytes[i.index(n)] ^= 1 << bit,
            _ => {}
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_strings_never_panic(text in "\\PC{0,400}") {
        let _ = run_text(&text);
    }

    #[test]
    fn toml_like_strings_never_panic(
        text in "([a-z_]{1,12} = ([0-9.e+-]{1,8}|\"[a-zA-Z0-9-]{0,6}\"|\\{ ?([A-Z][a-z]? = [0-9.]{1,5},? ?){0,4}\\}|true)\n|\\[\\[?(lot|grade|heel|recovery|grade\\.aim_wt_pct|grade\\.rules)\\]\\]?\n){0,40}"
    ) {
        let _ = run_text(&text);
    }

    #[test]
    fn line_mutations_of_the_example_never_panic(
        edits in prop::collection::vec(line_edit(), 1..4)
    ) {
        let text = apply_line_edits(&edits);
        let _ = run_text(&text);
    }

    #[test]
    fn byte_mutations_of_the_example_never_panic(
        edits in prop::collection::vec(byte_edit(), 1..8)
    ) {
        let text = apply_byte_edits(&edits);
        let _ = run_text(&text);
    }
}

// ---------------------------------------------------------------------------------------------
// Structured random plans.

/// The 12 elements random plans are made of: Fe the balance, eight that may be aimed, two
/// limited impurities (O, C) and a foreign rare earth (La).
const POOL: [Element; 12] = [Fe, Nd, Pr, Dy, B, Co, Cu, Al, Ga, O, C, La];
/// Aimable elements with a plausible aim range (wt%).
const AIMABLE: [(Element, f64, f64); 8] = [
    (Nd, 12.0, 30.0),
    (Pr, 0.0, 10.0),
    (Dy, 0.0, 5.0),
    (B, 0.85, 1.10),
    (Co, 0.0, 3.0),
    (Cu, 0.0, 0.3),
    (Al, 0.0, 1.0),
    (Ga, 0.0, 0.5),
];

fn quality() -> impl Strategy<Value = QualityGrade> {
    prop::sample::select(QualityGrade::ALL.to_vec())
}

fn grade() -> impl Strategy<Value = Grade> {
    (
        prop::collection::vec((any::<bool>(), 0.0..1.0f64), AIMABLE.len()),
        quality(),
        // The low-boron rule rules out most B aims above ≈ 0.93 wt%: apply it to a quarter.
        prop::bool::weighted(0.25),
    )
        .prop_map(|(picks, quality, low_boron)| {
            let mut aim = BTreeMap::new();
            for ((e, lo, hi), (pick, u)) in AIMABLE.iter().zip(picks) {
                // Nd and B are always aimed; the others by coin toss.
                if pick || matches!(e, Nd | B) {
                    aim.insert(*e, round(lo + u * (hi - lo), 3));
                }
            }
            Grade {
                name: "random".into(),
                aim_wt_pct: aim,
                balance: Fe,
                quality,
                tolerance_wt_pct: BTreeMap::new(),
                impurity_max_wt_pct: BTreeMap::new(),
                rules: if low_boron {
                    vec![Rule::LowBoron {
                        transition: vec![Fe, Co, Cu, Ga],
                    }]
                } else {
                    vec![]
                },
            }
        })
}

fn round(v: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (v * k).round() / k
}

/// Normalises weights to a certificate summing to 100 wt% (4 decimals; the first element takes
/// what the rounding leaves).
fn certificate(parts: &[(Element, f64)]) -> BTreeMap<Element, f64> {
    let total: f64 = parts.iter().map(|(_, w)| w).sum();
    let mut c: BTreeMap<Element, f64> = BTreeMap::new();
    for (e, w) in &parts[1..] {
        *c.entry(*e).or_default() += round(100.0 * w / total, 4);
    }
    c.remove(&parts[0].0);
    let rest: f64 = c.values().sum();
    c.insert(parts[0].0, round(100.0 - rest, 4).max(0.0));
    c.retain(|_, v| *v > 0.0);
    c
}

/// A certificate chemistry for lot `index` of a plan for `grade`: a main element (mostly the
/// aimed elements and Fe in turn, so most plans have a source of each; sometimes any of them)
/// at 20–100 % (15–20 % for B, as in FeB), the rest Fe; sometimes a second aimed element (a
/// return or a master alloy), a trace of a foreign element (La or an element the grade does
/// not aim) and a trace of O or C.
fn chemistry(grade: &Grade, index: usize) -> impl Strategy<Value = BTreeMap<Element, f64>> {
    let mut mains: Vec<Element> = grade.aim_wt_pct.keys().copied().collect();
    mains.push(Fe);
    let in_turn = mains[index % mains.len()];
    let foreign: Vec<Element> = POOL
        .iter()
        .copied()
        .filter(|e| *e != Fe && !grade.aim_wt_pct.contains_key(e))
        .collect();
    (
        prop_oneof![4 => Just(in_turn), 1 => prop::sample::select(mains.clone())],
        0.0..1.0f64,
        prop::option::weighted(0.3, (prop::sample::select(mains), 0.0..30.0f64)),
        prop::option::weighted(0.15, (prop::sample::select(foreign), 0.0..0.5f64)),
        prop::option::weighted(0.3, (prop::sample::select(vec![O, C]), 0.0..0.05f64)),
    )
        .prop_map(|(main, u, second, foreign, trace)| {
            let share = if main == B {
                15.0 + 5.0 * u
            } else {
                20.0 + 80.0 * u
            };
            let mut parts = vec![(main, share)];
            let mut rest = 100.0 - share;
            // A second element as in a return: B at most 1.5 % (≈ the alloy's own).
            let second = second.map(|(e, w)| (e, if e == B { w / 20.0 } else { w }));
            for (e, w) in [second, foreign, trace].into_iter().flatten() {
                let w = w.min(rest);
                parts.push((e, w));
                rest -= w;
            }
            parts.push((Fe, rest));
            certificate(&parts)
        })
}

fn lot(grade: &Grade, index: usize) -> impl Strategy<Value = Lot> {
    (
        chemistry(grade, index),
        prop_oneof![1 => Just(0.0), 9 => 0.0..1000.0f64],
        0.0..1000.0f64,
        prop::option::weighted(0.3, 0.5..25.0f64),
        prop::bool::weighted(0.2),
    )
        .prop_map(move |(chemistry, stock, price, piece, is_return)| Lot {
            id: format!("L{index:02}"),
            material: format!("material {index}"),
            chemistry_wt_pct: chemistry,
            stock_kg: round(stock, 2),
            price_per_kg: round(price, 2),
            status: LotStatus::Released,
            piece_kg: piece.map(|p| round(p, 2)),
            is_return,
        })
}

fn request() -> impl Strategy<Value = ChargeRequest> {
    grade().prop_flat_map(|grade| {
        let lots = (3usize..=15).prop_flat_map({
            let grade = grade.clone();
            move |n| (0..n).map(|i| lot(&grade, i)).collect::<Vec<_>>()
        });
        // A heel near the aim (each aimed element off by up to ±20 % of its aim).
        let heel = prop::option::weighted(
            0.2,
            (
                0.0..0.5f64,
                prop::collection::vec(-0.2..0.2f64, grade.aim_wt_pct.len()),
            ),
        );
        (
            Just(grade),
            lots,
            10.0..1000.0f64,
            prop::collection::btree_map(
                prop::sample::select(vec![Nd, Pr, Dy, B]),
                0.9..=1.0f64,
                0..3,
            ),
            heel,
            prop_oneof![3 => Just(0.0), 1 => 0.0..50.0f64],
        )
            .prop_map(|(grade, mut lots, output, recovery, heel, min_returns)| {
                let output = round(output, 1);
                // Pieces of 0.5–25 kg become 0.05–2.5 % of the output, so whole pieces can
                // usually land inside a band of a few hundredths of a wt%.
                for lot in &mut lots {
                    if let Some(p) = &mut lot.piece_kg {
                        *p = round(*p / 1000.0 * output, 3).max(0.005);
                    }
                }
                let heel = heel.map(|(share, offsets)| {
                    let mut parts = vec![(Fe, 0.0)];
                    for ((e, aim), off) in grade.aim_wt_pct.iter().zip(offsets) {
                        parts.push((*e, aim * (1.0 + off)));
                    }
                    parts[0].1 = 100.0 - parts.iter().map(|(_, w)| w).sum::<f64>();
                    Heel {
                        mass_kg: round(share * output, 2),
                        composition_wt_pct: certificate(&parts),
                    }
                });
                ChargeRequest {
                    grade,
                    output_kg: output,
                    lots,
                    recovery,
                    heel,
                    min_returns_kg: round(min_returns, 1),
                }
            })
    })
}

/// Checks a charge against its request independently of the optimiser's own report: the melt
/// is recomputed from the weighed kg, the certificates, the recoveries and the heel.
fn check_charge(r: &ChargeRequest, c: &Charge) -> Result<(), TestCaseError> {
    const TOL_WT_PCT: f64 = 1e-6;
    let mut mass: BTreeMap<Element, f64> = BTreeMap::new();
    let mut returns = 0.0;
    let mut cost = 0.0;
    for line in &c.lines {
        let lot = r.lots.iter().find(|l| l.id == line.lot);
        let lot = lot.ok_or_else(|| TestCaseError::fail(format!("unknown lot {}", line.lot)))?;
        prop_assert_eq!(lot.status, LotStatus::Released);
        prop_assert!(line.kg >= -1e-9, "{}: {} kg", line.lot, line.kg);
        prop_assert!(
            line.kg <= lot.stock_kg * (1.0 + 1e-9) + 1e-9,
            "{}: {} kg charged, {} kg in stock",
            line.lot,
            line.kg,
            lot.stock_kg
        );
        match (lot.piece_kg, line.pieces) {
            (Some(p), Some(n)) => prop_assert!(
                (line.kg - n as f64 * p).abs() <= 1e-6 * (1.0 + line.kg),
                "{}: {} kg is not {n} pieces of {p} kg",
                line.lot,
                line.kg
            ),
            (None, None) => {}
            other => prop_assert!(false, "{}: pieces {:?}", line.lot, other),
        }
        if lot.is_return {
            returns += line.kg;
        }
        cost += line.kg * lot.price_per_kg;
        for (e, v) in &lot.chemistry_wt_pct {
            let eta = r.recovery.get(e).copied().unwrap_or(1.0);
            *mass.entry(*e).or_default() += eta * v / 100.0 * line.kg;
        }
    }
    if let Some(h) = &r.heel {
        for (e, v) in &h.composition_wt_pct {
            *mass.entry(*e).or_default() += h.mass_kg * v / 100.0;
        }
    }
    let melt: f64 = mass.values().sum();
    prop_assert!(
        (melt - r.output_kg).abs() <= 1e-6 * r.output_kg,
        "melt {melt} kg, wanted {} kg",
        r.output_kg
    );
    prop_assert!(
        returns >= r.min_returns_kg - 1e-6,
        "{returns} kg of returns, policy {} kg",
        r.min_returns_kg
    );
    prop_assert!(
        (cost - c.cost).abs() <= 1e-6 * (1.0 + cost),
        "cost {} reported, {cost} recomputed",
        c.cost
    );
    let wt = |e: &Element| mass.get(e).copied().unwrap_or(0.0) / melt * 100.0;
    let g = &r.grade;
    for (e, aim) in &g.aim_wt_pct {
        let tol = g.tolerance_of(*e);
        prop_assert!(
            (wt(e) - aim).abs() <= tol + TOL_WT_PCT,
            "{e}: {} wt%, band {aim} ± {tol}",
            wt(e)
        );
    }
    let limits = g.impurity_limits();
    for (e, max) in &limits {
        prop_assert!(wt(e) <= max + TOL_WT_PCT, "{e}: {} wt% > {max}", wt(e));
    }
    let other_max = g.quality.other_impurity_max_wt_pct();
    let mut foreign_re = 0.0;
    for e in mass.keys() {
        if e.is_rare_earth() && !g.aim_wt_pct.contains_key(e) {
            foreign_re += wt(e);
        } else if !g.aim_wt_pct.contains_key(e) && *e != g.balance && !limits.contains_key(e) {
            prop_assert!(
                wt(e) <= other_max + TOL_WT_PCT,
                "{e}: {} wt% > {other_max} (other elements)",
                wt(e)
            );
        }
    }
    let re_max = g.quality.rare_earth_impurities_max_wt_pct();
    prop_assert!(
        foreign_re <= re_max + TOL_WT_PCT,
        "foreign rare earths {foreign_re} wt% > {re_max}"
    );
    let composition: BTreeMap<Element, f64> = mass.keys().map(|e| (*e, wt(e))).collect();
    for rule in &g.rules {
        if let Err(why) = rule.check(&composition) {
            // Allow the optimiser's own 1e-6-of-the-melt margin to be eaten by rounding.
            prop_assert!(why.contains("= -0.000") || why.contains("= 0.000"), "{why}");
        }
    }
    Ok(())
}

/// The message good_lp gives for a microlp `InternalError`: microlp's branch and bound
/// rejecting its own integral point (see `microlp_internal_error_on_a_feasible_looking_heat`).
const MICROLP_INTERNAL: &str = "An unexpected error occurred while running the optimizer";

/// Seconds one `charge` may take before the case counts as a hang (debug build; cases
/// normally take milliseconds). `FUZZ_CHARGE_TIMEOUT_S` overrides.
fn charge_timeout() -> std::time::Duration {
    std::time::Duration::from_secs_f64(
        std::env::var("FUZZ_CHARGE_TIMEOUT_S")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20.0),
    )
}

/// Outcome of one `charge` run on a worker thread with a deadline.
enum Run {
    Done(Result<Charge, AlloyError>),
    Panicked,
    TimedOut,
}

/// Charges on a worker thread; a charge still running at the deadline is left running (a
/// thread cannot be killed) and reported as a hang.
fn charge_with_deadline(r: &ChargeRequest) -> Run {
    let (tx, rx) = std::sync::mpsc::channel();
    let request = r.clone();
    std::thread::spawn(move || {
        let _ = tx.send(charge(&request));
    });
    match rx.recv_timeout(charge_timeout()) {
        Ok(result) => Run::Done(result),
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => Run::Panicked,
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => Run::TimedOut,
    }
}

/// Runs the structured property; with `tolerate_microlp`, a `Solver` error carrying microlp's
/// internal-error message, or a charge still running at the deadline (microlp's branch and
/// bound, see `slow_milp_case`), is counted and reported instead of failing the case.
///
/// Strict: after the first hang every later case (shrinking included) is skipped, so at most one
/// worker thread is left spinning and the hang is reported with its original input.
fn structured_property(tolerate_microlp: bool) {
    let mut runner = TestRunner::new(config());
    // Counted for the report only (shrinking after a failure counts again).
    let charged = std::cell::Cell::new(0usize);
    let infeasible = std::cell::Cell::new(0usize);
    let solver_failures = std::cell::Cell::new(0usize);
    let slow = std::cell::Cell::new(0usize);
    let hung = std::cell::Cell::new(false);
    let start = std::time::Instant::now();
    let result = runner.run(&request(), |r| {
        if hung.get() {
            return Ok(());
        }
        match charge_with_deadline(&r) {
            Run::TimedOut if tolerate_microlp => {
                eprintln!(
                    "known slow microlp branch and bound: still running after {:?}: {r:?}",
                    charge_timeout()
                );
                slow.set(slow.get() + 1);
            }
            Run::TimedOut => {
                hung.set(true);
                prop_assert!(false, "charge still running after {:?}", charge_timeout());
            }
            Run::Panicked => prop_assert!(false, "charge panicked"),
            Run::Done(Ok(c)) => {
                check_charge(&r, &c)?;
                charged.set(charged.get() + 1);
            }
            Run::Done(Err(AlloyError::Infeasible { reasons })) => {
                prop_assert!(!reasons.is_empty(), "infeasible without a reason");
                prop_assert!(reasons.iter().all(|s| !s.trim().is_empty()), "{reasons:?}");
                infeasible.set(infeasible.get() + 1);
            }
            Run::Done(Err(AlloyError::Solver(m)))
                if tolerate_microlp && m.contains(MICROLP_INTERNAL) =>
            {
                eprintln!("known microlp failure: {m}");
                solver_failures.set(solver_failures.get() + 1);
            }
            Run::Done(Err(other)) => {
                prop_assert!(false, "expected a charge or Infeasible, got {other:?}")
            }
        }
        Ok(())
    });
    eprintln!(
        "structured random plans: {} charged, {} infeasible, {} microlp failures, {} slower \
         than {:?}, in {:.2} s",
        charged.get(),
        infeasible.get(),
        solver_failures.get(),
        slow.get(),
        charge_timeout(),
        start.elapsed().as_secs_f64()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The property as it stands: any other error, a panic or a charge out of grade fails.
/// microlp's internal errors (about 1 case in 1000) and branch-and-bound runs past the
/// deadline (about 1 in 5000) are tolerated and reported until fixed.
#[test]
fn structured_random_plans_charge_to_grade_or_are_infeasible() {
    structured_property(true);
}

/// The property as it should hold: never another error than `Infeasible`.
#[test]
#[ignore = "about 1 random plan in 1000 makes microlp fail (AlloyError::Solver with \
            \"An unexpected error occurred while running the optimizer: …\" — seen: \
            \"exactly integral solution failed feasibility validation after slack-basis retry\", \
            \"integral candidate became infeasible after slack-basis retry\", \
            \"Singular matrix\"), and about 1 in 5000 takes over 20 s in a debug build \
            (slow_milp_case); run with PROPTEST_CASES=3000 to see them"]
fn structured_random_plans_never_give_a_solver_error() {
    structured_property(false);
}

fn stock_lot(
    id: &str,
    chemistry: &[(Element, f64)],
    stock_kg: f64,
    price_per_kg: f64,
    piece_kg: Option<f64>,
    is_return: bool,
) -> Lot {
    Lot {
        id: id.into(),
        material: id.into(),
        chemistry_wt_pct: chemistry.iter().copied().collect(),
        stock_kg,
        price_per_kg,
        status: LotStatus::Released,
        piece_kg,
        is_return,
    }
}

/// Found by the structured property (shrunk): microlp gives up on the MILP and `charge`
/// returns `AlloyError::Solver` instead of a charge or `Infeasible`.
fn microlp_failure_case() -> ChargeRequest {
    ChargeRequest {
        grade: Grade {
            name: "random".into(),
            aim_wt_pct: BTreeMap::from([
                (B, 1.088),
                (Al, 0.973),
                (Co, 1.034),
                (Cu, 0.009),
                (Ga, 0.375),
                (Nd, 25.777),
            ]),
            balance: Fe,
            quality: QualityGrade::G045002,
            tolerance_wt_pct: BTreeMap::new(),
            impurity_max_wt_pct: BTreeMap::new(),
            rules: vec![Rule::LowBoron {
                transition: vec![Fe, Co, Cu, Ga],
            }],
        },
        output_kg: 802.6,
        lots: vec![
            stock_lot(
                "L00",
                &[(B, 15.0), (O, 0.048), (Fe, 84.952)],
                0.0,
                0.0,
                None,
                false,
            ),
            stock_lot(
                "L01",
                &[(Fe, 71.2331), (Cu, 28.3732), (Pr, 0.3937)],
                431.66,
                0.0,
                None,
                false,
            ),
            stock_lot(
                "L02",
                &[(Al, 70.6317), (Fe, 29.3683)],
                732.13,
                0.0,
                None,
                true,
            ),
            stock_lot(
                "L03",
                &[(O, 0.0128), (Fe, 32.3428), (Co, 67.6444)],
                564.62,
                0.0,
                None,
                false,
            ),
            stock_lot("L04", &[(Al, 20.0), (Fe, 80.0)], 0.0, 0.0, None, false),
            stock_lot(
                "L05",
                &[(B, 10.4044), (Fe, 89.5956)],
                293.72,
                0.0,
                None,
                false,
            ),
            stock_lot(
                "L06",
                &[(Fe, 5.2641), (Nd, 94.7359)],
                258.74,
                0.0,
                Some(16.94),
                false,
            ),
            stock_lot("L07", &[(Fe, 100.0)], 527.02, 0.0, None, false),
            stock_lot("L08", &[(Al, 20.0), (Fe, 80.0)], 0.0, 0.0, None, false),
            stock_lot(
                "L09",
                &[(Fe, 51.5265), (Co, 48.4735)],
                47.58,
                0.0,
                Some(20.43),
                false,
            ),
            stock_lot(
                "L10",
                &[(B, 15.0), (Fe, 84.7935), (Pr, 0.2065)],
                807.52,
                0.0,
                None,
                false,
            ),
            stock_lot(
                "L11",
                &[(Fe, 23.8116), (Ga, 76.1884)],
                639.77,
                0.0,
                None,
                false,
            ),
        ],
        recovery: BTreeMap::from([(B, 0.9877741592940992), (Dy, 0.9688691068316018)]),
        heel: None,
        min_returns_kg: 10.3,
    }
}

/// The shrunk case: stage 1 of `charge` (the elastic MILP) fails inside microlp. A charge or
/// `Infeasible` is expected.
#[test]
#[ignore = "microlp fails on the elastic (stage 1) MILP of this heat: charge returns \
            AlloyError::Solver(\"An unexpected error occurred while running the optimizer: \
            exactly integral solution failed feasibility validation after slack-basis retry.\")"]
fn microlp_internal_error_on_a_feasible_looking_heat() {
    match charge(&microlp_failure_case()) {
        Ok(c) => {
            let r = microlp_failure_case();
            check_charge(&r, &c).unwrap();
        }
        Err(AlloyError::Infeasible { reasons }) => assert!(!reasons.is_empty()),
        Err(other) => panic!("expected a charge or Infeasible, got {other:?}"),
    }
}

/// Found by the structured property: `charge` on this 14-lot heat (7 lots in pieces) takes
/// ≈ 22 s in a debug build and ≈ 2 s in release, ~100× the 20 ms target; nearly all of it in
/// stage 3 (least cost with the deviation held at stage 2's optimum), ≈ 0.19 s in stage 2.
fn slow_milp_case() -> ChargeRequest {
    ChargeRequest {
        grade: Grade {
            name: "random".into(),
            aim_wt_pct: BTreeMap::from([(B, 0.977), (Co, 2.26), (Nd, 12.808)]),
            balance: Fe,
            quality: QualityGrade::G045003,
            tolerance_wt_pct: BTreeMap::new(),
            impurity_max_wt_pct: BTreeMap::new(),
            rules: vec![],
        },
        output_kg: 166.1,
        lots: vec![
            stock_lot(
                "L00",
                &[(B, 19.7719), (O, 0.0128), (Fe, 80.2153)],
                206.2,
                104.67,
                Some(0.528),
                false,
            ),
            stock_lot(
                "L01",
                &[(C, 0.0353), (Fe, 33.6876), (Co, 66.2771)],
                148.44,
                736.22,
                None,
                false,
            ),
            stock_lot(
                "L02",
                &[(Fe, 3.1012), (Nd, 96.8988)],
                342.62,
                254.28,
                Some(3.407),
                false,
            ),
            stock_lot(
                "L03",
                &[(Fe, 99.5868), (Pr, 0.4132)],
                335.08,
                628.85,
                Some(3.031),
                false,
            ),
            stock_lot(
                "L04",
                &[(B, 17.9439), (Fe, 82.0561)],
                301.81,
                333.03,
                Some(1.404),
                false,
            ),
            stock_lot(
                "L05",
                &[(Fe, 38.6542), (Co, 61.3458)],
                950.38,
                763.65,
                None,
                false,
            ),
            stock_lot(
                "L06",
                &[(C, 0.0309), (Fe, 72.4278), (La, 0.4689), (Nd, 27.0724)],
                642.84,
                566.36,
                None,
                true,
            ),
            stock_lot(
                "L07",
                &[(Fe, 95.9097), (Co, 4.0903)],
                173.35,
                511.98,
                None,
                false,
            ),
            stock_lot(
                "L08",
                &[(B, 18.329), (O, 0.0339), (Fe, 81.6371)],
                369.62,
                449.87,
                Some(0.412),
                false,
            ),
            stock_lot(
                "L09",
                &[(O, 0.004), (Fe, 7.3756), (Co, 92.6204)],
                157.78,
                722.81,
                None,
                false,
            ),
            stock_lot(
                "L10",
                &[(B, 1.1107), (Fe, 65.1211), (Nd, 33.7682)],
                314.76,
                60.16,
                Some(3.935),
                true,
            ),
            stock_lot(
                "L11",
                &[(Fe, 21.6501), (Nd, 78.3499)],
                316.82,
                516.27,
                Some(0.628),
                false,
            ),
            stock_lot(
                "L12",
                &[(B, 16.1721), (O, 0.0317), (Fe, 83.7962)],
                920.9,
                797.84,
                Some(2.344),
                true,
            ),
            stock_lot(
                "L13",
                &[(Fe, 18.9038), (Co, 81.0962)],
                653.72,
                939.24,
                None,
                false,
            ),
        ],
        recovery: BTreeMap::from([(Nd, 0.9641576945856203)]),
        heel: None,
        min_returns_kg: 0.0,
    }
}

/// A 14-lot heat should charge (or be refused) within 10× the 20 ms target in release, and
/// within 5 s in a debug build.
#[test]
#[ignore = "charge takes ≈ 2 s in release (≈ 22 s in debug) on this 14-lot heat with 7 lots \
            in pieces: microlp's branch and bound in stage 3 (least cost at the stage-2 \
            deviation, ≈ 1.8 s) and stage 2 (≈ 0.19 s)"]
fn slow_milp_case_returns_promptly() {
    let limit = if cfg!(debug_assertions) {
        std::time::Duration::from_secs(5)
    } else {
        std::time::Duration::from_millis(200)
    };
    let start = std::time::Instant::now();
    let run = charge_with_deadline(&slow_milp_case());
    let elapsed = start.elapsed();
    assert!(elapsed <= limit, "charge took {elapsed:?}, limit {limit:?}");
    match run {
        Run::Done(Ok(c)) => check_charge(&slow_milp_case(), &c).unwrap(),
        Run::Done(Err(AlloyError::Infeasible { reasons })) => assert!(!reasons.is_empty()),
        Run::Done(Err(other)) => panic!("expected a charge or Infeasible, got {other:?}"),
        Run::Panicked => panic!("charge panicked"),
        Run::TimedOut => panic!("charge still running after {:?}", start.elapsed()),
    }
}
