//! Least-cost charge of a heat (配料): which released lots to weigh, how many kg and pieces,
//! so the melt lands on the aim (or, when the aim cannot be hit exactly, as close as possible
//! inside the tolerance band) at least cost.
//!
//! The linear program (research notes alloy.md §1.5), with M the output mass fixed:
//! ```text
//! m_i = Σ_j η_i a_ij x_j + heel_i            element mass in the melt (η: recovery)
//! Σ_i m_i = M
//! |m_i − c_i M| ≤ tol_i M                    every aimed element inside its band
//! m_k ≤ U_k M                                impurities
//! rules (low-B, ratio windows)               linear in m
//! 0 ≤ x_j ≤ stock_j, x_j = piece_j·n_j, n_j ∈ ℕ, only released lots, Σ returns ≥ policy
//! ```
//! Solved in three stages with `good_lp` and the pure-Rust `microlp` backend: (1) an elastic
//! version whose slacks say what cannot be met and by how much; (2) the smallest
//! tolerance-weighted deviation from the aim; (3) the least cost at that deviation.

use crate::error::AlloyError;
use crate::material::{Lot, LotStatus};
use crate::spec::{Grade, Rule, LOW_BORON_FACTOR};
use good_lp::{microlp, variable, Expression, ProblemVariables, Solution, SolverModel, Variable};
use lodestone_chem::Element;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// Melt already in the crucible.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heel {
    /// Mass, kg.
    pub mass_kg: f64,
    /// Composition, wt%.
    pub composition_wt_pct: BTreeMap<Element, f64>,
}

/// What to charge for.
#[derive(Debug, Clone, PartialEq)]
pub struct ChargeRequest {
    /// The grade to hit.
    pub grade: Grade,
    /// Mass of melt wanted, kg (heel included).
    pub output_kg: f64,
    /// Lots in stock (only released ones are charged).
    pub lots: Vec<Lot>,
    /// Recovery factor per element (fraction of the charged mass that stays in the melt);
    /// elements not listed recover fully.
    pub recovery: BTreeMap<Element, f64>,
    /// Melt already in the crucible.
    pub heel: Option<Heel>,
    /// Minimum kg of returns to use.
    pub min_returns_kg: f64,
}

/// One weighed lot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChargeLine {
    /// Lot id.
    pub lot: String,
    /// Material name.
    pub material: String,
    /// kg to weigh.
    pub kg: f64,
    /// Whole pieces, for lots charged in pieces.
    pub pieces: Option<u64>,
    /// Cost of this line.
    pub cost: f64,
}

/// The charge of a heat.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Charge {
    /// Lots to weigh, in lot order.
    pub lines: Vec<ChargeLine>,
    /// Total charged, kg (heel excluded).
    pub charged_kg: f64,
    /// Output melt, kg.
    pub output_kg: f64,
    /// Cost of the charge.
    pub cost: f64,
    /// Predicted melt composition, wt%.
    pub predicted_wt_pct: BTreeMap<Element, f64>,
    /// Aim composition, wt% (balance element included).
    pub aim_wt_pct: BTreeMap<Element, f64>,
    /// True when every aimed element is hit exactly (to 1e-6 wt%).
    pub on_aim: bool,
}

struct Model {
    vars: ProblemVariables,
    /// Charged kg per usable lot (index into `usable`).
    x: Vec<Variable>,
    /// Integer piece counts, per usable lot charged in pieces.
    pieces: Vec<Option<Variable>>,
    usable: Vec<usize>,
    /// Element mass in the melt, as expressions.
    mass: BTreeMap<Element, Expression>,
    /// Melt mass M = Σ element masses.
    total: Expression,
    constraints: Vec<good_lp::Constraint>,
}

