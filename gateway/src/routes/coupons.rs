//! Coupon routes on the three surfaces (coupon-svc): back-office batch management and
//! statistics, storefront wallet / claim / cart evaluation, platform approval (CP-1..CP-9).
//! Storefront responses never carry a batch's internal name.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use memberhub_proto::common::CouponChannel;
use memberhub_proto::coupon as pb;
use memberhub_proto::membership as membership_pb;

use crate::auth::{IdempotencyKey, MerchantCaller, OperatorCaller, ShopperCaller};
use crate::body::ApiJson;
use crate::coupon_views as views;
use crate::error::{ApiError, ErrorBody};
use crate::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};

const BACKOFFICE: &str = "/api/backoffice/v1/shops/{shop_id}/coupon-batches";
const STOREFRONT: &str = "/api/storefront/v1";
const PLATFORM: &str = "/api/platform/v1/coupon-batches";

/// Every coupon route, with full paths (merged into the app beside the other surfaces).
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(BACKOFFICE, get(list_batches).post(create_batch))
        .route(&format!("{BACKOFFICE}/{{batch}}"), get(get_batch))
        .route(
            &format!("{BACKOFFICE}/{{batch}}/submit"),
            post(submit_batch),
        )
        .route(&format!("{BACKOFFICE}/{{batch}}/close"), post(close_batch))
        .route(
            &format!("{BACKOFFICE}/{{batch}}/issue"),
            post(issue_to_member),
        )
        .route(
            &format!("{BACKOFFICE}/{{batch}}/statistics"),
            get(batch_statistics),
        )
        .route(
            &format!("{STOREFRONT}/shops/{{shop_id}}/coupon-batches"),
            get(coupon_centre),
        )
        .route(
            &format!("{STOREFRONT}/shops/{{shop_id}}/coupon-batches/{{batch}}"),
            get(storefront_batch),
        )
        .route(
            &format!("{STOREFRONT}/shops/{{shop_id}}/coupon-batches/{{batch}}/claim"),
            post(claim),
        )
        .route(
            &format!("{STOREFRONT}/shops/{{shop_id}}/cart/evaluate"),
            post(evaluate_cart),
        )
        .route(&format!("{STOREFRONT}/coupons"), get(wallet))
        .route(PLATFORM, get(platform_batches))
        .route(
            &format!("{PLATFORM}/{{batch}}/approve"),
            post(approve_batch),
        )
        .route(&format!("{PLATFORM}/{{batch}}/reject"), post(reject_batch))
}

/// coupon-svc names create fields `batch.<field>`; the HTTP body has them at top level.
fn unprefixed(status: tonic::Status) -> ApiError {
    let mut error = ApiError::from(status);
    for violation in &mut error.body.field_violations {
        if let Some(field) = violation.field.strip_prefix("batch.") {
            violation.field = field.to_string();
        }
    }
    error
}

fn list_request(shop_id: String, query: views::CouponBatchQuery) -> pb::ListBatchesRequest {
    pb::ListBatchesRequest {
        shop_id,
        page_size: query.page_size.unwrap_or(0),
        page_token: query.page_token.unwrap_or_default(),
        status: query
            .status
            .map(pb::BatchStatus::from)
            .unwrap_or_default()
            .into(),
        channel: query
            .channel
            .map(CouponChannel::from)
            .unwrap_or_default()
            .into(),
    }
}

// ------------------------------------------------------------------ back-office

