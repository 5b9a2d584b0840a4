//! Projections: the current-state tables, updated by [`apply`] from each event in the same
//! transaction that records it, and rebuilt from the event log by replaying [`apply`].
//! Readers here work on any executor (pool or transaction).

use sqlx::any::AnyRow;
use sqlx::{Any, Executor, Row};
use std::collections::BTreeMap;

use crate::error::{MesError, Result};
use crate::event::Event;
use crate::model::{
    Disposition, EquipmentState, JobOrder, LotStatus, MaterialLot, MaterialUse, OrderState, Role,
    StepKind, User,
};

/// Quantities within this many kg of zero count as empty (float dust from many draws).
pub const EMPTY_KG: f64 = 1e-9;

fn composition_json(composition: &BTreeMap<String, f64>) -> String {
    serde_json::to_string(composition).unwrap_or_else(|_| "{}".into())
}

/// Reads a lot row.
pub fn lot_from_row(row: &AnyRow) -> Result<MaterialLot> {
    let status: String = row.try_get("status")?;
    let disposition: String = row.try_get("disposition")?;
    let composition: String = row.try_get("composition")?;
    Ok(MaterialLot {
        id: row.try_get("id")?,
        definition: row.try_get("definition")?,
        quantity_kg: row.try_get("quantity_kg")?,
        initial_kg: row.try_get("initial_kg")?,
        status: crate::db::stored(LotStatus::parse, "lots.status", &status)?,
        disposition: crate::db::stored(Disposition::parse, "lots.disposition", &disposition)?,
        location: row.try_get("location")?,
        supplier_lot: row.try_get("supplier_lot")?,
        composition_wt_pct: serde_json::from_str(&composition)
            .map_err(|e| MesError::Corrupt(format!("lots.composition '{composition}': {e}")))?,
        created_at: row.try_get("created_at")?,
    })
}

