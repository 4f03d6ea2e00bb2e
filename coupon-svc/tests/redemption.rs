//! CP-5 wallet, CP-6 evaluation and redemption, CP-8 statistics through the gRPC interface.

mod support;

use chrono::Duration;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::OrderLine;
use memberhub_proto::coupon as pb;
use support::*;
use tonic::Code;

/// A spend-100-save-20 batch on tea (category) or one cup (sku), for the Shanghai region.
fn tea_batch(shop: &str) -> pb::Batch {
    let mut spec = batch_spec(shop);
    spec.per_user_limit = 0;
    spec.item_scope = Some(pb::ItemScope {
        categories: vec!["tea".into()],
        skus: vec!["cup-1".into()],
    });
    spec.regions = vec!["310000".into()];
    spec
}

fn cash_batch(shop: &str, face: i64) -> pb::Batch {
    let mut spec = batch_spec(shop);
    spec.per_user_limit = 0;
    spec.kind = pb::CouponKind::Cash.into();
    spec.face_value_fen = face;
    spec.threshold_fen = 0;
    spec
}

async fn one_coupon(h: &mut Harness, batch: &pb::Batch, user: &str) -> anyhow::Result<pb::Coupon> {
    claim(h, batch, user)
        .await?
        .coupons
        .into_iter()
        .next()
        .ok_or_else(|| anyhow::anyhow!("no coupon issued"))
}

async fn wallet(
    h: &mut Harness,
    user: &str,
    state: pb::CouponState,
) -> anyhow::Result<Vec<pb::Coupon>> {
    let request = pb::ListWalletCouponsRequest {
        user_id: user.into(),
        state: state.into(),
        ..Default::default()
    };
    Ok(h.client
        .list_wallet_coupons(req(&shopper(user), request))
        .await?
        .into_inner()
        .coupons)
}

fn lock_request(
    shop: &str,
    order: &str,
    coupons: &[&pb::Coupon],
    lines: Vec<OrderLine>,
) -> pb::LockCouponsRequest {
    pb::LockCouponsRequest {
        request_id: rid("lock"),
        user_id: "u1".into(),
        order_id: order.into(),
        coupon_ids: coupons.iter().map(|c| c.coupon_id.clone()).collect(),
        shop_id: shop.into(),
        region: "310000".into(),
        lines,
    }
}

async fn lock(
    h: &mut Harness,
    request: pb::LockCouponsRequest,
) -> Result<pb::LockCouponsResponse, tonic::Status> {
    Ok(h.client
        .lock_coupons(req(&shopper("u1"), request))
        .await?
        .into_inner())
}

fn redeem_request(order: &str) -> pb::RedeemCouponsRequest {
    pb::RedeemCouponsRequest {
        request_id: rid("redeem"),
        order_id: order.into(),
        user_id: "u1".into(),
    }
}

fn release_request(order: &str) -> pb::ReleaseCouponsRequest {
    pb::ReleaseCouponsRequest {
        request_id: rid("release"),
        order_id: order.into(),
        user_id: "u1".into(),
    }
}

fn ids(coupons: &[pb::Coupon]) -> Vec<String> {
    coupons.iter().map(|c| c.coupon_id.clone()).collect()
}

