//! Steady state of a cascade: Newton on the block-tridiagonal stage structure, in the
//! logarithms of the model's unknowns, safeguarded by pseudo-transient continuation.
//!
//! Stage `s` couples only to `s − 1` (its organic inflow) and `s + 1` (its aqueous inflow), so
//! the Jacobian is block tridiagonal and one Newton step costs one block-Thomas sweep. The
//! pseudo-transient term gives every stage a holdup equal to one residence time of its
//! outflow: the diagonal blocks are scaled by `1 + 1/Δt`, and Δt grows as the residual falls
//! (switched evolution relaxation), so far from the solution the iteration behaves like a
//! time march of the cascade and near it like plain Newton.

use crate::cascade::{Cascade, Phase};
use crate::error::SxError;
use crate::model::{EquilibriumModel, Speciation, TransferLaw};
use nalgebra::{DMatrix, DVector};
use std::sync::atomic::{AtomicBool, Ordering};

/// Controls of the steady-state solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Largest number of Newton / pseudo-transient iterations.
    pub max_iterations: usize,
    /// Converged when every scaled residual (relative to the cascade's total feed of that
    /// component) is at most this, or within round-off of the terms of its equation (see
    /// [`Convergence::round_off_bound`]).
    pub tolerance: f64,
    /// First pseudo-time step, in stage residence times.
    pub initial_time_step: f64,
    /// Largest change of any log-unknown in one iteration.
    pub max_log_step: f64,
}

impl Default for SolverOptions {
    fn default() -> Self {
        Self {
            max_iterations: 2000,
            tolerance: 1e-12,
            initial_time_step: 1.0,
            max_log_step: 2.0,
        }
    }
}

/// How the iteration ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Convergence {
    /// True when every scaled residual is at most the tolerance or within round-off of the
    /// terms it sums (see [`Convergence::round_off_bound`]), and the last step was small.
    pub converged: bool,
    /// Global Newton / pseudo-transient iterations used.
    pub iterations: usize,
    /// Iterations spent in pseudo-transient continuation (0 when Newton converged directly).
    pub transient_iterations: usize,
    /// Largest scaled residual at the end.
    pub max_residual: f64,
    /// Round-off bound of the equation with the largest residual: `64 · ε · Σ|terms|` of that
    /// balance or relation, scaled like the residual. Convergence accepts a residual above the
    /// tolerance when it is at most this bound (the balance is exact to working precision).
    pub round_off_bound: f64,
    /// 1-based stage of the largest residual.
    pub worst_stage: usize,
    /// Name of the balance or relation with the largest residual.
    pub worst_equation: String,
}

/// Converged (or last) state of every stage, in model units.
#[derive(Debug, Clone)]
pub struct StageSolution {
    /// Aqueous concentrations leaving each stage.
    pub aqueous: Vec<Vec<f64>>,
    /// Organic concentrations leaving each stage.
    pub organic: Vec<Vec<f64>>,
    /// Convergence report.
    pub convergence: Convergence,
}

struct Problem<'a> {
    model: &'a dyn EquilibriumModel,
    n_stages: usize,
    k: usize,
    n_aq: usize,
    n_org: usize,
    /// Molar feed of each aqueous / organic species into each stage.
    feed_aq: Vec<Vec<f64>>,
    feed_org: Vec<Vec<f64>>,
    /// One row per equation: a component balance or a fixed-fraction relation.
    rows: Vec<Row>,
    /// Outflow and onward flow of each phase per stage.
    q_aq: Vec<f64>,
    q_org: Vec<f64>,
    onward_aq: Vec<f64>,
    onward_org: Vec<f64>,
    /// When set, the iteration stops as if its iteration budget were spent.
    cancel: Option<&'a AtomicBool>,
}

#[derive(Clone)]
enum Row {
    Balance {
        aq: Vec<(usize, f64)>,
        org: Vec<(usize, f64)>,
        inv_scale: f64,
        name: String,
    },
    Fraction {
        aq: usize,
        inv_scale: f64,
        name: String,
    },
    Murphree {
        org: usize,
        inv_scale: f64,
        name: String,
    },
}

struct Jacobian {
    lower: Vec<DMatrix<f64>>,
    diag: Vec<DMatrix<f64>>,
    upper: Vec<DMatrix<f64>>,
}

/// Solves the cascade from a cold start: no initial guess is needed from the user.
pub fn solve(
    cascade: &Cascade,
    model: &dyn EquilibriumModel,
    options: &SolverOptions,
) -> Result<StageSolution, SxError> {
    let problem = Problem::new(cascade, model)?;
    problem.run(options)
}

/// [`solve`] that stops between iterations once `cancel` is set (a caller's deadline or a
/// client gone away), returning the last state as not converged. The solver only reads the
/// flag: no clocks or I/O here.
pub fn solve_cancellable(
    cascade: &Cascade,
    model: &dyn EquilibriumModel,
    options: &SolverOptions,
    cancel: &AtomicBool,
) -> Result<StageSolution, SxError> {
    let mut problem = Problem::new(cascade, model)?;
    problem.cancel = Some(cancel);
    problem.run(options)
}

