//! Events: the append-only record. One event per accepted command, with every value resolved
//! (times, versions, defaults, apportioned quantities) so that replaying the events rebuilds the
//! projections exactly, and hash-chained so that any edit of a stored row is evident.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

use crate::command::LotQuantity;
use crate::model::{
    Disposition, Equipment, EquipmentLevel, EquipmentState, MaterialDefinition, MaterialUse,
    NonconformanceDecision, OrderAction, OrderState, ReceiptPolicy, Role, SamplingPlan, Severity,
    SignatureMeaning, SpecLimit, Timestamp,
};

/// Hash that precedes the first event.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// A signature as recorded: who, their printed name, when, what it means, and the hash of the
/// record version signed (21 CFR 11 §11.50, §11.70).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Signature {
    /// Signer's login id.
    pub user: String,
    /// Signer's printed name.
    pub name: String,
    /// Meaning of the signature.
    pub meaning: SignatureMeaning,
    /// When it was given (UTC).
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub signed_at: Timestamp,
    /// Hash of the last event of the signed record before signing: the signature is bound to
    /// that version and cannot be moved to another record.
    pub record_hash: String,
}

/// A draw of a continuous output on one feed, apportioned by mass.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedDraw {
    /// Feed lot.
    pub lot: String,
    /// Mass of the feed in the output's (shifted) window, kg.
    pub quantity_kg: f64,
}

/// One result of a recorded lab report, with the value it supersedes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordedValue {
    /// Property.
    pub property: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
    /// The latest earlier value of the property on the lot, if any.
    pub previous: Option<f64>,
}

/// A lot released by a [`Event::LotsReleased`], with its disposition before.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleasedLot {
    /// Lot id.
    pub lot: String,
    /// Disposition before the release.
    pub from: Disposition,
    /// What the lot was released over under the batch's deviation (failing or missing
    /// results, open NCRs), in words; empty for a lot that met every guard.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub released_over: Vec<String>,
}

/// The concession a release was signed under.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Deviation {
    /// The deviation or concession document.
    pub reference: String,
    /// Why the material is accepted as it is.
    pub reason: String,
}