impl ChargeRequest {
    fn validate(&self) -> Result<(), AlloyError> {
        self.grade.validate()?;
        if !(self.output_kg.is_finite() && self.output_kg > 0.0) {
            return Err(AlloyError::invalid(
                "output_kg",
                self.output_kg,
                "an output mass > 0 kg",
            ));
        }
        let mut ids: BTreeMap<&String, usize> = BTreeMap::new();
        for (i, lot) in self.lots.iter().enumerate() {
            lot.validate(i)?;
            if let Some(first) = ids.insert(&lot.id, i) {
                return Err(AlloyError::invalid(
                    &format!("lots[{i}].id"),
                    &lot.id,
                    &format!("a lot id used once (lots[{first}] already uses it)"),
                ));
            }
        }
        for (e, &eta) in &self.recovery {
            if !(eta > 0.0 && eta <= 1.0) {
                return Err(AlloyError::invalid(
                    &format!("recovery.{e}"),
                    eta,
                    "a recovery factor in (0, 1]",
                ));
            }
        }
        if !(self.min_returns_kg.is_finite() && self.min_returns_kg >= 0.0) {
            return Err(AlloyError::invalid(
                "min_returns_kg",
                self.min_returns_kg,
                "a mass ≥ 0 kg",
            ));
        }
        if let Some(h) = &self.heel {
            let mut total = 0.0;
            // Negative entries first: they are the likelier typo when the sum is off too.
            let mut entries: Vec<(&Element, &f64)> = h.composition_wt_pct.iter().collect();
            entries.sort_by_key(|(_, v)| !(**v < 0.0));
            for (e, &v) in entries {
                if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                    return Err(AlloyError::invalid(
                        &format!("heel.composition_wt_pct.{e}"),
                        v,
                        "a wt% from 0 to 100",
                    ));
                }
                total += v;
            }
            if (total - 100.0).abs() > 0.5 {
                return Err(AlloyError::invalid(
                    "heel.composition_wt_pct",
                    format!("sum {total:.3}"),
                    "an assay summing to 100 ± 0.5 wt% (list the balance element too)",
                ));
            }
            if !(h.mass_kg.is_finite() && h.mass_kg >= 0.0 && h.mass_kg < self.output_kg) {
                return Err(AlloyError::invalid(
                    "heel.mass_kg",
                    h.mass_kg,
                    "a heel ≥ 0 kg and below the output mass",
                ));
            }
        }
        Ok(())
    }

    fn recovery_of(&self, e: Element) -> f64 {
        self.recovery.get(&e).copied().unwrap_or(1.0)
    }

    /// Every element that can appear in the melt.
    fn elements(&self) -> BTreeSet<Element> {
        let mut set: BTreeSet<Element> = self.grade.aim_wt_pct.keys().copied().collect();
        set.insert(self.grade.balance);
        for lot in &self.lots {
            set.extend(lot.chemistry_wt_pct.keys().copied());
        }
        if let Some(h) = &self.heel {
            set.extend(h.composition_wt_pct.keys().copied());
        }
        set
    }

    fn build(&self) -> Model {
        let mut vars = ProblemVariables::new();
        let usable: Vec<usize> = (0..self.lots.len())
            .filter(|&j| self.lots[j].status == LotStatus::Released && self.lots[j].stock_kg > 0.0)
            .collect();
        let mut x = Vec::new();
        let mut pieces = Vec::new();
        let mut constraints = Vec::new();
        for &j in &usable {
            let lot = &self.lots[j];
            let xj = vars.add(variable().min(0.0).max(lot.stock_kg));
            if let Some(p) = lot.piece_kg {
                let n = vars.add(
                    variable()
                        .integer()
                        .min(0.0)
                        .max((lot.stock_kg / p + 1e-9).floor()),
                );
                constraints.push((Expression::from(xj) - p * n).eq(0.0));
                pieces.push(Some(n));
            } else {
                pieces.push(None);
            }
            x.push(xj);
        }
        let mut mass = BTreeMap::new();
        for e in self.elements() {
            let eta = self.recovery_of(e);
            let mut expr = Expression::from(0.0);
            for (k, &j) in usable.iter().enumerate() {
                let a = self.lots[j].fraction(e);
                if a > 0.0 {
                    expr += eta * a * x[k];
                }
            }
            if let Some(h) = &self.heel {
                expr += h.mass_kg * h.composition_wt_pct.get(&e).copied().unwrap_or(0.0) / 100.0;
            }
            mass.insert(e, expr);
        }
        let total = mass
            .values()
            .fold(Expression::from(0.0), |acc, x| acc + x.clone());
        Model {
            vars,
            x,
            pieces,
            usable,
            mass,
            total,
            constraints,
        }
    }

    /// Linear constraints of the spec: `low·M ≤ expr ≤ high·M` with M the melt mass (bounds
    /// per kg of melt, so the same rows serve a fixed output and a free one).
    fn spec_rows(&self, m: &Model) -> Vec<SpecRow> {
        let mut rows = Vec::new();
        for (e, &aim) in &self.grade.aim_wt_pct {
            let tol = self.grade.tolerance_of(*e);
            let band = tol / 100.0;
            rows.push(SpecRow {
                kind: RowKind::Band(*e, aim, tol),
                expr: m.mass[e].clone() - aim / 100.0 * m.total.clone(),
                low: -band,
                high: band,
            });
        }
        for (e, max) in self.grade.impurity_limits() {
            if let Some(expr) = m.mass.get(&e) {
                rows.push(SpecRow {
                    kind: RowKind::Impurity(e, max),
                    expr: expr.clone(),
                    low: f64::NEG_INFINITY,
                    high: max / 100.0,
                });
            }
        }
        let limited: BTreeSet<Element> = self.grade.impurity_limits().keys().copied().collect();
        let foreign_re: Vec<Element> = m
            .mass
            .keys()
            .copied()
            .filter(|e| e.is_rare_earth() && !self.grade.aim_wt_pct.contains_key(e))
            .collect();
        if !foreign_re.is_empty() {
            let expr = foreign_re
                .iter()
                .fold(Expression::from(0.0), |acc, e| acc + m.mass[e].clone());
            let max = self.grade.quality.rare_earth_impurities_max_wt_pct();
            rows.push(SpecRow {
                kind: RowKind::ForeignRareEarth(max),
                expr,
                low: f64::NEG_INFINITY,
                high: max / 100.0,
            });
        }
        let other_max = self.grade.quality.other_impurity_max_wt_pct();
        for (e, expr) in &m.mass {
            let accounted = self.grade.aim_wt_pct.contains_key(e)
                || *e == self.grade.balance
                || limited.contains(e)
                || e.is_rare_earth();
            if !accounted {
                rows.push(SpecRow {
                    kind: RowKind::Other(*e, other_max),
                    expr: expr.clone(),
                    low: f64::NEG_INFINITY,
                    high: other_max / 100.0,
                });
            }
        }
        for rule in &self.grade.rules {
            match rule {
                Rule::LowBoron { transition } => {
                    let t = transition
                        .iter()
                        .filter_map(|e| m.mass.get(e))
                        .fold(Expression::from(0.0), |acc, x| acc + x.clone());
                    let b = m
                        .mass
                        .get(&Element::B)
                        .cloned()
                        .unwrap_or_else(|| Expression::from(0.0));
                    // Strictly positive: ask for a margin of 1e-6 of the melt.
                    rows.push(SpecRow {
                        kind: RowKind::Rule(rule.name()),
                        expr: t - LOW_BORON_FACTOR * b,
                        low: 1e-6,
                        high: f64::INFINITY,
                    });
                }
                Rule::Ratio {
                    numerator,
                    denominator,
                    min,
                    max,
                    basis,
                    ..
                } => {
                    let sum = |list: &[Element]| {
                        list.iter()
                            .filter_map(|e| m.mass.get(e).map(|x| (e, x)))
                            .fold(Expression::from(0.0), |acc, (e, x)| {
                                acc + x.clone() * basis.per_mass(*e)
                            })
                    };
                    let (num, den) = (sum(numerator), sum(denominator));
                    if let Some(lo) = min {
                        rows.push(SpecRow {
                            kind: RowKind::Rule(rule.name()),
                            expr: num.clone() - *lo * den.clone(),
                            low: 0.0,
                            high: f64::INFINITY,
                        });
                    }
                    if let Some(hi) = max {
                        rows.push(SpecRow {
                            kind: RowKind::Rule(rule.name()),
                            expr: num - *hi * den,
                            low: f64::NEG_INFINITY,
                            high: 0.0,
                        });
                    }
                }
            }
        }
        rows
    }

    fn common_constraints(&self, m: &mut Model, mode: Mode) {
        let total = m.total.clone();
        m.constraints.push(match mode {
            Mode::Charge => total.eq(self.output_kg),
            Mode::Correct => total.leq(self.output_kg),
        });
        if self.min_returns_kg > 0.0 {
            let returns = m
                .usable
                .iter()
                .enumerate()
                .filter(|(_, &j)| self.lots[j].is_return)
                .fold(Expression::from(0.0), |acc, (k, _)| acc + m.x[k]);
            m.constraints.push(returns.geq(self.min_returns_kg));
        }
    }
}

