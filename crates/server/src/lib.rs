//! Lodestone server: the MES over HTTP.
//!
//! - `api` — JSON routes over [`lodestone_mes::Mes`]: plant overview, lots and their
//!   genealogy, orders, quality, OEE, audit, and any MES command.
//! - `auth` — login with the MES's users (argon2), bearer or cookie session tokens; every
//!   route but login, health and the page assets needs one, and the MES checks the role of
//!   every command.
//! - `problem` — errors as RFC 9457 `application/problem+json` with the right status.
//! - `alloy` — the batching calculator (the alloy optimiser on a posted plan).
//! - `sx` — the SX case viewer (the cascade simulator on a posted case).
//! - `demo` — a fresh plant database with the twin running in accelerated real time.
//! - `metrics` — request counts and latencies in the Prometheus text format.
//! - `web` — the dashboard: HTML, JS and CSS compiled into the binary.

pub mod alloy;
pub mod api;
pub mod auth;
pub mod demo;
pub mod metrics;
pub mod problem;
pub mod sx;
pub mod web;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use lodestone_mes::Mes;

/// What every request handler shares.
pub struct AppState {
    /// The MES.
    pub mes: Mes,
    /// Logged-in sessions by token.
    pub sessions: auth::Sessions,
    /// Request statistics.
    pub metrics: metrics::Metrics,
    /// The running demo plant, if any.
    pub demo: Option<demo::Demo>,
}

/// Shared application state.
pub type Shared = Arc<AppState>;

/// Every route of the server.
pub fn router(state: Shared) -> Router {
    Router::new()
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(metrics::render))
        .route("/api/login", post(auth::login))
        .route("/api/logout", post(auth::logout))
        .route("/api/me", get(auth::me))
        .route("/api/overview", get(api::overview))
        .route("/api/stream", get(api::stream))
        .route("/api/lots", get(api::lots))
        .route("/api/lots/{id}", get(api::lot))
        .route("/api/lots/{id}/trace", get(api::trace))
        .route("/api/lots/{id}/recall", get(api::recall))
        .route("/api/lots/{id}/results", get(api::results))
        .route("/api/orders", get(api::orders))
        .route("/api/orders/{id}", get(api::order))
        .route("/api/nonconformances", get(api::nonconformances))
        .route("/api/spc", get(api::spc))
        .route("/api/oee/{unit}", get(api::oee))
        .route("/api/audit/verify", get(api::verify))
        .route("/api/audit/{subject}", get(api::audit))
        .route("/api/commands", post(api::command))
        .route("/api/demo", get(demo::status).post(demo::set_speed))
        .route("/api/alloy/example", get(alloy::example))
        .route("/api/alloy/charge", post(alloy::charge_plan))
        .route("/api/sx/example", get(sx::example))
        .route("/api/sx/simulate", post(sx::simulate))
        .route("/", get(web::index))
        .route("/app.js", get(web::script))
        .route("/style.css", get(web::style))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` resolves; requests in flight finish first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
