//! Errors of the twin. Messages name the field, the value and what is allowed.

use thiserror::Error;

/// Why a plant file or a run was refused.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum TwinError {
    /// A field has a value that is not allowed.
    #[error("{field}: {value} is not allowed; expected {allowed}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// The value found.
        value: String,
        /// What would be accepted.
        allowed: String,
    },
    /// The file is not valid TOML, does not match the format, or failed a check.
    #[error("{0}")]
    File(String),
}

impl TwinError {
    /// Shorthand for [`TwinError::Invalid`].
    pub fn invalid(field: &str, value: impl ToString, allowed: &str) -> Self {
        TwinError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = TwinError> = std::result::Result<T, E>;
