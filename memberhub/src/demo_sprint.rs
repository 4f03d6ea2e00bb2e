//! Demo member sprint plan for `memberhub dev` (SP-1..SP-8): today's plan, with the POP shop
//! invited and joined with its reward batch, in its registration phase. Loaded through the
//! public gRPC API with keys of the day, so running `dev` again the same day finds the same
//! plan, and a later day makes that day's.

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

/// Creates (or finds again) today's demo plan with the POP shop joined, and waits until its
/// registration phase has begun.
pub async fn load(
    coupon: &mut CouponServiceClient<Channel>,
    campaign: &mut CampaignServiceClient<Channel>,
    demo: &Demo,
) -> Result<pb::SprintPlanShop, tonic::Status> {
    let now = Utc::now();
    let day = now.format("%Y%m%d");
    let shop = demo.pop_shop.shop_id.clone();
    let merchant = Actor::Merchant {
        shop_id: shop.clone(),
    };
    // Registration opens in a few seconds (a plan is created before it starts); the other
    // boundaries are whole hours, as the reward coupons' validity needs.
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
                request_id: format!("demo-sprint-plan-{day}"),
                plan: Some(pb::SprintPlan {
                    name: "双11会员冲刺 (demo)".into(),
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
    campaign
        .invite_sprint_plan_shop(as_actor(
            &Actor::Operator,
            pb::InviteSprintPlanShopRequest {
                request_id: format!("demo-sprint-invite-{day}"),
                plan_id: plan.plan_id.clone(),
                shop_id: shop.clone(),
                thresholds: Some(pb::SprintThresholds::default()),
            },
        ))
        .await?;
    let batch = coupon
        .create_batch(as_actor(
            &merchant,
            coupon_pb::CreateBatchRequest {
                request_id: format!("demo-sprint-batch-{day}"),
                batch: Some(reward_batch(&shop, &plan)),
            },
        ))
        .await?
        .into_inner();
    let batch = coupon
        .submit_batch(as_actor(
            &merchant,
            coupon_pb::SubmitBatchRequest {
                request_id: format!("demo-sprint-batch-submit-{day}"),
                batch_id: batch.batch_id.clone(),
                shop_id: shop.clone(),
            },
        ))
        .await?
        .into_inner();
    let joined = campaign
        .join_sprint_plan(as_actor(
            &merchant,
            pb::JoinSprintPlanRequest {
                request_id: format!("demo-sprint-join-{day}"),
                plan_id: plan.plan_id.clone(),
                shop_id: shop,
                spend_threshold_fen: THRESHOLD_FEN,
                distribution_quantity: plan.required_distribution,
                batch_key: batch.batch_key,
            },
        ))
        .await?
        .into_inner();
    let wait = (registration - Utc::now()).to_std().unwrap_or_default();
    tokio::time::sleep(wait).await;
    Ok(joined)
}

/// The SP-3 reward batch for `plan`: every fixed field as the seed sets it.
fn reward_batch(shop: &str, plan: &pb::SprintPlan) -> coupon_pb::Batch {
    coupon_pb::Batch {
        shop_id: shop.to_string(),
        shop_type: ShopType::Pop.into(),
        internal_name: "Demo: sprint reward, 20 off 200".into(),
        kind: coupon_pb::CouponKind::Threshold.into(),
        face_value_fen: 2_000,
        threshold_fen: THRESHOLD_FEN,
        item_scope: Some(coupon_pb::ItemScope {
            categories: vec!["tea".into()],
            skus: Vec::new(),
        }),
        channel: CouponChannel::SprintPlan.into(),
        total_quantity: plan.required_distribution + 100,
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
