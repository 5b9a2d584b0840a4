//! Statistical process control with the semantics of R `qcc` 3.0.
//!
//! Pure computation: data in, results out — no I/O, no clocks, no global state. Every result
//! type serialises (serde) so the server can return it as JSON.
//!
//! - [`constants`] — d₂, d₃, c₄ and the derived factors (A₂, A₃, B₃, B₄, D₃, D₄), in qcc's
//!   tables ([`SigmaConvention::Qcc`], the default, which reproduces qcc's published numbers)
//!   or exact values ([`SigmaConvention::Exact`]).
//! - [`charts`] — Shewhart charts: X̄ (σ from R̄ or s̄), R, S, individuals (I) and moving
//!   range (MR), p, np, c, u; phase I (limits estimated, optionally without excluded
//!   subgroups) and phase II (monitored against the fixed limits); historical centre/σ.
//! - [`timeweighted`] — EWMA and CUSUM (qcc's standardised tabular form).
//! - [`sigma`] — σ estimators by qcc's names (UWAVE-R, UWAVE-SD, MVLUE-R, MVLUE-SD, RMSDF;
//!   MR, SD), checked per chart.
//! - [`table`] — samples, labels and phases from CSV text; a label column is never a value.
//! - [`rules`] — Western Electric 1–4 and Nelson 1–8 run rules, qcc semantics.
//! - [`capability`](mod@capability) — Cp, Cpl, Cpu, Cpk, Cpm with confidence intervals, Pp family,
//!   expected and observed fractions out of specification.
//! - [`svg`] — hand-written SVG rendering of a chart.
//!
//! Indices in the API are 0-based positions in the combined sequence phase I followed by
//! phase II; rendered charts label subgroups 1-based, as qcc does. The formulas as
//! implemented are written out in `docs/mes-spc.md`.

pub mod capability;
pub mod charts;
pub mod constants;
mod error;
pub mod rules;
pub mod sigma;
pub mod svg;
pub mod table;
pub mod timeweighted;

pub use capability::{
    capability, individuals_capability, xbar_capability, Capability, CapabilityOptions,
    IndexEstimate, SpecLimits,
};
pub use charts::{
    c_chart, i_mr, individuals_chart, moving_range_chart, np_chart, p_chart, r_chart, s_chart,
    u_chart, xbar_chart, xbar_r, xbar_s, AttributeSample, ChartKind, ChartOptions, ChartPair,
    ChartPoint, ControlChart, Dispersion, Standard,
};
pub use constants::{c4, d2, d3, factors, ChartFactors, SigmaConvention};
pub use error::SpcError;
pub use rules::{RuleFamily, Rules, ZoneLimits};
pub use sigma::StdDevMethod;
pub use svg::{render_cusum_svg, render_svg, SvgOptions};
pub use table::{SampleTable, TableOptions};
pub use timeweighted::{
    cusum_chart, ewma_chart, CusumChart, CusumOptions, CusumPoint, EwmaOptions,
};

use serde::{Deserialize, Serialize};
use std::fmt;

/// Whether a point belongs to the data that set the limits (phase I) or to the data
/// monitored against them afterwards (phase II; qcc's `newdata`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Phase {
    /// Calibration data: the limits are estimated from these points (less any excluded).
    #[serde(rename = "I")]
    One,
    /// New data plotted against the phase-I limits, never used to estimate them.
    #[serde(rename = "II")]
    Two,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::One => "I",
            Phase::Two => "II",
        })
    }
}
