//! Errors of the MES. Messages name the record, the field, the value and what is allowed, so
//! an operator can act on them without reading code.

use thiserror::Error;

/// Why a command or query was refused or failed.
#[derive(Debug, Error)]
pub enum MesError {
    /// A field of a command or file has a value that is not allowed.
    #[error("{field}: {value} is not allowed; expected {allowed}")]
    Invalid {
        /// Dotted path of the field.
        field: String,
        /// The value found.
        value: String,
        /// What would be accepted.
        allowed: String,
    },
    /// A referenced record does not exist.
    #[error("unknown {kind} '{id}'")]
    NotFound {
        /// Record kind: lot, order, equipment, material definition, user, ...
        kind: &'static str,
        /// The id that was looked up.
        id: String,
    },
    /// A record with this id already exists.
    #[error("{kind} '{id}' already exists")]
    AlreadyExists {
        /// Record kind.
        kind: &'static str,
        /// The duplicate id.
        id: String,
    },
    /// The user's roles do not grant the permission the command needs.
    #[error("permission denied: user '{user}' (roles: {roles}) may not {action}; it needs a role with '{permission}'")]
    PermissionDenied {
        /// The acting user.
        user: String,
        /// The user's roles, comma separated.
        roles: String,
        /// What was attempted.
        action: String,
        /// The permission required.
        permission: &'static str,
    },
    /// Wrong user name or password (the message does not say which, on purpose).
    #[error("authentication failed for user '{0}'")]
    AuthenticationFailed(String),
    /// The command is not allowed in the record's current state.
    #[error("{kind} '{id}' is {state}: cannot {action}{}", allowed_hint(.allowed))]
    IllegalState {
        /// Record kind.
        kind: &'static str,
        /// Record id.
        id: String,
        /// Its current state.
        state: String,
        /// What was attempted.
        action: String,
        /// States from which the action is allowed.
        allowed: String,
    },
    /// A release the guards refuse: the lot, or a lot it was split from, fails its
    /// specification, misses results, or has an open nonconformance.
    #[error("lot '{lot}' cannot be released: {}; release it under a deviation (a deviation reference and reason, signature meaning deviation-approval, permission release-under-deviation) if it is accepted as it is", reasons.join("; "))]
    ReleaseRefused {
        /// Lot id.
        lot: String,
        /// What blocks the release, in words.
        reasons: Vec<String>,
    },
    /// A client id already used for a different command.
    #[error("client_id '{client_id}' was already used for a different command (event {seq}); a retry must repeat the same command, a new command needs a new client_id")]
    ClientIdReused {
        /// The reused id.
        client_id: String,
        /// The event its first command recorded.
        seq: i64,
    },
    /// More material was asked of a lot than it holds.
    #[error("lot '{lot}' holds {available_kg} kg; cannot take {requested_kg} kg")]
    InsufficientQuantity {
        /// Lot id.
        lot: String,
        /// Quantity on hand.
        available_kg: f64,
        /// Quantity asked for.
        requested_kg: f64,
    },
    /// A lot could not give the quantity asked when the draw was applied (the batch handler
    /// replaces this with the precise reason: unknown lot, held, used up, too little).
    #[error("lot '{lot}' cannot give {requested_kg} kg")]
    DrawRefused {
        /// Lot id.
        lot: String,
        /// Quantity asked for.
        requested_kg: f64,
    },
    /// An electronic signature is missing or does not verify.
    #[error("electronic signature refused: {0}")]
    Signature(String),
    /// The audit chain does not verify.
    #[error("audit chain broken at event {seq}: {reason}")]
    ChainBroken {
        /// First event whose hash or link does not verify.
        seq: i64,
        /// What did not match.
        reason: String,
    },
    /// A plant-model or import file is not valid.
    #[error("{0}")]
    File(String),
    /// A command of a batch was refused; nothing of the batch was recorded.
    #[error("command {index} ({command}) refused, nothing of the batch was recorded: {error}")]
    InBatch {
        /// 0-based position in the batch.
        index: usize,
        /// Command name.
        command: &'static str,
        /// Why it was refused.
        error: Box<MesError>,
    },
    /// The database failed (connection, I/O, constraint).
    // Not `#[source]`: the message already carries the cause, and a source would print twice in
    // error chains.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A database migration failed.
    #[error("database migration failed: {0}")]
    Migration(sqlx::migrate::MigrateError),
    /// Stored data could not be decoded (a bug or a foreign edit of the database).
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for MesError {
    fn from(error: sqlx::Error) -> Self {
        MesError::Database(error)
    }
}

impl From<sqlx::migrate::MigrateError> for MesError {
    fn from(error: sqlx::migrate::MigrateError) -> Self {
        MesError::Migration(error)
    }
}

fn allowed_hint(allowed: &str) -> String {
    if allowed.is_empty() {
        String::new()
    } else {
        format!(" (allowed only when {allowed})")
    }
}

impl MesError {
    /// Shorthand for [`MesError::Invalid`].
    pub fn invalid(field: &str, value: impl ToString, allowed: &str) -> Self {
        MesError::Invalid {
            field: field.to_string(),
            value: value.to_string(),
            allowed: allowed.to_string(),
        }
    }

    /// Shorthand for [`MesError::NotFound`].
    pub fn not_found(kind: &'static str, id: impl ToString) -> Self {
        MesError::NotFound {
            kind,
            id: id.to_string(),
        }
    }
}

/// Result alias of the crate.
pub type Result<T, E = MesError> = std::result::Result<T, E>;
