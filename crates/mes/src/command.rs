//! Commands: what users, the twin and the HTTP API ask of the MES. Each accepted command is
//! recorded as exactly one [`Event`](crate::event::Event). Commands are JSON-serialisable so
//! every edge (CLI, HTTP, twin) speaks the same language.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::model::{
    Disposition, Equipment, EquipmentLevel, EquipmentState, MaterialDefinition, MaterialUse,
    NonconformanceDecision, OrderAction, ReceiptPolicy, Role, SamplingPlan, Severity,
    SignatureMeaning, SpecLimit,
};

/// A command with the retry key and the reason for the change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Envelope {
    /// Client-chosen idempotency key: a retry with the same key is answered with the first
    /// outcome and changes nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub client_id: Option<String>,
    /// Why the change is made (recorded in the audit trail).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
    pub reason: Option<String>,
    /// The command.
    #[serde(flatten)]
    pub command: Command,
}

impl From<Command> for Envelope {
    fn from(command: Command) -> Self {
        Envelope {
            client_id: None,
            reason: None,
            command,
        }
    }
}

impl Envelope {
    /// Sets the idempotency key.
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// Sets the reason for the change.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }
}

/// A quantity taken from or put into a lot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LotQuantity {
    /// Lot id.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub lot: String,
    /// Quantity, kg.
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
    pub quantity_kg: f64,
}

/// One result of a sample's lab report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResultValue {
    /// Property (element symbol for wt%, or a named property).
    pub property: String,
    /// Value.
    pub value: f64,
    /// Unit.
    pub unit: String,
}

/// An electronic signature given with a command: the signer re-enters the password.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SignatureInput {
    /// Must be the acting user.
    pub user: String,
    /// Re-authentication at signing (never stored).
    pub password: String,
    /// What the signature means.
    pub meaning: SignatureMeaning,
}

/// The concession under which a lot is released although it fails its specification, misses
/// results, or has an open nonconformance (its own or a lot it was split from).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeviationInput {
    /// The deviation or concession document (e.g. the customer's concession number).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub reference: String,
    /// Why the material is accepted as it is.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
    pub reason: String,
}

