//! PT-3: points-for-coupon and points-for-goods exchanges, as claims: the points are spent
//! first and come back when the grant is refused.

mod support;

use std::time::Duration;

use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use support::*;

/// A CARD shop whose level 1 exchanges `coupon` (cost 200) and goods `sku-1` (cost 300).
async fn exchange_shop(s: &mut Suite, coupons: i64) -> anyhow::Result<(String, coupon_pb::Batch)> {
    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let batch = s
        .batch(
            &shop,
            coupon_pb::CouponKind::Cash,
            CouponChannel::Crm,
            coupons,
        )
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
                    points_for_goods: vec![membership_pb::ExchangeItem {
                        item_id: "tea".into(),
                        title: "tea sample".into(),
                        points_cost: 300,
                        target: "sku-1".into(),
                    }],
                    ..Default::default()
                }),
            },
        ))
        .await?;
    Ok((shop, batch))
}

/// A member of the shop holding `points`.
async fn member_with(s: &mut Suite, shop: &str, user: &str, points: i64) -> anyhow::Result<()> {
    s.open_card(shop, user).await?;
    let account = |kind: membership_pb::AccountKind, owner: &str| membership_pb::Account {
        kind: kind.into(),
        shop_id: shop.into(),
        owner_id: owner.into(),
    };
    s.membership
        .create_transfer(req(
            &Actor::Operator,
            membership_pb::CreateTransferRequest {
                request_id: rid("points"),
                from: Some(account(membership_pb::AccountKind::SystemIssuance, "")),
                to: Some(account(membership_pb::AccountKind::Member, user)),
                asset: Asset::Points.into(),
                amount: points,
                reason: "test points".into(),
            },
        ))
        .await?;
    Ok(())
}

async fn balance(s: &mut Suite, shop: &str, user: &str) -> anyhow::Result<i64> {
    Ok(s.membership
        .get_membership(req(
            &merchant(shop),
            membership_pb::GetMembershipRequest {
                shop_id: shop.into(),
                user_id: user.into(),
            },
        ))
        .await?
        .into_inner()
        .points_balance)
}

async fn exchange_with(
    s: &mut Suite,
    shop: &str,
    user: &str,
    item: &str,
    request_id: &str,
) -> Result<pb::Claim, tonic::Status> {
    Ok(s.campaign
        .exchange_points(req(
            &shopper(user),
            pb::ExchangePointsRequest {
                request_id: request_id.into(),
                shop_id: shop.into(),
                user_id: user.into(),
                item_id: item.into(),
            },
        ))
        .await?
        .into_inner())
}

async fn exchange(
    s: &mut Suite,
    shop: &str,
    user: &str,
    item: &str,
) -> Result<pb::Claim, tonic::Status> {
    exchange_with(s, shop, user, item, &rid("exchange")).await
}

#[tokio::test]
async fn pt3_points_for_coupon_spends_the_points_and_issues_the_coupon() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _) = exchange_shop(&mut s, 10).await?;
    member_with(&mut s, &shop, "u1", 500).await?;
    let claim = exchange(&mut s, &shop, "u1", "coupon-5").await?;
    assert_eq!(claim.state(), pb::ClaimState::Granted, "{claim:?}");
    assert_eq!(claim.kind(), pb::ClaimKind::PointsExchange);
    assert_eq!(claim.source_id, "coupon-5");
    assert_eq!(claim.items.len(), 1);
    assert_eq!(claim.items[0].coupon_ids.len(), 1);
    assert_eq!(balance(&mut s, &shop, "u1").await?, 300);
    Ok(())
}

