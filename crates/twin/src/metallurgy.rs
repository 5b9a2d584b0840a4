//! The metallurgy of each heat, from the alloy crate's models, so that the twin's heats vary as
//! real ones do:
//!
//! - **charge**: the alloy optimiser computes each grade's weigh list at least cost from the
//!   open lots of its materials; the list is recomputed when a newly opened lot would move the
//!   heat by more than a tenth of a tolerance band (what a batching system does), and the
//!   last list is kept if the optimiser finds no feasible charge;
//! - **melt**: oxidation by the oxygen picked up and evaporation while the melt is liquid
//!   (`alloy::melt_loss`), so a heat held liquid through a breakdown loses more rare earth;
//! - **cast**: each heat's mean flake thickness varies around the aim and sets cooling and
//!   microstructure (`alloy::casting::StripCaster`);
//! - **lab**: measurements carry an analytical error; the verdict is the grade's assay check
//!   (`alloy::check_assay`) and the microstructure window.

use std::collections::{BTreeMap, HashMap};

use lodestone_alloy::casting::{Microstructure, MicrostructureWindow, StripCaster};
use lodestone_alloy::melt_loss::{
    oxygen_pickup_kg, predict_melt_loss, EvaporationConditions, MeltLossInput, MeltLossParameters,
    VapourPressure, Volatility,
};
use lodestone_alloy::{charge, check_assay, ChargeRequest, Grade as AlloyGrade, Lot, LotStatus};
use lodestone_chem::Element;
use rand::Rng;
use rand_distr::{Distribution, Normal};
use serde::Serialize;

/// The property name of the total rare-earth content in lab reports and specifications.
pub const TOTAL_RE: &str = "TRE";

use crate::error::{Result, TwinError};
use crate::plant::{Melting, Plant};
use crate::recorder::{LabReport, LabResult};

/// A newly opened lot is charged with the previous weigh list while the heat it predicts stays
/// within this fraction of every tolerance band.
const REUSE_WITHIN_TOLERANCE: f64 = 0.1;

/// The optimiser's work over a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ChargeStats {
    /// Charges computed by the optimiser.
    pub optimised: u64,
    /// Heats weighed with the previous list (new lots close enough).
    pub reused: u64,
    /// Charges recomputed for new lots on the optimiser's last basis (a square linear
    /// system: one material per aimed element plus the balance).
    pub resolved: u64,
    /// Heats weighed with the previous list because the optimiser found no feasible charge.
    pub fallbacks: u64,
}

/// The open lot of a material, as the optimiser sees it.
pub(crate) struct LotView<'a> {
    pub number: u64,
    pub composition_wt_pct: &'a BTreeMap<String, f64>,
}

struct GradeCharge {
    spec: AlloyGrade,
    /// Indices into `plant.material`.
    materials: Vec<usize>,
    recovery: BTreeMap<Element, f64>,
    /// The lots the current list was computed or last confirmed for, and kg per material.
    lots: Vec<u64>,
    kg: Vec<f64>,
}

/// A heat after melting and casting.
pub(crate) struct MeltOutcome {
    /// Element kg in the melt poured.
    pub melt_kg: BTreeMap<String, f64>,
    /// Element kg lost by oxidation and evaporation.
    pub loss_kg: BTreeMap<String, f64>,
}

pub(crate) struct Metallurgy {
    heat_kg: f64,
    grades: Vec<Option<GradeCharge>>,
    melting: Option<(MeltLossParameters, Melting)>,
    caster: Option<StripCaster>,
    window: MicrostructureWindow,
    microstructure: HashMap<u32, Option<Microstructure>>,
    analytical_sd_rel: f64,
    pub stats: ChargeStats,
}

fn element(symbol: &str) -> Element {
    // Symbols are checked when the plant is read.
    Element::from_symbol(symbol).unwrap_or(Element::Fe)
}

fn by_element(m: &BTreeMap<String, f64>) -> BTreeMap<Element, f64> {
    m.iter().map(|(e, v)| (element(e), *v)).collect()
}

fn melt_loss_parameters(m: &Melting) -> MeltLossParameters {
    MeltLossParameters {
        oxide_form: Default::default(),
        volatility: m
            .activity_coefficient
            .iter()
            .filter_map(|(e, &gamma)| {
                let e = element(e);
                VapourPressure::alcock_1984(e).map(|vapour_pressure| {
                    (
                        e,
                        Volatility {
                            vapour_pressure,
                            activity_coefficient: gamma,
                        },
                    )
                })
            })
            .collect(),
    }
}

