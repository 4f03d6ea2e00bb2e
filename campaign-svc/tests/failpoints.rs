//! The failpoint matrix: for every kind of step a claim runs (beans, red packet,
//! data, points, coupon, gift item, the PT-3 refund), campaign-svc stops before the call,
//! after the call and before the claim records it, or after the claim's final record; it
//! is then killed (as a crash would) and started again. Each claim must end whole and
//! exactly once, counted in the owning services' tables.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use campaign_svc::config::{FaultPoint, Faults, StepKind};
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use support::*;
use tokio::sync::mpsc;

/// A hook that stops the first run that reaches `point`, and says so on the channel.
fn stop_at(point: FaultPoint) -> (Faults, mpsc::UnboundedReceiver<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let fired = AtomicBool::new(false);
    let hook = move |reached: FaultPoint| {
        if reached == point && !fired.swap(true, Ordering::SeqCst) {
            let _ = tx.send(());
            true
        } else {
            false
        }
    };
    (Faults(Some(Arc::new(hook))), rx)
}

/// Waits until the run stopped at its fault, kills campaign-svc, starts it again without
/// the fault, and lets the killed runner's lease run out so the reconciler takes over.
async fn crash_and_restart(
    s: &mut Suite,
    mut stopped: mpsc::UnboundedReceiver<()>,
) -> anyhow::Result<()> {
    tokio::time::timeout(Duration::from_secs(20), stopped.recv())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the fault hook went away"))?;
    s.kill_campaign();
    s.start_campaign(fast_saga()).await?;
    s.clock.advance(chrono::Duration::seconds(5));
    Ok(())
}

fn points_for(kind: StepKind) -> [FaultPoint; 3] {
    [
        FaultPoint::BeforeCall(kind),
        FaultPoint::AfterCall(kind),
        FaultPoint::AfterRecord,
    ]
}

async fn count(s: &Suite, sql: &'static str, user: &str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql)
        .bind(user)
        .fetch_one(&s.pool)
        .await?)
}

/// Transfers of `asset` to the shopper, and their total.
async fn received(s: &Suite, user: &str, asset: &str) -> anyhow::Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT count(*), coalesce(sum(amount), 0)::bigint FROM membership.transfers
         WHERE to_kind = 'MEMBER' AND to_owner = $1 AND asset = $2",
    )
    .bind(user)
    .bind(asset)
    .fetch_one(&s.pool)
    .await?)
}

/// OC-7: an open-card gift whose claim is stopped at `point`, killed and resumed, is granted
/// whole and once: one transfer per asset prize, one coupon per coupon prize.
async fn open_card_gift_survives(
    point: FaultPoint,
    prizes: &[pb::PrizeType],
) -> anyhow::Result<()> {
    let mut s = Suite::start().await?;
    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    for asset in [Asset::Beans, Asset::RedPacket, Asset::DataPack] {
        s.recharge(&shop, asset, 1_000).await?;
    }
    let batch = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Threshold,
            CouponChannel::Interactive,
            100,
        )
        .await?;
    let gift_prizes: Vec<pb::Prize> = prizes
        .iter()
        .map(|t| match t {
            pb::PrizeType::ThresholdCoupon => coupon_prize(*t, &batch),
            _ => asset_prize(*t, 5),
        })
        .collect();
    let (faults, stopped) = stop_at(point);
    s.start_campaign_with(fast_saga(), faults).await?;
    let gift = s.create_gift(gift(&shop, gift_prizes, 10)).await?;
    s.open_card(&shop, "u1").await?;
    crash_and_restart(&mut s, stopped).await?;
    let claims = s
        .wait_for_claims(&shop, &gift.campaign_id, Duration::from_secs(20), |c| {
            c.len() == 1 && c[0].state() == pb::ClaimState::Granted
        })
        .await
        .map_err(|e| anyhow::anyhow!("{point:?}: {e}"))?;
    assert_eq!(claims[0].items.len(), prizes.len(), "{point:?}: whole");
    for t in prizes {
        match t {
            pb::PrizeType::ThresholdCoupon => assert_eq!(
                count(
                    &s,
                    "SELECT count(*) FROM coupon.coupons WHERE user_id = $1",
                    "u1"
                )
                .await?,
                1,
                "{point:?}: one coupon"
            ),
            pb::PrizeType::Beans => {
                assert_eq!(received(&s, "u1", "BEANS").await?, (1, 5), "{point:?}");
            }
            pb::PrizeType::RedPacket => {
                assert_eq!(received(&s, "u1", "RED_PACKET").await?, (1, 5), "{point:?}");
            }
            pb::PrizeType::DataPack => {
                assert_eq!(received(&s, "u1", "DATA_PACK").await?, (1, 5), "{point:?}");
            }
            pb::PrizeType::Points => {
                assert_eq!(received(&s, "u1", "POINTS").await?, (1, 5), "{point:?}");
            }
            other => anyhow::bail!("no case for {other:?}"),
        }
    }
    Ok(())
}

