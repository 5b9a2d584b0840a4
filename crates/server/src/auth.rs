//! Sessions: `POST /api/login` checks the user's password against the MES (argon2) and
//! returns a random token, also set as an HttpOnly cookie for the dashboard. Every protected
//! route takes the token from `Authorization: Bearer …` or the cookie; the MES then checks
//! the session's roles on every command.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, State};
use axum::http::header::{AUTHORIZATION, COOKIE, RETRY_AFTER, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use lodestone_mes::model::{Permission, Role};
use lodestone_mes::{MesError, Session};
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
    failures: std::sync::Mutex<HashMap<String, Failures>>,
}

/// Failed logins of one user id: after [`Sessions::MAX_FAILURES`] within
/// [`Sessions::LOCKOUT`], logins of that id are refused for [`Sessions::LOCKOUT`].
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::with_idle_limit(Sessions::DEFAULT_IDLE)
    }
}

impl Sessions {
    /// Idle limit of the default sessions: 8 hours, one shift.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(8 * 3600);

    /// Failed logins of one user id that lock it.
    pub const MAX_FAILURES: u32 = 5;

    /// The window the failures are counted in, and how long the lock lasts: 15 minutes.
    pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

    /// Sessions that end after `idle` without a request.
    pub fn with_idle_limit(idle: Duration) -> Self {
        Sessions {
            map: RwLock::new(HashMap::new()),
            idle,
            failures: Default::default(),
        }
    }

    /// How long logins of `user` stay refused, if the id is locked.
    fn locked_for(&self, user: &str) -> Option<Duration> {
        let failures = self.failures.lock().ok()?;
        let until = failures.get(user)?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a failed login of `user`; true when this failure locks the id.
    fn record_failure(&self, user: &str) -> bool {
        let Ok(mut failures) = self.failures.lock() else {
            return false;
        };
        let now = Instant::now();
        // Forget ids whose window and lock have both passed, so the map stays small.
        failures.retain(|_, f| {
            now.duration_since(f.first) < Self::LOCKOUT || f.locked_until.is_some_and(|t| t > now)
        });
        let f = failures.entry(user.to_string()).or_insert(Failures {
            count: 0,
            first: now,
            locked_until: None,
        });
        if now.duration_since(f.first) >= Self::LOCKOUT {
            *f = Failures {
                count: 0,
                first: now,
                locked_until: None,
            };
        }
        f.count += 1;
        if f.count >= Self::MAX_FAILURES {
            f.locked_until = Some(now + Self::LOCKOUT);
            true
        } else {
            false
        }
    }

    fn clear_failures(&self, user: &str) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(user);
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
    responses((status = 200, description = "Logs in: a bearer token, also set as the `lodestone_token` cookie", body = LoginResponse), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 415, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 429, response = ProblemDetails), (status = 500, response = ProblemDetails))
)]
pub async fn login(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, Problem> {
    if let Some(wait) = state.sessions.locked_for(&request.user) {
        let minutes = wait.as_secs().div_ceil(60);
        let mut response = Problem::new(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "user '{}' is locked after {} failed logins; try again in {minutes} min, or ask an admin",
                request.user,
                Sessions::MAX_FAILURES
            ),
        )
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        return Ok(response);
    }
    let session = match state.mes.login(&request.user, &request.password).await {
        Ok(session) => session,
        Err(e @ MesError::AuthenticationFailed(_)) => {
            let mut problem = Problem::from(e);
            if state.sessions.record_failure(&request.user) {
                problem.detail.push_str(&format!(
                    "; {} failed logins: user '{}' is locked for {} min",
                    Sessions::MAX_FAILURES,
                    request.user,
                    Sessions::LOCKOUT.as_secs() / 60
                ));
            }
            return Err(problem);
        }
        Err(e) => return Err(e.into()),
    };
    state.sessions.clear_failures(&request.user);
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

    #[test]
    fn repeated_failed_logins_lock_the_user_id() {
        let sessions = Sessions::default();
        for i in 1..Sessions::MAX_FAILURES {
            assert!(!sessions.record_failure("qa"), "failure {i} does not lock");
            assert!(sessions.locked_for("qa").is_none());
        }
        assert!(sessions.record_failure("qa"));
        let wait = sessions.locked_for("qa").expect("locked");
        assert!(wait > Duration::from_secs(14 * 60) && wait <= Sessions::LOCKOUT);
        assert!(
            sessions.locked_for("operator").is_none(),
            "other ids unaffected"
        );
        sessions.clear_failures("qa");
        assert!(sessions.locked_for("qa").is_none());
    }
}
