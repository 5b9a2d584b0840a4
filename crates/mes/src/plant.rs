//! The plant model file (TOML): equipment hierarchy, material classes and definitions, process
//! segments, work masters, specifications and users, loaded as one batch of define commands (all or nothing).

use serde::Deserialize;
use std::collections::BTreeMap;

use crate::command::Command;
use crate::error::{MesError, Result};
use crate::model::{Equipment, EquipmentLevel, MaterialDefinition, Role, SamplingPlan, SpecLimit};

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
    for c in file.material_class {
        commands.push(Command::DefineMaterialClass {
            name: c.name.unwrap_or_else(|| c.id.clone()),
            id: c.id,
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
