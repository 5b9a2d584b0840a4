//! Command handlers: check a command against the current state and turn it into the one event
//! that records it. Nothing is written here; a refused command leaves no trace but the error.

use std::collections::BTreeMap;

use crate::command::{Command, DeviationInput, SignatureInput};
use crate::db::WriteTx;
use crate::error::{MesError, Result};
use crate::event::{Deviation, Event, FeedDraw, RecordedValue, ReleasedLot, Signature};
use crate::model::{
    check_composition, check_id, check_positive_kg, parse_timestamp, seconds_between, Disposition,
    LotStatus, MaterialLot, MaterialUse, OrderAction, OrderState, Permission, ReceiptPolicy, Role,
    SignatureMeaning, Timestamp,
};
use crate::projection::{exists, find_lot, find_order, find_user, EMPTY_KG};

/// An authenticated user acting on the MES.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Login id.
    pub user: String,
    /// Printed name.
    pub name: String,
    /// Roles held at login.
    pub roles: Vec<Role>,
    /// An administrator reset the password: nothing but a password change is accepted.
    pub must_change_password: bool,
}

impl Session {
    /// Refuses unless one of the session's roles grants `permission`.
    pub fn require(&self, permission: Permission, action: &str) -> Result<()> {
        if self.roles.iter().any(|r| r.grants(permission)) {
            return Ok(());
        }
        Err(MesError::PermissionDenied {
            user: self.user.clone(),
            roles: self
                .roles
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            action: action.to_string(),
            permission: permission.as_str(),
        })
    }
}

/// The permission a command needs.
pub fn permission_of(command: &Command) -> Permission {
    use Command as C;
    match command {
        C::DefineEquipment(_)
        | C::DefineMaterialClass { .. }
        | C::DefineMaterialDefinition(_)
        | C::DefineProcessSegment { .. }
        | C::DefineWorkMaster { .. } => Permission::ManageMasterData,
        C::CreateUser { .. } | C::SetUserRoles { .. } | C::ResetPassword { .. } => {
            Permission::ManageUsers
        }
        // Anyone logged in may change their own password.
        C::ChangePassword { .. } => Permission::Read,
        C::CreateOrder { .. } => Permission::PlanOrders,
        C::OrderAction { action, .. } => match action {
            OrderAction::Release | OrderAction::Dispatch | OrderAction::Cancel => {
                Permission::PlanOrders
            }
            _ => Permission::ExecuteProduction,
        },
        C::ReceiveLot { .. }
        | C::SplitLot { .. }
        | C::MergeLots { .. }
        | C::MoveLot { .. }
        | C::ShipLot { .. }
        | C::ScrapLot { .. }
        | C::Consume { .. }
        | C::Produce { .. }
        | C::FeedContinuous { .. }
        | C::OutputContinuous { .. }
        | C::SetEquipmentState { .. } => Permission::ExecuteProduction,
        C::HoldLot { .. }
        | C::RecordResult { .. }
        | C::RecordResults { .. }
        | C::RaiseNonconformance { .. } => Permission::RecordQuality,
        C::ReleaseLot {
            deviation: Some(_), ..
        }
        | C::ReleaseLots {
            deviation: Some(_), ..
        } => Permission::ReleaseUnderDeviation,
        C::ReleaseLot { .. }
        | C::ReleaseLots { .. }
        | C::RejectLot { .. }
        | C::CloseNonconformance { .. }
        | C::DefineSpecification { .. } => Permission::DispositionLots,
    }
}

/// Minimum password length (NIST SP 800-63B asks at least 8; longer passphrases are the
/// practical defence against guessing, so Lodestone asks 10).
pub const MIN_PASSWORD_CHARS: usize = 10;

/// Maximum password length: argon2 hashes any length, but an unbounded one is free work for an
/// attacker.
pub const MAX_PASSWORD_CHARS: usize = 256;

/// Passwords refused whatever their length: the most common choices and this product's name.
const REFUSED_PASSWORDS: &[&str] = &[
    "password",
    "password1",
    "password123",
    "1234567890",
    "12345678910",
    "0123456789",
    "qwertyuiop",
    "1q2w3e4r5t",
    "iloveyou12",
    "administrator",
    "letmein123",
    "changeme12",
    "change-me-now",
    "lodestone",
    "lodestone1",
    "lodestone123",
    "welcome123",
];