/// Every fact the MES records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum Event {
    EquipmentDefined(Equipment),
    MaterialClassDefined {
        id: String,
        name: String,
        /// Absent in events recorded before receipt policies existed: quarantine.
        #[serde(default)]
        receipt: ReceiptPolicy,
    },
    MaterialDefinitionDefined(MaterialDefinition),
    ProcessSegmentDefined {
        id: String,
        name: String,
        equipment_level: Option<EquipmentLevel>,
    },
    WorkMasterDefined {
        id: String,
        version: i64,
        segment: String,
        product: String,
        bill_kg_per_kg: BTreeMap<String, f64>,
        parameters: BTreeMap<String, String>,
    },
    /// Events recorded before credentials moved out of the chain carry the password hash;
    /// audit outputs redact it ([`EventRecord::redacted`]). New ones never do.
    UserCreated {
        id: String,
        name: String,
        roles: Vec<Role>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password_hash: Option<String>,
    },
    /// The user changed their own password (the hash is kept outside the chain).
    PasswordChanged {
        id: String,
    },
    /// An administrator set a new password; the user must change it at the next login.
    PasswordReset {
        id: String,
    },
    UserRolesSet {
        id: String,
        roles: Vec<Role>,
        active: bool,
    },
    LotReceived {
        lot: String,
        definition: String,
        quantity_kg: f64,
        supplier_lot: Option<String>,
        location: Option<String>,
        composition_wt_pct: BTreeMap<String, f64>,
        disposition: Disposition,
        at: Timestamp,
    },
    LotSplit {
        step: String,
        source: String,
        definition: String,
        parts: Vec<LotQuantity>,
        composition_wt_pct: BTreeMap<String, f64>,
        disposition: Disposition,
        location: Option<String>,
        at: Timestamp,
    },
    LotsMerged {
        step: String,
        sources: Vec<LotQuantity>,
        lot: String,
        definition: String,
        composition_wt_pct: BTreeMap<String, f64>,
        disposition: Disposition,
        location: Option<String>,
        at: Timestamp,
    },
    LotMoved {
        lot: String,
        from: Option<String>,
        to: String,
    },
    LotShipped {
        lot: String,
        customer: String,
        quantity_kg: f64,
        at: Timestamp,
    },
    LotScrapped {
        lot: String,
        quantity_kg: f64,
        at: Timestamp,
    },
    OrderCreated {
        id: String,
        work_master: String,
        work_master_version: i64,
        product: String,
        planned_kg: f64,
        equipment: Option<String>,
        priority: i64,
        at: Timestamp,
    },
    OrderStateChanged {
        order: String,
        action: OrderAction,
        from: OrderState,
        to: OrderState,
        equipment: Option<String>,
        at: Timestamp,
    },
    MaterialConsumed {
        order: String,
        lot: String,
        quantity_kg: f64,
        at: Timestamp,
    },
    MaterialProduced {
        order: String,
        lot: String,
        definition: String,
        quantity_kg: f64,
        material_use: MaterialUse,
        composition_wt_pct: BTreeMap<String, f64>,
        location: Option<String>,
        at: Timestamp,
    },
    ContinuousFed {
        equipment: String,
        lot: String,
        quantity_kg: f64,
        from: Timestamp,
        to: Timestamp,
    },
    ContinuousOutput {
        step: String,
        equipment: String,
        lot: String,
        definition: String,
        quantity_kg: f64,
        from: Timestamp,
        to: Timestamp,
        residence_time_s: f64,
        draws: Vec<FeedDraw>,
        composition_wt_pct: BTreeMap<String, f64>,
    },
    EquipmentStateSet {
        equipment: String,
        state: EquipmentState,
        cause: Option<String>,
        at: Timestamp,
    },
    LotHeld {
        lot: String,
        from: Disposition,
    },
    LotReleased {
        lot: String,
        from: Disposition,
        signature: Signature,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deviation: Option<Deviation>,
        /// What it was released over under the deviation, in words.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        released_over: Vec<String>,
    },
    LotRejected {
        lot: String,
        from: Disposition,
        signature: Signature,
    },
    SpecificationDefined {
        definition: String,
        version: i64,
        name: String,
        limits: Vec<SpecLimit>,
        sampling: SamplingPlan,
        at: Timestamp,
    },
    /// `previous` is the value it supersedes, if any (old and new side by side in the record).
    ResultRecorded {
        lot: String,
        sample: Option<String>,
        property: String,
        value: f64,
        unit: String,
        method: Option<String>,
        previous: Option<f64>,
        at: Timestamp,
    },
    LotsReleased {
        lots: Vec<ReleasedLot>,
        signature: Signature,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deviation: Option<Deviation>,
    },
    ResultsRecorded {
        lot: String,
        sample: Option<String>,
        method: Option<String>,
        results: Vec<RecordedValue>,
        at: Timestamp,
    },
    NonconformanceRaised {
        id: String,
        lot: String,
        description: String,
        severity: Severity,
        lot_disposition_before: Disposition,
        at: Timestamp,
    },
    NonconformanceClosed {
        id: String,
        lot: String,
        decision: NonconformanceDecision,
        signature: Signature,
        at: Timestamp,
    },
}

