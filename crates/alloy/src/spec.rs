//! Grades and specifications: aim composition, tolerance band per element, impurity limits,
//! the four GB/T 29655-2013 quality grades of strip-cast NdFeB alloy, and rules such as the
//! low-boron condition `[T] − 72.3·[B] > 0`.

use crate::error::AlloyError;
use lodestone_chem::Element;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// GB/T 29655-2013 quality grade of strip-cast alloy (045001 best … 045004).
///
/// Source: GB/T 29655-2013 tables as read in the research notes (alloy.md §1.4); the Si label
/// was OCR-garbled in the copy read and is marked uncertain there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
pub enum QualityGrade {
    /// 045001: RE ±0.20, B ±0.02, O ≤ 0.02 wt%.
    #[serde(rename = "045001")]
    G045001,
    /// 045002: RE ±0.40, B ±0.04, O ≤ 0.03 wt%.
    #[serde(rename = "045002")]
    G045002,
    /// 045003: RE ±0.60, B ±0.06, O ≤ 0.04 wt%.
    #[serde(rename = "045003")]
    G045003,
    /// 045004: RE ±0.80, B ±0.08, O ≤ 0.05 wt%.
    #[serde(rename = "045004")]
    G045004,
}

impl QualityGrade {
    /// All four, best first.
    pub const ALL: [QualityGrade; 4] = [
        QualityGrade::G045001,
        QualityGrade::G045002,
        QualityGrade::G045003,
        QualityGrade::G045004,
    ];

    fn index(self) -> usize {
        self as usize
    }
    /// The grade's code, e.g. "045001".
    pub fn code(self) -> &'static str {
        ["045001", "045002", "045003", "045004"][self.index()]
    }
    /// Tolerance on total rare earth, wt% (±).
    pub fn rare_earth_tolerance_wt_pct(self) -> f64 {
        [0.20, 0.40, 0.60, 0.80][self.index()]
    }
    /// Tolerance on boron and on the other main components, wt% (±).
    pub fn other_tolerance_wt_pct(self) -> f64 {
        [0.02, 0.04, 0.06, 0.08][self.index()]
    }
    /// Maximum rare-earth impurities (foreign rare earths), wt%.
    pub fn rare_earth_impurities_max_wt_pct(self) -> f64 {
        [0.50, 0.60, 0.70, 0.80][self.index()]
    }
    /// Impurity limits, wt%: Si (label uncertain in the source), Ca, Ti, Mn, C, N, O.
    pub fn impurity_limits_wt_pct(self) -> BTreeMap<Element, f64> {
        let i = self.index();
        BTreeMap::from([
            (Element::Si, [0.05, 0.08, 0.10, 0.12][i]),
            (Element::Ca, [0.02, 0.03, 0.04, 0.05][i]),
            (Element::Ti, [0.02, 0.03, 0.04, 0.05][i]),
            (Element::Mn, [0.05, 0.06, 0.07, 0.09][i]),
            (Element::C, [0.025, 0.030, 0.040, 0.050][i]),
            (Element::N, [0.004, 0.005, 0.006, 0.010][i]),
            (Element::O, [0.02, 0.03, 0.04, 0.05][i]),
        ])
    }
    /// Maximum of any other impurity (the standard's "other impurities" row), wt%.
    pub fn other_impurity_max_wt_pct(self) -> f64 {
        [0.01, 0.02, 0.03, 0.05][self.index()]
    }
    /// Minimum share of flakes within mean ± 0.05 mm.
    pub fn thickness_share_min(self) -> f64 {
        [0.85, 0.80, 0.75, 0.70][self.index()]
    }
}

/// Mass or atomic basis of a ratio rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    /// wt%.
    Mass,
    /// at%.
    Atomic,
}

