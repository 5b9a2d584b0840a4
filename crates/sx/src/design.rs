//! Xu Guangxian's optimum design of a two-outlet fractional extraction (分馏萃取), with a
//! model-B simulation of the design and a search for the smallest cascade that reaches the
//! targets (the stage formulas assume the feed-stage composition and under-count at high purity).
//!
//! Equations (research notes sx.md §3.1–3.2; Xu 1970s, reviewed by Liao et al. 2017 and
//! re-derived by Cheng et al. 2014), for A the more extractable component (organic product)
//! and B the raffinate, feed 1 per unit time:
//! - outlet fraction `f'_A = (P_B − f_B)/(P_A + P_B − 1)`, `f'_B = 1 − f'_A`;
//! - optimum: if `f'_A < 1/(1+√β)` the extraction section controls: `E_M = 1/√β`,
//!   `S = f'_B/(√β − 1)`, `W = S − f'_A`; otherwise the scrub section: `E'_M = √β`,
//!   `W = f'_A/(√β − 1)`, `S = W + f'_A` (aqueous feed);
//! - purification factors `a = [P_A/(1−P_A)]/(f_A/f_B)`, `b = [P_B/(1−P_B)]/(f_B/f_A)`;
//! - stages `n = lg b / lg(β E_M)`, `m + 1 = lg a / lg(β / E'_M)` (aqueous feed; for an
//!   organic feed `n + 1 = …`, `m = …`);
//! - minimum amounts `S_min = max(f'_B(βf_A + f_B)/(f_B(β−1)), W_min + f'_A)`,
//!   `W_min = f'_A/((β−1) f_A)`.

use crate::cascade::{Cascade, Feed, Phase};
use crate::case::xu_flows;
use crate::error::SxError;
use crate::model::SeparationFactorModel;
use crate::result::{ConcentrationUnit, SimulationResult};
use crate::solver::{solve, SolverOptions};
use lodestone_chem::Element;
use serde::Serialize;

/// What the engineer asks for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DesignInput {
    /// Separation factor β = D_A/D_B > 1.
    pub beta: f64,
    /// Mole fraction of A in the feed.
    pub feed_a: f64,
    /// Target A purity of the organic product.
    pub purity_a: f64,
    /// Target B purity of the raffinate.
    pub purity_b: f64,
    /// Phase the feed enters in.
    pub feed_phase: Phase,
    /// Element of component A (labels only).
    pub element_a: Element,
    /// Element of component B (labels only).
    pub element_b: Element,
}

/// Xu's optimum design.
#[derive(Debug, Clone, Serialize)]
pub struct XuDesign {
    /// f'_A: fraction of the feed leaving as the A product.
    pub f_a_out: f64,
    /// E_M: mixed extraction ratio of the extraction section.
    pub e_m: f64,
    /// E'_M: mixed extraction ratio of the scrub section.
    pub e_m_scrub: f64,
    /// S: REE carried by the organic, per unit feed.
    pub s: f64,
    /// W: REE carried by the scrub aqueous, per unit feed.
    pub w: f64,
    /// Extraction stages from the formula (real number).
    pub n: f64,
    /// Scrub stages from the formula (real number).
    pub m: f64,
    /// Minimum extraction amount.
    pub s_min: f64,
    /// Minimum scrub amount.
    pub w_min: f64,
    /// Which section controls the optimum: "extraction" or "scrubbing".
    pub controlling_section: &'static str,
    /// Recovery of A at the target purities (mass balance).
    pub recovery_a: f64,
    /// Recovery of B at the target purities.
    pub recovery_b: f64,
    /// Model-B simulation of the design rounded up to whole stages.
    pub simulated: SimulatedDesign,
    /// Smallest cascade whose simulation meets both targets (with `--search`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub searched: Option<SimulatedDesign>,
}

/// A simulated design.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct SimulatedDesign {
    /// Extraction stages.
    pub n: usize,
    /// Scrub stages.
    pub m: usize,
    /// A purity of the organic product.
    pub purity_a: f64,
    /// B purity of the raffinate.
    pub purity_b: f64,
    /// Recovery of A in the organic product.
    pub recovery_a: f64,
    /// Recovery of B in the raffinate.
    pub recovery_b: f64,
}

