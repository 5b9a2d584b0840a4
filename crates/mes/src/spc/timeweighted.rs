//! Time-weighted charts: EWMA and CUSUM, as R qcc 3.0's `ewma()` and `cusum()`.
//!
//! Both chart subgroup means x̄ᵢ (or individual values when every phase-I subgroup has one
//! value). Centre and σ come from the included phase-I subgroups as for the X̄ chart, with
//! qcc's choice of σ method (`ChartOptions::std_dev_method`; default UWAVE-R, RMSDF when a
//! subgroup has more than 25 values, MR for individual values), or from the standard.
//! The recursion runs over phase I and phase II together; excluded subgroups are plotted
//! and smoothed but do not enter the estimates.

use super::charts::{
    assemble, check_nsigmas, check_standard, check_subgroups, exclusion_mask, mean, ChartKind,
    ChartOptions, ChartSpec, ControlChart, PointSpec, Standard,
};
use super::constants::{SigmaConvention, MAX_RANGE_N};
use super::rules::Rules;
use super::sigma::{self, StdDevMethod};
use super::{Phase, SpcError};
use serde::{Deserialize, Serialize};

/// EWMA parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EwmaOptions {
    /// Smoothing constant λ in (0, 1] (default 0.2).
    pub lambda: f64,
}

impl Default for EwmaOptions {
    fn default() -> Self {
        EwmaOptions { lambda: 0.2 }
    }
}

/// CUSUM parameters, in standard errors of the subgroup mean (qcc's standardised form).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CusumOptions {
    /// h: a cumulative sum beyond ±h signals (default 5).
    pub decision_interval: f64,
    /// Shift to detect, δ; the reference value is k = δ/2 (default 1).
    pub se_shift: f64,
    /// Fast-initial-response start of both sums, in [0, h) (default 0).
    pub head_start: f64,
}

impl Default for CusumOptions {
    fn default() -> Self {
        CusumOptions {
            decision_interval: 5.0,
            se_shift: 1.0,
            head_start: 0.0,
        }
    }
}

/// One CUSUM point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CusumPoint {
    /// 0-based position in the combined sequence.
    pub index: usize,
    /// Phase of the subgroup.
    pub phase: Phase,
    /// True if the subgroup was left out of the estimates.
    pub excluded: bool,
    /// Subgroup size.
    pub size: f64,
    /// Subgroup mean x̄ᵢ.
    pub statistic: f64,
    /// Standardised mean zᵢ = (x̄ᵢ − centre)/(σ/√nᵢ).
    pub z: f64,
    /// Upper sum C⁺ᵢ = max(0, C⁺ᵢ₋₁ + zᵢ − δ/2) ≥ 0.
    pub upper: f64,
    /// Lower sum, plotted negative: −C⁻ᵢ with C⁻ᵢ = max(0, C⁻ᵢ₋₁ − zᵢ − δ/2).
    pub lower: f64,
    /// C⁺ᵢ > h.
    pub upper_violation: bool,
    /// −C⁻ᵢ < −h.
    pub lower_violation: bool,
}

/// A CUSUM chart.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CusumChart {
    /// Target / centre μ₀.
    pub center: f64,
    /// Within-subgroup σ.
    pub std_dev: f64,
    /// True if the centre came from the standard.
    pub center_from_standard: bool,
    /// True if σ came from the standard.
    pub std_dev_from_standard: bool,
    /// d₂/d₃ convention used for σ̂.
    pub convention: SigmaConvention,
    /// h.
    pub decision_interval: f64,
    /// δ.
    pub se_shift: f64,
    /// Head start.
    pub head_start: f64,
    /// Number of phase-I points.
    pub phase_one_count: usize,
    /// Excluded phase-I subgroups.
    pub excluded: Vec<usize>,
    /// The points.
    pub points: Vec<CusumPoint>,
}

impl CusumChart {
    /// 0-based indices of points where either sum crosses the decision interval.
    pub fn violations(&self) -> Vec<usize> {
        self.points
            .iter()
            .filter(|p| p.upper_violation || p.lower_violation)
            .map(|p| p.index)
            .collect()
    }
}