#[tokio::test]
async fn cp5_the_wallet_shows_available_locked_used_and_derived_expired() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let batch = active(&mut h, cash_batch(&shop, 500)).await?;
    let a = one_coupon(&mut h, &batch, "u1").await?;
    let b = one_coupon(&mut h, &batch, "u1").await?;
    let c = one_coupon(&mut h, &batch, "u1").await?;
    let cart = vec![line("x", "y", 1, 1_000)];
    lock(&mut h, lock_request(&shop, "o-1", &[&a], cart.clone())).await?;
    lock(&mut h, lock_request(&shop, "o-2", &[&b], cart)).await?;
    h.client
        .redeem_coupons(req(&shopper("u1"), redeem_request("o-2")))
        .await?;
    assert_eq!(
        ids(&wallet(&mut h, "u1", pb::CouponState::Locked).await?),
        [a.coupon_id.as_str()]
    );
    assert_eq!(
        ids(&wallet(&mut h, "u1", pb::CouponState::Used).await?),
        [b.coupon_id.as_str()]
    );
    assert_eq!(
        ids(&wallet(&mut h, "u1", pb::CouponState::Available).await?),
        [c.coupon_id.as_str()]
    );
    assert!(
        wallet(&mut h, "u1", pb::CouponState::Expired)
            .await?
            .is_empty()
    );
    // Seven days after the claim the unused coupon is expired, with no job having run.
    h.clock.advance(Duration::days(7));
    assert_eq!(
        ids(&wallet(&mut h, "u1", pb::CouponState::Expired).await?),
        [c.coupon_id.as_str()]
    );
    let everything = wallet(&mut h, "u1", pb::CouponState::Unspecified).await?;
    let states: Vec<_> = everything.iter().map(|c| c.state()).collect();
    // Newest first.
    assert_eq!(
        states,
        [
            pb::CouponState::Expired,
            pb::CouponState::Used,
            pb::CouponState::Locked
        ]
    );
    Ok(())
}

