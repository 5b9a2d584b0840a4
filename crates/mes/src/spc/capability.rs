//! Process capability with R qcc's `processCapability` (HEAD, `R/capability.R`).
//!
//! With k = nsigmas (3), μ̂ the chart centre, σ̂ the within-subgroup σ of the chart and s the
//! overall sample standard deviation of the n individual values:
//!
//! - Cp = (USL − LSL)/(2kσ̂); Cpu = (USL − μ̂)/(kσ̂); Cpl = (μ̂ − LSL)/(kσ̂);
//!   Cpk = min(Cpl, Cpu) over the limits given; Cpm = Cp/√(1 + ((μ̂ − T)/σ̂)²), T defaulting
//!   to the midpoint of the specification.
//! - Pp, Ppl, Ppu, Ppk, Ppm: the same with s instead of σ̂.
//! - Confidence intervals (α = 1 − confidence level):
//!   Cp, Pp: idx·√(χ²_{α/2,ν}/ν), idx·√(χ²_{1−α/2,ν}/ν) with ν = n − 1 (Chou et al. 1990);
//!   Cpm, Ppm: the same with Boyles' ν = n(1 + δ²)/(1 + 2δ²), δ = (μ̂ − T)/σ̂ (Boyles 1991);
//!   Cpl, Cpu (Ppl, Ppu): idx·(1 ∓ z√(1/(9n·idx²) + 1/(2(n−1)))) with z = Φ⁻¹(confidence)
//!   (one-sided z, as qcc); Cpk (Ppk): the same with z = Φ⁻¹(1 − α/2) (Bissell 1990).
//! - Expected fractions out of spec Φ((LSL − μ̂)/σ̂) and 1 − Φ((USL − μ̂)/σ̂); observed
//!   fractions #(x < LSL)/n and #(x > USL)/n. (qcc prints them as percentages and shows
//!   expected values below 0.01 % as 0; here they are unrounded fractions.)
//!
//! One-sided specifications: the missing side's indices are `None`; Cp, Cpm (Pp, Ppm) need
//! both limits.

use super::charts::{ChartKind, ControlChart};
use super::SpcError;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ChiSquared, ContinuousCDF, Normal};

/// Specification limits and target. At least one limit is required.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SpecLimits {
    /// Lower specification limit.
    pub lsl: Option<f64>,
    /// Upper specification limit.
    pub usl: Option<f64>,
    /// Target T for Cpm; defaults to (LSL + USL)/2 when both limits are given.
    pub target: Option<f64>,
}

impl SpecLimits {
    /// Two-sided limits, target at the midpoint.
    pub fn two_sided(lsl: f64, usl: f64) -> Self {
        SpecLimits {
            lsl: Some(lsl),
            usl: Some(usl),
            target: None,
        }
    }

    /// The same limits with an explicit target.
    pub fn with_target(self, target: f64) -> Self {
        SpecLimits {
            target: Some(target),
            ..self
        }
    }
}

/// Options for capability.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CapabilityOptions {
    /// Confidence level of the intervals, in (0, 1) (default 0.95).
    pub confidence_level: f64,
    /// k in the index formulas (default 3).
    pub nsigmas: f64,
}

impl Default for CapabilityOptions {
    fn default() -> Self {
        CapabilityOptions {
            confidence_level: 0.95,
            nsigmas: 3.0,
        }
    }
}

/// An index with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct IndexEstimate {
    /// Point estimate.
    pub value: f64,
    /// Lower confidence limit.
    pub lower: f64,
    /// Upper confidence limit.
    pub upper: f64,
}

/// Capability indices of a process.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Capability {
    /// Number of individual values.
    pub n: usize,
    /// Process centre μ̂.
    pub center: f64,
    /// Within-subgroup σ̂ (short term).
    pub std_dev: f64,
    /// Overall sample standard deviation s (long term).
    pub overall_std_dev: f64,
    /// Lower specification limit.
    pub lsl: Option<f64>,
    /// Upper specification limit.
    pub usl: Option<f64>,
    /// Target used for Cpm (None for a one-sided specification without target).
    pub target: Option<f64>,
    /// Confidence level of the intervals.
    pub confidence_level: f64,
    /// k used in the formulas.
    pub nsigmas: f64,
    /// Cp (two-sided only).
    pub cp: Option<IndexEstimate>,
    /// Cpl (needs LSL).
    pub cpl: Option<IndexEstimate>,
    /// Cpu (needs USL).
    pub cpu: Option<IndexEstimate>,
    /// Cpk = min(Cpl, Cpu) over the limits given.
    pub cpk: IndexEstimate,
    /// Cpm (two-sided only).
    pub cpm: Option<IndexEstimate>,
    /// Pp (two-sided only).
    pub pp: Option<IndexEstimate>,
    /// Ppl (needs LSL).
    pub ppl: Option<IndexEstimate>,
    /// Ppu (needs USL).
    pub ppu: Option<IndexEstimate>,
    /// Ppk.
    pub ppk: IndexEstimate,
    /// Ppm (two-sided only).
    pub ppm: Option<IndexEstimate>,
    /// Expected fraction below LSL, Φ((LSL − μ̂)/σ̂).
    pub expected_below_lsl: Option<f64>,
    /// Expected fraction above USL, 1 − Φ((USL − μ̂)/σ̂).
    pub expected_above_usl: Option<f64>,
    /// Observed fraction of values below LSL.
    pub observed_below_lsl: Option<f64>,
    /// Observed fraction of values above USL.
    pub observed_above_usl: Option<f64>,
}

