//! Quality queries: the specification in force, a lot's results, the proposed disposition
//! (each limit checked), lots due for sampling, nonconformances, the certificate of analysis
//! (as data and as printable HTML), and the lab-CSV importer.

use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

use crate::command::Command;
use crate::error::{MesError, Result};
use crate::event::Signature;
use crate::genealogy::Direction;
use crate::model::{
    now, Disposition, MaterialLot, SamplingPlan, SpecLimit, Specification, Timestamp,
};
use crate::projection::find_lot;
use crate::service::Mes;
use crate::spc::svg::escape;

/// A stored lab result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabResult {
    /// Event that recorded it.
    pub seq: i64,
    /// Sample id.
    pub sample: Option<String>,
    /// Property.
    pub property: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
    /// Method.
    pub method: Option<String>,
    /// When measured.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
}

/// Outcome of one limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Within limits.
    Pass,
    /// Outside limits.
    Fail,
    /// No result yet.
    Missing,
}

/// One limit checked against the latest result.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LimitCheck {
    /// The limit.
    pub limit: SpecLimit,
    /// Latest result, if any.
    pub value: Option<f64>,
    /// Unit of the result.
    pub result_unit: Option<String>,
    /// Verdict.
    pub verdict: Verdict,
}

/// A lot's results against its specification, and what QA should do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Evaluation {
    /// The lot.
    pub lot: String,
    /// Specification used (none defined → nothing can be proposed).
    pub specification: Option<Specification>,
    /// Every limit checked.
    pub checks: Vec<LimitCheck>,
    /// Proposed disposition: released when all pass, rejected when any fails, pending when
    /// results are missing.
    pub proposed: Disposition,
    /// Why, in one line.
    pub explanation: String,
}

/// A nonconformance record.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Nonconformance {
    /// NCR id.
    pub id: String,
    /// Lot.
    pub lot: String,
    /// What is wrong.
    pub description: String,
    /// minor, major, critical.
    pub severity: String,
    /// open or closed.
    pub state: String,
    /// Closing decision.
    pub decision: Option<String>,
    /// Opened.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub opened_at: Timestamp,
    /// Closed.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub closed_at: Option<Timestamp>,
}

/// A certificate of analysis for one lot.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Certificate {
    /// The lot certified.
    pub lot: MaterialLot,
    /// Results against the specification.
    pub evaluation: Evaluation,
    /// The release signature, if released.
    pub release: Option<Signature>,
    /// Raw-material lots (no further ancestors) it was made from, with supplier lots.
    pub origins: Vec<(String, String, Option<String>)>,
    /// When the certificate was issued.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub issued_at: Timestamp,
}

/// A specification from a row of `specifications`.
pub(crate) fn specification_from_row(row: &sqlx::any::AnyRow) -> Result<Specification> {
    let limits: String = row.try_get("limits")?;
    let sampling: String = row.try_get("sampling")?;
    Ok(Specification {
        definition: row.try_get("definition")?,
        version: row.try_get("version")?,
        name: row.try_get("name")?,
        limits: serde_json::from_str(&limits)
            .map_err(|e| MesError::Corrupt(format!("specification limits: {e}")))?,
        sampling: serde_json::from_str::<SamplingPlan>(&sampling)
            .map_err(|e| MesError::Corrupt(format!("specification sampling: {e}")))?,
    })
}

fn limit_verdict(limit: &SpecLimit, value: f64) -> Verdict {
    let low = limit.min.is_some_and(|lo| value < lo);
    let high = limit.max.is_some_and(|hi| value > hi);
    if low || high {
        Verdict::Fail
    } else {
        Verdict::Pass
    }
}

