//! Member sprint plan routes (campaign-svc, SP-1..SP-8): operators create plans, invite
//! shops and read each shop's figures on the platform surface; merchants read their shop's
//! invitations, make a reward batch from a plan, join and withdraw before registration and
//! read their figures on the back-office surface; shoppers register and follow their sprint
//! on the storefront.

use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{get, post};
use memberhub_proto::campaign as pb;

use crate::auth::{IdempotencyKey, MerchantCaller, OperatorCaller, ShopperCaller};
use crate::body::ApiJson;
use crate::error::ErrorBody;
use crate::query::{self, ApiQuery, FieldCheck};
use crate::state::AppState;
use crate::upstream::{ApiResult, Reply, request};
use crate::views;

const PLATFORM: &str = "/api/platform/v1/sprint-plans";
const BACKOFFICE: &str = "/api/backoffice/v1/shops/{shop_id}/sprint-plans";
const STOREFRONT: &str = "/api/storefront/v1/shops/{shop_id}/sprint-plans";

/// Every sprint plan route, with full paths.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(PLATFORM, get(list_plans).post(create_plan))
        .route(&format!("{PLATFORM}/{{plan_id}}"), get(get_plan))
        .route(
            &format!("{PLATFORM}/{{plan_id}}/shops"),
            get(list_plan_shops).post(invite_shop),
        )
        .route(BACKOFFICE, get(my_invitations))
        .route(&format!("{BACKOFFICE}/{{plan_id}}"), get(my_invitation))
        .route(&format!("{BACKOFFICE}/{{plan_id}}/join"), post(join))
        .route(
            &format!("{BACKOFFICE}/{{plan_id}}/reward-batch"),
            post(create_reward_batch),
        )
        .route(
            &format!("{BACKOFFICE}/{{plan_id}}/withdraw"),
            post(withdraw),
        )
        .route(
            &format!("{BACKOFFICE}/{{plan_id}}/statistics"),
            get(my_statistics),
        )
        .route(
            &format!("{PLATFORM}/{{plan_id}}/shops/{{shop_id}}/statistics"),
            get(shop_statistics),
        )
        .route(
            &format!("{STOREFRONT}/{{plan_id}}/registration"),
            get(my_registration).post(register),
        )
}

