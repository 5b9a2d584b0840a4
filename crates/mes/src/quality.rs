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
    /// The lot the sample was taken from: the lot itself, or for a sublot without a result of
    /// its own, the lot it was split from (a drum shows its heat's results).
    pub lot: String,
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
    /// The deviation the release was signed under, if any.
    pub deviation: Option<crate::event::Deviation>,
    /// What the lot was released over under that deviation, in words.
    pub released_over: Vec<String>,
    /// Released on receipt against the supplier's certificate (no QA signature).
    pub released_on_receipt: bool,
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

/// The latest specification of a material definition, on one connection.
pub(crate) async fn specification_on(
    conn: &mut sqlx::AnyConnection,
    definition: &str,
) -> Result<Option<Specification>> {
    let row = sqlx::query(
        "SELECT * FROM specifications WHERE definition = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(definition.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(specification_from_row).transpose()
}

async fn results_on(conn: &mut sqlx::AnyConnection, lot: &str) -> Result<Vec<LabResult>> {
    let rows = sqlx::query("SELECT * FROM results WHERE lot = $1 ORDER BY seq")
        .bind(lot.to_string())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(LabResult {
                seq: r.try_get("seq")?,
                lot: r.try_get("lot")?,
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

/// See [`Mes::effective_results`].
pub(crate) async fn effective_results_on(
    conn: &mut sqlx::AnyConnection,
    lot: &str,
) -> Result<Vec<LabResult>> {
    let mut results = results_on(conn, lot).await?;
    let mut covered: std::collections::HashSet<String> =
        results.iter().map(|r| r.property.clone()).collect();
    for ancestor in crate::projection::split_ancestors(conn, lot).await? {
        let inherited: Vec<LabResult> = results_on(conn, &ancestor)
            .await?
            .into_iter()
            .filter(|r| !covered.contains(&r.property))
            .collect();
        covered.extend(inherited.iter().map(|r| r.property.clone()));
        results.extend(inherited);
    }
    Ok(results)
}

/// Checks a lot's effective results against its specification, on one connection (the release
/// guard runs it inside the write transaction).
pub(crate) async fn evaluate_on(
    conn: &mut sqlx::AnyConnection,
    l: &MaterialLot,
) -> Result<Evaluation> {
    let lot = l.id.as_str();
    let specification = specification_on(conn, &l.definition).await?;
    let Some(spec) = specification else {
        return Ok(Evaluation {
            lot: lot.to_string(),
            specification: None,
            checks: Vec::new(),
            proposed: Disposition::Pending,
            explanation: format!("no specification is defined for {}", l.definition),
        });
    };
    let mut latest: BTreeMap<String, LabResult> = BTreeMap::new();
    for r in effective_results_on(conn, lot).await? {
        // Own results come first and ancestors' only for properties not covered, so the
        // latest by sequence within one lot is the one that stands.
        match latest.get(&r.property) {
            Some(kept) if kept.lot != r.lot => {}
            _ => {
                latest.insert(r.property.clone(), r);
            }
        }
    }
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

/// A value printed with as many decimals as the most precise of its limits (at least one more
/// than an integer limit has), so `Dy 1.51` against 1.49–1.51 is not shown as `1.510` and a
/// value just outside a limit never prints as the limit itself.
pub fn format_at_limit_precision(limit: &SpecLimit, value: f64) -> String {
    fn decimals(x: f64) -> usize {
        let text = format!("{x}");
        text.split_once('.').map_or(0, |(_, d)| d.len())
    }
    let mut places = [limit.min, limit.max, limit.target]
        .into_iter()
        .flatten()
        .map(decimals)
        .max()
        .unwrap_or(3);
    // Round to the limits' precision, but never onto a limit the value does not meet.
    while places < 9 {
        let shown: f64 = format!("{value:.places$}").parse().unwrap_or(value);
        let flips = limit_verdict(limit, shown) != limit_verdict(limit, value);
        if !flips {
            break;
        }
        places += 1;
    }
    format!("{value:.places$}")
}

/// One check in words, for refusals and NCRs: `Pr 8.6 wt% outside 7.4–8.2`.
pub fn describe_check(check: &LimitCheck) -> String {
    let limit = &check.limit;
    let band = match (limit.min, limit.max) {
        (Some(lo), Some(hi)) => format!("{lo}–{hi}"),
        (Some(lo), None) => format!("≥ {lo}"),
        (None, Some(hi)) => format!("≤ {hi}"),
        (None, None) => String::new(),
    };
    match (check.verdict, check.value) {
        (Verdict::Fail, Some(v)) => format!(
            "{} {} {} outside {band}",
            limit.property,
            format_at_limit_precision(limit, v),
            limit.unit
        ),
        (Verdict::Missing, Some(_)) => format!(
            "{} measured in {} (the limit is in {})",
            limit.property,
            check.result_unit.as_deref().unwrap_or("?"),
            limit.unit
        ),
        (Verdict::Missing, None) => format!("{} result missing", limit.property),
        _ => format!("{} within {band}", limit.property),
    }
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
        let mut conn = self.db().pool().acquire().await?;
        specification_on(&mut conn, definition).await
    }

    /// Every result of a lot, oldest first (corrections included).
    pub async fn results(&self, lot: &str) -> Result<Vec<LabResult>> {
        let mut conn = self.db().pool().acquire().await?;
        results_on(&mut conn, lot).await
    }

    /// The results that stand for a lot: its own, and for each property it has no result of,
    /// those of the nearest lot it was split from (a drum carries its heat's results). Oldest
    /// first within each lot; `LabResult::lot` says where each was measured.
    pub async fn effective_results(&self, lot: &str) -> Result<Vec<LabResult>> {
        let mut conn = self.db().pool().acquire().await?;
        effective_results_on(&mut conn, lot).await
    }

    /// Checks a lot's latest results (its own, else those of the lot it was split from)
    /// against its definition's specification.
    pub async fn evaluate(&self, lot: &str) -> Result<Evaluation> {
        let mut conn = self.db().pool().acquire().await?;
        let l = find_lot(&mut *conn, lot)
            .await?
            .ok_or_else(|| MesError::not_found("lot", lot))?;
        evaluate_on(&mut conn, &l).await
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
        let mut deviation = None;
        let mut released_over = Vec::new();
        let mut released_on_receipt = false;
        for record in self.audit_trail(&format!("lot:{lot}")).await? {
            match serde_json::from_str(&record.payload) {
                Ok(crate::event::Event::LotReleased {
                    signature,
                    deviation: d,
                    released_over: over,
                    ..
                }) => {
                    release = Some(signature);
                    deviation = d;
                    released_over = over;
                }
                Ok(crate::event::Event::LotsReleased {
                    signature,
                    deviation: d,
                    lots,
                }) => {
                    release = Some(signature);
                    deviation = d;
                    released_over = lots
                        .into_iter()
                        .find(|r| r.lot == lot)
                        .map(|r| r.released_over)
                        .unwrap_or_default();
                }
                Ok(crate::event::Event::LotReceived { disposition, .. }) => {
                    released_on_receipt = disposition == Disposition::Released;
                }
                _ => {}
            }
        }
        if l.disposition != Disposition::Released {
            release = None;
            deviation = None;
            released_over.clear();
            released_on_receipt = false;
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
            deviation,
            released_over,
            released_on_receipt,
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
    let unmet: Vec<String> = c
        .evaluation
        .checks
        .iter()
        .filter(|check| check.verdict != Verdict::Pass)
        .map(describe_check)
        .collect();
    let release = match (&c.release, &c.deviation) {
        (Some(s), Some(d)) => format!(
            "<p class=\"signature deviation\">Released UNDER DEVIATION {} by <strong>{}</strong> ({}) on {} UTC — meaning: {}.<br>\
Reason: {}<br>Released over: {}<br><small>Signature bound to record version {}</small></p>",
            escape(&d.reference),
            escape(&s.name),
            escape(&s.user),
            escape(&s.signed_at),
            s.meaning,
            escape(&d.reason),
            escape(&if c.released_over.is_empty() {
                unmet.join("; ")
            } else {
                c.released_over.join("; ")
            }),
            escape(&s.record_hash)
        ),
        (Some(s), None) => {
            // Records from before the release guards may hold a plain release over failing
            // or missing results: the certificate says so rather than certify them.
            let warning = if unmet.is_empty() {
                String::new()
            } else {
                format!(
                    "<br><strong class=\"unreleased\">Released over unmet limits without a recorded deviation: {}</strong>",
                    escape(&unmet.join("; "))
                )
            };
            format!(
                "<p class=\"signature\">Released by <strong>{}</strong> ({}) on {} UTC — meaning: {}.{warning}<br><small>Signature bound to record version {}</small></p>",
                escape(&s.name),
                escape(&s.user),
                escape(&s.signed_at),
                s.meaning,
                escape(&s.record_hash)
            )
        }
        (None, _) if c.released_on_receipt => format!(
            "<p class=\"signature\">Released on receipt against the supplier's certificate (no QA signature){}</p>",
            c.lot
                .supplier_lot
                .as_ref()
                .map(|s| format!(": supplier lot {}", escape(s)))
                .unwrap_or_default()
        ),
        (None, _) => format!(
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
