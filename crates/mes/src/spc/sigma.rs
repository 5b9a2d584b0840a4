//! How the process σ is estimated from phase-I data, named as R qcc 3.0 names the methods
//! (`sd.xbar`, `sd.R`, `sd.S`, `sd.xbar.one` in `R/qcc.R`).
//!
//! | method | data | σ̂ |
//! |---|---|---|
//! | `UWAVE-R` | subgroups | Σ(Rᵢ/d₂(nᵢ)) / m |
//! | `UWAVE-SD` | subgroups | Σ(sᵢ/c₄(nᵢ)) / m |
//! | `MVLUE-R` | subgroups | Σ(wᵢRᵢ/d₂(nᵢ)) / Σwᵢ, wᵢ = (d₂(nᵢ)/d₃(nᵢ))² |
//! | `MVLUE-SD` | subgroups | Σ(wᵢsᵢ/c₄(nᵢ)) / Σwᵢ, wᵢ = c₄(nᵢ)²/(1 − c₄(nᵢ)²) |
//! | `RMSDF` | subgroups | √(Σ(nᵢ−1)sᵢ² / Σ(nᵢ−1)) / c₄(Σ(nᵢ−1) + 1) |
//! | `MR` | individual values | mean \|xᵢ − xᵢ₋₁\| / d₂(2) |
//! | `SD` | individual values | s / c₄(n) |
//!
//! (m subgroups; sᵢ with divisor nᵢ − 1; d₂, d₃ from the chart's [`SigmaConvention`].)

use super::charts::{mean, range, sample_sd, ChartKind};
use super::constants::{self, SigmaConvention};
use super::SpcError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A σ estimator, as qcc names it (`std.dev = "UWAVE-R"`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum StdDevMethod {
    /// Unweighted average of Rᵢ/d₂(nᵢ) (qcc's default for X̄ and R with n ≤ 25).
    #[serde(rename = "UWAVE-R")]
    UwaveR,
    /// Unweighted average of sᵢ/c₄(nᵢ) (qcc's default for S).
    #[serde(rename = "UWAVE-SD")]
    UwaveSd,
    /// Minimum-variance linear unbiased combination of Rᵢ/d₂(nᵢ).
    #[serde(rename = "MVLUE-R")]
    MvlueR,
    /// Minimum-variance linear unbiased combination of sᵢ/c₄(nᵢ).
    #[serde(rename = "MVLUE-SD")]
    MvlueSd,
    /// Root mean square of the sᵢ weighted by their degrees of freedom, unbiased by c₄
    /// (qcc's default for X̄ when a subgroup has more than 25 values).
    #[serde(rename = "RMSDF")]
    Rmsdf,
    /// Mean moving range of two successive values / d₂(2) (qcc's default for individuals).
    #[serde(rename = "MR")]
    Mr,
    /// Sample standard deviation of the individual values / c₄(n).
    #[serde(rename = "SD")]
    Sd,
}

/// The methods for subgroup data, in qcc's order.
pub const GROUPED_METHODS: &str = "UWAVE-R, UWAVE-SD, MVLUE-R, MVLUE-SD, RMSDF";
/// The methods for individual values.
pub const INDIVIDUAL_METHODS: &str = "MR, SD";

impl StdDevMethod {
    /// Every method.
    pub const ALL: [StdDevMethod; 7] = [
        StdDevMethod::UwaveR,
        StdDevMethod::UwaveSd,
        StdDevMethod::MvlueR,
        StdDevMethod::MvlueSd,
        StdDevMethod::Rmsdf,
        StdDevMethod::Mr,
        StdDevMethod::Sd,
    ];

    /// qcc's name of the method.
    pub fn name(self) -> &'static str {
        match self {
            StdDevMethod::UwaveR => "UWAVE-R",
            StdDevMethod::UwaveSd => "UWAVE-SD",
            StdDevMethod::MvlueR => "MVLUE-R",
            StdDevMethod::MvlueSd => "MVLUE-SD",
            StdDevMethod::Rmsdf => "RMSDF",
            StdDevMethod::Mr => "MR",
            StdDevMethod::Sd => "SD",
        }
    }

    /// True for the methods built on subgroup ranges (they need d₂, so n ≤ 50).
    pub fn uses_ranges(self) -> bool {
        matches!(self, StdDevMethod::UwaveR | StdDevMethod::MvlueR)
    }

    /// True for the methods of individual values.
    pub fn for_individuals(self) -> bool {
        matches!(self, StdDevMethod::Mr | StdDevMethod::Sd)
    }
}

impl fmt::Display for StdDevMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for StdDevMethod {
    type Err = SpcError;

    /// qcc's names, case-insensitive (`uwave-r` = `UWAVE-R`).
    fn from_str(s: &str) -> Result<Self, SpcError> {
        let t = s.trim();
        StdDevMethod::ALL
            .into_iter()
            .find(|m| m.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| SpcError::UnknownStdDevMethod {
                value: s.to_string(),
            })
    }
}

