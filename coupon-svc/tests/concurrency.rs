//! Concurrency is tested, not argued (CP-3, CP-4, CP-6, X-2): many concurrent calls
//! against small stock, then count in the database. The last tests run a naive
//! check-then-write variant against the same invariant checks to show they see the bug.

mod support;

use std::collections::HashMap;
use std::sync::Arc;

use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::CouponChannel;
use memberhub_proto::coupon as pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use support::*;
use tonic::transport::Channel;

/// A few connections to spread many concurrent calls over.
async fn clients(h: &Harness, n: usize) -> anyhow::Result<Vec<CouponServiceClient<Channel>>> {
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        clients.push(h.another_client().await?);
    }
    Ok(clients)
}

/// Sends every request at once; returns each outcome.
async fn all_at_once(
    clients: &[CouponServiceClient<Channel>],
    requests: Vec<(Actor, pb::IssueCouponsRequest)>,
) -> anyhow::Result<Vec<Result<pb::IssueCouponsResponse, tonic::Status>>> {
    let start = Arc::new(tokio::sync::Barrier::new(requests.len()));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, (actor, request)) in requests.into_iter().enumerate() {
        let mut client = clients[i % clients.len()].clone();
        let start = start.clone();
        tasks.spawn(async move {
            start.wait().await;
            let outcome = client
                .issue_coupons(req(&actor, request))
                .await
                .map(tonic::Response::into_inner);
            (i, outcome)
        });
    }
    let mut outcomes: Vec<Option<Result<pb::IssueCouponsResponse, tonic::Status>>> = Vec::new();
    outcomes.resize_with(tasks.len(), || None);
    while let Some(joined) = tasks.join_next().await {
        let (i, outcome) = joined?;
        outcomes[i] = Some(outcome);
    }
    Ok(outcomes.into_iter().flatten().collect())
}

fn tally(outcomes: &[Result<pb::IssueCouponsResponse, tonic::Status>]) -> HashMap<String, usize> {
    let mut tally = HashMap::new();
    for outcome in outcomes {
        let label = match outcome {
            Ok(_) => "OK".to_string(),
            Err(status) => reason(status).unwrap_or_else(|| format!("{:?}", status.code())),
        };
        *tally.entry(label).or_insert(0) += 1;
    }
    tally
}

#[tokio::test]
async fn cp3_1000_shoppers_racing_for_100_issues_get_exactly_100() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.total_quantity = 100;
    spec.per_issue_count = 2;
    let batch = active(&mut h, spec).await?;
    let clients = clients(&h, 8).await?;
    let requests = (0..1000)
        .map(|i| {
            let user = format!("u{i}");
            (shopper(&user), claim_request(&batch, &user))
        })
        .collect();
    let outcomes = all_at_once(&clients, requests).await?;
    let tally = tally(&outcomes);
    assert_eq!(tally.get("OK"), Some(&100), "{tally:?}");
    assert_eq!(tally.get("OUT_OF_STOCK"), Some(&900), "{tally:?}");
    let c = counts(&h.pool, &batch.batch_id).await?;
    assert_eq!((c.issues, c.coupons, c.free), (100, 200, 0));
    assert!(
        invariant_violations(&h.pool, &batch.batch_id, 2, 1)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn cp3_two_service_instances_share_the_stock_and_limits_without_over_issue() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.total_quantity = 50;
    spec.per_user_limit = 2;
    let batch = active(&mut h, spec).await?;
    let second = h.second_instance().await?;
    let mut both = clients(&h, 2).await?;
    both.push(second.client.clone());
    both.push(second.client.clone());
    // 100 shoppers claim 3 times each, spread over both instances.
    let requests = (0..300)
        .map(|i| {
            let user = format!("u{}", i % 100);
            (shopper(&user), claim_request(&batch, &user))
        })
        .collect();
    let outcomes = all_at_once(&both, requests).await?;
    let tally = tally(&outcomes);
    assert_eq!(tally.get("OK"), Some(&50), "{tally:?}");
    let c = counts(&h.pool, &batch.batch_id).await?;
    assert_eq!((c.issues, c.free), (50, 0));
    assert!(c.max_per_user <= 2);
    assert!(
        invariant_violations(&h.pool, &batch.batch_id, 1, 2)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn cp3_200_parallel_claims_by_one_shopper_with_limit_3_get_exactly_3() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_user_limit = 3;
    spec.total_quantity = 1_000;
    let batch = active(&mut h, spec).await?;
    let clients = clients(&h, 4).await?;
    let requests = (0..200)
        .map(|_| (shopper("greedy"), claim_request(&batch, "greedy")))
        .collect();
    let outcomes = all_at_once(&clients, requests).await?;
    let tally = tally(&outcomes);
    assert_eq!(tally.get("OK"), Some(&3), "{tally:?}");
    assert_eq!(tally.get("PER_USER_LIMIT_REACHED"), Some(&197), "{tally:?}");
    let c = counts(&h.pool, &batch.batch_id).await?;
    assert_eq!((c.issues, c.max_per_user, c.free), (3, 3, 997));
    Ok(())
}

#[tokio::test]
async fn x2_concurrent_retries_of_one_claim_issue_once() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_user_limit = 0;
    let batch = active(&mut h, spec).await?;
    let clients = clients(&h, 4).await?;
    let request = claim_request(&batch, "u1");
    let requests = (0..50).map(|_| (shopper("u1"), request.clone())).collect();
    let outcomes = all_at_once(&clients, requests).await?;
    let first = outcomes[0].clone()?;
    for outcome in &outcomes {
        assert_eq!(outcome.as_ref().ok(), Some(&first), "{outcome:?}");
    }
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.issues, 1);
    Ok(())
}

