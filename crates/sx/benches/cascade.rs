//! Cascade solve benchmarks (divan): wall time of `Case::simulate()`, which is a cold-start
//! steady-state solve plus assembly of the result, for every example cascade and two
//! plant-size 120-stage × 15-element cascades.
//! Targets (issue: sx simulator): V4 < 1 ms; 120 stages × 15 elements, model D < 50 ms.
//!
//! Run: `cargo bench -p lodestone-sx --bench cascade` (or `scripts/bench_sx.sh` for the
//! Markdown summary with targets). Each case is parsed once, outside the timed closure. Before
//! divan's table, every case is solved once, untimed, and its convergence printed to stderr
//! (`[sx-bench] <name>: converged=<bool> iterations=<n> …`). A case that does not converge is
//! still timed, but then its time is that of the iteration cap, not of a solve;
//! `scripts/bench_sx.sh` reports such a case as not meeting its target.
//!
//! Sample counts keep the whole run under two minutes on two shared cores, even when the
//! 120-stage cases run to the 2000-iteration cap (≈ 2–3 s per solve; today model D converges
//! in 109 iterations, ≈ 27 ms, and model B in 64, ≈ 67 ms).

use divan::{black_box, Bencher};
use lodestone_sx::Case;

fn main() {
    report_convergence();
    divan::main();
}

/// Validation case V4: ideal Nd/Pr cascade, model B, 37 stages × 2 elements.
const V4_XU_ND_PR: &str = include_str!("../../../examples/sx/xu-nd-pr.toml");
/// Validation case V1: PrOMMiS steady 3-stage DEHPA cascade, model C, 3 stages × 12 metals.
const V1_PROMMIS_DEHPA: &str = include_str!("../../../examples/sx/prommis-dehpa-3stage.toml");
/// Validation case V2: PrOMMiS 0.7 fixed-fraction cascade, model A, 3 stages × 12 metals.
const V2_FIXED_FRACTION: &str = include_str!("../../../examples/sx/prommis-fixed-fraction.toml");
/// Pr/Nd with NH4-saponified P507, model D, 53 stages × 2 elements.
const MASS_ACTION_PR_ND: &str = include_str!("../../../examples/sx/mass-action-pr-nd.toml");
/// Bayan Obo Nd/Sm group cut, model B, 25 stages × 15 rare earths (the example).
const BAYAN_OBO_EXAMPLE_B: &str = include_str!("../../../examples/sx/bayan-obo-nd-sm-cut.toml");
/// Bayan Obo Nd/Sm group cut, model D, 120 stages × 15 rare earths.
const BAYAN_OBO_120X15_D: &str = include_str!("data/bayan-obo-120x15-mass-action.toml");
/// The same cut with constant separation factors (model B), 120 stages × 15 rare earths.
const BAYAN_OBO_120X15_B: &str = include_str!("data/bayan-obo-120x15-separation-factor.toml");
/// The same cut with 25 stages (10/10/5), the closest variant the solver converges.
const BAYAN_OBO_25X15_D: &str = include_str!("data/bayan-obo-25x15-mass-action.toml");

/// Every benchmarked case: benchmark name and case text.
fn cases() -> Vec<(&'static str, String)> {
    vec![
        ("v4_xu_nd_pr_37x2_model_b", V4_XU_ND_PR.into()),
        ("v1_prommis_dehpa_3x12_model_c", V1_PROMMIS_DEHPA.into()),
        (
            "v2_prommis_fixed_fraction_3x12_model_a",
            V2_FIXED_FRACTION.into(),
        ),
        ("mass_action_pr_nd_53x2_model_d", MASS_ACTION_PR_ND.into()),
        (
            "bayan_obo_example_105x15_model_b",
            BAYAN_OBO_EXAMPLE_B.into(),
        ),
        ("bayan_obo_25x15_model_d", BAYAN_OBO_25X15_D.into()),
        ("bayan_obo_120x15_model_d", BAYAN_OBO_120X15_D.into()),
        ("bayan_obo_120x15_model_b", BAYAN_OBO_120X15_B.into()),
    ]
}

/// Parses a case, panicking with the case name on error (a broken example is a bug).
fn parse(name: &str, text: &str) -> Case {
    Case::from_toml(text).unwrap_or_else(|e| panic!("{name}: case does not parse: {e}"))
}

/// Solves each selected case once, untimed, and prints its convergence to stderr before divan's
/// table, as one line per case: `[sx-bench] <name>: converged=<bool> iterations=<n> …`.
/// Cases are selected like divan's filters: those whose name contains a positional argument,
/// or all of them when no case matches (or none is given). `--list` skips the report.
fn report_convergence() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let filters: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    let all = cases();
    let selected: Vec<&(&str, String)> = all
        .iter()
        .filter(|(name, _)| filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    let selected = if selected.is_empty() {
        all.iter().collect()
    } else {
        selected
    };
    for (name, text) in selected {
        let t = std::time::Instant::now();
        match parse(name, text).simulate() {
            Ok(r) => eprintln!(
                "[sx-bench] {name}: converged={} iterations={} max_residual={:.3e} solve_s={:.4}",
                r.converged,
                r.iterations,
                r.max_residual,
                t.elapsed().as_secs_f64()
            ),
            Err(e) => eprintln!("[sx-bench] {name}: converged=false error={e}"),
        }
    }
}

/// Times `simulate()` on a case parsed once, outside the timed closure.
fn run(bencher: Bencher, name: &str, text: &str) {
    let case = parse(name, text);
    bencher.bench(|| black_box(&case).simulate());
}

#[divan::bench(sample_count = 200)]
fn v4_xu_nd_pr_37x2_model_b(bencher: Bencher) {
    run(bencher, "v4_xu_nd_pr_37x2_model_b", V4_XU_ND_PR);
}

#[divan::bench(sample_count = 200)]
fn v1_prommis_dehpa_3x12_model_c(bencher: Bencher) {
    run(bencher, "v1_prommis_dehpa_3x12_model_c", V1_PROMMIS_DEHPA);
}

#[divan::bench(sample_count = 200)]
fn v2_prommis_fixed_fraction_3x12_model_a(bencher: Bencher) {
    run(
        bencher,
        "v2_prommis_fixed_fraction_3x12_model_a",
        V2_FIXED_FRACTION,
    );
}

#[divan::bench(sample_count = 30, sample_size = 1, max_time = 10)]
fn mass_action_pr_nd_53x2_model_d(bencher: Bencher) {
    run(bencher, "mass_action_pr_nd_53x2_model_d", MASS_ACTION_PR_ND);
}

#[divan::bench(sample_count = 10, sample_size = 1, max_time = 10)]
fn bayan_obo_example_105x15_model_b(bencher: Bencher) {
    run(
        bencher,
        "bayan_obo_example_105x15_model_b",
        BAYAN_OBO_EXAMPLE_B,
    );
}

#[divan::bench(sample_count = 10, sample_size = 1, max_time = 10)]
fn bayan_obo_25x15_model_d(bencher: Bencher) {
    run(bencher, "bayan_obo_25x15_model_d", BAYAN_OBO_25X15_D);
}

#[divan::bench(sample_count = 5, sample_size = 1, max_time = 15)]
fn bayan_obo_120x15_model_d(bencher: Bencher) {
    run(bencher, "bayan_obo_120x15_model_d", BAYAN_OBO_120X15_D);
}

#[divan::bench(sample_count = 5, sample_size = 1, max_time = 15)]
fn bayan_obo_120x15_model_b(bencher: Bencher) {
    run(bencher, "bayan_obo_120x15_model_b", BAYAN_OBO_120X15_B);
}
