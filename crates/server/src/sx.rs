//! The SX case viewer: a cascade case (the TOML of `lodestone sx simulate`) in, the steady
//! state out — products with purity and recovery, and every stage's composition.

use axum::http::StatusCode;
use axum::Json;
use lodestone_sx::{Case, SimulationResult};

use crate::auth::Authed;
use crate::problem::Problem;

/// The example case the page starts from: Xu's ideal Nd/Pr cascade, 37 stages.
pub const EXAMPLE_CASE: &str = include_str!("../../../examples/sx/xu-nd-pr.toml");

/// Largest case accepted, bytes.
const MAX_CASE_BYTES: usize = 256 * 1024;

/// `GET /api/sx/example`: the example case (TOML text).
pub async fn example(_: Authed) -> &'static str {
    EXAMPLE_CASE
}

/// `POST /api/sx/simulate`: body a case in TOML; answer the result (docs/sx-json.md), or 422
/// naming what the case gets wrong or why the solver did not converge.
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
