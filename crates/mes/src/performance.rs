//! Performance analysis from the record: OEE of a unit over a window (state events and
//! production counts), and the measured series of a property for SPC.

use serde::Serialize;
use sqlx::Row;

use crate::error::{MesError, Result};
use crate::model::{parse_timestamp, seconds_between, EquipmentState, SpecLimit, Timestamp};
use crate::oee::{oee, Oee, ProductionCounts, StatePeriod};
use crate::projection::parse_equipment_state;
use crate::quality::specification_from_row;
use crate::service::Mes;

/// The units of product a unit of equipment ($1) made in [$2, $3): outputs of its steps, produced
/// or scrapped, of their order's product (any produced or scrapped output of a step without an
/// order, e.g. a continuous unit's). Residues and by-products of another definition are not
/// units.
macro_rules! units_of_equipment {
    () => {
        "FROM step_lots sl JOIN steps s ON s.id = sl.step \
         JOIN lots l ON l.id = sl.lot LEFT JOIN orders o ON o.id = s.order_id \
         WHERE s.equipment = $1 AND sl.direction = 'out' AND sl.material_use IN ('produced', 'scrap') \
           AND sl.at >= $2 AND sl.at < $3 AND (o.id IS NULL OR l.definition = o.product)"
    };
}

/// 1 when a unit (lot `l` of [`units_of_equipment`]'s `sl`) is a reject by the record: scrapped,
/// rejected by QA, or with a nonconformance raised on it.
const RECORD_REJECT: &str = "CASE WHEN sl.material_use = 'scrap' OR l.disposition = 'rejected' \
    OR EXISTS (SELECT 1 FROM nonconformances n WHERE n.lot = l.id) THEN 1 ELSE 0 END";

/// OEE of a unit over a window, with what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UnitOee {
    /// Unit.
    pub equipment: String,
    /// Window start (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub from: Timestamp,
    /// Window end (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub to: Timestamp,
    /// Seconds at the start of the window before the first recorded state, counted as idle.
    pub unrecorded_s: f64,
    /// Of the rejects: units scrapped, rejected by QA, or with a nonconformance.
    pub rejected_by_record: u64,
    /// Of the rejects: units whose latest lab results fail their product's specification
    /// (and not already counted in `rejected_by_record`).
    pub rejected_by_results: u64,
    /// The OEE and its losses.
    pub oee: Oee,
}

/// One measured value of a property, in time order.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Measurement {
    /// Lot measured.
    pub lot: String,
    /// Sample id.
    pub sample: Option<String>,
    /// When measured.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub at: Timestamp,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
}

impl Mes {
    /// OEE of `equipment` between `from` and `to` (RFC 3339), by the definition of
    /// [`crate::oee`] (docs/mes.md, "OEE"). Time comes from its state events (not scheduled and
    /// planned downtime are outside planned production time); the count is the units of the
    /// product made on it in the window — lots its steps produced (or scrapped) of their order's
    /// product, counted when made; residues and by-products of another definition are not
    /// units. A unit is a reject when it was scrapped, QA rejected it, a nonconformance was
    /// raised on it, or its latest lab results fail its product's specification. The ideal cycle time is the unit's `ideal_cycle_s`.
    pub async fn oee(&self, equipment: &str, from: &str, to: &str) -> Result<UnitOee> {
        let from = parse_timestamp("from", from)?;
        let to = parse_timestamp("to", to)?;
        if to <= from {
            return Err(MesError::invalid(
                "to",
                format!("'{to}'"),
                &format!("a time after from ({from})"),
            ));
        }
        let pool = self.db().pool();
        let unit = sqlx::query("SELECT ideal_cycle_s FROM equipment WHERE id = $1")
            .bind(equipment.to_string())
            .fetch_optional(pool)
            .await?
            .ok_or_else(|| MesError::not_found("equipment", equipment))?;
        let ideal: Option<f64> = unit.try_get("ideal_cycle_s")?;
        let ideal = ideal.ok_or_else(|| {
            MesError::invalid(
                &format!("equipment '{equipment}'.ideal_cycle_s"),
                "none",
                "an ideal cycle time in seconds (set it in the plant model) to compute performance",
            )
        })?;
        // The state in force at `from` is the last one recorded before it.
        let before = sqlx::query(
            "SELECT state FROM equipment_states WHERE equipment = $1 AND at <= $2 ORDER BY at DESC, seq DESC LIMIT 1",
        )
        .bind(equipment.to_string())
        .bind(from.clone())
        .fetch_optional(pool)
        .await?;
        let rows = sqlx::query(
            "SELECT state, at FROM equipment_states WHERE equipment = $1 AND at > $2 AND at < $3 ORDER BY at, seq",
        )
        .bind(equipment.to_string())
        .bind(from.clone())
        .bind(to.clone())
        .fetch_all(pool)
        .await?;
        let mut periods = Vec::new();
        let mut current: Option<(EquipmentState, Timestamp)> = match before {
            Some(row) => Some((
                parse_equipment_state(&row.try_get::<String, _>("state")?)?,
                from.clone(),
            )),
            None => None,
        };
        let mut unrecorded_s = 0.0;
        for row in &rows {
            let state = parse_equipment_state(&row.try_get::<String, _>("state")?)?;
            let at: String = row.try_get("at")?;
            match current.take() {
                Some((s, since)) => periods.push(StatePeriod {
                    state: s,
                    duration_s: seconds_between(&since, &at)?,
                }),
                None => unrecorded_s = seconds_between(&from, &at)?,
            }
            current = Some((state, at));
        }
        match current {
            Some((s, since)) => periods.push(StatePeriod {
                state: s,
                duration_s: seconds_between(&since, &to)?,
            }),
            None => unrecorded_s = seconds_between(&from, &to)?,
        }
        if unrecorded_s > 0.0 {
            periods.insert(
                0,
                StatePeriod {
                    state: EquipmentState::Idle,
                    duration_s: unrecorded_s,
                },
            );
        }
        let counts = self.unit_counts(equipment, &from, &to).await?;
        let oee = oee(&periods, &counts.0, ideal).map_err(|e| {
            MesError::invalid(
                "oee",
                e.to_string(),
                "a window with planned production time",
            )
        })?;
        Ok(UnitOee {
            equipment: equipment.to_string(),
            from,
            to,
            unrecorded_s,
            rejected_by_record: counts.1,
            rejected_by_results: counts.2,
            oee,
        })
    }