/// The password policy: 10–256 characters, not the user id, not one character repeated, not a
/// well-known password. Errors name the field and never echo the password.
pub fn check_password(field: &str, user: &str, password: &str) -> Result<()> {
    let chars = password.chars().count();
    let refuse = |why: &str| {
        Err(MesError::invalid(
            field,
            format!("a password of {chars} characters"),
            why,
        ))
    };
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) {
        return refuse(&format!(
            "{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        ));
    }
    if password.chars().any(|c| c.is_control()) {
        return refuse("printable characters only");
    }
    let lower = password.to_lowercase();
    if lower == user.to_lowercase() {
        return refuse("a password other than the user id");
    }
    let first = password.chars().next();
    if password.chars().all(|c| Some(c) == first) {
        return refuse("more than one character repeated");
    }
    if REFUSED_PASSWORDS.contains(&lower.as_str()) {
        return refuse("a password that is not among the most common ones");
    }
    Ok(())
}

/// Refuses a change that would leave no active administrator (nobody could manage users or
/// log in to repair it).
async fn keep_an_admin(tx: &mut WriteTx<'_>, id: &str, roles: &[Role], active: bool) -> Result<()> {
    if active && roles.contains(&Role::Admin) {
        return Ok(());
    }
    let rows = sqlx::query("SELECT id, roles FROM users WHERE active = 1 AND id <> $1")
        .bind(id.to_string())
        .fetch_all(&mut *tx.tx)
        .await?;
    for row in rows {
        let roles: String = sqlx::Row::try_get(&row, "roles")?;
        if roles.split(',').any(|r| r == Role::Admin.as_str()) {
            return Ok(());
        }
    }
    let (user, _) = find_user(&mut *tx.tx, id)
        .await?
        .ok_or_else(|| MesError::not_found("user", id))?;
    if user.active && user.roles.contains(&Role::Admin) {
        return Err(MesError::invalid(
            if active { "user.roles" } else { "user.active" },
            format!("removing '{id}', the last active administrator"),
            "another active administrator first",
        ));
    }
    Ok(())
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String> {
    use argon2::password_hash::PasswordHasher;
    argon2::Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| MesError::Corrupt(format!("cannot hash a password: {e}")))
}

/// Whether `password` matches a stored argon2 PHC hash.
pub fn verify_password(password: &str, stored_hash: &str) -> bool {
    use argon2::password_hash::{phc::PasswordHash, PasswordVerifier};
    match PasswordHash::new(stored_hash) {
        Ok(hash) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok(),
        Err(_) => false,
    }
}

fn when(field: &str, at: &Option<String>, now: &Timestamp) -> Result<Timestamp> {
    match at {
        Some(text) => parse_timestamp(field, text),
        None => Ok(now.clone()),
    }
}

async fn require_exists(
    tx: &mut WriteTx<'_>,
    table: &'static str,
    kind: &'static str,
    field: &str,
    id: &str,
) -> Result<()> {
    check_id(field, id)?;
    if tx.known.contains(&(table, id.to_string())) {
        return Ok(());
    }
    if !exists(&mut *tx.tx, table, id).await? {
        return Err(MesError::not_found(kind, id));
    }
    tx.known.insert((table, id.to_string()));
    Ok(())
}

async fn require_new_lot(tx: &mut WriteTx<'_>, field: &str, id: &str) -> Result<()> {
    check_id(field, id)?;
    if exists(&mut *tx.tx, "lots", id).await? {
        return Err(MesError::AlreadyExists {
            kind: "lot",
            id: id.to_string(),
        });
    }
    Ok(())
}

async fn lot(tx: &mut WriteTx<'_>, field: &str, id: &str) -> Result<MaterialLot> {
    check_id(field, id)?;
    find_lot(&mut *tx.tx, id)
        .await?
        .ok_or_else(|| MesError::not_found("lot", id))
}

/// A lot that material may be drawn from: on hand, not held or rejected, with enough in it.
async fn drawable_lot(
    tx: &mut WriteTx<'_>,
    field: &str,
    id: &str,
    kg: f64,
    action: &str,
) -> Result<MaterialLot> {
    let lot = lot(tx, field, id).await?;
    if lot.status != LotStatus::Available {
        return Err(lot_state_error(
            lot.id,
            lot.status.to_string(),
            action,
            "available",
        ));
    }
    if matches!(
        lot.disposition,
        Disposition::Held | Disposition::Rejected | Disposition::Quarantined
    ) {
        return Err(lot_state_error(
            lot.id,
            lot.disposition.to_string(),
            action,
            "pending or released",
        ));
    }
    if kg > lot.quantity_kg + EMPTY_KG {
        return Err(MesError::InsufficientQuantity {
            lot: lot.id,
            available_kg: lot.quantity_kg,
            requested_kg: kg,
        });
    }
    Ok(lot)
}

/// Why a guarded draw of `kg` from `lot` was refused: the same checks, in words.
pub async fn explain_draw(tx: &mut WriteTx<'_>, lot: &str, kg: f64) -> MesError {
    match drawable_lot(tx, "lot", lot, kg, "draw from").await {
        Err(e) => e,
        Ok(_) => MesError::DrawRefused {
            lot: lot.to_string(),
            requested_kg: kg,
        },
    }
}

/// The highest version stored under `key` in a versioned table (0 when none); fixed table and
/// column names only, never user input.
async fn latest_version(
    tx: &mut WriteTx<'_>,
    table: &'static str,
    key_column: &'static str,
    key: &str,
) -> Result<i64> {
    let sql = format!(
        "SELECT CAST(COALESCE(MAX(version), 0) AS BIGINT) AS v FROM {table} WHERE {key_column} = $1"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(key.to_string())
        .fetch_one(&mut *tx.tx)
        .await?;
    Ok(sqlx::Row::try_get(&row, "v")?)
}

/// A lot in the wrong status or disposition for `action`.
fn lot_state_error(id: impl Into<String>, state: String, action: &str, allowed: &str) -> MesError {
    MesError::IllegalState {
        kind: "lot",
        id: id.into(),
        state,
        action: action.to_string(),
        allowed: allowed.to_string(),
    }
}

fn check_distinct<'a>(field: &str, ids: impl Iterator<Item = &'a str>) -> Result<()> {
    let mut seen = std::collections::BTreeSet::new();
    for id in ids {
        if !seen.insert(id) {
            return Err(MesError::invalid(
                field,
                format!("'{id}' twice"),
                "each lot once",
            ));
        }
    }
    Ok(())
}

/// Mass-weighted composition of a blend; empty when any part's chemistry is unknown.
fn blend_composition(parts: &[(f64, &BTreeMap<String, f64>)]) -> BTreeMap<String, f64> {
    if parts.iter().any(|(_, c)| c.is_empty()) {
        return BTreeMap::new();
    }
    let total: f64 = parts.iter().map(|(kg, _)| kg).sum();
    let mut blend = BTreeMap::new();
    for (kg, composition) in parts {
        for (element, wt) in composition.iter() {
            *blend.entry(element.clone()).or_insert(0.0) += wt * kg / total;
        }
    }
    blend
}

/// The least advanced disposition of a blend's parts.
fn blend_disposition(parts: &[&MaterialLot]) -> Disposition {
    if parts.iter().all(|l| l.disposition == Disposition::Released) {
        Disposition::Released
    } else {
        Disposition::Pending
    }
}

async fn signature(
    tx: &mut WriteTx<'_>,
    session: &Session,
    input: &Option<SignatureInput>,
    subject: &str,
    now: &Timestamp,
) -> Result<Signature> {
    signature_over(tx, session, input, &[subject.to_string()], now).await
}

/// A signature over several records: bound to the last event of each. With one record the
/// bound hash is that event's hash; with several it is SHA-256 over `subject=hash` lines in
/// the order given.
async fn signature_over(
    tx: &mut WriteTx<'_>,
    session: &Session,
    input: &Option<SignatureInput>,
    subjects: &[String],
    now: &Timestamp,
) -> Result<Signature> {
    let Some(input) = input else {
        return Err(MesError::Signature(format!(
            "this action needs an electronic signature: user, password and meaning ({})",
            crate::model::SignatureMeaning::ALL
                .iter()
                .map(|m| m.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    };
    if input.user != session.user {
        return Err(MesError::Signature(format!(
            "the signer '{}' is not the logged-in user '{}'; sign as yourself",
            input.user, session.user
        )));
    }
    let (user, credential) = find_user(&mut *tx.tx, &input.user)
        .await?
        .ok_or_else(|| MesError::Signature(format!("unknown signer '{}'", input.user)))?;
    if !user.active || !verify_password(&input.password, &credential.password_hash) {
        return Err(MesError::Signature(format!(
            "re-authentication failed for '{}'",
            input.user
        )));
    }
    let mut hashes = Vec::with_capacity(subjects.len());
    if let [subject] = subjects {
        hashes.push(tx.last_hash_of(subject).await?);
    } else {
        let mut found = tx.last_hashes_of(subjects).await?;
        hashes.extend(subjects.iter().map(|s| found.remove(s)));
    }
    let mut hashes: Vec<String> = hashes
        .into_iter()
        .map(|h| h.unwrap_or_else(|| crate::event::GENESIS_HASH.to_string()))
        .collect();
    let record_hash = if hashes.len() == 1 {
        hashes.remove(0)
    } else {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for (subject, hash) in subjects.iter().zip(&hashes) {
            h.update(format!("{subject}={hash}\n").as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    };
    Ok(Signature {
        user: user.id,
        name: user.name,
        meaning: input.meaning,
        signed_at: now.clone(),
        record_hash,
    })
}

/// Checks a deviation's reference and reason (free text, bounded like every other) and turns
/// it into the recorded form.
fn check_deviation(input: &DeviationInput) -> Result<Deviation> {
    check_id("deviation.reference", &input.reference)?;
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(MesError::invalid(
            "deviation.reason",
            "''",
            "why the material is accepted as it is",
        ));
    }
    crate::bounds::check_text(
        "deviation.reason",
        reason,
        crate::bounds::MAX_TEXT_CHARS,
        true,
    )?;
    Ok(Deviation {
        reference: input.reference.clone(),
        reason: reason.to_string(),
    })
}

/// A release is signed as approval or responsibility; a release under deviation only as
/// deviation approval, so the meaning on the record says what was decided.
fn check_release_meaning(input: &Option<SignatureInput>, under_deviation: bool) -> Result<()> {
    let Some(input) = input else { return Ok(()) };
    let allowed: &[SignatureMeaning] = if under_deviation {
        &[SignatureMeaning::DeviationApproval]
    } else {
        &[SignatureMeaning::Approval, SignatureMeaning::Responsibility]
    };
    if !allowed.contains(&input.meaning) {
        let names: Vec<&str> = allowed.iter().map(|m| m.as_str()).collect();
        return Err(MesError::invalid(
            "signature.meaning",
            format!("'{}'", input.meaning),
            &format!(
                "{} for a release{}",
                names.join(" or "),
                if under_deviation {
                    " under deviation"
                } else {
                    " (deviation-approval only with a deviation)"
                }
            ),
        ));
    }
    Ok(())
}

/// What stands in the way of releasing `lot`, in words: failing or missing results against its
/// specification (its own, else those of the lot it was split from) and open nonconformances
/// on it or on any lot it was split from. Empty when it may be released.
async fn release_blockers(tx: &mut WriteTx<'_>, lot: &MaterialLot) -> Result<Vec<String>> {
    let evaluation = crate::quality::evaluate_on(&mut tx.tx, lot).await?;
    let mut blockers: Vec<String> = evaluation
        .checks
        .iter()
        .filter(|c| c.verdict != crate::quality::Verdict::Pass)
        .map(crate::quality::describe_check)
        .collect();
    let mut lots = vec![lot.id.clone()];
    lots.extend(crate::projection::split_ancestors(&mut tx.tx, &lot.id).await?);
    let mut sql =
        String::from("SELECT id, lot FROM nonconformances WHERE state = 'open' AND lot IN ");
    crate::db::push_placeholders(tx.backend, &mut sql, 1, lots.len());
    sql.push_str(" ORDER BY opened_at, id");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for l in &lots {
        query = query.bind(l.clone());
    }
    for row in query.fetch_all(&mut *tx.tx).await? {
        let id: String = sqlx::Row::try_get(&row, "id")?;
        let on: String = sqlx::Row::try_get(&row, "lot")?;
        blockers.push(if on == lot.id {
            format!("nonconformance {id} is open")
        } else {
            format!("nonconformance {id} is open on {on}, which it was split from")
        });
    }
    Ok(blockers)
}

/// The disposition a received lot gets: quarantine unless its class releases on the supplier's
/// certificate; never released for material a work master produces.
async fn receipt_disposition(
    tx: &mut WriteTx<'_>,
    definition: &str,
    asked: Option<Disposition>,
    has_certificate: bool,
) -> Result<Disposition> {
    let row = sqlx::query(
        "SELECT c.id AS class, c.receipt AS receipt, \
         (SELECT CAST(COUNT(*) AS BIGINT) FROM work_masters w WHERE w.product = d.id) AS made_here \
         FROM material_definitions d JOIN material_classes c ON c.id = d.class WHERE d.id = $1",
    )
    .bind(definition.to_string())
    .fetch_optional(&mut *tx.tx)
    .await?
    .ok_or_else(|| MesError::not_found("material definition", definition))?;
    let class: String = sqlx::Row::try_get(&row, "class")?;
    let receipt: String = sqlx::Row::try_get(&row, "receipt")?;
    let made_here: i64 = sqlx::Row::try_get(&row, "made_here")?;
    let policy = crate::db::stored(ReceiptPolicy::parse, "material_classes.receipt", &receipt)?;
    let may_release = policy == ReceiptPolicy::Certificate && made_here == 0;
    match asked {
        None if may_release && has_certificate => Ok(Disposition::Released),
        None => Ok(Disposition::Quarantined),
        Some(d @ (Disposition::Quarantined | Disposition::Held)) => Ok(d),
        Some(Disposition::Released) if may_release => Ok(Disposition::Released),
        Some(Disposition::Released) => Err(MesError::invalid(
            "disposition",
            "'released'",
            &if made_here > 0 {
                format!("quarantined or held: {definition} is made in this plant, so a received lot of it needs a QA release")
            } else {
                format!("quarantined or held: material class {class} quarantines received lots (receipt = \"quarantine\"); QA releases them")
            },
        )),
        Some(other) => Err(MesError::invalid(
            "disposition",
            format!("'{other}'"),
            "quarantined, held, or released where the material class releases on certificate",
        )),
    }
}

/// Checks one lab result: a property id, a finite value, a unit, and wt% of an element within
/// 0–100. `field` prefixes the field names in errors (`results[2].`).
fn check_result(field: &str, property: &str, value: f64, unit: &str) -> Result<()> {
    check_id(&format!("{field}property"), property)?;
    if !value.is_finite() {
        return Err(MesError::invalid(
            &format!("{field}value"),
            value,
            "a finite number",
        ));
    }
    if unit.trim().is_empty() {
        return Err(MesError::invalid(
            &format!("{field}unit"),
            "''",
            "a unit such as wt%, ppm, mm",
        ));
    }
    if unit == "wt%"
        && lodestone_chem::Element::from_symbol(property).is_ok()
        && !(0.0..=100.0).contains(&value)
    {
        return Err(MesError::invalid(
            &format!("{field}value"),
            value,
            "a mass fraction between 0 and 100 wt%",
        ));
    }
    Ok(())
}

/// The value a new result for `property` of `lot` supersedes: from this batch, none for a lot
/// made in this batch, else the latest stored.
async fn previous_result(tx: &mut WriteTx<'_>, lot: &str, property: &str) -> Result<Option<f64>> {
    let key = (lot.to_string(), property.to_string());
    if let Some(v) = tx.latest_results.get(&key) {
        return Ok(Some(*v));
    }
    if tx.new_lots.contains(lot) {
        return Ok(None);
    }
    let row = sqlx::query(
        "SELECT value FROM results WHERE lot = $1 AND property = $2 ORDER BY seq DESC LIMIT 1",
    )
    .bind(key.0)
    .bind(key.1)
    .fetch_optional(&mut *tx.tx)
    .await?;
    match row {
        Some(row) => Ok(Some(sqlx::Row::try_get(&row, "value")?)),
        None => Ok(None),
    }
}

/// Checks `command` against the state in `tx` and returns the event that records it.
pub async fn decide(
    tx: &mut WriteTx<'_>,
    session: &Session,
    command: &Command,
    now: &Timestamp,
) -> Result<Event> {
    session.require(permission_of(command), command.name())?;
    match command {
        Command::DefineEquipment(e) => {
            check_id("equipment.id", &e.id)?;
            if e.name.trim().is_empty() {
                return Err(MesError::invalid("equipment.name", "''", "a name"));
            }
            if let Some(parent) = &e.parent {
                if parent == &e.id {
                    return Err(MesError::invalid(
                        "equipment.parent",
                        format!("'{parent}'"),
                        "another equipment id (not itself)",
                    ));
                }
                require_exists(tx, "equipment", "equipment", "equipment.parent", parent).await?;
            }
            if let Some(cycle) = e.ideal_cycle_s {
                if !(cycle > 0.0) || !cycle.is_finite() {
                    return Err(MesError::invalid(
                        "equipment.ideal_cycle_s",
                        cycle,
                        "a time > 0 s",
                    ));
                }
            }
            Ok(Event::EquipmentDefined(e.clone()))
        }
        Command::DefineMaterialClass { id, name, receipt } => {
            check_id("material_class.id", id)?;
            Ok(Event::MaterialClassDefined {
                id: id.clone(),
                name: name.clone(),
                receipt: receipt.unwrap_or_default(),
            })
        }
        Command::DefineMaterialDefinition(d) => {
            check_id("material_definition.id", &d.id)?;
            require_exists(
                tx,
                "material_classes",
                "material class",
                "material_definition.class",
                &d.class,
            )
            .await?;
            Ok(Event::MaterialDefinitionDefined(d.clone()))
        }
        Command::DefineProcessSegment {
            id,
            name,
            equipment_level,
        } => {
            check_id("process_segment.id", id)?;
            Ok(Event::ProcessSegmentDefined {
                id: id.clone(),
                name: name.clone(),
                equipment_level: *equipment_level,
            })
        }
        Command::DefineWorkMaster {
            id,
            segment,
            product,
            bill_kg_per_kg,
            parameters,
        } => {
            check_id("work_master.id", id)?;
            require_exists(
                tx,
                "process_segments",
                "process segment",
                "work_master.segment",
                segment,
            )
            .await?;
            require_exists(
                tx,
                "material_definitions",
                "material definition",
                "work_master.product",
                product,
            )
            .await?;
            for (definition, &kg) in bill_kg_per_kg {
                let field = format!("work_master.bill_kg_per_kg.{definition}");
                require_exists(
                    tx,
                    "material_definitions",
                    "material definition",
                    &field,
                    definition,
                )
                .await?;
                check_positive_kg(&field, kg)?;
            }
            let version = latest_version(tx, "work_masters", "id", id).await?;
            Ok(Event::WorkMasterDefined {
                id: id.clone(),
                version: version + 1,
                segment: segment.clone(),
                product: product.clone(),
                bill_kg_per_kg: bill_kg_per_kg.clone(),
                parameters: parameters.clone(),
            })
        }
        Command::CreateUser {
            id,
            name,
            roles,
            password,
        } => {
            check_id("user.id", id)?;
            if find_user(&mut *tx.tx, id).await?.is_some() {
                return Err(MesError::AlreadyExists {
                    kind: "user",
                    id: id.clone(),
                });
            }
            if roles.is_empty() {
                return Err(MesError::invalid(
                    "user.roles",
                    "[]",
                    "at least one of operator, qa, planner, engineer, admin",
                ));
            }
            check_password("user.password", id, password)?;
            // The hash goes to the credentials table at commit, never into the record.
            tx.credentials
                .push((id.clone(), hash_password(password)?, false));
            Ok(Event::UserCreated {
                id: id.clone(),
                name: name.clone(),
                roles: roles.clone(),
                password_hash: None,
            })
        }
        Command::SetUserRoles { id, roles, active } => {
            if find_user(&mut *tx.tx, id).await?.is_none() {
                return Err(MesError::not_found("user", id));
            }
            keep_an_admin(tx, id, roles, *active).await?;
            Ok(Event::UserRolesSet {
                id: id.clone(),
                roles: roles.clone(),
                active: *active,
            })
        }
        Command::ChangePassword {
            current_password,
            new_password,
        } => {
            let (user, credential) = find_user(&mut *tx.tx, &session.user)
                .await?
                .ok_or_else(|| MesError::not_found("user", &session.user))?;
            if !user.active || !verify_password(current_password, &credential.password_hash) {
                return Err(MesError::AuthenticationFailed(session.user.clone()));
            }
            check_password("new_password", &session.user, new_password)?;
            if verify_password(new_password, &credential.password_hash) {
                return Err(MesError::invalid(
                    "new_password",
                    "the current password",
                    "a password other than the current one",
                ));
            }
            tx.credentials
                .push((session.user.clone(), hash_password(new_password)?, false));
            Ok(Event::PasswordChanged {
                id: session.user.clone(),
            })
        }
        Command::ResetPassword { id, new_password } => {
            check_id("id", id)?;
            if find_user(&mut *tx.tx, id).await?.is_none() {
                return Err(MesError::not_found("user", id));
            }
            check_password("new_password", id, new_password)?;
            tx.credentials
                .push((id.clone(), hash_password(new_password)?, true));
            Ok(Event::PasswordReset { id: id.clone() })
        }
        Command::ReceiveLot {
            lot,
            definition,
            quantity_kg,
            supplier_lot,
            location,
            composition_wt_pct,
            disposition,
            at,
        } => {
            require_new_lot(tx, "lot", lot).await?;
            require_exists(
                tx,
                "material_definitions",
                "material definition",
                "definition",
                definition,
            )
            .await?;
            check_positive_kg("quantity_kg", *quantity_kg)?;
            check_composition("composition_wt_pct", composition_wt_pct)?;
            if let Some(location) = location {
                require_exists(tx, "equipment", "storage location", "location", location).await?;
            }
            let disposition =
                receipt_disposition(tx, definition, *disposition, !composition_wt_pct.is_empty())
                    .await?;
            Ok(Event::LotReceived {
                lot: lot.clone(),
                definition: definition.clone(),
                quantity_kg: *quantity_kg,
                supplier_lot: supplier_lot.clone(),
                location: location.clone(),
                composition_wt_pct: composition_wt_pct.clone(),
                disposition,
                at: when("at", at, now)?,
            })
        }
        Command::SplitLot { source, parts, at } => {
            if parts.is_empty() {
                return Err(MesError::invalid("parts", "[]", "at least one new lot"));
            }
            let mut total = 0.0;
            for (i, part) in parts.iter().enumerate() {
                // New ids are checked by the lots primary key when the split is applied.
                check_id(&format!("parts[{i}].lot"), &part.lot)?;
                check_positive_kg(&format!("parts[{i}].quantity_kg"), part.quantity_kg)?;
                total += part.quantity_kg;
            }
            check_distinct("parts", parts.iter().map(|p| p.lot.as_str()))?;
            let source_lot = drawable_lot(tx, "source", source, total, "split").await?;
            Ok(Event::LotSplit {
                step: format!("split-{}", tx.next_seq()),
                source: source.clone(),
                definition: source_lot.definition,
                parts: parts.clone(),
                composition_wt_pct: source_lot.composition_wt_pct,
                disposition: source_lot.disposition,
                location: source_lot.location,
                at: when("at", at, now)?,
            })
        }
        Command::MergeLots {
            sources,
            lot,
            definition,
            location,
            at,
        } => {
            if sources.is_empty() {
                return Err(MesError::invalid(
                    "sources",
                    "[]",
                    "at least one source lot",
                ));
            }
            require_new_lot(tx, "lot", lot).await?;
            check_distinct("sources", sources.iter().map(|s| s.lot.as_str()))?;
            let mut lots = Vec::new();
            for (i, s) in sources.iter().enumerate() {
                check_positive_kg(&format!("sources[{i}].quantity_kg"), s.quantity_kg)?;
                lots.push(
                    drawable_lot(
                        tx,
                        &format!("sources[{i}].lot"),
                        &s.lot,
                        s.quantity_kg,
                        "merge",
                    )
                    .await?,
                );
            }
            let definition = match definition {
                Some(d) => {
                    require_exists(
                        tx,
                        "material_definitions",
                        "material definition",
                        "definition",
                        d,
                    )
                    .await?;
                    d.clone()
                }
                None => lots[0].definition.clone(),
            };
            if let Some(location) = location {
                require_exists(tx, "equipment", "storage location", "location", location).await?;
            }
            let parts: Vec<(f64, &BTreeMap<String, f64>)> = sources
                .iter()
                .zip(&lots)
                .map(|(s, l)| (s.quantity_kg, &l.composition_wt_pct))
                .collect();
            Ok(Event::LotsMerged {
                step: format!("merge-{}", tx.next_seq()),
                sources: sources.clone(),
                lot: lot.clone(),
                definition,
                composition_wt_pct: blend_composition(&parts),
                disposition: blend_disposition(&lots.iter().collect::<Vec<_>>()),
                location: location.clone(),
                at: when("at", at, now)?,
            })
        }
        Command::MoveLot { lot: id, location } => {
            let l = lot(tx, "lot", id).await?;
            require_exists(tx, "equipment", "storage location", "location", location).await?;
            Ok(Event::LotMoved {
                lot: id.clone(),
                from: l.location,
                to: location.clone(),
            })
        }
        Command::ShipLot {
            lot: id,
            customer,
            at,
        } => {
            let l = lot(tx, "lot", id).await?;
            if l.status != LotStatus::Available {
                return Err(lot_state_error(
                    l.id,
                    l.status.to_string(),
                    "ship",
                    "available",
                ));
            }
            if l.disposition != Disposition::Released {
                return Err(lot_state_error(
                    l.id,
                    l.disposition.to_string(),
                    "ship",
                    "released by QA",
                ));
            }
            check_id("customer", customer)?;
            Ok(Event::LotShipped {
                lot: id.clone(),
                customer: customer.clone(),
                quantity_kg: l.quantity_kg,
                at: when("at", at, now)?,
            })
        }
        Command::ScrapLot {
            lot: id,
            quantity_kg,
        } => {
            check_positive_kg("quantity_kg", *quantity_kg)?;
            let l = lot(tx, "lot", id).await?;
            if l.status != LotStatus::Available {
                return Err(lot_state_error(
                    l.id,
                    l.status.to_string(),
                    "scrap",
                    "available",
                ));
            }
            if *quantity_kg > l.quantity_kg + EMPTY_KG {
                return Err(MesError::InsufficientQuantity {
                    lot: l.id,
                    available_kg: l.quantity_kg,
                    requested_kg: *quantity_kg,
                });
            }
            Ok(Event::LotScrapped {
                lot: id.clone(),
                quantity_kg: *quantity_kg,
                at: now.clone(),
            })
        }
        Command::CreateOrder {
            id,
            work_master,
            planned_kg,
            equipment,
            priority,
        } => {
            check_id("order.id", id)?;
            if tx.orders.contains_key(id) || exists(&mut *tx.tx, "orders", id).await? {
                return Err(MesError::AlreadyExists {
                    kind: "order",
                    id: id.clone(),
                });
            }
            check_id("order.work_master", work_master)?;
            // The latest version, read once per batch (a batch that defines a new version
            // drops the copy).
            let (version, product) = match tx.work_masters.get(work_master) {
                Some(v) => v.clone(),
                None => {
                    let row = sqlx::query(
                        "SELECT version, product FROM work_masters WHERE id = $1 ORDER BY version DESC LIMIT 1",
                    )
                    .bind(work_master.clone())
                    .fetch_optional(&mut *tx.tx)
                    .await?
                    .ok_or_else(|| MesError::not_found("work master", work_master))?;
                    let v: (i64, String) = (
                        sqlx::Row::try_get(&row, "version")?,
                        sqlx::Row::try_get(&row, "product")?,
                    );
                    tx.work_masters.insert(work_master.clone(), v.clone());
                    v
                }
            };
            check_positive_kg("order.planned_kg", *planned_kg)?;
            if let Some(e) = equipment {
                require_exists(tx, "equipment", "equipment", "order.equipment", e).await?;
                require_production_unit(tx, "order.equipment", e, work_master, version).await?;
            }
            Ok(Event::OrderCreated {
                id: id.clone(),
                work_master: work_master.clone(),
                work_master_version: version,
                product,
                planned_kg: *planned_kg,
                equipment: equipment.clone(),
                priority: *priority,
                at: now.clone(),
            })
        }
        Command::OrderAction {
            order,
            action,
            equipment,
            at,
        } => {
            let o = cached_order(tx, order).await?;
            let to = match action {
                OrderAction::Resume if o.state == OrderState::Held => o.held_from,
                OrderAction::Resume => None,
                _ => o.state.after(*action),
            };
            let Some(to) = to else {
                return Err(MesError::IllegalState {
                    kind: "order",
                    id: o.id,
                    state: o.state.to_string(),
                    action: action.to_string(),
                    allowed: OrderState::allowed_before(*action),
                });
            };
            if let Some(e) = equipment {
                if *action != OrderAction::Dispatch {
                    return Err(MesError::invalid(
                        "equipment",
                        format!("'{e}'"),
                        "no equipment except when dispatching",
                    ));
                }
                require_exists(tx, "equipment", "equipment", "equipment", e).await?;
                require_production_unit(tx, "equipment", e, &o.work_master, o.work_master_version)
                    .await?;
            }
            if *action == OrderAction::Complete {
                require_recorded_production(tx, &o.id).await?;
            }
            if *action == OrderAction::Dispatch && equipment.is_none() && o.equipment.is_none() {
                return Err(MesError::invalid(
                    "equipment",
                    "none",
                    "the unit to dispatch the order to",
                ));
            }
            Ok(Event::OrderStateChanged {
                order: order.clone(),
                action: *action,
                from: o.state,
                to,
                equipment: equipment.clone(),
                at: when("at", at, now)?,
            })
        }
        Command::Consume {
            order,
            lot,
            quantity_kg,
            at,
        } => {
            check_positive_kg("quantity_kg", *quantity_kg)?;
            running_order(tx, order, "consume material").await?;
            // The lot is checked by the guarded draw when the event is applied.
            check_id("lot", lot)?;
            Ok(Event::MaterialConsumed {
                order: order.clone(),
                lot: lot.clone(),
                quantity_kg: *quantity_kg,
                at: when("at", at, now)?,
            })
        }
        Command::Produce {
            order,
            lot,
            quantity_kg,
            material_use,
            definition,
            composition_wt_pct,
            location,
            at,
        } => {
            check_positive_kg("quantity_kg", *quantity_kg)?;
            let o = running_order(tx, order, "record production").await?;
            // A new lot id is checked by the lots primary key when the event is applied.
            check_id("lot", lot)?;
            let material_use = material_use.unwrap_or(MaterialUse::Produced);
            if material_use == MaterialUse::Consumed {
                return Err(MesError::invalid(
                    "material_use",
                    "'consumed'",
                    "produced, by-product, co-product or scrap",
                ));
            }
            let definition = match definition {
                Some(d) => {
                    require_exists(
                        tx,
                        "material_definitions",
                        "material definition",
                        "definition",
                        d,
                    )
                    .await?;
                    d.clone()
                }
                None => o.product,
            };
            check_composition("composition_wt_pct", composition_wt_pct)?;
            if let Some(location) = location {
                require_exists(tx, "equipment", "storage location", "location", location).await?;
            }
            Ok(Event::MaterialProduced {
                order: order.clone(),
                lot: lot.clone(),
                definition,
                quantity_kg: *quantity_kg,
                material_use,
                composition_wt_pct: composition_wt_pct.clone(),
                location: location.clone(),
                at: when("at", at, now)?,
            })
        }
        Command::FeedContinuous {
            equipment,
            lot,
            quantity_kg,
            from,
            to,
        } => {
            require_exists(tx, "equipment", "equipment", "equipment", equipment).await?;
            check_positive_kg("quantity_kg", *quantity_kg)?;
            let (from, to) = window(from, to)?;
            drawable_lot(tx, "lot", lot, *quantity_kg, "feed").await?;
            Ok(Event::ContinuousFed {
                equipment: equipment.clone(),
                lot: lot.clone(),
                quantity_kg: *quantity_kg,
                from,
                to,
            })
        }
        Command::OutputContinuous {
            equipment,
            lot,
            definition,
            quantity_kg,
            from,
            to,
            residence_time_s,
            composition_wt_pct,
        } => {
            require_exists(tx, "equipment", "equipment", "equipment", equipment).await?;
            require_new_lot(tx, "lot", lot).await?;
            require_exists(
                tx,
                "material_definitions",
                "material definition",
                "definition",
                definition,
            )
            .await?;
            check_positive_kg("quantity_kg", *quantity_kg)?;
            if !(*residence_time_s >= 0.0) || !residence_time_s.is_finite() {
                return Err(MesError::invalid(
                    "residence_time_s",
                    residence_time_s,
                    "a time ≥ 0 s",
                ));
            }
            check_composition("composition_wt_pct", composition_wt_pct)?;
            let (from, to) = window(from, to)?;
            let draws = feed_draws(tx, equipment, &from, &to, *residence_time_s).await?;
            Ok(Event::ContinuousOutput {
                step: format!("continuous-{}", tx.next_seq()),
                equipment: equipment.clone(),
                lot: lot.clone(),
                definition: definition.clone(),
                quantity_kg: *quantity_kg,
                from,
                to,
                residence_time_s: *residence_time_s,
                draws,
                composition_wt_pct: composition_wt_pct.clone(),
            })
        }
        Command::SetEquipmentState {
            equipment,
            state,
            at,
            cause,
        } => {
            require_exists(tx, "equipment", "equipment", "equipment", equipment).await?;
            Ok(Event::EquipmentStateSet {
                equipment: equipment.clone(),
                state: *state,
                cause: cause.clone(),
                at: when("at", at, now)?,
            })
        }
        Command::HoldLot { lot: id } => {
            let l = lot(tx, "lot", id).await?;
            if matches!(l.disposition, Disposition::Held | Disposition::Rejected) {
                return Err(lot_state_error(
                    l.id,
                    l.disposition.to_string(),
                    "hold",
                    "pending or released",
                ));
            }
            Ok(Event::LotHeld {
                lot: id.clone(),
                from: l.disposition,
            })
        }
        Command::ReleaseLot {
            lot: id,
            signature: input,
            deviation,
        } => {
            let l = lot(tx, "lot", id).await?;
            if !matches!(
                l.disposition,
                Disposition::Pending | Disposition::Held | Disposition::Quarantined
            ) {
                return Err(lot_state_error(
                    l.id,
                    l.disposition.to_string(),
                    "release",
                    "pending, held or quarantined",
                ));
            }
            let deviation = deviation.as_ref().map(check_deviation).transpose()?;
            check_release_meaning(input, deviation.is_some())?;
            // The signature first: a wrong password is a failed re-authentication whatever
            // the lot's state (and counts toward the signer's lockout).
            let signature = signature(tx, session, input, &format!("lot:{id}"), now).await?;
            let blockers = release_blockers(tx, &l).await?;
            if !blockers.is_empty() && deviation.is_none() {
                return Err(MesError::ReleaseRefused {
                    lot: l.id,
                    reasons: blockers,
                });
            }
            Ok(Event::LotReleased {
                lot: id.clone(),
                from: l.disposition,
                signature,
                deviation,
                released_over: blockers,
            })
        }
        Command::ReleaseLots {
            lots,
            signature: input,
            deviation,
        } => {
            if lots.is_empty() {
                return Err(MesError::invalid("lots", "[]", "at least one lot"));
            }
            let mut released = Vec::with_capacity(lots.len());
            let mut seen = std::collections::HashSet::new();
            for (i, id) in lots.iter().enumerate() {
                let field = format!("lots[{i}]");
                check_id(&field, id)?;
                if !seen.insert(id) {
                    return Err(MesError::invalid(
                        &field,
                        format!("'{id}' twice"),
                        "each lot once",
                    ));
                }
            }
            let deviation = deviation.as_ref().map(check_deviation).transpose()?;
            check_release_meaning(input, deviation.is_some())?;
            for (i, id) in lots.iter().enumerate() {
                let l = lot(tx, &format!("lots[{i}]"), id).await?;
                let from = l.disposition;
                if !matches!(
                    from,
                    Disposition::Pending | Disposition::Held | Disposition::Quarantined
                ) {
                    return Err(lot_state_error(
                        l.id,
                        from.to_string(),
                        "release",
                        "pending, held or quarantined",
                    ));
                }
                let blockers = release_blockers(tx, &l).await?;
                if !blockers.is_empty() && deviation.is_none() {
                    return Err(MesError::ReleaseRefused {
                        lot: l.id,
                        reasons: blockers,
                    });
                }
                released.push(ReleasedLot {
                    lot: id.clone(),
                    from,
                    released_over: blockers,
                });
            }
            let subjects: Vec<String> = lots.iter().map(|l| format!("lot:{l}")).collect();
            let signature = signature_over(tx, session, input, &subjects, now).await?;
            Ok(Event::LotsReleased {
                lots: released,
                signature,
                deviation,
            })
        }
        Command::RejectLot {
            lot: id,
            signature: input,
        } => {
            let l = lot(tx, "lot", id).await?;
            if l.disposition == Disposition::Rejected {
                return Err(lot_state_error(
                    l.id,
                    l.disposition.to_string(),
                    "reject",
                    "pending, held or released",
                ));
            }
            let signature = signature(tx, session, input, &format!("lot:{id}"), now).await?;
            Ok(Event::LotRejected {
                lot: id.clone(),
                from: l.disposition,
                signature,
            })
        }
        Command::DefineSpecification {
            definition,
            name,
            limits,
            sampling,
        } => {
            require_exists(
                tx,
                "material_definitions",
                "material definition",
                "definition",
                definition,
            )
            .await?;
            if limits.is_empty() {
                return Err(MesError::invalid("limits", "[]", "at least one limit"));
            }
            let mut seen = std::collections::BTreeSet::new();
            for (i, limit) in limits.iter().enumerate() {
                let field = format!("limits[{i}]");
                check_id(&format!("{field}.property"), &limit.property)?;
                if !seen.insert(limit.property.as_str()) {
                    return Err(MesError::invalid(
                        &format!("{field}.property"),
                        format!("'{}' twice", limit.property),
                        "each property once",
                    ));
                }
                if limit.min.is_none() && limit.max.is_none() {
                    return Err(MesError::invalid(
                        &field,
                        format!("'{}' without min or max", limit.property),
                        "a min, a max or both",
                    ));
                }
                for (bound, value) in [
                    ("min", limit.min),
                    ("max", limit.max),
                    ("target", limit.target),
                ] {
                    if value.is_some_and(|v| !v.is_finite()) {
                        return Err(MesError::invalid(
                            &format!("{field}.{bound}"),
                            value.unwrap_or_default(),
                            "a finite number",
                        ));
                    }
                }
                if let (Some(lo), Some(hi)) = (limit.min, limit.max) {
                    if lo > hi {
                        return Err(MesError::invalid(
                            &format!("{field}.min"),
                            lo,
                            &format!("a value ≤ max ({hi})"),
                        ));
                    }
                }
            }
            if sampling.every_nth_lot < 1 {
                return Err(MesError::invalid(
                    "sampling.every_nth_lot",
                    sampling.every_nth_lot,
                    "1 (every lot) or more",
                ));
            }
            let version = latest_version(tx, "specifications", "definition", definition).await?;
            Ok(Event::SpecificationDefined {
                definition: definition.clone(),
                version: version + 1,
                name: name.clone(),
                limits: limits.clone(),
                sampling: sampling.clone(),
                at: now.clone(),
            })
        }
        Command::RecordResult {
            lot: id,
            sample,
            property,
            value,
            unit,
            method,
            at,
        } => {
            if !tx.new_lots.contains(id) {
                require_exists(tx, "lots", "lot", "lot", id).await?;
            }
            check_result("", property, *value, unit)?;
            Ok(Event::ResultRecorded {
                lot: id.clone(),
                sample: sample.clone(),
                property: property.clone(),
                value: *value,
                unit: unit.clone(),
                method: method.clone(),
                previous: previous_result(tx, id, property).await?,
                at: when("at", at, now)?,
            })
        }
        Command::RecordResults {
            lot: id,
            sample,
            method,
            at,
            results,
        } => {
            if !tx.new_lots.contains(id) {
                require_exists(tx, "lots", "lot", "lot", id).await?;
            }
            if results.is_empty() {
                return Err(MesError::invalid("results", "[]", "at least one result"));
            }
            // The values these results supersede: one query for the lot's stored results
            // (not one per property), then this batch's own on top.
            let mut stored: std::collections::HashMap<String, f64> = Default::default();
            if !tx.new_lots.contains(id) {
                let rows =
                    sqlx::query("SELECT property, value FROM results WHERE lot = $1 ORDER BY seq")
                        .bind(id.clone())
                        .fetch_all(&mut *tx.tx)
                        .await?;
                for row in rows {
                    stored.insert(
                        sqlx::Row::try_get(&row, "property")?,
                        sqlx::Row::try_get(&row, "value")?,
                    );
                }
            }
            let mut recorded = Vec::with_capacity(results.len());
            for (i, r) in results.iter().enumerate() {
                let field = format!("results[{i}].");
                check_result(&field, &r.property, r.value, &r.unit)?;
                if results[..i].iter().any(|o| o.property == r.property) {
                    return Err(MesError::invalid(
                        &format!("{field}property"),
                        format!("'{}' twice", r.property),
                        "each property once per report",
                    ));
                }
                let key = (id.clone(), r.property.clone());
                let previous = tx
                    .latest_results
                    .get(&key)
                    .copied()
                    .or_else(|| stored.get(&r.property).copied());
                recorded.push(RecordedValue {
                    property: r.property.clone(),
                    value: r.value,
                    unit: r.unit.clone(),
                    previous,
                });
            }
            Ok(Event::ResultsRecorded {
                lot: id.clone(),
                sample: sample.clone(),
                method: method.clone(),
                results: recorded,
                at: when("at", at, now)?,
            })
        }
        Command::RaiseNonconformance {
            id,
            lot: lot_id,
            description,
            severity,
        } => {
            check_id("id", id)?;
            if exists(&mut *tx.tx, "nonconformances", id).await? {
                return Err(MesError::AlreadyExists {
                    kind: "nonconformance",
                    id: id.clone(),
                });
            }
            let l = lot(tx, "lot", lot_id).await?;
            if description.trim().is_empty() {
                return Err(MesError::invalid("description", "''", "what is wrong"));
            }
            Ok(Event::NonconformanceRaised {
                id: id.clone(),
                lot: lot_id.clone(),
                description: description.clone(),
                severity: *severity,
                lot_disposition_before: l.disposition,
                at: now.clone(),
            })
        }
        Command::CloseNonconformance {
            id,
            decision,
            signature: input,
        } => {
            check_id("id", id)?;
            let row = sqlx::query("SELECT lot, state FROM nonconformances WHERE id = $1")
                .bind(id.clone())
                .fetch_optional(&mut *tx.tx)
                .await?
                .ok_or_else(|| MesError::not_found("nonconformance", id))?;
            let lot_id: String = sqlx::Row::try_get(&row, "lot")?;
            let state: String = sqlx::Row::try_get(&row, "state")?;
            if state != "open" {
                return Err(MesError::IllegalState {
                    kind: "nonconformance",
                    id: id.clone(),
                    state,
                    action: "close".into(),
                    allowed: "open".into(),
                });
            }
            let signature =
                signature(tx, session, input, &format!("nonconformance:{id}"), now).await?;
            Ok(Event::NonconformanceClosed {
                id: id.clone(),
                lot: lot_id,
                decision: *decision,
                signature,
                at: now.clone(),
            })
        }
    }
}

/// Refuses equipment that cannot run an order of `work_master`: a storage zone or unit, or a
/// level above a process cell (ISA-95 Enterprise, Site, Area), or a level other than the one
/// the work master's process segment runs on.
async fn require_production_unit(
    tx: &mut WriteTx<'_>,
    field: &str,
    equipment: &str,
    work_master: &str,
    version: i64,
) -> Result<()> {
    use crate::model::EquipmentLevel as L;
    let row = sqlx::query(
        "SELECT e.level AS level, p.equipment_level AS segment_level, w.segment AS segment \
         FROM equipment e, work_masters w JOIN process_segments p ON p.id = w.segment \
         WHERE e.id = $1 AND w.id = $2 AND w.version = $3",
    )
    .bind(equipment.to_string())
    .bind(work_master.to_string())
    .bind(version)
    .fetch_optional(&mut *tx.tx)
    .await?;
    let Some(row) = row else { return Ok(()) };
    let level: String = sqlx::Row::try_get(&row, "level")?;
    let level = crate::db::stored(L::parse, "equipment.level", &level)?;
    let segment: String = sqlx::Row::try_get(&row, "segment")?;
    let segment_level: Option<String> = sqlx::Row::try_get(&row, "segment_level")?;
    let segment_level = segment_level
        .map(|l| crate::db::stored(L::parse, "process_segments.equipment_level", &l))
        .transpose()?;
    let runs = !matches!(
        level,
        L::StorageZone | L::StorageUnit | L::Enterprise | L::Site | L::Area
    );
    match segment_level {
        Some(wanted) if wanted != level => Err(MesError::invalid(
            field,
            format!("'{equipment}' ({level})"),
            &format!("a {wanted}: process segment {segment} of {work_master} runs on that level"),
        )),
        None if !runs => Err(MesError::invalid(
            field,
            format!("'{equipment}' ({level})"),
            "a unit that makes material (not a storage zone or unit, nor an enterprise, site or area)",
        )),
        _ => Ok(()),
    }
}

/// Refuses to complete an order with no consumption or no production recorded: a completed
/// order is a genealogy step, and one without inputs or outputs breaks every trace through it.
async fn require_recorded_production(tx: &mut WriteTx<'_>, order: &str) -> Result<()> {
    let rows = sqlx::query(
        "SELECT direction, CAST(COUNT(*) AS BIGINT) AS n FROM step_lots WHERE step = $1 GROUP BY direction",
    )
    .bind(order.to_string())
    .fetch_all(&mut *tx.tx)
    .await?;
    let mut consumed = 0;
    let mut produced = 0;
    for row in rows {
        let direction: String = sqlx::Row::try_get(&row, "direction")?;
        let n: i64 = sqlx::Row::try_get(&row, "n")?;
        if direction == "in" {
            consumed += n;
        } else {
            produced += n;
        }
    }
    let missing: Vec<&str> = [("consumption", consumed), ("production", produced)]
        .into_iter()
        .filter(|(_, n)| *n == 0)
        .map(|(what, _)| what)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(MesError::IllegalState {
        kind: "order",
        id: order.to_string(),
        state: format!("running with no {} recorded", missing.join(" and no ")),
        action: "complete".into(),
        allowed: "what it consumed and produced is recorded; otherwise abort it".into(),
    })
}

async fn running_order(
    tx: &mut WriteTx<'_>,
    order: &str,
    action: &str,
) -> Result<crate::model::JobOrder> {
    let o = cached_order(tx, order).await?;
    if o.state != OrderState::Running {
        return Err(MesError::IllegalState {
            kind: "order",
            id: o.id,
            state: o.state.to_string(),
            action: action.to_string(),
            allowed: "running".into(),
        });
    }
    Ok(o)
}

/// The order as this batch last saw it (read once per batch, kept in step by the batch).
async fn cached_order(tx: &mut WriteTx<'_>, order: &str) -> Result<crate::model::JobOrder> {
    check_id("order", order)?;
    if let Some(o) = tx.orders.get(order) {
        return Ok(o.clone());
    }
    let o = find_order(&mut *tx.tx, order)
        .await?
        .ok_or_else(|| MesError::not_found("order", order))?;
    tx.orders.insert(order.to_string(), o.clone());
    Ok(o)
}

fn window(from: &str, to: &str) -> Result<(Timestamp, Timestamp)> {
    let from = parse_timestamp("from", from)?;
    let to = parse_timestamp("to", to)?;
    if to <= from {
        return Err(MesError::invalid(
            "to",
            format!("'{to}'"),
            &format!("a time after from ({from})"),
        ));
    }
    Ok((from, to))
}

fn shift(t: &str, seconds: f64) -> Result<Timestamp> {
    let at = chrono::DateTime::parse_from_rfc3339(t)
        .map_err(|_| MesError::Corrupt(format!("timestamp '{t}'")))?
        .with_timezone(&chrono::Utc);
    Ok(crate::model::format_timestamp(
        at - chrono::Duration::microseconds((seconds * 1e6).round() as i64),
    ))
}

/// The feeds of a continuous unit that fall in `[from, to]` shifted back by the residence time,
/// each apportioned by the fraction of its feeding window that overlaps (steady feed rate).
async fn feed_draws(
    tx: &mut WriteTx<'_>,
    equipment: &str,
    from: &str,
    to: &str,
    residence_time_s: f64,
) -> Result<Vec<FeedDraw>> {
    let (lo, hi) = (shift(from, residence_time_s)?, shift(to, residence_time_s)?);
    let rows = sqlx::query(
        "SELECT lot, quantity_kg, from_at, to_at FROM continuous_feeds \
         WHERE equipment = $1 AND from_at < $2 AND to_at > $3 ORDER BY seq",
    )
    .bind(equipment.to_string())
    .bind(hi.clone())
    .bind(lo.clone())
    .fetch_all(&mut *tx.tx)
    .await?;
    let mut by_lot: BTreeMap<String, f64> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    for row in rows {
        use sqlx::Row;
        let lot: String = row.try_get("lot")?;
        let kg: f64 = row.try_get("quantity_kg")?;
        let feed_from: String = row.try_get("from_at")?;
        let feed_to: String = row.try_get("to_at")?;
        let start = if feed_from > lo { &feed_from } else { &lo };
        let end = if feed_to < hi { &feed_to } else { &hi };
        let overlap = seconds_between(start, end)?;
        let duration = seconds_between(&feed_from, &feed_to)?;
        if overlap > 0.0 && duration > 0.0 {
            if !by_lot.contains_key(&lot) {
                order.push(lot.clone());
            }
            *by_lot.entry(lot).or_insert(0.0) += kg * overlap / duration;
        }
    }
    if order.is_empty() {
        return Err(MesError::invalid(
            "from",
            format!("{from} .. {to} (feeds looked for in {lo} .. {hi})"),
            &format!("a window in which feeds to '{equipment}' were recorded (record them with feed-continuous first)"),
        ));
    }
    Ok(order
        .into_iter()
        .map(|lot| FeedDraw {
            quantity_kg: by_lot[&lot],
            lot,
        })
        .collect())
}
