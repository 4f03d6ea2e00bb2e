//! Campaign routes (campaign-svc) on the three surfaces they touch: back-office open-card
//! gifts (OC-1..OC-10), gift packs, gift items and the new-member exclusive (GP-1..GP-8) and
//! claims; storefront claims, points exchange (PT-3) and entitlements (GP-4); the internal
//! entitlement consumption by the order system.
//!
//! Tenancy (X-1) at the gateway: a merchant only on the shop of their token (path checked
//! first); a resource named by id must belong to the path's shop (read first for mutations,
//! checked on the reply for reads), else NOT_FOUND; a shopper acts as the token's user only,
//! and reading another shopper's claim is PERMISSION_DENIED. campaign-svc re-checks all of it
//! from the actor metadata.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post, put};
use memberhub_kit::actor::Actor;
use memberhub_proto::campaign as pb;

use crate::auth::{IdempotencyKey, MerchantCaller, ServiceCaller, ShopperCaller};
use crate::body::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::query::ApiQuery;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

const BACKOFFICE: &str = "/api/backoffice/v1/shops/{shop_id}";
const STOREFRONT: &str = "/api/storefront/v1/shops/{shop_id}";
const INTERNAL: &str = "/api/internal/v1";

/// Every campaign route, with full paths (merged into the app beside the other surfaces).
pub(crate) fn router() -> Router<AppState> {
    let b = |path: &str| format!("{BACKOFFICE}{path}");
    let s = |path: &str| format!("{STOREFRONT}{path}");
    Router::new()
        .route(
            &b("/open-card-gifts"),
            get(list_open_card_gifts).post(create_open_card_gift),
        )
        .route(
            &b("/open-card-gifts/{campaign_id}"),
            get(get_open_card_gift).put(update_open_card_gift),
        )
        .route(
            &b("/open-card-gifts/{campaign_id}/close"),
            post(close_open_card_gift),
        )
        .route(
            &b("/open-card-gifts/{campaign_id}/statistics"),
            get(open_card_gift_statistics),
        )
        .route(
            &b("/gift-packs"),
            get(list_gift_packs).post(create_gift_pack),
        )
        .route(&b("/gift-packs/{pack_id}"), get(get_gift_pack))
        .route(&b("/gift-packs/{pack_id}/close"), post(close_gift_pack))
        .route(&b("/gift-items"), get(list_gift_items))
        .route(&b("/gift-items/{sku}"), put(upsert_gift_item))
        .route(
            &b("/new-member-exclusive"),
            get(get_new_member_exclusive).put(set_new_member_exclusive),
        )
        .route(&b("/claims"), get(list_claims))
        .route(&b("/claims/{claim_id}"), get(get_shop_claim))
        .route(&s("/gift-packs/{pack_id}/claim"), post(claim_gift_pack))
        .route(
            &s("/new-member-exclusive/claim"),
            post(claim_new_member_exclusive),
        )
        .route(&s("/points-exchange"), post(exchange_points))
        .route(&s("/claims"), get(list_my_claims))
        .route(&s("/claims/{claim_id}"), get(get_my_claim))
        .route(&s("/entitlements"), get(my_entitlements))
        .route(
            &format!("{INTERNAL}/entitlements/{{entitlement_id}}/consume"),
            post(consume_entitlement),
        )
}

/// campaign-svc names a resource's fields `<resource>.<field>`; the HTTP body has them at
/// top level.
fn unprefixed(prefix: &'static str) -> impl Fn(tonic::Status) -> ApiError {
    move |status| {
        let mut error = ApiError::from(status);
        for violation in &mut error.body.field_violations {
            if let Some(field) = violation.field.strip_prefix(prefix) {
                violation.field = field.to_string();
            }
        }
        error
    }
}

/// X-1: a resource read by id must belong to the shop in the path; elsewhere it does not exist.
fn in_shop(path_shop: &str, resource_shop: &str, what: &str) -> Result<(), ApiError> {
    if path_shop.eq_ignore_ascii_case(resource_shop) {
        Ok(())
    } else {
        Err(ApiError::from(tonic::Status::not_found(format!(
            "no such {what} in shop {path_shop}"
        ))))
    }
}

