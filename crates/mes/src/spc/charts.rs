//! Shewhart control charts with R qcc 3.0 semantics.
//!
//! Every chart takes phase-I data (limits are estimated from them, less any subgroups listed
//! in [`ChartOptions::exclude`]) and phase-II data (plotted against the fixed phase-I
//! limits, qcc's `newdata`). A [`Standard`] replaces the estimated centre and/or σ with
//! historical values; with a complete standard phase I may be empty.
//!
//! | chart | statistic | centre (phase I) | σ̂ | limits at point i |
//! |---|---|---|---|---|
//! | X̄ (R) | x̄ᵢ | Σnᵢx̄ᵢ/Σnᵢ | mean(Rᵢ/d₂(nᵢ)) | centre ± k σ̂/√nᵢ |
//! | X̄ (S) | x̄ᵢ | Σnᵢx̄ᵢ/Σnᵢ | mean(sᵢ/c₄(nᵢ)) | centre ± k σ̂/√nᵢ |
//! | R | Rᵢ | ΣnᵢRᵢ/Σnᵢ | mean(Rᵢ/d₂(nᵢ)) | max(0, centre − k d₃(nᵢ)σ̂), centre + k d₃(nᵢ)σ̂ |
//! | S | sᵢ | Σnᵢsᵢ/Σnᵢ | mean(sᵢ/c₄(nᵢ)) | max(0, centre − k σ̂√(1−c₄²)), centre + k σ̂√(1−c₄²) |
//! | I | xᵢ | mean x | MR̄/d₂(2) | centre ± k σ̂ |
//! | MR | \|xᵢ − xᵢ₋₁\| | MR̄ | MR̄/d₂(2) | max(0, MR̄ − k d₃(2)σ̂), MR̄ + k d₃(2)σ̂ |
//! | p | Dᵢ/nᵢ | p̄ = ΣD/Σn | √(p̄(1−p̄)/nᵢ) | max(0, p̄ − kσᵢ), min(1, p̄ + kσᵢ) |
//! | np | Dᵢ | nᵢp̄ | √(nᵢp̄(1−p̄)) | max(0, nᵢp̄ − kσᵢ), min(nᵢ, nᵢp̄ + kσᵢ) |
//! | c | cᵢ | c̄ | √c̄ | max(0, c̄ − k√c̄), c̄ + k√c̄ |
//! | u | cᵢ/nᵢ | ū = Σc/Σn | √(ū/nᵢ) | max(0, ū − kσᵢ), ū + kσᵢ |
//!
//! (k = nsigmas; means over the included phase-I subgroups; MR̄ over the moving ranges of
//! the included phase-I values in order, bridging excluded ones as qcc does when they are
//! removed.)

use super::constants::{self, SigmaConvention, MAX_RANGE_N};
use super::rules::{self, Rules, ZoneLimits};
use super::sigma::{self, StdDevMethod};
use super::{Phase, SpcError};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The kind of a control chart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChartKind {
    /// Subgroup means, σ from the ranges (qcc `xbar`, `std.dev = "UWAVE-R"`).
    XbarR,
    /// Subgroup means, σ from the standard deviations (qcc `xbar`, `"UWAVE-SD"`).
    XbarS,
    /// Subgroup ranges (qcc `R`).
    R,
    /// Subgroup standard deviations (qcc `S`).
    S,
    /// Individual values, σ from the moving range (qcc `xbar.one`).
    Individuals,
    /// Moving ranges of two successive individual values.
    MovingRange,
    /// Fraction nonconforming (qcc `p`).
    P,
    /// Number nonconforming (qcc `np`).
    Np,
    /// Nonconformities per sample of constant size (qcc `c`).
    C,
    /// Nonconformities per unit (qcc `u`).
    U,
    /// Exponentially weighted moving average (qcc `ewma`).
    Ewma,
    /// Standardised tabular cumulative sum (qcc `cusum`).
    Cusum,
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChartKind::XbarR => "X̄ (σ from R)",
            ChartKind::XbarS => "X̄ (σ from S)",
            ChartKind::R => "R",
            ChartKind::S => "S",
            ChartKind::Individuals => "individuals (I)",
            ChartKind::MovingRange => "moving range (MR)",
            ChartKind::P => "p",
            ChartKind::Np => "np",
            ChartKind::C => "c",
            ChartKind::U => "u",
            ChartKind::Ewma => "EWMA",
            ChartKind::Cusum => "CUSUM",
        })
    }
}

/// How the within-subgroup σ of variables data is estimated.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Dispersion {
    /// σ̂ = mean(Rᵢ/d₂(nᵢ)) (qcc "UWAVE-R", its default for n ≤ 25).
    #[default]
    Range,
    /// σ̂ = mean(sᵢ/c₄(nᵢ)) (qcc "UWAVE-SD").
    StdDev,
}

