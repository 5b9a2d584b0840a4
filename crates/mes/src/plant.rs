//! The plant model file (TOML): equipment hierarchy, material classes and definitions, process
//! segments, work masters, specifications and users, loaded as one batch of define commands (all or nothing);
//! and the plant model as the MES holds it ([`Mes::plant_model`]).

use serde::{Deserialize, Serialize};
use sqlx::Row;
use std::collections::BTreeMap;

use crate::command::Command;
use crate::db::stored;
use crate::error::{MesError, Result};
use crate::model::{
    Equipment, EquipmentLevel, MaterialClass, MaterialDefinition, ProcessSegment, ReceiptPolicy,
    Role, SamplingPlan, SpecLimit, Specification, WorkMaster,
};
use crate::service::Mes;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlantFile {
    #[serde(default)]
    equipment: Vec<EquipmentEntry>,
    #[serde(default)]
    material_class: Vec<ClassEntry>,
    #[serde(default)]
    material_definition: Vec<DefinitionEntry>,
    #[serde(default)]
    process_segment: Vec<SegmentEntry>,
    #[serde(default)]
    work_master: Vec<WorkMasterEntry>,
    #[serde(default)]
    user: Vec<UserEntry>,
    #[serde(default)]
    specification: Vec<SpecificationEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpecificationEntry {
    definition: String,
    name: String,
    limits: Vec<SpecLimit>,
    #[serde(default)]
    sampling: SamplingPlan,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EquipmentEntry {
    id: String,
    name: Option<String>,
    level: String,
    parent: Option<String>,
    ideal_cycle_s: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClassEntry {
    id: String,
    name: Option<String>,
    /// `quarantine` (default) or `certificate`.
    receipt: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DefinitionEntry {
    id: String,
    name: Option<String>,
    class: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentEntry {
    id: String,
    name: Option<String>,
    equipment_level: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WorkMasterEntry {
    id: String,
    segment: String,
    product: String,
    #[serde(default)]
    bill_kg_per_kg: BTreeMap<String, f64>,
    #[serde(default)]
    parameters: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    id: String,
    name: String,
    roles: Vec<String>,
    /// Initial password; for demos and tests. Prefer `password_env`.
    password: Option<String>,
    /// Name of an environment variable holding the initial password.
    password_env: Option<String>,
}

/// Reads a plant file into the commands that define it, in dependency order. `source` names
/// the file in messages; `env` looks up `password_env` variables.
pub fn plant_commands(
    source: &str,
    text: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Command>> {
    let file: PlantFile =
        toml::from_str(text).map_err(|e| MesError::File(format!("{source}: {e}")))?;
    let mut commands = Vec::new();
    for (i, e) in file.equipment.into_iter().enumerate() {
        let level = EquipmentLevel::parse(&format!("{source}: equipment[{i}].level"), &e.level)?;
        commands.push(Command::DefineEquipment(Equipment {
            name: e.name.unwrap_or_else(|| e.id.clone()),
            id: e.id,
            level,
            parent: e.parent,
            ideal_cycle_s: e.ideal_cycle_s,
        }));
    }
    for (i, c) in file.material_class.into_iter().enumerate() {
        let receipt = c
            .receipt
            .as_deref()
            .map(|r| ReceiptPolicy::parse(&format!("{source}: material_class[{i}].receipt"), r))
            .transpose()?;
        commands.push(Command::DefineMaterialClass {
            name: c.name.unwrap_or_else(|| c.id.clone()),
            id: c.id,
            receipt,
        });
    }
    for d in file.material_definition {
        commands.push(Command::DefineMaterialDefinition(MaterialDefinition {
            name: d.name.unwrap_or_else(|| d.id.clone()),
            id: d.id,
            class: d.class,
        }));
    }
    for (i, p) in file.process_segment.into_iter().enumerate() {
        let equipment_level = p
            .equipment_level
            .map(|l| {
                EquipmentLevel::parse(
                    &format!("{source}: process_segment[{i}].equipment_level"),
                    &l,
                )
            })
            .transpose()?;
        commands.push(Command::DefineProcessSegment {
            name: p.name.unwrap_or_else(|| p.id.clone()),
            id: p.id,
            equipment_level,
        });
    }
    for w in file.work_master {
        commands.push(Command::DefineWorkMaster {
            id: w.id,
            segment: w.segment,
            product: w.product,
            bill_kg_per_kg: w.bill_kg_per_kg,
            parameters: w.parameters,
        });
    }
    for s in file.specification {
        commands.push(Command::DefineSpecification {
            definition: s.definition,
            name: s.name,
            limits: s.limits,
            sampling: s.sampling,
        });
    }
    for (i, u) in file.user.into_iter().enumerate() {
        let field = format!("{source}: user[{i}]");
        let roles = u
            .roles
            .iter()
            .map(|r| Role::parse(&format!("{field}.roles"), r))
            .collect::<Result<Vec<_>>>()?;
        let password = match (u.password, u.password_env) {
            (Some(p), None) => p,
            (None, Some(var)) => env(&var).ok_or_else(|| {
                MesError::invalid(
                    &format!("{field}.password_env"),
                    format!("'{var}'"),
                    "the name of a set environment variable",
                )
            })?,
            _ => {
                return Err(MesError::invalid(
                    &format!("{field} ('{}')", u.id),
                    "no password or both password and password_env",
                    "exactly one of password or password_env",
                ))
            }
        };
        commands.push(Command::CreateUser {
            id: u.id,
            name: u.name,
            roles,
            password,
        });
    }
    Ok(commands)
}

/// The plant model in force: what the define commands have set up, latest versions only.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlantModel {
    /// The equipment hierarchy, in id order.
    pub equipment: Vec<Equipment>,
    /// Material classes, in id order.
    pub material_classes: Vec<MaterialClass>,
    /// Material definitions, in id order.
    pub material_definitions: Vec<MaterialDefinition>,
    /// Process segments, in id order.
    pub process_segments: Vec<ProcessSegment>,
    /// The latest version of every work master, in id order.
    pub work_masters: Vec<WorkMaster>,
    /// The specification in force for each material definition that has one, in definition order.
    pub specifications: Vec<Specification>,
}

fn json_column<T: serde::de::DeserializeOwned>(column: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| MesError::Corrupt(format!("{column} '{text}': {e}")))
}

impl Mes {
    /// The plant model in force.
    pub async fn plant_model(&self) -> Result<PlantModel> {
        let pool = self.db().pool();
        let equipment =
            sqlx::query("SELECT id, name, level, parent, ideal_cycle_s FROM equipment ORDER BY id")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    let level: String = r.try_get("level")?;
                    Ok(Equipment {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        level: stored(EquipmentLevel::parse, "equipment.level", &level)?,
                        parent: r.try_get("parent")?,
                        ideal_cycle_s: r.try_get("ideal_cycle_s")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let material_classes =
            sqlx::query("SELECT id, name, receipt FROM material_classes ORDER BY id")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    let receipt: String = r.try_get("receipt")?;
                    Ok(MaterialClass {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        receipt: stored(
                            ReceiptPolicy::parse,
                            "material_classes.receipt",
                            &receipt,
                        )?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let material_definitions =
            sqlx::query("SELECT id, name, class FROM material_definitions ORDER BY id")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    Ok(MaterialDefinition {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        class: r.try_get("class")?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let process_segments =
            sqlx::query("SELECT id, name, equipment_level FROM process_segments ORDER BY id")
                .fetch_all(pool)
                .await?
                .iter()
                .map(|r| {
                    let level: Option<String> = r.try_get("equipment_level")?;
                    Ok(ProcessSegment {
                        id: r.try_get("id")?,
                        name: r.try_get("name")?,
                        equipment_level: level
                            .map(|l| {
                                stored(
                                    EquipmentLevel::parse,
                                    "process_segments.equipment_level",
                                    &l,
                                )
                            })
                            .transpose()?,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
        let work_masters = sqlx::query(
            "SELECT w.id AS id, w.version AS version, w.segment AS segment, w.product AS product, \
             w.bill AS bill, w.parameters AS parameters FROM work_masters w \
             JOIN (SELECT id, MAX(version) AS version FROM work_masters GROUP BY id) m \
             ON m.id = w.id AND m.version = w.version ORDER BY w.id",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| {
            let bill: String = r.try_get("bill")?;
            let parameters: String = r.try_get("parameters")?;
            Ok(WorkMaster {
                id: r.try_get("id")?,
                version: r.try_get("version")?,
                segment: r.try_get("segment")?,
                product: r.try_get("product")?,
                bill_kg_per_kg: json_column("work_masters.bill", &bill)?,
                parameters: json_column("work_masters.parameters", &parameters)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
        let specifications = sqlx::query(
            "SELECT s.definition AS definition, s.version AS version, s.name AS name, \
             s.limits AS limits, s.sampling AS sampling FROM specifications s \
             JOIN (SELECT definition, MAX(version) AS version FROM specifications GROUP BY definition) m \
             ON m.definition = s.definition AND m.version = s.version ORDER BY s.definition",
        )
        .fetch_all(pool)
        .await?
        .iter()
        .map(crate::quality::specification_from_row)
        .collect::<Result<Vec<_>>>()?;
        Ok(PlantModel {
            equipment,
            material_classes,
            material_definitions,
            process_segments,
            work_masters,
            specifications,
        })
    }
}
