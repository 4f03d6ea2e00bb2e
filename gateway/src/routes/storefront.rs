//! `/api/storefront/v1`: shoppers, on their own data. The user id always comes from
//! the token, never from the request.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use memberhub_proto::membership as pb;

use crate::auth::{IdempotencyKey, ShopperCaller};
use crate::body::ApiJson;
use crate::error::ErrorBody;
use crate::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/shops/{shop_id}/member-center", get(member_center))
        .route("/shops/{shop_id}/card/sms-code", post(send_card_sms_code))
        .route("/shops/{shop_id}/card/open", post(open_card))
        .route("/shops/{shop_id}/membership", get(my_membership))
        .route("/shops/{shop_id}/membership/quit", post(quit_membership))
        .route("/shops/{shop_id}/ledger", get(my_ledger))
        .route(
            "/shops/{shop_id}/follow",
            put(follow_shop).delete(unfollow_shop),
        )
}

/// MP-5, MP-6: the shop's member center for the calling shopper, in one call: card face,
/// level name and benefits, points, or how to open the card (membership-svc; its failure
/// fails the call), plus the campaign offers (open-card gift and its claim, claimable packs,
/// pop-up, new-member exclusive) and the available coupons of the shop. Those two are
/// optional: each has its own deadline, and one that fails or is too slow is left out and
/// named in `degraded` while the reply stays 200.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/member-center", tag = "storefront",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::StorefrontMemberCenter), (status = 404, body = ErrorBody),
        (status = 503, body = ErrorBody, description = "membership-svc unavailable"),
        (status = 504, body = ErrorBody, description = "membership-svc missed its deadline")))]
pub(crate) async fn member_center(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::StorefrontMemberCenter> {
    crate::member_center::compose(&state, &shopper.actor, shop_id, shopper.user_id.clone()).await
}

/// MP-4: send a 6-digit card-opening code to the phone (valid 5 minutes; a resend no sooner
/// than 60 s).
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/card/sms-code", tag = "storefront",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::SendCardSmsCode,
    responses((status = 200, body = views::SmsCodeSent), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn send_card_sms_code(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::SendCardSmsCode>,
) -> ApiResult<views::SmsCodeSent> {
    let message = pb::SendCardSmsCodeRequest {
        request_id: key,
        shop_id,
        user_id: shopper.user_id.clone(),
        phone: body.phone,
    };
    let response = state
        .membership
        .clone()
        .send_card_sms_code(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-2, MP-4: open the shop's card with a phone (and the SMS code when the shop requires
/// one); FAILED_PRECONDITION `CARD_JOIN_DISABLED` under the `ORDER` policy.
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/card/open", tag = "storefront",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::OpenCard,
    responses((status = 200, body = views::Membership), (status = 400, body = ErrorBody)))]
pub(crate) async fn open_card(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::OpenCard>,
) -> ApiResult<views::Membership> {
    let message = body.into_request(key, shop_id, shopper.user_id.clone());
    let response = state
        .membership
        .clone()
        .open_card(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-1, OR-3, LV-5: the caller's membership: level, confirmed spend, order count, points.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/membership", tag = "storefront",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::Membership), (status = 404, body = ErrorBody)))]
pub(crate) async fn my_membership(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Membership> {
    let message = pb::GetMembershipRequest {
        shop_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .membership
        .clone()
        .get_membership(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-3: quit the shop's membership; its history is kept.
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/membership/quit", tag = "storefront",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::Membership), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn quit_membership(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Membership> {
    let message = pb::QuitMembershipRequest {
        request_id: key,
        shop_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .membership
        .clone()
        .quit_membership(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// PT-4: the caller's ledger history in the shop, optionally for one asset.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/ledger", tag = "storefront",
    params(("shop_id" = String, Path), views::LedgerQuery),
    responses((status = 200, body = views::LedgerPage), (status = 400, body = ErrorBody)))]
pub(crate) async fn my_ledger(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
    ApiQuery(filters): ApiQuery<views::LedgerQuery>,
) -> ApiResult<views::LedgerPage> {
    let message = filters.into_request(shop_id, shopper.user_id.clone())?;
    let response = state
        .membership
        .clone()
        .list_ledger_entries(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-5: follow the shop (become a fan).
#[utoipa::path(put, path = "/api/storefront/v1/shops/{shop_id}/follow", tag = "storefront",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::Following), (status = 404, body = ErrorBody)))]
pub(crate) async fn follow_shop(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Following> {
    let message = pb::FollowShopRequest {
        request_id: key,
        shop_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .membership
        .clone()
        .follow_shop(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-5: stop following the shop.
#[utoipa::path(delete, path = "/api/storefront/v1/shops/{shop_id}/follow", tag = "storefront",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::Following), (status = 404, body = ErrorBody)))]
pub(crate) async fn unfollow_shop(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Following> {
    let message = pb::UnfollowShopRequest {
        request_id: key,
        shop_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .membership
        .clone()
        .unfollow_shop(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
