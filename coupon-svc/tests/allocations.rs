//! CP-4 allocations and OC-6 binding through the gRPC interface: the RPCs campaign-svc
//! calls as a saga participant.

mod support;

use chrono::Duration;
use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::CouponChannel;
use memberhub_proto::coupon as pb;
use support::*;
use tonic::Code;

fn reserve_request(batch: &pb::Batch, quantity: i64) -> pb::ReserveAllocationRequest {
    pb::ReserveAllocationRequest {
        request_id: rid("reserve"),
        batch_id: batch.batch_id.clone(),
        channel: batch.channel,
        holder: "campaign-1".into(),
        quantity,
        ..Default::default()
    }
}

async fn reserve(
    h: &mut Harness,
    actor: &Actor,
    request: pb::ReserveAllocationRequest,
) -> Result<pb::Allocation, tonic::Status> {
    Ok(h.client
        .reserve_allocation(req(actor, request))
        .await?
        .into_inner())
}

async fn release(
    h: &mut Harness,
    allocation: &pb::Allocation,
) -> Result<pb::Allocation, tonic::Status> {
    let request = pb::ReleaseAllocationRequest {
        request_id: rid("release"),
        allocation_id: allocation.allocation_id.clone(),
    };
    Ok(h.client
        .release_allocation(req(&service(), request))
        .await?
        .into_inner())
}

fn issue_against(
    allocation: &pb::Allocation,
    batch: &pb::Batch,
    user: &str,
) -> pb::IssueCouponsRequest {
    let mut request = claim_request(batch, user);
    request.allocation_id = allocation.allocation_id.clone();
    request.campaign_claim_id = format!("claim-{user}");
    request
}

fn crm_batch(shop: &str, quantity: i64) -> pb::Batch {
    let mut spec = batch_spec(shop);
    spec.channel = CouponChannel::Crm.into();
    spec.total_quantity = quantity;
    spec
}

fn interactive_batch(shop: &str) -> pb::Batch {
    let mut spec = batch_spec(shop);
    spec.channel = CouponChannel::Interactive.into();
    spec
}

#[tokio::test]
async fn cp4_a_reservation_takes_units_off_the_free_stock_idempotently() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, crm_batch(&new_shop(), 100)).await?;
    let request = reserve_request(&batch, 30);
    let allocation = reserve(&mut h, &service(), request.clone()).await?;
    assert_eq!(
        (allocation.reserved, allocation.remaining, allocation.issued),
        (30, 30, 0)
    );
    assert!(!allocation.released && !allocation.bound);
    // The saga's retry reserves nothing more.
    let again = reserve(&mut h, &service(), request).await?;
    assert_eq!(again, allocation);
    let after = get_batch(&mut h, &batch.batch_id).await?;
    assert_eq!(
        (after.remaining_quantity, after.reserved_quantity),
        (70, 30)
    );
    // More than is free is refused as exhausted, reserving nothing.
    let too_much = expect_err(reserve(&mut h, &service(), reserve_request(&batch, 71)).await)?;
    assert_exhausted(&too_much, "INSUFFICIENT_STOCK");
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.free, 70);
    Ok(())
}