impl Event {
    /// The event's name as stored in `events.kind`.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::EquipmentDefined(_) => "equipment-defined",
            Event::MaterialClassDefined { .. } => "material-class-defined",
            Event::MaterialDefinitionDefined(_) => "material-definition-defined",
            Event::ProcessSegmentDefined { .. } => "process-segment-defined",
            Event::WorkMasterDefined { .. } => "work-master-defined",
            Event::UserCreated { .. } => "user-created",
            Event::PasswordChanged { .. } => "password-changed",
            Event::PasswordReset { .. } => "password-reset",
            Event::UserRolesSet { .. } => "user-roles-set",
            Event::LotReceived { .. } => "lot-received",
            Event::LotSplit { .. } => "lot-split",
            Event::LotsMerged { .. } => "lots-merged",
            Event::LotMoved { .. } => "lot-moved",
            Event::LotShipped { .. } => "lot-shipped",
            Event::LotScrapped { .. } => "lot-scrapped",
            Event::OrderCreated { .. } => "order-created",
            Event::OrderStateChanged { .. } => "order-state-changed",
            Event::MaterialConsumed { .. } => "material-consumed",
            Event::MaterialProduced { .. } => "material-produced",
            Event::ContinuousFed { .. } => "continuous-fed",
            Event::ContinuousOutput { .. } => "continuous-output",
            Event::EquipmentStateSet { .. } => "equipment-state-set",
            Event::LotHeld { .. } => "lot-held",
            Event::LotReleased { .. } => "lot-released",
            Event::LotRejected { .. } => "lot-rejected",
            Event::SpecificationDefined { .. } => "specification-defined",
            Event::ResultRecorded { .. } => "result-recorded",
            Event::ResultsRecorded { .. } => "results-recorded",
            Event::LotsReleased { .. } => "lots-released",
            Event::NonconformanceRaised { .. } => "nonconformance-raised",
            Event::NonconformanceClosed { .. } => "nonconformance-closed",
        }
    }

    /// The records this event touches, as `kind:id` (for audit trails per record).
    pub fn subjects(&self) -> Vec<String> {
        let lot = |id: &str| format!("lot:{id}");
        let order = |id: &str| format!("order:{id}");
        let equipment = |id: &str| format!("equipment:{id}");
        match self {
            Event::EquipmentDefined(e) => vec![equipment(&e.id)],
            Event::MaterialClassDefined { id, .. } => vec![format!("material-class:{id}")],
            Event::MaterialDefinitionDefined(d) => vec![format!("material-definition:{}", d.id)],
            Event::ProcessSegmentDefined { id, .. } => vec![format!("process-segment:{id}")],
            Event::WorkMasterDefined { id, .. } => vec![format!("work-master:{id}")],
            Event::UserCreated { id, .. }
            | Event::UserRolesSet { id, .. }
            | Event::PasswordChanged { id }
            | Event::PasswordReset { id } => {
                vec![format!("user:{id}")]
            }
            Event::LotReceived { lot: l, .. }
            | Event::LotMoved { lot: l, .. }
            | Event::LotShipped { lot: l, .. }
            | Event::LotScrapped { lot: l, .. }
            | Event::LotHeld { lot: l, .. }
            | Event::LotReleased { lot: l, .. }
            | Event::LotRejected { lot: l, .. } => vec![lot(l)],
            Event::LotSplit { source, parts, .. } => std::iter::once(lot(source))
                .chain(parts.iter().map(|p| lot(&p.lot)))
                .collect(),
            Event::LotsMerged {
                sources, lot: l, ..
            } => sources
                .iter()
                .map(|s| lot(&s.lot))
                .chain(std::iter::once(lot(l)))
                .collect(),
            Event::OrderCreated { id, .. } => vec![order(id)],
            Event::OrderStateChanged { order: o, .. } => vec![order(o)],
            Event::MaterialConsumed {
                order: o, lot: l, ..
            }
            | Event::MaterialProduced {
                order: o, lot: l, ..
            } => vec![order(o), lot(l)],
            Event::ContinuousFed {
                equipment: e,
                lot: l,
                ..
            } => vec![equipment(e), lot(l)],
            Event::ContinuousOutput {
                equipment: e,
                lot: l,
                draws,
                ..
            } => std::iter::once(equipment(e))
                .chain(std::iter::once(lot(l)))
                .chain(draws.iter().map(|d| lot(&d.lot)))
                .collect(),
            Event::EquipmentStateSet { equipment: e, .. } => vec![equipment(e)],
            Event::SpecificationDefined { definition, .. } => {
                vec![format!("specification:{definition}")]
            }
            Event::LotsReleased { lots, .. } => lots.iter().map(|r| lot(&r.lot)).collect(),
            Event::ResultRecorded { lot: l, .. } | Event::ResultsRecorded { lot: l, .. } => {
                vec![lot(l)]
            }
            Event::NonconformanceRaised { id, lot: l, .. }
            | Event::NonconformanceClosed { id, lot: l, .. } => {
                vec![format!("nonconformance:{id}"), lot(l)]
            }
        }
    }
}