/// Validated subgroups with their means, sizes and the estimated (or standard) parameters.
struct Prepared {
    sizes: Vec<f64>,
    means: Vec<f64>,
    phases: Vec<Phase>,
    excluded_mask: Vec<bool>,
    excluded: Vec<usize>,
    center: f64,
    sigma: f64,
}

fn prepare(
    kind: ChartKind,
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    opts: &ChartOptions,
) -> Result<Prepared, SpcError> {
    check_nsigmas(opts.nsigmas)?;
    check_standard(&opts.standard)?;
    if phase1.is_empty() && phase2.is_empty() {
        return Err(SpcError::NoData { chart: kind });
    }
    let Standard { center, std_dev } = opts.standard;
    let individuals = phase1.iter().all(|g| g.len() == 1);
    sigma::check(kind, individuals, opts.std_dev_method, std_dev.is_some())?;
    // qcc: UWAVE-R for subgroups, RMSDF once a subgroup has more than 25 values; MR for
    // individual values.
    let method = opts.std_dev_method.unwrap_or(if individuals {
        StdDevMethod::Mr
    } else if phase1.iter().any(|g| g.len() > 25) {
        StdDevMethod::Rmsdf
    } else {
        StdDevMethod::UwaveR
    });
    let (min1, max, hint) = match (std_dev, individuals) {
        (Some(_), _) => (1, None, ""),
        (None, true) => (1, None, ""),
        (None, false) => (
            2,
            method.uses_ranges().then_some(MAX_RANGE_N),
            " to estimate σ within subgroups (all of one value each uses the moving range)",
        ),
    };
    check_subgroups(kind, Phase::One, phase1, min1, max, hint)?;
    check_subgroups(kind, Phase::Two, phase2, 1, None, "")?;
    let (mask, excluded) = exclusion_mask(&opts.exclude, phase1.len())?;
    let included: Vec<&Vec<f64>> = phase1
        .iter()
        .zip(&mask)
        .filter(|(_, &x)| !x)
        .map(|(g, _)| g)
        .collect();
    let too_few = if individuals {
        included.len() < 2
    } else {
        included.is_empty()
    };
    if (std_dev.is_none() && too_few) || (center.is_none() && included.is_empty()) {
        return Err(SpcError::NoPhaseOneData {
            chart: kind,
            missing: match (
                center.is_none() && included.is_empty(),
                std_dev.is_none() && too_few,
            ) {
                (true, true) => "centre and σ",
                (true, false) => "centre",
                _ => "σ",
            },
        });
    }
    let center = match center {
        Some(c) => c,
        None => {
            let total: f64 = included.iter().map(|g| g.len() as f64).sum();
            included.iter().map(|g| g.iter().sum::<f64>()).sum::<f64>() / total
        }
    };
    let sigma = match std_dev {
        Some(s) => s,
        None if individuals => {
            let values: Vec<f64> = included.iter().map(|g| g[0]).collect();
            sigma::individuals(&values, method, opts.convention)?
        }
        None => sigma::grouped(&included, method, opts.convention)?,
    };
    let all = phase1
        .iter()
        .map(|g| (Phase::One, g))
        .chain(phase2.iter().map(|g| (Phase::Two, g)));
    let (mut sizes, mut means, mut phases) = (Vec::new(), Vec::new(), Vec::new());
    for (phase, g) in all {
        sizes.push(g.len() as f64);
        means.push(mean(g));
        phases.push(phase);
    }
    Ok(Prepared {
        sizes,
        means,
        phases,
        excluded_mask: mask,
        excluded,
        center,
        sigma,
    })
}

