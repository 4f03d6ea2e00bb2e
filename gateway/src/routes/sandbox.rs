//! `/api/platform/v1/sandbox`: the sandbox clock of `memberhub dev --test-clock`, for
//! operators. Mounted only when the suite runs on the sandbox clock; the `gateway` binary
//! never has these routes, and they are not part of the published API.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use memberhub_proto::sandbox as pb;
use memberhub_proto::sandbox::sandbox_service_client::SandboxServiceClient;
use tonic::transport::Channel;

use crate::auth::OperatorCaller;
use crate::body::ApiJson;
use crate::error::ApiError;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/clock", get(get_clock))
        .route("/clock/advance", post(advance_clock))
}

fn client(state: &AppState) -> Result<SandboxServiceClient<Channel>, ApiError> {
    state
        .sandbox
        .clone()
        .ok_or_else(|| ApiError::from(tonic::Status::not_found("no sandbox clock")))
}

/// the suite's clock.
async fn get_clock(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
) -> ApiResult<views::SandboxClock> {
    let sandbox = client(&state)?;
    let response = sandbox
        .clone()
        .get_clock(request(&state, &actor, pb::GetClockRequest {}))
        .await?;
    Ok(Reply::from_response(response))
}

/// moves the suite's clock forward to `to`; answers once every periodic job has run at
/// the new time.
async fn advance_clock(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    ApiJson(body): ApiJson<views::AdvanceSandboxClock>,
) -> ApiResult<views::SandboxClock> {
    let to = crate::query::timestamp("to", body.to.as_deref())
        .map_err(|v| ApiError::invalid_fields(vec![v]))?;
    let sandbox = client(&state)?;
    let response = sandbox
        .clone()
        .advance_clock(request(&state, &actor, pb::AdvanceClockRequest { to }))
        .await?;
    Ok(Reply::from_response(response))
}
