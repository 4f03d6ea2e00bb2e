//! OC-3: campaign-svc's card join holds and the join policy, through the real gRPC interface
//! on real Postgres.

mod support;

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::to_timestamp;
use memberhub_kit::testing::TestResult;
use memberhub_proto::membership as pb;
use support::*;
use tonic::Code;

const CAMPAIGN: &str = "CA_0193a1b2-open-card-gift";

fn hold_request(shop: &str, holder: &str, end_time: DateTime<Utc>) -> pb::HoldCardJoinRequest {
    pb::HoldCardJoinRequest {
        request_id: rid("hold"),
        shop_id: shop.into(),
        holder: holder.into(),
        end_time: Some(to_timestamp(end_time)),
    }
}

fn release_request(shop: &str, holder: &str) -> pb::ReleaseCardJoinHoldRequest {
    pb::ReleaseCardJoinHoldRequest {
        request_id: rid("release"),
        shop_id: shop.into(),
        holder: holder.into(),
    }
}

async fn hold_as(
    h: &Harness,
    actor: &Actor,
    request: pb::HoldCardJoinRequest,
) -> Result<pb::CardJoinHold, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .hold_card_join(req(actor, request))
        .await?
        .into_inner())
}

/// campaign-svc holds card joining open for `holder` until `end_time`.
async fn hold(
    h: &Harness,
    shop: &str,
    holder: &str,
    end_time: DateTime<Utc>,
) -> Result<pb::CardJoinHold, tonic::Status> {
    hold_as(h, &campaign_service(), hold_request(shop, holder, end_time)).await
}

async fn release_as(
    h: &Harness,
    actor: &Actor,
    shop: &str,
    holder: &str,
) -> Result<pb::CardJoinHold, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .release_card_join_hold(req(actor, release_request(shop, holder)))
        .await?
        .into_inner())
}

/// The shop's merchant sets the join policy (a status, not an error, when refused).
async fn try_set_policy(
    h: &Harness,
    shop: &str,
    policy: pb::JoinPolicy,
) -> Result<pb::Program, tonic::Status> {
    let mut client = h.client.clone();
    let request = pb::SetJoinPolicyRequest {
        request_id: rid("policy"),
        shop_id: shop.into(),
        join_policy: policy.into(),
    };
    Ok(client
        .set_join_policy(req(&merchant(shop), request))
        .await?
        .into_inner())
}

/// Rows of the shop's holds: (holder, released).
async fn hold_rows(h: &Harness, shop: &str) -> anyhow::Result<Vec<(String, bool)>> {
    let pool = h.db.pool(1).await?;
    let rows = sqlx::query_as::<_, (String, bool)>(
        "SELECT holder, released_at IS NOT NULL FROM membership.card_join_holds
         WHERE shop_id = $1::uuid ORDER BY holder",
    )
    .bind(shop)
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(rows)
}

/// The error of a call that must fail.
fn refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>) -> anyhow::Result<tonic::Status> {
    expect_err(result.map(tonic::Response::new))
}

// ------------------------------------------------------------------- taking a hold

#[tokio::test]
async fn oc3_hold_is_refused_under_order_policy() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Order).await?;
    let request = hold_request(&shop, CAMPAIGN, t0() + Duration::days(7));
    let status = expect_err(
        h.client
            .hold_card_join(req(&campaign_service(), request.clone()))
            .await,
    )?;
    assert_precondition(&status, "CARD_JOIN_DISABLED");
    assert!(hold_rows(&h, &shop).await?.is_empty());
    // The refusal stored no idempotency key: the same request succeeds once card opening
    // is allowed.
    set_policy(&mut h, &shop, pb::JoinPolicy::Card).await?;
    let held = hold_as(&h, &campaign_service(), request).await?;
    assert_eq!(held.holder, CAMPAIGN);
    Ok(())
}

#[tokio::test]
async fn oc3_hold_is_taken_under_every_policy_that_allows_card_opening() -> TestResult {
    let mut h = start().await?;
    let end = t0() + Duration::days(7);
    for policy in [
        pb::JoinPolicy::Card,
        pb::JoinPolicy::OrderOrCard,
        pb::JoinPolicy::OrderAndCard,
    ] {
        let shop = shop_with_policy(&mut h, policy).await?;
        let held = hold(&h, &shop, CAMPAIGN, end).await?;
        assert_eq!(held.shop_id, shop);
        assert_eq!(held.holder, CAMPAIGN);
        assert_eq!(time_of(held.end_time.as_ref())?, end);
        assert!(!held.released);
        assert_eq!(hold_rows(&h, &shop).await?, [(CAMPAIGN.to_string(), false)]);
    }
    Ok(())
}

