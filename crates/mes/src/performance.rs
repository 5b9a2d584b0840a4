//! Performance analysis from the record: OEE of a unit over a window (state events and
//! production counts), and the measured series of a property for SPC.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;

use crate::error::{MesError, Result};
use crate::model::{parse_timestamp, seconds_between, EquipmentState, Specification, Timestamp};
use crate::oee::{oee, Oee, ProductionCounts, StatePeriod};
use crate::projection::parse_equipment_state;
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
    /// Of the rejects: units scrapped, rejected by QA, or with a nonconformance (on the lot or
    /// a lot split from it).
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
    /// raised on it or on a lot split from it, or its latest lab results fail its product's
    /// specification. The ideal cycle time is the unit's `ideal_cycle_s`.
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
    /// rejects by the record, rejects by lab results).
    async fn unit_counts(
        &self,
        equipment: &str,
        from: &str,
        to: &str,
    ) -> Result<(ProductionCounts, u64, u64)> {
        let pool = self.db().pool();
        let units = sqlx::query(concat!(
            "SELECT l.id, l.definition, \
                CAST(CASE WHEN sl.material_use = 'scrap' OR l.disposition = 'rejected' \
                  OR EXISTS (SELECT 1 FROM nonconformances n WHERE n.lot = l.id) \
                  OR EXISTS (SELECT 1 FROM step_lots si \
                       JOIN steps ss ON ss.id = si.step AND ss.kind = 'split' \
                       JOIN step_lots so ON so.step = si.step AND so.direction = 'out' \
                       JOIN lots d ON d.id = so.lot \
                       WHERE si.lot = l.id AND si.direction = 'in' \
                         AND (d.disposition = 'rejected' \
                              OR EXISTS (SELECT 1 FROM nonconformances n2 WHERE n2.lot = d.id))) \
                THEN 1 ELSE 0 END AS BIGINT) AS rejected ",
            units_of_equipment!()
        ))
        .bind(equipment.to_string())
        .bind(from.to_string())
        .bind(to.to_string())
        .fetch_all(pool)
        .await?;
        let mut to_judge: BTreeMap<String, String> = BTreeMap::new();
        let mut by_record = 0u64;
        for row in &units {
            let rejected: i64 = row.try_get("rejected")?;
            if rejected != 0 {
                by_record += 1;
            } else {
                to_judge.insert(row.try_get("id")?, row.try_get("definition")?);
            }
        }
        // The lab's verdict: the latest result of each property against the specification of
        // the unit's product (a result in another unit cannot be judged; none yet is no verdict).
        let mut by_results = 0u64;
        if !to_judge.is_empty() {
            let mut specs: BTreeMap<String, Option<Specification>> = BTreeMap::new();
            for definition in to_judge.values() {
                if !specs.contains_key(definition) {
                    specs.insert(definition.clone(), self.specification(definition).await?);
                }
            }
            if specs.values().any(Option::is_some) {
                let rows = sqlx::query(concat!(
                    "SELECT r.lot, r.property, r.value, r.unit FROM results r \
                     WHERE r.lot IN (SELECT l.id ",
                    units_of_equipment!(),
                    ") ORDER BY r.seq"
                ))
                .bind(equipment.to_string())
                .bind(from.to_string())
                .bind(to.to_string())
                .fetch_all(pool)
                .await?;
                let mut latest: BTreeMap<(String, String), (f64, String)> = BTreeMap::new();
                for r in &rows {
                    latest.insert(
                        (r.try_get("lot")?, r.try_get("property")?),
                        (r.try_get("value")?, r.try_get("unit")?),
                    );
                }
                for (lot, definition) in &to_judge {
                    let Some(spec) = &specs[definition] else {
                        continue;
                    };
                    let fails = spec.limits.iter().any(|limit| {
                        match latest.get(&(lot.clone(), limit.property.clone())) {
                            Some((value, unit)) if *unit == limit.unit => {
                                limit.min.is_some_and(|lo| *value < lo)
                                    || limit.max.is_some_and(|hi| *value > hi)
                            }
                            _ => false,
                        }
                    });
                    if fails {
                        by_results += 1;
                    }
                }
            }
        }
        let counts = ProductionCounts::from_rejects(units.len() as u64, by_record + by_results)
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
