//! The crate's error type.

use thiserror::Error;

use crate::element::{supported_symbols, Element};
use crate::species::named_symbols;

/// Errors from parsing, validation and conversion. Every message names the
/// offending value and what is allowed instead.
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ChemError {
    /// A string is not the symbol of a supported [`Element`].
    #[error("unknown element {symbol:?}: expected one of {}", supported_symbols())]
    UnknownElement {
        /// The string as given.
        symbol: String,
    },

    /// A string is not the symbol of a supported [`crate::Species`].
    #[error(
        "unknown species {symbol:?}: expected an element symbol such as Nd or one of {}, \
         optionally followed by the charge, e.g. \"Nd3+\" or \"SO4 2-\"",
        named_symbols()
    )]
    UnknownSpecies {
        /// The string as given.
        symbol: String,
    },

    /// A species symbol carried a charge suffix that differs from the
    /// species' charge in this model.
    #[error(
        "species {symbol:?} has charge {given:+}, but {species} carries {expected:+} in this model: \
         expected charge {expected:+} or no charge suffix"
    )]
    ChargeMismatch {
        /// The string as given.
        symbol: String,
        /// The charge written in the string.
        given: i8,
        /// Symbol of the species that matched.
        species: String,
        /// The species' charge.
        expected: i8,
    },

    /// A rare-earth-only operation (standard oxide, g/L REO) was applied to
    /// something else.
    #[error(
        "{symbol} is not a rare-earth element: {context} is defined only for Sc, Y and La to Lu"
    )]
    NotRareEarth {
        /// Symbol of the element or species given.
        symbol: String,
        /// The operation, e.g. "standard oxide" or "g/L REO".
        context: &'static str,
    },

    /// A string is not a supported [`crate::ConcentrationUnit`].
    #[error(
        "unknown concentration unit {unit:?}: expected one of mol/L, mmol/L, mg/L, g/L, g/L REO"
    )]
    UnknownUnit {
        /// The string as given.
        unit: String,
    },

    /// An oxide formula string could not be parsed.
    #[error(
        "invalid oxide formula {formula:?}: expected a metal symbol, an optional count, \
         then O and an optional count, e.g. \"Nd2O3\", \"CeO2\" or \"Pr6O11\""
    )]
    InvalidOxideFormula {
        /// The string as given.
        formula: String,
    },

    /// An oxide with a zero atom count, or of oxygen itself.
    #[error(
        "invalid oxide of {element} with {metal_atoms} metal and {oxygen_atoms} oxygen atoms: \
         expected at least one atom of each and a metal other than O"
    )]
    InvalidOxide {
        /// The element.
        element: Element,
        /// Metal atoms per formula unit.
        metal_atoms: u8,
        /// Oxygen atoms per formula unit.
        oxygen_atoms: u8,
    },

    /// A number is out of its allowed range (NaN, infinite, negative, zero).
    #[error("invalid {quantity} {value}: expected {expected}")]
    InvalidValue {
        /// What the number is, with its unit, e.g. "molar mass (g/mol)".
        quantity: &'static str,
        /// The number as given.
        value: f64,
        /// The allowed range, e.g. "a finite number > 0".
        expected: &'static str,
    },

    /// An element's amount in a composition is NaN, infinite or negative.
    #[error("invalid amount of {element}: {value} {unit}, expected a finite number >= 0")]
    InvalidAmount {
        /// The element.
        element: Element,
        /// The amount as given.
        value: f64,
        /// Its unit, e.g. "wt%".
        unit: &'static str,
    },

    /// Normalisation of a set of amounts whose total is zero.
    #[error("cannot normalise {what}: the total is {total}, expected a total > 0")]
    ZeroTotal {
        /// What was being normalised, e.g. "composition (wt%)".
        what: &'static str,
        /// The total found.
        total: f64,
    },

    /// The same element appears twice where each may appear once.
    #[error(
        "element {element} is listed more than once in {what}: expected each element at most once"
    )]
    DuplicateElement {
        /// The repeated element.
        element: Element,
        /// Where, e.g. "composition".
        what: &'static str,
    },
}

/// Checks that `value` is finite, returning it.
pub(crate) fn finite(quantity: &'static str, value: f64) -> Result<f64, ChemError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(ChemError::InvalidValue {
            quantity,
            value,
            expected: "a finite number",
        })
    }
}

/// Checks that a molar mass is finite and > 0, returning it.
pub(crate) fn positive_molar_mass(value: f64) -> Result<f64, ChemError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(ChemError::InvalidValue {
            quantity: "molar mass (g/mol)",
            value,
            expected: "a finite number > 0",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_value_and_allowed() {
        let e = ChemError::InvalidValue {
            quantity: "molar mass (g/mol)",
            value: -1.5,
            expected: "a finite number > 0",
        };
        assert_eq!(
            e.to_string(),
            "invalid molar mass (g/mol) -1.5: expected a finite number > 0"
        );
        let e = ChemError::NotRareEarth {
            symbol: "Fe".into(),
            context: "g/L REO",
        };
        assert_eq!(
            e.to_string(),
            "Fe is not a rare-earth element: g/L REO is defined only for Sc, Y and La to Lu"
        );
        assert_eq!(
            positive_molar_mass(f64::NAN).unwrap_err().to_string(),
            "invalid molar mass (g/mol) NaN: expected a finite number > 0"
        );
        assert_eq!(positive_molar_mass(18.0), Ok(18.0));
        assert_eq!(finite("x", 0.0), Ok(0.0));
        assert!(finite("x", f64::INFINITY).is_err());
    }
}