impl<'a> Problem<'a> {
    fn new(cascade: &'a Cascade, model: &'a dyn EquilibriumModel) -> Result<Self, SxError> {
        let n_stages = cascade.stages();
        let n_aq = model.aqueous_species().len();
        let n_org = model.organic_species().len();
        let k = model.unknowns_per_stage();
        let mut feed_aq = vec![vec![0.0; n_aq]; n_stages];
        let mut feed_org = vec![vec![0.0; n_org]; n_stages];
        for f in cascade.feeds() {
            let target = match f.phase {
                Phase::Aqueous => &mut feed_aq[f.stage - 1],
                Phase::Organic => &mut feed_org[f.stage - 1],
            };
            if f.concentration.len() != target.len() {
                return Err(SxError::invalid(
                    &format!("feed \"{}\" concentration", f.name),
                    &format!("{} values", f.concentration.len()),
                    &format!(
                        "{} values, one per {} species of the model",
                        target.len(),
                        f.phase
                    ),
                ));
            }
            for (t, c) in target.iter_mut().zip(&f.concentration) {
                *t += f.flow * c;
            }
        }
        let total = |aq: &[(usize, f64)], org: &[(usize, f64)]| -> f64 {
            let mut sum = 0.0;
            for s in 0..n_stages {
                sum += aq
                    .iter()
                    .map(|&(i, c)| c.abs() * feed_aq[s][i])
                    .sum::<f64>();
                sum += org
                    .iter()
                    .map(|&(o, c)| c.abs() * feed_org[s][o])
                    .sum::<f64>();
            }
            sum
        };
        let mut rows = Vec::with_capacity(k);
        for c in model.components() {
            let t = total(&c.aqueous, &c.organic);
            if !(t > 0.0) {
                return Err(SxError::invalid(
                    &format!("feeds of {}", c.name),
                    "0",
                    &format!("some feed carrying {}: a balance without any input has no positive solution", c.name),
                ));
            }
            rows.push(Row::Balance {
                aq: c.aqueous.clone(),
                org: c.organic.clone(),
                inv_scale: 1.0 / t,
                name: c.name.clone(),
            });
        }
        if model.transfer_law() == TransferLaw::FixedFraction {
            for i in 0..n_aq {
                if model.transfer_fraction(0, i).is_some() {
                    let name = &model.aqueous_species()[i].name;
                    let c = model
                        .components()
                        .iter()
                        .find(|c| c.aqueous.iter().any(|&(j, _)| j == i));
                    let t = c.map_or(1.0, |c| total(&c.aqueous, &c.organic));
                    rows.push(Row::Fraction {
                        aq: i,
                        inv_scale: 1.0 / t,
                        name: format!("{name} transfer"),
                    });
                }
            }
        }
        if model.transfer_law() == TransferLaw::Murphree {
            for (j, sp) in model.organic_species().iter().enumerate() {
                let c = model
                    .components()
                    .iter()
                    .find(|c| c.organic.iter().any(|&(o, _)| o == j));
                let t = c.map_or(1.0, |c| total(&c.aqueous, &c.organic));
                rows.push(Row::Murphree {
                    org: j,
                    inv_scale: 1.0 / t,
                    name: format!("{} Murphree relation", sp.name),
                });
            }
        }
        if rows.len() != k {
            return Err(SxError::invalid(
                &format!("model {}", model.name()),
                &format!("{} equations for {k} unknowns per stage", rows.len()),
                "as many equations as unknowns (a model bug; please report it)",
            ));
        }
        let q_aq: Vec<f64> = (1..=n_stages)
            .map(|s| cascade.outflow(Phase::Aqueous, s))
            .collect();
        let q_org: Vec<f64> = (1..=n_stages)
            .map(|s| cascade.outflow(Phase::Organic, s))
            .collect();
        let onward_aq = (1..=n_stages)
            .map(|s| cascade.onward_flow(Phase::Aqueous, s))
            .collect();
        let onward_org = (1..=n_stages)
            .map(|s| cascade.onward_flow(Phase::Organic, s))
            .collect();
        Ok(Self {
            model,
            n_stages,
            k,
            n_aq,
            n_org,
            feed_aq,
            feed_org,
            rows,
            q_aq,
            q_org,
            onward_aq,
            onward_org,
            cancel: None,
        })
    }

    /// Cold start from the no-transfer profiles: each stage starts from what its phases would
    /// carry if nothing crossed between them — the aqueous fed at or above the stage, the
    /// organic fed at or below it — speciated by the model. Fronts then start where the feeds
    /// put them, not smeared over the whole cascade.
    fn cold_start(&self) -> Vec<f64> {
        let (n, k) = (self.n_stages, self.k);
        let mut aq = vec![vec![0.0; self.n_aq]; n];
        let mut org = vec![vec![0.0; self.n_org]; n];
        for s in (0..n).rev() {
            for i in 0..self.n_aq {
                let from_above = if s + 1 < n {
                    self.onward_aq[s + 1] * aq[s + 1][i]
                } else {
                    0.0
                };
                aq[s][i] = (from_above + self.feed_aq[s][i]) / self.q_aq[s];
            }
        }
        for s in 0..n {
            for o in 0..self.n_org {
                let from_below = if s > 0 {
                    self.onward_org[s - 1] * org[s - 1][o]
                } else {
                    0.0
                };
                org[s][o] = (from_below + self.feed_org[s][o]) / self.q_org[s];
            }
        }
        let mut v = vec![0.0; n * k];
        for s in 0..n {
            self.model
                .cold_start(s, &aq[s], &org[s], &mut v[s * k..(s + 1) * k]);
        }
        v
    }

    fn speciate_all(&self, v: &[f64], spec: &mut [Speciation]) {
        for (s, sp) in spec.iter_mut().enumerate() {
            self.model.speciate(s, &v[s * self.k..(s + 1) * self.k], sp);
        }
    }

    /// Residuals of every stage; with `jac`, also the Jacobian blocks.
    fn evaluate(&self, spec: &[Speciation], r: &mut [f64], mut jac: Option<&mut Jacobian>) {
        let k = self.k;
        for s in 0..self.n_stages {
            self.stage_residual(s, spec, &mut r[s * k..(s + 1) * k], None);
            if let Some(j) = jac.as_deref_mut() {
                self.stage_jacobian(s, spec, j, false);
            }
        }
    }

    /// Residuals of every stage and, for each, the sum of the absolute values of the terms it
    /// adds up (scaled like the residual): the magnitude its round-off is proportional to.
    fn evaluate_with_magnitudes(&self, spec: &[Speciation], r: &mut [f64], mag: &mut [f64]) {
        let k = self.k;
        for s in 0..self.n_stages {
            let range = s * k..(s + 1) * k;
            self.stage_residual(s, spec, &mut r[range.clone()], Some(&mut mag[range]));
        }
    }

    /// True when every residual meets the tolerance or lies within round-off of the terms it
    /// sums: `|r| ≤ max(tolerance, ROUND_OFF_FACTOR · ε · Σ|terms|)`, both scaled by the
    /// component's feed. A balance whose flows in and out are many times the component's feed
    /// (a scrub filled with one element) cannot be evaluated closer to zero than ε × those flows,
    /// which can exceed `tolerance`. Evaluates the magnitudes into `st.mag` only when needed.
    fn residuals_met(&self, st: &mut State, tolerance: f64) -> bool {
        if max_abs(&st.r) <= tolerance {
            return true;
        }
        self.evaluate_with_magnitudes(&st.spec, &mut st.r, &mut st.mag);
        within_round_off(&st.r, &st.mag, tolerance)
    }