/// A composition rule beyond per-element bands. All are linear in the element masses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Rule {
    /// Low-boron condition `[T] − 72.3·[B] > 0` (wt%), T the transition metals Fe, Co, Ni,
    /// Cu, Ga…: 72.3 = 14·M_Fe/M_B, the Nd2Fe14B ratio (JP patent, alloy.md §1.1).
    LowBoron {
        /// Elements counted as T (default Fe, Co, Ni).
        #[serde(default = "default_t")]
        transition: Vec<Element>,
    },
    /// `min ≤ Σ numerator / Σ denominator ≤ max`, e.g. Pr/(Pr+Nd) or the atomic B/(Nd+Pr)
    /// window of patent show-50263.
    Ratio {
        /// Label in reports.
        name: String,
        /// Elements summed above the line.
        numerator: Vec<Element>,
        /// Elements summed below the line.
        denominator: Vec<Element>,
        /// Lower bound (inclusive), if any.
        min: Option<f64>,
        /// Upper bound (inclusive), if any.
        max: Option<f64>,
        /// Mass or atomic basis.
        basis: Basis,
    },
}

impl Basis {
    /// Factor turning a mass (or wt%) of `e` into this basis: 1 for mass, 1/M for atomic.
    pub fn per_mass(self, e: Element) -> f64 {
        match self {
            Basis::Mass => 1.0,
            Basis::Atomic => 1.0 / e.molar_mass_g_per_mol(),
        }
    }
}

fn default_t() -> Vec<Element> {
    vec![Element::Fe, Element::Co, Element::Ni]
}

impl Rule {
    /// Name used in reports.
    pub fn name(&self) -> String {
        match self {
            Rule::LowBoron { .. } => "[T] − 72.3·[B] > 0".into(),
            Rule::Ratio { name, .. } => name.clone(),
        }
    }

    /// The rule's value on a composition in wt%: `[T] − 72.3·[B]`, or the ratio (NaN when its
    /// denominator is zero).
    pub fn value(&self, wt_pct: &BTreeMap<Element, f64>) -> f64 {
        let get = |e: &Element| wt_pct.get(e).copied().unwrap_or(0.0);
        match self {
            Rule::LowBoron { transition } => {
                transition.iter().map(get).sum::<f64>() - LOW_BORON_FACTOR * get(&Element::B)
            }
            Rule::Ratio {
                numerator,
                denominator,
                basis,
                ..
            } => {
                let amount = |e: &Element| get(e) * basis.per_mass(*e);
                let den: f64 = denominator.iter().map(amount).sum();
                if den > 0.0 {
                    numerator.iter().map(amount).sum::<f64>() / den
                } else {
                    f64::NAN
                }
            }
        }
    }

    /// Evaluates the rule on a composition in wt%: `Ok(value)` when met, `Err(message)` otherwise.
    pub fn check(&self, wt_pct: &BTreeMap<Element, f64>) -> Result<f64, String> {
        let value = self.value(wt_pct);
        match self {
            Rule::LowBoron { .. } if value > 0.0 => Ok(value),
            Rule::LowBoron { .. } => Err(format!("[T] − 72.3·[B] = {value:.3} is not > 0")),
            Rule::Ratio { name, .. } if value.is_nan() => {
                Err(format!("{name}: the denominator is zero"))
            }
            Rule::Ratio { name, min, max, .. } => {
                let low = min.is_none_or(|m| value >= m - 1e-12);
                let high = max.is_none_or(|m| value <= m + 1e-12);
                if low && high {
                    Ok(value)
                } else {
                    Err(format!(
                        "{name} = {value:.4} is outside [{}, {}]",
                        min.map_or("−∞".into(), |m| m.to_string()),
                        max.map_or("∞".into(), |m| m.to_string())
                    ))
                }
            }
        }
    }
}

/// 14·M_Fe/M_B with IUPAC masses, rounded as in the patent claim (alloy.md §6 A7: 72.32).
pub const LOW_BORON_FACTOR: f64 = 72.3;