/// The open-card gift `campaign_id`, when it is `shop_id`'s.
async fn own_open_card_gift(
    state: &AppState,
    actor: &Actor,
    shop_id: &str,
    campaign_id: String,
) -> Result<tonic::Response<pb::OpenCardGift>, ApiError> {
    let message = pb::GetOpenCardGiftRequest { campaign_id };
    let response = state
        .campaign
        .clone()
        .get_open_card_gift(request(state, actor, message))
        .await?;
    in_shop(shop_id, &response.get_ref().shop_id, "open-card gift")?;
    Ok(response)
}

/// The gift pack `pack_id`, when it is `shop_id`'s.
async fn own_gift_pack(
    state: &AppState,
    actor: &Actor,
    shop_id: &str,
    pack_id: String,
) -> Result<tonic::Response<pb::GiftPack>, ApiError> {
    let message = pb::GetGiftPackRequest { pack_id };
    let response = state
        .campaign
        .clone()
        .get_gift_pack(request(state, actor, message))
        .await?;
    in_shop(shop_id, &response.get_ref().shop_id, "gift pack")?;
    Ok(response)
}

// ------------------------------------------------------------------ open-card gifts

/// OC-1..OC-6, OC-8: create an open-card gift; beans, red packet and data pack prizes
/// reserve budget and coupon prizes bind their batch (FAILED_PRECONDITION with the reason
/// otherwise, e.g. `CARD_JOIN_DISABLED` or an overlapping campaign).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/open-card-gifts", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::OpenCardGiftBody,
    responses((status = 200, body = views::OpenCardGift), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn create_open_card_gift(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::OpenCardGiftBody>,
) -> ApiResult<views::OpenCardGift> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::CreateOpenCardGiftRequest {
        request_id: key,
        gift: Some(body.into_pb(shop_id, String::new())),
    };
    let response = state
        .campaign
        .clone()
        .create_open_card_gift(request(&state, actor, message))
        .await
        .map_err(unprefixed("gift."))?;
    Ok(Reply::from_response(response))
}

