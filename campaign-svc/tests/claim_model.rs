//! The claim model under faults. Progress writes are fenced by the runner's lease
//! (a stale runner changes nothing), malformed stored data fails a claim visibly (never a
//! smaller GRANTED), and an unreadable event is parked while the consumer goes on.

mod support;

use std::time::Duration;

use campaign_svc::testing::{ClaimKind, ClaimState, Claimed, Lease, NewClaim, claims, plan};
use memberhub_kit::clock::Clock;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use support::*;

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

/// A claim recorded straight in the store, held by `lease` until `lease_until`.
fn new_claim(shop: &str, lease: Lease) -> anyhow::Result<NewClaim> {
    let id = campaign_svc::testing::ClaimId::new();
    Ok(NewClaim {
        id,
        shop_id: campaign_svc::testing::ShopId::parse("shop_id", shop)
            .map_err(|v| anyhow::anyhow!("{v:?}"))?,
        user_id: "u1".into(),
        kind: ClaimKind::PointsExchange,
        source_id: "item".into(),
        once_key: format!("test:{id}"),
        steps: plan(
            id,
            &Claimed::PointsForGoods {
                points: 10,
                sku: "tea",
            },
        ),
        lease,
    })
}

#[tokio::test]
async fn claim_a_runner_whose_lease_was_taken_over_writes_nothing() -> TestResult {
    let s = Suite::start().await?;
    let shop = uuid::Uuid::now_v7().to_string();
    let mut conn = s.pool.acquire().await?;
    let first = Lease::new();
    let claim = new_claim(&shop, first)?;
    let now = s.clock.now();
    assert!(claims::insert(&mut conn, &claim, now, now + chrono::Duration::seconds(1)).await?);
    // While the first runner holds it, nobody takes it over.
    assert!(
        claims::take_lease(&mut conn, claim.id, now, now)
            .await?
            .is_none()
    );
    // Its lease runs out mid-step; a second runner takes the claim and finishes it.
    let later = now + chrono::Duration::seconds(2);
    let (mut record, second) = claims::take_lease(&mut conn, claim.id, later, later)
        .await?
        .ok_or_else(|| anyhow::anyhow!("an expired lease is taken over"))?;
    let mut stale = record.clone();
    record.progress.start()?;
    for index in 0..2 {
        record.progress.step_done(index, Default::default())?;
    }
    record.granted_at = Some(later);
    // The first runner wakes up and tries to fail the claim: nothing changes.
    stale.progress.fail()?;
    stale.failure_reason = Some("stale".into());
    assert!(!claims::save(&mut conn, &stale, first, later).await?);
    assert!(!claims::postpone(&mut conn, &stale, first, later, "stale").await?);
    // The holder's write lands, once; nothing can overwrite a finished claim.
    assert!(claims::save(&mut conn, &record, second, later).await?);
    assert!(!claims::save(&mut conn, &stale, second, later).await?);
    let stored = claims::get(&mut conn, claim.id).await?;
    assert_eq!(stored.progress.state(), ClaimState::Granted);
    assert_eq!(stored.failure_reason, None);
    assert!(stored.progress.steps().iter().all(|s| s.done));
    Ok(())
}

#[tokio::test]
async fn claim_with_no_steps_is_refused_not_granted() -> TestResult {
    let s = Suite::start().await?;
    let mut conn = s.pool.acquire().await?;
    let mut claim = new_claim(&uuid::Uuid::now_v7().to_string(), Lease::new())?;
    claim.steps.clear();
    let now = s.clock.now();
    assert!(claims::insert(&mut conn, &claim, now, now).await.is_err());
    Ok(())
}

/// A stored coupon prize that lost its batch fails the claim with the reason; the shopper
/// gets nothing from it (not the beans without the coupon).
#[tokio::test]
async fn oc7_a_malformed_stored_prize_fails_the_claim_visibly() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _, gift) = live_gift(&mut s).await?;
    sqlx::query(
        "UPDATE campaign.open_card_prizes SET batch_id = NULL
         WHERE campaign_id = $1::uuid AND batch_key IS NOT NULL",
    )
    .bind(&gift.campaign_id)
    .execute(&s.pool)
    .await?;
    s.open_card(&shop, "u1").await?;
    let claims = s
        .wait_for_claims(&shop, &gift.campaign_id, Duration::from_secs(10), |c| {
            c.len() == 1 && c[0].state() == pb::ClaimState::Failed
        })
        .await?;
    assert!(
        claims[0].failure_reason.starts_with("CORRUPT_PRIZE"),
        "{:?}",
        claims[0]
    );
    let beans: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(balance), 0)::bigint FROM membership.accounts
         WHERE kind = 'MEMBER' AND owner = 'u1' AND asset = 'BEANS'",
    )
    .fetch_one(&s.pool)
    .await?;
    assert_eq!(beans, 0, "no prize of a failed claim reaches the shopper");
    Ok(())
}

/// An unreadable CARD_OPENED event is parked with its reason, and the next good one is
/// applied: the consumer never stalls on it.
#[tokio::test]
async fn oc7_an_unreadable_event_is_parked_and_the_next_one_applied() -> TestResult {
    let mut s = Suite::start().await?;
    let (shop, _, gift) = live_gift(&mut s).await?;
    sqlx::query(
        "INSERT INTO membership.outbox (event_id, event_type, shop_id, user_id, occurred_at, payload)
         VALUES ($1, 'CARD_OPENED', $2::uuid, '', $3, '{}')",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(&shop)
    .bind(s.clock.now())
    .execute(&s.pool)
    .await?;
    s.open_card(&shop, "u2").await?;
    let claims = s
        .wait_for_claims(&shop, &gift.campaign_id, Duration::from_secs(10), |c| {
            c.len() == 1 && c[0].state() == pb::ClaimState::Granted
        })
        .await?;
    assert_eq!(claims[0].user_id, "u2");
    let parked: Vec<(String, String)> =
        sqlx::query_as("SELECT shop_id, reason FROM campaign.parked_events")
            .fetch_all(&s.pool)
            .await?;
    assert_eq!(parked, vec![(shop.clone(), "no user_id".to_string())]);
    // Operators read them through the API; merchants may not.
    let listed = s
        .campaign
        .list_parked_events(req(
            &memberhub_kit::actor::Actor::Operator,
            pb::ListParkedEventsRequest::default(),
        ))
        .await?
        .into_inner();
    assert_eq!(listed.parked_events.len(), 1);
    assert_eq!(listed.parked_events[0].reason, "no user_id");
    assert_eq!(listed.parked_events[0].event_type, "EVENT_TYPE_CARD_OPENED");
    assert_eq!(listed.parked_events[0].shop_id, shop);
    let refused = s
        .campaign
        .list_parked_events(req(
            &merchant(&shop),
            pb::ListParkedEventsRequest::default(),
        ))
        .await;
    assert_eq!(
        refused.err().map(|e| e.code()),
        Some(tonic::Code::PermissionDenied)
    );
    Ok(())
}