/// EWMA chart (qcc `ewma`): z₀ = centre, zᵢ = λx̄ᵢ + (1−λ)zᵢ₋₁;
/// σ_zᵢ = σ/√nᵢ · √(λ/(2−λ)·(1 − (1−λ)^{2i})) with i = 1, 2, … over the combined sequence;
/// limits centre ± L·σ_zᵢ (L = `opts.nsigmas`). Only rule 1 (beyond the limits) is
/// evaluated, as qcc does: successive EWMA values are correlated, so run rules do not apply.
pub fn ewma_chart(
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    ewma: &EwmaOptions,
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    let lambda = ewma.lambda;
    if !(lambda > 0.0 && lambda <= 1.0) {
        return Err(SpcError::InvalidParameter {
            name: "lambda",
            value: lambda,
            allowed: "the EWMA smoothing constant λ must be in (0, 1] (usually 0.05–0.3)",
        });
    }
    let p = prepare(ChartKind::Ewma, phase1, phase2, opts)?;
    let asymptotic = lambda / (2.0 - lambda);
    let mut z = p.center;
    let mut decay = 1.0; // (1 − λ)^{2i}
    let mut points = Vec::with_capacity(p.means.len());
    for (i, &x) in p.means.iter().enumerate() {
        z = lambda * x + (1.0 - lambda) * z;
        decay *= (1.0 - lambda) * (1.0 - lambda);
        let n = p.sizes[i];
        points.push(PointSpec {
            index: i,
            phase: p.phases[i],
            excluded: p.phases[i] == Phase::One && p.excluded_mask[i],
            size: n,
            statistic: z,
            observed: Some(x),
            center: p.center,
            sigma: p.sigma / n.sqrt() * (asymptotic * (1.0 - decay)).sqrt(),
            lower_bound: None,
            upper_bound: None,
        });
    }
    let spec = ChartSpec {
        kind: ChartKind::Ewma,
        center: p.center,
        std_dev: p.sigma,
        center_from_standard: opts.standard.center.is_some(),
        std_dev_from_standard: opts.standard.std_dev.is_some(),
        phase_one_count: phase1.len(),
        excluded: p.excluded,
        lambda: Some(lambda),
    };
    assemble(spec, points, opts, Rules::beyond_limits_only())
}

/// CUSUM chart (qcc `cusum`, standardised tabular form): zᵢ = (x̄ᵢ − μ₀)/(σ/√nᵢ);
/// C⁺ᵢ = max(0, C⁺ᵢ₋₁ + zᵢ − δ/2), C⁻ᵢ = max(0, C⁻ᵢ₋₁ − zᵢ − δ/2), both starting at the
/// head start; a signal when C⁺ᵢ > h or C⁻ᵢ > h. `opts.nsigmas` and `opts.rules` are not
/// used.
pub fn cusum_chart(
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    cusum: &CusumOptions,
    opts: &ChartOptions,
) -> Result<CusumChart, SpcError> {
    let h = cusum.decision_interval;
    if !(h.is_finite() && h > 0.0) {
        return Err(SpcError::InvalidParameter {
            name: "decision_interval",
            value: h,
            allowed: "the decision interval h must be finite and > 0 (usually 4 or 5)",
        });
    }
    if !(cusum.se_shift.is_finite() && cusum.se_shift >= 0.0) {
        return Err(SpcError::InvalidParameter {
            name: "se_shift",
            value: cusum.se_shift,
            allowed: "the shift to detect must be finite and ≥ 0 standard errors (usually 1)",
        });
    }
    if !(cusum.head_start >= 0.0 && cusum.head_start < h) {
        return Err(SpcError::InvalidParameter {
            name: "head_start",
            value: cusum.head_start,
            allowed: "the head start must be ≥ 0 and below the decision interval",
        });
    }
    let p = prepare(ChartKind::Cusum, phase1, phase2, opts)?;
    let k = cusum.se_shift / 2.0;
    let (mut up, mut down) = (cusum.head_start, cusum.head_start);
    let mut points = Vec::with_capacity(p.means.len());
    for (i, &x) in p.means.iter().enumerate() {
        let z = (x - p.center) / (p.sigma / p.sizes[i].sqrt());
        up = (up + z - k).max(0.0);
        down = (down - z - k).max(0.0);
        points.push(CusumPoint {
            index: i,
            phase: p.phases[i],
            excluded: p.phases[i] == Phase::One && p.excluded_mask[i],
            size: p.sizes[i],
            statistic: x,
            z,
            upper: up,
            lower: -down,
            upper_violation: up > h,
            lower_violation: -down < -h,
        });
    }
    Ok(CusumChart {
        center: p.center,
        std_dev: p.sigma,
        center_from_standard: opts.standard.center.is_some(),
        std_dev_from_standard: opts.standard.std_dev.is_some(),
        convention: opts.convention,
        decision_interval: h,
        se_shift: cusum.se_shift,
        head_start: cusum.head_start,
        phase_one_count: phase1.len(),
        excluded: p.excluded,
        points,
    })
}
