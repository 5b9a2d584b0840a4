//! The domain in ISA-95 / B2MML names: equipment, materials, lots, personnel, work masters,
//! job orders and their states. Plain data; the rules that change it live in `handle`.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{MesError, Result};

/// A UTC instant stored as RFC 3339 text with microseconds (`2026-12-05T17:20:39.000000Z`), so
/// text order is time order in SQLite and PostgreSQL alike.
pub type Timestamp = String;

/// Formats a chrono instant the way the store keeps it.
pub fn format_timestamp(at: chrono::DateTime<chrono::Utc>) -> Timestamp {
    at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The current UTC time as a stored timestamp.
pub fn now() -> Timestamp {
    format_timestamp(chrono::Utc::now())
}

/// Parses a user-supplied RFC 3339 time (any offset) into the stored UTC form.
pub fn parse_timestamp(field: &str, text: &str) -> Result<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| format_timestamp(t.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            MesError::invalid(
                field,
                format!("'{text}'"),
                "an RFC 3339 time such as 2026-12-05T08:00:00Z",
            )
        })
}

/// Seconds between two stored timestamps (`to − from`).
pub fn seconds_between(from: &str, to: &str) -> Result<f64> {
    let parse = |t: &str| {
        chrono::DateTime::parse_from_rfc3339(t)
            .map_err(|_| MesError::Corrupt(format!("stored timestamp '{t}' is not RFC 3339")))
    };
    let (a, b) = (parse(from)?, parse(to)?);
    Ok((b - a).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6)
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and displayed name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses the stored name; `field` names the input in the error.
            pub fn parse(field: &str, text: &str) -> Result<Self> {
                match text {
                    $($text => Ok($name::$variant),)+
                    _ => Err(MesError::invalid(
                        field,
                        format!("'{text}'"),
                        &[$($text),+].join(", "),
                    )),
                }
            }
        }

        // Written out rather than derived: utoipa's derive does not see serde renames made
        // inside a macro, and the schema must list the names as sent.
        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some($name::ALL.iter().map(|v| v.as_str())))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {
            fn name() -> std::borrow::Cow<'static, str> {
                std::borrow::Cow::Borrowed(stringify!($name))
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// ISA-95 role-based equipment level (B2MML `EquipmentLevel`).
    EquipmentLevel {
        Enterprise = "Enterprise", Site = "Site", Area = "Area", ProcessCell = "ProcessCell",
        Unit = "Unit", ProductionLine = "ProductionLine", WorkCell = "WorkCell",
        ProductionUnit = "ProductionUnit", StorageZone = "StorageZone",
        StorageUnit = "StorageUnit", WorkCenter = "WorkCenter", WorkUnit = "WorkUnit",
        EquipmentModule = "EquipmentModule", ControlModule = "ControlModule", Other = "Other",
    }
}

string_enum! {
    /// State of a job order (ISA-95 `RequestState` subset used on the floor).
    OrderState {
        Planned = "planned", Released = "released", Dispatched = "dispatched",
        Running = "running", Held = "held", Completed = "completed", Aborted = "aborted",
        Cancelled = "cancelled",
    }
}

string_enum! {
    /// Where a lot is in its life.
    LotStatus {
        /// On hand with a positive quantity.
        Available = "available",
        /// Used up by consumption, splits or merges.
        Consumed = "consumed",
        /// Sent to a customer.
        Shipped = "shipped",
        /// Written off.
        Scrapped = "scrapped",
    }
}

string_enum! {
    /// Quality disposition of a lot.
    Disposition {
        /// Awaiting QC.
        Pending = "pending",
        /// Approved for use and shipment (signed).
        Released = "released",
        /// Blocked by QA; may not be consumed or shipped.
        Held = "held",
        /// Failed; may not be consumed or shipped (signed).
        Rejected = "rejected",
        /// Received from outside and awaiting incoming inspection: may not be consumed or
        /// shipped until QA releases it (signed).
        Quarantined = "quarantined",
    }
}

string_enum! {
    /// B2MML `MaterialUse` of a material actual.
    MaterialUse {
        Consumed = "consumed", Produced = "produced", ByProduct = "by-product",
        CoProduct = "co-product", Scrap = "scrap",
    }
}

