//! Control-chart constants d₂, d₃, c₄ and the factors derived from them.
//!
//! d₂(n) = E(R)/σ and d₃(n) = sd(R)/σ for the range R of n independent normal values;
//! c₄(n) = E(s)/σ = √(2/(n−1))·Γ(n/2)/Γ((n−1)/2) for the sample standard deviation s.
//!
//! Two conventions ([`SigmaConvention`]):
//! - `Qcc` (default): R qcc 3.0's tables (`qcc.options("exp.R.unscaled")`, d₂ rounded to 3
//!   decimals, n = 2..25; `"se.R.unscaled"`, d₃ to 7 decimals, n = 2..50). These reproduce
//!   qcc's published numbers (e.g. σ̂ = R̄/2.326 for the piston rings). Beyond n = 25, where
//!   qcc has no d₂ entry, the exact d₂ is used.
//! - `Exact`: d₂ and d₃ by numerical integration of the range distribution
//!   (F_R(r) = n∫φ(x)[Φ(x+r)−Φ(x)]^{n−1}dx; d₂ = ∫(1−F_R), d₃² = 2∫r(1−F_R) − d₂²),
//!   tabulated here to 10 decimals for n = 2..50 (agreeing to 12 digits under grid
//!   refinement; d₂(2) = 2/√π and d₃(2) = √(2 − 4/π) are checked in the tests).
//!
//! c₄ is the closed form in both conventions (qcc uses it too).

use super::SpcError;
use serde::{Deserialize, Serialize};
use statrs::function::gamma::ln_gamma;

/// Which table of d₂/d₃ turns ranges into σ.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SigmaConvention {
    /// R qcc 3.0's tables (d₂ rounded to 3 decimals): reproduces qcc's printed numbers.
    #[default]
    Qcc,
    /// Exact d₂ and d₃ (numerical integration, 10 decimals).
    Exact,
}

/// Smallest subgroup size with a range or a standard deviation.
pub const MIN_N: usize = 2;
/// Largest subgroup size for which d₂ and d₃ are tabulated.
pub const MAX_RANGE_N: usize = 50;

/// qcc 3.0 `exp.R.unscaled` (d₂), n = 2..=25.
const QCC_D2: [f64; 24] = [
    1.128, 1.693, 2.059, 2.326, 2.534, 2.704, 2.847, 2.970, 3.078, 3.173, 3.258, 3.336, 3.407,
    3.472, 3.532, 3.588, 3.640, 3.689, 3.735, 3.778, 3.819, 3.858, 3.895, 3.931,
];

/// qcc 3.0 `se.R.unscaled` (d₃), n = 2..=50.
const QCC_D3: [f64; 49] = [
    0.8525033, 0.8883697, 0.8798108, 0.8640855, 0.8480442, 0.8332108, 0.8198378, 0.8078413,
    0.7970584, 0.7873230, 0.7784873, 0.7704257, 0.7630330, 0.7562217, 0.7499188, 0.7440627,
    0.7386021, 0.7334929, 0.7286980, 0.7241851, 0.7199267, 0.7158987, 0.7120802, 0.7084528,
    0.7050004, 0.7017086, 0.6985648, 0.6955576, 0.6926770, 0.6899137, 0.6872596, 0.6847074,
    0.6822502, 0.6798821, 0.6775973, 0.6753910, 0.6732584, 0.6711952, 0.6691976, 0.6672619,
    0.6653848, 0.6635632, 0.6617943, 0.6600754, 0.6584041, 0.6567780, 0.6551950, 0.6536532,
    0.6521506,
];

/// Exact d₂, n = 2..=50 (Gauss–Legendre integration of the range distribution).
const EXACT_D2: [f64; 49] = [
    std::f64::consts::FRAC_2_SQRT_PI, // d₂(2) = 2/√π exactly
    1.6925687506,
    2.0587507460,
    2.3259289472,
    2.5344127212,
    2.7043567512,
    2.8472006120,
    2.9700263244,
    3.0775054616,
    3.1728727038,
    3.2584552797,
    3.3359803540,
    3.4067631082,
    3.4718268898,
    3.5319827861,
    3.5878839617,
    3.6400637579,
    3.6889630232,
    3.7349501195,
    3.7783358298,
    3.8193846433,
    3.8583234232,
    3.8953481484,
    3.9306292195,
    3.9643156795,
    3.9965386040,
    4.0274138482,
    4.0570442920,
    4.0855216883,
    4.1129281952,
    4.1393376558,
    4.1648166719,
    4.1894255115,
    4.2132188792,
    4.2362465735,
    4.2585540507,
    4.2801829104,
    4.3011713154,
    4.3215543563,
    4.3413643695,
    4.3606312150,
    4.3793825208,
    4.3976438974,
    4.4154391279,
    4.4327903360,
    4.4497181350,
    4.4662417616,
    4.4823791941,
    4.4981472587,
];

