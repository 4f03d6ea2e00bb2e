//! `/api/backoffice/v1`: merchants, each on their own shop only (X-1).

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, patch, post, put};
use memberhub_proto::membership as pb;

use crate::auth::{IdempotencyKey, MerchantCaller};
use crate::body::ApiJson;
use crate::error::ErrorBody;
use crate::query::{ApiQuery, path_integer};
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/shops/{shop_id}/program", get(get_program))
        .route("/shops/{shop_id}/program/join-policy", put(set_join_policy))
        .route(
            "/shops/{shop_id}/program/card-face",
            patch(update_card_face),
        )
        .route(
            "/shops/{shop_id}/program/sms-verification",
            put(set_sms_verification),
        )
        .route(
            "/shops/{shop_id}/sms-service/activate",
            post(activate_sms_service),
        )
        .route(
            "/shops/{shop_id}/program/settings",
            patch(update_program_settings),
        )
        .route(
            "/shops/{shop_id}/levels",
            get(get_level_rules).put(update_level_rules),
        )
        .route(
            "/shops/{shop_id}/levels/{level}/benefits",
            put(update_level_benefits),
        )
        .route("/shops/{shop_id}/members", get(list_members))
        .route("/shops/{shop_id}/members/{user_id}", get(get_member))
        .route(
            "/shops/{shop_id}/members/{user_id}/ledger",
            get(member_ledger),
        )
        .route("/shops/{shop_id}/budget", get(list_budget_balances))
        .route("/shops/{shop_id}/budget/recharge", post(recharge_budget))
        .route("/shops/{shop_id}/points/expire", post(expire_points))
}

/// MP-1..MP-4: the shop's program.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/program", tag = "backoffice",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::Program), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_program(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Program> {
    let actor = merchant.for_shop(&shop_id)?;
    super::program(&state, actor, shop_id).await
}

