//! `/api/internal/v1`: trusted services such as the commerce platform's order system.
//! Service tokens only; every other role gets PERMISSION_DENIED here, and a service
//! token gets it on the other surfaces.

use axum::Router;
use axum::extract::State;
use axum::routing::post;

use crate::auth::{IdempotencyKey, ServiceCaller};
use crate::body::ApiJson;
use crate::error::ErrorBody;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/order-events", post(report_order_event))
        .route("/order-events/batch", post(batch_report_order_events))
}

/// OR-1..OR-4: one order event (`PAID`, `RECEIPT_CONFIRMED`, `REFUNDED`); it takes effect
/// once however often it is delivered (`DUPLICATE` otherwise).
#[utoipa::path(post, path = "/api/internal/v1/order-events", tag = "internal",
    params(("Idempotency-Key" = String, Header)),
    request_body = views::OrderEvent,
    responses((status = 200, body = views::OrderEventReported), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn report_order_event(
    State(state): State<AppState>,
    ServiceCaller(actor): ServiceCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(event): ApiJson<views::OrderEvent>,
) -> ApiResult<views::OrderEventReported> {
    let message = event.into_request(key)?;
    let response = state
        .membership
        .clone()
        .report_order_event(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// OR-1..OR-4: several order events, applied in order; one outcome per event.
#[utoipa::path(post, path = "/api/internal/v1/order-events/batch", tag = "internal",
    params(("Idempotency-Key" = String, Header)),
    request_body = views::OrderEventBatch,
    responses((status = 200, body = views::OrderEventsReported), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn batch_report_order_events(
    State(state): State<AppState>,
    ServiceCaller(actor): ServiceCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(batch): ApiJson<views::OrderEventBatch>,
) -> ApiResult<views::OrderEventsReported> {
    let message = batch.into_request(key)?;
    let response = state
        .membership
        .clone()
        .batch_report_order_events(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