/// A stored event row.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// Client idempotency key.
    pub client_id: Option<String>,
    /// Server time of recording, UTC.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub recorded_at: Timestamp,
    /// Acting user.
    pub actor: String,
    /// Event name.
    pub kind: String,
    /// Reason for the change.
    pub reason: Option<String>,
    /// The event as JSON text (exactly as hashed).
    pub payload: String,
    /// Hash of the previous event.
    pub prev_hash: String,
    /// Hash of this event.
    pub hash: String,
}

fn signed(s: &Signature) -> String {
    format!("signed by {} ({}), meaning {}", s.name, s.user, s.meaning)
}

fn under(deviation: &Option<Deviation>) -> String {
    deviation
        .as_ref()
        .map(|d| format!(" UNDER DEVIATION {} ({})", d.reference, d.reason))
        .unwrap_or_default()
}

impl Event {
    /// What happened, in one line for people: state changes as from → to, signatures with the
    /// signer and meaning, results with the value they supersede. Never a credential.
    pub fn summary(&self) -> String {
        use Event as E;
        match self {
            E::OrderStateChanged {
                order,
                action,
                from,
                to,
                equipment,
                ..
            } => format!(
                "order {order}: {from} → {to} ({action}{})",
                equipment
                    .as_ref()
                    .map(|e| format!(" to {e}"))
                    .unwrap_or_default()
            ),
            E::OrderCreated {
                id,
                work_master,
                work_master_version,
                planned_kg,
                equipment,
                ..
            } => format!(
                "order {id} created: {work_master} v{work_master_version}, {planned_kg} kg{}",
                equipment
                    .as_ref()
                    .map(|e| format!(" on {e}"))
                    .unwrap_or_default()
            ),
            E::LotHeld { lot, from } => format!("lot {lot}: {from} → held"),
            E::LotReleased {
                lot,
                from,
                signature,
                deviation,
                released_over,
            } => format!(
                "lot {lot}: {from} → released{}, {}{}",
                under(deviation),
                signed(signature),
                if released_over.is_empty() {
                    String::new()
                } else {
                    format!("; released over: {}", released_over.join("; "))
                }
            ),
            E::LotsReleased {
                lots,
                signature,
                deviation,
            } => format!(
                "{} lots: → released{}, {} ({})",
                lots.len(),
                under(deviation),
                signed(signature),
                lots.iter()
                    .map(|l| format!("{} from {}", l.lot, l.from))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            E::LotRejected {
                lot,
                from,
                signature,
            } => format!("lot {lot}: {from} → rejected, {}", signed(signature)),
            E::NonconformanceRaised {
                id,
                lot,
                severity,
                lot_disposition_before,
                description,
                ..
            } => format!(
                "{id} opened on {lot} ({severity}; lot {lot_disposition_before} → held): {description}"
            ),
            E::NonconformanceClosed {
                id,
                decision,
                signature,
                ..
            } => format!("{id}: open → closed, decision {decision}, {}", signed(signature)),
            E::ResultRecorded {
                lot,
                property,
                value,
                unit,
                previous,
                ..
            } => format!(
                "{lot}: {property} {value} {unit}{}",
                previous
                    .map(|p| format!(" (was {p})"))
                    .unwrap_or_default()
            ),
            E::ResultsRecorded { lot, results, .. } => format!(
                "{lot}: {}",
                results
                    .iter()
                    .map(|r| format!(
                        "{} {} {}{}",
                        r.property,
                        r.value,
                        r.unit,
                        r.previous
                            .map(|p| format!(" (was {p})"))
                            .unwrap_or_default()
                    ))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            E::EquipmentStateSet {
                equipment,
                state,
                cause,
                ..
            } => format!(
                "{equipment} → {state}{}",
                cause
                    .as_ref()
                    .map(|c| format!(" ({c})"))
                    .unwrap_or_default()
            ),
            E::UserCreated { id, roles, .. } => format!(
                "user {id} created, roles {}",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            E::UserRolesSet { id, roles, active } => format!(
                "user {id}: roles {}{}",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                if *active { "" } else { ", deactivated" }
            ),
            E::PasswordChanged { id } => format!("user {id} changed the password"),
            E::PasswordReset { id } => {
                format!("password of {id} reset by an administrator (change at next login)")
            }
            E::LotMoved { lot, from, to } => format!(
                "lot {lot}: {} → {to}",
                from.as_deref().unwrap_or("(no location)")
            ),
            E::LotShipped {
                lot,
                customer,
                quantity_kg,
                ..
            } => format!("lot {lot}: {quantity_kg} kg shipped to {customer}"),
            E::MaterialConsumed {
                order,
                lot,
                quantity_kg,
                ..
            } => format!("order {order} consumed {quantity_kg} kg of {lot}"),
            E::MaterialProduced {
                order,
                lot,
                quantity_kg,
                material_use,
                ..
            } => format!("order {order} produced {lot}, {quantity_kg} kg ({material_use})"),
            other => {
                // Compact JSON for the rest (definitions, splits, merges, continuous records).
                let text = serde_json::to_string(other).unwrap_or_default();
                let cut = (0..=160.min(text.len()))
                    .rev()
                    .find(|&i| text.is_char_boundary(i))
                    .unwrap_or(0);
                if cut < text.len() {
                    format!("{}…", &text[..cut])
                } else {
                    text
                }
            }
        }
    }
}

impl EventRecord {
    /// The record as shown to people and exports: a password hash that an event recorded
    /// before credentials left the chain is replaced by `[redacted]`. The stored row (and so
    /// the chain) is unchanged; verification reads the stored rows, never this.
    pub fn redacted(mut self) -> EventRecord {
        if self.kind == "user-created" && self.payload.contains("\"password_hash\"") {
            if let Ok(mut value) = serde_json::from_str::<serde_json::Value>(&self.payload) {
                if let Some(hash) = value.get_mut("password_hash") {
                    *hash = serde_json::Value::String("[redacted]".into());
                }
                self.payload = value.to_string();
            }
        }
        self
    }

    /// The hash of this row's contents chained to `prev_hash`.
    pub fn compute_hash(&self) -> String {
        chain_hash(
            self.seq,
            &self.recorded_at,
            &self.actor,
            &self.kind,
            self.reason.as_deref(),
            self.client_id.as_deref(),
            &self.payload,
            &self.prev_hash,
        )
    }
}

/// SHA-256 over length-prefixed fields, so no two different rows hash the same input.
#[allow(clippy::too_many_arguments)]
pub fn chain_hash(
    seq: i64,
    recorded_at: &str,
    actor: &str,
    kind: &str,
    reason: Option<&str>,
    client_id: Option<&str>,
    payload: &str,
    prev_hash: &str,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(seq.to_le_bytes());
    for field in [
        Some(recorded_at),
        Some(actor),
        Some(kind),
        reason,
        client_id,
        Some(payload),
        Some(prev_hash),
    ] {
        match field {
            Some(text) => {
                hasher.update([1u8]);
                hasher.update((text.len() as u64).to_le_bytes());
                hasher.update(text.as_bytes());
            }
            None => hasher.update([0u8]),
        }
    }
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