#[derive(Debug, Clone)]
enum RowKind {
    Band(Element, f64, f64),
    Impurity(Element, f64),
    ForeignRareEarth(f64),
    Other(Element, f64),
    Rule(String),
}

/// `low·M ≤ expr ≤ high·M` (infinite bounds absent).
struct SpecRow {
    kind: RowKind,
    expr: Expression,
    low: f64,
    high: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Make exactly `output_kg` of melt.
    Charge,
    /// Trim an existing melt (the heel); `output_kg` is the most the crucible holds.
    Correct,
}

/// Charges a heat at least cost; explains what cannot be met when the grade is out of reach.
pub fn charge(request: &ChargeRequest) -> Result<Charge, AlloyError> {
    solve(request, Mode::Charge)
}

/// Correction after assay: the heel is the off-aim melt (its mass and assay), `output_kg` the
/// most the crucible holds; returns the least-cost trim additions that bring every element back
/// inside its band (not necessarily onto the aim).
pub fn correct(request: &ChargeRequest) -> Result<Charge, AlloyError> {
    if request.heel.is_none() {
        return Err(AlloyError::invalid(
            "heel",
            "none",
            "the assayed melt to correct, as [heel] with mass_kg and composition_wt_pct",
        ));
    }
    solve(request, Mode::Correct)
}