/// Historical values that replace the phase-I estimates (limits are then not recomputed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Standard {
    /// Centre of the plotted statistic: x̿ for X̄/I/EWMA/CUSUM, R̄ for R, s̄ for S, MR̄ for
    /// MR, the proportion p₀ for p **and** np, c̄ for c, ū for u.
    pub center: Option<f64>,
    /// Within-subgroup σ of the individual values (variables charts only).
    pub std_dev: Option<f64>,
}

/// Options shared by all charts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChartOptions {
    /// Width of the control limits in σ of the statistic (default 3).
    pub nsigmas: f64,
    /// Which d₂/d₃ table turns ranges into σ (default qcc's).
    pub convention: SigmaConvention,
    /// Phase-I subgroups (0-based) left out of the estimates — still plotted and tested.
    pub exclude: Vec<usize>,
    /// Historical centre and/or σ.
    pub standard: Standard,
    /// Run rules to apply (default Western Electric 1–4).
    pub rules: Rules,
    /// How σ is estimated from phase I, by qcc's name; `None` = qcc's default for the chart
    /// (X̄: the `Dispersion` asked for; R: UWAVE-R; S: UWAVE-SD; I: MR; EWMA/CUSUM: UWAVE-R,
    /// or RMSDF when a subgroup has more than 25 values, MR for individual values). Each chart
    /// refuses the methods qcc does not document for it; not with a standard σ.
    pub std_dev_method: Option<StdDevMethod>,
}

impl Default for ChartOptions {
    fn default() -> Self {
        ChartOptions {
            nsigmas: 3.0,
            convention: SigmaConvention::Qcc,
            exclude: Vec::new(),
            standard: Standard::default(),
            rules: Rules::default(),
            std_dev_method: None,
        }
    }
}

/// One sample of attribute data: a count and the size it was counted in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AttributeSample {
    /// Nonconforming units (p, np) or nonconformities (u).
    pub count: f64,
    /// Units inspected (p, np) or inspection units (u).
    pub size: f64,
}

impl AttributeSample {
    /// A sample of `count` in `size`.
    pub fn new(count: f64, size: f64) -> Self {
        AttributeSample { count, size }
    }
}

/// One plotted point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartPoint {
    /// 0-based position in the combined sequence (phase I then phase II). For the MR chart,
    /// the position of the later of the two values.
    pub index: usize,
    /// Phase the point belongs to.
    pub phase: Phase,
    /// True if the point was left out of the limit estimates.
    pub excluded: bool,
    /// Subgroup size (values, units or inspection units).
    pub size: f64,
    /// The plotted statistic.
    pub statistic: f64,
    /// EWMA only: the subgroup mean that entered the smoothing.
    pub observed: Option<f64>,
    /// Centre line at this point.
    pub center: f64,
    /// Standard deviation of the plotted statistic at this point.
    pub sigma: f64,
    /// Lower control limit.
    pub lcl: f64,
    /// Upper control limit.
    pub ucl: f64,
    /// Natural lower bound of the statistic that clips limits and zones (e.g. 0 for R).
    pub lower_bound: Option<f64>,
    /// Natural upper bound of the statistic (1 for p, nᵢ for np).
    pub upper_bound: Option<f64>,
    /// Violated rule (lowest number wins), if any.
    pub violation: Option<u8>,
}

impl ChartPoint {
    /// Limits at `k` σ of the statistic around the centre, clipped to the natural bounds
    /// (qcc's `limits.<type>` at `nsigmas = k`).
    pub fn limits_at(&self, k: f64) -> (f64, f64) {
        clip(
            self.center - k * self.sigma,
            self.center + k * self.sigma,
            self,
        )
    }
}

fn clip(lo: f64, hi: f64, p: &ChartPoint) -> (f64, f64) {
    let lo = p.lower_bound.map_or(lo, |b| lo.max(b));
    let hi = p.upper_bound.map_or(hi, |b| hi.min(b));
    (lo, hi)
}

