//! OC-1..OC-10 through campaign-svc's gRPC interface, with membership-svc and coupon-svc
//! running for real over one Postgres.

mod support;

use std::time::Duration;

use memberhub_proto::campaign as pb;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use support::*;

const WAIT: Duration = Duration::from_secs(20);

/// A POP shop under CARD with 10,000 beans, an INTERACTIVE threshold batch of 100 and a
/// live gift of 5 beans + that coupon, quantity 10.
async fn live_gift(s: &mut Suite) -> anyhow::Result<(String, coupon_pb::Batch, pb::OpenCardGift)> {
    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    s.recharge(&shop, Asset::Beans, 10_000).await?;
    let batch = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Threshold,
            CouponChannel::Interactive,
            100,
        )
        .await?;
    let gift = s
        .create_gift(gift(
            &shop,
            vec![
                asset_prize(pb::PrizeType::Beans, 5),
                coupon_prize(pb::PrizeType::ThresholdCoupon, &batch),
            ],
            10,
        ))
        .await?;
    Ok((shop, batch, gift))
}

#[tokio::test]
async fn oc7_card_opened_during_the_campaign_grants_the_whole_pack_once() -> anyhow::Result<()> {
    let mut s = Suite::start().await?;
    let (shop, _batch, gift) = live_gift(&mut s).await?;
    assert_eq!(gift.status(), pb::CampaignStatus::Live);
    assert_eq!(gift.packs_left, 10);

    s.open_card(&shop, "u-1").await?;
    let claims = s
        .wait_for_claims(&shop, &gift.campaign_id, WAIT, |c| {
            c.len() == 1 && c[0].state() == pb::ClaimState::Granted
        })
        .await?;
    let claim = &claims[0];
    assert_eq!(claim.kind(), pb::ClaimKind::OpenCardGift);
    assert_eq!(claim.user_id, "u-1");
    let kinds: Vec<_> = claim.items.iter().map(|i| (i.r#type(), i.amount)).collect();
    assert_eq!(
        kinds,
        vec![
            (pb::PrizeType::Beans, 5),
            (pb::PrizeType::ThresholdCoupon, 1)
        ]
    );
    // Beans landed in the shopper's ledger; the coupon is in their wallet.
    let ledger = s
        .membership
        .list_ledger_entries(req(
            &shopper("u-1"),
            membership_pb::ListLedgerEntriesRequest {
                shop_id: shop.clone(),
                user_id: "u-1".into(),
                asset: Asset::Beans.into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(ledger.entries.iter().map(|e| e.delta).sum::<i64>(), 5);
    let wallet = s
        .coupon
        .list_wallet_coupons(req(
            &shopper("u-1"),
            coupon_pb::ListWalletCouponsRequest {
                user_id: "u-1".into(),
                shop_id: shop.clone(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(wallet.coupons.len(), 1);

    // The storefront shows the claim, no longer the gift.
    let offers = s
        .campaign
        .get_storefront_offers(req(
            &shopper("u-1"),
            pb::GetStorefrontOffersRequest {
                shop_id: shop.clone(),
                user_id: "u-1".into(),
            },
        ))
        .await?
        .into_inner();
    assert!(offers.open_card_gift.is_none());
    assert_eq!(
        offers.open_card_gift_claim.map(|c| c.state()),
        Some(pb::ClaimState::Granted)
    );
    let current = s
        .campaign
        .get_open_card_gift(req(
            &merchant(&shop),
            pb::GetOpenCardGiftRequest {
                campaign_id: gift.campaign_id.clone(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(current.packs_left, 9);
    Ok(())
}