fn solve(request: &ChargeRequest, mode: Mode) -> Result<Charge, AlloyError> {
    request.validate()?;
    explain_missing_sources(request)?;
    let returns_kg: f64 = request
        .lots
        .iter()
        .filter(|l| l.is_return && l.status == LotStatus::Released)
        .map(|l| l.stock_kg)
        .sum();
    if request.min_returns_kg > returns_kg {
        return Err(AlloyError::Infeasible {
            reasons: vec![format!(
                "min_returns_kg = {} is more than the {returns_kg:.1} kg of released returns in stock",
                request.min_returns_kg
            )],
        });
    }
    let scale = request.output_kg;

    // (1) Elastic feasibility: every spec row may be violated at a price; slacks say what
    // cannot be met and by how much.
    {
        let mut m = request.build();
        request.common_constraints(&mut m, mode);
        let rows = request.spec_rows(&m);
        let mut slacks = Vec::new();
        let mut objective = Expression::from(0.0);
        let mut constraints = std::mem::take(&mut m.constraints);
        for row in &rows {
            let s = m.vars.add(variable().min(0.0));
            objective += s / scale;
            if row.low.is_finite() {
                constraints.push((row.expr.clone() + s - row.low * m.total.clone()).geq(0.0));
            }
            if row.high.is_finite() {
                constraints.push((row.expr.clone() - s - row.high * m.total.clone()).leq(0.0));
            }
            slacks.push(s);
        }
        let mut problem = m.vars.minimise(objective).using(microlp);
        for c in constraints {
            problem = problem.with(c);
        }
        let solution = problem
            .solve()
            .map_err(|e| infeasible_structure(request, e))?;
        let mut reasons = Vec::new();
        for (row, s) in rows.iter().zip(&slacks) {
            let v = solution.value(*s);
            if v > 1e-7 * scale {
                reasons.push(describe_violation(request, row, v));
            }
        }
        if !reasons.is_empty() {
            // Lots the closest charge empties are usually the root cause: say which.
            let emptied: Vec<String> = m
                .usable
                .iter()
                .enumerate()
                .filter(|(k, &j)| {
                    solution.value(m.x[*k]) >= request.lots[j].stock_kg * (1.0 - 1e-9) - 1e-9
                })
                .map(|(_, &j)| {
                    format!(
                        "{} ({}, {:.1} kg)",
                        request.lots[j].id, request.lots[j].material, request.lots[j].stock_kg
                    )
                })
                .collect();
            if !emptied.is_empty() {
                reasons.push(format!(
                    "the closest charge uses up: {}",
                    emptied.join(", ")
                ));
            }
        }
        if !reasons.is_empty() {
            return Err(AlloyError::Infeasible { reasons });
        }
    }

    // (2) Smallest deviation from the aim, weighted by each element's tolerance.
    let best_deviation = if mode == Mode::Correct {
        f64::INFINITY
    } else {
        let (mut m, deviation, constraints) = hard_model(request, mode);
        let vars = std::mem::replace(&mut m.vars, ProblemVariables::new());
        let mut problem = vars.minimise(deviation.clone()).using(microlp);
        for c in constraints {
            problem = problem.with(c);
        }
        let solution = problem
            .solve()
            .map_err(|e| AlloyError::Solver(e.to_string()))?;
        solution.eval(&deviation)
    };

    // (3) Least cost at that deviation.
    let (mut m, deviation, constraints) = hard_model(request, mode);
    let cost = m
        .usable
        .iter()
        .enumerate()
        .fold(Expression::from(0.0), |acc, (k, &j)| {
            acc + request.lots[j].price_per_kg * m.x[k]
        });
    let mut problem = std::mem::replace(&mut m.vars, ProblemVariables::new())
        .minimise(cost.clone())
        .using(microlp);
    for c in constraints {
        problem = problem.with(c);
    }
    if best_deviation.is_finite() {
        problem = problem.with(deviation.leq(best_deviation + 1e-9 * (1.0 + best_deviation)));
    }
    let solution = problem
        .solve()
        .map_err(|e| AlloyError::Solver(e.to_string()))?;

    let melt_kg = solution.eval(&m.total);
    let mut lines = Vec::new();
    for (k, &j) in m.usable.iter().enumerate() {
        let kg = solution.value(m.x[k]);
        if kg > 1e-9 {
            let lot = &request.lots[j];
            lines.push(ChargeLine {
                lot: lot.id.clone(),
                material: lot.material.clone(),
                kg,
                pieces: m.pieces[k].map(|n| solution.value(n).round() as u64),
                cost: kg * lot.price_per_kg,
            });
        }
    }
    let predicted_wt_pct: BTreeMap<Element, f64> = m
        .mass
        .iter()
        .map(|(e, expr)| (*e, solution.eval(expr) / melt_kg * 100.0))
        .filter(|(_, v)| *v > 1e-12)
        .collect();
    let mut aim_wt_pct = request.grade.aim_wt_pct.clone();
    aim_wt_pct.insert(request.grade.balance, request.grade.balance_aim_wt_pct());
    let on_aim = request
        .grade
        .aim_wt_pct
        .iter()
        .all(|(e, aim)| (predicted_wt_pct.get(e).copied().unwrap_or(0.0) - aim).abs() <= 1e-6);
    Ok(Charge {
        charged_kg: lines.iter().map(|l| l.kg).sum(),
        cost: lines.iter().map(|l| l.cost).sum(),
        lines,
        output_kg: melt_kg,
        predicted_wt_pct,
        aim_wt_pct,
        on_aim,
    })
}

