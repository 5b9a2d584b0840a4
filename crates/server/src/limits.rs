//! What one client can make the server hold or do: connection count and timeouts (enforced in
//! [`crate::serve`]), body sizes and read time, the time a request may take, security headers
//! on every response, and the computation gate (how many solves, charges and chain checks run
//! at once, for how long, and their cancellation when the client goes away).

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{Notify, Semaphore};

use crate::problem::Problem;
use crate::Shared;

/// The server's limits; every one has a `lodestone serve` flag (docs/security.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Connections served at once; further ones wait in the listen backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers, counted from when the server starts
    /// waiting for them — so it is also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// Time a client has to send a request's body once its headers are in.
    pub body_timeout: Duration,
    /// Time a request may take (body read excluded), except the event stream and the
    /// computations, which have their own limit. Past it: 503 with `Retry-After` (the usual
    /// cause is a database held busy).
    pub request_timeout: Duration,
    /// Largest request body, bytes (the login body has its own, [`MAX_LOGIN_BODY_BYTES`]).
    pub max_body_bytes: usize,
    /// Computations (SX simulate, alloy charge) running at once; beyond it 503.
    pub max_computations: usize,
    /// Time one computation may take before it is stopped.
    pub compute_timeout: Duration,
    /// Audit-chain checks running at once; beyond it 503.
    pub max_chain_checks: usize,
    /// Time one audit-chain check may take before it is stopped.
    pub chain_check_timeout: Duration,
    /// Password checks (logins) running at once: each is an argon2 verification, tens of
    /// milliseconds of CPU and 19 MiB of memory on a request thread; a login waits up to
    /// [`LOGIN_QUEUE_WAIT`] for a slot, then 503.
    pub max_logins: usize,
}

/// Largest login body, bytes: a 128-byte id and a password fit many times over.
pub const MAX_LOGIN_BODY_BYTES: usize = 4 * 1024;

/// Largest request head (request line and headers) a connection may send, bytes — beyond it
/// 431 — and the most hyper buffers per connection.
pub const MAX_HEADER_BUFFER_BYTES: usize = 64 * 1024;

/// How long a login waits for a password-check slot (a shift change's logins queue; a flood
/// gets 503).
pub const LOGIN_QUEUE_WAIT: Duration = Duration::from_secs(2);

/// Seconds a client is asked to wait when every computation slot is taken.
pub const BUSY_RETRY_S: u64 = 5;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 512,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            request_timeout: Duration::from_secs(30),
            max_body_bytes: 2 * 1024 * 1024,
            max_computations: 2,
            compute_timeout: Duration::from_secs(60),
            max_chain_checks: 1,
            chain_check_timeout: Duration::from_secs(600),
            max_logins: 1,
        }
    }
}

/// Admission to the computations: one semaphore for solves and charges, one for chain
/// checks, one for password checks.
pub struct Gate {
    computations: Arc<Semaphore>,
    chain_checks: Arc<Semaphore>,
    logins: Arc<Semaphore>,
}

impl Gate {
    /// A gate with the slots of `limits`.
    pub fn new(limits: &Limits) -> Self {
        Gate {
            computations: Arc::new(Semaphore::new(limits.max_computations.max(1))),
            chain_checks: Arc::new(Semaphore::new(limits.max_chain_checks.max(1))),
            logins: Arc::new(Semaphore::new(limits.max_logins.max(1))),
        }
    }

    /// Free computation slots now.
    pub fn free_computations(&self) -> usize {
        self.computations.available_permits()
    }

    /// Free chain-check slots now.
    pub fn free_chain_checks(&self) -> usize {
        self.chain_checks.available_permits()
    }
}

/// Which gate a computation goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// SX simulate, alloy charge.
    Computation,
    /// Audit-chain verification.
    ChainCheck,
}

/// Set when the computation should stop: the client went away or its time ran out. The work
/// checks it between iterations.
#[derive(Clone, Default)]
pub struct Cancel(Arc<CancelInner>);

#[derive(Default)]
struct CancelInner {
    flag: AtomicBool,
    notify: Notify,
}

impl Cancel {
    /// Whether the computation should stop.
    pub fn is_set(&self) -> bool {
        self.0.flag.load(Ordering::Relaxed)
    }

