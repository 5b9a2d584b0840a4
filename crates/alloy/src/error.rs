//! Errors of the alloy crate. Messages name the field, the value and what is allowed.

use thiserror::Error;

/// An error in alloy inputs or an impossible plan.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum AlloyError {
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
    /// The plan cannot be met; each reason names the element or rule and why.
    #[error("the heat cannot be charged to grade:\n  - {}", reasons.join("\n  - "))]
    Infeasible {
        /// One line per unmet element, impurity or rule.
        reasons: Vec<String>,
    },
    /// The LP solver failed for a reason other than infeasibility.
    #[error("the optimiser failed: {0}")]
    Solver(String),
    /// The file is not valid TOML or does not match the format.
    #[error("{0}")]
    Syntax(String),
}

impl AlloyError {
    /// Shorthand for [`AlloyError::Invalid`].
    pub fn invalid(field: &str, value: impl ToString, allowed: &str) -> Self {
        AlloyError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }
}