/// The hard model: spec rows as constraints, with deviation variables d⁺, d⁻ per aimed element.
/// Returns the model, the tolerance-weighted deviation and the constraints.
fn hard_model(
    request: &ChargeRequest,
    mode: Mode,
) -> (Model, Expression, Vec<good_lp::Constraint>) {
    let mut m = request.build();
    request.common_constraints(&mut m, mode);
    let rows = request.spec_rows(&m);
    let mut constraints = std::mem::take(&mut m.constraints);
    let mut deviation = Expression::from(0.0);
    for row in rows {
        if let RowKind::Band(_, _, tol) = row.kind {
            let plus = m.vars.add(variable().min(0.0));
            let minus = m.vars.add(variable().min(0.0));
            constraints.push((row.expr.clone() - plus + minus).eq(0.0));
            // Weighted by 1/tolerance (wt%) so every element's deviation counts in band units.
            let w = 1.0 / (tol.max(1e-4) / 100.0 * request.output_kg);
            deviation += w * plus + w * minus;
        }
        if row.low.is_finite() {
            constraints.push((row.expr.clone() - row.low * m.total.clone()).geq(0.0));
        }
        if row.high.is_finite() {
            constraints.push((row.expr - row.high * m.total.clone()).leq(0.0));
        }
    }
    (m, deviation, constraints)
}