    /// The flag itself, for code that takes an `&AtomicBool`.
    pub fn flag(&self) -> &AtomicBool {
        &self.0.flag
    }

    fn set(&self) {
        self.0.flag.store(true, Ordering::Relaxed);
        self.0.notify.notify_waiters();
    }

    /// Resolves once the flag is set (no timer: it also works while the runtime shuts down).
    pub async fn cancelled(&self) {
        loop {
            let notified = self.0.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.is_set() {
                return;
            }
            notified.await;
        }
    }
}

/// Sets the flag when dropped: when the client disconnects, the handler's future is dropped,
/// and with it this guard.
struct CancelOnDrop(Cancel);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.set();
    }
}

/// Runs `work` on a blocking thread behind the gate of `kind`: 503 with `Retry-After` when
/// every slot is taken; the flag is set when the client goes away or the time limit passes,
/// and then the answer is 503 naming the limit. The slot is held until the work has actually
/// returned, so abandoned work still counts against the limit until it stops.
pub async fn run<T: Send + 'static>(
    state: &Shared,
    kind: Kind,
    what: &str,
    work: impl FnOnce(Cancel) -> T + Send + 'static,
) -> Result<T, Problem> {
    let (semaphore, slots, timeout, flag, timeout_flag, noun) = match kind {
        Kind::Computation => (
            &state.gate.computations,
            state.limits.max_computations,
            state.limits.compute_timeout,
            "--max-computations",
            "--compute-timeout-s",
            "computation",
        ),
        Kind::ChainCheck => (
            &state.gate.chain_checks,
            state.limits.max_chain_checks,
            state.limits.chain_check_timeout,
            "--max-chain-checks",
            "--chain-check-timeout-s",
            "audit-chain check",
        ),
    };
    let Ok(permit) = semaphore.clone().try_acquire_owned() else {
        return Err(Problem::busy(
            format!(
                "{what}: every slot is taken ({slots} at once, {flag}); retry in {BUSY_RETRY_S} s"
            ),
            BUSY_RETRY_S,
        ));
    };
    let cancel = Cancel::default();
    let guard = CancelOnDrop(cancel.clone());
    let worker = cancel.clone();
    let task = tokio::task::spawn_blocking(move || {
        let result = work(worker);
        drop(permit);
        result
    });
    match tokio::time::timeout(timeout, task).await {
        // Setting the flag of finished work is harmless.
        Ok(Ok(result)) => Ok(result),
        Ok(Err(e)) => Err(Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{what}: {e}"),
        )),
        Err(_) => {
            drop(guard);
            Err(Problem::busy(
                format!(
                    "{what}: no answer within {} s, the time limit of one {noun} ({timeout_flag}); make it smaller, or ask the operator to raise the limit",
                    timeout.as_secs(),
                ),
                BUSY_RETRY_S,
            ))
        }
    }
}

/// Runs the future `work` makes on a blocking thread (with the server's runtime driving its
/// I/O), so CPU-heavy async work such as hashing the whole audit chain does not hold a request
/// worker; behind the gate of `kind`, stopped like [`run`].
pub async fn run_async<T, F>(
    state: &Shared,
    kind: Kind,
    what: &str,
    work: impl FnOnce() -> F + Send + 'static,
) -> Result<Option<T>, Problem>
where
    T: Send + 'static,
    F: Future<Output = T>,
{
    let runtime = tokio::runtime::Handle::current();
    run(state, kind, what, move |cancel| {
        runtime.block_on(async move {
            tokio::select! {
                result = work() => Some(result),
                () = cancel.cancelled() => None,
            }
        })
    })
    .await
}

/// Runs a login's password check behind its gate, on the request thread (argon2 allocates
/// 19 MiB per check; on the few request threads that memory is reused, where blocking
/// threads would each keep their own): waits up to [`LOGIN_QUEUE_WAIT`] for a slot, then
/// 503 with `Retry-After`; stopped after the request timeout (503).
pub async fn run_login<T>(state: &Shared, check: impl Future<Output = T>) -> Result<T, Problem> {
    let slot = tokio::time::timeout(LOGIN_QUEUE_WAIT, state.gate.logins.acquire()).await;
    let Ok(Ok(_permit)) = slot else {
        return Err(Problem::busy(
            format!(
                "login: every password-check slot is taken ({} at once, --max-logins); retry in {BUSY_RETRY_S} s",
                state.limits.max_logins
            ),
            BUSY_RETRY_S,
        ));
    };
    tokio::time::timeout(state.limits.request_timeout, check)
        .await
        .map_err(|_| {
            Problem::busy(
                format!(
                    "login: not finished within {} s (--request-timeout-s); the database is probably busy",
                    state.limits.request_timeout.as_secs()
                ),
                crate::problem::DATABASE_BUSY_RETRY_S,
            )
        })
}

