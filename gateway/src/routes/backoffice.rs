//! `/api/backoffice/v1`: merchants, each on their own shop only.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, patch, post, put};
use memberhub_proto::membership as pb;

use crate::auth::{IdempotencyKey, MerchantCaller};
use crate::body::ApiJson;
use crate::error::ErrorBody;
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

pub fn router() -> Router<AppState> {
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
}

/// MP-1..MP-4: the shop's program.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/program", tag = "backoffice",
    params(("shop_id" = String, Path)),
    responses((status = 200, body = views::Program), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get_program(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Program> {
    let actor = merchant.for_shop(&shop_id)?;
    let response = state
        .membership
        .clone()
        .get_program(request(&state, actor, pb::GetProgramRequest { shop_id }))
        .await?;
    Ok(Reply::from_response(response))
}

/// MP-2: the join policy.
#[utoipa::path(put, path = "/api/backoffice/v1/shops/{shop_id}/program/join-policy", tag = "backoffice",
    params(("shop_id" = String, Path), ("Idempotency-Key" = String, Header)),
    request_body = views::SetJoinPolicy,
    responses((status = 200, body = views::Program), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn set_join_policy(
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
pub async fn update_card_face(
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
pub async fn set_sms_verification(
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
pub async fn activate_sms_service(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(shop_id): Path<String>,
) -> ApiResult<views::Program> {
    let actor = merchant.for_shop(&shop_id)?;
    super::activate_sms_service(&state, actor, key, shop_id).await
}