/// MP-2: the join policy.
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/program/join-policy", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::SetJoinPolicy,
    responses((status = 200, body = views::Program), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn set_join_policy(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::SetJoinPolicy>,
) -> ApiResult<views::Program> {
    let actor = merchant.for_shop(&shop_id)?;
    let join_policy = pb::JoinPolicy::from(body.join_policy).into();
    let message = pb::SetJoinPolicyRequest {
        request_id: key,
        shop_id,
        join_policy,
    };
    let response = state
        .membership
        .clone()
        .set_join_policy(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MP-3: the card face; never a level change.
#[utoipa::path(patch, path = "/api/backoffice/v1/shops/{shop_id}/program/card-face", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::UpdateCardFace,
    responses((status = 200, body = views::Program), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn update_card_face(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::UpdateCardFace>,
) -> ApiResult<views::Program> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::UpdateCardFaceRequest {
        request_id: key,
        shop_id,
        card_name: body.card_name,
        logo_url: body.logo_url,
        opening_image_url: body.opening_image_url,
        level_images: body
            .level_images
            .into_iter()
            .map(|i| pb::LevelCardImage {
                level: i.level,
                image_url: i.image_url,
            })
            .collect(),
    };
    let response = state
        .membership
        .clone()
        .update_card_face(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MP-4: SMS verification at card opening (POP shops with the SMS service active only).
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/program/sms-verification", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::SetSmsVerification,
    responses((status = 200, body = views::Program), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn set_sms_verification(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::SetSmsVerification>,
) -> ApiResult<views::Program> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::SetSmsVerificationRequest {
        request_id: key,
        shop_id,
        enabled: body.enabled,
    };
    let response = state
        .membership
        .clone()
        .set_sms_verification(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MP-4: the merchant activates the shop's card-verification SMS service.
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/sms-service/activate", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::Program), (status = 403, body = ErrorBody)))]
pub(crate) async fn activate_sms_service(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Program> {
    let actor = merchant.for_shop(&shop_id)?;
    super::activate_sms_service(&state, actor, key, shop_id).await
}

/// OR-4, PT-5, MP-6: points per yuan, points expiry and the member tab's position; the
/// reply warns about what is still missing (e.g. benefits).
#[utoipa::path(patch, path = "/api/backoffice/v1/shops/{shop_id}/program/settings", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::UpdateProgramSettings,
    responses((status = 200, body = views::ProgramSettingsSaved), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn update_program_settings(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::UpdateProgramSettings>,
) -> ApiResult<views::ProgramSettingsSaved> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = body.into_request(key, shop_id);
    let response = state
        .membership
        .clone()
        .update_program_settings(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// LV-1..LV-6: the level ladder, each level's benefits, and when the next level change is
/// allowed (LV-4).
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/levels", tag = "backoffice",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::LevelRules), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_level_rules(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::LevelRules> {
    let actor = merchant.for_shop(&shop_id)?;
    super::level_rules(&state, actor, shop_id).await
}

/// LV-1..LV-4: replace the whole ladder (one level change; FAILED_PRECONDITION
/// `LEVEL_CHANGE_TOO_SOON` within 30 days of the last); LV-6 warnings in the reply.
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/levels", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::UpdateLevelRules,
    responses((status = 200, body = views::LevelRulesSaved), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn update_level_rules(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::UpdateLevelRules>,
) -> ApiResult<views::LevelRulesSaved> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = body.into_request(key, shop_id);
    let response = state
        .membership
        .clone()
        .update_level_rules(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// LV-6: one level's benefits (never a level change, LV-4); warns when the discount,
/// exclusive access or points multiplier is missing.
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/levels/{level}/benefits", tag = "backoffice",
    params(("shop_id" = String, Path), ("level" = i32, Path, minimum = 1, maximum = 5), ("Idempotency-Key" = String, Header)),
    request_body = views::LevelBenefits,
    responses((status = 200, body = views::LevelRulesSaved), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn update_level_benefits(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, level)): Path<(String, String)>,
    ApiJson(benefits): ApiJson<views::LevelBenefits>,
) -> ApiResult<views::LevelRulesSaved> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::UpdateLevelBenefitsRequest {
        request_id: key,
        shop_id,
        level: path_integer("level", &level)?,
        benefits: Some(benefits.into()),
    };
    let response = state
        .membership
        .clone()
        .update_level_benefits(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// MB-4: the shop's members, filtered and paged, with a total count; each row carries level,
/// spend, order count and points, never a phone.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/members", tag = "backoffice",
    params(("shop_id" = String, Path), views::ListMembersQuery),
    responses((status = 200, body = views::MemberPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn list_members(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
    ApiQuery(filters): ApiQuery<views::ListMembersQuery>,
) -> ApiResult<views::MemberPage> {
    let actor = merchant.for_shop(&shop_id)?;
    super::members(&state, actor, shop_id, filters).await
}

/// MB-1, MB-4: one shopper's membership of the shop (no phone).
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/members/{user_id}", tag = "backoffice",
    params(("shop_id" = String, Path), ("user_id" = String, Path, max_length = 64, pattern = r"^[!-~]+$")),
    responses((status = 200, body = views::Membership), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub(crate) async fn get_member(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, user_id)): Path<(String, String)>,
) -> ApiResult<views::Membership> {
    let actor = merchant.for_shop(&shop_id)?;
    super::member(&state, actor, shop_id, user_id).await
}

/// PT-4: one member's points and asset history in the shop, newest first, optionally for
/// one asset. A user who is not a member of this shop is NOT_FOUND, whatever they are in
/// another shop (X-1).
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/members/{user_id}/ledger", tag = "backoffice",
    params(("shop_id" = String, Path), ("user_id" = String, Path, max_length = 64, pattern = r"^[!-~]+$"), views::LedgerQuery),
    responses((status = 200, body = views::LedgerPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn member_ledger(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, user_id)): Path<(String, String)>,
    ApiQuery(filters): ApiQuery<views::LedgerQuery>,
) -> ApiResult<views::LedgerPage> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = filters.into_request(shop_id, user_id)?;
    super::member_of(&state, actor, &message.shop_id, &message.user_id).await?;
    let response = state
        .membership
        .clone()
        .list_ledger_entries(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// PT-2, PT-4: the shop's budget for beans, red packets and data packs.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/budget", tag = "backoffice",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::BudgetBalances), (status = 403, body = ErrorBody)))]
pub(crate) async fn list_budget_balances(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::BudgetBalances> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::ListBudgetBalancesRequest { shop_id };
    let response = state
        .membership
        .clone()
        .list_budget_balances(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// PT-1, PT-2: recharge the shop's budget so that the asset can be granted.
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/budget/recharge", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::RechargeBudget,
    responses((status = 200, body = views::Transfer), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub(crate) async fn recharge_budget(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
    ApiJson(body): ApiJson<views::RechargeBudget>,
) -> ApiResult<views::Transfer> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = body.into_request(key, shop_id);
    let response = state
        .membership
        .clone()
        .recharge_budget(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// PT-5: expire the shop's points lots that are due now (the service also runs this
/// periodically).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/points/expire", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::PointsExpired), (status = 403, body = ErrorBody)))]
pub(crate) async fn expire_points(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::PointsExpired> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::ExpirePointsRequest {
        request_id: key,
        shop_id,
    };
    let response = state
        .membership
        .clone()
        .expire_points(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
