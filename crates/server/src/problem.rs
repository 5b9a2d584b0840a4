//! Errors as RFC 9457 problem details (`application/problem+json`), with the HTTP status that
//! says what went wrong: 400 malformed, 401 not logged in, 403 not allowed or bad signature,
//! 404 unknown record, 409 state conflict, 422 a value not allowed, 500 the server's fault.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lodestone_mes::MesError;

/// An error response.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// HTTP status.
    pub status: StatusCode,
    /// Problem type URI; `about:blank` means the status says it all.
    pub kind: String,
    /// Short summary (the status's reason phrase).
    pub title: String,
    /// What happened, naming the field, value and what is allowed.
    pub detail: String,
}

impl Problem {
    /// A problem with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            detail: detail.into(),
        }
    }

    /// 401: no valid session.
    pub fn unauthorized() -> Self {
        Problem::new(
            StatusCode::UNAUTHORIZED,
            "log in first: POST /api/login, then send the token as 'Authorization: Bearer …'",
        )
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&serde_json::json!({
            "type": self.kind,
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        }))
        .unwrap_or_default();
        (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response()
    }
}

impl From<MesError> for Problem {
    fn from(e: MesError) -> Self {
        let status = match &e {
            MesError::Invalid { .. } | MesError::File(_) => StatusCode::UNPROCESSABLE_ENTITY,
            MesError::InBatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            MesError::NotFound { .. } => StatusCode::NOT_FOUND,
            MesError::AlreadyExists { .. }
            | MesError::IllegalState { .. }
            | MesError::InsufficientQuantity { .. }
            | MesError::DrawRefused { .. } => StatusCode::CONFLICT,
            MesError::PermissionDenied { .. } | MesError::Signature(_) => StatusCode::FORBIDDEN,
            MesError::AuthenticationFailed(_) => StatusCode::UNAUTHORIZED,
            MesError::ChainBroken { .. }
            | MesError::Database(_)
            | MesError::Migration(_)
            | MesError::Corrupt(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Problem::new(status, e.to_string())
    }
}

impl From<sqlx::Error> for Problem {
    fn from(e: sqlx::Error) -> Self {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, format!("database: {e}"))
    }
}
