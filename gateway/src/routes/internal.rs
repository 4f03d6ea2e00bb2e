//! `/api/internal/v1`: the commerce platform's order system (order and add-to-cart events,
//! CP-6 coupon locks). Its service token only (X-1); every other role or service gets PERMISSION_DENIED
//! here, and a service token gets it on the other surfaces.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::post;
use memberhub_proto::coupon as coupon_pb;

use crate::auth::{IdempotencyKey, ServiceCaller};
use crate::body::ApiJson;
use crate::coupon_views;
use crate::error::ErrorBody;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/order-events", post(report_order_event))
        .route("/order-events/batch", post(batch_report_order_events))
        .route("/cart-events/batch", post(batch_report_cart_events))
        .route("/orders/{order_id}/coupons/lock", post(lock_order_coupons))
        .route(
            "/orders/{order_id}/coupons/redeem",
            post(redeem_order_coupons),
        )
        .route(
            "/orders/{order_id}/coupons/release",
            post(release_order_coupons),
        )
}

/// OR-1..OR-4: one order event (`PAID`, `RECEIPT_CONFIRMED`, `REFUNDED`); it takes effect
/// once however often it is delivered (`DUPLICATE` otherwise).
#[utoipa::path(post, path = "/api/internal/v1/order-events", tag = "internal",
    params(("Idempotency-Key" = String, Header)),
    request_body = views::OrderEvent,
    responses((status = 200, body = views::OrderEventReported), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn report_order_event(
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
pub(crate) async fn batch_report_order_events(
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

/// OR-1: add-to-cart events (members and non-members alike); each takes effect once per
/// (shop, event id), `DUPLICATE` otherwise. One outcome per event.
#[utoipa::path(post, path = "/api/internal/v1/cart-events/batch", tag = "internal",
    params(("Idempotency-Key" = String, Header)),
    request_body = views::CartEventBatch,
    responses((status = 200, body = views::CartEventsReported), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn batch_report_cart_events(
    State(state): State<AppState>,
    ServiceCaller(actor): ServiceCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(batch): ApiJson<views::CartEventBatch>,
) -> ApiResult<views::CartEventsReported> {
    let message = batch.into_request(key)?;
    let response = state
        .membership
        .clone()
        .batch_report_cart_events(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-6: lock the shopper's coupons for an order at placement. Every coupon must be
/// AVAILABLE and usable on the order's cart; a coupon another order holds is refused
/// (FAILED_PRECONDITION: 400 with its reason), so of two orders racing for one coupon exactly
/// one locks it.
/// A retry with the same Idempotency-Key returns the first answer.
#[utoipa::path(post, path = "/api/internal/v1/orders/{order_id}/coupons/lock", tag = "internal",
    params(("order_id" = String, Path, max_length = 64, pattern = r"^[!-~]+$"), ("Idempotency-Key" = String, Header)),
    request_body = coupon_views::LockOrderCoupons,
    responses((status = 200, body = coupon_views::LockedCoupons), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn lock_order_coupons(
    State(state): State<AppState>,
    ServiceCaller(actor): ServiceCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(order_id): Path<String>,
    ApiJson(body): ApiJson<coupon_views::LockOrderCoupons>,
) -> ApiResult<coupon_views::LockedCoupons> {
    let message = body.into_request(key, order_id);
    let response = state
        .coupon
        .clone()
        .lock_coupons(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-6: the order was paid: its locked coupons become USED (once per order; a replay
/// returns the same coupons).
#[utoipa::path(post, path = "/api/internal/v1/orders/{order_id}/coupons/redeem", tag = "internal",
    params(("order_id" = String, Path, max_length = 64, pattern = r"^[!-~]+$"), ("Idempotency-Key" = String, Header)),
    request_body = coupon_views::OrderShopper,
    responses((status = 200, body = coupon_views::OrderCoupons), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn redeem_order_coupons(
    State(state): State<AppState>,
    ServiceCaller(actor): ServiceCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(order_id): Path<String>,
    ApiJson(body): ApiJson<coupon_views::OrderShopper>,
) -> ApiResult<coupon_views::OrderCoupons> {
    let message = coupon_pb::RedeemCouponsRequest {
        request_id: key,
        order_id,
        user_id: body.user_id,
    };
    let response = state
        .coupon
        .clone()
        .redeem_coupons(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-6: the order was cancelled: its locked coupons that are still valid become AVAILABLE
/// again.
#[utoipa::path(post, path = "/api/internal/v1/orders/{order_id}/coupons/release", tag = "internal",
    params(("order_id" = String, Path, max_length = 64, pattern = r"^[!-~]+$"), ("Idempotency-Key" = String, Header)),
    request_body = coupon_views::OrderShopper,
    responses((status = 200, body = coupon_views::OrderCoupons), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn release_order_coupons(
    State(state): State<AppState>,
    ServiceCaller(actor): ServiceCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(order_id): Path<String>,
    ApiJson(body): ApiJson<coupon_views::OrderShopper>,
) -> ApiResult<coupon_views::OrderCoupons> {
    let message = coupon_pb::ReleaseCouponsRequest {
        request_id: key,
        order_id,
        user_id: body.user_id,
    };
    let response = state
        .coupon
        .clone()
        .release_coupons(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