struct Quantiles {
    alpha: f64,
    z_one_sided: f64,
    z_two_sided: f64,
    n: f64,
}

impl Quantiles {
    fn wald(&self, value: f64, z: f64) -> IndexEstimate {
        let n = self.n;
        let half = z * (1.0 / (9.0 * n * value * value) + 1.0 / (2.0 * (n - 1.0))).sqrt();
        IndexEstimate {
            value,
            lower: value * (1.0 - half),
            upper: value * (1.0 + half),
        }
    }

    fn chi_squared(&self, value: f64, df: f64) -> Result<IndexEstimate, SpcError> {
        let chi = ChiSquared::new(df).map_err(|_| SpcError::InvalidParameter {
            name: "degrees of freedom",
            value: df,
            allowed: "χ² degrees of freedom must be finite and > 0",
        })?;
        let lo = chi.inverse_cdf(self.alpha / 2.0);
        let hi = chi.inverse_cdf(1.0 - self.alpha / 2.0);
        Ok(IndexEstimate {
            value,
            lower: value * (lo / df).sqrt(),
            upper: value * (hi / df).sqrt(),
        })
    }
}

/// The indices of one σ (within σ̂ → C family, overall s → P family).
struct Family {
    whole: Option<IndexEstimate>,
    lower: Option<IndexEstimate>,
    upper: Option<IndexEstimate>,
    k: IndexEstimate,
    taguchi: Option<IndexEstimate>,
}

fn family(
    sigma: f64,
    center: f64,
    lsl: Option<f64>,
    usl: Option<f64>,
    target: Option<f64>,
    k: f64,
    q: &Quantiles,
) -> Result<Family, SpcError> {
    let lower = lsl.map(|l| q.wald((center - l) / (k * sigma), q.z_one_sided));
    let upper = usl.map(|u| q.wald((u - center) / (k * sigma), q.z_one_sided));
    let k_value = match (lower, upper) {
        (Some(l), Some(u)) => l.value.min(u.value),
        (Some(l), None) => l.value,
        (None, Some(u)) => u.value,
        (None, None) => f64::NAN, // excluded by validation
    };
    let cpk = q.wald(k_value, q.z_two_sided);
    let (whole, taguchi) = match (lsl, usl) {
        (Some(l), Some(u)) => {
            let cp = (u - l) / (2.0 * k * sigma);
            let whole = q.chi_squared(cp, q.n - 1.0)?;
            let taguchi = match target {
                Some(t) => {
                    let delta = (center - t) / sigma;
                    let d2 = delta * delta;
                    let cpm = cp / (1.0 + d2).sqrt();
                    let df = q.n * (1.0 + d2) / (1.0 + 2.0 * d2);
                    Some(q.chi_squared(cpm, df)?)
                }
                None => None,
            };
            (Some(whole), taguchi)
        }
        _ => (None, None),
    };
    Ok(Family {
        whole,
        lower,
        upper,
        k: cpk,
        taguchi,
    })
}

