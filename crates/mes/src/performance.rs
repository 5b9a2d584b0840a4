//! Performance analysis from the record: OEE of a unit over a window (state events and
//! production counts), and the measured series of a property for SPC.

use serde::Serialize;
use sqlx::Row;

use crate::error::{MesError, Result};
use crate::model::{parse_timestamp, seconds_between, EquipmentState, Timestamp};
use crate::oee::{oee, Oee, ProductionCounts, StatePeriod};
use crate::projection::parse_equipment_state;
use crate::service::Mes;

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
    /// OEE of `equipment` between `from` and `to` (RFC 3339). Availability comes from its state
    /// events; the count is the lots produced on it in the window (product and scrap outputs of
    /// its steps); rejects are scrap outputs and rejected lots; the ideal cycle time is the
    /// unit's `ideal_cycle_s`.
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
        let counts = sqlx::query(
            "SELECT CAST(COUNT(*) AS BIGINT) AS total, \
                    CAST(COALESCE(SUM(CASE WHEN sl.material_use = 'scrap' OR l.disposition = 'rejected' THEN 1 ELSE 0 END), 0) AS BIGINT) AS rejects \
             FROM step_lots sl JOIN steps s ON s.id = sl.step JOIN lots l ON l.id = sl.lot \
             WHERE s.equipment = $1 AND sl.direction = 'out' AND sl.material_use IN ('produced', 'scrap') \
               AND sl.at >= $2 AND sl.at < $3",
        )
        .bind(equipment.to_string())
        .bind(from.clone())
        .bind(to.clone())
        .fetch_one(pool)
        .await?;
        let total: i64 = counts.try_get("total")?;
        let rejects: i64 = counts.try_get("rejects")?;
        let counts = ProductionCounts::from_rejects(total as u64, rejects as u64)
            .map_err(|e| MesError::Corrupt(e.to_string()))?;
        let oee = oee(&periods, &counts, ideal).map_err(|e| {
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
            oee,
        })
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