    /// Residuals of stage `s`: its balances (in − out) and transfer relations, scaled; with
    /// `mag`, also the sum of the absolute values of each row's terms, scaled alike.
    fn stage_residual(
        &self,
        s: usize,
        spec: &[Speciation],
        r: &mut [f64],
        mut mag: Option<&mut [f64]>,
    ) {
        let aq_in = |i: usize| {
            self.feed_aq[s][i]
                + if s + 1 < self.n_stages {
                    self.onward_aq[s + 1] * spec[s + 1].aqueous[i]
                } else {
                    0.0
                }
        };
        let org_in = |o: usize| {
            self.feed_org[s][o]
                + if s > 0 {
                    self.onward_org[s - 1] * spec[s - 1].organic[o]
                } else {
                    0.0
                }
        };
        let sp = &spec[s];
        let want_mag = mag.is_some();
        for (row_index, row) in self.rows.iter().enumerate() {
            // (residual, Σ|terms|), both unscaled; the magnitude only when asked for.
            let (value, magnitude, inv_scale) = match row {
                Row::Balance {
                    aq, org, inv_scale, ..
                } => {
                    let (mut v, mut m) = (0.0, 0.0);
                    for &(i, c) in aq {
                        let (inflow, outflow) = (aq_in(i), self.q_aq[s] * sp.aqueous[i]);
                        v += c * (inflow - outflow);
                        if want_mag {
                            m += c.abs() * (inflow.abs() + outflow.abs());
                        }
                    }
                    for &(o, c) in org {
                        let (inflow, outflow) = (org_in(o), self.q_org[s] * sp.organic[o]);
                        v += c * (inflow - outflow);
                        if want_mag {
                            m += c.abs() * (inflow.abs() + outflow.abs());
                        }
                    }
                    (v, m, *inv_scale)
                }
                Row::Fraction { aq, inv_scale, .. } => {
                    let (_, p) = self.model.transfer_fraction(s, *aq).unwrap_or((0, 0.0));
                    let (out, inflow) = (self.q_aq[s] * sp.aqueous[*aq], (1.0 - p) * aq_in(*aq));
                    (out - inflow, out.abs() + inflow.abs(), *inv_scale)
                }
                Row::Murphree { org, inv_scale, .. } => {
                    let e = self.model.murphree_efficiency(s);
                    let inflow = (1.0 - e) * org_in(*org);
                    let value = self.q_org[s]
                        * (sp.organic[*org] - e * sp.organic_equilibrium[*org])
                        - inflow;
                    let magnitude = self.q_org[s]
                        * (sp.organic[*org].abs() + (e * sp.organic_equilibrium[*org]).abs())
                        + inflow.abs();
                    (value, magnitude, *inv_scale)
                }
            };
            r[row_index] = value * inv_scale;
            if let Some(m) = mag.as_deref_mut() {
                m[row_index] = magnitude * inv_scale;
            }
        }
    }

    fn stage_jacobian(&self, s: usize, spec: &[Speciation], jac: &mut Jacobian, diag_only: bool) {
        let k = self.k;
        let (diag, lower, upper) = (&mut jac.diag[s], &mut jac.lower[s], &mut jac.upper[s]);
        diag.fill(0.0);
        lower.fill(0.0);
        upper.fill(0.0);
        let has_above = s + 1 < self.n_stages && !diag_only;
        let has_below = s > 0 && !diag_only;
        for (row_index, row) in self.rows.iter().enumerate() {
            match row {
                Row::Balance {
                    aq, org, inv_scale, ..
                } => {
                    for &(i, c) in aq {
                        let w = c * inv_scale;
                        for col in 0..k {
                            diag[(row_index, col)] -=
                                w * self.q_aq[s] * spec[s].d_aqueous[i * k + col];
                            if has_above {
                                upper[(row_index, col)] +=
                                    w * self.onward_aq[s + 1] * spec[s + 1].d_aqueous[i * k + col];
                            }
                        }
                    }
                    for &(o, c) in org {
                        let w = c * inv_scale;
                        for col in 0..k {
                            diag[(row_index, col)] -=
                                w * self.q_org[s] * spec[s].d_organic[o * k + col];
                            if has_below {
                                lower[(row_index, col)] +=
                                    w * self.onward_org[s - 1] * spec[s - 1].d_organic[o * k + col];
                            }
                        }
                    }
                }
                Row::Fraction { aq, inv_scale, .. } => {
                    let (_, p) = self.model.transfer_fraction(s, *aq).unwrap_or((0, 0.0));
                    for col in 0..k {
                        diag[(row_index, col)] +=
                            inv_scale * self.q_aq[s] * spec[s].d_aqueous[aq * k + col];
                        if has_above {
                            upper[(row_index, col)] -= inv_scale
                                * (1.0 - p)
                                * self.onward_aq[s + 1]
                                * spec[s + 1].d_aqueous[aq * k + col];
                        }
                    }
                }
                Row::Murphree { org, inv_scale, .. } => {
                    let e = self.model.murphree_efficiency(s);
                    let j = *org;
                    for col in 0..k {
                        diag[(row_index, col)] += inv_scale
                            * self.q_org[s]
                            * (spec[s].d_organic[j * k + col]
                                - e * spec[s].d_organic_equilibrium[j * k + col]);
                        if has_below {
                            lower[(row_index, col)] -= inv_scale
                                * (1.0 - e)
                                * self.onward_org[s - 1]
                                * spec[s - 1].d_organic[j * k + col];
                        }
                    }
                }
            }
        }
    }

    /// Solves `J' Δ = −r` where `J'` has its diagonal blocks scaled by `1 + inv_dt`.
    fn solve_step(&self, jac: &Jacobian, r: &[f64], inv_dt: f64) -> Result<Vec<f64>, usize> {
        Ok(self.factor(jac, inv_dt)?.solve(jac, r))
    }

    /// Block LU (block Thomas) factorisation of the block-tridiagonal Jacobian.
    fn factor(&self, jac: &Jacobian, inv_dt: f64) -> Result<BlockLu, usize> {
        let n = self.n_stages;
        let mut lu_blocks = Vec::with_capacity(n);
        let mut x_blocks: Vec<DMatrix<f64>> = Vec::with_capacity(n);
        for s in 0..n {
            // The pseudo-holdup of each stage is its outflow content (one residence time), whose
            // derivative is minus the diagonal block: implicit Euler scales that block.
            let mut d = jac.diag[s].clone();
            if inv_dt > 0.0 {
                // Only balances hold material; transfer relations stay algebraic.
                for (row, kind) in self.rows.iter().enumerate() {
                    if matches!(kind, Row::Balance { .. }) {
                        d.row_mut(row).scale_mut(1.0 + inv_dt);
                    }
                }
            }
            if s > 0 {
                d -= &jac.lower[s] * &x_blocks[s - 1];
            }
            let lu = d.lu();
            if !lu.is_invertible() {
                return Err(s);
            }
            if s + 1 < n {
                let x = lu.solve(&jac.upper[s]).ok_or(s)?;
                if !x.iter().all(|v| v.is_finite()) {
                    return Err(s);
                }
                x_blocks.push(x);
            }
            lu_blocks.push(lu);
        }
        Ok(BlockLu {
            k: self.k,
            lu: lu_blocks,
            x: x_blocks,
        })
    }

    /// Newton from the cold start; when it stalls (fronts of acid or loading far from where
    /// the cold start put them), pseudo-transient continuation, which ends in Newton again.
    fn run(&self, options: &SolverOptions) -> Result<StageSolution, SxError> {
        let mut stats = Stats::default();
        let (mut st, converged) = self.solve_state(options, &mut stats)?;
        self.evaluate_with_magnitudes(&st.spec, &mut st.r, &mut st.mag);
        let (worst, max_residual) =
            st.r.iter()
                .enumerate()
                .fold((0, 0.0_f64), |(wi, wv), (i, v)| {
                    if v.abs() > wv || v.is_nan() {
                        (i, v.abs())
                    } else {
                        (wi, wv)
                    }
                });
        let worst_equation = match &self.rows[worst % self.k] {
            Row::Balance { name, .. } => format!("{name} balance"),
            Row::Fraction { name, .. } | Row::Murphree { name, .. } => name.clone(),
        };
        Ok(StageSolution {
            aqueous: st.spec.iter().map(|s| s.aqueous.clone()).collect(),
            organic: st.spec.iter().map(|s| s.organic.clone()).collect(),
            convergence: Convergence {
                converged,
                iterations: stats.iterations,
                transient_iterations: stats.transient_iterations,
                max_residual,
                round_off_bound: round_off_bound(st.mag[worst]),
                worst_stage: worst / self.k + 1,
                worst_equation,
            },
        })
    }

