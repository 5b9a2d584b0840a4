//! Lodestone server: the MES over HTTP, described by an OpenAPI 3.1 document generated from
//! the handlers (`/api/openapi.json`).
//!
//! - `api` — JSON routes over [`lodestone_mes::Mes`]: plant overview, lots and their
//!   genealogy, orders, quality, OEE, audit, and any MES command.
//! - `auth` — login with the MES's users (argon2), bearer or cookie session tokens; every
//!   route but login, health and the page assets needs one, and the MES checks the role of
//!   every command.
//! - `problem` — errors as RFC 9457 `application/problem+json` with the right status.
//! - `alloy` — the batching calculator (the alloy optimiser on a posted plan).
//! - `sx` — the SX case viewer (the cascade simulator on a posted case).
//! - `checkpoint` — signed audit checkpoints appended to a file every few minutes.
//! - `demo` — a fresh plant database with the twin running in accelerated real time.
//! - `metrics` — request counts and latencies in the Prometheus text format.
//! - `limits` — connection, body, time and computation limits; security headers.
//! - `web` — the dashboard: HTML, JS and CSS compiled into the binary.

pub mod alloy;
pub mod api;
pub mod auth;
pub mod checkpoint;
pub mod demo;
pub mod limits;
pub mod metrics;
pub mod problem;
pub mod sx;
pub mod web;

use std::sync::Arc;
use std::time::Duration;

use axum::http::header::CONTENT_TYPE;
use axum::routing::get;
use axum::Router;
use lodestone_mes::Mes;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

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
    /// Connection, body, time and computation limits.
    pub limits: limits::Limits,
    /// Admission to the computations, by [`AppState::limits`].
    pub gate: limits::Gate,
}

impl AppState {
    /// State over `mes` with `sessions`, the running `demo` if any, and `limits`.
    pub fn new(
        mes: Mes,
        sessions: auth::Sessions,
        demo: Option<demo::Demo>,
        limits: limits::Limits,
    ) -> Self {
        AppState {
            mes,
            sessions,
            metrics: Default::default(),
            demo,
            gate: limits::Gate::new(&limits),
            limits,
        }
    }
}

/// Shared application state.
pub type Shared = Arc<AppState>;

/// The OpenAPI document's frame: info, tags, security schemes and the problem response; the
/// paths and schemas come from the handlers' `#[utoipa::path]` and the types' `ToSchema`.
#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "Lodestone API",
        description = "The Lodestone MES over HTTP: plant model, orders, lots and genealogy, quality and SPC, OEE, audit, MES commands, and the alloy and SX calculators. Log in with `POST /api/login`, then send `Authorization: Bearer <token>` (or the `lodestone_token` cookie). Errors are RFC 9457 problem details.",
        license(name = "Apache-2.0", identifier = "Apache-2.0")
    ),
    modifiers(&SecuritySchemes),
    components(responses(problem::ProblemDetails)),
    tags(
        (name = "session", description = "Log in and out"),
        (name = "plant", description = "The plant model and the plant now"),
        (name = "orders", description = "Job orders"),
        (name = "lots", description = "Material lots and their genealogy"),
        (name = "quality", description = "Specifications, lab results, nonconformances, SPC"),
        (name = "performance", description = "OEE"),
        (name = "audit", description = "The hash-chained audit trail"),
        (name = "commands", description = "Every change, as one MES command"),
        (name = "calculators", description = "The alloy charge optimiser and the SX cascade simulator"),
        (name = "demo", description = "The demo plant's speed"),
        (name = "operations", description = "Health and metrics")
    )
)]
struct ApiDoc;

struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(auth::COOKIE_NAME))),
        );
    }
}

/// The API routes, each with its OpenAPI operation.
fn api_routes() -> OpenApiRouter<Shared> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(api::healthz))
        .routes(routes!(metrics::render))
        .routes(routes!(auth::login))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::me))
        .routes(routes!(api::plant))
        .routes(routes!(api::overview))
        .routes(routes!(api::stream))
        .routes(routes!(api::lots))
        .routes(routes!(api::lot))
        .routes(routes!(api::trace))
        .routes(routes!(api::recall))
        .routes(routes!(api::results))
        .routes(routes!(api::evaluation))
        .routes(routes!(api::orders))
        .routes(routes!(api::order))
        .routes(routes!(api::specification))
        .routes(routes!(api::nonconformances))
        .routes(routes!(api::spc))
        .routes(routes!(api::oee))
        .routes(routes!(api::verify))
        .routes(routes!(api::audit))
        .routes(routes!(api::command))
        .routes(routes!(demo::status, demo::set_speed))
        .routes(routes!(alloy::example))
        .routes(routes!(alloy::charge_plan))
        .routes(routes!(sx::example))
        .routes(routes!(sx::simulate))
}

/// The OpenAPI 3.1 document of the API, as served at `/api/openapi.json`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_routes().split_for_parts().1
}

/// Every route of the server.
pub fn router(state: Shared) -> Router {
    let (api, doc) = api_routes().split_for_parts();
    let doc_json = doc.to_pretty_json().unwrap_or_default();
    api.route(
        "/api/openapi.json",
        get(move || async move { ([(CONTENT_TYPE, "application/json")], doc_json) }),
    )
    .route("/", get(web::index))
    .route("/app.js", get(web::script))
    .route("/style.css", get(web::style))
    .fallback(problem::no_such_route)
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        limits::bodies_and_time,
    ))
    .layer(axum::middleware::from_fn_with_state(
        state.clone(),
        metrics::track,
    ))
    .layer(axum::middleware::from_fn(limits::control_characters))
    .layer(axum::middleware::from_fn(limits::security_headers))
    .with_state(state)
}

/// How long a shutdown waits for requests in flight (the event streams never finish).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `state` on `listener` until `shutdown` resolves; requests in flight get
/// [`SHUTDOWN_GRACE`] to finish. At most [`limits::Limits::max_connections`] connections are
/// served at once (more wait in the listen backlog); a client has
/// [`limits::Limits::header_timeout`] to send each request's headers — also the longest an
/// idle keep-alive connection stays open — and hyper buffers at most
/// [`limits::MAX_HEADER_BUFFER_BYTES`] of them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use hyper_util::service::TowerToHyperService;

    let limits = state.limits.clone();
    let app = router(state);
    let connections = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .max_header_size(limits::MAX_HEADER_BUFFER_BYTES)
        .max_buf_size(limits::MAX_HEADER_BUFFER_BYTES)
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: wait for connections to close
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every operation says who may call it and what each answer means, and every failure
    /// answer is the problem+json response.
    #[test]
    fn the_openapi_document_describes_every_operation() {
        let doc: serde_json::Value = serde_json::to_value(openapi()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        assert_eq!(paths.len(), 28, "{:?}", paths.keys().collect::<Vec<_>>());
        let public = ["/healthz", "/metrics", "/api/login", "/api/logout"];
        for (path, item) in paths {
            for (method, op) in item.as_object().unwrap() {
                let secured = op.get("security").is_some();
                assert_eq!(secured, !public.contains(&path.as_str()), "{method} {path}");
                assert!(op["summary"].is_string(), "{method} {path}");
                for (status, response) in op["responses"].as_object().unwrap() {
                    if status.starts_with('2') {
                        assert!(
                            response["description"].is_string(),
                            "{method} {path} {status}"
                        );
                    } else {
                        assert_eq!(
                            response["$ref"], "#/components/responses/ProblemDetails",
                            "{method} {path} {status}"
                        );
                    }
                }
                if secured {
                    assert!(op["responses"].get("401").is_some(), "{method} {path}");
                }
            }
        }
        assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    }
}
