//! Run rules: Western Electric 1–4 and Nelson 1–8, with the semantics of R qcc 3.0
//! (`R/rules.R`).
//!
//! - Zones are recomputed for every point from its own limits at nsigmas·1/3 and
//!   nsigmas·2/3 (clipped to the statistic's natural bounds, as qcc's `limits.<type>` does),
//!   so variable limits work.
//! - k-of-m rules (WE 2, 3; Nelson 5, 6) flag a point only if it is itself beyond the zone
//!   and at least k of the m points ending at it are beyond the zone on the same side.
//!   Every point of the window is compared with its *own* zone limit. (qcc's code compares
//!   the whole window with the zone of its last point; the two agree for constant limits.)
//! - Run rules (WE 4; Nelson 2, 3, 4, 7) flag every point from the one that completes the
//!   run to the end of the run.
//! - Nelson 8 flags the last point of every window of 8 points all beyond 1σ with points on
//!   both sides.
//! - When a point violates several rules the lowest rule number is reported.
//! - Comparisons are strict (beyond = `>` / `<`) except Nelson 7 (within 1σ, inclusive).

use super::SpcError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A family of run rules; the rule numbers are interpreted within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RuleFamily {
    /// Western Electric (1956): rules 1–4.
    WesternElectric,
    /// Nelson (1984): rules 1–8.
    Nelson,
}

impl RuleFamily {
    /// Highest rule number in the family.
    pub fn max_rule(self) -> u8 {
        match self {
            RuleFamily::WesternElectric => 4,
            RuleFamily::Nelson => 8,
        }
    }

    /// What rule `rule` of the family tests (None if it does not exist).
    pub fn describe(self, rule: u8) -> Option<&'static str> {
        let text = match (self, rule) {
            (_, 1) => "one point beyond the control limits",
            (RuleFamily::WesternElectric, 2) | (RuleFamily::Nelson, 5) => {
                "two of three consecutive points beyond 2σ on the same side"
            }
            (RuleFamily::WesternElectric, 3) | (RuleFamily::Nelson, 6) => {
                "four of five consecutive points beyond 1σ on the same side"
            }
            (RuleFamily::WesternElectric, 4) => "eight consecutive points on the same side",
            (RuleFamily::Nelson, 2) => "nine points in a row on the same side",
            (RuleFamily::Nelson, 3) => "six points in a row steadily increasing or decreasing",
            (RuleFamily::Nelson, 4) => "fourteen points in a row alternating up and down",
            (RuleFamily::Nelson, 7) => "fifteen points in a row within 1σ",
            (RuleFamily::Nelson, 8) => "eight points in a row beyond 1σ on both sides",
            _ => return None,
        };
        Some(text)
    }

    fn name(self) -> &'static str {
        match self {
            RuleFamily::WesternElectric => "Western Electric",
            RuleFamily::Nelson => "Nelson",
        }
    }
}

impl fmt::Display for RuleFamily {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Which run rules to apply. Default: Western Electric 1–4.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rules {
    /// The family the numbers belong to.
    pub family: RuleFamily,
    /// Rule numbers to apply (order and duplicates do not matter; empty = none).
    pub enabled: Vec<u8>,
}

impl Default for Rules {
    fn default() -> Self {
        Rules::western_electric()
    }
}

impl Rules {
    /// Western Electric rules 1–4.
    pub fn western_electric() -> Self {
        Rules {
            family: RuleFamily::WesternElectric,
            enabled: vec![1, 2, 3, 4],
        }
    }

    /// Nelson rules 1–8.
    pub fn nelson() -> Self {
        Rules {
            family: RuleFamily::Nelson,
            enabled: (1..=8).collect(),
        }
    }

    /// Only rule 1 (a point beyond the limits).
    pub fn beyond_limits_only() -> Self {
        Rules {
            family: RuleFamily::WesternElectric,
            enabled: vec![1],
        }
    }

    /// The given rules of a family.
    pub fn of(family: RuleFamily, enabled: &[u8]) -> Self {
        Rules {
            family,
            enabled: enabled.to_vec(),
        }
    }