#[tokio::test]
async fn oc3_hold_retried_with_the_same_request_id_returns_the_same_hold() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let request = hold_request(&shop, CAMPAIGN, t0() + Duration::days(7));
    let first = hold_as(&h, &campaign_service(), request.clone()).await?;
    let again = hold_as(&h, &campaign_service(), request.clone()).await?;
    assert_eq!(first, again);
    assert_eq!(hold_rows(&h, &shop).await?.len(), 1);
    // The same key with another request is refused.
    let mut other = request;
    other.end_time = Some(to_timestamp(t0() + Duration::days(8)));
    let status = expect_err(
        h.client
            .hold_card_join(req(&campaign_service(), other))
            .await,
    )?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    Ok(())
}

#[tokio::test]
async fn oc3_holding_again_renews_the_end_time_and_retakes_a_released_hold() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    hold(&h, &shop, CAMPAIGN, t0() + Duration::days(7)).await?;
    let renewed = hold(&h, &shop, CAMPAIGN, t0() + Duration::days(9)).await?;
    assert_eq!(
        time_of(renewed.end_time.as_ref())?,
        t0() + Duration::days(9)
    );
    release_as(&h, &campaign_service(), &shop, CAMPAIGN).await?;
    let retaken = hold(&h, &shop, CAMPAIGN, t0() + Duration::days(9)).await?;
    assert!(!retaken.released);
    let status = expect_err(
        h.client
            .set_join_policy(req(
                &merchant(&shop),
                pb::SetJoinPolicyRequest {
                    request_id: rid("policy"),
                    shop_id: shop.clone(),
                    join_policy: pb::JoinPolicy::Order.into(),
                },
            ))
            .await,
    )?;
    assert_precondition(&status, "OPEN_CARD_GIFT_LIVE");
    Ok(())
}

#[tokio::test]
async fn oc3_hold_and_release_are_for_services_and_operators_only() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let end = t0() + Duration::days(7);
    for actor in [merchant(&shop), shopper("u-1")] {
        let status = expect_err(
            h.client
                .hold_card_join(req(&actor, hold_request(&shop, CAMPAIGN, end)))
                .await,
        )?;
        assert_code(&status, Code::PermissionDenied);
    }
    assert!(hold_rows(&h, &shop).await?.is_empty());
    hold(&h, &shop, CAMPAIGN, end).await?;
    for actor in [merchant(&shop), shopper("u-1")] {
        let status = refused(release_as(&h, &actor, &shop, CAMPAIGN).await)?;
        assert_code(&status, Code::PermissionDenied);
    }
    assert_eq!(hold_rows(&h, &shop).await?, [(CAMPAIGN.to_string(), false)]);
    // An operator may do both.
    hold_as(&h, &operator(), hold_request(&shop, "CA_2", end)).await?;
    assert!(release_as(&h, &operator(), &shop, "CA_2").await?.released);
    Ok(())
}

#[tokio::test]
async fn oc3_hold_names_every_bad_field_and_an_unknown_shop_is_not_found() -> TestResult {
    let h = start().await?;
    let mut client = h.client.clone();
    let request = pb::HoldCardJoinRequest {
        request_id: rid("hold"),
        shop_id: "not-a-shop".into(),
        holder: " ".into(),
        end_time: None,
    };
    let status = expect_err(
        client
            .hold_card_join(req(&campaign_service(), request))
            .await,
    )?;
    for field in ["shop_id", "holder", "end_time"] {
        assert_invalid(&status, field);
    }
    let unknown = uuid::Uuid::now_v7().to_string();
    let status = refused(hold(&h, &unknown, CAMPAIGN, t0()).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

// -------------------------------------------------------------- the policy under a hold

#[tokio::test]
async fn oc3_policy_cannot_become_order_while_a_hold_is_live() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::OrderOrCard).await?;
    hold(&h, &shop, CAMPAIGN, t0() + Duration::days(7)).await?;
    let status = refused(try_set_policy(&h, &shop, pb::JoinPolicy::Order).await)?;
    assert_precondition(&status, "OPEN_CARD_GIFT_LIVE");
    assert_eq!(
        error_metadata(&status, "campaign_id").as_deref(),
        Some(CAMPAIGN)
    );
    assert!(status.message().contains(CAMPAIGN), "{status:?}");
    assert_eq!(
        program(&mut h, &shop).await?.join_policy(),
        pb::JoinPolicy::OrderOrCard
    );
    // Other policies that allow card opening remain free to choose.
    for policy in [pb::JoinPolicy::Card, pb::JoinPolicy::OrderAndCard] {
        assert_eq!(
            try_set_policy(&h, &shop, policy).await?.join_policy(),
            policy
        );
    }
    Ok(())
}

