//! Errors as RFC 9457 problem details (`application/problem+json`), with the HTTP status that
//! says what went wrong: 400 malformed, 401 not logged in, 403 not allowed or bad signature,
//! 404 unknown record, 409 state conflict, 422 a value not allowed, 500 the server's fault.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use lodestone_mes::MesError;
use serde::Serialize;

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

/// The body of an error response: RFC 9457 problem details.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, utoipa::ToResponse)]
#[response(
    description = "Problem details (RFC 9457): what went wrong, naming the field, value and what is allowed",
    content_type = "application/problem+json"
)]
pub struct ProblemDetails {
    /// Problem type URI; `about:blank` means the status says it all.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// HTTP status code.
    pub status: u16,
    /// What happened.
    pub detail: String,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&ProblemDetails {
            kind: self.kind,
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
        })
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
            | MesError::ReleaseRefused { .. }
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

impl From<QueryRejection> for Problem {
    fn from(e: QueryRejection) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, format!("query: {}", e.body_text()))
    }
}

impl From<PathRejection> for Problem {
    fn from(e: PathRejection) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, format!("path: {}", e.body_text()))
    }
}

impl From<JsonRejection> for Problem {
    fn from(e: JsonRejection) -> Self {
        // 400 unparseable, 415 not JSON, 422 JSON of the wrong shape (axum's split).
        Problem::new(e.status(), format!("body: {}", e.body_text()))
    }
}

/// `axum::extract::Query` whose rejection is problem+json.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(Problem))]
pub struct Query<T>(pub T);

/// `axum::extract::Path` whose rejection is problem+json.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(Problem))]
pub struct Path<T>(pub T);

/// `axum::Json` as a request body whose rejection is problem+json.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(Problem))]
pub struct Json<T>(pub T);

/// `404` for routes that do not exist.
pub async fn no_such_route(uri: axum::http::Uri) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {}; the API is described at /api/openapi.json",
            uri.path()
        ),
    )
}