    /// Checks every rule number belongs to the family.
    pub fn validate(&self) -> Result<(), SpcError> {
        let max = self.family.max_rule();
        match self.enabled.iter().find(|&&r| r == 0 || r > max) {
            Some(&rule) => Err(SpcError::UnknownRule {
                family: self.family.name(),
                rule,
                max,
            }),
            None => Ok(()),
        }
    }

    fn has(&self, rule: u8) -> bool {
        self.enabled.contains(&rule)
    }
}

/// Limits around one point's centre line: at nsigmas/3 (zone C edge), 2·nsigmas/3 (zone B
/// edge) and nsigmas (the control limits), each as (lower, upper).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZoneLimits {
    /// Centre line at this point.
    pub center: f64,
    /// (lower, upper) at nsigmas·1/3 (1σ for 3σ charts).
    pub one_third: (f64, f64),
    /// (lower, upper) at nsigmas·2/3 (2σ for 3σ charts).
    pub two_thirds: (f64, f64),
    /// (LCL, UCL) at nsigmas.
    pub limits: (f64, f64),
}

impl ZoneLimits {
    /// Symmetric, unbounded zones: centre ± (k/3, 2k/3, k)·σ.
    pub fn symmetric(center: f64, sigma: f64, nsigmas: f64) -> Self {
        let at = |k: f64| (center - k * sigma, center + k * sigma);
        ZoneLimits {
            center,
            one_third: at(nsigmas / 3.0),
            two_thirds: at(2.0 * nsigmas / 3.0),
            limits: at(nsigmas),
        }
    }
}