#[tokio::test]
async fn cp4_reserved_units_are_never_sold_to_others_under_concurrency() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.total_quantity = 100;
    spec.per_user_limit = 1;
    spec.channel = CouponChannel::Crm.into();
    let batch = active(&mut h, spec).await?;
    let reserve = pb::ReserveAllocationRequest {
        request_id: rid("reserve"),
        batch_id: batch.batch_id.clone(),
        channel: CouponChannel::Crm.into(),
        holder: "gift-pack-1".into(),
        quantity: 40,
        ..Default::default()
    };
    let allocation = h
        .client
        .reserve_allocation(req(&service(), reserve))
        .await?
        .into_inner();
    let clients = clients(&h, 8).await?;
    let merchant = merchant(&batch.shop_id);
    let mut requests = Vec::new();
    for i in 0..200 {
        let user = format!("free-{i}");
        requests.push((merchant.clone(), claim_request(&batch, &user)));
        let user = format!("pack-{i}");
        let mut pack = claim_request(&batch, &user);
        pack.allocation_id = allocation.allocation_id.clone();
        pack.campaign_claim_id = format!("claim-{i}");
        requests.push((service(), pack));
    }
    let outcomes = all_at_once(&clients, requests).await?;
    let (mut free_ok, mut pack_ok) = (0, 0);
    for (i, outcome) in outcomes.iter().enumerate() {
        if outcome.is_ok() {
            if i % 2 == 0 {
                free_ok += 1;
            } else {
                pack_ok += 1;
            }
        }
    }
    assert_eq!((free_ok, pack_ok), (60, 40));
    let c = counts(&h.pool, &batch.batch_id).await?;
    assert_eq!((c.issues, c.free, c.reserved_live), (100, 0, 0));
    assert!(
        invariant_violations(&h.pool, &batch.batch_id, 1, 1)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn cp6_two_orders_racing_for_one_coupon_exactly_one_uses_it() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_user_limit = 0;
    spec.kind = pb::CouponKind::Cash.into();
    spec.face_value_fen = 500;
    spec.threshold_fen = 0;
    let batch = active(&mut h, spec).await?;
    let mut coupons = Vec::new();
    for _ in 0..20 {
        coupons.push(
            claim(&mut h, &batch, "u1").await?.coupons[0]
                .coupon_id
                .clone(),
        );
    }
    let clients = clients(&h, 4).await?;
    let start = Arc::new(tokio::sync::Barrier::new(coupons.len() * 2));
    let mut tasks = tokio::task::JoinSet::new();
    for (i, coupon) in coupons.iter().enumerate() {
        for order in [format!("order-{i}-a"), format!("order-{i}-b")] {
            let mut client = clients[tasks.len() % clients.len()].clone();
            let (start, shop, coupon) = (start.clone(), batch.shop_id.clone(), coupon.clone());
            tasks.spawn(async move {
                start.wait().await;
                let me = shopper("u1");
                let lock = pb::LockCouponsRequest {
                    request_id: rid("lock"),
                    user_id: "u1".into(),
                    order_id: order.clone(),
                    coupon_ids: vec![coupon.clone()],
                    shop_id: shop,
                    region: String::new(),
                    lines: vec![line("sku", "cat", 1, 1_000)],
                };
                let redeem = pb::RedeemCouponsRequest {
                    request_id: rid("redeem"),
                    order_id: order,
                    user_id: "u1".into(),
                };
                let used = match client.lock_coupons(req(&me, lock)).await {
                    Ok(_) => client.redeem_coupons(req(&me, redeem)).await.is_ok(),
                    Err(_) => false,
                };
                (coupon, used)
            });
        }
    }
    let mut wins: HashMap<String, usize> = HashMap::new();
    while let Some(joined) = tasks.join_next().await {
        let (coupon, used) = joined?;
        if used {
            *wins.entry(coupon).or_insert(0) += 1;
        }
    }
    for coupon in &coupons {
        assert_eq!(wins.get(coupon), Some(&1), "coupon {coupon}: {wins:?}");
    }
    let used: i64 = sqlx::query_scalar("SELECT count(*) FROM coupon.coupons WHERE state = 'USED'")
        .fetch_one(&h.pool)
        .await?;
    assert_eq!(used, 20);
    Ok(())
}