impl Mes {
    /// The latest specification of a material definition.
    pub async fn specification(&self, definition: &str) -> Result<Option<Specification>> {
        let row = sqlx::query(
            "SELECT * FROM specifications WHERE definition = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(definition.to_string())
        .fetch_optional(self.db().pool())
        .await?;
        row.as_ref().map(specification_from_row).transpose()
    }

    /// Every result of a lot, oldest first (corrections included).
    pub async fn results(&self, lot: &str) -> Result<Vec<LabResult>> {
        let rows = sqlx::query("SELECT * FROM results WHERE lot = $1 ORDER BY seq")
            .bind(lot.to_string())
            .fetch_all(self.db().pool())
            .await?;
        rows.iter()
            .map(|r| {
                Ok(LabResult {
                    seq: r.try_get("seq")?,
                    sample: r.try_get("sample")?,
                    property: r.try_get("property")?,
                    value: r.try_get("value")?,
                    unit: r.try_get("unit")?,
                    method: r.try_get("method")?,
                    at: r.try_get("at")?,
                })
            })
            .collect()
    }

    /// Checks a lot's latest results against its definition's specification.
    pub async fn evaluate(&self, lot: &str) -> Result<Evaluation> {
        let l = find_lot(self.db().pool(), lot)
            .await?
            .ok_or_else(|| MesError::not_found("lot", lot))?;
        let specification = self.specification(&l.definition).await?;
        let mut latest: BTreeMap<String, LabResult> = BTreeMap::new();
        for r in self.results(lot).await? {
            latest.insert(r.property.clone(), r);
        }
        let Some(spec) = specification else {
            return Ok(Evaluation {
                lot: lot.to_string(),
                specification: None,
                checks: Vec::new(),
                proposed: Disposition::Pending,
                explanation: format!("no specification is defined for {}", l.definition),
            });
        };
        let mut checks = Vec::new();
        for limit in &spec.limits {
            let result = latest.get(&limit.property);
            let verdict = match result {
                None => Verdict::Missing,
                // A result in another unit cannot be judged against the limit.
                Some(r) if r.unit != limit.unit => Verdict::Missing,
                Some(r) => limit_verdict(limit, r.value),
            };
            checks.push(LimitCheck {
                limit: limit.clone(),
                value: result.map(|r| r.value),
                result_unit: result.map(|r| r.unit.clone()),
                verdict,
            });
        }
        let failed: Vec<&str> = checks
            .iter()
            .filter(|c| c.verdict == Verdict::Fail)
            .map(|c| c.limit.property.as_str())
            .collect();
        let missing: Vec<&str> = checks
            .iter()
            .filter(|c| c.verdict == Verdict::Missing)
            .map(|c| c.limit.property.as_str())
            .collect();
        let (proposed, explanation) = if !failed.is_empty() {
            (
                Disposition::Rejected,
                format!("out of specification: {}", failed.join(", ")),
            )
        } else if !missing.is_empty() {
            (
                Disposition::Pending,
                format!(
                    "results missing (or in another unit): {}",
                    missing.join(", ")
                ),
            )
        } else {
            (
                Disposition::Released,
                format!("all {} limits met", checks.len()),
            )
        };
        Ok(Evaluation {
            lot: lot.to_string(),
            specification: Some(spec),
            checks,
            proposed,
            explanation,
        })
    }

    /// Pending lots that their definition's sampling plan selects and that have no result yet.
    pub async fn sampling_due(&self) -> Result<Vec<(String, String, Option<f64>)>> {
        let rows = sqlx::query(
            "SELECT l.id, l.definition FROM lots l \
             WHERE l.disposition = 'pending' AND l.status = 'available' \
               AND EXISTS (SELECT 1 FROM specifications s WHERE s.definition = l.definition) \
               AND NOT EXISTS (SELECT 1 FROM results r WHERE r.lot = l.id) \
             ORDER BY l.definition, l.created_at, l.id",
        )
        .fetch_all(self.db().pool())
        .await?;
        let mut due = Vec::new();
        let mut position: BTreeMap<String, i64> = BTreeMap::new();
        let mut plans: BTreeMap<String, SamplingPlan> = BTreeMap::new();
        for row in &rows {
            let id: String = row.try_get("id")?;
            let definition: String = row.try_get("definition")?;
            if !plans.contains_key(&definition) {
                let plan = self
                    .specification(&definition)
                    .await?
                    .map(|s| s.sampling)
                    .unwrap_or_default();
                plans.insert(definition.clone(), plan);
            }
            let plan = &plans[&definition];
            let n = position.entry(definition.clone()).or_insert(0);
            if *n % plan.every_nth_lot == 0 {
                due.push((id, definition.clone(), plan.sample_g));
            }
            *n += 1;
        }
        Ok(due)
    }

    /// Nonconformances, optionally of one lot.
    pub async fn nonconformances(&self, lot: Option<&str>) -> Result<Vec<Nonconformance>> {
        let rows = match lot {
            Some(l) => {
                sqlx::query("SELECT * FROM nonconformances WHERE lot = $1 ORDER BY opened_at, id")
                    .bind(l.to_string())
                    .fetch_all(self.db().pool())
                    .await?
            }
            None => {
                sqlx::query("SELECT * FROM nonconformances ORDER BY opened_at, id")
                    .fetch_all(self.db().pool())
                    .await?
            }
        };
        rows.iter()
            .map(|r| {
                Ok(Nonconformance {
                    id: r.try_get("id")?,
                    lot: r.try_get("lot")?,
                    description: r.try_get("description")?,
                    severity: r.try_get("severity")?,
                    state: r.try_get("state")?,
                    decision: r.try_get("decision")?,
                    opened_at: r.try_get("opened_at")?,
                    closed_at: r.try_get("closed_at")?,
                })
            })
            .collect()
    }

    /// The certificate of analysis of a lot.
    pub async fn certificate(&self, lot: &str) -> Result<Certificate> {
        let evaluation = self.evaluate(lot).await?;
        let l = self.lot(lot).await?;
        let mut release = None;
        for record in self.audit_trail(&format!("lot:{lot}")).await? {
            match serde_json::from_str(&record.payload) {
                Ok(crate::event::Event::LotReleased { signature, .. })
                | Ok(crate::event::Event::LotsReleased { signature, .. }) => {
                    release = Some(signature)
                }
                _ => {}
            }
        }
        if l.disposition != Disposition::Released {
            release = None;
        }
        let trace = self.trace(lot, Direction::Backward, 1000).await?;
        let has_parents: std::collections::BTreeSet<&str> =
            trace.edges.iter().map(|e| e.child.as_str()).collect();
        let origins = trace
            .lots
            .iter()
            .filter(|(o, _)| o.id != lot && !has_parents.contains(o.id.as_str()))
            .map(|(o, _)| (o.id.clone(), o.definition.clone(), o.supplier_lot.clone()))
            .collect();
        Ok(Certificate {
            lot: l,
            evaluation,
            release,
            origins,
            issued_at: now(),
        })
    }
}

fn bound(value: Option<f64>) -> String {
    value.map(|v| format!("{v}")).unwrap_or_else(|| "—".into())
}

/// The certificate as a self-contained, printable HTML page.
pub fn certificate_html(c: &Certificate, issuer: &str) -> String {
    let mut rows = String::new();
    for check in &c.evaluation.checks {
        let verdict = match check.verdict {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Missing => "no result",
        };
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            verdict.replace(' ', "-").to_lowercase(),
            escape(&check.limit.property),
            escape(&check.limit.unit),
            bound(check.limit.min),
            bound(check.limit.max),
            check.value.map(|v| format!("{v}")).unwrap_or_else(|| "—".into()),
            verdict
        ));
    }
    let origins: String = c
        .origins
        .iter()
        .map(|(id, def, supplier)| {
            format!(
                "<li>{} ({}){}</li>",
                escape(id),
                escape(def),
                supplier
                    .as_ref()
                    .map(|s| format!(", supplier lot {}", escape(s)))
                    .unwrap_or_default()
            )
        })
        .collect();
    let release = match &c.release {
        Some(s) => format!(
            "<p class=\"signature\">Released by <strong>{}</strong> ({}) on {} UTC — meaning: {}.<br><small>Signature bound to record version {}</small></p>",
            escape(&s.name),
            escape(&s.user),
            escape(&s.signed_at),
            s.meaning,
            escape(&s.record_hash)
        ),
        None => format!(
            "<p class=\"signature unreleased\">NOT RELEASED — disposition: {}</p>",
            c.lot.disposition
        ),
    };
    let spec = c
        .evaluation
        .specification
        .as_ref()
        .map(|s| format!("{} (version {})", escape(&s.name), s.version))
        .unwrap_or_else(|| "none defined".into());
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Certificate of analysis {lot}</title>\n\
<style>body{{font-family:sans-serif;max-width:50em;margin:2em auto}}table{{border-collapse:collapse;width:100%}}\
td,th{{border:1px solid #999;padding:.3em .6em;text-align:left}}tr.fail td{{background:#fdd}}tr.no-result td{{background:#ffd}}\
.signature{{margin-top:2em;border-top:1px solid #333;padding-top:.5em}}.unreleased{{color:#b00;font-weight:bold}}</style></head>\n\
<body><h1>Certificate of analysis</h1>\n<p>Issued by {issuer} on {issued} UTC</p>\n\
<table><tr><th>Lot</th><td>{lot}</td></tr><tr><th>Material</th><td>{definition}</td></tr>\
<tr><th>Quantity</th><td>{kg:.3} kg</td></tr><tr><th>Produced</th><td>{created} UTC</td></tr>\
<tr><th>Specification</th><td>{spec}</td></tr></table>\n<h2>Results</h2>\n\
<table><tr><th>Property</th><th>Unit</th><th>Min</th><th>Max</th><th>Result</th><th>Verdict</th></tr>\n{rows}</table>\n\
<p>{explanation}</p>\n<h2>Made from</h2><ul>{origins}</ul>\n{release}\n</body></html>\n",
        lot = escape(&c.lot.id),
        issuer = escape(issuer),
        issued = escape(&c.issued_at),
        definition = escape(&c.lot.definition),
        kg = c.lot.initial_kg,
        created = escape(&c.lot.created_at),
        explanation = escape(&c.evaluation.explanation),
    )
}

/// Reads a lab CSV export into record-result commands. Columns (header required, any order):
/// `lot`, `property`, `value`, `unit`, and optional `sample`, `method`, `at`. Errors name the
/// file, the line and the column.
pub fn parse_results_csv(source: &str, text: &str) -> Result<Vec<Command>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| MesError::File(format!("{source}: cannot read the header: {e}")))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let required = |name: &str| {
        column(name).ok_or_else(|| {
            MesError::File(format!(
                "{source}: line 1: no '{name}' column; the header needs lot, property, value, unit (and optionally sample, method, at)"
            ))
        })
    };
    let (lot, property, value, unit) = (
        required("lot")?,
        required("property")?,
        required("value")?,
        required("unit")?,
    );
    let (sample, method, at) = (column("sample"), column("method"), column("at"));
    let mut commands = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = record.map_err(|e| MesError::File(format!("{source}: line {line}: {e}")))?;
        let get = |c: usize| record.get(c).unwrap_or("").to_string();
        let optional = |c: Option<usize>| c.map(&get).filter(|v| !v.is_empty());
        let raw = get(value);
        let parsed: f64 = raw.parse().map_err(|_| {
            MesError::File(format!(
                "{source}: line {line}, column value: '{raw}' is not a number"
            ))
        })?;
        for (name, c) in [("lot", lot), ("property", property), ("unit", unit)] {
            if get(c).is_empty() {
                return Err(MesError::File(format!(
                    "{source}: line {line}, column {name}: empty"
                )));
            }
        }
        commands.push(Command::RecordResult {
            lot: get(lot),
            sample: optional(sample),
            property: get(property),
            value: parsed,
            unit: get(unit),
            method: optional(method),
            at: optional(at),
        });
    }
    Ok(commands)
}