/// The violated rule for each point (None = in control), lowest rule number winning.
///
/// `statistics[i]` is tested against `zones[i]`; the rules see the whole sequence (phase I
/// and phase II together, as qcc does with `newdata`).
pub fn evaluate(
    statistics: &[f64],
    zones: &[ZoneLimits],
    rules: &Rules,
) -> Result<Vec<Option<u8>>, SpcError> {
    rules.validate()?;
    if statistics.len() != zones.len() {
        return Err(SpcError::LengthMismatch {
            statistics: statistics.len(),
            zones: zones.len(),
        });
    }
    let n = statistics.len();
    let mut out: Vec<Option<u8>> = vec![None; n];
    let mut mark = |flags: Vec<bool>, rule: u8| {
        for (slot, flagged) in out.iter_mut().zip(flags) {
            if flagged && slot.is_none_or(|r| rule < r) {
                *slot = Some(rule);
            }
        }
    };
    let s = statistics;
    let above = |i: usize, lim: fn(&ZoneLimits) -> f64| s[i] > lim(&zones[i]);
    let below = |i: usize, lim: fn(&ZoneLimits) -> f64| s[i] < lim(&zones[i]);

    let beyond_limits: Vec<bool> = (0..n)
        .map(|i| above(i, |z| z.limits.1) || below(i, |z| z.limits.0))
        .collect();
    let beyond_two: (Vec<bool>, Vec<bool>) = (
        (0..n).map(|i| above(i, |z| z.two_thirds.1)).collect(),
        (0..n).map(|i| below(i, |z| z.two_thirds.0)).collect(),
    );
    let beyond_one: (Vec<bool>, Vec<bool>) = (
        (0..n).map(|i| above(i, |z| z.one_third.1)).collect(),
        (0..n).map(|i| below(i, |z| z.one_third.0)).collect(),
    );
    let side: (Vec<bool>, Vec<bool>) = (
        (0..n).map(|i| s[i] > zones[i].center).collect(),
        (0..n).map(|i| s[i] < zones[i].center).collect(),
    );

    let (two_of_three, four_of_five, same_side, beyond_both) = match rules.family {
        RuleFamily::WesternElectric => (2, 3, Some((4, 8)), None),
        RuleFamily::Nelson => (5, 6, Some((2, 9)), Some(8)),
    };
    if rules.has(1) {
        mark(beyond_limits, 1);
    }
    if rules.has(two_of_three) {
        mark(k_of_m(&beyond_two, 2, 3), two_of_three);
    }
    if rules.has(four_of_five) {
        mark(k_of_m(&beyond_one, 4, 5), four_of_five);
    }
    if let Some((rule, len)) = same_side {
        if rules.has(rule) {
            let up = run_flags(&side.0, len);
            let down = run_flags(&side.1, len);
            mark(up.iter().zip(&down).map(|(a, b)| *a || *b).collect(), rule);
        }
    }
    if rules.family == RuleFamily::Nelson {
        let diffs: Vec<f64> = s.windows(2).map(|w| w[1] - w[0]).collect();
        if rules.has(3) {
            // Six points steadily moving = five consecutive differences of one sign; the
            // difference j (between points j and j+1) stands for point j+1.
            let inc: Vec<bool> = diffs.iter().map(|d| *d > 0.0).collect();
            let dec: Vec<bool> = diffs.iter().map(|d| *d < 0.0).collect();
            let mut flags = vec![false; n];
            for (j, (a, b)) in run_flags(&inc, 5)
                .into_iter()
                .zip(run_flags(&dec, 5))
                .enumerate()
            {
                flags[j + 1] = a || b;
            }
            mark(flags, 3);
        }
        if rules.has(4) {
            // Fourteen alternating points = twelve consecutive sign changes of the
            // differences; sign change j (between differences j and j+1) stands for point j+2.
            let alternating: Vec<bool> = diffs.windows(2).map(|w| w[0] * w[1] < 0.0).collect();
            let mut flags = vec![false; n];
            for (j, f) in run_flags(&alternating, 12).into_iter().enumerate() {
                flags[j + 2] = f;
            }
            mark(flags, 4);
        }
        if rules.has(7) {
            let inside: Vec<bool> = (0..n)
                .map(|i| s[i] >= zones[i].one_third.0 && s[i] <= zones[i].one_third.1)
                .collect();
            mark(run_flags(&inside, 15), 7);
        }
        if let Some(rule) = beyond_both.filter(|r| rules.has(*r)) {
            const LEN: usize = 8;
            let mut flags = vec![false; n];
            for end in LEN.saturating_sub(1)..n {
                let window = end + 1 - LEN..=end;
                let all_out = window.clone().all(|i| beyond_one.0[i] || beyond_one.1[i]);
                let any_up = window.clone().any(|i| beyond_one.0[i]);
                let any_down = window.clone().any(|i| beyond_one.1[i]);
                flags[end] = all_out && any_up && any_down;
            }
            mark(flags, rule);
        }
    }
    Ok(out)
}

/// Rules on a standardised sequence: centre 0, σ of the statistic 1, limits ±3.
pub fn evaluate_standardized(values: &[f64], rules: &Rules) -> Result<Vec<Option<u8>>, SpcError> {
    let zones = vec![ZoneLimits::symmetric(0.0, 1.0, 3.0); values.len()];
    evaluate(values, &zones, rules)
}

/// Point i is flagged when it is beyond on one side and at least `k` of the `m` points
/// ending at i are beyond on that same side.
fn k_of_m(beyond: &(Vec<bool>, Vec<bool>), k: usize, m: usize) -> Vec<bool> {
    let n = beyond.0.len();
    let mut flags = vec![false; n];
    for end in m.saturating_sub(1)..n {
        for side in [&beyond.0, &beyond.1] {
            let count = side[end + 1 - m..=end].iter().filter(|b| **b).count();
            if side[end] && count >= k {
                flags[end] = true;
            }
        }
    }
    flags
}

/// Flags every element of a run of `true` from the one completing `len` to the run's end
/// (qcc's `qccRulesViolatingRun`).
fn run_flags(condition: &[bool], len: usize) -> Vec<bool> {
    let mut run = 0usize;
    condition
        .iter()
        .map(|&c| {
            run = if c { run + 1 } else { 0 };
            run >= len
        })
        .collect()
}