impl SimulatedDesign {
    fn meets(&self, input: &DesignInput) -> bool {
        self.purity_a >= input.purity_a && self.purity_b >= input.purity_b
    }
}

fn check_input(i: &DesignInput) -> Result<(), SxError> {
    if !(i.beta.is_finite() && i.beta > 1.0) {
        return Err(SxError::invalid(
            "--beta",
            &i.beta.to_string(),
            "a separation factor > 1 (A more extractable than B)",
        ));
    }
    if !(i.feed_a > 0.0 && i.feed_a < 1.0) {
        return Err(SxError::invalid(
            "--feed-a",
            &i.feed_a.to_string(),
            "a mole fraction strictly between 0 and 1",
        ));
    }
    if !(i.purity_a > i.feed_a && i.purity_a < 1.0) {
        return Err(SxError::invalid(
            "--purity-a",
            &i.purity_a.to_string(),
            &format!("a purity above the feed fraction {} and below 1", i.feed_a),
        ));
    }
    if !(i.purity_b > 1.0 - i.feed_a && i.purity_b < 1.0) {
        return Err(SxError::invalid(
            "--purity-b",
            &i.purity_b.to_string(),
            &format!(
                "a purity above the feed fraction of B {} and below 1",
                1.0 - i.feed_a
            ),
        ));
    }
    if i.element_a == i.element_b {
        return Err(SxError::invalid(
            "--a / --b",
            i.element_a.symbol(),
            "two different elements",
        ));
    }
    Ok(())
}

/// Xu's optimum design and a simulation of it at whole stage numbers.
pub fn design(input: &DesignInput) -> Result<XuDesign, SxError> {
    check_input(input)?;
    let (beta, fa, pa, pb) = (input.beta, input.feed_a, input.purity_a, input.purity_b);
    let fb = 1.0 - fa;
    let f_a_out = (pb - fb) / (pa + pb - 1.0);
    let f_b_out = 1.0 - f_a_out;
    let sqrt_beta = beta.sqrt();
    let organic_feed = input.feed_phase == Phase::Organic;
    // Feed REE carried by the phase the feed enters: +1 in the organic of the scrub section
    // (organic feed) or in the aqueous of the extraction section (aqueous feed).
    let extraction_controls = f_a_out < 1.0 / (1.0 + sqrt_beta);
    let (s, w) = if extraction_controls {
        let s = f_b_out / (sqrt_beta - 1.0);
        (
            s,
            if organic_feed {
                s + f_b_out
            } else {
                s - f_a_out
            },
        )
    } else {
        let w = f_a_out / (sqrt_beta - 1.0);
        (
            if organic_feed {
                w + f_a_out - 1.0
            } else {
                w + f_a_out
            },
            w,
        )
    };
    let (e_m, e_m_scrub) = if organic_feed {
        (s / w, (s + 1.0) / w)
    } else {
        (s / (w + 1.0), s / w)
    };
    let a = (pa / (1.0 - pa)) / (fa / fb);
    let b = (pb / (1.0 - pb)) / (fb / fa);
    let n_raw = b.log10() / (beta * e_m).log10();
    let m_raw = a.log10() / (beta / e_m_scrub).log10();
    let (n, m) = if organic_feed {
        (n_raw - 1.0, m_raw)
    } else {
        (n_raw, m_raw - 1.0)
    };
    let s_min_ext = f_b_out * (beta * fa + fb) / (fb * (beta - 1.0));
    let w_min = f_a_out / ((beta - 1.0) * fa);
    let s_min = s_min_ext.max(w_min + f_a_out);
    if !(s > 0.0 && w > 0.0 && n.is_finite() && m.is_finite()) {
        return Err(SxError::invalid(
            "design targets",
            &format!("β = {beta}, f_A = {fa}, P_A = {pa}, P_B = {pb}"),
            "targets a fractional extraction can reach (positive S and W)",
        ));
    }
    let simulated = simulate_design(
        input,
        s,
        w,
        (n.ceil() as usize).max(1),
        (m.ceil() as usize).max(1),
    )?;
    Ok(XuDesign {
        f_a_out,
        e_m,
        e_m_scrub,
        s,
        w,
        n,
        m,
        s_min,
        w_min,
        controlling_section: if extraction_controls {
            "extraction"
        } else {
            "scrubbing"
        },
        recovery_a: f_a_out * pa / fa,
        recovery_b: f_b_out * pb / fb,
        simulated,
        searched: None,
    })
}