/// Everything the MES can be asked to change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "command", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Command {
    /// Add or change a node of the equipment hierarchy.
    DefineEquipment(Equipment),
    /// Add or change a material class.
    DefineMaterialClass {
        /// Id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// Display name.
        name: String,
        /// What becomes of lots of this class received from outside (default: quarantine).
        #[serde(default)]
        receipt: Option<ReceiptPolicy>,
    },
    /// Add or change a material definition.
    DefineMaterialDefinition(MaterialDefinition),
    /// Add or change a process segment (the reusable step work masters refer to).
    DefineProcessSegment {
        /// Id (e.g. `melt-and-cast`).
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// Display name.
        name: String,
        /// ISA-95 level of the equipment that performs it.
        #[serde(default)]
        equipment_level: Option<EquipmentLevel>,
    },
    /// Add the next version of a work master.
    DefineWorkMaster {
        /// Id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// Process segment.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        segment: String,
        /// Material definition produced.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        product: String,
        /// Bill of materials, kg per kg of product.
        #[serde(default)]
        bill_kg_per_kg: BTreeMap<String, f64>,
        /// Set points.
        #[serde(default)]
        parameters: BTreeMap<String, String>,
    },
    /// Create a user.
    CreateUser {
        /// Login id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// Full name.
        #[cfg_attr(feature = "openapi", schema(max_length = 200))]
        name: String,
        /// Roles.
        roles: Vec<Role>,
        /// Initial password (10–256 characters; stored only as an argon2 hash, outside the
        /// record).
        #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 256))]
        password: String,
    },
    /// Change one's own password: the current one re-entered, the new one meeting the policy
    /// (10–256 characters, not the user id, not a common password).
    ChangePassword {
        /// The current password.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 256))]
        current_password: String,
        /// The new password.
        #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 256))]
        new_password: String,
    },
    /// Set a new password for a user (an administrator): the user must change it at the next
    /// login before doing anything else.
    ResetPassword {
        /// Login id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// The temporary password.
        #[cfg_attr(feature = "openapi", schema(min_length = 10, max_length = 256))]
        new_password: String,
    },
    /// Change a user's roles or deactivate the user.
    SetUserRoles {
        /// Login id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// New roles.
        roles: Vec<Role>,
        /// Whether the user may log in.
        active: bool,
    },
    /// Receive a lot into stock (a purchase, or an opening balance).
    ReceiveLot {
        /// New lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Material definition.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        definition: String,
        /// Quantity, kg.
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
        quantity_kg: f64,
        /// Supplier's lot id.
        #[serde(default)]
        supplier_lot: Option<String>,
        /// Storage location.
        #[serde(default)]
        location: Option<String>,
        /// Certificate chemistry, wt%.
        #[serde(default)]
        composition_wt_pct: BTreeMap<String, f64>,
        /// Disposition on receipt: quarantined (the default), held, or released where the
        /// material class releases on the supplier's certificate (the default there when the
        /// certificate chemistry is given). Material a work master produces is never received
        /// as released.
        #[serde(default)]
        disposition: Option<Disposition>,
        /// When it arrived (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Divide a lot into new sublots; what is not split off stays in the source.
    SplitLot {
        /// Source lot.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        source: String,
        /// New lots and their quantities.
        parts: Vec<LotQuantity>,
        /// When (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Combine quantities of several lots into one new lot (blend).
    MergeLots {
        /// Quantities taken from each source.
        sources: Vec<LotQuantity>,
        /// New lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Material definition of the new lot (default: that of the first source).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        definition: Option<String>,
        /// Storage location of the new lot.
        #[serde(default)]
        location: Option<String>,
        /// When (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Move a lot to another storage location.
    MoveLot {
        /// Lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// New location.
        location: String,
    },
    /// Ship a lot (all that remains) to a customer.
    ShipLot {
        /// Lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Customer.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        customer: String,
        /// When (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Write off part or all of a lot.
    ScrapLot {
        /// Lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Quantity written off, kg.
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
        quantity_kg: f64,
    },
    /// Create a job order from a work master (latest version).
    CreateOrder {
        /// New order id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// Work master id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        work_master: String,
        /// Planned quantity, kg.
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
        planned_kg: f64,
        /// Unit, if already known.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        equipment: Option<String>,
        /// Priority (higher first).
        #[serde(default)]
        priority: i64,
    },
    /// Move a job order through its life cycle.
    OrderAction {
        /// Order id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        order: String,
        /// What to do.
        action: OrderAction,
        /// Unit to dispatch to (dispatch only).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        equipment: Option<String>,
        /// When (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Record material consumed by a running order.
    Consume {
        /// Order id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        order: String,
        /// Lot drawn on.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Quantity, kg.
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
        quantity_kg: f64,
        /// When (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Record a lot produced by a running order (product, by-product, co-product or scrap).
    Produce {
        /// Order id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        order: String,
        /// New lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Quantity, kg.
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
        quantity_kg: f64,
        /// Material use (default: produced).
        #[serde(default)]
        material_use: Option<MaterialUse>,
        /// Material definition (default: the order's product).
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        definition: Option<String>,
        /// Chemistry, wt%, if known at production.
        #[serde(default)]
        composition_wt_pct: BTreeMap<String, f64>,
        /// Storage location.
        #[serde(default)]
        location: Option<String>,
        /// When (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Record a lot fed to a continuous unit at a steady rate over a time window.
    FeedContinuous {
        /// Continuous unit (e.g. an SX cascade).
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        equipment: String,
        /// Lot fed.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Quantity fed over the window, kg.
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
        quantity_kg: f64,
        /// Start of feeding.
        from: String,
        /// End of feeding.
        to: String,
    },
    /// Record a product lot of a continuous unit over a time window; it draws on the feeds of
    /// that window (shifted back by the residence time), apportioned by mass.
    OutputContinuous {
        /// Continuous unit.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        equipment: String,
        /// New lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Material definition.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        definition: String,
        /// Quantity, kg.
        #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 1e9))]
        quantity_kg: f64,
        /// Start of the output window.
        from: String,
        /// End of the output window.
        to: String,
        /// Residence time between feed and product, s.
        #[serde(default)]
        residence_time_s: f64,
        /// Chemistry, wt%.
        #[serde(default)]
        composition_wt_pct: BTreeMap<String, f64>,
    },
    /// Record an operating-state change of a unit (for OEE).
    SetEquipmentState {
        /// Unit.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        equipment: String,
        /// New state.
        state: EquipmentState,
        /// When (default: now).
        #[serde(default)]
        at: Option<String>,
        /// Downtime reason.
        #[serde(default)]
        #[cfg_attr(feature = "openapi", schema(max_length = 2000))]
        cause: Option<String>,
    },
    /// Put a lot on QA hold.
    HoldLot {
        /// Lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
    },
    /// Release a lot for use and shipment, with an electronic signature (meaning approval or
    /// responsibility). Refused while the lot, or a lot it was split from, has an open
    /// nonconformance, a failing result or a result missing against its specification —
    /// unless released under a deviation (permission `release-under-deviation`, signature
    /// meaning `deviation-approval`).
    ReleaseLot {
        /// Lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// The signature.
        signature: Option<SignatureInput>,
        /// The concession, to release despite failing or missing results or open NCRs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deviation: Option<DeviationInput>,
    },
    /// Release several lots with one electronic signature (QA's review of a shift's heats).
    /// The signature is bound to the last event of every lot released; each lot is guarded
    /// as by [`Command::ReleaseLot`].
    ReleaseLots {
        /// Lot ids, each once.
        lots: Vec<String>,
        /// The signature.
        signature: Option<SignatureInput>,
        /// The concession, to release despite failing or missing results or open NCRs.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        deviation: Option<DeviationInput>,
    },
    /// Reject a lot, with an electronic signature.
    RejectLot {
        /// Lot id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// The signature.
        signature: Option<SignatureInput>,
    },
    /// Define the next version of the specification of a material definition.
    DefineSpecification {
        /// Material definition.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        definition: String,
        /// Name (e.g. `GB/T 29655 N52 flake`).
        #[cfg_attr(feature = "openapi", schema(max_length = 200))]
        name: String,
        /// Limits.
        limits: Vec<SpecLimit>,
        /// Sampling plan.
        #[serde(default)]
        sampling: SamplingPlan,
    },
    /// Record a lab result for a lot. A second result for the same property is kept beside the
    /// first (nothing is overwritten); the latest counts.
    RecordResult {
        /// Lot sampled.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Sample id.
        #[serde(default)]
        sample: Option<String>,
        /// Property (element symbol for wt%, or a named property).
        property: String,
        /// Value.
        value: f64,
        /// Unit.
        unit: String,
        /// Method (e.g. `ICP-OES`).
        #[serde(default)]
        method: Option<String>,
        /// When measured (default: now).
        #[serde(default)]
        at: Option<String>,
    },
    /// Record a sample's lab report: several results for one lot at once (one event). Each
    /// result is kept as [`Command::RecordResult`] keeps it.
    RecordResults {
        /// Lot sampled.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// Sample id.
        #[serde(default)]
        sample: Option<String>,
        /// Method (e.g. `ICP-OES`).
        #[serde(default)]
        method: Option<String>,
        /// When measured (default: now).
        #[serde(default)]
        at: Option<String>,
        /// The results, each property once.
        results: Vec<ResultValue>,
    },
    /// Open a nonconformance on a lot; the lot goes on hold.
    RaiseNonconformance {
        /// New NCR id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// Lot concerned.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        lot: String,
        /// What is wrong (printable text, line breaks allowed).
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
        description: String,
        /// How serious.
        severity: Severity,
    },
    /// Close a nonconformance with the review decision, signed.
    CloseNonconformance {
        /// NCR id.
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
        id: String,
        /// Decision.
        decision: NonconformanceDecision,
        /// The signature.
        signature: Option<SignatureInput>,
    },
}

impl Command {
    /// The command's name as in JSON (`receive-lot`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Command::DefineEquipment(_) => "define-equipment",
            Command::DefineMaterialClass { .. } => "define-material-class",
            Command::DefineMaterialDefinition(_) => "define-material-definition",
            Command::DefineProcessSegment { .. } => "define-process-segment",
            Command::DefineWorkMaster { .. } => "define-work-master",
            Command::CreateUser { .. } => "create-user",
            Command::SetUserRoles { .. } => "set-user-roles",
            Command::ChangePassword { .. } => "change-password",
            Command::ResetPassword { .. } => "reset-password",
            Command::ReceiveLot { .. } => "receive-lot",
            Command::SplitLot { .. } => "split-lot",
            Command::MergeLots { .. } => "merge-lots",
            Command::MoveLot { .. } => "move-lot",
            Command::ShipLot { .. } => "ship-lot",
            Command::ScrapLot { .. } => "scrap-lot",
            Command::CreateOrder { .. } => "create-order",
            Command::OrderAction { .. } => "order-action",
            Command::Consume { .. } => "consume",
            Command::Produce { .. } => "produce",
            Command::FeedContinuous { .. } => "feed-continuous",
            Command::OutputContinuous { .. } => "output-continuous",
            Command::SetEquipmentState { .. } => "set-equipment-state",
            Command::HoldLot { .. } => "hold-lot",
            Command::ReleaseLot { .. } => "release-lot",
            Command::ReleaseLots { .. } => "release-lots",
            Command::RejectLot { .. } => "reject-lot",
            Command::DefineSpecification { .. } => "define-specification",
            Command::RecordResult { .. } => "record-result",
            Command::RecordResults { .. } => "record-results",
            Command::RaiseNonconformance { .. } => "raise-nonconformance",
            Command::CloseNonconformance { .. } => "close-nonconformance",
        }
    }
}