string_enum! {
    /// Kind of a genealogy step: a transformation with lots in and lots out.
    StepKind {
        /// A job order's segment response.
        Order = "order",
        /// One lot divided into several.
        Split = "split",
        /// Several lots combined into one.
        Merge = "merge",
        /// An output of a continuous unit drawing on the feeds of a time window.
        Continuous = "continuous",
    }
}

/// Operating state of a unit, for OEE (stored as its snake_case name).
pub use crate::oee::EquipmentState;

string_enum! {
    /// A role of a person; grants a set of permissions.
    Role {
        Operator = "operator", Qa = "qa", Planner = "planner", Engineer = "engineer",
        Admin = "admin",
        /// QA with the authority to release under deviation (a concession).
        QaManager = "qa-manager",
    }
}

string_enum! {
    /// What an electronic signature means (21 CFR 11 §11.50(a)(3): "such as review, approval,
    /// responsibility, or authorship"), chosen by the signer. A release is signed as approval
    /// or responsibility; a release under deviation only as deviation approval, so the
    /// signature itself says that the signer accepted material outside its specification.
    SignatureMeaning {
        Review = "review", Approval = "approval", Responsibility = "responsibility",
        Authorship = "authorship", DeviationApproval = "deviation-approval",
    }
}

string_enum! {
    /// What becomes of a lot received from outside, per material class.
    ReceiptPolicy {
        /// Every received lot enters quarantine until QA releases it (the default).
        Quarantine = "quarantine",
        /// Lots of qualified suppliers are released on receipt against the supplier's
        /// certificate, when the receipt carries the certificate chemistry; otherwise they
        /// enter quarantine. Never for material a work master produces.
        Certificate = "certificate",
    }
}

// Written out: `string_enum!` fixes the derive list.
#[allow(clippy::derivable_impls)]
impl Default for ReceiptPolicy {
    fn default() -> Self {
        ReceiptPolicy::Quarantine
    }
}

string_enum! {
    /// How serious a nonconformance is.
    Severity { Minor = "minor", Major = "major", Critical = "critical" }
}

string_enum! {
    /// The decision that closes a nonconformance (material review board).
    NonconformanceDecision {
        UseAsIs = "use-as-is", Rework = "rework", Regrade = "regrade", Scrap = "scrap",
        ReturnToSupplier = "return-to-supplier",
    }
}

/// One limit of a specification: a property (an element symbol in wt%, or a named property
/// such as `flake_thickness_mm`) with optional bounds and target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SpecLimit {
    /// Property: an element symbol (wt%) or a named property.
    pub property: String,
    /// Lower limit, inclusive.
    #[serde(default)]
    pub min: Option<f64>,
    /// Upper limit, inclusive.
    #[serde(default)]
    pub max: Option<f64>,
    /// Target (aim).
    #[serde(default)]
    pub target: Option<f64>,
    /// Unit of the values (`wt%`, `ppm`, `mm`, ...).
    pub unit: String,
}

/// How often lots of a definition are sampled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SamplingPlan {
    /// Sample one lot in every `every_nth_lot` (1 = every lot).
    #[serde(default = "one")]
    pub every_nth_lot: i64,
    /// Sample mass, g.
    #[serde(default)]
    pub sample_g: Option<f64>,
}

fn one() -> i64 {
    1
}

impl Default for SamplingPlan {
    fn default() -> Self {
        SamplingPlan {
            every_nth_lot: 1,
            sample_g: None,
        }
    }
}

/// The specification in force for a material definition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Specification {
    /// Material definition it applies to.
    pub definition: String,
    /// Version, from 1.
    pub version: i64,
    /// Name (e.g. `GB/T 29655 N52 flake, grade 1`).
    pub name: String,
    /// Limits.
    pub limits: Vec<SpecLimit>,
    /// Sampling plan.
    pub sampling: SamplingPlan,
}

/// A node of the equipment hierarchy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Equipment {
    /// Unique id (e.g. `site1/alloy/vim-01`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// ISA-95 level.
    pub level: EquipmentLevel,
    /// Parent in the hierarchy.
    pub parent: Option<String>,
    /// Ideal cycle time of one unit of count (e.g. one heat), for OEE performance.
    pub ideal_cycle_s: Option<f64>,
}