/// A control chart: its parameters and every point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlChart {
    /// Chart kind.
    pub kind: ChartKind,
    /// Width of the limits in σ of the statistic.
    pub nsigmas: f64,
    /// d₂/d₃ convention used.
    pub convention: SigmaConvention,
    /// Centre parameter: x̿, R̄, s̄, x̄, MR̄, p̄ (p and np), c̄ or ū.
    pub center: f64,
    /// σ parameter (as qcc's `std.dev`): within-subgroup σ̂ of individual values for
    /// variables charts; √(p̄(1−p̄)) per unit for p and np; √c̄ for c; √ū per unit for u.
    pub std_dev: f64,
    /// True if the centre came from the standard rather than phase I.
    pub center_from_standard: bool,
    /// True if σ came from the standard rather than phase I.
    pub std_dev_from_standard: bool,
    /// Number of phase-I points (they come first in `points`).
    pub phase_one_count: usize,
    /// Excluded phase-I subgroups (0-based, sorted, unique).
    pub excluded: Vec<usize>,
    /// EWMA smoothing constant λ (EWMA charts only).
    pub lambda: Option<f64>,
    /// Rules that were applied.
    pub rules: Rules,
    /// The points, phase I then phase II.
    pub points: Vec<ChartPoint>,
}

impl ControlChart {
    /// (0-based index, rule) of every violating point.
    pub fn violations(&self) -> Vec<(usize, u8)> {
        self.points
            .iter()
            .filter_map(|p| p.violation.map(|r| (p.index, r)))
            .collect()
    }

    /// (LCL, UCL) if they are the same at every point.
    pub fn constant_limits(&self) -> Option<(f64, f64)> {
        let first = self.points.first()?;
        let same = self
            .points
            .iter()
            .all(|p| p.lcl == first.lcl && p.ucl == first.ucl);
        same.then_some((first.lcl, first.ucl))
    }
}

/// A location chart and its companion dispersion chart (X̄-R, X̄-S, I-MR).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChartPair {
    /// X̄ or I chart.
    pub location: ControlChart,
    /// R, S or MR chart.
    pub dispersion: ControlChart,
}

// ---------------------------------------------------------------------------------------
// Shared machinery

/// A point before limits and rules.
pub(crate) struct PointSpec {
    pub index: usize,
    pub phase: Phase,
    pub excluded: bool,
    pub size: f64,
    pub statistic: f64,
    pub observed: Option<f64>,
    pub center: f64,
    pub sigma: f64,
    pub lower_bound: Option<f64>,
    pub upper_bound: Option<f64>,
}

/// Chart-level parameters before assembly.
pub(crate) struct ChartSpec {
    pub kind: ChartKind,
    pub center: f64,
    pub std_dev: f64,
    pub center_from_standard: bool,
    pub std_dev_from_standard: bool,
    pub phase_one_count: usize,
    pub excluded: Vec<usize>,
    pub lambda: Option<f64>,
}

/// Computes limits, zones and rule violations and assembles the chart.
pub(crate) fn assemble(
    spec: ChartSpec,
    points: Vec<PointSpec>,
    opts: &ChartOptions,
    rules: Rules,
) -> Result<ControlChart, SpcError> {
    let k = opts.nsigmas;
    let mut out: Vec<ChartPoint> = points
        .into_iter()
        .map(|p| {
            let mut point = ChartPoint {
                index: p.index,
                phase: p.phase,
                excluded: p.excluded,
                size: p.size,
                statistic: p.statistic,
                observed: p.observed,
                center: p.center,
                sigma: p.sigma,
                lcl: 0.0,
                ucl: 0.0,
                lower_bound: p.lower_bound,
                upper_bound: p.upper_bound,
                violation: None,
            };
            (point.lcl, point.ucl) = point.limits_at(k);
            point
        })
        .collect();
    let zones: Vec<ZoneLimits> = out
        .iter()
        .map(|p| ZoneLimits {
            center: p.center,
            one_third: p.limits_at(k / 3.0),
            two_thirds: p.limits_at(2.0 * k / 3.0),
            limits: (p.lcl, p.ucl),
        })
        .collect();
    let statistics: Vec<f64> = out.iter().map(|p| p.statistic).collect();
    let violations = rules::evaluate(&statistics, &zones, &rules)?;
    for (p, v) in out.iter_mut().zip(violations) {
        p.violation = v;
    }
    Ok(ControlChart {
        kind: spec.kind,
        nsigmas: k,
        convention: opts.convention,
        center: spec.center,
        std_dev: spec.std_dev,
        center_from_standard: spec.center_from_standard,
        std_dev_from_standard: spec.std_dev_from_standard,
        phase_one_count: spec.phase_one_count,
        excluded: spec.excluded,
        lambda: spec.lambda,
        rules,
        points: out,
    })
}

pub(crate) fn check_nsigmas(nsigmas: f64) -> Result<(), SpcError> {
    if nsigmas.is_finite() && nsigmas > 0.0 {
        Ok(())
    } else {
        Err(SpcError::InvalidParameter {
            name: "nsigmas",
            value: nsigmas,
            allowed: "the width of the limits must be a finite number of σ > 0 (usually 3)",
        })
    }
}

