//! `/api/platform/v1`: platform operators.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use memberhub_proto::membership as pb;

use crate::auth::{IdempotencyKey, OperatorCaller};
use crate::body::ApiJson;
use crate::error::ErrorBody;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/shops", post(create_shop))
        .route("/shops/{shop_id}", get(get_shop))
        .route(
            "/shops/{shop_id}/sms-service/activate",
            post(activate_sms_service),
        )
}

/// MP-1: register a shop; its program starts with every default.
#[utoipa::path(post, path = "/api/platform/v1/shops", tag = "platform",
    params(("Idempotency-Key" = String, Header, description = "X-2 idempotency key")),
    request_body = views::CreateShop,
    responses((status = 200, body = views::Shop), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_shop(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<views::CreateShop>,
) -> ApiResult<views::Shop> {
    let message = pb::CreateShopRequest {
        request_id: key,
        name: body.name,
        r#type: memberhub_proto::common::ShopType::from(body.shop_type).into(),
        logo_url: body.logo_url,
        time_zone: body.time_zone,
        gift_items: body.gift_items,
    };
    let response = state
        .membership
        .clone()
        .create_shop(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// A shop.
#[utoipa::path(get, path = "/api/platform/v1/shops/{shop_id}", tag = "platform",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::Shop), (status = 404, body = ErrorBody)))]
pub async fn get_shop(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Shop> {
    let message = pb::GetShopRequest { shop_id };
    let response = state
        .membership
        .clone()
        .get_shop(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MP-4: activate the shop's card-verification SMS service.
#[utoipa::path(post, path = "/api/platform/v1/shops/{shop_id}/sms-service/activate", tag = "platform",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::Program), (status = 404, body = ErrorBody)))]
pub async fn activate_sms_service(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Program> {
    super::activate_sms_service(&state, &actor, key, shop_id).await
}