/// Each grade's bill, kg of each material per kg charged: its fixed `bill_kg_per_kg`, or for
/// a grade with a spec the optimiser's charge from the nominal lots (what a work master
/// records); empty for a grade with neither.
pub fn nominal_bills(plant: &Plant) -> Vec<BTreeMap<String, f64>> {
    let model = Metallurgy::new(plant).ok();
    plant
        .grade
        .iter()
        .enumerate()
        .map(|(g, grade)| {
            if !grade.bill_kg_per_kg.is_empty() {
                return grade.bill_kg_per_kg.clone();
            }
            let Some(Some(charge)) = model.as_ref().map(|m| &m.grades[g]) else {
                return BTreeMap::new();
            };
            let total: f64 = charge.kg.iter().sum();
            charge
                .materials
                .iter()
                .zip(&charge.kg)
                .filter(|(_, kg)| **kg > 0.0 && total > 0.0)
                .map(|(&m, kg)| (plant.material[m].name.clone(), kg / total))
                .collect()
        })
        .collect()
}

/// Checks that every grade with a spec can be charged from its materials' nominal lots, and
/// that the casting model runs at the aim thickness.
pub(crate) fn check_charges(plant: &Plant) -> Result<()> {
    Metallurgy::new(plant).map(|_| ())
}

impl Metallurgy {
    /// The models of a plant whose grades are charged by their fixed bills only.
    pub fn without_charges(plant: &Plant) -> Metallurgy {
        let melting = plant
            .melting
            .as_ref()
            .map(|m| (melt_loss_parameters(m), m.clone()));
        let caster = plant
            .casting
            .as_ref()
            .map(|c| StripCaster::indicative(c.h_w_per_m2k));
        Metallurgy {
            heat_kg: plant.lines.heat_kg,
            grades: plant.grade.iter().map(|_| None).collect(),
            melting,
            caster,
            window: MicrostructureWindow::default(),
            microstructure: HashMap::new(),
            analytical_sd_rel: plant.lab.analytical_sd_rel_pct / 100.0,
            stats: ChargeStats::default(),
        }
    }

    /// The models of a plant, with each spec grade's first charge computed from the nominal
    /// lots (an error names the grade the optimiser cannot charge).
    pub fn new(plant: &Plant) -> Result<Metallurgy> {
        let mut model = Metallurgy::without_charges(plant);
        model.grades.clear();
        if let (Some(caster), Some(c)) = (&model.caster, &plant.casting) {
            caster.predict(c.thickness_mm.mean).map_err(|e| {
                TwinError::invalid(
                    "casting.thickness_mm.mean",
                    c.thickness_mm.mean,
                    &e.to_string(),
                )
            })?;
        }
        let melt_s = plant.lines.melt.mean_s() + plant.lines.cast.mean_s();
        for (i, g) in plant.grade.iter().enumerate() {
            let Some(spec) = &g.spec else {
                model.grades.push(None);
                continue;
            };
            let materials: Vec<usize> = g
                .materials
                .iter()
                .filter_map(|name| plant.material.iter().position(|m| &m.name == name))
                .collect();
            let nominal: Vec<LotView> = plant
                .material
                .iter()
                .map(|m| LotView {
                    number: 0,
                    composition_wt_pct: &m.composition_wt_pct,
                })
                .collect();
            let mut grade = GradeCharge {
                spec: spec.clone(),
                materials,
                recovery: BTreeMap::new(),
                lots: Vec::new(),
                kg: Vec::new(),
            };
            let infeasible = |reasons: String| {
                TwinError::invalid(
                    &format!("grade[{i}].spec"),
                    format!("'{}' from materials {:?}", g.name, g.materials),
                    &format!("a grade the optimiser can charge from the nominal lots ({reasons})"),
                )
            };
            // Solve once with full recovery, predict the losses of that charge at mean
            // conditions, and solve again with the recovery they give.
            let kg = model.solve(plant, &grade, &nominal).map_err(infeasible)?;
            if let Some((params, m)) = &model.melting {
                let charged = element_kg(&grade.materials, &kg, &nominal);
                let melt_kg: f64 = charged.values().sum();
                let loss = predict_melt_loss(
                    &melt_input(m, &charged, m.oxygen_pickup_wt_pct.mean, melt_kg, melt_s),
                    params,
                )
                .map_err(|e| TwinError::invalid("melting", "", &e.to_string()))?;
                grade.recovery = loss.recovery();
            }
            grade.kg = model.solve(plant, &grade, &nominal).map_err(infeasible)?;
            grade.lots = vec![0; grade.materials.len()];
            model.grades.push(Some(grade));
        }
        Ok(model)
    }

