//! The TOML batch-plan format (docs/alloy-plan-format.md): a grade, the output mass, the lots
//! in stock, recovery factors, an optional heel and the returns policy.

use crate::batch::{ChargeRequest, Heel};
use crate::error::AlloyError;
use crate::material::Lot;
use crate::spec::Grade;
use lodestone_chem::Element;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlanFile {
    #[allow(dead_code)]
    title: Option<String>,
    output_kg: f64,
    grade: Grade,
    #[serde(default)]
    recovery: BTreeMap<Element, f64>,
    heel: Option<Heel>,
    #[serde(default)]
    min_returns_kg: f64,
    #[serde(default, rename = "lot")]
    lots: Vec<Lot>,
}

/// Parses a batch plan from TOML text.
pub fn parse_plan(text: &str) -> Result<ChargeRequest, AlloyError> {
    let file: PlanFile = toml::from_str(text)
        .map_err(|e| AlloyError::Syntax(e.to_string().trim_end().to_string()))?;
    if file.lots.is_empty() {
        return Err(AlloyError::invalid("lot", "none", "at least one [[lot]]"));
    }
    Ok(ChargeRequest {
        grade: file.grade,
        output_kg: file.output_kg,
        lots: file.lots,
        recovery: file.recovery,
        heel: file.heel,
        min_returns_kg: file.min_returns_kg,
    })
}
