//! Errors of the sx crate. Every message names the field or place, the value and what is allowed.

use thiserror::Error;

/// An error building or solving a cascade.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum SxError {
    /// A field of a case or of a model has a value that is not allowed.
    #[error("{field}: {value} is not allowed; expected {allowed}")]
    Invalid {
        /// Dotted path of the field (`feed[0].stage`, `model.beta.Nd`).
        field: String,
        /// The value found.
        value: String,
        /// What would be accepted.
        allowed: String,
    },
    /// A required field is missing.
    #[error("{field} is missing; {hint}")]
    Missing {
        /// Dotted path of the field.
        field: String,
        /// What to add.
        hint: String,
    },
    /// The case file is not valid TOML or does not match the format.
    #[error("{0}")]
    Syntax(String),
    /// The Jacobian could not be factored even with a tiny pseudo-time step.
    #[error("the stage equations are singular at stage {stage}; {hint}")]
    Singular {
        /// 1-based stage number where the elimination broke down.
        stage: usize,
        /// What to check.
        hint: String,
    },
}

impl SxError {
    /// Shorthand for [`SxError::Invalid`].
    pub fn invalid(field: &str, value: &str, allowed: &str) -> Self {
        SxError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }
    /// Shorthand for [`SxError::Missing`].
    pub fn missing(field: &str, hint: &str) -> Self {
        SxError::Missing {
            field: field.to_string(),
            hint: hint.to_string(),
        }
    }
}