    /// The optimiser's charge for `grade` from the open lots: kg per material of the grade.
    fn solve(
        &mut self,
        plant: &Plant,
        grade: &GradeCharge,
        open: &[LotView],
    ) -> std::result::Result<Vec<f64>, String> {
        let lots: Vec<Lot> = grade
            .materials
            .iter()
            .map(|&m| Lot {
                id: m.to_string(),
                material: plant.material[m].name.clone(),
                chemistry_wt_pct: by_element(open[m].composition_wt_pct),
                // The next lot follows when this one runs out.
                stock_kg: 1.0e9,
                price_per_kg: plant.material[m].price_per_kg,
                status: LotStatus::Released,
                piece_kg: None,
                is_return: false,
            })
            .collect();
        let request = ChargeRequest {
            grade: grade.spec.clone(),
            output_kg: self.heat_kg,
            lots,
            recovery: grade.recovery.clone(),
            heel: None,
            min_returns_kg: 0.0,
        };
        self.stats.optimised += 1;
        let charge = charge(&request).map_err(|e| e.to_string())?;
        Ok(grade
            .materials
            .iter()
            .map(|m| {
                charge
                    .lines
                    .iter()
                    .filter(|l| l.lot == m.to_string())
                    .map(|l| l.kg)
                    .sum()
            })
            .collect())
    }

    /// The weigh list of a heat of grade `g`: (material, kg) pairs, or `None` when the grade
    /// has no spec (its fixed bill applies).
    pub fn weigh_list(
        &mut self,
        plant: &Plant,
        g: usize,
        open: &[LotView],
    ) -> Option<Vec<(usize, f64)>> {
        let grade = self.grades.get(g)?.as_ref()?;
        let lots: Vec<u64> = grade.materials.iter().map(|&m| open[m].number).collect();
        let reuse = lots == grade.lots || {
            let charged = element_kg(&grade.materials, &grade.kg, open);
            close_to_aim(&grade.spec, &charged, &grade.recovery)
        };
        let mut grade = self.grades[g].take()?;
        if reuse {
            if lots != grade.lots {
                self.stats.reused += 1;
            }
        } else if let Some(kg) = resolve_on_basis(&grade, open, self.heat_kg) {
            self.stats.resolved += 1;
            grade.kg = kg;
        } else {
            match self.solve(plant, &grade, open) {
                Ok(kg) => grade.kg = kg,
                Err(_) => self.stats.fallbacks += 1,
            }
        }
        grade.lots = lots;
        let list = grade
            .materials
            .iter()
            .copied()
            .zip(grade.kg.iter().copied())
            .filter(|(_, kg)| *kg > 1e-9)
            .collect();
        self.grades[g] = Some(grade);
        Some(list)
    }

    /// Melts a charge (element kg) held liquid for `liquid_s`.
    pub fn melt<R: Rng + ?Sized>(
        &self,
        charged: &BTreeMap<String, f64>,
        liquid_s: f64,
        rng: &mut R,
    ) -> MeltOutcome {
        let Some((params, m)) = &self.melting else {
            return MeltOutcome {
                melt_kg: charged.clone(),
                loss_kg: BTreeMap::new(),
            };
        };
        let charged_e = by_element(charged);
        let total: f64 = charged_e.values().sum();
        let pickup = m.oxygen_pickup_wt_pct.sample(rng);
        let loss = predict_melt_loss(&melt_input(m, &charged_e, pickup, total, liquid_s), params);
        let loss_kg: BTreeMap<String, f64> = match loss {
            Ok(l) => l
                .loss_kg
                .iter()
                .filter(|(_, kg)| **kg > 0.0)
                .map(|(e, kg)| (e.symbol().to_string(), *kg))
                .collect(),
            Err(_) => BTreeMap::new(),
        };
        let melt_kg = charged
            .iter()
            .map(|(e, kg)| {
                (
                    e.clone(),
                    (kg - loss_kg.get(e).copied().unwrap_or(0.0)).max(0.0),
                )
            })
            .collect();
        MeltOutcome { melt_kg, loss_kg }
    }