/// Validates the exclusion list and returns a mask over phase I plus the sorted list.
pub(crate) fn exclusion_mask(
    exclude: &[usize],
    len: usize,
) -> Result<(Vec<bool>, Vec<usize>), SpcError> {
    let mut mask = vec![false; len];
    for &index in exclude {
        if index >= len {
            return Err(SpcError::ExclusionOutOfRange { index, len });
        }
        mask[index] = true;
    }
    let list = (0..len).filter(|&i| mask[i]).collect();
    Ok((mask, list))
}

/// Validates the standard values themselves (finite; σ > 0).
pub(crate) fn check_standard(standard: &Standard) -> Result<(), SpcError> {
    if let Some(c) = standard.center {
        if !c.is_finite() {
            return Err(SpcError::InvalidParameter {
                name: "standard.center",
                value: c,
                allowed: "the standard centre must be a finite number",
            });
        }
    }
    if let Some(s) = standard.std_dev {
        if !(s.is_finite() && s > 0.0) {
            return Err(SpcError::InvalidParameter {
                name: "standard.std_dev",
                value: s,
                allowed: "the standard σ must be finite and > 0",
            });
        }
    }
    Ok(())
}

fn common_checks(opts: &ChartOptions) -> Result<(), SpcError> {
    check_nsigmas(opts.nsigmas)?;
    opts.rules.validate()?;
    check_standard(&opts.standard)
}

/// Checks every value is finite and every subgroup has `min..=max` values.
pub(crate) fn check_subgroups(
    chart: ChartKind,
    phase: Phase,
    groups: &[Vec<f64>],
    min: usize,
    max: Option<usize>,
    hint: &'static str,
) -> Result<(), SpcError> {
    for (index, g) in groups.iter().enumerate() {
        if let Some((position, &value)) = g.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(SpcError::NonFiniteValue {
                phase,
                index,
                position,
                value,
            });
        }
        if g.len() < min {
            return Err(SpcError::SubgroupTooSmall {
                chart,
                phase,
                index,
                size: g.len(),
                min,
                hint,
            });
        }
        if let Some(max) = max.filter(|&m| g.len() > m) {
            return Err(SpcError::SubgroupTooLarge {
                chart,
                phase,
                index,
                size: g.len(),
                max,
            });
        }
    }
    Ok(())
}

pub(crate) fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

pub(crate) fn range(x: &[f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    max - min
}

/// Sample standard deviation (divisor n − 1), two-pass.
pub(crate) fn sample_sd(x: &[f64]) -> f64 {
    let m = mean(x);
    let ss: f64 = x.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (x.len() as f64 - 1.0)).sqrt()
}

/// Σnᵢ·statᵢ / Σnᵢ over the given subgroups.
fn size_weighted(groups: &[&Vec<f64>], stat: fn(&[f64]) -> f64) -> f64 {
    let total: f64 = groups.iter().map(|g| g.len() as f64).sum();
    groups.iter().map(|g| g.len() as f64 * stat(g)).sum::<f64>() / total
}

fn both_phases<'a, T>(
    phase1: &'a [T],
    phase2: &'a [T],
) -> impl Iterator<Item = (usize, Phase, &'a T)> {
    phase1
        .iter()
        .map(|g| (Phase::One, g))
        .chain(phase2.iter().map(|g| (Phase::Two, g)))
        .enumerate()
        .map(|(i, (ph, g))| (i, ph, g))
}

fn missing(center: bool, sigma: bool) -> &'static str {
    match (center, sigma) {
        (true, true) => "centre and σ",
        (true, false) => "centre",
        _ => "σ",
    }
}

// ---------------------------------------------------------------------------------------
// Variables charts

