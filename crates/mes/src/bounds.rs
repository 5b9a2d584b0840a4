//! Size limits on every text and list a command carries, checked before anything else: the
//! record is permanent, so what it accepts must be bounded (a 1.9 MB downtime reason once grew
//! the database by 18 MB and an audit answer to 38 MB). Text is printable — no NUL or other
//! control characters, which SQLite would store and PostgreSQL refuse — so both databases give
//! the same answer. The limits are documented in the OpenAPI schema of the commands.

use std::collections::BTreeMap;

use crate::command::{Command, Envelope};
use crate::error::{MesError, Result};
use crate::model::check_id;

/// Names: equipment, materials, users, specifications, methods.
pub const MAX_NAME_CHARS: usize = 200;
/// Units of measure (`wt%`, `mm`, `ppm`).
pub const MAX_UNIT_CHARS: usize = 32;
/// Free text: reasons, descriptions, downtime causes, set-point values.
pub const MAX_TEXT_CHARS: usize = 2000;
/// Lots in one split, merge or release; results in one report; limits of one specification.
pub const MAX_LIST_ITEMS: usize = 1000;
/// Commands in one batch.
pub const MAX_BATCH_COMMANDS: usize = 10_000;

/// Checks one text: at most `max` characters, none of them a control character (free text may
/// hold line breaks and tabs when `multiline`).
pub fn check_text(field: &str, value: &str, max: usize, multiline: bool) -> Result<()> {
    let chars = value.chars().count();
    if chars > max {
        return Err(MesError::invalid(
            field,
            format!("{chars} characters"),
            &format!("at most {max} characters"),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|&c| c.is_control() && !(multiline && matches!(c, '\n' | '\r' | '\t')))
    {
        return Err(MesError::invalid(
            field,
            format!("text containing the control character U+{:04X}", c as u32),
            if multiline {
                "printable text (line breaks and tabs allowed)"
            } else {
                "printable text on one line"
            },
        ));
    }
    Ok(())
}

fn name(field: &str, value: &str) -> Result<()> {
    check_text(field, value, MAX_NAME_CHARS, false)
}

fn text(field: &str, value: &str) -> Result<()> {
    check_text(field, value, MAX_TEXT_CHARS, true)
}

fn optional(
    field: &str,
    value: &Option<String>,
    check: fn(&str, &str) -> Result<()>,
) -> Result<()> {
    value.as_deref().map_or(Ok(()), |v| check(field, v))
}

fn list<T>(field: &str, items: &[T]) -> Result<()> {
    if items.len() > MAX_LIST_ITEMS {
        return Err(MesError::invalid(
            field,
            format!("{} items", items.len()),
            &format!("at most {MAX_LIST_ITEMS}"),
        ));
    }
    Ok(())
}

fn keys<V>(field: &str, map: &BTreeMap<String, V>) -> Result<()> {
    if map.len() > MAX_LIST_ITEMS {
        return Err(MesError::invalid(
            field,
            format!("{} entries", map.len()),
            &format!("at most {MAX_LIST_ITEMS}"),
        ));
    }
    for key in map.keys() {
        check_id(&format!("{field} key"), key)?;
    }
    Ok(())
}

/// Checks the envelope's own texts and every text and list of its command.
pub fn check_envelope(envelope: &Envelope) -> Result<()> {
    if let Some(id) = &envelope.client_id {
        check_id("client_id", id)?;
    }
    optional("reason", &envelope.reason, text)?;
    check_command(&envelope.command)
}

/// Checks every text and list of a command (ids are checked where they are resolved).
pub fn check_command(command: &Command) -> Result<()> {
    use Command as C;
    match command {
        C::DefineEquipment(e) => name("equipment.name", &e.name),
        C::DefineMaterialClass { name: n, .. } => name("name", n),
        C::DefineMaterialDefinition(d) => name("material_definition.name", &d.name),
        C::DefineProcessSegment { name: n, .. } => name("name", n),
        C::DefineWorkMaster {
            bill_kg_per_kg,
            parameters,
            ..
        } => {
            keys("bill_kg_per_kg", bill_kg_per_kg)?;
            keys("parameters", parameters)?;
            for (key, value) in parameters {
                text(&format!("parameters.{key}"), value)?;
            }
            Ok(())
        }
        C::CreateUser { name: n, roles, .. } => {
            name("user.name", n)?;
            list("user.roles", roles)
        }
        C::SetUserRoles { roles, .. } => list("roles", roles),
        C::ReceiveLot {
            supplier_lot,
            composition_wt_pct,
            ..
        } => {
            if let Some(s) = supplier_lot {
                check_id("supplier_lot", s)?;
            }
            keys("composition_wt_pct", composition_wt_pct)
        }
        C::SplitLot { parts, .. } => list("parts", parts),
        C::MergeLots { sources, .. } => list("sources", sources),
        C::Produce {
            composition_wt_pct, ..
        }
        | C::OutputContinuous {
            composition_wt_pct, ..
        } => keys("composition_wt_pct", composition_wt_pct),
        C::SetEquipmentState { cause, .. } => optional("cause", cause, text),
        C::ReleaseLots { lots, .. } => list("lots", lots),
        C::DefineSpecification {
            name: n, limits, ..
        } => {
            name("name", n)?;
            list("limits", limits)?;
            for (i, limit) in limits.iter().enumerate() {
                check_text(
                    &format!("limits[{i}].unit"),
                    &limit.unit,
                    MAX_UNIT_CHARS,
                    false,
                )?;
            }
            Ok(())
        }
        C::RecordResult {
            sample,
            unit,
            method,
            ..
        } => {
            if let Some(s) = sample {
                check_id("sample", s)?;
            }
            check_text("unit", unit, MAX_UNIT_CHARS, false)?;
            optional("method", method, name)
        }
        C::RecordResults {
            sample,
            method,
            results,
            ..
        } => {
            if let Some(s) = sample {
                check_id("sample", s)?;
            }
            optional("method", method, name)?;
            list("results", results)?;
            for (i, r) in results.iter().enumerate() {
                check_text(
                    &format!("results[{i}].unit"),
                    &r.unit,
                    MAX_UNIT_CHARS,
                    false,
                )?;
            }
            Ok(())
        }
        C::RaiseNonconformance { description, .. } => text("description", description),
        // Ids only, checked where they are resolved; passwords by the password policy;
        // deviations by their own check.
        C::MoveLot { .. }
        | C::ShipLot { .. }
        | C::ScrapLot { .. }
        | C::CreateOrder { .. }
        | C::OrderAction { .. }
        | C::Consume { .. }
        | C::FeedContinuous { .. }
        | C::HoldLot { .. }
        | C::ReleaseLot { .. }
        | C::RejectLot { .. }
        | C::CloseNonconformance { .. }
        | C::ChangePassword { .. }
        | C::ResetPassword { .. } => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_and_printable() {
        assert!(check_text("cause", "furnace leak\nline 2", 2000, true).is_ok());
        let e = check_text("cause", &"x".repeat(2001), 2000, true).unwrap_err();
        assert!(e.to_string().contains("2001 characters"), "{e}");
        let e = check_text("name", "a\0b", 200, false).unwrap_err();
        assert!(e.to_string().contains("U+0000"), "{e}");
        assert!(check_text("name", "two\nlines", 200, false).is_err());
    }
}
