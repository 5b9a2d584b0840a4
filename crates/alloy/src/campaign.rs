//! A campaign: many heats charged one after another from one inventory, each taking what the
//! ones before it left (a shift's or a month's batching plan).

use crate::batch::{charge, Charge, ChargeRequest};
use crate::error::AlloyError;
use crate::grades;
use crate::material::Lot;
use crate::spec::Grade;
use lodestone_chem::Element;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One heat to charge.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignHeat {
    /// Heat id.
    pub id: String,
    /// Grade of the heat.
    pub grade: Grade,
    /// Melt wanted, kg.
    pub output_kg: f64,
}

/// What became of one heat.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum HeatOutcome {
    /// Charged: the weigh list.
    Charged {
        /// Heat id.
        id: String,
        /// Grade name.
        grade: String,
        /// The charge.
        charge: Charge,
    },
    /// Not charged: why.
    Failed {
        /// Heat id.
        id: String,
        /// Grade name.
        grade: String,
        /// Reasons.
        reasons: Vec<String>,
    },
}

/// The result of a campaign.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CampaignResult {
    /// Every heat, in order.
    pub heats: Vec<HeatOutcome>,
    /// kg taken from each lot.
    pub consumed_kg: BTreeMap<String, f64>,
    /// kg left in each lot.
    pub remaining_kg: BTreeMap<String, f64>,
    /// Heats charged.
    pub charged: usize,
    /// Heats that could not be charged.
    pub failed: usize,
    /// Total cost of the charged heats.
    pub cost: f64,
    /// Total melt made, kg.
    pub melt_kg: f64,
}

/// Charges the heats in order from `lots`, taking each heat's charge out of stock. A heat that
/// cannot be charged is reported and skipped; later heats still run. `progress` is called with
/// the number of heats done after each heat.
pub fn run_campaign(
    lots: &[Lot],
    heats: &[CampaignHeat],
    recovery: &BTreeMap<Element, f64>,
    min_returns_kg: f64,
    mut progress: impl FnMut(usize),
) -> Result<CampaignResult, AlloyError> {
    let mut stock: Vec<Lot> = lots.to_vec();
    let mut outcomes = Vec::with_capacity(heats.len());
    let mut consumed: BTreeMap<String, f64> = lots.iter().map(|l| (l.id.clone(), 0.0)).collect();
    let (mut cost, mut melt_kg) = (0.0, 0.0);
    for (n, heat) in heats.iter().enumerate() {
        let request = ChargeRequest {
            grade: heat.grade.clone(),
            output_kg: heat.output_kg,
            lots: stock.clone(),
            recovery: recovery.clone(),
            heel: None,
            min_returns_kg,
        };
        match charge(&request) {
            Ok(c) => {
                for line in &c.lines {
                    if let Some(lot) = stock.iter_mut().find(|l| l.id == line.lot) {
                        // Guard against round-off leaving a hair of negative stock.
                        lot.stock_kg = (lot.stock_kg - line.kg).max(0.0);
                    }
                    *consumed.entry(line.lot.clone()).or_default() += line.kg;
                }
                cost += c.cost;
                melt_kg += c.output_kg;
                outcomes.push(HeatOutcome::Charged {
                    id: heat.id.clone(),
                    grade: heat.grade.name.clone(),
                    charge: c,
                });
            }
            Err(AlloyError::Infeasible { reasons }) => {
                outcomes.push(HeatOutcome::Failed {
                    id: heat.id.clone(),
                    grade: heat.grade.name.clone(),
                    reasons,
                });
            }
            Err(e @ (AlloyError::Invalid { .. } | AlloyError::Syntax(_))) => return Err(e),
            Err(AlloyError::Solver(message)) => {
                outcomes.push(HeatOutcome::Failed {
                    id: heat.id.clone(),
                    grade: heat.grade.name.clone(),
                    reasons: vec![format!("optimiser failure: {message}")],
                });
            }
        }
        progress(n + 1);
    }
    let charged = outcomes
        .iter()
        .filter(|o| matches!(o, HeatOutcome::Charged { .. }))
        .count();
    Ok(CampaignResult {
        failed: outcomes.len() - charged,
        charged,
        heats: outcomes,
        consumed_kg: consumed,
        remaining_kg: stock.iter().map(|l| (l.id.clone(), l.stock_kg)).collect(),
        cost,
        melt_kg,
    })
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CampaignFile {
    #[allow(dead_code)]
    title: Option<String>,
    #[serde(default)]
    recovery: BTreeMap<Element, f64>,
    #[serde(default)]
    min_returns_kg: f64,
    #[serde(default, rename = "grade")]
    grades: Vec<Grade>,
    #[serde(rename = "heat")]
    heats: Vec<HeatSpec>,
    #[serde(rename = "lot")]
    lots: Vec<Lot>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeatSpec {
    grade: String,
    output_kg: f64,
    #[serde(default = "one")]
    count: usize,
}

fn one() -> usize {
    1
}

/// A parsed campaign file: lots, heats, recovery and returns policy.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Inventory.
    pub lots: Vec<Lot>,
    /// Heats in order.
    pub heats: Vec<CampaignHeat>,
    /// Recovery factors.
    pub recovery: BTreeMap<Element, f64>,
    /// Minimum returns per heat, kg.
    pub min_returns_kg: f64,
}

/// Parses a campaign (docs/alloy-plan-format.md, "Campaigns").
pub fn parse_campaign(text: &str) -> Result<Campaign, AlloyError> {
    let file: CampaignFile = toml::from_str(text)
        .map_err(|e| AlloyError::Syntax(e.to_string().trim_end().to_string()))?;
    let mut heats = Vec::new();
    for (i, h) in file.heats.iter().enumerate() {
        let grade = file
            .grades
            .iter()
            .find(|g| g.name == h.grade)
            .cloned()
            .or_else(|| grades::by_name(&h.grade))
            .ok_or_else(|| {
                AlloyError::invalid(
                    &format!("heat[{i}].grade"),
                    format!("\"{}\"", h.grade),
                    &format!(
                        "a [[grade]] of the file or a library grade ({})",
                        grades::names().join(", ")
                    ),
                )
            })?;
        if h.count == 0 || h.count > 1_000_000 {
            return Err(AlloyError::invalid(
                &format!("heat[{i}].count"),
                h.count,
                "a count from 1 to 1000000",
            ));
        }
        for k in 0..h.count {
            heats.push(CampaignHeat {
                id: format!("{}-{:06}", h.grade, k + 1),
                grade: grade.clone(),
                output_kg: h.output_kg,
            });
        }
    }
    if heats.len() > 1_000_000 {
        return Err(AlloyError::invalid(
            "heat",
            heats.len(),
            "at most 1000000 heats in one campaign",
        ));
    }
    Ok(Campaign {
        lots: file.lots,
        heats,
        recovery: file.recovery,
        min_returns_kg: file.min_returns_kg,
    })
}
