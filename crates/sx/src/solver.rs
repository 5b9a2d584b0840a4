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

/// Controls of the steady-state solver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SolverOptions {
    /// Largest number of Newton / pseudo-transient iterations.
    pub max_iterations: usize,
    /// Converged when every scaled residual (relative to the cascade's total feed of that
    /// component) is at most this.
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
    /// True when the tolerance was met.
    pub converged: bool,
    /// Iterations used.
    pub iterations: usize,
    /// Largest scaled residual at the end.
    pub max_residual: f64,
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
    cascade: &'a Cascade,
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
}

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
            cascade,
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
        })
    }

    fn cold_start(&self) -> Vec<f64> {
        let mut aq_mix = vec![0.0; self.n_aq];
        let mut org_mix = vec![0.0; self.n_org];
        let (mut q_aq, mut q_org) = (0.0, 0.0);
        for f in self.cascade.feeds() {
            let (mix, q) = match f.phase {
                Phase::Aqueous => (&mut aq_mix, &mut q_aq),
                Phase::Organic => (&mut org_mix, &mut q_org),
            };
            *q += f.flow;
            for (m, c) in mix.iter_mut().zip(&f.concentration) {
                *m += f.flow * c;
            }
        }
        aq_mix
            .iter_mut()
            .for_each(|m| *m /= q_aq.max(f64::MIN_POSITIVE));
        org_mix
            .iter_mut()
            .for_each(|m| *m /= q_org.max(f64::MIN_POSITIVE));
        let mut v = vec![0.0; self.n_stages * self.k];
        for s in 0..self.n_stages {
            self.model
                .cold_start(s, &aq_mix, &org_mix, &mut v[s * self.k..(s + 1) * self.k]);
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
        let mut ain = vec![0.0; self.n_aq];
        let mut oin = vec![0.0; self.n_org];
        for s in 0..self.n_stages {
            for i in 0..self.n_aq {
                ain[i] = self.feed_aq[s][i]
                    + if s + 1 < self.n_stages {
                        self.onward_aq[s + 1] * spec[s + 1].aqueous[i]
                    } else {
                        0.0
                    };
            }
            for o in 0..self.n_org {
                oin[o] = self.feed_org[s][o]
                    + if s > 0 {
                        self.onward_org[s - 1] * spec[s - 1].organic[o]
                    } else {
                        0.0
                    };
            }
            let sp = &spec[s];
            for (row_index, row) in self.rows.iter().enumerate() {
                let value = match row {
                    Row::Balance {
                        aq, org, inv_scale, ..
                    } => {
                        let mut v = 0.0;
                        for &(i, c) in aq {
                            v += c * (ain[i] - self.q_aq[s] * sp.aqueous[i]);
                        }
                        for &(o, c) in org {
                            v += c * (oin[o] - self.q_org[s] * sp.organic[o]);
                        }
                        v * inv_scale
                    }
                    Row::Fraction { aq, inv_scale, .. } => {
                        let (_, p) = self.model.transfer_fraction(s, *aq).unwrap_or((0, 0.0));
                        (self.q_aq[s] * sp.aqueous[*aq] - (1.0 - p) * ain[*aq]) * inv_scale
                    }
                };
                r[s * k + row_index] = value;
            }
            if let Some(j) = jac.as_deref_mut() {
                self.stage_jacobian(s, spec, j);
            }
        }
    }

    fn stage_jacobian(&self, s: usize, spec: &[Speciation], jac: &mut Jacobian) {
        let k = self.k;
        let (diag, lower, upper) = (&mut jac.diag[s], &mut jac.lower[s], &mut jac.upper[s]);
        diag.fill(0.0);
        lower.fill(0.0);
        upper.fill(0.0);
        let has_above = s + 1 < self.n_stages;
        let has_below = s > 0;
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
            }
        }
    }

    /// Solves `J' Δ = −r` where `J'` has its diagonal blocks scaled by `diag_factor`.
    fn solve_step(&self, jac: &Jacobian, r: &[f64], diag_factor: f64) -> Result<Vec<f64>, usize> {
        let (n, k) = (self.n_stages, self.k);
        let mut x_blocks: Vec<DMatrix<f64>> = Vec::with_capacity(n);
        let mut y_blocks: Vec<DVector<f64>> = Vec::with_capacity(n);
        for s in 0..n {
            let mut d = &jac.diag[s] * diag_factor;
            let mut rhs = DVector::from_iterator(k, r[s * k..(s + 1) * k].iter().map(|v| -v));
            if s > 0 {
                d -= &jac.lower[s] * &x_blocks[s - 1];
                rhs -= &jac.lower[s] * &y_blocks[s - 1];
            }
            let lu = d.lu();
            let y = lu.solve(&rhs).ok_or(s)?;
            if !y.iter().all(|v| v.is_finite()) {
                return Err(s);
            }
            y_blocks.push(y);
            if s + 1 < n {
                x_blocks.push(lu.solve(&jac.upper[s]).ok_or(s)?);
            }
        }
        let mut delta = vec![0.0; n * k];
        let mut next = y_blocks[n - 1].clone();
        delta[(n - 1) * k..].copy_from_slice(next.as_slice());
        for s in (0..n - 1).rev() {
            let d = &y_blocks[s] - &x_blocks[s] * &next;
            delta[s * k..(s + 1) * k].copy_from_slice(d.as_slice());
            next = d;
        }
        Ok(delta)
    }

    fn run(&self, options: &SolverOptions) -> Result<StageSolution, SxError> {
        let (n, k) = (self.n_stages, self.k);
        let mut v = self.cold_start();
        let mut spec: Vec<Speciation> = (0..n)
            .map(|_| Speciation::new(self.n_aq, self.n_org, k))
            .collect();
        let mut trial_spec = spec.clone();
        let mut jac = Jacobian {
            lower: vec![DMatrix::zeros(k, k); n],
            diag: vec![DMatrix::zeros(k, k); n],
            upper: vec![DMatrix::zeros(k, k); n],
        };
        let mut r = vec![0.0; n * k];
        let mut r_trial = vec![0.0; n * k];
        let mut v_trial = vec![0.0; n * k];
        let mut iterations = 0;
        let mut last_step = f64::INFINITY;
        // Newton with a line search first; on a stall, pseudo-transient continuation (a linearly
        // implicit time march of the stage holdups) until the pseudo-time step is large again.
        let mut mode = Mode::Newton { stalls: 0 };
        self.speciate_all(&v, &mut spec);
        let mut converged = false;
        loop {
            self.evaluate(&spec, &mut r, Some(&mut jac));
            let r_max = max_abs(&r);
            if r_max <= options.tolerance
                && (last_step <= 1e-9 || r_max <= 1e-3 * options.tolerance)
            {
                converged = true;
                break;
            }
            if iterations >= options.max_iterations {
                break;
            }
            iterations += 1;
            let r_norm = norm2(&r);
            let dt = match mode {
                Mode::Newton { .. } => f64::INFINITY,
                Mode::Transient { dt } => dt,
            };
            let delta = match self.solve_step(&jac, &r, 1.0 + 1.0 / dt) {
                Ok(d) => d,
                Err(stage) => {
                    mode = match mode {
                        Mode::Newton { .. } => Mode::Transient { dt: options.initial_time_step },
                        Mode::Transient { dt } if dt > 1e-12 => Mode::Transient { dt: dt * 0.1 },
                        Mode::Transient { .. } => {
                            return Err(SxError::Singular {
                                stage: stage + 1,
                                hint: "check that every stage has both phases flowing and that every species \
                                       present can reach a positive concentration"
                                    .into(),
                            })
                        }
                    };
                    continue;
                }
            };
            let step_max = max_abs(&delta);
            if std::env::var_os("SX_TRACE").is_some() {
                eprintln!("it {iterations} {mode:?} r_max {r_max:.3e} r2 {r_norm:.3e} step {step_max:.3e}");
            }
            let clip = if step_max > options.max_log_step {
                options.max_log_step / step_max
            } else {
                1.0
            };
            match mode {
                Mode::Newton { stalls } => {
                    let mut alpha = clip;
                    let mut accepted = false;
                    while alpha >= 1.0 / 256.0 {
                        let trial_norm = self.trial(
                            &v,
                            &delta,
                            alpha,
                            &mut v_trial,
                            &mut trial_spec,
                            &mut r_trial,
                        );
                        if trial_norm.is_finite() && trial_norm < r_norm * (1.0 - 1e-4 * alpha) {
                            accepted = true;
                            break;
                        }
                        alpha *= 0.5;
                    }
                    if accepted {
                        std::mem::swap(&mut v, &mut v_trial);
                        std::mem::swap(&mut spec, &mut trial_spec);
                        last_step = alpha * step_max;
                        // Many damped steps in a row mean Newton is wandering: march in pseudo-time.
                        let stalls = if alpha < 0.1 { stalls + 1 } else { 0 };
                        mode = if stalls > 5 {
                            Mode::Transient {
                                dt: options.initial_time_step,
                            }
                        } else {
                            Mode::Newton { stalls }
                        };
                    } else if r_max <= options.tolerance {
                        // At the round-off floor no step can reduce the residual further.
                        converged = true;
                        break;
                    } else {
                        mode = Mode::Transient {
                            dt: options.initial_time_step,
                        };
                        last_step = f64::INFINITY;
                    }
                }
                Mode::Transient { dt } => {
                    let trial_norm = self.trial(
                        &v,
                        &delta,
                        clip,
                        &mut v_trial,
                        &mut trial_spec,
                        &mut r_trial,
                    );
                    if trial_norm.is_finite() && trial_norm < 10.0 * r_norm {
                        std::mem::swap(&mut v, &mut v_trial);
                        std::mem::swap(&mut spec, &mut trial_spec);
                        last_step = clip * step_max;
                        // Switched evolution relaxation: the step grows as the residual falls.
                        let grown = dt
                            * (r_norm / trial_norm).clamp(0.2, 4.0)
                            * if clip == 1.0 { 1.5 } else { 1.0 };
                        mode = if grown > 1e8 {
                            Mode::Newton { stalls: 0 }
                        } else {
                            Mode::Transient { dt: grown }
                        };
                    } else {
                        last_step = f64::INFINITY;
                        if dt < 1e-12 {
                            break;
                        }
                        mode = Mode::Transient { dt: dt * 0.1 };
                    }
                }
            }
        }
        let (worst, max_residual) = r.iter().enumerate().fold((0, 0.0_f64), |(wi, wv), (i, v)| {
            if v.abs() > wv {
                (i, v.abs())
            } else {
                (wi, wv)
            }
        });
        let worst_equation = match &self.rows[worst % k] {
            Row::Balance { name, .. } => format!("{name} balance"),
            Row::Fraction { name, .. } => name.clone(),
        };
        Ok(StageSolution {
            aqueous: spec.iter().map(|s| s.aqueous.clone()).collect(),
            organic: spec.iter().map(|s| s.organic.clone()).collect(),
            convergence: Convergence {
                converged,
                iterations,
                max_residual,
                worst_stage: worst / k + 1,
                worst_equation,
            },
        })
    }

    /// Evaluates `v + alpha·delta` into the trial buffers; returns the residual 2-norm.
    fn trial(
        &self,
        v: &[f64],
        delta: &[f64],
        alpha: f64,
        v_trial: &mut [f64],
        spec: &mut [Speciation],
        r_trial: &mut [f64],
    ) -> f64 {
        for ((t, x), d) in v_trial.iter_mut().zip(v).zip(delta) {
            *t = x + alpha * d;
        }
        self.speciate_all(v_trial, spec);
        self.evaluate(spec, r_trial, None);
        norm2(r_trial)
    }
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Newton { stalls: u32 },
    Transient { dt: f64 },
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

fn norm2(x: &[f64]) -> f64 {
    x.iter().map(|v| v * v).sum::<f64>().sqrt()
}