/// The methods qcc documents for a chart: (allowed, as text). Attribute charts have none.
pub(crate) fn allowed(
    kind: ChartKind,
    individuals: bool,
) -> (&'static [StdDevMethod], &'static str) {
    use StdDevMethod::*;
    match kind {
        ChartKind::XbarR | ChartKind::XbarS => {
            (&[UwaveR, UwaveSd, MvlueR, MvlueSd, Rmsdf], GROUPED_METHODS)
        }
        ChartKind::R => (&[UwaveR, MvlueR], "UWAVE-R, MVLUE-R"),
        ChartKind::S => (&[UwaveSd, MvlueSd, Rmsdf], "UWAVE-SD, MVLUE-SD, RMSDF"),
        ChartKind::Individuals => (&[Mr, Sd], INDIVIDUAL_METHODS),
        ChartKind::MovingRange => (&[Mr], "MR"),
        ChartKind::Ewma | ChartKind::Cusum if individuals => (&[Mr, Sd], INDIVIDUAL_METHODS),
        ChartKind::Ewma | ChartKind::Cusum => {
            (&[UwaveR, UwaveSd, MvlueR, MvlueSd, Rmsdf], GROUPED_METHODS)
        }
        ChartKind::P | ChartKind::Np | ChartKind::C | ChartKind::U => {
            (&[], "none — σ follows from the centre for attribute charts")
        }
    }
}

/// Checks `method` is one qcc documents for the chart and is not given alongside a standard σ.
pub(crate) fn check(
    kind: ChartKind,
    individuals: bool,
    method: Option<StdDevMethod>,
    standard_sigma: bool,
) -> Result<(), SpcError> {
    let Some(method) = method else {
        return Ok(());
    };
    let (list, text) = allowed(kind, individuals);
    if !list.contains(&method) {
        return Err(SpcError::StdDevMethodNotAllowed {
            chart: kind,
            method,
            allowed: text,
        });
    }
    if standard_sigma {
        return Err(SpcError::StdDevMethodWithStandard { method });
    }
    Ok(())
}

/// σ̂ from subgroups (each of ≥ 2 values; range methods ≤ 50).
pub(crate) fn grouped(
    groups: &[&Vec<f64>],
    method: StdDevMethod,
    convention: SigmaConvention,
) -> Result<f64, SpcError> {
    let m = groups.len() as f64;
    match method {
        StdDevMethod::UwaveR => {
            let mut sum = 0.0;
            for g in groups {
                sum += range(g) / constants::d2(g.len(), convention)?;
            }
            Ok(sum / m)
        }
        StdDevMethod::UwaveSd => {
            let mut sum = 0.0;
            for g in groups {
                sum += sample_sd(g) / constants::c4(g.len())?;
            }
            Ok(sum / m)
        }
        StdDevMethod::MvlueR => {
            let (mut num, mut den) = (0.0, 0.0);
            for g in groups {
                let d2 = constants::d2(g.len(), convention)?;
                let d3 = constants::d3(g.len(), convention)?;
                let w = (d2 / d3).powi(2);
                num += w * range(g) / d2;
                den += w;
            }
            Ok(num / den)
        }
        StdDevMethod::MvlueSd => {
            let (mut num, mut den) = (0.0, 0.0);
            for g in groups {
                let c4 = constants::c4(g.len())?;
                let w = c4 * c4 / (1.0 - c4 * c4);
                num += w * sample_sd(g) / c4;
                den += w;
            }
            Ok(num / den)
        }
        StdDevMethod::Rmsdf => {
            let (mut ss, mut df) = (0.0, 0usize);
            for g in groups {
                let s = sample_sd(g);
                ss += s * s * (g.len() - 1) as f64;
                df += g.len() - 1;
            }
            Ok((ss / df as f64).sqrt() / constants::c4(df + 1)?)
        }
        StdDevMethod::Mr | StdDevMethod::Sd => Err(SpcError::StdDevMethodNotAllowed {
            chart: ChartKind::XbarR,
            method,
            allowed: GROUPED_METHODS,
        }),
    }
}

/// σ̂ from individual values in order (≥ 2 values).
pub(crate) fn individuals(
    values: &[f64],
    method: StdDevMethod,
    convention: SigmaConvention,
) -> Result<f64, SpcError> {
    match method {
        StdDevMethod::Sd => Ok(sample_sd(values) / constants::c4(values.len())?),
        StdDevMethod::Mr => {
            let mr: Vec<f64> = values.windows(2).map(|w| (w[1] - w[0]).abs()).collect();
            Ok(mean(&mr) / constants::d2(2, convention)?)
        }
        other => Err(SpcError::StdDevMethodNotAllowed {
            chart: ChartKind::Individuals,
            method: other,
            allowed: INDIVIDUAL_METHODS,
        }),
    }
}