// ------------------------------------------------------------------ the naive variant

/// The obvious code, check-then-write: read the stock and the shopper's count, then write.
/// The barrier makes every claimer read before any writes, as a busy server interleaves.
async fn naive_claims(
    h: &Harness,
    batch_id: &str,
    users: &[String],
    limit: i64,
) -> anyhow::Result<()> {
    let batch = uuid::Uuid::parse_str(batch_id)?;
    // One connection per claimer: they all hold a transaction at the barrier.
    let pool = &h.db.pool(u32::try_from(users.len())?).await?;
    let all_read = Arc::new(tokio::sync::Barrier::new(users.len()));
    let mut tasks = tokio::task::JoinSet::new();
    for user in users {
        let (pool, all_read, user) = (pool.clone(), all_read.clone(), user.clone());
        tasks.spawn(async move {
            let mut tx = pool.begin().await?;
            let free: i64 = sqlx::query_scalar("SELECT free FROM coupon.stock WHERE batch_id = $1")
                .bind(batch)
                .fetch_one(&mut *tx)
                .await?;
            let held: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM coupon.coupons WHERE batch_id = $1 AND user_id = $2",
            )
            .bind(batch)
            .bind(&user)
            .fetch_one(&mut *tx)
            .await?;
            all_read.wait().await;
            if free > 0 && held < limit {
                sqlx::query("UPDATE coupon.stock SET free = $2 WHERE batch_id = $1")
                    .bind(batch)
                    .bind(free - 1)
                    .execute(&mut *tx)
                    .await?;
                let id = uuid::Uuid::now_v7();
                sqlx::query(
                    "INSERT INTO coupon.coupons (coupon_id, code, batch_id, shop_id, user_id, issue_id,
                         issued_at, valid_from, valid_until, state)
                     SELECT $1, $1::text, batch_id, shop_id, $2, $1, now(), now(), now() + interval '1 day',
                            'AVAILABLE'
                     FROM coupon.batches WHERE batch_id = $3",
                )
                .bind(id)
                .bind(&user)
                .bind(batch)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok::<(), sqlx::Error>(())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        joined??;
    }
    Ok(())
}

#[tokio::test]
async fn cp3_the_invariant_checks_catch_a_naive_check_then_write_over_issue() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.total_quantity = 10;
    let batch = active(&mut h, spec).await?;
    let users: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
    naive_claims(&h, &batch.batch_id, &users, 1).await?;
    let broken = invariant_violations(&h.pool, &batch.batch_id, 1, 1).await?;
    assert!(
        broken.iter().any(|b| b.starts_with("over-issued")),
        "the naive variant over-issues and the check sees it: {broken:?}"
    );
    Ok(())
}

#[tokio::test]
async fn cp3_the_invariant_checks_catch_a_naive_per_user_limit() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_user_limit = 3;
    let batch = active(&mut h, spec).await?;
    let users: Vec<String> = (0..20).map(|_| "greedy".to_string()).collect();
    naive_claims(&h, &batch.batch_id, &users, 3).await?;
    let broken = invariant_violations(&h.pool, &batch.batch_id, 1, 3).await?;
    assert!(
        broken.iter().any(|b| b.starts_with("a shopper holds 20")),
        "the naive variant breaks the limit and the check sees it: {broken:?}"
    );
    Ok(())
}