/// Simulates an n + m stage cascade at extraction amount `s` and scrub amount `w` (model B).
pub fn simulate_design(
    input: &DesignInput,
    s: f64,
    w: f64,
    n: usize,
    m: usize,
) -> Result<SimulatedDesign, SxError> {
    let model =
        SeparationFactorModel::new(&[(input.element_a, input.beta), (input.element_b, 1.0)])?;
    let (aq, org, feed_stage) = xu_flows(n, m, s, w, input.feed_phase);
    let feed = Feed {
        name: "feed".into(),
        phase: input.feed_phase,
        stage: feed_stage,
        flow: 1.0,
        concentration: vec![input.feed_a, 1.0 - input.feed_a],
    };
    let cascade = Cascade::with_outflows(n + m, aq, org, vec![feed], vec![])?;
    let solution = solve(&cascade, &model, &SolverOptions::default())?;
    let r = SimulationResult::build(
        &cascade,
        &model,
        &solution,
        ConcentrationUnit::MoleFraction,
        "",
    );
    if !r.converged {
        return Err(SxError::invalid(
            "design simulation",
            &format!("n = {n}, m = {m}"),
            "a cascade the solver converges on (please report this case)",
        ));
    }
    let (a, b) = (input.element_a.symbol(), input.element_b.symbol());
    let raffinate = &r.products[0];
    let product = &r.products[r.products.len() - 1];
    Ok(SimulatedDesign {
        n,
        m,
        purity_a: product.ree_mole_fraction[a],
        purity_b: raffinate.ree_mole_fraction[b],
        recovery_a: product.recovery[a],
        recovery_b: raffinate.recovery[b],
    })
}

