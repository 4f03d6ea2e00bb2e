//! Demo coupon batches for `memberhub dev`: a live GENERAL batch of the POP shop and a
//! self-operated shop's batch waiting for an operator. Loaded through the public gRPC API
//! with fixed idempotency keys, so running `dev` again changes nothing.

use chrono::{TimeZone, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::as_actor;
use memberhub_proto::common::{CouponChannel, ShopType};
use memberhub_proto::coupon as pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use tonic::transport::Channel;

use crate::demo::Demo;

/// The demo batches, as published.
#[derive(Debug, Clone)]
pub struct DemoBatches {
    /// POP shop, GENERAL, ACTIVE: shoppers can claim it.
    pub general: pb::Batch,
    /// Self-operated shop, PENDING_APPROVAL: an operator approves or rejects it.
    pub pending: pb::Batch,
}

/// A fixed decade-long claim window: the requests stay identical from run to run, so their
/// fixed idempotency keys replay instead of being refused as reused.
fn at(year: i32) -> Option<prost_types::Timestamp> {
    Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0)
        .single()
        .map(to_timestamp)
}

fn spend_100_save_20(shop: &pb::Batch) -> pb::Batch {
    pb::Batch {
        kind: pb::CouponKind::Threshold.into(),
        face_value_fen: 2_000,
        threshold_fen: 10_000,
        channel: CouponChannel::General.into(),
        total_quantity: 1_000,
        per_user_limit: 1,
        per_issue_count: 1,
        claim_start_time: at(2025),
        claim_end_time: at(2035),
        validity: Some(pb::Validity {
            kind: pb::ValidityKind::Relative.into(),
            relative_days: 7,
            ..Default::default()
        }),
        ..shop.clone()
    }
}

async fn publish(
    coupon: &mut CouponServiceClient<Channel>,
    batch: pb::Batch,
    key: &str,
) -> Result<pb::Batch, tonic::Status> {
    let merchant = Actor::Merchant {
        shop_id: batch.shop_id.clone(),
    };
    let created = coupon
        .create_batch(as_actor(
            &merchant,
            pb::CreateBatchRequest {
                request_id: format!("{key}-create"),
                batch: Some(batch),
            },
        ))
        .await?
        .into_inner();
    let submitted = coupon
        .submit_batch(as_actor(
            &merchant,
            pb::SubmitBatchRequest {
                request_id: format!("{key}-submit"),
                batch_id: created.batch_id.clone(),
                shop_id: created.shop_id.clone(),
            },
        ))
        .await?
        .into_inner();
    Ok(submitted)
}

/// Creates (or finds again) the demo batches.
pub async fn load(
    coupon: &mut CouponServiceClient<Channel>,
    demo: &Demo,
) -> Result<DemoBatches, tonic::Status> {
    let pop = pb::Batch {
        shop_id: demo.pop_shop.shop_id.clone(),
        shop_type: ShopType::Pop.into(),
        internal_name: "Demo: new-season tea, spend 100 save 20".into(),
        ..Default::default()
    };
    let general = publish(coupon, spend_100_save_20(&pop), "demo-batch-pop-general-v1").await?;
    let own = pb::Batch {
        shop_id: demo.self_operated_shop.shop_id.clone(),
        shop_type: ShopType::SelfOperated.into(),
        internal_name: "Demo: digital week, spend 100 save 20".into(),
        ..Default::default()
    };
    let pending = publish(
        coupon,
        spend_100_save_20(&own),
        "demo-batch-self-pending-v1",
    )
    .await?;
    Ok(DemoBatches { general, pending })
}

fn status(batch: &pb::Batch) -> &'static str {
    let name = batch.status().as_str_name();
    name.strip_prefix("BATCH_STATUS_").unwrap_or(name)
}

/// The lines `dev` prints about them.
pub fn guide(batches: &DemoBatches, gateway: std::net::SocketAddr) -> String {
    let (g, general, pending) = (gateway, &batches.general, &batches.pending);
    format!(
        r#"
Demo coupon batches
  {general_key}  POP shop, GENERAL, {general_status}: shoppers claim it
  {pending_key}  self-operated shop, {pending_status}: an operator approves it

  curl -s -X POST -H "Authorization: Bearer $SHOPPER_TOKEN" -H 'Idempotency-Key: claim-1' \
       http://{g}/api/storefront/v1/shops/{general_shop}/coupon-batches/{general_id}/claim
  curl -s -H "Authorization: Bearer $SHOPPER_TOKEN" http://{g}/api/storefront/v1/coupons
  curl -s -H "Authorization: Bearer $OPERATOR_TOKEN" 'http://{g}/api/platform/v1/coupon-batches?status=PENDING_APPROVAL'
  curl -s -X POST -H "Authorization: Bearer $OPERATOR_TOKEN" -H 'Idempotency-Key: approve-1' \
       http://{g}/api/platform/v1/coupon-batches/{pending_id}/approve

"#,
        general_key = general.batch_key,
        general_status = status(general),
        pending_key = pending.batch_key,
        pending_status = status(pending),
        general_shop = general.shop_id,
        general_id = general.batch_id,
        pending_id = pending.batch_id,
    )
}