/// A material class (e.g. `rare-earth-metal`), grouping material definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaterialClass {
    /// Unique id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// What becomes of lots of this class received from outside.
    pub receipt: ReceiptPolicy,
}

/// An ISA-95 process segment: a reusable production step that work masters refer to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProcessSegment {
    /// Unique id (e.g. `melt-and-cast`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Equipment level it runs on, if fixed.
    pub equipment_level: Option<EquipmentLevel>,
}

/// A material definition (item master) belonging to a class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaterialDefinition {
    /// Unique id (e.g. `NdPr-metal`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Material class (e.g. `rare-earth-metal`).
    pub class: String,
}

/// A material lot (or sublot created by a split) with its quantity and chemistry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MaterialLot {
    /// Unique lot id.
    pub id: String,
    /// Material definition.
    pub definition: String,
    /// Quantity on hand, kg.
    pub quantity_kg: f64,
    /// Quantity when the lot was created, kg.
    pub initial_kg: f64,
    /// Life-cycle status.
    pub status: LotStatus,
    /// Quality disposition.
    pub disposition: Disposition,
    /// Storage location (equipment id of a storage zone or unit).
    pub location: Option<String>,
    /// Supplier's lot id for received material.
    pub supplier_lot: Option<String>,
    /// Element mass fractions, wt% (from the certificate or the lab).
    pub composition_wt_pct: BTreeMap<String, f64>,
    /// When the lot came into being.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
}

/// A versioned work master (recipe): how to make a product in a process segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WorkMaster {
    /// Id (e.g. `VIM-SC-N52`).
    pub id: String,
    /// Version, starting at 1; a new definition with the same id is the next version.
    pub version: i64,
    /// Process segment (e.g. `melt-and-cast`).
    pub segment: String,
    /// Material definition produced.
    pub product: String,
    /// Bill of materials: definition → kg per kg of product.
    pub bill_kg_per_kg: BTreeMap<String, f64>,
    /// Process parameters (set points) as text.
    pub parameters: BTreeMap<String, String>,
}

/// A job order (ISA-95 operations request / Part 4 job order).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobOrder {
    /// Unique id.
    pub id: String,
    /// Work master id.
    pub work_master: String,
    /// Work master version in force when the order was created.
    pub work_master_version: i64,
    /// Material definition to produce.
    pub product: String,
    /// Planned quantity, kg.
    pub planned_kg: f64,
    /// Unit the order is dispatched to.
    pub equipment: Option<String>,
    /// Current state.
    pub state: OrderState,
    /// State to return to when a hold is lifted.
    pub held_from: Option<OrderState>,
    /// Priority, higher first.
    pub priority: i64,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub created_at: Timestamp,
    /// When it started running.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub started_at: Option<Timestamp>,
    /// When it completed or was aborted.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime))]
    pub ended_at: Option<Timestamp>,
}

impl OrderState {
    /// The state an order moves to under `action`, or `None` if the action is illegal now.
    pub fn after(self, action: OrderAction) -> Option<OrderState> {
        use OrderAction as A;
        use OrderState as S;
        match (self, action) {
            (S::Planned, A::Release) => Some(S::Released),
            (S::Released, A::Dispatch) => Some(S::Dispatched),
            (S::Released | S::Dispatched, A::Start) => Some(S::Running),
            (S::Running, A::Complete) => Some(S::Completed),
            (S::Released | S::Dispatched | S::Running, A::Hold) => Some(S::Held),
            (S::Running | S::Held, A::Abort) => Some(S::Aborted),
            (S::Planned | S::Released | S::Dispatched, A::Cancel) => Some(S::Cancelled),
            _ => None,
        }
    }

    /// The states from which `action` is legal, for error messages.
    pub fn allowed_before(action: OrderAction) -> String {
        let states: Vec<&str> = OrderState::ALL
            .iter()
            .filter(|s| s.after(action).is_some())
            .map(|s| s.as_str())
            .collect();
        if action == OrderAction::Resume {
            return "held".into();
        }
        states.join(" or ")
    }
}

string_enum! {
    /// A life-cycle command on a job order.
    OrderAction {
        Release = "release", Dispatch = "dispatch", Start = "start", Complete = "complete",
        Hold = "hold", Resume = "resume", Abort = "abort", Cancel = "cancel",
    }
}