/// An alloy grade: what a heat must be.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    /// Name, e.g. "N52 low-B Ga".
    pub name: String,
    /// Aim composition, wt%, every element but the balance element.
    pub aim_wt_pct: BTreeMap<Element, f64>,
    /// The element that makes up the rest (Fe).
    #[serde(default = "default_balance")]
    pub balance: Element,
    /// GB/T 29655 quality grade that sets tolerances and impurity limits by default.
    #[serde(default = "default_quality")]
    pub quality: QualityGrade,
    /// Tolerance per element, wt% (±), overriding the quality grade's.
    #[serde(default)]
    pub tolerance_wt_pct: BTreeMap<Element, f64>,
    /// Impurity limits, wt%, overriding the quality grade's.
    #[serde(default)]
    pub impurity_max_wt_pct: BTreeMap<Element, f64>,
    /// Extra rules.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

fn default_balance() -> Element {
    Element::Fe
}
fn default_quality() -> QualityGrade {
    QualityGrade::G045001
}

impl Grade {
    /// Checks the grade's own consistency: aims in [0, 100], sum below 100, tolerances ≥ 0.
    pub fn validate(&self) -> Result<(), AlloyError> {
        let mut total = 0.0;
        for (e, &v) in &self.aim_wt_pct {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                return Err(AlloyError::invalid(
                    &format!("grade.aim_wt_pct.{e}"),
                    v,
                    "a wt% from 0 to 100",
                ));
            }
            if *e == self.balance {
                return Err(AlloyError::invalid(
                    &format!("grade.aim_wt_pct.{e}"),
                    v,
                    &format!("no aim for the balance element {e}: it makes up the rest"),
                ));
            }
            total += v;
        }
        if total >= 100.0 {
            return Err(AlloyError::invalid(
                "grade.aim_wt_pct",
                format!("sum {total}"),
                "a sum below 100 wt% (the balance element takes the rest)",
            ));
        }
        for (e, &t) in &self.tolerance_wt_pct {
            if !(t.is_finite() && t >= 0.0) {
                return Err(AlloyError::invalid(
                    &format!("grade.tolerance_wt_pct.{e}"),
                    t,
                    "a tolerance ≥ 0 wt%",
                ));
            }
            if !self.aim_wt_pct.contains_key(e) {
                return Err(AlloyError::invalid(
                    &format!("grade.tolerance_wt_pct.{e}"),
                    t,
                    "a tolerance only for an element with an aim",
                ));
            }
        }
        for (i, rule) in self.rules.iter().enumerate() {
            if let Rule::Ratio {
                min: Some(lo),
                max: Some(hi),
                ..
            } = rule
            {
                if !(lo <= hi) {
                    return Err(AlloyError::invalid(
                        &format!("grade.rules[{i}]"),
                        format!("\"{}\" with min {lo} > max {hi}", rule.name()),
                        "min ≤ max",
                    ));
                }
            }
        }
        for (e, &u) in &self.impurity_max_wt_pct {
            if !(u.is_finite() && u >= 0.0) {
                return Err(AlloyError::invalid(
                    &format!("grade.impurity_max_wt_pct.{e}"),
                    u,
                    "a limit ≥ 0 wt%",
                ));
            }
        }
        Ok(())
    }

    /// Aim of the balance element, wt%.
    pub fn balance_aim_wt_pct(&self) -> f64 {
        100.0 - self.aim_wt_pct.values().sum::<f64>()
    }

    /// Total rare-earth aim, wt%.
    pub fn rare_earth_aim_wt_pct(&self) -> f64 {
        self.aim_wt_pct
            .iter()
            .filter(|(e, _)| e.is_rare_earth())
            .map(|(_, v)| v)
            .sum()
    }

    /// The band an assay of one aimed element is accepted within, wt% either side of its
    /// aim, as GB/T 29655 writes it: an explicit tolerance where the grade states one; none
    /// for a rare earth without one (the standard's RE tolerance applies to the total RE, which
    /// `check_assay` checks); the quality grade's "other main components" tolerance otherwise.
    pub fn acceptance_band_wt_pct(&self, e: Element) -> Option<f64> {
        if let Some(t) = self.tolerance_wt_pct.get(&e) {
            return Some(*t);
        }
        if e.is_rare_earth() {
            return None;
        }
        Some(self.quality.other_tolerance_wt_pct())
    }

    /// Tolerance the charge aims each element within, wt%: explicit, else the quality grade's
    /// (rare earths share the total-RE tolerance in proportion to their aims, so the total
    /// stays within its band). This is the batching aim, tighter than acceptance: an assay is
    /// judged by [`Grade::acceptance_band_wt_pct`] and the total RE.
    pub fn tolerance_of(&self, e: Element) -> f64 {
        if let Some(t) = self.tolerance_wt_pct.get(&e) {
            return *t;
        }
        if e.is_rare_earth() {
            let total = self.rare_earth_aim_wt_pct();
            let aim = self.aim_wt_pct.get(&e).copied().unwrap_or(0.0);
            if total > 0.0 {
                return self.quality.rare_earth_tolerance_wt_pct() * aim / total;
            }
        }
        self.quality.other_tolerance_wt_pct()
    }

    /// Impurity limits: the quality grade's, overridden or extended by the grade's own.
    pub fn impurity_limits(&self) -> BTreeMap<Element, f64> {
        let mut limits = self.quality.impurity_limits_wt_pct();
        for (e, v) in &self.impurity_max_wt_pct {
            limits.insert(*e, *v);
        }
        limits.retain(|e, _| !self.aim_wt_pct.contains_key(e) && *e != self.balance);
        limits
    }
}

