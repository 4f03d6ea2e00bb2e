//! CP-3 (and GP-2) through the gRPC interface on real Postgres: idempotency, status,
//! channel, claim window, stock, per-user limit, per-issue count, validity at claim, and a
//! transaction that fails midway.

mod support;

use std::collections::HashSet;

use chrono::Duration;
use memberhub_kit::clock::from_timestamp;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::CouponChannel;
use memberhub_proto::coupon as pb;
use support::*;
use tonic::Code;

#[tokio::test]
async fn cp3_an_issue_grants_per_issue_count_coupons_each_with_its_own_code() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_issue_count = 3;
    let batch = active(&mut h, spec).await?;
    let first = claim(&mut h, &batch, "u1").await?;
    let second = claim(&mut h, &batch, "u2").await?;
    assert_eq!((first.coupons.len(), second.coupons.len()), (3, 3));
    let codes: HashSet<&str> = first
        .coupons
        .iter()
        .chain(&second.coupons)
        .map(|c| c.code.as_str())
        .collect();
    assert_eq!(codes.len(), 6, "every coupon has its own code");
    for coupon in &first.coupons {
        assert_eq!(coupon.user_id, "u1");
        assert_eq!(coupon.batch_id, batch.batch_id);
        assert_eq!(coupon.batch_key, batch.batch_key);
        assert_eq!(coupon.state(), pb::CouponState::Available);
        assert_eq!(coupon.face_value_fen, 2_000);
    }
    let after = get_batch(&mut h, &batch.batch_id).await?;
    assert_eq!((after.remaining_quantity, after.issued_quantity), (98, 2));
    assert!(
        invariant_violations(&h.pool, &batch.batch_id, 3, 1)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn cp3_a_replayed_claim_returns_the_same_coupons_without_a_second_issue() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_user_limit = 5;
    let batch = active(&mut h, spec).await?;
    let request = claim_request(&batch, "u1");
    let me = shopper("u1");
    let first = h
        .client
        .issue_coupons(req(&me, request.clone()))
        .await?
        .into_inner();
    h.clock.advance(Duration::minutes(1));
    let again = h
        .client
        .issue_coupons(req(&me, request.clone()))
        .await?
        .into_inner();
    assert_eq!(first, again);
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.issues, 1);
    // The same key with a different request (another batch) is refused.
    let other = active(&mut h, batch_spec(&new_shop())).await?;
    let mut changed = request;
    changed.batch_id = other.batch_id.clone();
    let status = expect_err(h.client.issue_coupons(req(&me, changed)).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.issues, 1);
    Ok(())
}

#[tokio::test]
async fn x2_two_shoppers_may_use_the_same_key_string() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, batch_spec(&new_shop())).await?;
    for user in ["u1", "u2"] {
        let mut request = claim_request(&batch, user);
        request.request_id = "same-key".into();
        let issued = h
            .client
            .issue_coupons(req(&shopper(user), request))
            .await?
            .into_inner();
        assert_eq!(issued.coupons[0].user_id, user);
    }
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.issues, 2);
    Ok(())
}

#[tokio::test]
async fn cp3_only_active_batches_issue() -> TestResult {
    let mut h = start().await?;
    let draft = create(&mut h, batch_spec(&new_shop())).await?;
    let status = expect_err(claim(&mut h, &draft, "u1").await)?;
    assert_precondition(&status, "BATCH_NOT_ACTIVE");
    assert_eq!(counts(&h.pool, &draft.batch_id).await?.free, 100);
    Ok(())
}

#[tokio::test]
async fn cp3_the_claim_window_is_checked_and_a_refusal_stores_nothing() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.claim_start_time = ts(t0() + Duration::hours(1));
    let batch = active(&mut h, spec).await?;
    let request = claim_request(&batch, "u1");
    let me = shopper("u1");
    let early = expect_err(h.client.issue_coupons(req(&me, request.clone())).await)?;
    assert_precondition(&early, "CLAIM_NOT_STARTED");
    // The refusal kept no idempotency key: the same request succeeds once the window opens.
    h.clock.advance(Duration::hours(1));
    let issued = h
        .client
        .issue_coupons(req(&me, request.clone()))
        .await?
        .into_inner();
    assert_eq!(issued.coupons.len(), 1);
    h.clock.set(t0() + Duration::days(1));
    let late = expect_err(claim(&mut h, &batch, "u2").await)?;
    assert_precondition(&late, "CLAIM_ENDED");
    // A retry of the successful claim still answers what it answered.
    let replay = h
        .client
        .issue_coupons(req(&me, request))
        .await?
        .into_inner();
    assert_eq!(replay, issued);
    Ok(())
}