    /// The solve behind [`Self::run`]: from the nested start when the model offers it and it
    /// converges within its budget, otherwise from the cold start. Returns the last state and
    /// whether it converged.
    fn solve_state(
        &self,
        options: &SolverOptions,
        stats: &mut Stats,
    ) -> Result<(State, bool), SxError> {
        if let Some(start) = self.nested_start(options, stats)? {
            let mut st = State::new(self);
            st.v = start;
            self.speciate_all(&st.v, &mut st.spec);
            self.evaluate(&st.spec, &mut st.r, None);
            self.set_weights(&mut st);
            // The reduced cascade placed acid and extractant; set every metal's profile to
            // balance exactly with them.
            if self.polish(&mut st).is_some_and(f64::is_finite) {
                st.accept_trial();
            }
            let limited = SolverOptions {
                max_iterations: (stats.iterations + NESTED_FINE_BUDGET).min(options.max_iterations),
                ..*options
            };
            let saved = st.v.clone();
            let converged = match self.newton(&mut st, &limited, stats)? {
                Outcome::Converged => true,
                Outcome::Exhausted => false,
                Outcome::Stalled => {
                    st.v = saved;
                    self.speciate_all(&st.v, &mut st.spec);
                    self.transient(&mut st, &limited, stats)?
                }
            };
            if converged || stats.iterations >= options.max_iterations {
                return Ok((st, converged));
            }
        }
        let mut st = State::new(self);
        if self.model.mole_fraction_form() {
            self.bubble_point(&mut st, stats);
        }
        let saved = st.v.clone();
        let converged = match self.newton(&mut st, options, stats)? {
            Outcome::Converged => true,
            Outcome::Exhausted => false,
            Outcome::Stalled => {
                if self.continuation(&mut st, options, stats)? {
                    true
                } else {
                    // Restart from the cold start: a stalled Newton iterate is often worse.
                    st.v = saved;
                    self.speciate_all(&st.v, &mut st.spec);
                    self.transient(&mut st, options, stats)?
                }
            }
        };
        Ok((st, converged))
    }

    /// The nested start (see [`EquilibriumModel::nested_start`]): keeps every stage with a feed
    /// or draw, the cascade's ends and the `NESTED_KEEP` stages next to each end of every run
    /// of plain stages between them; solves that reduced cascade (same feeds and flows: a
    /// plain stage passes both phases on unchanged, so leaving it out changes no flow); then
    /// gives every left-out stage the unknowns of the kept stage nearest to it in its run (the
    /// middle of a long run is the pinch, whose levels the reduced run's inner stages carry).
    /// `None` when the model opts out, the cascade is too short to reduce, or the reduced
    /// cascade does not converge within `NESTED_COARSE_BUDGET` iterations.
    fn nested_start(
        &self,
        options: &SolverOptions,
        stats: &mut Stats,
    ) -> Result<Option<Vec<f64>>, SxError> {
        if !self.model.nested_start() {
            return Ok(None);
        }
        let n = self.n_stages;
        let plain = |s: usize| {
            s > 0
                && s + 1 < n
                && self.feed_aq[s].iter().all(|&f| f == 0.0)
                && self.feed_org[s].iter().all(|&f| f == 0.0)
                && self.onward_aq[s] == self.q_aq[s]
                && self.onward_org[s] == self.q_org[s]
                && self.onward_aq[s + 1] == self.q_aq[s]
                && self.onward_org[s - 1] == self.q_org[s]
        };
        // For each fine stage: the kept stage it takes its unknowns from.
        let mut source = vec![0; n];
        let mut keep = Vec::new();
        let mut s = 0;
        while s < n {
            if !plain(s) {
                source[s] = s;
                keep.push(s);
                s += 1;
                continue;
            }
            let first = s;
            while s < n && plain(s) {
                s += 1;
            }
            let len = s - first;
            for j in 0..len {
                if j < NESTED_KEEP || len - 1 - j < NESTED_KEEP {
                    source[first + j] = first + j;
                    keep.push(first + j);
                } else if j < len / 2 {
                    source[first + j] = first + NESTED_KEEP - 1;
                } else {
                    source[first + j] = first + len - NESTED_KEEP;
                }
            }
        }
        if 2 * keep.len() > n {
            return Ok(None);
        }
        let pick = |x: &[f64]| keep.iter().map(|&s| x[s]).collect::<Vec<f64>>();
        let coarse = Problem {
            model: self.model,
            n_stages: keep.len(),
            k: self.k,
            n_aq: self.n_aq,
            n_org: self.n_org,
            feed_aq: keep.iter().map(|&s| self.feed_aq[s].clone()).collect(),
            feed_org: keep.iter().map(|&s| self.feed_org[s].clone()).collect(),
            rows: self.rows.clone(),
            q_aq: pick(&self.q_aq),
            q_org: pick(&self.q_org),
            onward_aq: pick(&self.onward_aq),
            onward_org: pick(&self.onward_org),
            cancel: self.cancel,
        };
        let coarse_options = SolverOptions {
            max_iterations: (stats.iterations + NESTED_COARSE_BUDGET).min(options.max_iterations),
            ..*options
        };
        let (st, converged) = coarse.solve_state(&coarse_options, stats)?;
        if !converged {
            return Ok(None);
        }
        let k = self.k;
        let mut index = vec![0; n];
        for (c, &s) in keep.iter().enumerate() {
            index[s] = c;
        }
        let mut v = vec![0.0; n * k];
        for s in 0..n {
            let c = index[source[s]];
            v[s * k..(s + 1) * k].copy_from_slice(&st.v[c * k..(c + 1) * k]);
        }
        Ok(Some(v))
    }

    /// The same problem with another model of the same species and unknowns.
    fn with_model<'b>(&'b self, model: &'b dyn EquilibriumModel) -> Problem<'b> {
        Problem {
            model,
            n_stages: self.n_stages,
            k: self.k,
            n_aq: self.n_aq,
            n_org: self.n_org,
            feed_aq: self.feed_aq.clone(),
            feed_org: self.feed_org.clone(),
            rows: self.rows.clone(),
            q_aq: self.q_aq.clone(),
            q_org: self.q_org.clone(),
            onward_aq: self.onward_aq.clone(),
            onward_org: self.onward_org.clone(),
            cancel: self.cancel,
        }
    }