const BEANS_COUPON_POINTS: [pb::PrizeType; 3] = [
    pb::PrizeType::Beans,
    pb::PrizeType::ThresholdCoupon,
    pb::PrizeType::Points,
];
const RED_PACKET_DATA_POINTS: [pb::PrizeType; 3] = [
    pb::PrizeType::RedPacket,
    pb::PrizeType::DataPack,
    pb::PrizeType::Points,
];

#[tokio::test]
async fn oc7_a_crash_at_the_beans_step_grants_the_pack_once() -> TestResult {
    for point in points_for(StepKind::Beans) {
        open_card_gift_survives(point, &BEANS_COUPON_POINTS).await?;
    }
    Ok(())
}

#[tokio::test]
async fn oc7_a_crash_at_the_coupon_step_grants_the_pack_once() -> TestResult {
    for point in &points_for(StepKind::Coupon)[..2] {
        open_card_gift_survives(*point, &BEANS_COUPON_POINTS).await?;
    }
    Ok(())
}

#[tokio::test]
async fn oc7_a_crash_at_the_points_step_grants_the_pack_once() -> TestResult {
    for point in &points_for(StepKind::Points)[..2] {
        open_card_gift_survives(*point, &BEANS_COUPON_POINTS).await?;
    }
    Ok(())
}

#[tokio::test]
async fn oc7_a_crash_at_the_red_packet_or_data_step_grants_the_pack_once() -> TestResult {
    for kind in [StepKind::RedPacket, StepKind::DataPack] {
        for point in &points_for(kind)[..2] {
            open_card_gift_survives(*point, &RED_PACKET_DATA_POINTS).await?;
        }
    }
    Ok(())
}

/// GP-4/GP-9: a pack with a gift item, claimed by the shopper (the claim runs inline in the
/// RPC, which the crash cuts off): one coupon and one entitlement.
#[tokio::test]
async fn gp9_a_crash_at_the_gift_item_step_grants_the_pack_once() -> TestResult {
    for point in points_for(StepKind::GiftItem) {
        let mut s = Suite::start().await?;
        let shop = s
            .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, true)
            .await?;
        let batch = s
            .batch(
                &shop,
                coupon_pb::CouponKind::Threshold,
                CouponChannel::Crm,
                100,
            )
            .await?;
        s.campaign
            .upsert_gift_item(req(
                &merchant(&shop),
                pb::UpsertGiftItemRequest {
                    request_id: rid("item"),
                    item: Some(pb::GiftItemRecord {
                        shop_id: shop.clone(),
                        sku: "gift-1".into(),
                        title: "tea sample".into(),
                        gift_category: true,
                        stock: 10,
                    }),
                },
            ))
            .await?;
        let (faults, stopped) = stop_at(point);
        s.start_campaign_with(fast_saga(), faults).await?;
        let pack = s
            .campaign
            .create_gift_pack(req(
                &merchant(&shop),
                pb::CreateGiftPackRequest {
                    request_id: rid("pack"),
                    pack: Some(pb::GiftPack {
                        shop_id: shop.clone(),
                        kind: pb::GiftPackKind::NewMember.into(),
                        name: "新人礼包".into(),
                        start_time: ts(t0() - chrono::Duration::hours(1)),
                        end_time: ts(t0() + chrono::Duration::days(3)),
                        batch_keys: vec![batch.batch_key.clone()],
                        gift_item: Some(pb::GiftItem {
                            sku: "gift-1".into(),
                            quantity: 10,
                        }),
                        quantity: 5,
                        ..Default::default()
                    }),
                },
            ))
            .await?
            .into_inner();
        s.open_card(&shop, "u1").await?;
        let mut campaign = s.campaign.clone();
        let pack_id = pack.pack_id.clone();
        let claiming = tokio::spawn(async move {
            campaign
                .claim_gift_pack(req(
                    &shopper("u1"),
                    pb::ClaimGiftPackRequest {
                        request_id: rid("claim"),
                        pack_id,
                        user_id: "u1".into(),
                    },
                ))
                .await
        });
        crash_and_restart(&mut s, stopped).await?;
        // The crash cut the call off; the claim was recorded and finishes without it.
        let _ = claiming.await;
        s.wait_for_claims(&shop, &pack.pack_id, Duration::from_secs(20), |c| {
            c.len() == 1 && c[0].state() == pb::ClaimState::Granted
        })
        .await
        .map_err(|e| anyhow::anyhow!("{point:?}: {e}"))?;
        assert_eq!(
            count(
                &s,
                "SELECT count(*) FROM coupon.coupons WHERE user_id = $1",
                "u1"
            )
            .await?,
            1,
            "{point:?}"
        );
        assert_eq!(
            count(
                &s,
                "SELECT count(*) FROM campaign.entitlements WHERE user_id = $1",
                "u1"
            )
            .await?,
            1,
            "{point:?}"
        );
    }
    Ok(())
}