#[tokio::test]
async fn oc3_policy_may_become_order_after_the_hold_ends() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let end = t0() + Duration::days(7);
    hold(&h, &shop, CAMPAIGN, end).await?;
    h.clock.set(end - Duration::seconds(1));
    let status = refused(try_set_policy(&h, &shop, pb::JoinPolicy::Order).await)?;
    assert_precondition(&status, "OPEN_CARD_GIFT_LIVE");
    // The window is half-open: at end_time the gift is over.
    h.clock.set(end);
    let program = try_set_policy(&h, &shop, pb::JoinPolicy::Order).await?;
    assert_eq!(program.join_policy(), pb::JoinPolicy::Order);
    Ok(())
}

#[tokio::test]
async fn oc3_released_hold_no_longer_blocks() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    hold(&h, &shop, CAMPAIGN, t0() + Duration::days(7)).await?;
    let released = release_as(&h, &campaign_service(), &shop, CAMPAIGN).await?;
    assert!(released.released);
    assert_eq!(released.holder, CAMPAIGN);
    assert_eq!(
        time_of(released.end_time.as_ref())?,
        t0() + Duration::days(7)
    );
    let program = try_set_policy(&h, &shop, pb::JoinPolicy::Order).await?;
    assert_eq!(program.join_policy(), pb::JoinPolicy::Order);
    Ok(())
}

#[tokio::test]
async fn oc3_one_live_hold_among_released_ones_still_blocks() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    hold(&h, &shop, "CA_1", t0() + Duration::days(7)).await?;
    hold(&h, &shop, "CA_2", t0() + Duration::days(14)).await?;
    release_as(&h, &campaign_service(), &shop, "CA_2").await?;
    let status = refused(try_set_policy(&h, &shop, pb::JoinPolicy::Order).await)?;
    assert_precondition(&status, "OPEN_CARD_GIFT_LIVE");
    assert_eq!(
        error_metadata(&status, "campaign_id").as_deref(),
        Some("CA_1")
    );
    Ok(())
}

#[tokio::test]
async fn oc3_release_is_idempotent_and_an_unknown_holder_is_not_found() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    hold(&h, &shop, CAMPAIGN, t0() + Duration::days(7)).await?;
    let first = release_as(&h, &campaign_service(), &shop, CAMPAIGN).await?;
    h.clock.advance(Duration::hours(1));
    let second = release_as(&h, &campaign_service(), &shop, CAMPAIGN).await?;
    assert!(first.released && second.released);
    assert_eq!(first, second);
    // A retry with the same request id returns the stored response.
    let mut client = h.client.clone();
    let request = release_request(&shop, CAMPAIGN);
    let a = client
        .release_card_join_hold(req(&campaign_service(), request.clone()))
        .await?
        .into_inner();
    let b = client
        .release_card_join_hold(req(&campaign_service(), request))
        .await?
        .into_inner();
    assert_eq!(a, b);
    let status = refused(release_as(&h, &campaign_service(), &shop, "CA_unknown").await)?;
    assert_code(&status, Code::NotFound);
    // A holder of another shop is unknown here too.
    let other = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    let status = refused(release_as(&h, &campaign_service(), &other, CAMPAIGN).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

// --------------------------------------------------------------------------- the race

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn oc3_hold_racing_a_change_to_order_never_leaves_order_with_a_live_hold() -> TestResult {
    let mut h = start().await?;
    for round in 0..20 {
        let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
        let holder = format!("CA_race_{round}");
        let (held, ordered) = tokio::join!(
            hold(&h, &shop, &holder, t0() + Duration::days(7)),
            try_set_policy(&h, &shop, pb::JoinPolicy::Order),
        );
        // Exactly one wins, and the loser is refused for the other's sake.
        match (&held, &ordered) {
            (Ok(_), Err(status)) => assert_precondition(status, "OPEN_CARD_GIFT_LIVE"),
            (Err(status), Ok(_)) => assert_precondition(status, "CARD_JOIN_DISABLED"),
            _ => panic!("round {round}: hold {held:?}, policy {ordered:?}"),
        }
        let policy = program(&mut h, &shop).await?.join_policy();
        let live = hold_rows(&h, &shop)
            .await?
            .iter()
            .any(|(_, released)| !released);
        assert!(
            !(policy == pb::JoinPolicy::Order && live),
            "round {round}: ORDER with a live hold"
        );
    }
    Ok(())
}