/// Capability of `values` (the individual measurements, n ≥ 2) for a process with centre
/// `center` and within-subgroup σ `std_dev` (usually an X̄ or I chart's centre and σ̂).
pub fn capability(
    values: &[f64],
    center: f64,
    std_dev: f64,
    spec: &SpecLimits,
    opts: &CapabilityOptions,
) -> Result<Capability, SpcError> {
    let CapabilityOptions {
        confidence_level,
        nsigmas,
    } = *opts;
    if !(confidence_level > 0.0 && confidence_level < 1.0) {
        return Err(SpcError::InvalidParameter {
            name: "confidence_level",
            value: confidence_level,
            allowed: "the confidence level must be strictly between 0 and 1 (usually 0.95)",
        });
    }
    super::charts::check_nsigmas(nsigmas)?;
    if !center.is_finite() {
        return Err(SpcError::InvalidParameter {
            name: "center",
            value: center,
            allowed: "the process centre must be finite",
        });
    }
    if !(std_dev.is_finite() && std_dev > 0.0) {
        return Err(SpcError::InvalidParameter {
            name: "std_dev",
            value: std_dev,
            allowed: "the within-subgroup σ must be finite and > 0",
        });
    }
    let SpecLimits { lsl, usl, target } = *spec;
    let bad = |reason| SpcError::InvalidSpecLimits { lsl, usl, reason };
    if lsl.is_none() && usl.is_none() {
        return Err(bad("give at least one specification limit"));
    }
    if lsl.is_some_and(|v| !v.is_finite()) || usl.is_some_and(|v| !v.is_finite()) {
        return Err(bad("specification limits must be finite numbers"));
    }
    if let (Some(l), Some(u)) = (lsl, usl) {
        if !(l < u) {
            return Err(bad("LSL must be below USL"));
        }
    }
    if let Some(t) = target.filter(|t| !t.is_finite()) {
        return Err(SpcError::InvalidParameter {
            name: "target",
            value: t,
            allowed: "the target must be a finite number",
        });
    }
    if let Some((i, v)) = values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        return Err(SpcError::DegenerateData {
            reason: format!("value {i} is {v}; every value must be a finite number"),
        });
    }
    if values.len() < 2 {
        return Err(SpcError::DegenerateData {
            reason: format!(
                "{} value(s) given; the intervals need at least 2 (n − 1 degrees of freedom)",
                values.len()
            ),
        });
    }
    let n = values.len();
    let overall = super::charts::sample_sd(values);
    if !(overall.is_finite() && overall > 0.0) {
        return Err(SpcError::DegenerateData {
            reason: format!(
                "the overall standard deviation of the {n} values is {overall}; Pp needs values \
                 that differ"
            ),
        });
    }
    let target = target.or(match (lsl, usl) {
        (Some(l), Some(u)) => Some((l + u) / 2.0),
        _ => None,
    });
    let normal = Normal::standard();
    let alpha = 1.0 - confidence_level;
    let q = Quantiles {
        alpha,
        z_one_sided: normal.inverse_cdf(confidence_level),
        z_two_sided: normal.inverse_cdf(1.0 - alpha / 2.0),
        n: n as f64,
    };
    let within = family(std_dev, center, lsl, usl, target, nsigmas, &q)?;
    let overall_family = family(overall, center, lsl, usl, target, nsigmas, &q)?;
    let fraction = |count: usize| count as f64 / n as f64;
    Ok(Capability {
        n,
        center,
        std_dev,
        overall_std_dev: overall,
        lsl,
        usl,
        target,
        confidence_level,
        nsigmas,
        cp: within.whole,
        cpl: within.lower,
        cpu: within.upper,
        cpk: within.k,
        cpm: within.taguchi,
        pp: overall_family.whole,
        ppl: overall_family.lower,
        ppu: overall_family.upper,
        ppk: overall_family.k,
        ppm: overall_family.taguchi,
        expected_below_lsl: lsl.map(|l| normal.cdf((l - center) / std_dev)),
        expected_above_usl: usl.map(|u| normal.sf((u - center) / std_dev)),
        observed_below_lsl: lsl.map(|l| fraction(values.iter().filter(|&&x| x < l).count())),
        observed_above_usl: usl.map(|u| fraction(values.iter().filter(|&&x| x > u).count())),
    })
}

/// Capability from an X̄ chart and the phase-I subgroups it was built from: the chart's
/// centre and σ̂, and every value of the included (not excluded) phase-I subgroups — qcc's
/// `processCapability(qcc(data, type = "xbar"), …)`.
pub fn xbar_capability(
    chart: &ControlChart,
    phase1: &[Vec<f64>],
    spec: &SpecLimits,
    opts: &CapabilityOptions,
) -> Result<Capability, SpcError> {
    if !matches!(chart.kind, ChartKind::XbarR | ChartKind::XbarS) {
        return Err(SpcError::NotALocationChart { chart: chart.kind });
    }
    if phase1.len() != chart.phase_one_count {
        return Err(SpcError::DataMismatch {
            expected: chart.phase_one_count,
            given: phase1.len(),
        });
    }
    let values: Vec<f64> = phase1
        .iter()
        .enumerate()
        .filter(|(i, _)| !chart.excluded.contains(i))
        .flat_map(|(_, g)| g.iter().copied())
        .collect();
    capability(&values, chart.center, chart.std_dev, spec, opts)
}

/// Capability from an individuals chart and the phase-I values it was built from
/// (qcc `processCapability` on an `xbar.one` chart).
pub fn individuals_capability(
    chart: &ControlChart,
    phase1: &[f64],
    spec: &SpecLimits,
    opts: &CapabilityOptions,
) -> Result<Capability, SpcError> {
    if chart.kind != ChartKind::Individuals {
        return Err(SpcError::NotALocationChart { chart: chart.kind });
    }
    if phase1.len() != chart.phase_one_count {
        return Err(SpcError::DataMismatch {
            expected: chart.phase_one_count,
            given: phase1.len(),
        });
    }
    let values: Vec<f64> = phase1
        .iter()
        .enumerate()
        .filter(|(i, _)| !chart.excluded.contains(i))
        .map(|(_, &v)| v)
        .collect();
    capability(&values, chart.center, chart.std_dev, spec, opts)
}