/// An aimed element that no released lot (nor the heel) contains cannot be reached: say so,
/// naming lots on hold that would have it.
fn explain_missing_sources(request: &ChargeRequest) -> Result<(), AlloyError> {
    let mut reasons = Vec::new();
    for (e, &aim) in &request.grade.aim_wt_pct {
        if aim <= 0.0 {
            continue;
        }
        let released = request
            .lots
            .iter()
            .any(|l| l.status == LotStatus::Released && l.stock_kg > 0.0 && l.fraction(*e) > 0.0);
        let in_heel = request
            .heel
            .as_ref()
            .is_some_and(|h| h.composition_wt_pct.get(e).copied().unwrap_or(0.0) > 0.0);
        if !released && !in_heel {
            let held: Vec<String> = request
                .lots
                .iter()
                .filter(|l| l.status != LotStatus::Released && l.fraction(*e) > 0.0)
                .map(|l| format!("{} ({:?})", l.id, l.status))
                .collect();
            let name = e.name();
            reasons.push(if held.is_empty() {
                format!("{e} cannot reach {aim} wt%: no lot in stock contains {name}")
            } else {
                format!(
                    "{e} cannot reach {aim} wt%: no released {name} source; not released: {}",
                    held.join(", ")
                )
            });
        }
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(AlloyError::Infeasible { reasons })
    }
}

fn infeasible_structure(request: &ChargeRequest, e: good_lp::ResolutionError) -> AlloyError {
    let released: f64 = request
        .lots
        .iter()
        .filter(|l| l.status == LotStatus::Released)
        .map(|l| l.stock_kg)
        .sum();
    match e {
        good_lp::ResolutionError::Infeasible => AlloyError::Infeasible {
            reasons: vec![format!(
                "the stock cannot make {} kg: {released:.1} kg of released lots{}",
                request.output_kg,
                if request.min_returns_kg > 0.0 {
                    format!(", with at least {} kg of returns", request.min_returns_kg)
                } else {
                    String::new()
                }
            )],
        },
        other => AlloyError::Solver(other.to_string()),
    }
}

fn describe_violation(request: &ChargeRequest, row: &SpecRow, slack_kg: f64) -> String {
    let pct = slack_kg / request.output_kg * 100.0;
    match &row.kind {
        RowKind::Band(e, aim, tol) => {
            let held: Vec<&str> = request
                .lots
                .iter()
                .filter(|l| l.status != LotStatus::Released && l.fraction(*e) > 0.0)
                .map(|l| l.id.as_str())
                .collect();
            format!(
                "{e}: the closest the stock allows misses the band {:.3}–{:.3} wt% (aim {aim}) by {pct:.3} wt%{}",
                aim - tol,
                aim + tol,
                if held.is_empty() { String::new() } else { format!("; not released: {}", held.join(", ")) }
            )
        }
        RowKind::Impurity(e, max) => format!("{e}: at least {:.4} wt% comes in with the lots; the limit is {max} wt%", max + pct),
        RowKind::ForeignRareEarth(max) => {
            let foreign: BTreeSet<&str> = request
                .lots
                .iter()
                .filter(|l| l.status == LotStatus::Released)
                .flat_map(|l| l.chemistry_wt_pct.keys())
                .filter(|e| e.is_rare_earth() && !request.grade.aim_wt_pct.contains_key(e))
                .map(|e| e.symbol())
                .collect();
            format!(
                "rare-earth impurities ({}): at least {:.3} wt% come in with the lots; the limit is {max} wt%",
                foreign.into_iter().collect::<Vec<_>>().join(", "),
                max + pct
            )
        }
        RowKind::Other(e, max) => format!("{e}: at least {:.4} wt% comes in with the lots; other impurities are limited to {max} wt% each", max + pct),
        RowKind::Rule(name) => format!("{name}: cannot be met with this stock (short by {pct:.3} wt%)"),
    }
}