/// X̄ chart of subgroup means; σ̂ from ranges or standard deviations.
///
/// Phase-I subgroups need ≥ 2 values unless a standard σ is given; phase-II subgroups ≥ 1.
/// Range-based σ needs subgroups of at most 50 values.
pub fn xbar_chart(
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    dispersion: Dispersion,
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    let method = opts.std_dev_method.unwrap_or(match dispersion {
        Dispersion::Range => StdDevMethod::UwaveR,
        Dispersion::StdDev => StdDevMethod::UwaveSd,
    });
    let kind = if method.uses_ranges() || method.for_individuals() {
        ChartKind::XbarR
    } else {
        ChartKind::XbarS
    };
    common_checks(opts)?;
    sigma::check(
        kind,
        false,
        opts.std_dev_method,
        opts.standard.std_dev.is_some(),
    )?;
    if phase1.is_empty() && phase2.is_empty() {
        return Err(SpcError::NoData { chart: kind });
    }
    let need_sigma = opts.standard.std_dev.is_none();
    let max = (need_sigma && method.uses_ranges()).then_some(MAX_RANGE_N);
    let (min1, hint) = if need_sigma {
        (2, " to estimate σ (or give a standard σ)")
    } else {
        (1, "")
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
    let (center, sigma) = location_parameters(kind, &included, opts, |inc| {
        sigma::grouped(inc, method, opts.convention)
    })?;
    let points = both_phases(phase1, phase2)
        .map(|(index, phase, g)| {
            let n = g.len() as f64;
            PointSpec {
                index,
                phase,
                excluded: phase == Phase::One && mask[index],
                size: n,
                statistic: mean(g),
                observed: None,
                center,
                sigma: sigma / n.sqrt(),
                lower_bound: None,
                upper_bound: None,
            }
        })
        .collect();
    let spec = ChartSpec {
        kind,
        center,
        std_dev: sigma,
        center_from_standard: opts.standard.center.is_some(),
        std_dev_from_standard: opts.standard.std_dev.is_some(),
        phase_one_count: phase1.len(),
        excluded,
        lambda: None,
    };
    assemble(spec, points, opts, opts.rules.clone())
}

/// Centre (size-weighted grand mean) and σ of a location chart, from the standard where
/// given and otherwise from the included phase-I subgroups.
fn location_parameters(
    kind: ChartKind,
    included: &[&Vec<f64>],
    opts: &ChartOptions,
    sigma_of: impl Fn(&[&Vec<f64>]) -> Result<f64, SpcError>,
) -> Result<(f64, f64), SpcError> {
    let Standard { center, std_dev } = opts.standard;
    if included.is_empty() && (center.is_none() || std_dev.is_none()) {
        return Err(SpcError::NoPhaseOneData {
            chart: kind,
            missing: missing(center.is_none(), std_dev.is_none()),
        });
    }
    let center = match center {
        Some(c) => c,
        None => size_weighted(included, mean),
    };
    let sigma = match std_dev {
        Some(s) => s,
        None => sigma_of(included)?,
    };
    Ok((center, sigma))
}

/// X̄ and R charts from the same subgroups (σ̂ = mean(Rᵢ/d₂)).
pub fn xbar_r(
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    opts: &ChartOptions,
) -> Result<ChartPair, SpcError> {
    Ok(ChartPair {
        location: xbar_chart(phase1, phase2, Dispersion::Range, opts)?,
        dispersion: r_chart(phase1, phase2, opts)?,
    })
}

/// X̄ and S charts from the same subgroups (σ̂ = mean(sᵢ/c₄)).
pub fn xbar_s(
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    opts: &ChartOptions,
) -> Result<ChartPair, SpcError> {
    Ok(ChartPair {
        location: xbar_chart(phase1, phase2, Dispersion::StdDev, opts)?,
        dispersion: s_chart(phase1, phase2, opts)?,
    })
}

/// R chart of subgroup ranges (subgroups of 2..=50 values in both phases).
///
/// Centre ΣnᵢRᵢ/Σnᵢ (qcc), σ̂ = mean(Rᵢ/d₂(nᵢ)); limits max(0, R̄ − k d₃σ̂), R̄ + k d₃σ̂.
pub fn r_chart(
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    dispersion_chart(ChartKind::R, phase1, phase2, opts)
}

/// S chart of subgroup standard deviations (subgroups of ≥ 2 values in both phases).
///
/// Centre Σnᵢsᵢ/Σnᵢ (qcc), σ̂ = mean(sᵢ/c₄(nᵢ)); limits max(0, s̄ − k σ̂√(1−c₄²)), s̄ + k σ̂√(1−c₄²).
pub fn s_chart(
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    dispersion_chart(ChartKind::S, phase1, phase2, opts)
}

fn dispersion_chart(
    kind: ChartKind,
    phase1: &[Vec<f64>],
    phase2: &[Vec<f64>],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    common_checks(opts)?;
    sigma::check(
        kind,
        false,
        opts.std_dev_method,
        opts.standard.std_dev.is_some(),
    )?;
    if phase1.is_empty() && phase2.is_empty() {
        return Err(SpcError::NoData { chart: kind });
    }
    let (stat, default_method, max): (fn(&[f64]) -> f64, _, _) = match kind {
        ChartKind::R => (range, StdDevMethod::UwaveR, Some(MAX_RANGE_N)),
        _ => (sample_sd, StdDevMethod::UwaveSd, None),
    };
    let method = opts.std_dev_method.unwrap_or(default_method);
    for (phase, groups) in [(Phase::One, phase1), (Phase::Two, phase2)] {
        check_subgroups(kind, phase, groups, 2, max, "")?;
    }
    let (mask, excluded) = exclusion_mask(&opts.exclude, phase1.len())?;
    let included: Vec<&Vec<f64>> = phase1
        .iter()
        .zip(&mask)
        .filter(|(_, &x)| !x)
        .map(|(g, _)| g)
        .collect();
    let Standard { center, std_dev } = opts.standard;
    if included.is_empty() && (center.is_none() || std_dev.is_none()) {
        return Err(SpcError::NoPhaseOneData {
            chart: kind,
            missing: missing(center.is_none(), std_dev.is_none()),
        });
    }
    let center_value = match center {
        Some(c) => c,
        None => size_weighted(&included, stat),
    };
    let sigma = match std_dev {
        Some(s) => s,
        None => sigma::grouped(&included, method, opts.convention)?,
    };
    let mut points = Vec::with_capacity(phase1.len() + phase2.len());
    for (index, phase, g) in both_phases(phase1, phase2) {
        let n = g.len();
        let se_factor = match kind {
            ChartKind::R => constants::d3(n, opts.convention)?,
            _ => {
                let c4 = constants::c4(n)?;
                (1.0 - c4 * c4).sqrt()
            }
        };
        points.push(PointSpec {
            index,
            phase,
            excluded: phase == Phase::One && mask[index],
            size: n as f64,
            statistic: stat(g),
            observed: None,
            center: center_value,
            sigma: se_factor * sigma,
            lower_bound: Some(0.0),
            upper_bound: None,
        });
    }
    let spec = ChartSpec {
        kind,
        center: center_value,
        std_dev: sigma,
        center_from_standard: center.is_some(),
        std_dev_from_standard: std_dev.is_some(),
        phase_one_count: phase1.len(),
        excluded,
        lambda: None,
    };
    assemble(spec, points, opts, opts.rules.clone())
}

fn check_individuals(phase: Phase, values: &[f64]) -> Result<(), SpcError> {
    match values.iter().enumerate().find(|(_, v)| !v.is_finite()) {
        Some((index, &value)) => Err(SpcError::NonFiniteValue {
            phase,
            index,
            position: 0,
            value,
        }),
        None => Ok(()),
    }
}

/// Individuals (I) chart: centre = mean of the included phase-I values, σ̂ = MR̄/d₂(2).
pub fn individuals_chart(
    phase1: &[f64],
    phase2: &[f64],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    let kind = ChartKind::Individuals;
    common_checks(opts)?;
    sigma::check(
        kind,
        true,
        opts.std_dev_method,
        opts.standard.std_dev.is_some(),
    )?;
    let method = opts.std_dev_method.unwrap_or(StdDevMethod::Mr);
    if phase1.is_empty() && phase2.is_empty() {
        return Err(SpcError::NoData { chart: kind });
    }
    check_individuals(Phase::One, phase1)?;
    check_individuals(Phase::Two, phase2)?;
    let (mask, excluded) = exclusion_mask(&opts.exclude, phase1.len())?;
    let included: Vec<f64> = phase1
        .iter()
        .zip(&mask)
        .filter(|(_, &x)| !x)
        .map(|(v, _)| *v)
        .collect();
    let Standard { center, std_dev } = opts.standard;
    if std_dev.is_none() && included.len() < 2 {
        return Err(SpcError::NoPhaseOneData {
            chart: kind,
            missing: missing(center.is_none() && included.is_empty(), true),
        });
    }
    if center.is_none() && included.is_empty() {
        return Err(SpcError::NoPhaseOneData {
            chart: kind,
            missing: "centre",
        });
    }
    let center_value = center.unwrap_or_else(|| mean(&included));
    let sigma = match std_dev {
        Some(s) => s,
        None => sigma::individuals(&included, method, opts.convention)?,
    };
    let points = both_phases(phase1, phase2)
        .map(|(index, phase, &x)| PointSpec {
            index,
            phase,
            excluded: phase == Phase::One && mask[index],
            size: 1.0,
            statistic: x,
            observed: None,
            center: center_value,
            sigma,
            lower_bound: None,
            upper_bound: None,
        })
        .collect();
    let spec = ChartSpec {
        kind,
        center: center_value,
        std_dev: sigma,
        center_from_standard: center.is_some(),
        std_dev_from_standard: std_dev.is_some(),
        phase_one_count: phase1.len(),
        excluded,
        lambda: None,
    };
    assemble(spec, points, opts, opts.rules.clone())
}

/// Moving-range (MR) chart of |xᵢ − xᵢ₋₁| over the combined sequence (one point fewer than
/// values; the first point is at index 1).
///
/// Centre MR̄ of the included phase-I values in order (standard: the MR̄ given), σ̂ =
/// MR̄/d₂(2) (standard: the σ given); limits max(0, MR̄ − k d₃(2)σ̂), MR̄ + k d₃(2)σ̂ — the
/// R chart for n = 2, so D₄ = 1 + 3d₃/d₂ = 3.267 (qcc tables). A point is excluded if either
/// of its two values is.
pub fn moving_range_chart(
    phase1: &[f64],
    phase2: &[f64],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    let kind = ChartKind::MovingRange;
    common_checks(opts)?;
    sigma::check(
        kind,
        true,
        opts.std_dev_method,
        opts.standard.std_dev.is_some(),
    )?;
    check_individuals(Phase::One, phase1)?;
    check_individuals(Phase::Two, phase2)?;
    if phase1.len() + phase2.len() < 2 {
        return Err(SpcError::NoData { chart: kind });
    }
    let (mask, excluded) = exclusion_mask(&opts.exclude, phase1.len())?;
    let included: Vec<f64> = phase1
        .iter()
        .zip(&mask)
        .filter(|(_, &x)| !x)
        .map(|(v, _)| *v)
        .collect();
    let Standard { center, std_dev } = opts.standard;
    if included.len() < 2 && (center.is_none() || std_dev.is_none()) {
        return Err(SpcError::NoPhaseOneData {
            chart: kind,
            missing: missing(center.is_none(), std_dev.is_none()),
        });
    }
    let d2 = constants::d2(2, opts.convention)?;
    let d3 = constants::d3(2, opts.convention)?;
    let mr_bar = || {
        mean(
            &included
                .windows(2)
                .map(|w| (w[1] - w[0]).abs())
                .collect::<Vec<_>>(),
        )
    };
    let center_value = center.unwrap_or_else(mr_bar);
    let sigma = std_dev.unwrap_or_else(|| mr_bar() / d2);
    let all: Vec<(Phase, bool, f64)> = phase1
        .iter()
        .zip(&mask)
        .map(|(&x, &m)| (Phase::One, m, x))
        .chain(phase2.iter().map(|&x| (Phase::Two, false, x)))
        .collect();
    let points = all
        .windows(2)
        .enumerate()
        .map(|(i, w)| PointSpec {
            index: i + 1,
            phase: w[1].0,
            excluded: w[0].1 || w[1].1,
            size: 2.0,
            statistic: (w[1].2 - w[0].2).abs(),
            observed: None,
            center: center_value,
            sigma: d3 * sigma,
            lower_bound: Some(0.0),
            upper_bound: None,
        })
        .collect();
    let spec = ChartSpec {
        kind,
        center: center_value,
        std_dev: sigma,
        center_from_standard: center.is_some(),
        std_dev_from_standard: std_dev.is_some(),
        phase_one_count: phase1.len().saturating_sub(1),
        excluded,
        lambda: None,
    };
    assemble(spec, points, opts, opts.rules.clone())
}

/// Individuals and moving-range charts of the same values. A σ method applies to the I
/// chart; the MR chart always takes σ̂ = MR̄/d₂(2) (its centre is MR̄ itself).
pub fn i_mr(phase1: &[f64], phase2: &[f64], opts: &ChartOptions) -> Result<ChartPair, SpcError> {
    let location = individuals_chart(phase1, phase2, opts)?;
    let mr_opts = ChartOptions {
        std_dev_method: None,
        ..opts.clone()
    };
    Ok(ChartPair {
        location,
        dispersion: moving_range_chart(phase1, phase2, &mr_opts)?,
    })
}

// ---------------------------------------------------------------------------------------
// Attribute charts

fn check_attributes(
    chart: ChartKind,
    phase: Phase,
    samples: &[AttributeSample],
    count_at_most_size: bool,
) -> Result<(), SpcError> {
    for (index, s) in samples.iter().enumerate() {
        if !(s.count.is_finite() && s.count >= 0.0) {
            return Err(SpcError::InvalidCount {
                chart,
                phase,
                index,
                count: s.count,
            });
        }
        if !(s.size.is_finite() && s.size > 0.0) {
            return Err(SpcError::InvalidSize {
                chart,
                phase,
                index,
                size: s.size,
            });
        }
        if count_at_most_size && s.count > s.size {
            return Err(SpcError::CountExceedsSize {
                chart,
                phase,
                index,
                count: s.count,
                size: s.size,
            });
        }
    }
    Ok(())
}

/// Centre of an attribute chart: the standard centre, else Σcount/Σsize over the included
/// phase-I samples.
fn attribute_center(
    chart: ChartKind,
    phase1: &[AttributeSample],
    mask: &[bool],
    standard: &Standard,
) -> Result<f64, SpcError> {
    if standard.std_dev.is_some() {
        return Err(SpcError::StdDevNotApplicable { chart });
    }
    if let Some(c) = standard.center {
        let proportion = matches!(chart, ChartKind::P | ChartKind::Np);
        if c < 0.0 || (proportion && c > 1.0) {
            return Err(SpcError::InvalidParameter {
                name: "standard.center",
                value: c,
                allowed: if proportion {
                    "the standard proportion must be in [0, 1]"
                } else {
                    "the standard rate must be ≥ 0"
                },
            });
        }
        return Ok(c);
    }
    let included: Vec<&AttributeSample> = phase1
        .iter()
        .zip(mask)
        .filter(|(_, &x)| !x)
        .map(|(s, _)| s)
        .collect();
    if included.is_empty() {
        return Err(SpcError::NoPhaseOneData {
            chart,
            missing: "centre",
        });
    }
    let count: f64 = included.iter().map(|s| s.count).sum();
    let size: f64 = included.iter().map(|s| s.size).sum();
    Ok(count / size)
}

fn attribute_chart(
    kind: ChartKind,
    phase1: &[AttributeSample],
    phase2: &[AttributeSample],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    common_checks(opts)?;
    sigma::check(kind, false, opts.std_dev_method, false)?;
    if phase1.is_empty() && phase2.is_empty() {
        return Err(SpcError::NoData { chart: kind });
    }
    let binomial = matches!(kind, ChartKind::P | ChartKind::Np);
    check_attributes(kind, Phase::One, phase1, binomial)?;
    check_attributes(kind, Phase::Two, phase2, binomial)?;
    let (mask, excluded) = exclusion_mask(&opts.exclude, phase1.len())?;
    let rate = attribute_center(kind, phase1, &mask, &opts.standard)?;
    let unit_sd = if binomial {
        (rate * (1.0 - rate)).sqrt()
    } else {
        rate.sqrt()
    };
    let points = both_phases(phase1, phase2)
        .map(|(index, phase, s)| {
            let n = s.size;
            let (statistic, center, sigma, upper_bound) = match kind {
                ChartKind::P => (s.count / n, rate, unit_sd / n.sqrt(), Some(1.0)),
                ChartKind::Np => (s.count, n * rate, unit_sd * n.sqrt(), Some(n)),
                _ => (s.count / n, rate, unit_sd / n.sqrt(), None),
            };
            PointSpec {
                index,
                phase,
                excluded: phase == Phase::One && mask[index],
                size: n,
                statistic,
                observed: None,
                center,
                sigma,
                lower_bound: Some(0.0),
                upper_bound,
            }
        })
        .collect();
    let spec = ChartSpec {
        kind,
        center: rate,
        std_dev: unit_sd,
        center_from_standard: opts.standard.center.is_some(),
        std_dev_from_standard: false,
        phase_one_count: phase1.len(),
        excluded,
        lambda: None,
    };
    assemble(spec, points, opts, opts.rules.clone())
}

/// p chart: fraction nonconforming Dᵢ/nᵢ; p̄ = ΣD/Σn; σᵢ = √(p̄(1−p̄)/nᵢ) (variable limits
/// when the nᵢ differ); limits clipped to [0, 1]. A standard centre is the proportion p₀.
pub fn p_chart(
    phase1: &[AttributeSample],
    phase2: &[AttributeSample],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    attribute_chart(ChartKind::P, phase1, phase2, opts)
}

/// np chart: number nonconforming Dᵢ; centre nᵢp̄; σᵢ = √(nᵢp̄(1−p̄)); limits clipped to
/// [0, nᵢ]. `ControlChart::center` is p̄ (the centre line is per point). A standard centre
/// is the proportion p₀.
pub fn np_chart(
    phase1: &[AttributeSample],
    phase2: &[AttributeSample],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    attribute_chart(ChartKind::Np, phase1, phase2, opts)
}

/// u chart: nonconformities per unit cᵢ/nᵢ; ū = Σc/Σn; σᵢ = √(ū/nᵢ); LCL clipped at 0.
pub fn u_chart(
    phase1: &[AttributeSample],
    phase2: &[AttributeSample],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    attribute_chart(ChartKind::U, phase1, phase2, opts)
}

/// c chart: nonconformities per sample of constant size; c̄ = mean count; σ = √c̄; LCL
/// clipped at 0.
pub fn c_chart(
    phase1: &[f64],
    phase2: &[f64],
    opts: &ChartOptions,
) -> Result<ControlChart, SpcError> {
    let as_samples = |counts: &[f64]| {
        counts
            .iter()
            .map(|&c| AttributeSample::new(c, 1.0))
            .collect::<Vec<_>>()
    };
    attribute_chart(ChartKind::C, &as_samples(phase1), &as_samples(phase2), opts)
}