/// CP-1, CP-2: create a batch (DRAFT) with a unique `BA_` key.
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/coupon-batches", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::CreateCouponBatch,
    responses((status = 200, body = views::CouponBatch), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn create_batch(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::CreateCouponBatch>,
) -> ApiResult<views::CouponBatch> {
    let actor = merchant.for_shop(&shop_id)?;
    create_in_shop(&state, actor, key, shop_id, |id, shop_type| {
        body.into_pb(id, shop_type)
    })
    .await
}

/// Creates the batch `build` makes for `shop_id` from the shop's type (CP-9 needs it, and
/// membership-svc owns it); a bad field is named as in the HTTP body.
pub(crate) async fn create_in_shop(
    state: &AppState,
    actor: &memberhub_kit::actor::Actor,
    key: String,
    shop_id: String,
    build: impl FnOnce(String, memberhub_proto::common::ShopType) -> pb::Batch,
) -> ApiResult<views::CouponBatch> {
    let shop = membership_pb::GetShopRequest {
        shop_id: shop_id.clone(),
    };
    let shop = state
        .membership
        .clone()
        .get_shop(request(state, actor, shop))
        .await?
        .into_inner();
    let message = pb::CreateBatchRequest {
        request_id: key,
        batch: Some(build(shop_id, shop.r#type())),
    };
    let response = state
        .coupon
        .clone()
        .create_batch(request(state, actor, message))
        .await
        .map_err(unprefixed)?;
    Ok(Reply::from_response(response))
}

/// CP-1: the shop's batches, newest first.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/coupon-batches", tag = "backoffice",
    params(("shop_id" = String, Path), views::CouponBatchQuery),
    responses((status = 200, body = views::CouponBatchList), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_batches(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
    ApiQuery(query): ApiQuery<views::CouponBatchQuery>,
) -> ApiResult<views::CouponBatchList> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = list_request(shop_id, query);
    let response = state
        .coupon
        .clone()
        .list_batches(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-1: a batch by id or by its `BA_` key.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/coupon-batches/{batch}", tag = "backoffice",
    params(("shop_id" = String, Path), ("batch" = String, Path, description = "id or BA_ key", pattern = r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|BA_[a-z2-7]{7})$")),
    responses((status = 200, body = views::CouponBatch), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_batch(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, batch)): Path<(String, String)>,
) -> ApiResult<views::CouponBatch> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::GetBatchRequest { shop_id, batch };
    let response = state
        .coupon
        .clone()
        .get_batch(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// DRAFT -> ACTIVE (POP) or PENDING_APPROVAL (self-operated, CP-9).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/coupon-batches/{batch}/submit", tag = "backoffice",
    params(("shop_id" = String, Path), ("batch" = String, Path, description = "batch id", format = Uuid), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::CouponBatch), (status = 400, body = ErrorBody)))]
pub(crate) async fn submit_batch(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, batch_id)): Path<(String, String)>,
) -> ApiResult<views::CouponBatch> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::SubmitBatchRequest {
        request_id: key,
        batch_id,
        shop_id,
    };
    let response = state
        .coupon
        .clone()
        .submit_batch(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-7: stop issuing (refused for SPRINT_PLAN batches and while a campaign holds units).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/coupon-batches/{batch}/close", tag = "backoffice",
    params(("shop_id" = String, Path), ("batch" = String, Path, description = "batch id", format = Uuid), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::CouponBatch), (status = 400, body = ErrorBody)))]
pub(crate) async fn close_batch(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, batch_id)): Path<(String, String)>,
) -> ApiResult<views::CouponBatch> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::CloseBatchRequest {
        request_id: key,
        batch_id,
        shop_id,
    };
    let response = state
        .coupon
        .clone()
        .close_batch(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-3: hand one issue of the shop's GENERAL or CRM batch to a member of the shop (the
/// building block of targeted issuing); the batch's stock, window and per-user limit apply.
/// Another shop's batch, or a user who is not this shop's member, is NOT_FOUND (X-1);
/// INTERACTIVE and SPRINT_PLAN batches are issued by campaigns only (PERMISSION_DENIED).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/coupon-batches/{batch}/issue", tag = "backoffice",
    params(("shop_id" = String, Path), ("batch" = String, Path, description = "id or BA_ key", pattern = r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|BA_[a-z2-7]{7})$"), ("Idempotency-Key" = String, Header)),
    request_body = views::IssueToMember,
    responses((status = 200, body = views::ClaimedCoupons), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn issue_to_member(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, batch)): Path<(String, String)>,
    ApiJson(body): ApiJson<views::IssueToMember>,
) -> ApiResult<views::ClaimedCoupons> {
    let actor = merchant.for_shop(&shop_id)?;
    let found = pb::GetBatchRequest {
        shop_id: shop_id.clone(),
        batch,
    };
    let found = state
        .coupon
        .clone()
        .get_batch(request(&state, actor, found))
        .await?
        .into_inner();
    let member = super::member_of(&state, actor, &shop_id, &body.user_id).await?;
    if member.state != membership_pb::MembershipState::Active as i32 {
        return Err(ApiError::precondition(
            "NOT_A_MEMBER",
            format!("{} is not an active member of the shop", body.user_id),
        ));
    }
    let message = pb::IssueCouponsRequest {
        request_id: key,
        batch_id: found.batch_id,
        user_id: body.user_id,
        channel: found.channel,
        allocation_id: String::new(),
        campaign_claim_id: String::new(),
        shop_id,
    };
    let response = state
        .coupon
        .clone()
        .issue_coupons(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-8: issued, used, expired and use rate.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/coupon-batches/{batch}/statistics", tag = "backoffice",
    params(("shop_id" = String, Path), ("batch" = String, Path, description = "batch id", format = Uuid)),
    responses((status = 200, body = views::CouponBatchStatistics), (status = 404, body = ErrorBody)))]
pub(crate) async fn batch_statistics(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, batch_id)): Path<(String, String)>,
) -> ApiResult<views::CouponBatchStatistics> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::GetBatchStatisticsRequest { batch_id, shop_id };
    let response = state
        .coupon
        .clone()
        .get_batch_statistics(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

// ------------------------------------------------------------------ storefront

/// CP-3: the shop's coupon centre: GENERAL batches claimable now, newest first.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/coupon-batches", tag = "storefront",
    params(("shop_id" = String, Path), crate::views::PageQuery),
    responses((status = 200, body = views::CouponCentre), (status = 400, body = ErrorBody)))]