#[tokio::test]
async fn cp3_the_channel_must_be_the_batches() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.channel = CouponChannel::Crm.into();
    let batch = active(&mut h, spec).await?;
    let mut request = claim_request(&batch, "u1");
    request.channel = CouponChannel::General.into();
    let status = expect_err(
        h.client
            .issue_coupons(req(&merchant(&batch.shop_id), request))
            .await,
    )?;
    assert_precondition(&status, "CHANNEL_MISMATCH");
    // Shoppers claim GENERAL batches only.
    let request = claim_request(&batch, "u1");
    let status = expect_err(h.client.issue_coupons(req(&shopper("u1"), request)).await)?;
    assert_code(&status, Code::PermissionDenied);
    // The merchant issues its CRM batch.
    let request = claim_request(&batch, "u1");
    let issued = h
        .client
        .issue_coupons(req(&merchant(&batch.shop_id), request))
        .await?
        .into_inner();
    assert_eq!(issued.coupons.len(), 1);
    Ok(())
}

#[tokio::test]
async fn cp3_a_sprint_plan_batch_is_issued_only_by_a_service() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.channel = CouponChannel::SprintPlan.into();
    spec.per_issue_count = 2;
    spec.per_user_limit = 0;
    let batch = active(&mut h, spec).await?;
    let denied = expect_err(
        h.client
            .issue_coupons(req(&merchant(&batch.shop_id), claim_request(&batch, "u1")))
            .await,
    )?;
    assert_code(&denied, Code::PermissionDenied);
    let mut award = claim_request(&batch, "u1");
    award.campaign_claim_id = "sprint-award-u1".into();
    let issued = h
        .client
        .issue_coupons(req(&service(), award))
        .await?
        .into_inner();
    assert_eq!(issued.coupons.len(), 2);
    Ok(())
}

#[tokio::test]
async fn cp3_the_per_user_limit_holds() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_user_limit = 2;
    let batch = active(&mut h, spec).await?;
    claim(&mut h, &batch, "u1").await?;
    claim(&mut h, &batch, "u1").await?;
    let third = expect_err(claim(&mut h, &batch, "u1").await)?;
    assert_exhausted(&third, "PER_USER_LIMIT_REACHED");
    claim(&mut h, &batch, "u2").await?;
    let c = counts(&h.pool, &batch.batch_id).await?;
    assert_eq!((c.issues, c.free), (3, 97));
    Ok(())
}

#[tokio::test]
async fn cp3_an_unlimited_batch_issues_until_the_stock_is_gone() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.per_user_limit = 0;
    spec.total_quantity = 3;
    let batch = active(&mut h, spec).await?;
    for _ in 0..3 {
        claim(&mut h, &batch, "u1").await?;
    }
    let status = expect_err(claim(&mut h, &batch, "u1").await)?;
    assert_exhausted(&status, "OUT_OF_STOCK");
    let c = counts(&h.pool, &batch.batch_id).await?;
    assert_eq!((c.issues, c.free), (3, 0));
    Ok(())
}

#[tokio::test]
async fn cp3_relative_validity_starts_at_the_claim() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, batch_spec(&new_shop())).await?;
    h.clock.advance(Duration::hours(5));
    let issued = claim(&mut h, &batch, "u1").await?;
    let coupon = &issued.coupons[0];
    let from = coupon.valid_from_time.as_ref().and_then(from_timestamp);
    let until = coupon.valid_until_time.as_ref().and_then(from_timestamp);
    let claimed_at = t0() + Duration::hours(5);
    assert_eq!(from, Some(claimed_at));
    assert_eq!(until, Some(claimed_at + Duration::days(7)));
    Ok(())
}

