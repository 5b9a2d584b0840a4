//! The SX case viewer: a cascade case (the TOML of `lodestone sx simulate`) in, the steady
//! state out — products with purity and recovery, and every stage's composition.

use axum::http::StatusCode;
use axum::Json;
use lodestone_sx::{Case, SimulationResult};

use crate::auth::Authed;
use crate::problem::{Problem, ProblemDetails};

/// The example case the page starts from: Xu's ideal Nd/Pr cascade, 37 stages.
pub const EXAMPLE_CASE: &str = include_str!("../../../examples/sx/xu-nd-pr.toml");

/// Largest case accepted, bytes.
const MAX_CASE_BYTES: usize = 256 * 1024;

/// `GET /api/sx/example`: the example case (TOML text).
#[utoipa::path(
    get,
    path = "/api/sx/example",
    tag = "calculators",
    summary = "The example cascade case (TOML)",
    responses((status = 200, description = "The example cascade case (TOML)", body = String, content_type = "text/plain"), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn example(_: Authed) -> &'static str {
    EXAMPLE_CASE
}

/// `POST /api/sx/simulate`: body a case in TOML; answer the result (docs/sx-json.md), or 422
/// naming what the case gets wrong or why the solver did not converge.
#[utoipa::path(
    post,
    path = "/api/sx/simulate",
    tag = "calculators",
    summary = "Steady state of a solvent-extraction cascade case (TOML, as `lodestone sx simulate`)",
    request_body(content = String, description = "Cascade case, TOML", content_type = "text/plain"),
    responses((status = 200, description = "Steady state of a solvent-extraction cascade case (TOML, as `lodestone sx simulate`)", body = SimulationResult), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 413, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn simulate(_: Authed, body: String) -> Result<Json<SimulationResult>, Problem> {
    if body.len() > MAX_CASE_BYTES {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the case is {} bytes; at most {MAX_CASE_BYTES} are accepted",
                body.len()
            ),
        ));
    }
    let case = Case::from_toml(&body)
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    // Solving is CPU work (milliseconds to seconds): keep it off the request threads.
    let result = tokio::task::spawn_blocking(move || case.simulate())
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| Problem::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    Ok(Json(result))
}