    /// Whether the caller asked the iteration to stop.
    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }

    /// Continuation in the separation: solve the cascade with every element alike (λ = 0, the
    /// model's [`EquilibriumModel::with_separation`]; it converges in a few iterations), then
    /// restore the elements' differences step by step. Each step starts Newton from a secant
    /// prediction through the last two solutions, with a loose tolerance until λ = 1; the step
    /// doubles after an easy solve and halves after a stalled one. On success `st` holds the
    /// converged state of the real problem; on failure (`false`) its contents are unspecified.
    fn continuation(
        &self,
        st: &mut State,
        options: &SolverOptions,
        stats: &mut Stats,
    ) -> Result<bool, SxError> {
        let Some(alike) = self.model.with_separation(0.0) else {
            return Ok(false);
        };
        let loose = SolverOptions {
            tolerance: CONTINUATION_TOLERANCE,
            ..*options
        };
        {
            let p = self.with_model(alike.as_ref());
            let mut s0 = State::new(&p);
            if p.model.mole_fraction_form() {
                p.bubble_point(&mut s0, stats);
            }
            match p.newton(&mut s0, &loose, stats)? {
                Outcome::Converged => st.v.copy_from_slice(&s0.v),
                Outcome::Exhausted | Outcome::Stalled => return Ok(false),
            }
        }
        let mut lambda = 0.0_f64;
        let mut step = CONTINUATION_FIRST_STEP;
        let mut previous: Option<(f64, Vec<f64>)> = None;
        while lambda < 1.0 {
            if step < CONTINUATION_MIN_STEP {
                return Ok(false);
            }
            let next = (lambda + step).min(1.0);
            let model = if next < 1.0 {
                self.model.with_separation(next)
            } else {
                None
            };
            let p = self.with_model(model.as_deref().unwrap_or(self.model));
            let mut trial = State::new(&p);
            trial.v.copy_from_slice(&st.v);
            if let Some((l0, v0)) = &previous {
                let f = (next - lambda) / (lambda - l0);
                for (t, v0) in trial.v.iter_mut().zip(v0) {
                    *t = (*t + f * (*t - v0)).max(LN_FLOOR);
                }
            }
            p.speciate_all(&trial.v, &mut trial.spec);
            let before = stats.iterations;
            let outcome = if next < 1.0 {
                p.newton_limited(&mut trial, &loose, stats, CONTINUATION_NEWTON_LIMIT)?
            } else {
                p.newton(&mut trial, options, stats)?
            };
            match outcome {
                Outcome::Converged => {
                    let last = std::mem::replace(&mut st.v, trial.v);
                    previous = Some((lambda, last));
                    lambda = next;
                    if stats.iterations - before <= CONTINUATION_EASY {
                        step *= 2.0;
                    }
                }
                Outcome::Exhausted => return Ok(false),
                Outcome::Stalled => step *= 0.5,
            }
        }
        self.speciate_all(&st.v, &mut st.spec);
        Ok(true)
    }

    /// Damped Newton with a backtracking line search on the residual norm.
    fn newton(
        &self,
        st: &mut State,
        options: &SolverOptions,
        stats: &mut Stats,
    ) -> Result<Outcome, SxError> {
        self.newton_limited(st, options, stats, NEWTON_STALL)
    }

    /// [`Self::newton`], stalled after `limit` iterations.
    fn newton_limited(
        &self,
        st: &mut State,
        options: &SolverOptions,
        stats: &mut Stats,
        limit: usize,
    ) -> Result<Outcome, SxError> {
        let mut damped_in_a_row = 0;
        let mut last_step = f64::INFINITY;
        // Watchdog: a step may raise the merit (up to WATCHDOG_SLACK × the best seen) for a
        // few iterations, because the path to a sharp-profile solution is rarely monotone.
        let mut best_merit = f64::INFINITY;
        let mut without_progress = 0;
        for attempt_iteration in 0.. {
            self.evaluate(&st.spec, &mut st.r, Some(&mut st.jac));
            let r_max = max_abs(&st.r);
            // The step test first: it is free, and the round-off test re-evaluates every
            // residual with its terms, which only matters near convergence.
            if (last_step <= 1e-9 || r_max <= 1e-3 * options.tolerance)
                && self.residuals_met(st, options.tolerance)
            {
                return Ok(Outcome::Converged);
            }
            if stats.iterations >= options.max_iterations || self.cancelled() {
                return Ok(Outcome::Exhausted);
            }
            if attempt_iteration >= limit {
                return Ok(Outcome::Stalled);
            }
            stats.iterations += 1;
            self.set_weights(st);
            if r_max <= options.tolerance {
                // The balances are met; what may still move are trace profiles many decades
                // down, which Newton lowers at most a hundredfold per step. Set them directly.
                let r_norm = weighted_norm(&st.r, &st.weight);
                if self.polish(st).is_some_and(|p| p < r_norm) {
                    st.accept_trial();
                    self.evaluate(&st.spec, &mut st.r, Some(&mut st.jac));
                    self.set_weights(st);
                }
            }
            let r_scaled = self.equilibrate(st);
            let Ok(delta) = self.solve_step(&st.jac, &r_scaled, 0.0) else {
                return Ok(Outcome::Stalled);
            };
            let r_norm = weighted_norm(&st.r, &st.weight);
            best_merit = best_merit.min(r_norm);
            let step_max = max_abs(&delta);
            // Try the full step applied to the concentrations first, then damped log steps.
            let mut linear = false;
            let mut alpha = if step_max > options.max_log_step {
                options.max_log_step / step_max
            } else {
                1.0
            };
            let linear_norm = self.trial_with(st, &delta, 1.0, true);
            if linear_norm.is_finite() && linear_norm < r_norm * (1.0 - 1e-4) {
                linear = true;
                alpha = 1.0;
            }
            let mut accepted = false;
            let alpha_min = 1.0 / 256.0;
            while alpha >= alpha_min {
                let trial_norm = self.trial_with(st, &delta, alpha, linear);
                let armijo = trial_norm < r_norm * (1.0 - 1e-4 * alpha);
                let tolerated =
                    trial_norm < WATCHDOG_SLACK * best_merit && without_progress < WATCHDOG_STEPS;
                if trial_norm.is_finite() && (armijo || tolerated) {
                    accepted = true;
                    if trial_norm < best_merit {
                        best_merit = trial_norm;
                        without_progress = 0;
                    } else {
                        without_progress += 1;
                    }
                    break;
                }
                alpha *= 0.5;
            }
            if !accepted {
                // At the round-off floor no step can reduce the residual further.
                return Ok(if self.residuals_met(st, options.tolerance) {
                    Outcome::Converged
                } else {
                    Outcome::Stalled
                });
            }
            // The step actually taken: with the floor, a trace already below every representable
            // concentration that asks to fall further does not move.
            last_step = max_abs_change(&st.v, &st.v_trial);
            st.accept_trial();
            damped_in_a_row = if alpha < 0.1 { damped_in_a_row + 1 } else { 0 };
            if damped_in_a_row > 5 {
                return Ok(Outcome::Stalled);
            }
        }
        unreachable!("the loop returns")
    }

    /// Pseudo-transient continuation: a linearly implicit time march of the stage holdups whose
    /// step grows as the residual falls (switched evolution relaxation), ending in Newton.
    fn transient(
        &self,
        st: &mut State,
        options: &SolverOptions,
        stats: &mut Stats,
    ) -> Result<bool, SxError> {
        let mut dt = options.initial_time_step;
        loop {
            if dt > 1e8 {
                // The march has done its work; Newton finishes. A stall is undone.
                let saved = st.v.clone();
                match self.newton(st, options, stats)? {
                    Outcome::Converged => return Ok(true),
                    Outcome::Exhausted => return Ok(false),
                    Outcome::Stalled => {
                        st.v = saved;
                        self.speciate_all(&st.v, &mut st.spec);
                        dt = options.initial_time_step;
                    }
                }
            }
            self.evaluate(&st.spec, &mut st.r, Some(&mut st.jac));
            if stats.iterations >= options.max_iterations || self.cancelled() {
                return Ok(false);
            }
            stats.iterations += 1;
            stats.transient_iterations += 1;
            // The march judges steps by the balances relative to the cascade's feed: relative
            // stage weights would let a trace's tiny imbalance steer the pseudo-time step.
            st.weight.iter_mut().for_each(|w| *w = 1.0);
            let delta = match self.solve_step(&st.jac, &st.r, 1.0 / dt) {
                Ok(d) => d,
                Err(stage) if dt < 1e-12 => {
                    return Err(SxError::Singular {
                        stage: stage + 1,
                        hint: "check that every stage has both phases flowing and that every species present \
                               can reach a positive concentration"
                            .into(),
                    })
                }
                Err(_) => {
                    dt *= 0.1;
                    continue;
                }
            };
            let r_norm = weighted_norm(&st.r, &st.weight);
            // A species falling towards a trace level can ask for an arbitrarily large drop
            // (its log step grows as 1/x); scaling the whole step by it would freeze every other
            // unknown, so falls are clamped one by one and only rises scale the step. A rise is
            // taken as the log of the concentration step, ln(1 + Δ) ≤ Δ: a species rising from a
            // trace would otherwise ask for Δ = δc/c of many decades and shrink every other
            // unknown's step to nothing through the common scale.
            let mut delta = delta;
            for d in delta.iter_mut() {
                *d = if *d > 0.0 {
                    d.ln_1p()
                } else {
                    d.max(-options.max_log_step)
                };
            }
            let step_max = max_abs(&delta);
            let clip = if step_max > options.max_log_step {
                options.max_log_step / step_max
            } else {
                1.0
            };
            let linear_norm = self.trial_with(st, &delta, 1.0, true);
            let (trial_norm, clip) = if linear_norm.is_finite() && linear_norm < r_norm {
                (linear_norm, 1.0)
            } else {
                (self.trial(st, &delta, clip), clip)
            };
            if trial_norm.is_finite() && trial_norm < 10.0 * r_norm {
                st.accept_trial();
                dt *= (r_norm / trial_norm).clamp(0.2, 4.0) * if clip == 1.0 { 1.5 } else { 1.0 };
            } else if dt < 1e-12 {
                return Ok(false);
            } else {
                dt *= 0.1;
            }
        }
    }

    /// The bubble-point method for the normalised form: with each stage's ratios `y_k/x_k`
    /// frozen, every element's balance over the cascade is a linear tridiagonal system (an
    /// M-matrix: positive solution); solve it for all elements, normalise the stage
    /// compositions, update the ratios, repeat. It sets whole profiles at once — including
    /// traces many decades down — where Newton from a flat start struggles.
    fn bubble_point(&self, st: &mut State, stats: &mut Stats) {
        let (n, k) = (self.n_stages, self.k);
        let mut x = vec![vec![0.0; k]; n];
        for _ in 0..200 {
            stats.bubble_point_sweeps += 1;
            for (c, comp) in self.model.components().iter().enumerate() {
                let (&[(i, _)], &[(o, _)]) = (comp.aqueous.as_slice(), comp.organic.as_slice())
                else {
                    return;
                };
                let unit: Vec<(f64, f64)> = (0..n)
                    .map(|s| (1.0, st.spec[s].organic[o] / st.spec[s].aqueous[i]))
                    .collect();
                let feed: Vec<f64> = (0..n)
                    .map(|s| self.feed_aq[s][i] + self.feed_org[s][o])
                    .collect();
                for (s, w) in self.component_profile(&unit, &feed).into_iter().enumerate() {
                    x[s][c] = w;
                }
            }
            let mut largest = 0.0_f64;
            for s in 0..n {
                let total: f64 = x[s].iter().sum();
                for c in 0..k {
                    let new = (x[s][c] / total).ln().max(LN_FLOOR);
                    if !new.is_finite() {
                        return;
                    }
                    largest = largest.max((new - st.v[s * k + c]).abs());
                    st.v[s * k + c] = new;
                }
            }
            self.speciate_all(&st.v, &mut st.spec);
            // Newton finishes from here; sweeping on only buys digits linearly.
            if largest < 1e-2 {
                return;
            }
        }
    }

    /// The profile `w` of one component over the cascade when its aqueous and organic contents
    /// in stage `s` are `unit[s].0 · w[s]` and `unit[s].1 · w[s]` (everything else frozen) and
    /// `feed[s]` of it enters there: its balances are then a linear tridiagonal system,
    /// `lower·w[s−1] + diag·w[s] + upper·w[s+1] = −feed[s]`, a column diagonally dominant
    /// M-matrix, solved by elimination without cancellation (so traces many decades down come
    /// out to full relative accuracy).
    fn component_profile(&self, unit: &[(f64, f64)], feed: &[f64]) -> Vec<f64> {
        let n = self.n_stages;
        let mut diag: Vec<f64> = (0..n)
            .map(|s| -(self.q_aq[s] * unit[s].0 + self.q_org[s] * unit[s].1))
            .collect();
        let upper = |s: usize| {
            if s + 1 < n {
                self.onward_aq[s + 1] * unit[s + 1].0
            } else {
                0.0
            }
        };
        let lower = |s: usize| {
            if s > 0 {
                self.onward_org[s - 1] * unit[s - 1].1
            } else {
                0.0
            }
        };
        let mut rhs: Vec<f64> = feed.iter().map(|f| -f).collect();
        for s in 1..n {
            let factor = lower(s) / diag[s - 1];
            diag[s] -= factor * upper(s - 1);
            rhs[s] -= factor * rhs[s - 1];
        }
        let mut w = vec![0.0; n];
        w[n - 1] = rhs[n - 1] / diag[n - 1];
        for s in (0..n - 1).rev() {
            w[s] = (rhs[s] - upper(s) * w[s + 1]) / diag[s];
        }
        w
    }

    /// Solves, for every component the model scales by one unknown `u`, its balances over the
    /// cascade as the linear tridiagonal system in `e^u` they are when every other unknown is
    /// frozen, into the trial buffers. The matrix is a column diagonally dominant M-matrix, so
    /// the elimination has no cancellation and sets a trace profile many decades down to full
    /// relative accuracy in one step, where Newton's increment `Δ = −1 + 1e−70` cannot.
    /// Returns the merit of the trial, or `None` when no component qualifies.
    fn polish(&self, st: &mut State) -> Option<f64> {
        let (n, k) = (self.n_stages, self.k);
        st.v_trial.copy_from_slice(&st.v);
        let mut any = false;
        for (c, comp) in self.model.components().iter().enumerate() {
            let Some(u) = self.model.scaling_unknown(c) else {
                continue;
            };
            if comp
                .aqueous
                .iter()
                .chain(&comp.organic)
                .any(|&(_, a)| a < 0.0)
            {
                continue;
            }
            any = true;
            // Per stage: aqueous and organic content of the component per unit e^u.
            let per_unit = |s: usize| {
                let scale = (-st.v[s * k + u]).exp();
                let sp = &st.spec[s];
                let aq: f64 = comp.aqueous.iter().map(|&(i, a)| a * sp.aqueous[i]).sum();
                let org: f64 = comp.organic.iter().map(|&(j, a)| a * sp.organic[j]).sum();
                (aq * scale, org * scale)
            };
            let unit: Vec<(f64, f64)> = (0..n).map(per_unit).collect();
            if unit
                .iter()
                .any(|&(a, o)| !(a + o).is_finite() || !(a + o > 0.0))
            {
                st.v_trial.copy_from_slice(&st.v);
                return None;
            }
            let feed: Vec<f64> = (0..n)
                .map(|s| {
                    let a: f64 = comp
                        .aqueous
                        .iter()
                        .map(|&(i, a)| a * self.feed_aq[s][i])
                        .sum();
                    let o: f64 = comp
                        .organic
                        .iter()
                        .map(|&(j, a)| a * self.feed_org[s][j])
                        .sum();
                    a + o
                })
                .collect();
            for (s, w) in self.component_profile(&unit, &feed).into_iter().enumerate() {
                st.v_trial[s * k + u] = w.ln().max(LN_FLOOR);
            }
        }
        if !any || st.v_trial.iter().any(|v| !v.is_finite()) {
            return None;
        }
        self.speciate_all(&st.v_trial, &mut st.trial_spec);
        self.evaluate(&st.trial_spec, &mut st.r_trial, None);
        Some(weighted_norm(&st.r_trial, &st.weight))
    }

    /// Evaluates `v + alpha·delta` into the trial buffers; returns the residual 2-norm.
    fn trial(&self, st: &mut State, delta: &[f64], alpha: f64) -> f64 {
        self.trial_with(st, delta, alpha, false)
    }

    /// With `linear`, the step is applied to the concentrations rather than their logarithms
    /// (`c ← c(1 + αΔ)`, falling at most a hundredfold): the same Newton direction, but exact in
    /// one step for balances linear in concentration, where the log update crawls across decades.
    fn trial_with(&self, st: &mut State, delta: &[f64], alpha: f64, linear: bool) -> f64 {
        for ((t, x), d) in st.v_trial.iter_mut().zip(&st.v).zip(delta) {
            *t = if linear {
                x + (1.0 + alpha * d).max(0.01).ln()
            } else {
                x + alpha * d
            }
            .max(LN_FLOOR);
        }
        self.speciate_all(&st.v_trial, &mut st.trial_spec);
        self.evaluate(&st.trial_spec, &mut st.r_trial, None);
        weighted_norm(&st.r_trial, &st.weight)
    }

    /// Weights each stage balance by the inverse of that component's content in the stage, so
    /// the line search judges a step by relative errors: a trace element many decades down
    /// counts as much as a major one (its log-concentration error is what the step changes).
    /// Scales each stage balance (Jacobian row and residual) by its merit weight: the Newton
    /// step is unchanged in exact arithmetic, but the block LU no longer mixes rows of O(1) and
    /// rows of trace elements 1e-200 smaller. Returns the scaled residual.
    fn equilibrate(&self, st: &mut State) -> Vec<f64> {
        let k = self.k;
        for s in 0..self.n_stages {
            for row in 0..k {
                let w = st.weight[s * k + row];
                st.jac.diag[s].row_mut(row).scale_mut(w);
                st.jac.lower[s].row_mut(row).scale_mut(w);
                st.jac.upper[s].row_mut(row).scale_mut(w);
            }
        }
        st.r.iter().zip(&st.weight).map(|(r, w)| r * w).collect()
    }

    fn set_weights(&self, st: &mut State) {
        let k = self.k;
        for s in 0..self.n_stages {
            let sp = &st.spec[s];
            for (row_index, row) in self.rows.iter().enumerate() {
                let content = match row {
                    Row::Balance {
                        aq, org, inv_scale, ..
                    } => {
                        let a: f64 = aq
                            .iter()
                            .map(|&(i, c)| c.abs() * self.q_aq[s] * sp.aqueous[i])
                            .sum();
                        let o: f64 = org
                            .iter()
                            .map(|&(j, c)| c.abs() * self.q_org[s] * sp.organic[j])
                            .sum();
                        (a + o) * inv_scale
                    }
                    Row::Fraction { aq, inv_scale, .. } => {
                        self.q_aq[s] * sp.aqueous[*aq] * inv_scale
                    }
                    Row::Murphree { org, inv_scale, .. } => {
                        self.q_org[s] * sp.organic[*org] * inv_scale
                    }
                };
                st.weight[s * k + row_index] = 1.0 / content.max(WEIGHT_FLOOR);
            }
        }
    }
}