    /// Units of product made on `equipment` in [`from`, `to`) and how many are rejects: (counts,
    /// rejects by the record, rejects by lab results). One aggregate query: the limits of the
    /// products' latest specifications are bound into it as a VALUES table, so no lot or result
    /// row is read back (the Any driver's per-row cost dominated when they were).
    async fn unit_counts(
        &self,
        equipment: &str,
        from: &str,
        to: &str,
    ) -> Result<(ProductionCounts, u64, u64)> {
        let pool = self.db().pool();
        // The latest specification of each product made in the window (few rows; binding only
        // these keeps the query's parameters few whatever the size of the catalogue).
        let specs = sqlx::query(concat!(
            "SELECT sp.* FROM specifications sp WHERE sp.definition IN (SELECT l.definition ",
            units_of_equipment!(),
            ") AND sp.version = (SELECT MAX(s2.version) FROM specifications s2 WHERE s2.definition = sp.definition)"
        ))
        .bind(equipment.to_string())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(pool)
        .await?;
        let mut limits: Vec<(String, SpecLimit)> = Vec::new();
        for row in &specs {
            let spec = specification_from_row(row)?;
            for l in spec.limits {
                if l.min.is_some() || l.max.is_some() {
                    limits.push((spec.definition.clone(), l));
                }
            }
        }
        // The lab's verdict: a unit fails when the latest result of a limited property, in the
        // limit's unit, is outside the limit (a result in another unit cannot be judged against
        // it; no result yet is no verdict).
        let by_results = if limits.is_empty() {
            "0".to_string()
        } else {
            let rows: Vec<String> = (0..limits.len())
                .map(|i| {
                    let p = 4 + 5 * i;
                    format!(
                        "(${p}, ${}, ${}, CAST(${} AS DOUBLE PRECISION), CAST(${} AS DOUBLE PRECISION))",
                        p + 1,
                        p + 2,
                        p + 3,
                        p + 4
                    )
                })
                .collect();
            format!(
                "SELECT CAST(COUNT(DISTINCT r.lot) AS BIGINT) FROM u \
                 JOIN results r ON r.lot = u.id \
                 JOIN (VALUES {}) lim ON lim.column1 = u.definition AND lim.column2 = r.property AND lim.column3 = r.unit \
                 WHERE u.by_record = 0 AND (r.value < lim.column4 OR r.value > lim.column5) \
                   AND NOT EXISTS (SELECT 1 FROM results r2 WHERE r2.lot = r.lot AND r2.property = r.property AND r2.seq > r.seq)",
                rows.join(", ")
            )
        };
        let sql = format!(
            "WITH u AS MATERIALIZED (SELECT l.id, l.definition, {RECORD_REJECT} AS by_record {}) \
             SELECT (SELECT CAST(COUNT(*) AS BIGINT) FROM u) AS total, \
                    (SELECT CAST(COALESCE(SUM(by_record), 0) AS BIGINT) FROM u) AS by_record, \
                    ({by_results}) AS by_results",
            units_of_equipment!()
        );
        // Only placeholders are formatted in; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(equipment.to_string())
            .bind(from.to_string())
            .bind(to.to_string());
        for (definition, limit) in limits {
            query = query
                .bind(definition)
                .bind(limit.property)
                .bind(limit.unit)
                .bind(limit.min)
                .bind(limit.max);
        }
        let row = query.fetch_one(pool).await?;
        let total: i64 = row.try_get("total")?;
        let by_record: i64 = row.try_get("by_record")?;
        let by_results: i64 = row.try_get("by_results")?;
        let (total, by_record, by_results) = (total as u64, by_record as u64, by_results as u64);
        let counts = ProductionCounts::from_rejects(total, by_record + by_results)
            .map_err(|e| MesError::Corrupt(e.to_string()))?;
        Ok((counts, by_record, by_results))
    }

    /// The latest result of `property` of every lot of `definition`, in time order (a
    /// corrected result replaces the original in the series; both stay in the record).
    pub async fn measurements(&self, definition: &str, property: &str) -> Result<Vec<Measurement>> {
        let rows = sqlx::query(
            "SELECT r.lot, r.sample, r.at, r.value, r.unit FROM results r JOIN lots l ON l.id = r.lot \
             WHERE l.definition = $1 AND r.property = $2 \
               AND r.seq = (SELECT MAX(r2.seq) FROM results r2 WHERE r2.lot = r.lot AND r2.property = r.property) \
             ORDER BY r.at, r.seq",
        )
        .bind(definition.to_string())
        .bind(property.to_string())
        .fetch_all(self.db().pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(Measurement {
                    lot: r.try_get("lot")?,
                    sample: r.try_get("sample")?,
                    at: r.try_get("at")?,
                    value: r.try_get("value")?,
                    unit: r.try_get("unit")?,
                })
            })
            .collect()
    }
}
