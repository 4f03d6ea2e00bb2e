//! `/api/platform/v1`: platform operators. They register, search and change shops, read
//! any shop's program, levels and members (the same reads as the shop's merchant), run
//! points expiry across the platform and read the events the campaign consumer parked.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use memberhub_proto::campaign as campaign_pb;
use memberhub_proto::membership as pb;

use crate::auth::{IdempotencyKey, OperatorCaller};
use crate::body::ApiJson;
use crate::error::ErrorBody;
use crate::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/shops", get(list_shops).post(create_shop))
        .route("/shops/{shop_id}", get(get_shop).patch(update_shop))
        .route(
            "/shops/{shop_id}/sms-service/activate",
            post(activate_sms_service),
        )
        .route("/shops/{shop_id}/statistics", get(shop_statistics))
        .route("/shops/{shop_id}/program", get(get_program))
        .route("/shops/{shop_id}/levels", get(get_level_rules))
        .route("/shops/{shop_id}/members", get(list_members))
        .route("/shops/{shop_id}/members/{user_id}", get(get_member))
        .route("/points/expire", post(expire_points))
        .route("/parked-events", get(list_parked_events))
}

/// MP-1: register a shop; its program starts with every default.
#[utoipa::path(post, path = "/api/platform/v1/shops", tag = "platform",
    params(("Idempotency-Key" = String, Header, description = "X-2 idempotency key")),
    request_body = views::CreateShop,
    responses((status = 200, body = views::Shop), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn create_shop(
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
pub(crate) async fn get_shop(
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
pub(crate) async fn activate_sms_service(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Program> {
    super::activate_sms_service(&state, &actor, key, shop_id).await
}

/// MP-1: the platform's shops, newest first, searched by name (case-insensitive
/// substring), type and creation time; paged with a cursor that stays stable while shops
/// are added. Shops are not grouped into brands yet, so there is no brand filter.
#[utoipa::path(get, path = "/api/platform/v1/shops", tag = "platform",
    params(views::ShopQuery),
    responses((status = 200, body = views::ShopPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn list_shops(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    ApiQuery(filters): ApiQuery<views::ShopQuery>,
) -> ApiResult<views::ShopPage> {
    let message = filters.into_request()?;
    let response = state
        .membership
        .clone()
        .list_shops(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MP-1: change a shop's name, logo, time zone, type or gift-items capability; absent
/// fields stay. The type changes only while the shop has no member and has not activated
/// the SMS service (400 `SHOP_TYPE_LOCKED`): MP-4 and CP-9 decide by it when things are
/// created. A new time zone applies to every day and year boundary computed from then on.
#[utoipa::path(patch, path = "/api/platform/v1/shops/{shop_id}", tag = "platform",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::UpdateShop,
    responses((status = 200, body = views::Shop), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn update_shop(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::UpdateShop>,
) -> ApiResult<views::Shop> {
    let message = body.into_request(key, shop_id)?;
    let response = state
        .membership
        .clone()
        .update_shop(request(&state, &actor, message))
        .await
        .map_err(|status| {
            // membership-svc names the body's fields `shop.<field>`; the HTTP body has them
            // at top level.
            let mut error = crate::error::ApiError::from(status);
            for violation in &mut error.body.field_violations {
                if let Some(field) = violation.field.strip_prefix("shop.") {
                    violation.field = field.to_string();
                }
            }
            error
        })?;
    Ok(Reply::from_response(response))
}

/// MP-1..MP-4: any shop's program.
#[utoipa::path(get, path = "/api/platform/v1/shops/{shop_id}/program", tag = "platform",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::Program), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn get_program(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Program> {
    super::program(&state, &actor, shop_id).await
}

/// LV-1..LV-6: any shop's level ladder and benefits.
#[utoipa::path(get, path = "/api/platform/v1/shops/{shop_id}/levels", tag = "platform",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::LevelRules), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn get_level_rules(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::LevelRules> {
    super::level_rules(&state, &actor, shop_id).await
}

/// MB-4: any shop's members, filtered and paged, as its merchant sees them (no phone).
#[utoipa::path(get, path = "/api/platform/v1/shops/{shop_id}/members", tag = "platform",
    params(("shop_id" = String, Path), views::ListMembersQuery),
    responses((status = 200, body = views::MemberPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path(shop_id): Path<String>,
    ApiQuery(filters): ApiQuery<views::ListMembersQuery>,
) -> ApiResult<views::MemberPage> {
    super::members(&state, &actor, shop_id, filters).await
}

/// MB-1, MB-4: one shopper's membership of any shop (no phone).
#[utoipa::path(get, path = "/api/platform/v1/shops/{shop_id}/members/{user_id}", tag = "platform",
    params(("shop_id" = String, Path), ("user_id" = String, Path, max_length = 64, pattern = r"^[!-~]+$")),
    responses((status = 200, body = views::Membership), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn get_member(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path((shop_id, user_id)): Path<(String, String)>,
) -> ApiResult<views::Membership> {
    super::member(&state, &actor, shop_id, user_id).await
}

/// PT-5: expire every shop's points lots that are due now (membership-svc also runs this
/// hourly by itself).
#[utoipa::path(post, path = "/api/platform/v1/points/expire", tag = "platform",
    params(("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::PointsExpired), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn expire_points(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
) -> ApiResult<views::PointsExpired> {
    let message = pb::ExpirePointsRequest {
        request_id: key,
        shop_id: String::new(),
    };
    let response = state
        .membership
        .clone()
        .expire_points(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-2: a shop's active members and last year's sales, the figures sprint plan
/// thresholds are checked against.
#[utoipa::path(get, path = "/api/platform/v1/shops/{shop_id}/statistics", tag = "platform",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::ShopStatistics), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn shop_statistics(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::ShopStatistics> {
    let message = pb::GetShopStatisticsRequest { shop_id };
    let response = state
        .membership
        .clone()
        .get_shop_statistics(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// OC-7: the membership events the campaign consumer could not read and parked, with the
/// reason, newest first.
#[utoipa::path(get, path = "/api/platform/v1/parked-events", tag = "platform",
    params(views::PageQuery),
    responses((status = 200, body = views::ParkedEventPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn list_parked_events(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    ApiQuery(page): ApiQuery<views::PageQuery>,
) -> ApiResult<views::ParkedEventPage> {
    let (page_size, page_token) = page.parse()?;
    let message = campaign_pb::ListParkedEventsRequest {
        page_size,
        page_token,
    };
    let response = state
        .campaign
        .clone()
        .list_parked_events(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