#[tokio::test]
async fn cp4_reserved_units_are_unavailable_to_everyone_else() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, crm_batch(&new_shop(), 3)).await?;
    let allocation = reserve(&mut h, &service(), reserve_request(&batch, 2)).await?;
    let me = merchant(&batch.shop_id);
    h.client
        .issue_coupons(req(&me, claim_request(&batch, "u1")))
        .await?;
    let out = expect_err(
        h.client
            .issue_coupons(req(&me, claim_request(&batch, "u2")))
            .await,
    )?;
    assert_exhausted(&out, "OUT_OF_STOCK");
    // The campaign still gets its two.
    for user in ["p1", "p2"] {
        h.client
            .issue_coupons(req(&service(), issue_against(&allocation, &batch, user)))
            .await?;
    }
    let third = expect_err(
        h.client
            .issue_coupons(req(&service(), issue_against(&allocation, &batch, "p3")))
            .await,
    )?;
    assert_exhausted(&third, "OUT_OF_STOCK");
    let got = h
        .client
        .get_allocation(req(
            &service(),
            pb::GetAllocationRequest {
                allocation_id: allocation.allocation_id.clone(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!((got.issued, got.remaining), (2, 0));
    Ok(())
}

#[tokio::test]
async fn cp4_releasing_returns_the_unissued_units_once() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, crm_batch(&new_shop(), 10)).await?;
    let allocation = reserve(&mut h, &service(), reserve_request(&batch, 6)).await?;
    h.client
        .issue_coupons(req(&service(), issue_against(&allocation, &batch, "p1")))
        .await?;
    let released = release(&mut h, &allocation).await?;
    assert!(released.released);
    assert_eq!((released.issued, released.remaining), (1, 0));
    let after = get_batch(&mut h, &batch.batch_id).await?;
    assert_eq!(
        (
            after.remaining_quantity,
            after.reserved_quantity,
            after.issued_quantity
        ),
        (9, 0, 1)
    );
    // Releasing again changes nothing.
    let twice = release(&mut h, &allocation).await?;
    assert_eq!(twice, released);
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.free, 9);
    // Issues against a released allocation are refused.
    let late = expect_err(
        h.client
            .issue_coupons(req(&service(), issue_against(&allocation, &batch, "p2")))
            .await,
    )?;
    assert_precondition(&late, "ALLOCATION_RELEASED");
    assert!(
        invariant_violations(&h.pool, &batch.batch_id, 1, 1)
            .await?
            .is_empty()
    );
    Ok(())
}

#[tokio::test]
async fn cp9_only_active_batches_are_allocated_and_the_channel_must_match() -> TestResult {
    let mut h = start().await?;
    let draft = create(&mut h, crm_batch(&new_shop(), 10)).await?;
    let status = expect_err(reserve(&mut h, &service(), reserve_request(&draft, 1)).await)?;
    assert_precondition(&status, "BATCH_NOT_ACTIVE");
    let batch = active(&mut h, crm_batch(&new_shop(), 10)).await?;
    let mut wrong = reserve_request(&batch, 1);
    wrong.channel = CouponChannel::Interactive.into();
    let status = expect_err(reserve(&mut h, &service(), wrong).await)?;
    assert_precondition(&status, "CHANNEL_MISMATCH");
    let mut bad = reserve_request(&batch, 0);
    bad.holder = String::new();
    let status = expect_err(reserve(&mut h, &service(), bad).await)?;
    assert_invalid(&status, "quantity");
    assert_invalid(&status, "holder");
    Ok(())
}

#[tokio::test]
async fn x1_shoppers_cannot_reserve_and_merchants_only_their_own_batches() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, crm_batch(&new_shop(), 10)).await?;
    let status = expect_err(reserve(&mut h, &shopper("u1"), reserve_request(&batch, 1)).await)?;
    assert_code(&status, Code::PermissionDenied);
    let status =
        expect_err(reserve(&mut h, &merchant(&new_shop()), reserve_request(&batch, 1)).await)?;
    assert_code(&status, Code::PermissionDenied);
    reserve(
        &mut h,
        &merchant(&batch.shop_id),
        reserve_request(&batch, 1),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn cp7_a_batch_cannot_close_while_a_campaign_holds_units_of_it() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, crm_batch(&new_shop(), 10)).await?;
    let allocation = reserve(&mut h, &service(), reserve_request(&batch, 4)).await?;
    let close = || pb::CloseBatchRequest {
        request_id: rid("close"),
        batch_id: batch.batch_id.clone(),
        shop_id: batch.shop_id.clone(),
    };
    let me = merchant(&batch.shop_id);
    let refused = expect_err(h.client.close_batch(req(&me, close())).await)?;
    assert_precondition(&refused, "BATCH_IN_USE_BY_CAMPAIGN");
    release(&mut h, &allocation).await?;
    let closed = h.client.close_batch(req(&me, close())).await?.into_inner();
    assert_eq!(closed.status(), pb::BatchStatus::Closed);
    Ok(())
}