fn weighted_norm(r: &[f64], w: &[f64]) -> f64 {
    r.iter()
        .zip(w)
        .map(|(r, w)| (r * w) * (r * w))
        .sum::<f64>()
        .sqrt()
}

/// Factors of the block Thomas elimination, reusable for several right-hand sides.
struct BlockLu {
    k: usize,
    lu: Vec<nalgebra::LU<f64, nalgebra::Dyn, nalgebra::Dyn>>,
    x: Vec<DMatrix<f64>>,
}

impl BlockLu {
    /// Returns `Δ` with `J' Δ = −r`.
    fn solve(&self, jac: &Jacobian, r: &[f64]) -> Vec<f64> {
        let (n, k) = (self.lu.len(), self.k);
        let mut y_blocks: Vec<DVector<f64>> = Vec::with_capacity(n);
        for s in 0..n {
            let mut rhs = DVector::from_iterator(k, r[s * k..(s + 1) * k].iter().map(|v| -v));
            if s > 0 {
                rhs -= &jac.lower[s] * &y_blocks[s - 1];
            }
            self.lu[s].solve_mut(&mut rhs);
            y_blocks.push(rhs);
        }
        let mut delta = vec![0.0; n * k];
        delta[(n - 1) * k..].copy_from_slice(y_blocks[n - 1].as_slice());
        for s in (0..n - 1).rev() {
            let (head, tail) = delta.split_at_mut((s + 1) * k);
            let next = nalgebra::DVectorView::from_slice(&tail[..k], k);
            let d = &y_blocks[s] - &self.x[s] * next;
            head[s * k..].copy_from_slice(d.as_slice());
        }
        delta
    }
}