/// SP-1: create a plan with four contiguous phases.
#[utoipa::path(post, path = "/api/platform/v1/sprint-plans", tag = "platform",
    params(("Idempotency-Key" = String, Header, description = "X-2 idempotency key")),
    request_body = views::CreateSprintPlan,
    responses((status = 200, body = views::SprintPlan), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn create_plan(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    ApiJson(body): ApiJson<views::CreateSprintPlan>,
) -> ApiResult<views::SprintPlan> {
    let message = pb::CreateSprintPlanRequest {
        request_id: key,
        plan: Some(body.into()),
    };
    let response = state
        .campaign
        .clone()
        .create_sprint_plan(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-1: plans, newest first, optionally only those in one phase now.
#[utoipa::path(get, path = "/api/platform/v1/sprint-plans", tag = "platform",
    params(views::SprintPlanQuery),
    responses((status = 200, body = views::SprintPlanPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn list_plans(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    ApiQuery(q): ApiQuery<views::SprintPlanQuery>,
) -> ApiResult<views::SprintPlanPage> {
    let mut check = FieldCheck::default();
    let page_size = check.take(query::integer("page_size", q.page_size.as_deref()));
    let page_size = check.finish(page_size)?;
    let message = pb::ListSprintPlansRequest {
        page_size: page_size.unwrap_or_default(),
        page_token: q.page_token.unwrap_or_default(),
        phase: q
            .phase
            .map(pb::SprintPhase::from)
            .unwrap_or_default()
            .into(),
    };
    let response = state
        .campaign
        .clone()
        .list_sprint_plans(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-1: a plan.
#[utoipa::path(get, path = "/api/platform/v1/sprint-plans/{plan_id}", tag = "platform",
    params(("plan_id" = String, Path, format = Uuid)),
    responses((status = 200, body = views::SprintPlan), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn get_plan(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path(plan_id): Path<String>,
) -> ApiResult<views::SprintPlan> {
    let message = pb::GetSprintPlanRequest { plan_id };
    let response = state
        .campaign
        .clone()
        .get_sprint_plan(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-2: invite a shop with its thresholds, before registration starts.
#[utoipa::path(post, path = "/api/platform/v1/sprint-plans/{plan_id}/shops", tag = "platform",
    params(("plan_id" = String, Path, format = Uuid), ("Idempotency-Key" = String, Header)),
    request_body = views::InviteSprintPlanShop,
    responses((status = 200, body = views::SprintPlanShop), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn invite_shop(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path(plan_id): Path<String>,
    ApiJson(body): ApiJson<views::InviteSprintPlanShop>,
) -> ApiResult<views::SprintPlanShop> {
    let message = pb::InviteSprintPlanShopRequest {
        request_id: key,
        plan_id,
        shop_id: body.shop_id,
        thresholds: Some(pb::SprintThresholds {
            min_member_count: body.thresholds.min_member_count,
            min_sales_fen: body.thresholds.min_sales_fen,
        }),
    };
    let response = state
        .campaign
        .clone()
        .invite_sprint_plan_shop(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-2: the shops invited to a plan and where each stands.
#[utoipa::path(get, path = "/api/platform/v1/sprint-plans/{plan_id}/shops", tag = "platform",
    params(("plan_id" = String, Path, format = Uuid), views::PageQuery),
    responses((status = 200, body = views::SprintPlanShopPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn list_plan_shops(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path(plan_id): Path<String>,
    ApiQuery(page): ApiQuery<views::PageQuery>,
) -> ApiResult<views::SprintPlanShopPage> {
    let (page_size, page_token) = page.parse()?;
    let message = pb::ListSprintPlanShopsRequest {
        plan_id,
        shop_id: String::new(),
        page_size,
        page_token,
    };
    let response = state
        .campaign
        .clone()
        .list_sprint_plan_shops(request(&state, &actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-2: the plans the shop is invited to, with their thresholds.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/sprint-plans", tag = "backoffice",
    params(("shop_id" = String, Path), views::PageQuery),
    responses((status = 200, body = views::SprintPlanShopPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn my_invitations(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path(shop_id): Path<String>,
    ApiQuery(page): ApiQuery<views::PageQuery>,
) -> ApiResult<views::SprintPlanShopPage> {
    let actor = merchant.for_shop(&shop_id)?;
    let (page_size, page_token) = page.parse()?;
    let message = pb::ListSprintPlanShopsRequest {
        plan_id: String::new(),
        shop_id,
        page_size,
        page_token,
    };
    let response = state
        .campaign
        .clone()
        .list_sprint_plan_shops(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-2: the shop's invitation to one plan: the plan's phases and terms and the shop's
/// thresholds, readable before registration opens.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/sprint-plans/{plan_id}", tag = "backoffice",
    params(("shop_id" = String, Path), ("plan_id" = String, Path, format = Uuid)),
    responses((status = 200, body = views::SprintPlanShop), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn my_invitation(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, plan_id)): Path<(String, String)>,
) -> ApiResult<views::SprintPlanShop> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::GetSprintPlanShopRequest { plan_id, shop_id };
    let response = state
        .campaign
        .clone()
        .get_sprint_plan_shop(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-3: create the shop's reward batch from the plan, with the fields the seed fixes
/// filled in (claim window = award phase, whole-hour validity = redemption phase, 2 per
/// issue, not giftable, unlimited per user, SPRINT_PLAN, every region). It then goes through
/// the usual submission (and operator approval for self-operated shops) before joining.
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/sprint-plans/{plan_id}/reward-batch", tag = "backoffice",
    params(("shop_id" = String, Path), ("plan_id" = String, Path, format = Uuid), ("Idempotency-Key" = String, Header)),
    request_body = views::CreateRewardBatch,
    responses((status = 200, body = crate::coupon_views::CouponBatch), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn create_reward_batch(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, plan_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<views::CreateRewardBatch>,
) -> ApiResult<crate::coupon_views::CouponBatch> {
    let actor = merchant.for_shop(&shop_id)?;
    let invitation = pb::GetSprintPlanShopRequest {
        plan_id,
        shop_id: shop_id.clone(),
    };
    let invitation = state
        .campaign
        .clone()
        .get_sprint_plan_shop(request(&state, actor, invitation))
        .await?
        .into_inner();
    let plan = invitation.plan.unwrap_or_default();
    super::coupons::create_in_shop(&state, actor, key, shop_id, |id, shop_type| {
        body.into_batch(id, shop_type, &plan)
    })
    .await
}

/// SP-3: join with the sprint threshold, D and an approved reward batch; each broken rule
/// of the batch is a 400 naming `batch.<field>`, an unmet threshold FAILED_PRECONDITION
/// `SPRINT_THRESHOLD_NOT_MET` naming it.
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/sprint-plans/{plan_id}/join", tag = "backoffice",
    params(("shop_id" = String, Path), ("plan_id" = String, Path, format = Uuid), ("Idempotency-Key" = String, Header)),
    request_body = views::JoinSprintPlan,
    responses((status = 200, body = views::SprintPlanShop), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn join(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, plan_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<views::JoinSprintPlan>,
) -> ApiResult<views::SprintPlanShop> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::JoinSprintPlanRequest {
        request_id: key,
        plan_id,
        shop_id,
        spend_threshold_fen: body.spend_threshold_fen,
        distribution_quantity: body.distribution_quantity,
        batch_key: body.batch_key,
    };
    let response = state
        .campaign
        .clone()
        .join_sprint_plan(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-7: leave the plan; only before registration starts (FAILED_PRECONDITION
/// `SPRINT_PLAN_PHASE` naming the phase afterwards).
#[utoipa::path(post, path = "/api/backoffice/v1/shops/{shop_id}/sprint-plans/{plan_id}/withdraw", tag = "backoffice",
    params(("shop_id" = String, Path), ("plan_id" = String, Path, format = Uuid), ("Idempotency-Key" = String, Header)),
    responses((status = 200, body = views::SprintPlanShop), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn withdraw(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, plan_id)): Path<(String, String)>,
) -> ApiResult<views::SprintPlanShop> {
    let actor = merchant.for_shop(&shop_id)?;
    let message = pb::WithdrawSprintPlanShopRequest {
        request_id: key,
        plan_id,
        shop_id,
    };
    let response = state
        .campaign
        .clone()
        .withdraw_sprint_plan_shop(request(&state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-8: the shop's figures in the plan: registered, qualified, awarded, not awarded, used.
#[utoipa::path(get, path = "/api/backoffice/v1/shops/{shop_id}/sprint-plans/{plan_id}/statistics", tag = "backoffice",
    params(("shop_id" = String, Path), ("plan_id" = String, Path, format = Uuid)),
    responses((status = 200, body = views::SprintPlanShopStatistics), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn my_statistics(
    State(state): State<AppState>,
    merchant: MerchantCaller,
    Path((shop_id, plan_id)): Path<(String, String)>,
) -> ApiResult<views::SprintPlanShopStatistics> {
    let actor = merchant.for_shop(&shop_id)?;
    statistics(&state, actor, plan_id, shop_id).await
}

/// SP-8: any participating shop's figures in the plan.
#[utoipa::path(get, path = "/api/platform/v1/sprint-plans/{plan_id}/shops/{shop_id}/statistics", tag = "platform",
    params(("plan_id" = String, Path, format = Uuid), ("shop_id" = String, Path)),
    responses((status = 200, body = views::SprintPlanShopStatistics), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn shop_statistics(
    State(state): State<AppState>,
    OperatorCaller(actor): OperatorCaller,
    Path((plan_id, shop_id)): Path<(String, String)>,
) -> ApiResult<views::SprintPlanShopStatistics> {
    statistics(&state, &actor, plan_id, shop_id).await
}

async fn statistics(
    state: &AppState,
    actor: &memberhub_kit::actor::Actor,
    plan_id: String,
    shop_id: String,
) -> ApiResult<views::SprintPlanShopStatistics> {
    let message = pb::GetSprintPlanShopStatisticsRequest { plan_id, shop_id };
    let response = state
        .campaign
        .clone()
        .get_sprint_plan_shop_statistics(request(state, actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-4: register with a participating shop during the registration phase. A non-member
/// opens the shop's card as part of it where the join policy allows (else 409
/// `NOT_A_MEMBER`); registering again answers the first registration.
#[utoipa::path(post, path = "/api/storefront/v1/shops/{shop_id}/sprint-plans/{plan_id}/registration", tag = "storefront",
    params(("shop_id" = String, Path), ("plan_id" = String, Path, format = Uuid), ("Idempotency-Key" = String, Header)),
    request_body = views::RegisterSprintPlan,
    responses((status = 200, body = views::SprintRegistration), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    IdempotencyKey(key): IdempotencyKey,
    Path((shop_id, plan_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<views::RegisterSprintPlan>,
) -> ApiResult<views::SprintRegistration> {
    let message = pb::RegisterSprintPlanRequest {
        request_id: key,
        plan_id,
        shop_id,
        user_id: shopper.user_id.clone(),
        card: (!body.phone.is_empty()).then_some(pb::SprintCard {
            phone: body.phone,
            sms_code: body.sms_code,
        }),
    };
    let response = state
        .campaign
        .clone()
        .register_sprint_plan(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}

/// SP-5, SP-6: the shopper's sprint: phase, spend against the threshold, and the award.
#[utoipa::path(get, path = "/api/storefront/v1/shops/{shop_id}/sprint-plans/{plan_id}/registration", tag = "storefront",
    params(("shop_id" = String, Path), ("plan_id" = String, Path, format = Uuid)),
    responses((status = 200, body = views::SprintRegistration), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 503, body = ErrorBody)))]
pub(crate) async fn my_registration(
    State(state): State<AppState>,
    shopper: ShopperCaller,
    Path((shop_id, plan_id)): Path<(String, String)>,
) -> ApiResult<views::SprintRegistration> {
    let message = pb::GetSprintRegistrationRequest {
        plan_id,
        shop_id,
        user_id: shopper.user_id.clone(),
    };
    let response = state
        .campaign
        .clone()
        .get_sprint_registration(request(&state, &shopper.actor, message))
        .await?;
    Ok(Reply::from_response(response))
}