pub(crate) async fn coupon_centre(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
    ApiQuery(page): ApiQuery<crate::views::PageQuery>,
) -> ApiResult<views::CouponCentre> {
    let (page_size, page_token) = page.parse()?;
    let message = pb::ListClaimableBatchesRequest {
        shop_id,
        page_size,
        page_token,
    };
    let response = state
        .coupon
        .clone()
        .list_claimable_batches(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-1: a live batch of the shop, without its internal name.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/coupon-batches/{batch}", tag = "storefront",
    params(("shop_id" = String, Path), ("batch" = String, Path, description = "id or BA_ key", pattern = r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|BA_[a-z2-7]{7})$")),
    responses((status = 200, body = views::StorefrontCouponBatch), (status = 404, body = ErrorBody)))]
pub(crate) async fn storefront_batch(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path((shop_id, batch)): Path<(String, String)>,
) -> ApiResult<views::StorefrontCouponBatch> {
    let message = pb::GetBatchRequest { shop_id, batch };
    let response = state
        .coupon
        .clone()
        .get_batch(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-3: claim one issue of a GENERAL batch.
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/coupon-batches/{batch}/claim", tag = "storefront",
    params(("shop_id" = String, Path), ("batch" = String, Path, description = "batch id", format = Uuid), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::ClaimedCoupons), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn claim(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, batch_id)): Path<(String, String)>,
) -> ApiResult<views::ClaimedCoupons> {
    let message = pb::IssueCouponsRequest {
        request_id: key,
        batch_id,
        user_id: shopper.user_id.clone(),
        channel: CouponChannel::General.into(),
        allocation_id: String::new(),
        campaign_claim_id: String::new(),
        shop_id,
    };
    let response = state
        .coupon
        .clone()
        .issue_coupons(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-5: the caller's coupons, newest first.
#[utoipa::path(get, path = "/api/storefront/v1/coupons", tag = "storefront",
    params(views::WalletQuery),
    responses((status = 200, body = views::Wallet), (status = 400, body = ErrorBody)))]
pub(crate) async fn wallet(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    ApiQuery(query): ApiQuery<views::WalletQuery>,
) -> ApiResult<views::Wallet> {
    let message = pb::ListWalletCouponsRequest {
        user_id: shopper.user_id.clone(),
        shop_id: query.shop_id.unwrap_or_default(),
        state: query
            .state
            .map(pb::CouponState::from)
            .unwrap_or_default()
            .into(),
        page_size: query.page_size.unwrap_or(0),
        page_token: query.page_token.unwrap_or_default(),
    };
    let response = state
        .coupon
        .clone()
        .list_wallet_coupons(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-6: what each of the caller's coupons takes off a cart of the shop, or why not.
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/cart/evaluate", tag = "storefront",
    params(("shop_id" = String, Path)),
    request_body = views::EvaluateCart,
    responses((status = 200, body = views::CartEvaluation), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn evaluate_cart(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::EvaluateCart>,
) -> ApiResult<views::CartEvaluation> {
    let message = pb::EvaluateCartRequest {
        user_id: shopper.user_id.clone(),
        shop_id,
        lines: body.lines(),
        region: body.region,
        coupon_ids: body.coupon_ids,
    };
    let response = state
        .coupon
        .clone()
        .evaluate_cart(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

// ------------------------------------------------------------------ platform

/// CP-9: batches across shops, e.g. `?status=PENDING_APPROVAL`.
#[utoipa::path(get, path = "/api/platform/v1/coupon-batches", tag = "platform",
    params(views::CouponBatchQuery),
    responses((status = 200, body = views::CouponBatchList), (status = 403, body = ErrorBody)))]
pub(crate) async fn platform_batches(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    ApiQuery(mut query): ApiQuery<views::CouponBatchQuery>,
) -> ApiResult<views::CouponBatchList> {
    let shop_id = query.shop_id.take().unwrap_or_default();
    let message = list_request(shop_id, query);
    let response = state
        .coupon
        .clone()
        .list_batches(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-9: approve a PENDING_APPROVAL batch (-> ACTIVE).
#[utoipa::path(post, path = "/api/platform/v1/coupon-batches/{batch}/approve", tag = "platform",
    params(("batch" = String, Path, description = "batch id", format = Uuid), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::CouponBatch), (status = 400, body = ErrorBody)))]
pub(crate) async fn approve_batch(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(batch_id): Path<String>,
) -> ApiResult<views::CouponBatch> {
    let message = pb::ApproveBatchRequest {
        request_id: key,
        batch_id,
    };
    let response = state
        .coupon
        .clone()
        .approve_batch(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// CP-9: reject a PENDING_APPROVAL batch with a reason (-> CLOSED).
#[utoipa::path(post, path = "/api/platform/v1/coupon-batches/{batch}/reject", tag = "platform",
    params(("batch" = String, Path, description = "batch id", format = Uuid), ("Idempotency-Key" = String, Header)),
    request_body = views::RejectCouponBatch,
    responses((status = 200, body = views::CouponBatch), (status = 400, body = ErrorBody)))]
pub(crate) async fn reject_batch(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(batch_id): Path<String>,
    ApiJson(body): ApiJson<views::RejectCouponBatch>,
) -> ApiResult<views::CouponBatch> {
    let message = pb::RejectBatchRequest {
        request_id: key,
        batch_id,
        reason: body.reason,
    };
    let response = state
        .coupon
        .clone()
        .reject_batch(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