#[tokio::test]
async fn cp5_the_wallet_pages_filters_by_shop_and_is_the_shoppers_own() -> TestResult {
    let mut h = start().await?;
    let (shop_a, shop_b) = (new_shop(), new_shop());
    let a = active(&mut h, cash_batch(&shop_a, 500)).await?;
    let b = active(&mut h, cash_batch(&shop_b, 500)).await?;
    for _ in 0..3 {
        one_coupon(&mut h, &a, "u1").await?;
    }
    one_coupon(&mut h, &b, "u1").await?;
    one_coupon(&mut h, &a, "u2").await?;
    let me = shopper("u1");
    let mut token = String::new();
    let mut seen = 0;
    loop {
        let page = h
            .client
            .list_wallet_coupons(req(
                &me,
                pb::ListWalletCouponsRequest {
                    user_id: "u1".into(),
                    shop_id: shop_a.clone(),
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await?
            .into_inner();
        assert!(
            page.coupons
                .iter()
                .all(|c| c.shop_id == shop_a && c.user_id == "u1")
        );
        seen += page.coupons.len();
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(seen, 3);
    let theirs = expect_err(
        h.client
            .list_wallet_coupons(req(
                &me,
                pb::ListWalletCouponsRequest {
                    user_id: "u2".into(),
                    ..Default::default()
                },
            ))
            .await,
    )?;
    assert_code(&theirs, Code::PermissionDenied);
    Ok(())
}

#[tokio::test]
async fn cp6_evaluation_gives_each_coupons_discount_or_reason() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let tea = active(&mut h, tea_batch(&shop)).await?;
    let mut discount = batch_spec(&shop);
    discount.per_user_limit = 0;
    discount.kind = pb::CouponKind::Discount.into();
    discount.face_value_fen = 0;
    discount.threshold_fen = 0;
    discount.discount_percent = 10;
    discount.discount_cap_fen = 500;
    let discount = active(&mut h, discount).await?;
    let elsewhere = active(&mut h, cash_batch(&new_shop(), 300)).await?;
    let tea_coupon = one_coupon(&mut h, &tea, "u1").await?;
    let discount_coupon = one_coupon(&mut h, &discount, "u1").await?;
    let foreign = one_coupon(&mut h, &elsewhere, "u1").await?;
    let not_mine = one_coupon(&mut h, &tea, "u2").await?;
    let evaluate = |region: &str, lines: Vec<OrderLine>| pb::EvaluateCartRequest {
        user_id: "u1".into(),
        shop_id: shop.clone(),
        region: region.into(),
        lines,
        coupon_ids: vec![
            tea_coupon.coupon_id.clone(),
            discount_coupon.coupon_id.clone(),
            foreign.coupon_id.clone(),
            not_mine.coupon_id.clone(),
        ],
    };
    let cart = vec![
        line("green-1", "tea", 3, 4_000),
        line("pot-9", "ware", 1, 60_000),
    ];
    let result = h
        .client
        .evaluate_cart(req(&shopper("u1"), evaluate("310000", cart.clone())))
        .await?
        .into_inner();
    assert_eq!(result.cart_total_fen, 72_000);
    let got: Vec<(bool, i64, &str)> = result
        .evaluations
        .iter()
        .map(|e| (e.usable, e.discount_fen, e.reason.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (true, 2_000, ""),
            (true, 500, ""),
            (false, 0, "WRONG_SHOP"),
            (false, 0, "COUPON_NOT_FOUND"),
        ]
    );
    let elsewhere_region = h
        .client
        .evaluate_cart(req(&shopper("u1"), evaluate("110000", cart)))
        .await?
        .into_inner();
    assert_eq!(elsewhere_region.evaluations[0].reason, "REGION_NOT_COVERED");
    let little_tea = vec![
        line("green-1", "tea", 1, 4_000),
        line("pot-9", "ware", 1, 60_000),
    ];
    let short = h
        .client
        .evaluate_cart(req(&shopper("u1"), evaluate("310000", little_tea)))
        .await?
        .into_inner();
    assert_eq!(short.evaluations[0].reason, "THRESHOLD_NOT_MET");
    let pots_only = vec![line("pot-9", "ware", 1, 60_000)];
    let none = h
        .client
        .evaluate_cart(req(&shopper("u1"), evaluate("310000", pots_only)))
        .await?
        .into_inner();
    assert_eq!(none.evaluations[0].reason, "NO_ELIGIBLE_ITEMS");
    let bad = expect_err(
        h.client
            .evaluate_cart(req(
                &shopper("u1"),
                evaluate("310000", vec![line("", "tea", 0, 1)]),
            ))
            .await,
    )?;
    assert_invalid(&bad, "lines[0].sku");
    assert_invalid(&bad, "lines[0].quantity");
    Ok(())
}

#[tokio::test]
async fn cp6_lock_at_placement_then_redeem_at_payment_idempotent_per_order() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let batch = active(&mut h, tea_batch(&shop)).await?;
    let coupon = one_coupon(&mut h, &batch, "u1").await?;
    let cart = vec![line("green-1", "tea", 3, 4_000)];
    let locked = lock(&mut h, lock_request(&shop, "o-1", &[&coupon], cart.clone())).await?;
    assert_eq!(locked.coupons[0].state(), pb::CouponState::Locked);
    assert_eq!(locked.coupons[0].order_id, "o-1");
    assert_eq!(locked.evaluations[0].discount_fen, 2_000);
    // The order system retrying the lock for the same order (new key) is fine.
    let relock = lock(&mut h, lock_request(&shop, "o-1", &[&coupon], cart.clone())).await?;
    assert_eq!(relock.coupons[0].state(), pb::CouponState::Locked);
    // Another order cannot take it.
    let taken = expect_err(lock(&mut h, lock_request(&shop, "o-2", &[&coupon], cart)).await)?;
    assert_precondition(&taken, "COUPON_LOCKED");
    let me = shopper("u1");
    let used = h
        .client
        .redeem_coupons(req(&me, redeem_request("o-1")))
        .await?
        .into_inner();
    assert_eq!(used.coupons[0].state(), pb::CouponState::Used);
    assert!(used.coupons[0].use_time.is_some());
    // Payment reported again (another key): the same coupons, used once.
    let again = h
        .client
        .redeem_coupons(req(&me, redeem_request("o-1")))
        .await?
        .into_inner();
    assert_eq!(again, used);
    // Paid orders do not give coupons back.
    let refund = expect_err(
        h.client
            .release_coupons(req(&me, release_request("o-1")))
            .await,
    )?;
    assert_precondition(&refund, "ORDER_ALREADY_PAID");
    let nothing = expect_err(
        h.client
            .redeem_coupons(req(&me, redeem_request("o-unknown")))
            .await,
    )?;
    assert_precondition(&nothing, "NO_COUPONS_FOR_ORDER");
    Ok(())
}

#[tokio::test]
async fn cp6_a_lock_is_all_or_none() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let batch = active(&mut h, tea_batch(&shop)).await?;
    let good = one_coupon(&mut h, &batch, "u1").await?;
    let needs_more = one_coupon(&mut h, &batch, "u1").await?;
    // The second coupon is held by another order: locking both for o-1 must lock neither.
    lock(
        &mut h,
        lock_request(
            &shop,
            "o-0",
            &[&needs_more],
            vec![line("green-1", "tea", 3, 4_000)],
        ),
    )
    .await?;
    let refused = expect_err(
        lock(
            &mut h,
            lock_request(
                &shop,
                "o-1",
                &[&good, &needs_more],
                vec![line("green-1", "tea", 3, 4_000)],
            ),
        )
        .await,
    )?;
    assert_precondition(&refused, "COUPON_LOCKED");
    let available = wallet(&mut h, "u1", pb::CouponState::Available).await?;
    assert_eq!(
        ids(&available),
        [good.coupon_id.as_str()],
        "nothing was locked"
    );
    let too_little = expect_err(
        lock(
            &mut h,
            lock_request(
                &shop,
                "o-1",
                &[&good],
                vec![line("green-1", "tea", 1, 4_000)],
            ),
        )
        .await,
    )?;
    assert_precondition(&too_little, "THRESHOLD_NOT_MET");
    Ok(())
}

#[tokio::test]
async fn cp6_cancellation_gives_back_coupons_that_are_still_valid() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let batch = active(&mut h, cash_batch(&shop, 500)).await?;
    let coupon = one_coupon(&mut h, &batch, "u1").await?;
    let late = one_coupon(&mut h, &batch, "u1").await?;
    let cart = vec![line("x", "y", 1, 1_000)];
    lock(&mut h, lock_request(&shop, "o-1", &[&coupon], cart.clone())).await?;
    let me = shopper("u1");
    let released = h
        .client
        .release_coupons(req(&me, release_request("o-1")))
        .await?
        .into_inner();
    assert_eq!(released.coupons[0].state(), pb::CouponState::Available);
    assert_eq!(released.coupons[0].order_id, "");
    // Usable again by another order.
    lock(&mut h, lock_request(&shop, "o-2", &[&coupon], cart.clone())).await?;
    // A coupon whose validity ends while its order is open comes back expired.
    lock(&mut h, lock_request(&shop, "o-3", &[&late], cart)).await?;
    h.clock.advance(Duration::days(8));
    let expired = h
        .client
        .release_coupons(req(&me, release_request("o-3")))
        .await?
        .into_inner();
    assert_eq!(expired.coupons[0].state(), pb::CouponState::Expired);
    Ok(())
}