/// PT-3: an exchange whose coupon is refused after the points were spent is refunded once,
/// whatever moment of the refund the crash hits; the claim ends FAILED holding nothing.
#[tokio::test]
async fn pt3_a_crash_at_the_refund_gives_the_points_back_once() -> TestResult {
    for point in points_for(StepKind::Refund) {
        let mut s = Suite::start().await?;
        let shop = s
            .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
            .await?;
        // One coupon: the second exchange's grant is refused for good.
        let batch = s
            .batch(&shop, coupon_pb::CouponKind::Cash, CouponChannel::Crm, 1)
            .await?;
        s.membership
            .update_level_benefits(req(
                &merchant(&shop),
                membership_pb::UpdateLevelBenefitsRequest {
                    request_id: rid("benefits"),
                    shop_id: shop.clone(),
                    level: 1,
                    benefits: Some(membership_pb::LevelBenefits {
                        points_for_coupon: vec![membership_pb::ExchangeItem {
                            item_id: "coupon-5".into(),
                            title: "5 yuan coupon".into(),
                            points_cost: 200,
                            target: batch.batch_key.clone(),
                        }],
                        ..Default::default()
                    }),
                },
            ))
            .await?;
        for user in ["u1", "u2"] {
            s.open_card(&shop, user).await?;
            let account = |kind: membership_pb::AccountKind, owner: &str| membership_pb::Account {
                kind: kind.into(),
                shop_id: shop.clone(),
                owner_id: owner.into(),
            };
            s.membership
                .create_transfer(req(
                    &memberhub_kit::actor::Actor::Operator,
                    membership_pb::CreateTransferRequest {
                        request_id: rid("points"),
                        from: Some(account(membership_pb::AccountKind::SystemIssuance, "")),
                        to: Some(account(membership_pb::AccountKind::Member, user)),
                        asset: Asset::Points.into(),
                        amount: 500,
                        reason: "test points".into(),
                    },
                ))
                .await?;
        }
        let exchange = |user: &str| pb::ExchangePointsRequest {
            request_id: rid("exchange"),
            shop_id: shop.clone(),
            user_id: user.into(),
            item_id: "coupon-5".into(),
        };
        s.campaign
            .exchange_points(req(&shopper("u1"), exchange("u1")))
            .await?;
        let (faults, stopped) = stop_at(point);
        s.start_campaign_with(fast_saga(), faults).await?;
        let mut campaign = s.campaign.clone();
        let request = exchange("u2");
        let exchanging =
            tokio::spawn(
                async move { campaign.exchange_points(req(&shopper("u2"), request)).await },
            );
        crash_and_restart(&mut s, stopped).await?;
        let _ = exchanging.await;
        let claims = s
            .wait_for_claims(&shop, "coupon-5", Duration::from_secs(20), |c| {
                c.len() == 2 && c.iter().all(|c| c.state() != pb::ClaimState::Pending)
            })
            .await
            .map_err(|e| anyhow::anyhow!("{point:?}: {e}"))?;
        let failed: Vec<_> = claims.iter().filter(|c| c.user_id == "u2").collect();
        assert_eq!(failed[0].state(), pb::ClaimState::Failed, "{point:?}");
        // Spent 200 once, given back 200 once.
        let refunds = count(
            &s,
            "SELECT count(*) FROM membership.transfers
             WHERE to_kind = 'MEMBER' AND to_owner = $1 AND asset = 'POINTS'
               AND reason LIKE 'refund%'",
            "u2",
        )
        .await?;
        assert_eq!(refunds, 1, "{point:?}: one refund");
        let balance = s
            .membership
            .get_membership(req(
                &merchant(&shop),
                membership_pb::GetMembershipRequest {
                    shop_id: shop.clone(),
                    user_id: "u2".into(),
                },
            ))
            .await?
            .into_inner()
            .points_balance;
        assert_eq!(balance, 500, "{point:?}: the points came back once");
    }
    Ok(())
}