/// Verdict of one element or rule in a grade check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckLine {
    /// Element symbol or rule name.
    pub item: String,
    /// Measured value (wt% or the rule's value).
    pub measured: f64,
    /// Aim, where there is one.
    pub aim: Option<f64>,
    /// Allowed range as text.
    pub allowed: String,
    /// Lower limit, where there is one.
    pub min: Option<f64>,
    /// Upper limit, where there is one.
    pub max: Option<f64>,
    /// Pass or fail.
    pub pass: bool,
}

impl CheckLine {
    /// The measured value with the decimals of its limits, and more where fewer would round a
    /// value outside its band onto (or inside) a limit: `Dy 1.5102 outside 1.49–1.51`, not
    /// `1.510 outside 1.490–1.510`.
    pub fn measured_text(&self) -> String {
        let decimals = |x: f64| {
            let text = band_text(x);
            text.split_once('.').map_or(0, |(_, d)| d.len())
        };
        let mut places = [self.min, self.max]
            .into_iter()
            .flatten()
            .map(decimals)
            .max()
            .unwrap_or(3);
        let inside = |v: f64| {
            self.min.is_none_or(|lo| v >= lo - 1e-12) && self.max.is_none_or(|hi| v <= hi + 1e-12)
        };
        while places < 9 {
            let shown: f64 = format!("{:.*}", places, self.measured)
                .parse()
                .unwrap_or(self.measured);
            if inside(shown) == inside(self.measured) {
                break;
            }
            places += 1;
        }
        format!("{:.*}", places, self.measured)
    }
}

/// A limit as printed: at most four decimals, trailing zeros dropped (0.94, 23.3, 0.004).
fn band_text(x: f64) -> String {
    let text = format!("{x:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.to_string()
    }
}