/// What a user may do. Every command needs exactly one permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    /// Define equipment, materials, work masters, specifications.
    ManageMasterData,
    /// Create, release, dispatch, cancel orders.
    PlanOrders,
    /// Start, complete, hold orders; record consumption, production, moves, splits, merges.
    ExecuteProduction,
    /// Record lab results, hold lots, raise nonconformances.
    RecordQuality,
    /// Release or reject lots (signed).
    DispositionLots,
    /// Release a lot that fails, misses results or has an open NCR, under a deviation (signed).
    ReleaseUnderDeviation,
    /// Create users and change roles.
    ManageUsers,
    /// Read records and audit trails.
    Read,
}

impl Permission {
    /// Short name used in messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::ManageMasterData => "manage-master-data",
            Permission::PlanOrders => "plan-orders",
            Permission::ExecuteProduction => "execute-production",
            Permission::RecordQuality => "record-quality",
            Permission::DispositionLots => "disposition-lots",
            Permission::ReleaseUnderDeviation => "release-under-deviation",
            Permission::ManageUsers => "manage-users",
            Permission::Read => "read",
        }
    }
}

impl Role {
    /// Whether this role grants `permission`.
    pub fn grants(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Operator => matches!(permission, P::ExecuteProduction | P::Read),
            Role::Qa => matches!(
                permission,
                P::RecordQuality | P::DispositionLots | P::ExecuteProduction | P::Read
            ),
            Role::QaManager => matches!(
                permission,
                P::RecordQuality
                    | P::DispositionLots
                    | P::ReleaseUnderDeviation
                    | P::ExecuteProduction
                    | P::Read
            ),
            Role::Planner => matches!(permission, P::PlanOrders | P::Read),
            Role::Engineer => matches!(
                permission,
                P::ManageMasterData | P::PlanOrders | P::ExecuteProduction | P::Read
            ),
        }
    }
}

/// A user of the MES (ISA-95 `Person`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    /// Unique login id.
    pub id: String,
    /// Full name, printed on signatures.
    pub name: String,
    /// Roles held.
    pub roles: Vec<Role>,
    /// Whether the user may log in.
    pub active: bool,
}

/// Validates a record id: 1–128 printable characters without whitespace at either end.
pub fn check_id(field: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 128 || id.trim() != id || id.chars().any(|c| c.is_control()) {
        return Err(MesError::invalid(
            field,
            format!("'{}'", id.escape_debug()),
            "an id of 1 to 128 printable characters without leading or trailing spaces",
        ));
    }
    Ok(())
}

/// Largest quantity a single record may carry, kg (a million tonnes: far above any lot, far
/// below where float sums lose the kilogram).
pub const MAX_KG: f64 = 1e9;

/// Validates a quantity in kg: positive and at most [`MAX_KG`].
pub fn check_positive_kg(field: &str, kg: f64) -> Result<()> {
    if !(kg > 0.0 && kg <= MAX_KG) {
        return Err(MesError::invalid(field, kg, "a quantity > 0 and ≤ 1e9 kg"));
    }
    Ok(())
}

/// Validates a composition: element symbols known to `chem`, 0 ≤ wt% ≤ 100, sum ≤ 100.5.
pub fn check_composition(field: &str, composition: &BTreeMap<String, f64>) -> Result<()> {
    let mut total = 0.0;
    for (symbol, &wt) in composition {
        if lodestone_chem::Element::from_symbol(symbol).is_err() {
            return Err(MesError::invalid(
                &format!("{field}.{symbol}"),
                format!("'{symbol}'"),
                "an element symbol such as Nd, Pr, Fe, B",
            ));
        }
        if !(0.0..=100.0).contains(&wt) {
            return Err(MesError::invalid(
                &format!("{field}.{symbol}"),
                wt,
                "a mass fraction between 0 and 100 wt%",
            ));
        }
        total += wt;
    }
    if total > 100.5 {
        return Err(MesError::invalid(
            field,
            format!("a total of {total:.3} wt%"),
            "mass fractions that add up to at most 100 wt%",
        ));
    }
    Ok(())
}
