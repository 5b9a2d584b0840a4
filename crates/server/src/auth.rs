//! Sessions: `POST /api/login` checks the user's password against the MES (argon2) and
//! returns a random token, also set as an HttpOnly cookie for the dashboard. Every protected
//! route takes the token from `Authorization: Bearer …` or the cookie; the MES then checks
//! the session's roles on every command.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};
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

/// How sessions end and how their cookie is marked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends.
    pub idle: Duration,
    /// A session ends this long after its login, however much it is used.
    pub lifetime: Duration,
    /// Mark the cookie `Secure` (the browser sends it over HTTPS only): set when the server is
    /// reached through a TLS-terminating proxy.
    pub secure_cookie: bool,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle: Sessions::DEFAULT_IDLE,
            lifetime: Sessions::DEFAULT_LIFETIME,
            secure_cookie: false,
        }
    }
}

/// Logged-in sessions by token: in memory ([`Sessions::new`]: a restart logs everyone out), or
/// in the MES database ([`Sessions::in_database`]: a restart keeps them, and server processes on
/// one database share them; only the SHA-256 of each token is stored). A session ends when
/// unused for longer than its idle limit (default [`Sessions::DEFAULT_IDLE`], a shift) or
/// when its absolute lifetime has passed (default [`Sessions::DEFAULT_LIFETIME`]).
pub struct Sessions {
    map: RwLock<HashMap<String, Entry>>,
    store: Option<sqlx::AnyPool>,
    policy: SessionPolicy,
    failures: Mutex<HashMap<String, Failures>>,
}

struct Entry {
    session: Session,
    created: Instant,
    used: Instant,
}

/// Failed logins of one user id: after [`Sessions::MAX_FAILURES`] within
/// [`Sessions::LOCKOUT`], logins of that id are refused for [`Sessions::LOCKOUT`].
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

impl Failures {
    fn locked(&self, now: Instant) -> bool {
        self.locked_until.is_some_and(|t| t > now)
    }
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(SessionPolicy::default())
    }
}

impl Sessions {
    /// Idle limit of the default sessions: 8 hours, one shift.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(8 * 3600);

    /// Absolute lifetime of the default sessions: 12 hours, a long shift with its handover.
    pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(12 * 3600);

    /// Failed logins (or failed e-signature passwords) of one user id that lock it.
    pub const MAX_FAILURES: u32 = 5;

    /// The window the failures are counted in, and how long the lock lasts: 15 minutes.
    pub const LOCKOUT: Duration = Duration::from_secs(15 * 60);

    /// Most user ids whose failures are remembered at once. Ids are at most 128 bytes, so the
    /// map stays under a few MiB whatever is sent; beyond it the oldest unlocked entry (or,
    /// when all are locked, the oldest) is forgotten.
    pub const MAX_TRACKED_IDS: usize = 10_000;

    /// Most sessions of one user at once: a further login ends the user's least recently used
    /// session, so logging in in a loop cannot grow the server's memory.
    pub const MAX_SESSIONS_PER_USER: usize = 16;

    /// Sessions under `policy`, in memory.
    pub fn new(policy: SessionPolicy) -> Self {
        Sessions {
            map: RwLock::new(HashMap::new()),
            store: None,
            policy,
            failures: Default::default(),
        }
    }

    /// Sessions under `policy`, in the `sessions` table of the MES database at `pool`.
    pub fn in_database(policy: SessionPolicy, pool: sqlx::AnyPool) -> Self {
        Sessions {
            store: Some(pool),
            ..Sessions::new(policy)
        }
    }

    /// Starts a session for `token`.
    pub async fn open(&self, token: String, session: Session) -> Result<(), Problem> {
        let Some(pool) = &self.store else {
            self.insert(token, session);
            return Ok(());
        };
        let now = wall_ms();
        let mut tx = pool.begin().await.map_err(MesError::from)?;
        // Sweep ended sessions at each login, so the table does not grow without bound.
        sqlx::query("DELETE FROM sessions WHERE used_at_ms < $1 OR created_at_ms < $2")
            .bind(now - millis(self.policy.idle))
            .bind(now - millis(self.policy.lifetime))
            .execute(&mut *tx)
            .await
            .map_err(MesError::from)?;
        let own = sqlx::query(
            "SELECT token_sha256 FROM sessions WHERE user_id = $1 ORDER BY used_at_ms DESC",
        )
        .bind(session.user.clone())
        .fetch_all(&mut *tx)
        .await
        .map_err(MesError::from)?;
        for row in own.iter().skip(Self::MAX_SESSIONS_PER_USER - 1) {
            let old: String = sqlx::Row::try_get(row, "token_sha256").map_err(MesError::from)?;
            sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
                .bind(old)
                .execute(&mut *tx)
                .await
                .map_err(MesError::from)?;
        }
        sqlx::query(
            "INSERT INTO sessions (token_sha256, user_id, created_at_ms, used_at_ms) VALUES ($1, $2, $3, $3)",
        )
        .bind(token_digest(&token))
        .bind(session.user)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(MesError::from)?;
        tx.commit().await.map_err(MesError::from)?;
        Ok(())
    }