/// OC-1..OC-10: the shop's open-card gifts, newest first.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/open-card-gifts", tag = "backoffice",
    params(("shop_id" = String, Path), views::PageQuery),
    responses((status = 200, body = views::OpenCardGiftList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_open_card_gifts(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
    ApiQuery(page): ApiQuery<views::PageQuery>,
) -> ApiResult<views::OpenCardGiftList> {
    let actor = merchant.for_shop(&shop_id)?;
    let (page_size, page_token) = page.parse()?;
    let message = pb::ListOpenCardGiftsRequest {
        shop_id,
        page_size,
        page_token,
    };
    let response = state
        .campaign
        .clone()
        .list_open_card_gifts(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// OC-1..OC-10: one open-card gift with its live `packs_left`.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/open-card-gifts/{campaign_id}", tag = "backoffice",
    params(("shop_id" = String, Path), ("campaign_id" = String, Path)),
    responses((status = 200, body = views::OpenCardGift), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_open_card_gift(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, campaign_id)): Path<(String, String)>,
) -> ApiResult<views::OpenCardGift> {
    let actor = merchant.for_shop(&shop_id)?;
    let response = own_open_card_gift(&state, actor, &shop_id, campaign_id).await?;
    Ok(Reply::from_response(response))
}

/// OC-1..OC-8: replace an open-card gift's name, window, prizes and quantity (the service
/// says which changes its status still allows).
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/open-card-gifts/{campaign_id}", tag = "backoffice",
    params(("shop_id" = String, Path), ("campaign_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::OpenCardGiftBody,
    responses((status = 200, body = views::OpenCardGift), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn update_open_card_gift(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, campaign_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<views::OpenCardGiftBody>,
) -> ApiResult<views::OpenCardGift> {
    let actor = merchant.for_shop(&shop_id)?;
    own_open_card_gift(&state, actor, &shop_id, campaign_id.clone()).await?;
    let message = pb::UpdateOpenCardGiftRequest {
        request_id: key,
        gift: Some(body.into_pb(shop_id, campaign_id)),
    };
    let response = state
        .campaign
        .clone()
        .update_open_card_gift(request(&state, actor, message))
        .await
        .map_err(unprefixed("gift."))?;
    Ok(Reply::from_response(response))
}

/// OC-9: close the campaign at once (stop-loss); unused budget and coupon allocations are
/// given back (`settled` once done).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/open-card-gifts/{campaign_id}/close", tag = "backoffice",
    params(("shop_id" = String, Path), ("campaign_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::OpenCardGift), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn close_open_card_gift(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, campaign_id)): Path<(String, String)>,
) -> ApiResult<views::OpenCardGift> {
    let actor = merchant.for_shop(&shop_id)?;
    own_open_card_gift(&state, actor, &shop_id, campaign_id.clone()).await?;
    let message = pb::CloseOpenCardGiftRequest {
        request_id: key,
        campaign_id,
    };
    let response = state
        .campaign
        .clone()
        .close_open_card_gift(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// OC-10: exposures, cards opened, packs granted and prize totals per shop-local day
/// (final from T+1), and the live packs left.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/open-card-gifts/{campaign_id}/statistics", tag = "backoffice",
    params(("shop_id" = String, Path), ("campaign_id" = String, Path)),
    responses((status = 200, body = views::OpenCardGiftStatistics), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn open_card_gift_statistics(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, campaign_id)): Path<(String, String)>,
) -> ApiResult<views::OpenCardGiftStatistics> {
    let actor = merchant.for_shop(&shop_id)?;
    own_open_card_gift(&state, actor, &shop_id, campaign_id.clone()).await?;
    let message = pb::GetOpenCardGiftStatisticsRequest { campaign_id };
    let response = state
        .campaign
        .clone()
        .get_open_card_gift_statistics(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

// ------------------------------------------------------------------ gift packs

/// GP-2, GP-3, GP-5..GP-7: create a new-member or member pack (FAILED_PRECONDITION
/// `PACK_WINDOW_OVERLAP` naming the other pack when the windows overlap).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/gift-packs", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::CreateGiftPack,
    responses((status = 200, body = views::GiftPack), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn create_gift_pack(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::CreateGiftPack>,
) -> ApiResult<views::GiftPack> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::CreateGiftPackRequest {
        request_id: key,
        pack: Some(body.into_pb(shop_id)),
    };
    let response = state
        .campaign
        .clone()
        .create_gift_pack(request(&state, actor, message))
        .await
        .map_err(unprefixed("pack."))?;
    Ok(Reply::from_response(response))
}

/// GP-1..GP-7: the shop's gift packs, optionally of one kind.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/gift-packs", tag = "backoffice",
    params(("shop_id" = String, Path), views::GiftPackQuery),
    responses((status = 200, body = views::GiftPackList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_gift_packs(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
    ApiQuery(filters): ApiQuery<views::GiftPackQuery>,
) -> ApiResult<views::GiftPackList> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = filters.into_request(shop_id)?;
    let response = state
        .campaign
        .clone()
        .list_gift_packs(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// GP-1..GP-7: one gift pack with its packs left.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/gift-packs/{pack_id}", tag = "backoffice",
    params(("shop_id" = String, Path), ("pack_id" = String, Path)),
    responses((status = 200, body = views::GiftPack), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_gift_pack(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, pack_id)): Path<(String, String)>,
) -> ApiResult<views::GiftPack> {
    let actor = merchant.for_shop(&shop_id)?;
    let response = own_gift_pack(&state, actor, &shop_id, pack_id).await?;
    Ok(Reply::from_response(response))
}

/// GP-5: close a pack; claims stop at once.
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/gift-packs/{pack_id}/close", tag = "backoffice",
    params(("shop_id" = String, Path), ("pack_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::GiftPack), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn close_gift_pack(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, pack_id)): Path<(String, String)>,
) -> ApiResult<views::GiftPack> {
    let actor = merchant.for_shop(&shop_id)?;
    own_gift_pack(&state, actor, &shop_id, pack_id.clone()).await?;
    let message = pb::CloseGiftPackRequest {
        request_id: key,
        pack_id,
    };
    let response = state
        .campaign
        .clone()
        .close_gift_pack(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// GP-2, GP-4: the shop's gift items and their unpromised stock.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/gift-items", tag = "backoffice",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::GiftItemList), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_gift_items(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::GiftItemList> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::ListGiftItemsRequest { shop_id };
    let response = state
        .campaign
        .clone()
        .list_gift_items(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// GP-2: create or change a gift item (shops with the `gift_items` capability).
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/gift-items/{sku}", tag = "backoffice",
    params(("shop_id" = String, Path), ("sku" = String, Path, min_length = 1, max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"), ("Idempotency-Key" = String, Header)),
    request_body = views::UpsertGiftItem,
    responses((status = 200, body = views::GiftItemRecord), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn upsert_gift_item(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, sku)): Path<(String, String)>,
    ApiJson(body): ApiJson<views::UpsertGiftItem>,
) -> ApiResult<views::GiftItemRecord> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::UpsertGiftItemRequest {
        request_id: key,
        item: Some(body.into_pb(shop_id, sku)),
    };
    let response = state
        .campaign
        .clone()
        .upsert_gift_item(request(&state, actor, message))
        .await
        .map_err(unprefixed("item."))?;
    Ok(Reply::from_response(response))
}

/// GP-8: the shop's new-member exclusive coupon and/or gift.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/new-member-exclusive", tag = "backoffice",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::NewMemberExclusive), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_new_member_exclusive(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::NewMemberExclusive> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::GetNewMemberExclusiveRequest { shop_id };
    let response = state
        .campaign
        .clone()
        .get_new_member_exclusive(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// GP-8: set the new-member exclusive coupon (a CRM batch) and/or gift (GP-2 rules).
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/new-member-exclusive", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::SetNewMemberExclusive,
    responses((status = 200, body = views::NewMemberExclusive), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn set_new_member_exclusive(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::SetNewMemberExclusive>,
) -> ApiResult<views::NewMemberExclusive> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::SetNewMemberExclusiveRequest {
        request_id: key,
        exclusive: Some(body.into_pb(shop_id)),
    };
    let response = state
        .campaign
        .clone()
        .set_new_member_exclusive(request(&state, actor, message))
        .await
        .map_err(unprefixed("exclusive."))?;
    Ok(Reply::from_response(response))
}

/// OC-7, GP-1..GP-9, PT-3: the shop's claims, optionally of one shopper, one source
/// (campaign, pack or exchange item) or one state.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/claims", tag = "backoffice",
    params(("shop_id" = String, Path), views::ClaimQuery),
    responses((status = 200, body = views::ClaimList), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_claims(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
    ApiQuery(filters): ApiQuery<views::ClaimQuery>,
) -> ApiResult<views::ClaimList> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = filters.into_request(shop_id)?;
    let response = state
        .campaign
        .clone()
        .list_claims(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// One claim of the shop.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/claims/{claim_id}", tag = "backoffice",
    params(("shop_id" = String, Path), ("claim_id" = String, Path)),
    responses((status = 200, body = views::Claim), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_shop_claim(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, claim_id)): Path<(String, String)>,
) -> ApiResult<views::Claim> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::GetClaimRequest { claim_id };
    let response = state
        .campaign
        .clone()
        .get_claim(request(&state, actor, message))
        .await?;
    in_shop(&shop_id, &response.get_ref().shop_id, "claim")?;
    Ok(Reply::from_response(response))
}

// ------------------------------------------------------------------ storefront

/// GP-1, GP-6, GP-9: claim a new-member or member pack; granted whole or not at all. The
/// reply is the claim (`PENDING` until every grant is done; poll `claims/{claim_id}`).
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/gift-packs/{pack_id}/claim", tag = "storefront",
    params(("shop_id" = String, Path), ("pack_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::Claim), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn claim_gift_pack(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((_shop_id, pack_id)): Path<(String, String)>,
) -> ApiResult<views::Claim> {
    // The pack names its shop; campaign-svc claims it for the token's user only.
    let message = pb::ClaimGiftPackRequest {
        request_id: key,
        pack_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .campaign
        .clone()
        .claim_gift_pack(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// GP-8: a new member takes the exclusive coupon or the exclusive gift, once per shop.
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/new-member-exclusive/claim", tag = "storefront",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::ClaimNewMemberExclusive,
    responses((status = 200, body = views::Claim), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn claim_new_member_exclusive(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::ClaimNewMemberExclusive>,
) -> ApiResult<views::Claim> {
    let message = pb::ClaimNewMemberExclusiveRequest {
        request_id: key,
        shop_id,
        user_id: shopper.user_id.clone(),
        choice: pb::ExclusiveChoice::from(body.choice).into(),
    };
    let response = state
        .campaign
        .clone()
        .claim_new_member_exclusive(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// PT-3: spend points on an item of the member's level benefits (`item_id` from
/// `points_for_coupon` or `points_for_goods`); if the grant fails the points come back and
/// the claim is `FAILED` with the reason.
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/points-exchange", tag = "storefront",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::ExchangePoints,
    responses((status = 200, body = views::Claim), (status = 400, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub(crate) async fn exchange_points(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::ExchangePoints>,
) -> ApiResult<views::Claim> {
    let message = pb::ExchangePointsRequest {
        request_id: key,
        shop_id,
        user_id: shopper.user_id.clone(),
        item_id: body.item_id,
    };
    let response = state
        .campaign
        .clone()
        .exchange_points(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// OC-7, GP-9: one of the caller's claims (the reveal once `GRANTED`); another shopper's
/// claim is PERMISSION_DENIED.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/claims/{claim_id}", tag = "storefront",
    params(("shop_id" = String, Path), ("claim_id" = String, Path)),
    responses((status = 200, body = views::Claim), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_my_claim(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path((shop_id, claim_id)): Path<(String, String)>,
) -> ApiResult<views::Claim> {
    let message = pb::GetClaimRequest { claim_id };
    let response = state
        .campaign
        .clone()
        .get_claim(request(&state, &shopper.actor, message))
        .await?;
    if response.get_ref().user_id != shopper.user_id {
        return Err(ApiError::permission_denied(
            "this claim belongs to another shopper".into(),
        ));
    }
    in_shop(&shop_id, &response.get_ref().shop_id, "claim")?;
    Ok(Reply::from_response(response))
}

/// OC-7, GP-1..GP-9, PT-3: the caller's own claims in the shop, newest first, optionally in
/// one state; paged.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/claims", tag = "storefront",
    params(("shop_id" = String, Path), views::MyClaimQuery),
    responses((status = 200, body = views::ClaimList), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn list_my_claims(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
    ApiQuery(filters): ApiQuery<views::MyClaimQuery>,
) -> ApiResult<views::ClaimList> {
    let message = filters.into_request(shop_id, shopper.user_id.clone())?;
    let response = state
        .campaign
        .clone()
        .list_claims(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// GP-4: the caller's entitlements in the shop (gift items to buy for 0.01 yuan).
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/entitlements", tag = "storefront",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::EntitlementList), (status = 400, body = ErrorBody)))]
pub(crate) async fn my_entitlements(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::EntitlementList> {
    let message = pb::ListEntitlementsRequest {
        shop_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .campaign
        .clone()
        .list_entitlements(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

// ------------------------------------------------------------------ internal

/// GP-4: the order system consumes an entitlement with the order that used it (once; a
/// replay with the same key returns the first result).
#[utoipa::path(post, path = "/api/internal/v1/entitlements/{entitlement_id}/consume", tag = "internal",
    params(("entitlement_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::ConsumeEntitlement,
    responses((status = 200, body = views::Entitlement), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn consume_entitlement(
    State(state): State<AppState>,
    ServiceCaller(actor): ServiceCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(entitlement_id): Path<String>,
    ApiJson(body): ApiJson<views::ConsumeEntitlement>,
) -> ApiResult<views::Entitlement> {
    let message = pb::ConsumeEntitlementRequest {
        request_id: key,
        entitlement_id,
        order_id: body.order_id,
    };
    let response = state
        .campaign
        .clone()
        .consume_entitlement(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x1_a_resource_of_another_shop_is_not_found_here() {
        assert!(in_shop("0197AAAA", "0197aaaa", "gift pack").is_ok());
        let error = in_shop("shop-a", "shop-b", "gift pack").err();
        assert_eq!(error.map(|e| e.code), Some(tonic::Code::NotFound));
    }

    #[test]
    fn field_violations_lose_the_resource_prefix() {
        let status = <tonic::Status as tonic_types::StatusExt>::with_error_details(
            tonic::Code::InvalidArgument,
            "bad",
            tonic_types::ErrorDetails::with_bad_request_violation("gift.name", "too long"),
        );
        let error = unprefixed("gift.")(status);
        assert_eq!(error.body.field_violations[0].field, "name");
    }
}
