//! Sessions: `POST /api/login` checks the user's password against the MES (argon2) and
//! returns a random token, also set as an HttpOnly cookie for the dashboard. Every protected
//! route takes the token from `Authorization: Bearer …` or the cookie; the MES then checks
//! the session's roles on every command.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lodestone_mes::model::{Permission, Role};
use lodestone_mes::Session;
use serde::{Deserialize, Serialize};

use crate::problem::{Json as JsonBody, Problem, ProblemDetails};
use crate::Shared;

/// Cookie that carries the session token for the dashboard (and its event stream).
pub const COOKIE_NAME: &str = "lodestone_token";

/// Logged-in sessions by token (in memory: a restart logs everyone out). A session unused for
/// longer than its idle limit ends (default [`Sessions::DEFAULT_IDLE`], a shift).
pub struct Sessions {
    map: RwLock<HashMap<String, (Session, Instant)>>,
    idle: Duration,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::with_idle_limit(Sessions::DEFAULT_IDLE)
    }
}

impl Sessions {
    /// Idle limit of the default sessions: 8 hours, one shift.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(8 * 3600);

    /// Sessions that end after `idle` without a request.
    pub fn with_idle_limit(idle: Duration) -> Self {
        Sessions {
            map: RwLock::new(HashMap::new()),
            idle,
        }
    }

    fn insert(&self, token: String, session: Session) {
        if let Ok(mut map) = self.map.write() {
            // Sweep ended sessions at each login, so the map does not grow without bound.
            let idle = self.idle;
            map.retain(|_, (_, used)| used.elapsed() <= idle);
            map.insert(token, (session, Instant::now()));
        }
    }

    fn get(&self, token: &str) -> Option<Session> {
        let mut map = self.map.write().ok()?;
        let (session, used) = map.get_mut(token)?;
        if used.elapsed() > self.idle {
            map.remove(token);
            return None;
        }
        *used = Instant::now();
        Some(session.clone())
    }

    fn remove(&self, token: &str) {
        if let Ok(mut map) = self.map.write() {
            map.remove(token);
        }
    }
}

/// Login request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Login id.
    pub user: String,
    /// Password.
    pub password: String,
}

/// Who is logged in.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Me {
    /// Login id.
    pub user: String,
    /// Printed name.
    pub name: String,
    /// Roles.
    pub roles: Vec<Role>,
}

/// Login answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LoginResponse {
    /// Bearer token.
    pub token: String,
    /// The user.
    pub me: Me,
}

fn me_of(session: &Session) -> Me {
    Me {
        user: session.user.clone(),
        name: session.name.clone(),
        roles: session.roles.clone(),
    }
}

fn new_token() -> Result<String, Problem> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no random source for a session token: {e}"),
        )
    })?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `POST /api/login`.
#[utoipa::path(
    post,
    path = "/api/login",
    tag = "session",
    summary = "Logs in: a bearer token, also set as the `lodestone_token` cookie",
    request_body = LoginRequest,
    responses((status = 200, description = "Logs in: a bearer token, also set as the `lodestone_token` cookie", body = LoginResponse), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 415, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails))
)]
pub async fn login(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, Problem> {
    let session = state.mes.login(&request.user, &request.password).await?;
    let token = new_token()?;
    let body = LoginResponse {
        token: token.clone(),
        me: me_of(&session),
    };
    state.sessions.insert(token.clone(), session);
    let cookie = format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/");
    Ok(([(SET_COOKIE, cookie)], Json(body)).into_response())
}

/// `POST /api/logout`.
#[utoipa::path(
    post,
    path = "/api/logout",
    tag = "session",
    summary = "Ends the session",
    responses((status = 204, description = "Logged out"))
)]
pub async fn logout(State(state): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(token) = token_of(&headers) {
        state.sessions.remove(&token);
    }
    let cookie = format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    ([(SET_COOKIE, cookie)], StatusCode::NO_CONTENT).into_response()
}

/// `GET /api/me`.
#[utoipa::path(
    get,
    path = "/api/me",
    tag = "session",
    summary = "Who is logged in",
    responses((status = 200, description = "Who is logged in", body = Me), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn me(Authed(session): Authed) -> Json<Me> {
    Json(me_of(&session))
}

fn token_of(headers: &HeaderMap) -> Option<String> {
    if let Some(value) = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()) {
        if let Some(token) = value.strip_prefix("Bearer ") {
            return Some(token.trim().to_string());
        }
    }
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == COOKIE_NAME && !value.is_empty()).then(|| value.to_string())
        })
}

/// A request with a valid session of an active user, with the user's current roles.
pub struct Authed(pub Session);

impl FromRequestParts<Shared> for Authed {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Self, Problem> {
        let token = token_of(&parts.headers).ok_or_else(Problem::unauthorized)?;
        let mut session = state
            .sessions
            .get(&token)
            .ok_or_else(Problem::unauthorized)?;
        // Roles as they are now, not as they were at login: an admin's change of roles or
        // deactivation takes effect on the user's next request.
        let current =
            lodestone_mes::projection::find_user(state.mes.db().pool(), &session.user).await?;
        match current {
            Some((user, _)) if user.active => session.roles = user.roles,
            _ => {
                state.sessions.remove(&token);
                return Err(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "the session of user '{}' has ended: the user is no longer active; log in again",
                        session.user
                    ),
                ));
            }
        }
        // Every route reads records; commands are checked again, permission by permission, by
        // the MES.
        if !session.roles.iter().any(|r| r.grants(Permission::Read)) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                format!(
                    "user '{}' has no role that may read plant records (roles: operator, qa, planner, engineer, admin)",
                    session.user
                ),
            ));
        }
        Ok(Authed(session))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session() -> Session {
        Session {
            user: "qa".into(),
            name: "Quinn QA".into(),
            roles: vec![Role::Qa],
        }
    }

    #[test]
    fn a_session_ends_after_its_idle_limit_and_use_extends_it() {
        let sessions = Sessions::with_idle_limit(Duration::from_millis(300));
        sessions.insert("t1".into(), session());
        for _ in 0..4 {
            std::thread::sleep(Duration::from_millis(100));
            assert!(sessions.get("t1").is_some(), "used within the limit");
        }
        std::thread::sleep(Duration::from_millis(400));
        assert!(sessions.get("t1").is_none(), "idle past the limit");
        // Logging in again sweeps ended sessions.
        sessions.insert("t2".into(), session());
        sessions.insert("t3".into(), session());
        assert_eq!(sessions.map.read().unwrap().len(), 2);
        sessions.remove("t2");
        assert!(sessions.get("t2").is_none());
    }
}