    /// The live session of `token`, marking it used. From the database, the session carries
    /// the user id only: the caller reads the user's name and roles as they are now.
    pub async fn find(&self, token: &str) -> Result<Option<Session>, Problem> {
        let Some(pool) = &self.store else {
            return Ok(self.get(token));
        };
        let digest = token_digest(token);
        let row = sqlx::query(
            "SELECT user_id, created_at_ms, used_at_ms FROM sessions WHERE token_sha256 = $1",
        )
        .bind(digest.clone())
        .fetch_optional(pool)
        .await
        .map_err(MesError::from)?;
        let Some(row) = row else { return Ok(None) };
        let get = |c: &str| sqlx::Row::try_get::<i64, _>(&row, c).map_err(MesError::from);
        let (created, used) = (get("created_at_ms")?, get("used_at_ms")?);
        let user: String = sqlx::Row::try_get(&row, "user_id").map_err(MesError::from)?;
        let now = wall_ms();
        if now - used > millis(self.policy.idle) || now - created > millis(self.policy.lifetime) {
            self.close(token).await?;
            return Ok(None);
        }
        // One write per session per interval, not per request; the idle limit is then met to
        // within a quarter of itself (at most a minute).
        if now - used >= (millis(self.policy.idle) / 4).min(60_000) {
            sqlx::query("UPDATE sessions SET used_at_ms = $1 WHERE token_sha256 = $2")
                .bind(now)
                .bind(digest)
                .execute(pool)
                .await
                .map_err(MesError::from)?;
        }
        Ok(Some(Session {
            user,
            name: String::new(),
            roles: Vec::new(),
            must_change_password: false,
        }))
    }

    /// Ends the session of `token`.
    pub async fn close(&self, token: &str) -> Result<(), Problem> {
        match &self.store {
            None => self.remove(token),
            Some(pool) => {
                sqlx::query("DELETE FROM sessions WHERE token_sha256 = $1")
                    .bind(token_digest(token))
                    .execute(pool)
                    .await
                    .map_err(MesError::from)?;
            }
        }
        Ok(())
    }

    /// Sessions that end after `idle` without a request (default lifetime and cookie).
    pub fn with_idle_limit(idle: Duration) -> Self {
        Sessions::new(SessionPolicy {
            idle,
            ..SessionPolicy::default()
        })
    }

    /// The policy these sessions follow.
    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// How long logins of `user` stay refused, if the id is locked.
    pub fn locked_for(&self, user: &str) -> Option<Duration> {
        let failures = self.failures.lock().ok()?;
        let until = failures.get(user)?.locked_until?;
        until.checked_duration_since(Instant::now())
    }

    /// Counts a failed login of `user`; true when this failure locks the id.
    pub fn record_failure(&self, user: &str) -> bool {
        let Ok(mut failures) = self.failures.lock() else {
            return false;
        };
        let now = Instant::now();
        // Forget ids whose window and lock have both passed, so the map stays small.
        failures.retain(|_, f| now.duration_since(f.first) < Self::LOCKOUT || f.locked(now));
        if !failures.contains_key(user) && failures.len() >= Self::MAX_TRACKED_IDS {
            // Full: forget the oldest id that is not locked (a flood of fresh ids must not
            // unlock a locked one), else the oldest.
            let victim = failures
                .iter()
                .filter(|(_, f)| !f.locked(now))
                .min_by_key(|(_, f)| f.first)
                .or_else(|| failures.iter().min_by_key(|(_, f)| f.first))
                .map(|(k, _)| k.clone());
            if let Some(victim) = victim {
                failures.remove(&victim);
            }
        }
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

    /// User ids whose failures are remembered now.
    pub fn tracked_ids(&self) -> usize {
        self.failures.lock().map(|f| f.len()).unwrap_or(0)
    }

    fn live(&self, entry: &Entry, now: Instant) -> bool {
        now.duration_since(entry.used) <= self.policy.idle
            && now.duration_since(entry.created) <= self.policy.lifetime
    }

    fn insert(&self, token: String, session: Session) {
        if let Ok(mut map) = self.map.write() {
            // Sweep ended sessions at each login, so the map does not grow without bound.
            let now = Instant::now();
            map.retain(|_, entry| self.live(entry, now));
            let mut own: Vec<(Instant, String)> = map
                .iter()
                .filter(|(_, e)| e.session.user == session.user)
                .map(|(token, e)| (e.used, token.clone()))
                .collect();
            if own.len() >= Self::MAX_SESSIONS_PER_USER {
                own.sort();
                for (_, token) in &own[..=own.len() - Self::MAX_SESSIONS_PER_USER] {
                    map.remove(token);
                }
            }
            map.insert(
                token,
                Entry {
                    session,
                    created: now,
                    used: now,
                },
            );
        }
    }

    fn get(&self, token: &str) -> Option<Session> {
        let mut map = self.map.write().ok()?;
        let now = Instant::now();
        let entry = map.get(token)?;
        if !self.live(entry, now) {
            map.remove(token);
            return None;
        }
        let entry = map.get_mut(token)?;
        entry.used = now;
        Some(entry.session.clone())
    }

    fn remove(&self, token: &str) {
        if let Ok(mut map) = self.map.write() {
            map.remove(token);
        }
    }

    /// The `Set-Cookie` value that carries `token` (empty: clears the cookie).
    fn cookie(&self, token: &str) -> String {
        let secure = if self.policy.secure_cookie {
            "; Secure"
        } else {
            ""
        };
        if token.is_empty() {
            format!("{COOKIE_NAME}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0{secure}")
        } else {
            // A session cookie (no Max-Age): the browser forgets it when closed; the server
            // ends the session itself.
            format!("{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/{secure}")
        }
    }
}

/// Milliseconds since 1970 (sessions in the database outlive the process, so not `Instant`).
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 2)
}