/// Iterates and work buffers of one solve.
struct State {
    /// Merit weights of the residuals (see `Problem::set_weights`).
    weight: Vec<f64>,
    v: Vec<f64>,
    spec: Vec<Speciation>,
    v_trial: Vec<f64>,
    trial_spec: Vec<Speciation>,
    r: Vec<f64>,
    r_trial: Vec<f64>,
    /// Σ|terms| of each residual, scaled like it (see [`Problem::residuals_met`]).
    mag: Vec<f64>,
    jac: Jacobian,
}

impl State {
    fn new(p: &Problem) -> Self {
        let (n, k) = (p.n_stages, p.k);
        let v = p.cold_start();
        let mut spec: Vec<Speciation> = (0..n)
            .map(|_| Speciation::new(p.n_aq, p.n_org, k))
            .collect();
        p.speciate_all(&v, &mut spec);
        Self {
            weight: vec![1.0; n * k],
            v_trial: v.clone(),
            v,
            trial_spec: spec.clone(),
            spec,
            r: vec![0.0; n * k],
            r_trial: vec![0.0; n * k],
            mag: vec![0.0; n * k],
            jac: Jacobian {
                lower: vec![DMatrix::zeros(k, k); n],
                diag: vec![DMatrix::zeros(k, k); n],
                upper: vec![DMatrix::zeros(k, k); n],
            },
        }
    }
    fn accept_trial(&mut self) {
        std::mem::swap(&mut self.v, &mut self.v_trial);
        std::mem::swap(&mut self.spec, &mut self.trial_spec);
    }
}

