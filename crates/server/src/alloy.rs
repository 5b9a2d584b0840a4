//! The batching calculator: a batch plan (the alloy plan TOML of `lodestone alloy batch`) in,
//! the least-cost weigh list out, from the `alloy` optimiser.

use axum::http::StatusCode;
use axum::Json;
use lodestone_alloy::{charge, parse_plan, AlloyError, Charge};

use crate::auth::Authed;
use crate::problem::{Problem, ProblemDetails};

/// The example plan the page starts from.
pub const EXAMPLE_PLAN: &str = include_str!("../../../examples/alloy/n52-low-boron-600kg.toml");

/// Largest plan accepted, bytes.
const MAX_PLAN_BYTES: usize = 256 * 1024;

/// `GET /api/alloy/example`: the example plan (TOML text).
#[utoipa::path(
    get,
    path = "/api/alloy/example",
    tag = "calculators",
    summary = "The example batch plan (TOML)",
    responses((status = 200, description = "The example batch plan (TOML)", body = String, content_type = "text/plain"), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn example(_: Authed) -> &'static str {
    EXAMPLE_PLAN
}

/// `POST /api/alloy/charge`: body a batch plan in TOML; answer the charge (weigh list, cost,
/// predicted and aimed composition), or 422 naming what the plan or the stock cannot meet.
#[utoipa::path(
    post,
    path = "/api/alloy/charge",
    tag = "calculators",
    summary = "Least-cost charge of a heat from a batch plan (TOML, as `lodestone alloy batch`)",
    request_body(content = String, description = "Batch plan, TOML", content_type = "text/plain"),
    responses((status = 200, description = "Least-cost charge of a heat from a batch plan (TOML, as `lodestone alloy batch`)", body = Charge), (status = 401, response = ProblemDetails), (status = 403, response = ProblemDetails), (status = 413, response = ProblemDetails), (status = 422, response = ProblemDetails), (status = 500, response = ProblemDetails)),
    security(("bearer" = []), ("cookie" = []))
)]
pub async fn charge_plan(_: Authed, body: String) -> Result<Json<Charge>, Problem> {
    if body.len() > MAX_PLAN_BYTES {
        return Err(Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the plan is {} bytes; at most {MAX_PLAN_BYTES} are accepted",
                body.len()
            ),
        ));
    }
    let request = parse_plan(&body).map_err(alloy_problem)?;
    // The optimiser is CPU work (about a millisecond, up to tens with whole pieces): keep it off
    // the request threads.
    let result = tokio::task::spawn_blocking(move || charge(&request))
        .await
        .map_err(|e| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    result.map(Json).map_err(alloy_problem)
}

fn alloy_problem(e: AlloyError) -> Problem {
    match e {
        AlloyError::Infeasible { reasons } => Problem::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the heat cannot be charged to grade: {}",
                reasons.join("; ")
            ),
        ),
        AlloyError::Solver(message) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("optimiser failure: {message}"),
        ),
        other => Problem::new(StatusCode::UNPROCESSABLE_ENTITY, other.to_string()),
    }
}