/// Middleware: reads the request body within [`Limits::body_timeout`] and
/// [`Limits::max_body_bytes`] (the login body within [`MAX_LOGIN_BODY_BYTES`]), then runs
/// the request within [`Limits::request_timeout`] (not the event stream, nor the
/// computations, which have their own limits).
pub async fn bodies_and_time(
    State(state): State<Shared>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_string();
    let limit = if path == "/api/login" {
        MAX_LOGIN_BODY_BYTES
    } else {
        state.limits.max_body_bytes
    };
    let too_large = |bytes: String| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "body: {bytes} bytes is too large; at most {limit} bytes are accepted on {path}"
            ),
        )
        .into_response()
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared {
        if n > limit as u64 {
            return too_large(n.to_string());
        }
    }
    let (parts, body) = request.into_parts();
    let read =
        tokio::time::timeout(state.limits.body_timeout, axum::body::to_bytes(body, limit)).await;
    let bytes = match read {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(e)) => {
            // Either more than the limit, or the client broke off.
            return if std::error::Error::source(&e)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            {
                too_large(format!("more than {limit}"))
            } else {
                Problem::new(StatusCode::BAD_REQUEST, format!("body: {e}")).into_response()
            };
        }
        Err(_) => {
            return Problem::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "body: not received within {} s (--body-timeout-s)",
                    state.limits.body_timeout.as_secs()
                ),
            )
            .into_response()
        }
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let own_limit = matches!(
        path.as_str(),
        "/api/stream"
            | "/api/sx/simulate"
            | "/api/alloy/charge"
            | "/api/audit/verify"
            | "/api/login"
    );
    if own_limit {
        return next.run(request).await;
    }
    match tokio::time::timeout(state.limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Problem::busy(
            format!(
                "the request did not finish within {} s (--request-timeout-s); the database is probably busy, retry shortly",
                state.limits.request_timeout.as_secs()
            ),
            crate::problem::DATABASE_BUSY_RETRY_S,
        )
        .into_response(),
    }
}

/// The Content-Security-Policy of every response: the dashboard loads its own script and
/// style only (no inline code), talks only to this server, and may not be framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Middleware: security headers on every response.
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// The first control character (U+0000–U+001F, U+007F) that a percent-encoded path or query
/// decodes to, if any. Ids never hold one; PostgreSQL refuses NUL in text where SQLite stores
/// it, so refusing them here gives both databases one answer.
fn encoded_control_character(text: &str) -> Option<u8> {
    let bytes = text.as_bytes();
    bytes.windows(3).find_map(|w| {
        if w[0] != b'%' {
            return None;
        }
        let hex = std::str::from_utf8(&w[1..]).ok()?;
        let value = u8::from_str_radix(hex, 16).ok()?;
        (value < 0x20 || value == 0x7f).then_some(value)
    })
}

/// Middleware: a request whose path or query holds an encoded control character is refused
/// with 400 (a malformed request, as every route with a path or query parameter documents)
/// before any handler reads it. In a JSON body the MES refuses them with 422.
pub async fn control_characters(request: Request, next: Next) -> Response {
    let uri = request.uri();
    for (part, text) in [("path", uri.path()), ("query", uri.query().unwrap_or(""))] {
        if let Some(c) = encoded_control_character(text) {
            return Problem::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "{part}: the control character U+{c:04X} is not allowed; expected printable text"
                ),
            )
            .into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod control_character_tests {
    #[test]
    fn encoded_control_characters_are_found() {
        assert_eq!(
            super::encoded_control_character("/api/lots/PN%001"),
            Some(0)
        );
        assert_eq!(super::encoded_control_character("a=%1f"), Some(0x1f));
        assert_eq!(super::encoded_control_character("/api/lots/PN%201"), None);
        assert_eq!(super::encoded_control_character("100%"), None);
    }
}