#[tokio::test]
async fn cp8_statistics_count_issued_used_expired_and_the_use_rate() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let mut spec = cash_batch(&shop, 500);
    spec.per_issue_count = 2;
    let batch = active(&mut h, spec).await?;
    let mut coupons = Vec::new();
    for _ in 0..2 {
        coupons.extend(claim(&mut h, &batch, "u1").await?.coupons);
    }
    let cart = vec![line("x", "y", 1, 1_000)];
    lock(
        &mut h,
        lock_request(&shop, "o-1", &[&coupons[0]], cart.clone()),
    )
    .await?;
    h.client
        .redeem_coupons(req(&shopper("u1"), redeem_request("o-1")))
        .await?;
    lock(&mut h, lock_request(&shop, "o-2", &[&coupons[1]], cart)).await?;
    h.clock.advance(Duration::days(7));
    let request = pb::GetBatchStatisticsRequest {
        batch_id: batch.batch_id.clone(),
        shop_id: shop.clone(),
    };
    let stats = h
        .client
        .get_batch_statistics(req(&merchant(&shop), request.clone()))
        .await?
        .into_inner();
    assert_eq!(
        (
            stats.issues,
            stats.issued,
            stats.used,
            stats.locked,
            stats.expired,
            stats.available
        ),
        (2, 4, 1, 1, 2, 0)
    );
    assert_eq!(stats.use_rate_bp, 2_500);
    assert_eq!((stats.total_quantity, stats.remaining_quantity), (100, 98));
    let denied = expect_err(
        h.client
            .get_batch_statistics(req(&merchant(&new_shop()), request))
            .await,
    )?;
    assert_code(&denied, Code::PermissionDenied);
    Ok(())
}