#[tokio::test]
async fn pt3_points_for_goods_grant_a_free_entitlement() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _) = exchange_shop(&mut s, 10).await?;
    member_with(&mut s, &shop, "u1", 500).await?;
    let claim = exchange(&mut s, &shop, "u1", "tea").await?;
    assert_eq!(claim.state(), pb::ClaimState::Granted, "{claim:?}");
    assert!(!claim.items[0].entitlement_id.is_empty());
    assert_eq!(balance(&mut s, &shop, "u1").await?, 200);
    let held = s
        .campaign
        .list_entitlements(req(
            &merchant(&shop),
            pb::ListEntitlementsRequest {
                shop_id: shop.clone(),
                user_id: "u1".into(),
            },
        ))
        .await?
        .into_inner()
        .entitlements;
    assert_eq!(held.len(), 1);
    assert_eq!((held[0].sku.as_str(), held[0].price_fen), ("sku-1", 0));
    Ok(())
}

#[tokio::test]
async fn pt3_failed_grant_refunds_the_points() -> TestResult {
    let mut s = Suite::start().await?;
    // One coupon only: the second exchange's grant is refused by coupon-svc.
    let (shop, batch) = exchange_shop(&mut s, 1).await?;
    member_with(&mut s, &shop, "u1", 500).await?;
    member_with(&mut s, &shop, "u2", 500).await?;
    let first = exchange(&mut s, &shop, "u1", "coupon-5").await?;
    assert_eq!(first.state(), pb::ClaimState::Granted);
    let second = exchange(&mut s, &shop, "u2", "coupon-5").await?;
    assert_eq!(second.state(), pb::ClaimState::Failed, "{second:?}");
    assert!(!second.failure_reason.is_empty(), "{second:?}");
    assert!(second.items.is_empty());
    // The points came back: the shopper holds nothing from the failed exchange.
    assert_eq!(balance(&mut s, &shop, "u2").await?, 500);
    assert_eq!(balance(&mut s, &shop, "u1").await?, 300);
    // The barrier: the refused coupon step's key was closed before the refund, so a call of
    // that step still in flight (a runner that lost its lease) can never issue afterwards.
    let late = coupon_pb::IssueCouponsRequest {
        request_id: format!("claim:{}:1:coupon:{}", second.claim_id, batch.batch_key),
        batch_id: batch.batch_id.clone(),
        user_id: "u2".into(),
        channel: CouponChannel::Crm.into(),
        campaign_claim_id: second.claim_id.clone(),
        shop_id: shop.clone(),
        ..Default::default()
    };
    let campaign_svc = Actor::Service {
        name: "campaign-svc".into(),
    };
    let status = expect_err(s.coupon.issue_coupons(req(&campaign_svc, late)).await)?;
    assert_precondition(&status, "REQUEST_ABORTED");
    Ok(())
}

#[tokio::test]
async fn pt3_too_few_points_is_refused_and_records_nothing() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _) = exchange_shop(&mut s, 10).await?;
    member_with(&mut s, &shop, "u1", 100).await?;
    let status = expect_err(exchange(&mut s, &shop, "u1", "coupon-5").await)?;
    assert_precondition(&status, "INSUFFICIENT_POINTS");
    assert_eq!(balance(&mut s, &shop, "u1").await?, 100);
    assert!(s.claims(&shop, "").await?.is_empty());
    let status = expect_err(exchange(&mut s, &shop, "u1", "no-such-item").await)?;
    assert_precondition(&status, "EXCHANGE_ITEM_NOT_AVAILABLE");
    let status = expect_err(exchange(&mut s, &shop, "stranger", "coupon-5").await)?;
    assert_precondition(&status, "NOT_A_MEMBER");
    Ok(())
}

#[tokio::test]
async fn pt3_each_exchange_is_its_own_claim_and_a_retry_returns_it() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _) = exchange_shop(&mut s, 10).await?;
    member_with(&mut s, &shop, "u1", 1000).await?;
    let first = exchange_with(&mut s, &shop, "u1", "coupon-5", "ex-1").await?;
    let retried = exchange_with(&mut s, &shop, "u1", "coupon-5", "ex-1").await?;
    assert_eq!(retried.claim_id, first.claim_id);
    assert_eq!(balance(&mut s, &shop, "u1").await?, 800);
    let second = exchange_with(&mut s, &shop, "u1", "coupon-5", "ex-2").await?;
    assert_ne!(second.claim_id, first.claim_id);
    assert_eq!(second.state(), pb::ClaimState::Granted);
    assert_eq!(balance(&mut s, &shop, "u1").await?, 600);
    Ok(())
}