#[derive(Debug, Default)]
struct Stats {
    bubble_point_sweeps: usize,
    iterations: usize,
    transient_iterations: usize,
}

enum Outcome {
    Converged,
    Stalled,
    Exhausted,
}

/// Tolerance of the intermediate solves of the continuation.
const CONTINUATION_TOLERANCE: f64 = 1e-6;
/// First continuation step in λ.
const CONTINUATION_FIRST_STEP: f64 = 0.1;
/// Smallest continuation step before giving up.
const CONTINUATION_MIN_STEP: f64 = 1e-3;
/// Newton iterations an intermediate solve may take.
const CONTINUATION_NEWTON_LIMIT: usize = 12;
/// A solve in at most this many iterations doubles the next step.
const CONTINUATION_EASY: usize = 4;

/// Plain stages kept next to each end of a run between feed and draw points in the reduced
/// cascade of the nested start.
const NESTED_KEEP: usize = 2;
/// Iterations the reduced cascade of the nested start may take.
const NESTED_COARSE_BUDGET: usize = 400;
/// Iterations the full cascade may take from the nested start before the cold start is tried.
const NESTED_FINE_BUDGET: usize = 200;

/// Iterations after which a Newton attempt counts as stalled.
const NEWTON_STALL: usize = 50;

/// Largest merit increase, relative to the best iterate, the Newton watchdog tolerates.
const WATCHDOG_SLACK: f64 = 1000.0;
/// Iterations without a new best merit the watchdog tolerates.
const WATCHDOG_STEPS: usize = 50;

/// Floor of every log-unknown: e^-700 ≈ 1e-304, the smallest concentration still a normal
/// double with room for the model's factors. A trace whose steady state lies below it (a species
/// decaying over a hundred stages) stays at the floor: below it, values are subnormal or zero,
/// so neither its balance nor its step carries information any more.
const LN_FLOOR: f64 = -700.0;

/// Smallest content (relative to the component's feed) a merit weight resolves. A species at
/// `LN_FLOOR` holds far less (≲ 1e-290 of the feed), so its balance, which the floor keeps from
/// being met, does not swamp the merit; above it, traces still count by their relative error.
const WEIGHT_FLOOR: f64 = 1e-250;

/// Multiple of ε × Σ|terms| within which a residual counts as met for convergence even above
/// the tolerance: evaluating a sum of a few terms, each of species computed through exponentials
/// and the model's speciation, leaves an error of a few ε × Σ|terms|; 64 leaves margin for that
/// while staying far below any imbalance Newton could still remove.
const ROUND_OFF_FACTOR: f64 = 64.0;

/// Largest change between two iterates (`∞` when either holds a NaN).
fn max_abs_change(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).fold(0.0_f64, |m, (x, y)| {
        let d = (x - y).abs();
        if d.is_nan() {
            f64::INFINITY
        } else {
            m.max(d)
        }
    })
}

/// True when every residual `r[i]` is at most `tolerance` or at most
/// `ROUND_OFF_FACTOR · ε · mag[i]` in magnitude (`false` on a NaN).
fn within_round_off(r: &[f64], mag: &[f64], tolerance: f64) -> bool {
    r.iter()
        .zip(mag)
        .all(|(r, m)| r.abs() <= tolerance.max(round_off_bound(*m)))
}

/// The round-off bound of a residual whose terms sum to `magnitude` in absolute value.
fn round_off_bound(magnitude: f64) -> f64 {
    ROUND_OFF_FACTOR * f64::EPSILON * magnitude
}

fn max_abs(x: &[f64]) -> f64 {
    x.iter().fold(0.0_f64, |m, v| {
        if v.is_nan() {
            f64::INFINITY
        } else {
            m.max(v.abs())
        }
    })
}

#[cfg(test)]
mod cancel_tests {
    use super::*;
    use crate::Case;

    #[test]
    fn a_set_cancel_flag_stops_the_solve_and_a_clear_one_changes_nothing() {
        let case = Case::from_toml(include_str!("../../../examples/sx/xu-nd-pr.toml")).unwrap();
        let flag = AtomicBool::new(false);
        let free = solve(&case.cascade, case.model.as_ref(), &case.solver).unwrap();
        let clear =
            solve_cancellable(&case.cascade, case.model.as_ref(), &case.solver, &flag).unwrap();
        assert!(free.convergence.converged);
        assert_eq!(free.convergence, clear.convergence);
        flag.store(true, Ordering::Relaxed);
        let stopped =
            solve_cancellable(&case.cascade, case.model.as_ref(), &case.solver, &flag).unwrap();
        assert!(!stopped.convergence.converged);
        assert_eq!(stopped.convergence.iterations, 0);
    }
}