#[tokio::test]
async fn cp3_absolute_validity_comes_from_the_batch() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.validity = absolute(t0() + Duration::days(1), t0() + Duration::days(2));
    let batch = active(&mut h, spec).await?;
    let issued = claim(&mut h, &batch, "u1").await?;
    let coupon = &issued.coupons[0];
    assert_eq!(
        coupon.valid_from_time.as_ref().and_then(from_timestamp),
        Some(t0() + Duration::days(1))
    );
    assert_eq!(
        coupon.valid_until_time.as_ref().and_then(from_timestamp),
        Some(t0() + Duration::days(2))
    );
    Ok(())
}

#[tokio::test]
async fn gp2_a_campaign_claim_gets_one_issue_whatever_the_batch_limit() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.channel = CouponChannel::Crm.into();
    spec.per_user_limit = 1;
    let batch = active(&mut h, spec).await?;
    // The shopper already holds the batch's limit through a direct issue.
    h.client
        .issue_coupons(req(&merchant(&batch.shop_id), claim_request(&batch, "u1")))
        .await?;
    let mut pack = claim_request(&batch, "u1");
    pack.campaign_claim_id = "pack-claim-1".into();
    let issued = h
        .client
        .issue_coupons(req(&service(), pack.clone()))
        .await?
        .into_inner();
    assert_eq!(issued.coupons.len(), 1);
    // The saga's retry with the same key answers the same.
    let replay = h
        .client
        .issue_coupons(req(&service(), pack.clone()))
        .await?
        .into_inner();
    assert_eq!(replay, issued);
    // A second issue for the same claim under another key is refused.
    pack.request_id = rid("pack");
    let twice = expect_err(h.client.issue_coupons(req(&service(), pack)).await)?;
    assert_precondition(&twice, "ALREADY_ISSUED_FOR_CLAIM");
    // Another claim (another pack) of the same shopper gets its own issue.
    let mut other = claim_request(&batch, "u1");
    other.campaign_claim_id = "pack-claim-2".into();
    h.client.issue_coupons(req(&service(), other)).await?;
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.issues, 3);
    Ok(())
}

#[tokio::test]
async fn cp3_a_claim_whose_transaction_fails_midway_leaves_no_coupon_and_no_consumed_stock()
-> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, batch_spec(&new_shop())).await?;
    // Make the coupon insert (after stock, counters and the key were written) fail for one
    // shopper, as a crash or a broken disk would.
    sqlx::raw_sql(
        "CREATE FUNCTION coupon.fail_for_boom() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.user_id = 'boom' THEN RAISE EXCEPTION 'injected failure'; END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER fail_for_boom BEFORE INSERT ON coupon.coupons
           FOR EACH ROW EXECUTE FUNCTION coupon.fail_for_boom();",
    )
    .execute(&h.pool)
    .await?;
    let request = claim_request(&batch, "boom");
    let me = shopper("boom");
    let status = expect_err(h.client.issue_coupons(req(&me, request.clone())).await)?;
    assert_code(&status, Code::Internal);
    let c = counts(&h.pool, &batch.batch_id).await?;
    assert_eq!((c.free, c.issues, c.coupons), (100, 0, 0));
    let leftovers: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM coupon.user_claims),
                (SELECT count(*) FROM coupon.idempotency_keys WHERE method = 'IssueCoupons')",
    )
    .fetch_one(&h.pool)
    .await?;
    assert_eq!(
        leftovers,
        (0, 0),
        "no counter and no key survive the failure"
    );
    let stock: i64 = sqlx::query_scalar("SELECT issued FROM coupon.stock")
        .fetch_one(&h.pool)
        .await?;
    assert_eq!(stock, 0);
    // Other shoppers are unaffected, and once the fault is gone the same request succeeds.
    claim(&mut h, &batch, "u1").await?;
    sqlx::raw_sql("DROP TRIGGER fail_for_boom ON coupon.coupons")
        .execute(&h.pool)
        .await?;
    let issued = h
        .client
        .issue_coupons(req(&me, request))
        .await?
        .into_inner();
    assert_eq!(issued.coupons.len(), 1);
    assert!(
        invariant_violations(&h.pool, &batch.batch_id, 1, 1)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn cp3_a_request_without_a_key_or_with_bad_fields_names_them() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, batch_spec(&new_shop())).await?;
    let mut request = claim_request(&batch, "u1");
    request.request_id = String::new();
    let status = expect_err(h.client.issue_coupons(req(&shopper("u1"), request)).await)?;
    assert_invalid(&status, "request_id");
    let mut request = claim_request(&batch, "u1");
    request.batch_id = "nope".into();
    request.channel = CouponChannel::Unspecified.into();
    let status = expect_err(h.client.issue_coupons(req(&shopper("u1"), request)).await)?;
    assert_invalid(&status, "batch_id");
    assert_invalid(&status, "channel");
    let mut request = claim_request(&batch, "u1");
    request.batch_id = uuid::Uuid::now_v7().to_string();
    let status = expect_err(h.client.issue_coupons(req(&shopper("u1"), request)).await)?;
    assert_code(&status, Code::NotFound);
    Ok(())
}