/// the idempotency key is looked up before the balance is checked, so a retry after a
/// lost response gets the first claim, not INSUFFICIENT_POINTS.
#[tokio::test]
async fn x2_an_exchange_retried_after_its_points_are_spent_returns_the_first_claim() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _) = exchange_shop(&mut s, 10).await?;
    member_with(&mut s, &shop, "u1", 200).await?;
    let first = exchange_with(&mut s, &shop, "u1", "coupon-5", "lost-response").await?;
    assert_eq!(first.state(), pb::ClaimState::Granted, "{first:?}");
    assert_eq!(balance(&mut s, &shop, "u1").await?, 0);
    let again = exchange_with(&mut s, &shop, "u1", "coupon-5", "lost-response").await?;
    assert_eq!(again.claim_id, first.claim_id);
    assert_eq!(again.state(), pb::ClaimState::Granted);
    assert_eq!(again.items, first.items);
    assert_eq!(balance(&mut s, &shop, "u1").await?, 0);
    Ok(())
}

/// Two runners on one claim whose lease runs out mid-step (a slow coupon-svc): the step is
/// applied once (same key), and the claim ends with exactly one outcome.
#[tokio::test]
async fn pt3_two_runners_on_a_claim_whose_lease_expires_mid_step_grant_once() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _) = exchange_shop(&mut s, 10).await?;
    member_with(&mut s, &shop, "u1", 500).await?;
    // Every coupon-svc call takes 2 s: longer than the 1.5 s lease.
    s.campaign_coupon_address =
        latency_proxy(s.coupon_address, Duration::from_millis(2_000)).await?;
    s.start_campaign(fast_saga()).await?;
    let mut campaign = s.campaign.clone();
    let request = pb::ExchangePointsRequest {
        request_id: rid("exchange"),
        shop_id: shop.clone(),
        user_id: "u1".into(),
        item_id: "coupon-5".into(),
    };
    let first = tokio::spawn(async move {
        campaign
            .exchange_points(req(&shopper("u1"), request))
            .await
            .map(|r| r.into_inner())
    });
    // Once the claim is recorded, the first runner spends the points and enters the slow
    // coupon step; its lease runs out there and the reconciler's runner takes the claim over.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM campaign.claims")
            .fetch_one(&s.pool)
            .await?;
        if recorded == 1 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no claim recorded");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time, knowingly: the runner must be inside the 2 s coupon call (its lease taken)
    // before the clock jumps, and nothing outside the proxy shows that moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    s.clock.advance(chrono::Duration::seconds(2));
    let answered = first.await??;
    let claims = s
        .wait_for_claims(&shop, "coupon-5", Duration::from_secs(20), |c| {
            c.len() == 1 && c[0].state() == pb::ClaimState::Granted
        })
        .await?;
    assert_eq!(claims[0].claim_id, answered.claim_id);
    let takeovers: i32 =
        sqlx::query_scalar("SELECT attempts FROM campaign.claims WHERE claim_id = $1::uuid")
            .bind(&answered.claim_id)
            .fetch_one(&s.pool)
            .await?;
    assert!(takeovers >= 1, "a second runner took the claim over");
    let coupons: i64 =
        sqlx::query_scalar("SELECT count(*) FROM coupon.coupons WHERE user_id = 'u1'")
            .fetch_one(&s.pool)
            .await?;
    assert_eq!(coupons, 1, "one coupon whichever runner issued it");
    assert_eq!(
        balance(&mut s, &shop, "u1").await?,
        300,
        "the points were spent once"
    );
    Ok(())
}