    /// Flake thickness of a heat, mm, and its microstructure (cached per µm of thickness).
    pub fn cast<R: Rng + ?Sized>(
        &mut self,
        plant: &Plant,
        rng: &mut R,
    ) -> Option<(f64, Option<Microstructure>)> {
        let c = plant.casting.as_ref()?;
        let caster = self.caster.as_ref()?;
        let thickness = c.thickness_mm.sample(rng).max(0.01);
        let key = (thickness * 1000.0).round() as u32;
        let m = self
            .microstructure
            .entry(key)
            .or_insert_with(|| {
                caster
                    .predict(key as f64 / 1000.0)
                    .ok()
                    .map(|p| p.microstructure)
            })
            .clone();
        Some((thickness, m))
    }

    /// The lab's report on a heat of grade `g`: measured composition (and thickness and
    /// microstructure when cast) and the verdict.
    pub fn analyse<R: Rng + ?Sized>(
        &self,
        plant: &Plant,
        g: usize,
        flake_wt_pct: &BTreeMap<String, f64>,
        cast: Option<&(f64, Option<Microstructure>)>,
        rng: &mut R,
    ) -> LabReport {
        let mut measure = |v: f64| {
            if self.analytical_sd_rel > 0.0 && v > 0.0 {
                Normal::new(v, v * self.analytical_sd_rel)
                    .map(|n| n.sample(rng))
                    .unwrap_or(v)
                    .max(0.0)
            } else {
                v
            }
        };
        let spec = plant.grade[g].spec.as_ref();
        let mut results = Vec::new();
        let mut measured: BTreeMap<Element, f64> = BTreeMap::new();
        for (symbol, &wt) in flake_wt_pct {
            let e = element(symbol);
            let reported = match spec {
                Some(s) => s.aim_wt_pct.contains_key(&e) || s.impurity_limits().contains_key(&e),
                None => true,
            };
            if !reported || e == spec.map_or(Element::Fe, |s| s.balance) {
                continue;
            }
            let v = measure(wt);
            measured.insert(e, v);
            results.push(LabResult {
                property: symbol.clone(),
                value: v,
                unit: "wt%",
            });
        }
        let mut failures: Vec<String> = Vec::new();
        if let Some(s) = spec {
            // GB/T 29655 sets the RE tolerance on the total RE (GB/T 14635), which the lab
            // reports beside the elements.
            if s.rare_earth_aim_wt_pct() > 0.0 {
                let total_re: f64 = measured
                    .iter()
                    .filter(|(e, _)| e.is_rare_earth() && s.aim_wt_pct.contains_key(e))
                    .map(|(_, v)| v)
                    .sum();
                results.push(LabResult {
                    property: TOTAL_RE.into(),
                    value: total_re,
                    unit: "wt%",
                });
            }
            // The balance element is what the others leave.
            let others: f64 = measured.values().sum();
            measured.insert(s.balance, (100.0 - others).max(0.0));
            failures.extend(
                check_assay(s, &measured)
                    .into_iter()
                    .filter(|l| !l.pass)
                    .map(|l| format!("{} {} outside {}", l.item, l.measured_text(), l.allowed)),
            );
        }
        if let Some((thickness, micro)) = cast {
            results.push(LabResult {
                property: "thickness".into(),
                value: measure(*thickness),
                unit: "mm",
            });
            if let Some(m) = micro {
                results.push(LabResult {
                    property: "columnar".into(),
                    value: m.columnar_fraction,
                    unit: "fraction",
                });
                results.push(LabResult {
                    property: "lamellar-spacing".into(),
                    value: m.lamellar_spacing_um,
                    unit: "um",
                });
                failures.extend(self.window.violations(m));
            }
        }
        LabReport { results, failures }
    }
}

fn melt_input(
    m: &Melting,
    charged: &BTreeMap<Element, f64>,
    pickup_wt_pct: f64,
    melt_kg: f64,
    liquid_s: f64,
) -> MeltLossInput {
    MeltLossInput {
        charged_kg: charged.clone(),
        oxygen_pickup_kg: oxygen_pickup_kg(pickup_wt_pct.min(100.0), melt_kg.max(1e-9))
            .unwrap_or(0.0),
        evaporation: (!m.activity_coefficient.is_empty()).then(|| EvaporationConditions {
            temperature_k: m.temperature_k,
            area_m2: m.melt_area_m2,
            time_s: liquid_s.max(0.0),
            evaporation_coefficient: 1.0,
            chamber_partial_pressure_pa: BTreeMap::new(),
            gas_mass_transfer_m_per_s: m.gas_mass_transfer_m_per_s,
        }),
    }
}