/// Checks an assay (wt%) against a grade: each aimed element within its band, each impurity
/// below its limit, total rare earth within the total-RE band, each rule met.
pub fn check_assay(grade: &Grade, assay_wt_pct: &BTreeMap<Element, f64>) -> Vec<CheckLine> {
    let get = |e: &Element| assay_wt_pct.get(e).copied().unwrap_or(0.0);
    let mut lines = Vec::new();
    for (e, &aim) in &grade.aim_wt_pct {
        let v = get(e);
        lines.push(match grade.acceptance_band_wt_pct(*e) {
            Some(tol) => CheckLine {
                item: e.symbol().to_string(),
                measured: v,
                aim: Some(aim),
                allowed: format!("{}–{}", band_text(aim - tol), band_text(aim + tol)),
                min: Some(aim - tol),
                max: Some(aim + tol),
                pass: (v - aim).abs() <= tol + 1e-9,
            },
            // A rare earth without a tolerance of its own counts in the total RE.
            None => CheckLine {
                item: e.symbol().to_string(),
                measured: v,
                aim: Some(aim),
                allowed: "in total RE".into(),
                min: None,
                max: None,
                pass: true,
            },
        });
    }
    let re_aim = grade.rare_earth_aim_wt_pct();
    if re_aim > 0.0 {
        let re: f64 = assay_wt_pct
            .iter()
            .filter(|(e, _)| e.is_rare_earth() && grade.aim_wt_pct.contains_key(e))
            .map(|(_, v)| v)
            .sum();
        let tol = grade.quality.rare_earth_tolerance_wt_pct();
        lines.push(CheckLine {
            item: "total RE".into(),
            measured: re,
            aim: Some(re_aim),
            allowed: format!("{}–{}", band_text(re_aim - tol), band_text(re_aim + tol)),
            min: Some(re_aim - tol),
            max: Some(re_aim + tol),
            pass: (re - re_aim).abs() <= tol + 1e-9,
        });
        let foreign: f64 = assay_wt_pct
            .iter()
            .filter(|(e, _)| e.is_rare_earth() && !grade.aim_wt_pct.contains_key(e))
            .map(|(_, v)| v)
            .sum();
        let max = grade.quality.rare_earth_impurities_max_wt_pct();
        lines.push(CheckLine {
            item: "RE impurities".into(),
            measured: foreign.max(0.0),
            aim: None,
            allowed: format!("≤ {max}"),
            min: None,
            max: Some(max),
            pass: foreign <= max + 1e-12,
        });
    }
    for (e, max) in grade.impurity_limits() {
        let v = get(&e);
        lines.push(CheckLine {
            item: e.symbol().to_string(),
            measured: v,
            aim: None,
            allowed: format!("≤ {max}"),
            min: None,
            max: Some(max),
            pass: v <= max + 1e-12,
        });
    }
    for rule in &grade.rules {
        let (min, max) = match rule {
            Rule::LowBoron { .. } => (None, None),
            Rule::Ratio { min, max, .. } => (*min, *max),
        };
        lines.push(CheckLine {
            item: rule.name(),
            measured: rule.value(assay_wt_pct),
            aim: None,
            allowed: rule_allowed(rule),
            min,
            max,
            pass: rule.check(assay_wt_pct).is_ok(),
        });
    }
    lines
}

fn rule_allowed(rule: &Rule) -> String {
    match rule {
        Rule::LowBoron { .. } => "> 0".into(),
        Rule::Ratio { min, max, .. } => format!(
            "{}–{}",
            min.map_or("−∞".into(), |m| m.to_string()),
            max.map_or("∞".into(), |m| m.to_string())
        ),
    }
}

/// The best GB/T 29655 quality grade whose tolerances and impurity limits the assay meets, if
/// any (the grade's own tolerance and impurity overrides still apply).
pub fn best_quality_grade(
    grade: &Grade,
    assay_wt_pct: &BTreeMap<Element, f64>,
) -> Option<QualityGrade> {
    QualityGrade::ALL.into_iter().find(|&q| {
        let g = Grade {
            quality: q,
            ..grade.clone()
        };
        check_assay(&g, assay_wt_pct).iter().all(|l| l.pass)
    })
}