/// Exact d₃, n = 2..=50 (Gauss–Legendre integration of the range distribution).
const EXACT_D3: [f64; 49] = [
    0.8525024664,
    0.8883680040,
    0.8798082028,
    0.8640819410,
    0.8480396861,
    0.8332053356,
    0.8198314897,
    0.8078342745,
    0.7970506735,
    0.7873146205,
    0.7784783412,
    0.7704162020,
    0.7630230956,
    0.7562114297,
    0.7499080894,
    0.7440517839,
    0.7385908533,
    0.7334814955,
    0.7286863457,
    0.7241733407,
    0.7199148084,
    0.7158867354,
    0.7120681751,
    0.7084407658,
    0.7049883378,
    0.7016965888,
    0.6985528171,
    0.6955456982,
    0.6926650988,
    0.6899019205,
    0.6872479671,
    0.6846958330,
    0.6822388071,
    0.6798707912,
    0.6775862293,
    0.6753800470,
    0.6732475990,
    0.6711846230,
    0.6691871998,
    0.6672517187,
    0.6653748465,
    0.6635535004,
    0.6617848243,
    0.6600661676,
    0.6583950665,
    0.6567692271,
    0.6551865106,
    0.6536449201,
    0.6521425884,
];

fn range_check(constant: &'static str, n: usize) -> Result<usize, SpcError> {
    if (MIN_N..=MAX_RANGE_N).contains(&n) {
        Ok(n - MIN_N)
    } else {
        Err(SpcError::ConstantOutOfRange {
            constant,
            n,
            min: MIN_N,
            max: MAX_RANGE_N,
        })
    }
}

/// d₂(n) = E(R)/σ, n = 2..=50, in the chosen convention.
pub fn d2(n: usize, convention: SigmaConvention) -> Result<f64, SpcError> {
    let i = range_check("d2", n)?;
    Ok(match convention {
        SigmaConvention::Qcc if i < QCC_D2.len() => QCC_D2[i],
        _ => EXACT_D2[i],
    })
}

/// d₃(n) = sd(R)/σ, n = 2..=50, in the chosen convention.
pub fn d3(n: usize, convention: SigmaConvention) -> Result<f64, SpcError> {
    let i = range_check("d3", n)?;
    Ok(match convention {
        SigmaConvention::Qcc => QCC_D3[i],
        SigmaConvention::Exact => EXACT_D3[i],
    })
}

/// c₄(n) = √(2/(n−1))·Γ(n/2)/Γ((n−1)/2), through ln Γ so any n ≥ 2 works.
pub fn c4(n: usize) -> Result<f64, SpcError> {
    if n < MIN_N {
        return Err(SpcError::ConstantOutOfRange {
            constant: "c4",
            n,
            min: MIN_N,
            max: usize::MAX,
        });
    }
    let n = n as f64;
    Ok((2.0 / (n - 1.0)).sqrt() * (ln_gamma(n / 2.0) - ln_gamma((n - 1.0) / 2.0)).exp())
}

/// The textbook factors for 3σ limits at subgroup size n (Montgomery's appendix table).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ChartFactors {
    /// Subgroup size.
    pub n: usize,
    /// d₂(n).
    pub d2: f64,
    /// d₃(n).
    pub d3: f64,
    /// c₄(n).
    pub c4: f64,
    /// A₂ = 3/(d₂√n): X̄ limits x̿ ± A₂R̄.
    pub a2: f64,
    /// A₃ = 3/(c₄√n): X̄ limits x̿ ± A₃s̄.
    pub a3: f64,
    /// D₃ = max(0, 1 − 3d₃/d₂): R chart LCL = D₃R̄.
    pub capital_d3: f64,
    /// D₄ = 1 + 3d₃/d₂: R chart UCL = D₄R̄.
    pub capital_d4: f64,
    /// B₃ = max(0, 1 − 3√(1−c₄²)/c₄): S chart LCL = B₃s̄.
    pub b3: f64,
    /// B₄ = 1 + 3√(1−c₄²)/c₄: S chart UCL = B₄s̄.
    pub b4: f64,
}

/// All factors at subgroup size n (2..=50) in the chosen convention.
pub fn factors(n: usize, convention: SigmaConvention) -> Result<ChartFactors, SpcError> {
    let d2 = d2(n, convention)?;
    let d3 = d3(n, convention)?;
    let c4 = c4(n)?;
    let root_n = (n as f64).sqrt();
    let s_spread = 3.0 * (1.0 - c4 * c4).sqrt() / c4;
    Ok(ChartFactors {
        n,
        d2,
        d3,
        c4,
        a2: 3.0 / (d2 * root_n),
        a3: 3.0 / (c4 * root_n),
        capital_d3: (1.0 - 3.0 * d3 / d2).max(0.0),
        capital_d4: 1.0 + 3.0 * d3 / d2,
        b3: (1.0 - s_spread).max(0.0),
        b4: 1.0 + s_spread,
    })
}
