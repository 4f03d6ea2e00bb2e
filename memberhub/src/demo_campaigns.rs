//! Demo open-card gift for `memberhub dev`: the POP shop's budget, an INTERACTIVE batch and
//! a live gift of beans + a cash coupon (OC-1..OC-8). Loaded through the public gRPC API with
//! fixed idempotency keys and fixed times, so running `dev` again changes nothing.

use chrono::{Datelike, TimeZone, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::as_actor;
use memberhub_proto::campaign as pb;
use memberhub_proto::campaign::campaign_service_client::CampaignServiceClient;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership as membership_pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

use crate::demo::Demo;

fn at(year: i32) -> Option<prost_types::Timestamp> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .map(to_timestamp)
}

/// Creates (or finds again) the POP shop's open-card gift.
pub async fn load(
    membership: &mut MembershipServiceClient<Channel>,
    coupon: &mut CouponServiceClient<Channel>,
    campaign: &mut CampaignServiceClient<Channel>,
    demo: &Demo,
) -> Result<pb::OpenCardGift, tonic::Status> {
    let shop = demo.pop_shop.shop_id.clone();
    let merchant = Actor::Merchant {
        shop_id: shop.clone(),
    };
    membership
        .recharge_budget(as_actor(
            &merchant,
            membership_pb::RechargeBudgetRequest {
                request_id: "demo-pop-beans-v1".into(),
                shop_id: shop.clone(),
                asset: Asset::Beans.into(),
                amount: 100_000,
            },
        ))
        .await?;
    let spec = coupon_pb::Batch {
        shop_id: shop.clone(),
        shop_type: ShopType::Pop.into(),
        internal_name: "Demo: open-card gift, 5 yuan off".into(),
        kind: coupon_pb::CouponKind::Cash.into(),
        face_value_fen: 500,
        channel: CouponChannel::Interactive.into(),
        total_quantity: 10_000,
        per_user_limit: 1,
        per_issue_count: 1,
        claim_start_time: at(2025),
        claim_end_time: at(2035),
        validity: Some(coupon_pb::Validity {
            kind: coupon_pb::ValidityKind::Relative.into(),
            relative_days: 30,
            ..Default::default()
        }),
        ..Default::default()
    };
    let batch = coupon
        .create_batch(as_actor(
            &merchant,
            coupon_pb::CreateBatchRequest {
                request_id: "demo-batch-pop-interactive-v1-create".into(),
                batch: Some(spec),
            },
        ))
        .await?
        .into_inner();
    let batch = coupon
        .submit_batch(as_actor(
            &merchant,
            coupon_pb::SubmitBatchRequest {
                request_id: "demo-batch-pop-interactive-v1-submit".into(),
                batch_id: batch.batch_id.clone(),
                shop_id: shop.clone(),
            },
        ))
        .await?
        .into_inner();
    // A campaign lasts at most 366 days: the demo gift runs for this calendar year, and a
    // `memberhub dev` in a later year creates that year's gift (its own idempotency key).
    let year = Utc::now().year();
    let gift = pb::OpenCardGift {
        shop_id: shop.clone(),
        name: "开卡有礼".into(),
        start_time: at(year),
        end_time: at(year + 1),
        prizes: vec![
            pb::Prize {
                r#type: pb::PrizeType::Beans.into(),
                amount: 10,
                batch_key: String::new(),
            },
            pb::Prize {
                r#type: pb::PrizeType::CashCoupon.into(),
                amount: 0,
                batch_key: batch.batch_key.clone(),
            },
        ],
        gift_quantity: 5_000,
        ..Default::default()
    };
    let created = campaign
        .create_open_card_gift(as_actor(
            &merchant,
            pb::CreateOpenCardGiftRequest {
                request_id: format!("demo-open-card-gift-{year}"),
                gift: Some(gift),
            },
        ))
        .await;
    match created {
        Ok(gift) => Ok(gift.into_inner()),
        // OC-3: a database from an earlier `memberhub dev` already has a live demo gift
        // whose window overlaps this one: show that one.
        Err(status) if status.code() == tonic::Code::FailedPrecondition => {
            let live = campaign
                .list_open_card_gifts(as_actor(
                    &merchant,
                    pb::ListOpenCardGiftsRequest {
                        shop_id: shop.clone(),
                        ..Default::default()
                    },
                ))
                .await?
                .into_inner()
                .gifts
                .into_iter()
                .find(|g| g.status == pb::CampaignStatus::Live as i32);
            live.ok_or(status)
        }
        Err(status) => Err(status),
    }
}