fn bind_request(batch: &pb::Batch, quantity: i64) -> pb::ReserveAllocationRequest {
    let mut request = reserve_request(batch, quantity);
    request.bind = true;
    request.claim_start_time = ts(t0());
    request.claim_end_time = ts(t0() + Duration::hours(12));
    request
}

#[tokio::test]
async fn oc6_a_bound_batch_is_claimable_only_through_its_campaign_within_its_window() -> TestResult
{
    let mut h = start().await?;
    let batch = active(&mut h, interactive_batch(&new_shop())).await?;
    let allocation = reserve(&mut h, &service(), bind_request(&batch, 10)).await?;
    assert!(allocation.bound);
    let bound = get_batch(&mut h, &batch.batch_id).await?;
    assert_eq!(bound.bound_allocation_id, allocation.allocation_id);
    // The batch shows the binding and the window it is really claimable in: the campaign's.
    assert_eq!(bound.bound_holder, allocation.holder);
    assert_eq!(bound.effective_claim_start_time, ts(t0()));
    assert_eq!(
        bound.effective_claim_end_time,
        ts(t0() + Duration::hours(12))
    );
    assert_ne!(bound.effective_claim_end_time, bound.claim_end_time);
    // Not through the free stock, not through another campaign.
    let mut direct = claim_request(&batch, "u1");
    direct.campaign_claim_id = "elsewhere".into();
    let status = expect_err(h.client.issue_coupons(req(&service(), direct)).await)?;
    assert_precondition(&status, "BATCH_BOUND_TO_CAMPAIGN");
    let mut other = reserve_request(&batch, 1);
    other.holder = "campaign-2".into();
    let status = expect_err(reserve(&mut h, &service(), other).await)?;
    assert_precondition(&status, "BATCH_ALREADY_BOUND");
    // Through the campaign, within its window (the campaign's, narrower than the batch's).
    h.client
        .issue_coupons(req(&service(), issue_against(&allocation, &batch, "p1")))
        .await?;
    h.clock.advance(Duration::hours(12));
    let late = expect_err(
        h.client
            .issue_coupons(req(&service(), issue_against(&allocation, &batch, "p2")))
            .await,
    )?;
    assert_precondition(&late, "CLAIM_ENDED");
    // Closing the campaign releases the units and lifts the binding.
    let released = release(&mut h, &allocation).await?;
    assert_eq!(released.issued, 1);
    let after = get_batch(&mut h, &batch.batch_id).await?;
    assert_eq!(after.bound_allocation_id, "");
    assert_eq!(after.bound_holder, "");
    assert_eq!(after.effective_claim_end_time, after.claim_end_time);
    assert_eq!(after.remaining_quantity, 99);
    Ok(())
}