/// The smallest (n, m) whose simulation at the design's S and W meets both purity targets:
/// grow the section whose product falls short from the rounded formula values, then shrink
/// each section while the targets still hold.
pub fn search(
    input: &DesignInput,
    design: &XuDesign,
    max_stages: usize,
) -> Result<SimulatedDesign, SxError> {
    let (s, w) = (design.s, design.w);
    let mut best = design.simulated;
    while !best.meets(input) {
        let n = best.n + usize::from(best.purity_b < input.purity_b);
        let m = best.m + usize::from(best.purity_a < input.purity_a);
        if n + m > max_stages {
            return Err(SxError::invalid(
                "--search",
                &format!("more than {max_stages} stages"),
                &format!(
                    "targets reachable at S = {s:.6}, W = {w:.6}: with these amounts P_A ≤ f_A/f'_A = {:.6} and \
                     P_B ≤ f_B/f'_B = {:.6}",
                    input.feed_a / design.f_a_out,
                    (1.0 - input.feed_a) / (1.0 - design.f_a_out)
                ),
            ));
        }
        best = simulate_design(input, s, w, n, m)?;
    }
    loop {
        let mut shrunk = false;
        for (dn, dm) in [(1, 0), (0, 1)] {
            if best.n > dn && best.m > dm {
                let candidate = simulate_design(input, s, w, best.n - dn, best.m - dm)?;
                if candidate.meets(input) {
                    best = candidate;
                    shrunk = true;
                }
            }
        }
        if !shrunk {
            return Ok(best);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nd_pr(purity_a: f64, purity_b: f64) -> DesignInput {
        DesignInput {
            beta: 1.5,
            feed_a: 0.75,
            purity_a,
            purity_b,
            feed_phase: Phase::Aqueous,
            element_a: Element::Nd,
            element_b: Element::Pr,
        }
    }

    fn rel(got: f64, expected: f64) -> f64 {
        ((got - expected) / expected).abs()
    }

    #[test]
    fn reproduces_v7_nd_pr_row() {
        // sx.md §3.3 table and V7: (1.5, 0.75, 0.995, 0.99) → f'_A 0.751269, E_M 0.942725,
        // E'_M 1.224745, S 4.094033, W 3.342764, S_min 2.754653, n 16.4329, m 19.6908 (rel 1e-5).
        let d = design(&nd_pr(0.995, 0.99)).unwrap();
        for (what, got, expected) in [
            ("f'_A", d.f_a_out, 0.751269),
            ("E_M", d.e_m, 0.942725),
            ("E'_M", d.e_m_scrub, 1.224745),
            ("S", d.s, 4.094033),
            ("W", d.w, 3.342764),
            ("S_min", d.s_min, 2.754653),
            ("n", d.n, 16.4329),
            ("m", d.m, 19.6908),
        ] {
            assert!(rel(got, expected) < 1e-5, "{what}: {got} vs {expected}");
        }
        assert_eq!(d.controlling_section, "scrubbing");
        // The rounded design (17, 20) is V4: P_A 0.994792, P_B 0.989371 (abs 1e-6).
        assert_eq!((d.simulated.n, d.simulated.m), (17, 20));
        assert!((d.simulated.purity_a - 0.994792).abs() < 1e-6);
        assert!((d.simulated.purity_b - 0.989371).abs() < 1e-6);
    }

    #[test]
    fn search_finds_a_cascade_that_meets_both_targets_and_is_minimal() {
        let input = nd_pr(0.995, 0.99);
        let d = design(&input).unwrap();
        let found = search(&input, &d, 500).unwrap();
        assert!(found.purity_a >= 0.995 && found.purity_b >= 0.99);
        for (n, m) in [(found.n - 1, found.m), (found.n, found.m - 1)] {
            let smaller = simulate_design(&input, d.s, d.w, n, m).unwrap();
            assert!(!smaller.meets(&input), "({n}, {m}) also meets the targets");
        }
    }

    #[test]
    fn minimum_amounts_for_sharp_splits_match_closed_form() {
        // sx.md §3.2: when f'_A = f_A, S_min = f_A + 1/(β − 1) and W_min = 1/(β − 1).
        // At 99.99 % the split is nearly sharp (f'_A = 0.75005).
        let d = design(&nd_pr(0.9999, 0.9999)).unwrap_or_else(|e| panic!("{e}"));
        assert!((d.f_a_out - 0.75).abs() < 1e-4);
        assert!(rel(d.w_min, 1.0 / 0.5) < 1e-3 && rel(d.s_min, 0.75 + 2.0) < 1e-3);
    }

    #[test]
    fn six_nines_design_simulates_from_a_cold_start() {
        // 99.9999 % both ways: 44 + 62 stages with products many decades apart.
        let d = design(&nd_pr(1.0 - 1e-6, 1.0 - 1e-6)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(d.simulated.n + d.simulated.m, 106);
        assert!(
            d.simulated.purity_a > 0.99999 && d.simulated.purity_b > 0.99999,
            "{:?}",
            d.simulated
        );
    }

    #[test]
    fn organic_feed_design_is_balanced_and_simulates() {
        let input = DesignInput {
            feed_phase: Phase::Organic,
            ..nd_pr(0.995, 0.99)
        };
        let d = design(&input).unwrap();
        // Raffinate W − S = f'_B, organic product S + 1 − W = f'_A.
        assert!((d.w - d.s - (1.0 - d.f_a_out)).abs() < 1e-12);
        let found = search(&input, &d, 500).unwrap();
        assert!(found.purity_a >= 0.995 && found.purity_b >= 0.99);
    }

    #[test]
    fn rejects_impossible_targets_with_the_field() {
        let err = design(&DesignInput {
            beta: 0.9,
            ..nd_pr(0.995, 0.99)
        })
        .unwrap_err();
        assert!(err.to_string().contains("--beta"), "{err}");
        let err = design(&nd_pr(0.5, 0.99)).unwrap_err();
        assert!(err.to_string().contains("--purity-a"), "{err}");
    }
}