/// The lot, if it exists.
pub async fn find_lot<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: &str,
) -> Result<Option<MaterialLot>> {
    let row = sqlx::query("SELECT * FROM lots WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(lot_from_row).transpose()
}

/// Reads an order row.
pub fn order_from_row(row: &AnyRow) -> Result<JobOrder> {
    let state: String = row.try_get("state")?;
    let held_from: Option<String> = row.try_get("held_from")?;
    Ok(JobOrder {
        id: row.try_get("id")?,
        work_master: row.try_get("work_master")?,
        work_master_version: row.try_get("work_master_version")?,
        product: row.try_get("product")?,
        planned_kg: row.try_get("planned_kg")?,
        equipment: row.try_get("equipment")?,
        state: crate::db::stored(OrderState::parse, "orders.state", &state)?,
        held_from: held_from
            .map(|s| crate::db::stored(OrderState::parse, "orders.held_from", &s))
            .transpose()?,
        priority: row.try_get("priority")?,
        created_at: row.try_get("created_at")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// The order, if it exists.
pub async fn find_order<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: &str,
) -> Result<Option<JobOrder>> {
    let row = sqlx::query("SELECT * FROM orders WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    row.as_ref().map(order_from_row).transpose()
}

/// A user's password as stored, outside the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredCredential {
    /// argon2 PHC string (empty when none is stored: no password verifies).
    pub password_hash: String,
    /// Set by an administrator's reset: the user must choose a new password.
    pub must_change: bool,
}

/// A user with the stored credential.
pub async fn find_user<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: &str,
) -> Result<Option<(User, StoredCredential)>> {
    let row = sqlx::query(
        "SELECT u.id AS id, u.name AS name, u.roles AS roles, u.active AS active, \
         COALESCE(c.password_hash, '') AS hash, CAST(COALESCE(c.must_change, 0) AS BIGINT) AS must_change \
         FROM users u LEFT JOIN credentials c ON c.user_id = u.id WHERE u.id = $1",
    )
        .bind(id.to_string())
        .fetch_optional(db)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let roles: String = row.try_get("roles")?;
    let active: i64 = row.try_get("active")?;
    let roles = roles
        .split(',')
        .filter(|r| !r.is_empty())
        .map(|r| crate::db::stored(Role::parse, "users.roles", r))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some((
        User {
            id: row.try_get("id")?,
            name: row.try_get("name")?,
            roles,
            active: active != 0,
        },
        StoredCredential {
            password_hash: row.try_get("hash")?,
            must_change: row.try_get::<i64, _>("must_change")? != 0,
        },
    )))
}

/// Whether a row with this id exists in `table` (a fixed table name, never user input).
pub async fn exists<'e, E: Executor<'e, Database = Any>>(
    db: E,
    table: &'static str,
    id: &str,
) -> Result<bool> {
    let sql = format!("SELECT 1 AS one FROM {table} WHERE id = $1");
    Ok(sqlx::query(sqlx::AssertSqlSafe(sql.as_str()))
        .bind(id.to_string())
        .fetch_optional(db)
        .await?
        .is_some())
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Takes `kg` from a lot's quantity, marking it consumed when nothing is left. The update is
/// guarded (on hand, not held or rejected, enough in it), so the check and the draw are one
/// statement; when the guard fails the lot is untouched and the error says so.
pub async fn draw<'e, E: Executor<'e, Database = Any>>(db: E, lot: &str, kg: f64) -> Result<()> {
    let done = sqlx::query(
        "UPDATE lots SET \
           quantity_kg = CASE WHEN quantity_kg - $1 <= $2 THEN 0.0 ELSE quantity_kg - $1 END, \
           status = CASE WHEN quantity_kg - $1 <= $2 THEN 'consumed' ELSE status END \
         WHERE id = $3 AND status = 'available' AND disposition IN ('pending', 'released') \
           AND quantity_kg >= $1 - $2",
    )
    .bind(kg)
    .bind(EMPTY_KG)
    .bind(lot.to_string())
    .execute(db)
    .await?;
    if done.rows_affected() == 0 {
        return Err(MesError::DrawRefused {
            lot: lot.to_string(),
            requested_kg: kg,
        });
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
async fn insert_lot<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: &str,
    definition: &str,
    quantity_kg: f64,
    disposition: Disposition,
    location: Option<&str>,
    supplier_lot: Option<&str>,
    composition: &BTreeMap<String, f64>,
    at: &str,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO lots (id, definition, quantity_kg, initial_kg, status, disposition, location, supplier_lot, composition, created_at) \
         VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id.to_string())
    .bind(definition.to_string())
    .bind(quantity_kg)
    .bind(LotStatus::Available.as_str())
    .bind(disposition.as_str())
    .bind(location.map(str::to_string))
    .bind(supplier_lot.map(str::to_string))
    .bind(composition_json(composition))
    .bind(at.to_string())
    .execute(db)
    .await
    .map_err(|e| match e.as_database_error() {
        // The primary key is the check that a new lot id is new (one statement, no read).
        Some(d) if d.is_unique_violation() => MesError::AlreadyExists {
            kind: "lot",
            id: id.to_string(),
        },
        _ => MesError::from(e),
    })?;
    Ok(())
}

/// Writes a batch defers to its end: genealogy edges (multi-row inserts) and stock draws of
/// consumption records (summed per lot, one guarded update each).
#[derive(Debug, Default)]
pub struct Deferred {
    /// Genealogy edges.
    pub step_lots: Vec<StepLotRow>,
    /// Draws: lot, kg.
    pub draws: Vec<(String, f64)>,
    /// Chemistry of lots produced in this batch, as stored (saves re-reading a lot when an
    /// assay repeats what is already there).
    pub compositions: std::collections::HashMap<String, BTreeMap<String, f64>>,
}

/// A genealogy edge waiting to be written: step_lots rows are buffered and written in
/// multi-row inserts when the batch commits (nothing reads them inside a batch).
#[derive(Debug, Clone)]
pub struct StepLotRow {
    /// Step id.
    pub step: String,
    /// Lot id.
    pub lot: String,
    /// `in` or `out`.
    pub direction: &'static str,
    /// Material use.
    pub material_use: MaterialUse,
    /// Quantity, kg.
    pub quantity_kg: f64,
    /// When.
    pub at: String,
    /// Event that recorded it.
    pub seq: i64,
}

#[allow(clippy::too_many_arguments)]
fn insert_step_lot(
    rows: &mut Vec<StepLotRow>,
    step: &str,
    lot: &str,
    direction: &'static str,
    material_use: MaterialUse,
    quantity_kg: f64,
    at: &str,
    seq: i64,
) {
    rows.push(StepLotRow {
        step: step.to_string(),
        lot: lot.to_string(),
        direction,
        material_use,
        quantity_kg,
        at: at.to_string(),
        seq,
    });
}

async fn insert_step<'e, E: Executor<'e, Database = Any>>(
    db: E,
    id: &str,
    kind: StepKind,
    order: Option<&str>,
    equipment: Option<&str>,
    started_at: &str,
    ended_at: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO steps (id, kind, order_id, equipment, started_at, ended_at) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(id.to_string())
    .bind(kind.as_str())
    .bind(order.map(str::to_string))
    .bind(equipment.map(str::to_string))
    .bind(started_at.to_string())
    .bind(ended_at.map(str::to_string))
    .execute(db)
    .await?;
    Ok(())
}

/// Brings the projections up to date with one event (number `seq`).
pub async fn apply(
    tx: &mut sqlx::AnyConnection,
    deferred: &mut Deferred,
    event: &Event,
    seq: i64,
) -> Result<()> {
    match event {
        Event::EquipmentDefined(e) => {
            sqlx::query(
                "INSERT INTO equipment (id, name, level, parent, ideal_cycle_s) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, level = excluded.level, \
                 parent = excluded.parent, ideal_cycle_s = excluded.ideal_cycle_s",
            )
            .bind(e.id.clone())
            .bind(e.name.clone())
            .bind(e.level.as_str())
            .bind(e.parent.clone())
            .bind(e.ideal_cycle_s)
            .execute(&mut *tx)
            .await?;
        }
        Event::MaterialClassDefined { id, name, receipt } => {
            sqlx::query(
                "INSERT INTO material_classes (id, name, receipt) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, receipt = excluded.receipt",
            )
            .bind(id.clone())
            .bind(name.clone())
            .bind(receipt.as_str())
            .execute(&mut *tx)
            .await?;
        }
        Event::MaterialDefinitionDefined(d) => {
            sqlx::query(
                "INSERT INTO material_definitions (id, name, class) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, class = excluded.class",
            )
            .bind(d.id.clone())
            .bind(d.name.clone())
            .bind(d.class.clone())
            .execute(&mut *tx)
            .await?;
        }
        Event::ProcessSegmentDefined {
            id,
            name,
            equipment_level,
        } => {
            sqlx::query(
                "INSERT INTO process_segments (id, name, equipment_level) VALUES ($1, $2, $3) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, equipment_level = excluded.equipment_level",
            )
            .bind(id.clone())
            .bind(name.clone())
            .bind(equipment_level.map(|l| l.as_str()))
            .execute(&mut *tx)
            .await?;
        }
        Event::WorkMasterDefined {
            id,
            version,
            segment,
            product,
            bill_kg_per_kg,
            parameters,
        } => {
            sqlx::query(
                "INSERT INTO work_masters (id, version, segment, product, bill, parameters) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id.clone())
            .bind(*version)
            .bind(segment.clone())
            .bind(product.clone())
            .bind(serde_json::to_string(bill_kg_per_kg).unwrap_or_default())
            .bind(serde_json::to_string(parameters).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
        }
        Event::UserCreated {
            id,
            name,
            roles,
            password_hash,
        } => {
            // users.password_hash is no longer read: credentials live in their own table.
            sqlx::query(
                "INSERT INTO users (id, name, roles, password_hash, active) VALUES ($1, $2, $3, '', 1)",
            )
            .bind(id.clone())
            .bind(name.clone())
            .bind(roles_text(roles))
            .execute(&mut *tx)
            .await?;
            if let Some(hash) = password_hash {
                // An event from before credentials left the chain: its hash stands only if
                // no later password was set (a rebuild keeps the credentials table).
                sqlx::query(
                    "INSERT INTO credentials (user_id, password_hash, must_change, changed_at) \
                     VALUES ($1, $2, 0, '1970-01-01T00:00:00.000000Z') ON CONFLICT (user_id) DO NOTHING",
                )
                .bind(id.clone())
                .bind(hash.clone())
                .execute(&mut *tx)
                .await?;
            }
        }
        // The hash itself is written at commit, outside the chain.
        Event::PasswordChanged { .. } | Event::PasswordReset { .. } => {}
        Event::UserRolesSet { id, roles, active } => {
            sqlx::query("UPDATE users SET roles = $1, active = $2 WHERE id = $3")
                .bind(roles_text(roles))
                .bind(*active as i64)
                .bind(id.clone())
                .execute(&mut *tx)
                .await?;
        }
        Event::LotReceived {
            lot,
            definition,
            quantity_kg,
            supplier_lot,
            location,
            composition_wt_pct,
            disposition,
            at,
        } => {
            insert_lot(
                &mut *tx,
                lot,
                definition,
                *quantity_kg,
                *disposition,
                location.as_deref(),
                supplier_lot.as_deref(),
                composition_wt_pct,
                at,
            )
            .await?;
        }
        Event::LotSplit {
            step,
            source,
            definition,
            parts,
            composition_wt_pct,
            disposition,
            location,
            at,
        } => {
            insert_step(&mut *tx, step, StepKind::Split, None, None, at, Some(at)).await?;
            let total: f64 = parts.iter().map(|p| p.quantity_kg).sum();
            draw(&mut *tx, source, total).await?;
            insert_step_lot(
                &mut deferred.step_lots,
                step,
                source,
                "in",
                MaterialUse::Consumed,
                total,
                at,
                seq,
            );
            for part in parts {
                insert_lot(
                    &mut *tx,
                    &part.lot,
                    definition,
                    part.quantity_kg,
                    *disposition,
                    location.as_deref(),
                    None,
                    composition_wt_pct,
                    at,
                )
                .await?;
                insert_step_lot(
                    &mut deferred.step_lots,
                    step,
                    &part.lot,
                    "out",
                    MaterialUse::Produced,
                    part.quantity_kg,
                    at,
                    seq,
                );
            }
        }
        Event::LotsMerged {
            step,
            sources,
            lot,
            definition,
            composition_wt_pct,
            disposition,
            location,
            at,
        } => {
            insert_step(&mut *tx, step, StepKind::Merge, None, None, at, Some(at)).await?;
            let mut total = 0.0;
            for source in sources {
                draw(&mut *tx, &source.lot, source.quantity_kg).await?;
                insert_step_lot(
                    &mut deferred.step_lots,
                    step,
                    &source.lot,
                    "in",
                    MaterialUse::Consumed,
                    source.quantity_kg,
                    at,
                    seq,
                );
                total += source.quantity_kg;
            }
            insert_lot(
                &mut *tx,
                lot,
                definition,
                total,
                *disposition,
                location.as_deref(),
                None,
                composition_wt_pct,
                at,
            )
            .await?;
            insert_step_lot(
                &mut deferred.step_lots,
                step,
                lot,
                "out",
                MaterialUse::Produced,
                total,
                at,
                seq,
            );
        }
        Event::LotMoved { lot, to, .. } => {
            sqlx::query("UPDATE lots SET location = $1 WHERE id = $2")
                .bind(to.clone())
                .bind(lot.clone())
                .execute(&mut *tx)
                .await?;
        }
        Event::LotShipped {
            lot,
            customer,
            quantity_kg,
            at,
        } => {
            sqlx::query("UPDATE lots SET quantity_kg = 0.0, status = 'shipped' WHERE id = $1")
                .bind(lot.clone())
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO shipments (lot, customer, quantity_kg, at, seq) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(lot.clone())
            .bind(customer.clone())
            .bind(*quantity_kg)
            .bind(at.clone())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        Event::LotScrapped {
            lot, quantity_kg, ..
        } => {
            sqlx::query(
                "UPDATE lots SET \
                   quantity_kg = CASE WHEN quantity_kg - $1 <= $2 THEN 0.0 ELSE quantity_kg - $1 END, \
                   status = CASE WHEN quantity_kg - $1 <= $2 THEN 'scrapped' ELSE status END \
                 WHERE id = $3",
            )
            .bind(*quantity_kg)
            .bind(EMPTY_KG)
            .bind(lot.clone())
            .execute(&mut *tx)
            .await?;
        }
        Event::OrderCreated {
            id,
            work_master,
            work_master_version,
            product,
            planned_kg,
            equipment,
            priority,
            at,
        } => {
            sqlx::query(
                "INSERT INTO orders (id, work_master, work_master_version, product, planned_kg, equipment, state, priority, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(id.clone())
            .bind(work_master.clone())
            .bind(*work_master_version)
            .bind(product.clone())
            .bind(*planned_kg)
            .bind(equipment.clone())
            .bind(OrderState::Planned.as_str())
            .bind(*priority)
            .bind(at.clone())
            .execute(&mut *tx)
            .await?;
        }
        Event::OrderStateChanged {
            order,
            from,
            to,
            equipment,
            at,
            ..
        } => {
            let held_from = (*to == OrderState::Held).then(|| from.as_str().to_string());
            sqlx::query(
                "UPDATE orders SET state = $1, held_from = $2, equipment = COALESCE($3, equipment), \
                   started_at = CASE WHEN $1 = 'running' AND started_at IS NULL THEN $4 ELSE started_at END, \
                   ended_at = CASE WHEN $1 IN ('completed', 'aborted', 'cancelled') THEN $4 ELSE ended_at END \
                 WHERE id = $5",
            )
            .bind(to.as_str())
            .bind(held_from)
            .bind(equipment.clone())
            .bind(at.clone())
            .bind(order.clone())
            .execute(&mut *tx)
            .await?;
            if *to == OrderState::Running && *from != OrderState::Held {
                // One statement: the step takes the order's unit without a read round trip.
                sqlx::query(
                    "INSERT INTO steps (id, kind, order_id, equipment, started_at) \
                     SELECT id, 'order', id, equipment, $1 FROM orders WHERE id = $2 \
                     ON CONFLICT (id) DO NOTHING",
                )
                .bind(at.clone())
                .bind(order.clone())
                .execute(&mut *tx)
                .await?;
            }
            if matches!(to, OrderState::Completed | OrderState::Aborted) {
                sqlx::query("UPDATE steps SET ended_at = $1 WHERE id = $2")
                    .bind(at.clone())
                    .bind(order.clone())
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Event::MaterialConsumed {
            order,
            lot,
            quantity_kg,
            at,
        } => {
            // The stock draw is deferred to the end of the batch (summed per lot).
            deferred.draws.push((lot.clone(), *quantity_kg));
            insert_step_lot(
                &mut deferred.step_lots,
                order,
                lot,
                "in",
                MaterialUse::Consumed,
                *quantity_kg,
                at,
                seq,
            );
        }
        Event::MaterialProduced {
            order,
            lot,
            definition,
            quantity_kg,
            material_use,
            composition_wt_pct,
            location,
            at,
        } => {
            insert_lot(
                &mut *tx,
                lot,
                definition,
                *quantity_kg,
                Disposition::Pending,
                location.as_deref(),
                None,
                composition_wt_pct,
                at,
            )
            .await?;
            deferred
                .compositions
                .insert(lot.clone(), composition_wt_pct.clone());
            insert_step_lot(
                &mut deferred.step_lots,
                order,
                lot,
                "out",
                *material_use,
                *quantity_kg,
                at,
                seq,
            );
        }
        Event::ContinuousFed {
            equipment,
            lot,
            quantity_kg,
            from,
            to,
        } => {
            draw(&mut *tx, lot, *quantity_kg).await?;
            sqlx::query(
                "INSERT INTO continuous_feeds (equipment, lot, quantity_kg, from_at, to_at, seq) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(equipment.clone())
            .bind(lot.clone())
            .bind(*quantity_kg)
            .bind(from.clone())
            .bind(to.clone())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
        }
        Event::ContinuousOutput {
            step,
            equipment,
            lot,
            definition,
            quantity_kg,
            from,
            to,
            draws,
            composition_wt_pct,
            ..
        } => {
            insert_step(
                &mut *tx,
                step,
                StepKind::Continuous,
                None,
                Some(equipment),
                from,
                Some(to),
            )
            .await?;
            for d in draws {
                insert_step_lot(
                    &mut deferred.step_lots,
                    step,
                    &d.lot,
                    "in",
                    MaterialUse::Consumed,
                    d.quantity_kg,
                    from,
                    seq,
                );
            }
            insert_lot(
                &mut *tx,
                lot,
                definition,
                *quantity_kg,
                Disposition::Pending,
                None,
                None,
                composition_wt_pct,
                to,
            )
            .await?;
            insert_step_lot(
                &mut deferred.step_lots,
                step,
                lot,
                "out",
                MaterialUse::Produced,
                *quantity_kg,
                to,
                seq,
            );
        }
        Event::EquipmentStateSet {
            equipment,
            state,
            cause,
            at,
        } => {
            sqlx::query(
                "INSERT INTO equipment_states (equipment, at, state, reason, seq) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(equipment.clone())
            .bind(at.clone())
            .bind(equipment_state_text(*state))
            .bind(cause.clone())
            .bind(seq)
            .execute(&mut *tx)
            .await?;
            sqlx::query("UPDATE equipment SET state = $1, state_since = $2 WHERE id = $3")
                .bind(equipment_state_text(*state))
                .bind(at.clone())
                .bind(equipment.clone())
                .execute(&mut *tx)
                .await?;
        }
        Event::LotHeld { lot, .. } => set_disposition(tx, lot, Disposition::Held).await?,
        Event::LotReleased { lot, .. } => set_disposition(tx, lot, Disposition::Released).await?,
        Event::LotsReleased { lots, .. } => {
            // One statement per 500 lots: a shift's release names hundreds of drums.
            for chunk in lots.chunks(500) {
                let mut sql = String::from("UPDATE lots SET disposition = 'released' WHERE id IN ");
                // Numbered placeholders work on both backends (see ResultsRecorded).
                crate::db::push_placeholders(
                    crate::db::Backend::Postgres,
                    &mut sql,
                    1,
                    chunk.len(),
                );
                let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                for r in chunk {
                    query = query.bind(r.lot.clone());
                }
                query.execute(&mut *tx).await?;
            }
        }
        Event::LotRejected { lot, .. } => set_disposition(tx, lot, Disposition::Rejected).await?,
        Event::SpecificationDefined {
            definition,
            version,
            name,
            limits,
            sampling,
            at,
        } => {
            sqlx::query(
                "INSERT INTO specifications (definition, version, name, limits, sampling, defined_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(definition.clone())
            .bind(*version)
            .bind(name.clone())
            .bind(serde_json::to_string(limits).unwrap_or_default())
            .bind(serde_json::to_string(sampling).unwrap_or_default())
            .bind(at.clone())
            .execute(&mut *tx)
            .await?;
        }
        Event::ResultRecorded {
            lot,
            sample,
            property,
            value,
            unit,
            method,
            at,
            ..
        } => {
            let row = ResultRow {
                seq,
                lot,
                sample,
                method,
                at,
            };
            insert_result(tx, deferred, &row, property, *value, unit).await?;
        }
        Event::ResultsRecorded {
            lot,
            sample,
            method,
            results,
            at,
        } => {
            // One multi-row insert and at most one chemistry update for the whole report.
            let mut sql = String::from(
                "INSERT INTO results (seq, lot, sample, property, value, unit, method, at) VALUES ",
            );
            // Numbered placeholders: the projection runs on either backend, and SQLite reads
            // `$N` as well.
            crate::db::push_placeholders(crate::db::Backend::Postgres, &mut sql, results.len(), 8);
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for r in results {
                query = query
                    .bind(seq)
                    .bind(lot.clone())
                    .bind(sample.clone())
                    .bind(r.property.clone())
                    .bind(r.value)
                    .bind(r.unit.clone())
                    .bind(method.clone())
                    .bind(at.clone());
            }
            query.execute(&mut *tx).await?;
            let assays: Vec<(&String, f64)> = results
                .iter()
                .filter(|r| {
                    r.unit == "wt%" && lodestone_chem::Element::from_symbol(&r.property).is_ok()
                })
                .map(|r| (&r.property, r.value))
                .collect();
            if !assays.is_empty() {
                update_assayed_chemistry(tx, deferred, lot, &assays).await?;
            }
        }
        Event::NonconformanceRaised {
            id,
            lot,
            description,
            severity,
            lot_disposition_before,
            at,
        } => {
            sqlx::query(
                "INSERT INTO nonconformances (id, lot, description, severity, state, opened_at) VALUES ($1, $2, $3, $4, 'open', $5)",
            )
            .bind(id.clone())
            .bind(lot.clone())
            .bind(description.clone())
            .bind(severity.as_str())
            .bind(at.clone())
            .execute(&mut *tx)
            .await?;
            // A nonconforming lot is held until QA decides (a rejected one stays rejected).
            if *lot_disposition_before != Disposition::Rejected {
                set_disposition(tx, lot, Disposition::Held).await?;
            }
        }
        Event::NonconformanceClosed {
            id, decision, at, ..
        } => {
            sqlx::query(
                "UPDATE nonconformances SET state = 'closed', decision = $1, closed_at = $2 WHERE id = $3",
            )
            .bind(decision.as_str())
            .bind(at.clone())
            .bind(id.clone())
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

/// What the results of one report share.
struct ResultRow<'a> {
    seq: i64,
    lot: &'a String,
    sample: &'a Option<String>,
    method: &'a Option<String>,
    at: &'a String,
}

/// Stores one result; an element's wt% becomes the lot's chemistry (element balances use it).
async fn insert_result(
    tx: &mut sqlx::AnyConnection,
    deferred: &mut Deferred,
    row: &ResultRow<'_>,
    property: &String,
    value: f64,
    unit: &String,
) -> Result<()> {
    let lot = row.lot;
    sqlx::query(
        "INSERT INTO results (seq, lot, sample, property, value, unit, method, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(row.seq)
    .bind(lot.clone())
    .bind(row.sample.clone())
    .bind(property.clone())
    .bind(value)
    .bind(unit.clone())
    .bind(row.method.clone())
    .bind(row.at.clone())
    .execute(&mut *tx)
    .await?;
    if unit == "wt%" && lodestone_chem::Element::from_symbol(property).is_ok() {
        update_assayed_chemistry(tx, deferred, lot, &[(property, value)]).await?;
    }
    Ok(())
}

/// Assayed element contents (wt%) become the lot's chemistry (element balances use it), and
/// that of the lots split from it that have no result of their own for the element: a heat
/// and its drums never disagree about chemistry.
async fn update_assayed_chemistry(
    tx: &mut sqlx::AnyConnection,
    deferred: &mut Deferred,
    lot: &String,
    assays: &[(&String, f64)],
) -> Result<()> {
    set_assayed_chemistry(tx, deferred, lot, assays).await?;
    if !deferred.step_lots.is_empty() {
        // The splits of this batch must be visible to find the sublots.
        let rows = std::mem::take(&mut deferred.step_lots);
        crate::db::write_step_lots(tx, crate::db::Backend::Postgres, &rows).await?;
    }
    let mut pending = split_children(tx, lot).await?;
    let mut visited = std::collections::HashSet::new();
    while let Some(child) = pending.pop() {
        if !visited.insert(child.clone()) {
            continue;
        }
        let own: std::collections::HashSet<String> =
            sqlx::query("SELECT DISTINCT property FROM results WHERE lot = $1")
                .bind(child.clone())
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| r.try_get("property"))
                .collect::<std::result::Result<_, _>>()?;
        let inherited: Vec<(&String, f64)> = assays
            .iter()
            .filter(|(property, _)| !own.contains(*property))
            .copied()
            .collect();
        if !inherited.is_empty() {
            set_assayed_chemistry(tx, deferred, &child, &inherited).await?;
            pending.extend(split_children(tx, &child).await?);
        }
    }
    Ok(())
}

/// Overwrites the named elements of one lot's chemistry.
async fn set_assayed_chemistry(
    tx: &mut sqlx::AnyConnection,
    deferred: &mut Deferred,
    lot: &String,
    assays: &[(&String, f64)],
) -> Result<()> {
    let known = deferred.compositions.get(lot).cloned();
    let composition = match known {
        Some(c) => Some(c),
        None => find_lot(&mut *tx, lot).await?.map(|l| l.composition_wt_pct),
    };
    if let Some(mut composition) = composition {
        let mut changed = false;
        for (property, value) in assays {
            if composition.get(*property) != Some(value) {
                composition.insert((*property).clone(), *value);
                changed = true;
            }
        }
        if changed {
            sqlx::query("UPDATE lots SET composition = $1 WHERE id = $2")
                .bind(composition_json(&composition))
                .bind(lot.clone())
                .execute(&mut *tx)
                .await?;
        }
        deferred.compositions.insert(lot.clone(), composition);
    }
    Ok(())
}

/// The sublots split from `lot` (written genealogy only).
pub(crate) async fn split_children(tx: &mut sqlx::AnyConnection, lot: &str) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT o.lot AS child FROM step_lots i JOIN steps s ON s.id = i.step \
         JOIN step_lots o ON o.step = i.step AND o.direction = 'out' \
         WHERE i.lot = $1 AND i.direction = 'in' AND s.kind = 'split' ORDER BY o.seq, o.lot",
    )
    .bind(lot.to_string())
    .fetch_all(&mut *tx)
    .await?;
    rows.iter().map(|r| Ok(r.try_get("child")?)).collect()
}

/// The lots `lot` was split from, nearest first (a drum's heat, then what the heat was split
/// from, …); written genealogy only.
pub(crate) async fn split_ancestors(
    tx: &mut sqlx::AnyConnection,
    lot: &str,
) -> Result<Vec<String>> {
    // Splits nest a few levels at most (heat → drums → part drums); the bound guards a cycle
    // a corrupted database could hold.
    const MAX_DEPTH: usize = 64;
    let mut ancestors: Vec<String> = Vec::new();
    let mut current = lot.to_string();
    for _ in 0..MAX_DEPTH {
        let row = sqlx::query(
            "SELECT i.lot AS parent FROM step_lots o JOIN steps s ON s.id = o.step \
             JOIN step_lots i ON i.step = o.step AND i.direction = 'in' \
             WHERE o.lot = $1 AND o.direction = 'out' AND s.kind = 'split' LIMIT 1",
        )
        .bind(current.clone())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else { break };
        let parent: String = row.try_get("parent")?;
        if parent == lot || ancestors.contains(&parent) {
            break;
        }
        ancestors.push(parent.clone());
        current = parent;
    }
    Ok(ancestors)
}

async fn set_disposition(
    tx: &mut sqlx::AnyConnection,
    lot: &str,
    disposition: Disposition,
) -> Result<()> {
    sqlx::query("UPDATE lots SET disposition = $1 WHERE id = $2")
        .bind(disposition.as_str())
        .bind(lot.to_string())
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// The stored name of an equipment state (its serde name, e.g. `unplanned_down`).
pub fn equipment_state_text(state: EquipmentState) -> String {
    serde_json::to_value(state)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Reads a stored equipment state.
pub fn parse_equipment_state(text: &str) -> Result<EquipmentState> {
    serde_json::from_value(serde_json::Value::String(text.to_string())).map_err(|_| {
        MesError::Corrupt(format!(
            "column equipment_states.state holds '{text}', which this version does not know"
        ))
    })
}

/// Keeps a batch's in-memory copies in step with what [`apply`] just wrote, so later commands
/// of the batch need not read it back: orders (as the `orders` row now stands), lots made in the
/// batch, results recorded in it, and work-master versions.
pub fn remember(tx: &mut crate::db::WriteTx<'_>, event: &Event) {
    match event {
        Event::LotReceived { lot, .. }
        | Event::MaterialProduced { lot, .. }
        | Event::LotsMerged { lot, .. }
        | Event::ContinuousOutput { lot, .. } => {
            tx.new_lots.insert(lot.clone());
        }
        Event::LotSplit { parts, .. } => {
            tx.new_lots.extend(parts.iter().map(|p| p.lot.clone()));
        }
        Event::ResultRecorded {
            lot,
            property,
            value,
            ..
        } => {
            tx.latest_results
                .insert((lot.clone(), property.clone()), *value);
        }
        Event::ResultsRecorded { lot, results, .. } => {
            for r in results {
                tx.latest_results
                    .insert((lot.clone(), r.property.clone()), r.value);
            }
        }
        Event::OrderCreated {
            id,
            work_master,
            work_master_version,
            product,
            planned_kg,
            equipment,
            priority,
            at,
        } => {
            tx.orders.insert(
                id.clone(),
                JobOrder {
                    id: id.clone(),
                    work_master: work_master.clone(),
                    work_master_version: *work_master_version,
                    product: product.clone(),
                    planned_kg: *planned_kg,
                    equipment: equipment.clone(),
                    state: OrderState::Planned,
                    held_from: None,
                    priority: *priority,
                    created_at: at.clone(),
                    started_at: None,
                    ended_at: None,
                },
            );
        }
        Event::OrderStateChanged {
            order,
            from,
            to,
            equipment,
            at,
            ..
        } => {
            // The same changes as the UPDATE in `apply`.
            if let Some(o) = tx.orders.get_mut(order) {
                o.state = *to;
                o.held_from = (*to == OrderState::Held).then_some(*from);
                if equipment.is_some() {
                    o.equipment = equipment.clone();
                }
                if *to == OrderState::Running && o.started_at.is_none() {
                    o.started_at = Some(at.clone());
                }
                if matches!(
                    to,
                    OrderState::Completed | OrderState::Aborted | OrderState::Cancelled
                ) {
                    o.ended_at = Some(at.clone());
                }
            }
        }
        Event::WorkMasterDefined { id, .. } => {
            tx.work_masters.remove(id);
        }
        _ => {}
    }
}