#[tokio::test]
async fn oc6_binding_needs_interactive_relative_and_a_covering_claim_window() -> TestResult {
    let mut h = start().await?;
    let crm = active(&mut h, crm_batch(&new_shop(), 10)).await?;
    let status = expect_err(reserve(&mut h, &service(), bind_request(&crm, 1)).await)?;
    assert_precondition(&status, "CHANNEL_NOT_INTERACTIVE");
    let mut spec = interactive_batch(&new_shop());
    spec.validity = absolute(t0(), t0() + Duration::days(3));
    let absolute_batch = active(&mut h, spec).await?;
    let status = expect_err(reserve(&mut h, &service(), bind_request(&absolute_batch, 1)).await)?;
    assert_precondition(&status, "VALIDITY_NOT_RELATIVE");
    let batch = active(&mut h, interactive_batch(&new_shop())).await?;
    let mut wide = bind_request(&batch, 1);
    wide.claim_end_time = ts(t0() + Duration::days(2));
    let status = expect_err(reserve(&mut h, &service(), wide).await)?;
    assert_precondition(&status, "CLAIM_WINDOW_NOT_COVERED");
    // Equal windows are accepted on purpose (OC-6).
    let mut equal = bind_request(&batch, 1);
    equal.claim_start_time = batch.claim_start_time;
    equal.claim_end_time = batch.claim_end_time;
    reserve(&mut h, &service(), equal).await?;
    let mut no_window = bind_request(&batch, 1);
    no_window.claim_start_time = None;
    no_window.claim_end_time = None;
    let status = expect_err(reserve(&mut h, &service(), no_window).await)?;
    assert_invalid(&status, "claim_start_time");
    Ok(())
}

#[tokio::test]
async fn oc6_a_batch_another_campaign_holds_units_of_cannot_be_bound() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, interactive_batch(&new_shop())).await?;
    reserve(&mut h, &service(), reserve_request(&batch, 5)).await?;
    let status = expect_err(reserve(&mut h, &service(), bind_request(&batch, 5)).await)?;
    assert_precondition(&status, "BATCH_ALREADY_ALLOCATED");
    // The refusal reserved nothing.
    assert_eq!(counts(&h.pool, &batch.batch_id).await?.free, 95);
    Ok(())
}

/// The saga barrier (DTM's disorder cases): a compensation that arrives before its
/// action closes the key, so the late action is refused for good and issues nothing; an
/// action that was applied is reported as applied; a merchant cannot abort anything.
#[tokio::test]
async fn saga_barrier_an_action_arriving_after_its_abort_is_refused_and_issues_nothing()
-> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, crm_batch(&new_shop(), 10)).await?;
    let abort = |request_id: &str| pb::AbortStepRequest {
        method: "IssueCoupons".into(),
        request_id: request_id.into(),
    };
    // The compensation first: nothing was applied; the key is closed.
    let mut late = claim_request(&batch, "u1");
    let aborted = h
        .client
        .abort_step(req(&service(), abort(&late.request_id)))
        .await?
        .into_inner();
    assert!(!aborted.applied);
    late.channel = CouponChannel::Crm.into();
    let refused = expect_err(h.client.issue_coupons(req(&service(), late.clone())).await)?;
    assert_precondition(&refused, "REQUEST_ABORTED");
    // Aborting again changes nothing; the late action still issues nothing.
    assert!(
        !h.client
            .abort_step(req(&service(), abort(&late.request_id)))
            .await?
            .into_inner()
            .applied
    );
    assert_eq!(get_batch(&mut h, &batch.batch_id).await?.issued_quantity, 0);
    // An action that was applied is reported so (the compensator must go forward instead).
    let done = claim_request(&batch, "u2");
    h.client
        .issue_coupons(req(&service(), done.clone()))
        .await?;
    assert!(
        h.client
            .abort_step(req(&service(), abort(&done.request_id)))
            .await?
            .into_inner()
            .applied
    );
    // The applied request's retry still gets its answer.
    h.client.issue_coupons(req(&service(), done)).await?;
    assert_eq!(get_batch(&mut h, &batch.batch_id).await?.issued_quantity, 1);
    // Only services and operators abort; only the saga's own method.
    let status = expect_err(
        h.client
            .abort_step(req(&merchant(&batch.shop_id), abort("k")))
            .await,
    )?;
    assert_eq!(status.code(), Code::PermissionDenied);
    let mut other = abort("k");
    other.method = "CreateBatch".into();
    let status = expect_err(h.client.abort_step(req(&service(), other)).await)?;
    assert_eq!(status.code(), Code::InvalidArgument);
    Ok(())
}