/// One `BatchIssueCoupons` request for `user` under campaign claim `claim`.
fn campaign_issue(batch: &pb::Batch, user: &str, claim: &str) -> pb::IssueCouponsRequest {
    pb::IssueCouponsRequest {
        request_id: format!("batch-{user}-{claim}"),
        batch_id: batch.batch_id.clone(),
        user_id: user.into(),
        channel: CouponChannel::Interactive.into(),
        campaign_claim_id: claim.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn cp3_a_batch_of_issues_answers_each_request_on_its_own_and_replays_the_same() -> TestResult
{
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.channel = CouponChannel::Interactive.into();
    spec.per_issue_count = 2;
    spec.total_quantity = 3;
    let batch = active(&mut h, spec).await?;
    let requests = vec![
        campaign_issue(&batch, "u1", "c1"),
        campaign_issue(&batch, "u2", "c2"),
        campaign_issue(&batch, "", "c-bad"),
        campaign_issue(&batch, "u3", "c3"),
        campaign_issue(&batch, "u4", "c4"),
    ];
    let call = pb::BatchIssueCouponsRequest {
        requests: requests.clone(),
    };
    let first = h
        .client
        .batch_issue_coupons(req(&service(), call.clone()))
        .await?
        .into_inner();
    assert_eq!(first.results.len(), 5, "one result per request, in order");
    let bad = &first.results[2];
    assert_eq!(bad.code, Code::InvalidArgument as i32);
    assert!(bad.message.contains("requests[2].user_id"), "{bad:?}");
    let issued: Vec<&pb::BatchIssueResult> = first.results.iter().filter(|r| r.code == 0).collect();
    assert_eq!(issued.len(), 3, "3 units of stock: {first:?}");
    assert!(issued.iter().all(|r| r.coupons.len() == 2));
    let short: Vec<&pb::BatchIssueResult> = first
        .results
        .iter()
        .filter(|r| r.code == Code::ResourceExhausted as i32)
        .collect();
    assert_eq!(short.len(), 1, "{first:?}");
    assert_eq!(short[0].reason, "OUT_OF_STOCK");

    // the same call again answers each issued request with the same coupons
    let again = h
        .client
        .batch_issue_coupons(req(&service(), call))
        .await?
        .into_inner();
    for (before, after) in first.results.iter().zip(&again.results) {
        if before.code == 0 {
            assert_eq!(before.coupons, after.coupons);
        }
    }
    let after = get_batch(&mut h, &batch.batch_id).await?;
    assert_eq!(after.remaining_quantity, 0);

    // a merchant may not issue campaign coupons, request by request; an empty call is a 400
    let merchant_call = h
        .client
        .batch_issue_coupons(req(
            &merchant(&batch.shop_id),
            pb::BatchIssueCouponsRequest {
                requests: vec![campaign_issue(&batch, "u9", "c9")],
            },
        ))
        .await?
        .into_inner();
    assert_eq!(merchant_call.results[0].code, Code::PermissionDenied as i32);
    let empty = h
        .client
        .batch_issue_coupons(req(&service(), pb::BatchIssueCouponsRequest::default()))
        .await;
    assert_eq!(empty.err().map(|s| s.code()), Some(Code::InvalidArgument));
    Ok(())
}
