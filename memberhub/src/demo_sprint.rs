//! Demo member sprint plan for `memberhub dev` (SP-1..SP-8): a plan in its registration
//! phase (a day long) with the POP shop invited and joined with its reward batch. Loaded
//! through the public gRPC API; running `dev` again finds the plan while it is still in
//! registration and makes a new one afterwards.

use chrono::{DateTime, DurationRound, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::as_actor;
use memberhub_proto::campaign as pb;
use memberhub_proto::campaign::campaign_service_client::CampaignServiceClient;
use memberhub_proto::common::{CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use tonic::transport::Channel;

use crate::demo::{self, Demo};

/// The sprint threshold of the demo shop: 200 yuan.
const THRESHOLD_FEN: i64 = 20_000;

/// The demo plan's name, by which a later `dev` finds it again.
const NAME: &str = "双11会员冲刺 (demo)";

/// Finds the demo plan in its registration phase with the POP shop joined, or creates one
/// (registration opening in a few seconds) and waits until its registration has begun.
pub async fn load(
    coupon: &mut CouponServiceClient<Channel>,
    campaign: &mut CampaignServiceClient<Channel>,
    demo: &Demo,
) -> Result<pb::SprintPlanShop, tonic::Status> {
    let shop = demo.pop_shop.shop_id.clone();
    if let Some(found) = running(campaign, &shop).await? {
        return Ok(found);
    }
    let now = Utc::now();
    // A plan is created before its registration starts; the other boundaries are whole
    // hours, as the reward coupons' validity needs.
    let hour = now
        .duration_trunc(chrono::Duration::hours(1))
        .unwrap_or(now)
        + chrono::Duration::hours(1);
    let at = |days: i64| Some(to_timestamp(hour + chrono::Duration::days(days)));
    let registration = now + chrono::Duration::seconds(3);
    let plan = campaign
        .create_sprint_plan(as_actor(
            &Actor::Operator,
            pb::CreateSprintPlanRequest {
                request_id: format!("demo-sprint-plan-{}", now.timestamp()),
                plan: Some(pb::SprintPlan {
                    name: NAME.into(),
                    registration_start_time: Some(to_timestamp(registration)),
                    sprint_start_time: at(1),
                    award_start_time: at(2),
                    redemption_start_time: at(3),
                    redemption_end_time: at(10),
                    min_face_value_fen: 2_000,
                    max_fold_percent: 90,
                    ..Default::default()
                }),
            },
        ))
        .await?
        .into_inner();
    let joined = join(
        coupon,
        campaign,
        (&shop, &plan),
        &format!("demo-sprint-{}", plan.plan_id),
        (THRESHOLD_FEN, plan.required_distribution),
    )
    .await?;
    let wait = (registration - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    Ok(joined)
}

/// The demo plan an earlier `dev` made, if it is still in its registration phase.
async fn running(
    campaign: &mut CampaignServiceClient<Channel>,
    shop: &str,
) -> Result<Option<pb::SprintPlanShop>, tonic::Status> {
    let plans = campaign
        .list_sprint_plans(as_actor(
            &Actor::Operator,
            pb::ListSprintPlansRequest {
                phase: pb::SprintPhase::Registration.into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner()
        .plans;
    let Some(plan) = plans.into_iter().find(|p| p.name == NAME) else {
        return Ok(None);
    };
    let found = campaign
        .get_sprint_plan_shop(as_actor(
            &Actor::Operator,
            pb::GetSprintPlanShopRequest {
                plan_id: plan.plan_id,
                shop_id: shop.to_string(),
            },
        ))
        .await?
        .into_inner();
    Ok((found.state() == pb::SprintShopState::Joined).then_some(found))
}

/// SP-2, SP-3: invites `shop` to `plan` (no thresholds), creates and submits its reward
/// batch (a POP shop's is approved at once) and joins with (sprint threshold, D). `keys`
/// prefixes the idempotency keys. Also used by `memberhub loadgen award`.
pub async fn join(
    coupon: &mut CouponServiceClient<Channel>,
    campaign: &mut CampaignServiceClient<Channel>,
    (shop, plan): (&str, &pb::SprintPlan),
    keys: &str,
    (threshold_fen, distribution): (i64, i64),
) -> Result<pb::SprintPlanShop, tonic::Status> {
    let merchant = Actor::Merchant {
        shop_id: shop.to_string(),
    };
    campaign
        .invite_sprint_plan_shop(as_actor(
            &Actor::Operator,
            pb::InviteSprintPlanShopRequest {
                request_id: format!("{keys}-invite"),
                plan_id: plan.plan_id.clone(),
                shop_id: shop.to_string(),
                thresholds: Some(pb::SprintThresholds::default()),
            },
        ))
        .await?;
    let batch = coupon
        .create_batch(as_actor(
            &merchant,
            coupon_pb::CreateBatchRequest {
                request_id: format!("{keys}-batch"),
                batch: Some(reward_batch(shop, plan, threshold_fen, distribution + 1)),
            },
        ))
        .await?
        .into_inner();
    let batch = coupon
        .submit_batch(as_actor(
            &merchant,
            coupon_pb::SubmitBatchRequest {
                request_id: format!("{keys}-batch-submit"),
                batch_id: batch.batch_id.clone(),
                shop_id: shop.to_string(),
            },
        ))
        .await?
        .into_inner();
    Ok(campaign
        .join_sprint_plan(as_actor(
            &merchant,
            pb::JoinSprintPlanRequest {
                request_id: format!("{keys}-join"),
                plan_id: plan.plan_id.clone(),
                shop_id: shop.to_string(),
                spend_threshold_fen: threshold_fen,
                distribution_quantity: distribution,
                batch_key: batch.batch_key,
            },
        ))
        .await?
        .into_inner())
}

/// The SP-3 reward batch for `plan` of `quantity` units: every fixed field as the seed sets
/// it, 20 yuan off at the sprint threshold.
fn reward_batch(
    shop: &str,
    plan: &pb::SprintPlan,
    threshold_fen: i64,
    quantity: i64,
) -> coupon_pb::Batch {
    coupon_pb::Batch {
        shop_id: shop.to_string(),
        shop_type: ShopType::Pop.into(),
        internal_name: "sprint reward, 20 yuan off".into(),
        kind: coupon_pb::CouponKind::Threshold.into(),
        face_value_fen: 2_000,
        threshold_fen,
        item_scope: Some(coupon_pb::ItemScope {
            categories: vec!["tea".into()],
            skus: Vec::new(),
        }),
        channel: CouponChannel::SprintPlan.into(),
        total_quantity: quantity,
        per_user_limit: 0,
        per_issue_count: 2,
        giftable: false,
        claim_start_time: plan.award_start_time,
        claim_end_time: plan.redemption_start_time,
        validity: Some(coupon_pb::Validity {
            kind: coupon_pb::ValidityKind::Absolute.into(),
            start_time: plan.redemption_start_time,
            end_time: plan.redemption_end_time,
            whole_hours: true,
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The lines `dev` prints to walk the demo plan.
pub fn guide(joined: &pb::SprintPlanShop, gateway: std::net::SocketAddr) -> String {
    let plan = joined.plan.clone().unwrap_or_default();
    let time = |t: Option<prost_types::Timestamp>| {
        t.and_then(|t| DateTime::<Utc>::from_timestamp(t.seconds, 0))
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    };
    format!(
        r#"
Demo member sprint plan (SP): {name}, the POP shop joined (spend 200 yuan, D = {d}); registration until {sprint}
  The demo shopper registers (a non-member opens the card: request the SMS code first, it is printed below):
  curl -s -X POST -H "Authorization: Bearer $SHOPPER_TOKEN" -H 'Idempotency-Key: sms-1' -H 'Content-Type: application/json' \
       -d '{{"phone":"13800138000"}}' http://{g}/api/storefront/v1/shops/{shop}/card/sms-code
  curl -s -X POST -H "Authorization: Bearer $SHOPPER_TOKEN" -H 'Idempotency-Key: sprint-1' -H 'Content-Type: application/json' \
       -d '{{"phone":"13800138000","sms_code":"<code>"}}' http://{g}/api/storefront/v1/shops/{shop}/sprint-plans/{plan_id}/registration
  curl -s -H "Authorization: Bearer $SHOPPER_TOKEN" http://{g}/api/storefront/v1/shops/{shop}/sprint-plans/{plan_id}/registration   # spend vs threshold, award
  curl -s -H "Authorization: Bearer $MERCHANT_TOKEN" http://{g}/api/backoffice/v1/shops/{shop}/sprint-plans/{plan_id}/statistics   # SP-8
  curl -s -H "Authorization: Bearer $OPERATOR_TOKEN" http://{g}/api/platform/v1/sprint-plans/{plan_id}/shops
  The sprint starts {sprint}; receipt-confirmed orders then count (the order system's
  /api/internal/v1/order-events); the award runs by itself at {award} (demo shopper: {shopper}).

"#,
        name = plan.name,
        d = joined.distribution_quantity,
        sprint = time(plan.sprint_start_time),
        award = time(plan.award_start_time),
        g = gateway,
        shop = joined.shop_id,
        plan_id = joined.plan_id,
        shopper = demo::DEMO_SHOPPER,
    )
}