/// Element kg of a weigh list charged from the open lots.
fn element_kg(materials: &[usize], kg: &[f64], open: &[LotView]) -> BTreeMap<Element, f64> {
    let mut out = BTreeMap::new();
    for (&m, &kg) in materials.iter().zip(kg) {
        for (e, wt) in open[m].composition_wt_pct {
            *out.entry(element(e)).or_insert(0.0) += kg * wt / 100.0;
        }
    }
    out
}

/// Whether a charge's melt (after recovery) is within a tenth of every aimed tolerance.
fn close_to_aim(
    spec: &AlloyGrade,
    charged: &BTreeMap<Element, f64>,
    recovery: &BTreeMap<Element, f64>,
) -> bool {
    let melt: BTreeMap<Element, f64> = charged
        .iter()
        .map(|(e, kg)| (*e, kg * recovery.get(e).copied().unwrap_or(1.0)))
        .collect();
    let total: f64 = melt.values().sum();
    if total <= 0.0 {
        return false;
    }
    spec.aim_wt_pct.iter().all(|(e, aim)| {
        let wt = 100.0 * melt.get(e).copied().unwrap_or(0.0) / total;
        (wt - aim).abs() <= REUSE_WITHIN_TOLERANCE * spec.tolerance_of(*e)
    })
}

/// The optimiser's last charge recomputed for new lot chemistry on the same basis. When the
/// charge uses exactly one material more than the grade has aimed elements, hitting every aim
/// in a melt of `heat_kg` fixes the amounts: Σ_m x_m·c_me·η_e = aim_e·M for each aimed e and
/// Σ_m x_m·Σ_e c_me·η_e = M. That square system is the least-cost LP's own answer on its
/// basis, found in microseconds; `None` when the system is not square, singular, or its
/// solution leaves the basis (an amount below zero), and the optimiser runs again.
fn resolve_on_basis(grade: &GradeCharge, open: &[LotView], heat_kg: f64) -> Option<Vec<f64>> {
    let used: Vec<usize> = (0..grade.materials.len())
        .filter(|&i| grade.kg[i] > 1e-9)
        .collect();
    let aims: Vec<(Element, f64)> = grade
        .spec
        .aim_wt_pct
        .iter()
        .map(|(e, a)| (*e, *a))
        .collect();
    let n = used.len();
    if n != aims.len() + 1 {
        return None;
    }
    let recovery = |e: Element| grade.recovery.get(&e).copied().unwrap_or(1.0);
    // Recovered kg of each element per kg of each used material.
    let yields: Vec<BTreeMap<Element, f64>> = used
        .iter()
        .map(|&i| {
            open[grade.materials[i]]
                .composition_wt_pct
                .iter()
                .map(|(e, wt)| {
                    let e = element(e);
                    (e, wt / 100.0 * recovery(e))
                })
                .collect()
        })
        .collect();
    let mut a = vec![vec![0.0; n + 1]; n];
    for (row, (e, aim)) in aims.iter().enumerate() {
        for (col, y) in yields.iter().enumerate() {
            a[row][col] = y.get(e).copied().unwrap_or(0.0);
        }
        a[row][n] = aim / 100.0 * heat_kg;
    }
    for (col, y) in yields.iter().enumerate() {
        a[n - 1][col] = y.values().sum();
    }
    a[n - 1][n] = heat_kg;
    let x = solve_dense(a)?;
    if x.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return None;
    }
    let mut kg = vec![0.0; grade.materials.len()];
    for (k, &i) in used.iter().enumerate() {
        kg[i] = x[k];
    }
    Some(kg)
}

/// Gaussian elimination with partial pivoting on an augmented n × (n+1) matrix.
fn solve_dense(mut a: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let n = a.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-12 {
            return None;
        }
        a.swap(col, pivot);
        for row in col + 1..n {
            let f = a[row][col] / a[col][col];
            if f != 0.0 {
                for k in col..=n {
                    a[row][k] -= f * a[col][k];
                }
            }
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (a[row][n] - s) / a[row][row];
    }
    Some(x)
}
