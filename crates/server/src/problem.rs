//! Errors as RFC 9457 problem details (`application/problem+json`), with the HTTP status that
//! says what went wrong: 400 malformed, 401 not logged in, 403 not allowed or bad signature,
//! 404 unknown record, 409 state conflict, 413 too large, 422 a value not allowed, 429 locked
//! out, 500 the server's fault, 503 busy (the database, or every computation slot; with
//! `Retry-After`).

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
    /// Seconds after which a retry may succeed (`Retry-After`), for 503 and 429.
    pub retry_after_s: Option<u64>,
}

impl Problem {
    /// A problem with `status` and `detail`.
    pub fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Problem {
            status,
            kind: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").into(),
            detail: detail.into(),
            retry_after_s: None,
        }
    }

    /// 503 with `Retry-After`: the server is busy, not the request wrong.
    pub fn busy(detail: impl Into<String>, retry_after_s: u64) -> Self {
        Problem {
            retry_after_s: Some(retry_after_s),
            ..Problem::new(StatusCode::SERVICE_UNAVAILABLE, detail)
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
        let retry_after = self.retry_after_s;
        let body = serde_json::to_vec(&ProblemDetails {
            kind: self.kind,
            title: self.title,
            status: self.status.as_u16(),
            detail: self.detail,
        })
        .unwrap_or_default();
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body,
        )
            .into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                header::HeaderValue::from(seconds.max(1)),
            );
        }
        response
    }
}

/// Seconds a client is asked to wait when the database is busy.
pub const DATABASE_BUSY_RETRY_S: u64 = 2;

/// Whether `e` says the database is busy rather than the request wrong: SQLite's
/// `SQLITE_BUSY`/`SQLITE_LOCKED` (any extended code), PostgreSQL's lock timeout (55P03),
/// serialization failure (40001), deadlock (40P01) or statement timeout (57014), and a pool
/// with no free connection.
pub fn database_busy(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(db) => {
            let code = db.code();
            let code = code.as_deref().unwrap_or("");
            // SQLite reports the (extended) result code as a number: the primary code is its
            // low byte.
            let sqlite_busy = code.parse::<i64>().is_ok_and(|n| matches!(n & 0xff, 5 | 6));
            sqlite_busy
                || matches!(code, "55P03" | "40001" | "40P01" | "57014")
                || db.message().contains("database is locked")
        }
        _ => false,
    }
}

fn database_problem(e: &sqlx::Error, detail: String) -> Problem {
    if database_busy(e) {
        Problem::busy(
            format!("the database is busy ({detail}); retry shortly"),
            DATABASE_BUSY_RETRY_S,
        )
    } else {
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, detail)
    }
}

impl From<MesError> for Problem {
    fn from(e: MesError) -> Self {
        if let MesError::Database(db) = &e {
            return database_problem(db, e.to_string());
        }
        let status = match &e {
            MesError::Invalid { .. } | MesError::File(_) => StatusCode::UNPROCESSABLE_ENTITY,
            MesError::InBatch { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            MesError::NotFound { .. } => StatusCode::NOT_FOUND,
            MesError::AlreadyExists { .. }
            | MesError::IllegalState { .. }
            | MesError::ReleaseRefused { .. }
            | MesError::ClientIdReused { .. }
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
        database_problem(&e, format!("database: {e}"))
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
