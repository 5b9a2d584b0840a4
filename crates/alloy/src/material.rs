//! Raw materials and lots: certificate chemistry per lot, stock, price, quality status and
//! piece size (ingots and bags are charged in whole pieces).

use crate::error::AlloyError;
use lodestone_chem::Element;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Quality status of a lot: only released lots may be charged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LotStatus {
    /// Released by QA: may be charged.
    Released,
    /// On hold pending a decision: may not be charged.
    OnHold,
    /// Rejected: may not be charged.
    Rejected,
}

/// One lot of a raw material (PrNd metal, FeB, DyFe, returns, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lot {
    /// Lot id, as on the label.
    pub id: String,
    /// Material name (e.g. "PrNd metal", "FeB 19.5").
    pub material: String,
    /// Certificate chemistry, wt% (sums to 100 ± 0.5).
    pub chemistry_wt_pct: BTreeMap<Element, f64>,
    /// Stock available, kg.
    pub stock_kg: f64,
    /// Price per kg (any currency, consistent across lots).
    pub price_per_kg: f64,
    /// Quality status.
    #[serde(default = "released")]
    pub status: LotStatus,
    /// Mass of one piece (ingot, bag), kg: the lot is charged in whole pieces.
    #[serde(default)]
    pub piece_kg: Option<f64>,
    /// A return (own scrap, off-grade flake) counted against the minimum-returns policy.
    #[serde(default)]
    pub is_return: bool,
}

fn released() -> LotStatus {
    LotStatus::Released
}

impl Lot {
    /// Checks the lot's numbers; `index` places it in error messages (`lots[3]`).
    pub fn validate(&self, index: usize) -> Result<(), AlloyError> {
        let field = |f: &str| format!("lots[{index}] (\"{}\").{f}", self.id);
        if !(self.stock_kg.is_finite() && self.stock_kg >= 0.0) {
            return Err(AlloyError::invalid(
                &field("stock_kg"),
                self.stock_kg,
                "a stock ≥ 0 kg",
            ));
        }
        if !(self.price_per_kg.is_finite() && self.price_per_kg >= 0.0) {
            return Err(AlloyError::invalid(
                &field("price_per_kg"),
                self.price_per_kg,
                "a price ≥ 0",
            ));
        }
        if let Some(p) = self.piece_kg {
            if !(p.is_finite() && p > 0.0) {
                return Err(AlloyError::invalid(
                    &field("piece_kg"),
                    p,
                    "a piece mass > 0 kg",
                ));
            }
        }
        let mut total = 0.0;
        for (e, &v) in &self.chemistry_wt_pct {
            if !(v.is_finite() && (0.0..=100.0).contains(&v)) {
                return Err(AlloyError::invalid(
                    &field(&format!("chemistry_wt_pct.{e}")),
                    v,
                    "a wt% from 0 to 100",
                ));
            }
            total += v;
        }
        if (total - 100.0).abs() > 0.5 {
            return Err(AlloyError::invalid(
                &field("chemistry_wt_pct"),
                format!("sum {total:.3}"),
                "a certificate summing to 100 ± 0.5 wt% (list the balance element too)",
            ));
        }
        Ok(())
    }

    /// Mass fraction (0–1) of an element.
    pub fn fraction(&self, e: Element) -> f64 {
        self.chemistry_wt_pct.get(&e).copied().unwrap_or(0.0) / 100.0
    }
}