/// What the database keeps of a token: its SHA-256, so a copy of the database (a backup, a
/// replica) holds no usable token.
fn token_digest(token: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Longest login id, bytes (as the MES's ids).
pub const MAX_LOGIN_ID_BYTES: usize = 128;

/// A login id as the MES allows ids: 1 to 128 bytes of printable characters without leading
/// or trailing spaces. Checked before any lookup or lockout bookkeeping; the error echoes at
/// most the first 40 characters of what was sent.
pub fn check_login_id(user: &str) -> Result<(), Problem> {
    if user.is_empty()
        || user.len() > MAX_LOGIN_ID_BYTES
        || user.trim() != user
        || user.chars().any(char::is_control)
    {
        let shown: String = user.chars().take(40).collect();
        let more = if shown.len() < user.len() {
            format!("… ({} bytes)", user.len())
        } else {
            String::new()
        };
        return Err(Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "user: '{}'{more} is not allowed; expected a login id of 1 to {MAX_LOGIN_ID_BYTES} bytes of printable characters without leading or trailing spaces",
                shown.escape_debug()
            ),
        ));
    }
    Ok(())
}

/// 429 for a locked user id, with `Retry-After`.
pub fn locked_response(user: &str, wait: Duration) -> Response {
    let minutes = wait.as_secs().div_ceil(60);
    let mut response = Problem::new(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "user '{user}' is locked after {} failed logins or e-signatures; try again in {minutes} min, or ask an admin",
            Sessions::MAX_FAILURES
        ),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&wait.as_secs().max(1).to_string()) {
        response.headers_mut().insert(RETRY_AFTER, value);
    }
    response
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
    /// An administrator reset the password: change it before anything else.
    pub must_change_password: bool,
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
        must_change_password: session.must_change_password,
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
    responses((status = 200, description = "Logs in: a bearer token, also set as the `lodestone_token` cookie", body = LoginResponse), (status = 400, response = ProblemDetails), (status = 401, response = ProblemDetails), (status = 413, response = ProblemDetails), (status = 415, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 429, response = ProblemDetails), (status = 500, response = ProblemDetails), (status = 503, response = ProblemDetails))
)]
pub async fn login(
    State(state): State<Shared>,
    JsonBody(request): JsonBody<LoginRequest>,
) -> Result<Response, Problem> {
    check_login_id(&request.user)?;
    if let Some(wait) = state.sessions.locked_for(&request.user) {
        return Ok(locked_response(&request.user, wait));
    }
    // A bounded number of argon2 checks at once: an unauthenticated flood of logins gets 503
    // instead of starving every other request.
    let outcome =
        crate::limits::run_login(&state, state.mes.login(&request.user, &request.password)).await?;
    let session = match outcome {
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
    let cookie = state.sessions.cookie(&token);
    state.sessions.open(token, session).await?;
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
        if let Err(problem) = state.sessions.close(&token).await {
            return problem.into_response();
        }
    }
    let cookie = state.sessions.cookie("");
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
            .find(&token)
            .await?
            .ok_or_else(Problem::unauthorized)?;
        // Roles as they are now, not as they were at login: an admin's change of roles or
        // deactivation takes effect on the user's next request.
        let current =
            lodestone_mes::projection::find_user(state.mes.db().pool(), &session.user).await?;
        match current {
            Some((user, credential)) if user.active => {
                session.roles = user.roles;
                session.name = user.name;
                session.must_change_password = credential.must_change;
            }
            _ => {
                state.sessions.close(&token).await?;
                return Err(Problem::new(
                    StatusCode::UNAUTHORIZED,
                    format!(
                        "the session of user '{}' has ended: the user is no longer active; log in again",
                        session.user
                    ),
                ));
            }
        }
        // After an administrator's reset, nothing but the password change (a command, which the
        // MES refuses unless it is change-password) and who-am-I until it is changed.
        if session.must_change_password
            && !matches!(
                parts.uri.path(),
                "/api/commands" | "/api/me" | "/api/logout"
            )
        {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                format!(
                    "user '{}' must change the password an administrator set before doing anything else: POST /api/commands {{\"command\": \"change-password\", \"current_password\": …, \"new_password\": …}}",
                    session.user
                ),
            ));
        }
        // Every route reads records; commands are checked again, permission by permission, by
        // the MES.
        if !session.roles.iter().any(|r| r.grants(Permission::Read)) {
            return Err(Problem::new(
                StatusCode::FORBIDDEN,
                format!(
                    "user '{}' has no role that may read plant records (roles: operator, qa, qa-manager, planner, engineer, admin)",
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
            must_change_password: false,
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
    fn a_session_ends_after_its_absolute_lifetime_however_much_it_is_used() {
        let sessions = Sessions::new(SessionPolicy {
            idle: Duration::from_secs(3600),
            lifetime: Duration::from_millis(300),
            secure_cookie: false,
        });
        sessions.insert("t1".into(), session());
        for _ in 0..2 {
            std::thread::sleep(Duration::from_millis(100));
            assert!(sessions.get("t1").is_some(), "within its lifetime");
        }
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            sessions.get("t1").is_none(),
            "past its lifetime, though used"
        );
    }

    #[test]
    fn a_user_has_at_most_max_sessions_and_a_new_login_ends_the_least_recently_used() {
        let sessions = Sessions::default();
        for i in 0..Sessions::MAX_SESSIONS_PER_USER {
            sessions.insert(format!("t{i}"), session());
            std::thread::sleep(Duration::from_millis(2));
        }
        // t0 is used again, so t1 is now the least recently used.
        assert!(sessions.get("t0").is_some());
        sessions.insert("new".into(), session());
        assert_eq!(
            sessions.map.read().unwrap().len(),
            Sessions::MAX_SESSIONS_PER_USER
        );
        assert!(sessions.get("t1").is_none());
        assert!(sessions.get("t0").is_some() && sessions.get("new").is_some());
        let mut admin = session();
        admin.user = "admin".into();
        sessions.insert("a".into(), admin);
        assert_eq!(
            sessions.map.read().unwrap().len(),
            Sessions::MAX_SESSIONS_PER_USER + 1,
            "other users unaffected"
        );
    }

    #[test]
    fn the_cookie_is_secure_behind_tls() {
        let plain = Sessions::default();
        assert!(!plain.cookie("abc").contains("Secure"));
        let tls = Sessions::new(SessionPolicy {
            secure_cookie: true,
            ..SessionPolicy::default()
        });
        assert!(
            tls.cookie("abc").ends_with("; Secure"),
            "{}",
            tls.cookie("abc")
        );
        assert!(tls.cookie("").contains("Max-Age=0; Secure"));
    }

    #[test]
    fn login_ids_are_checked_and_the_error_does_not_echo_a_huge_id() {
        assert!(check_login_id("qa").is_ok());
        assert!(check_login_id(&"a".repeat(128)).is_ok());
        for bad in ["", " qa", "qa ", "q\0a", "q\na", &"a".repeat(129)] {
            let e = check_login_id(bad).unwrap_err();
            assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad:?}");
            assert!(e.detail.starts_with("user: "), "{}", e.detail);
        }
        let huge = "x".repeat(1_500_000);
        let e = check_login_id(&huge).unwrap_err();
        assert!(e.detail.len() < 300, "{}", e.detail.len());
        assert!(e.detail.contains("1500000 bytes"), "{}", e.detail);
    }

    #[test]
    fn the_lockout_map_is_bounded_and_a_flood_does_not_unlock_a_locked_id() {
        let sessions = Sessions::default();
        for _ in 0..Sessions::MAX_FAILURES {
            sessions.record_failure("qa");
        }
        assert!(sessions.locked_for("qa").is_some());
        for i in 0..Sessions::MAX_TRACKED_IDS + 500 {
            sessions.record_failure(&format!("guess-{i}"));
        }
        assert_eq!(sessions.tracked_ids(), Sessions::MAX_TRACKED_IDS);
        assert!(sessions.locked_for("qa").is_some(), "still locked");
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
