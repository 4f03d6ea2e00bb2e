//! CP-1, CP-2, CP-7, CP-9 and SP-7 through the gRPC interface on real Postgres: batch
//! fields, validation with the field named, the status machine, keys, tenancy, listing.

mod support;

use chrono::Duration;
use memberhub_kit::testing::TestResult;
use memberhub_proto::common::{CouponChannel, ShopType};
use memberhub_proto::coupon as pb;
use support::*;
use tonic::Code;

async fn create_err(h: &mut Harness, batch: pb::Batch) -> anyhow::Result<tonic::Status> {
    expect_err(create(h, batch).await)
}

#[tokio::test]
async fn cp1_create_keeps_every_field_as_a_draft_with_a_ba_key() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let mut spec = batch_spec(&shop);
    spec.item_scope = Some(pb::ItemScope {
        categories: vec!["tea".into()],
        skus: vec!["cup-1".into()],
    });
    spec.regions = vec!["310000".into(), "110000".into()];
    spec.per_user_limit = 2;
    spec.per_issue_count = 3;
    spec.giftable = true;
    let batch = create(&mut h, spec.clone()).await?;
    assert_eq!(batch.status(), pb::BatchStatus::Draft);
    let key = batch.batch_key.as_str();
    assert!(
        key.len() == 10
            && key.starts_with("BA_")
            && key[3..]
                .bytes()
                .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b)),
        "{key}"
    );
    assert_eq!(batch.shop_id, shop);
    assert_eq!(batch.internal_name, spec.internal_name);
    assert_eq!(batch.kind(), pb::CouponKind::Threshold);
    assert_eq!((batch.face_value_fen, batch.threshold_fen), (2_000, 10_000));
    assert_eq!(batch.item_scope, spec.item_scope);
    assert_eq!(batch.regions, spec.regions);
    assert_eq!(batch.channel(), CouponChannel::General);
    assert_eq!(
        (
            batch.total_quantity,
            batch.per_user_limit,
            batch.per_issue_count
        ),
        (100, 2, 3)
    );
    assert!(batch.giftable);
    assert_eq!(batch.claim_start_time, spec.claim_start_time);
    assert_eq!(batch.claim_end_time, spec.claim_end_time);
    assert_eq!(batch.validity, spec.validity);
    assert_eq!(batch.remaining_quantity, 100);
    assert_eq!(batch.shop_type(), ShopType::Pop);
    Ok(())
}

#[tokio::test]
async fn cp1_a_batch_is_found_by_its_key_and_by_its_id() -> TestResult {
    let mut h = start().await?;
    let batch = create(&mut h, batch_spec(&new_shop())).await?;
    let by_key = get_batch(&mut h, &batch.batch_key).await?;
    let by_id = get_batch(&mut h, &batch.batch_id).await?;
    assert_eq!(by_key, batch);
    assert_eq!(by_id, batch);
    let missing = pb::GetBatchRequest {
        shop_id: String::new(),
        batch: "BA_aaaaaaa".into(),
    };
    let missing = expect_err(h.client.get_batch(req(&operator(), missing)).await)?;
    assert_code(&missing, Code::NotFound);
    let malformed = pb::GetBatchRequest {
        shop_id: String::new(),
        batch: "BA_".into(),
    };
    let malformed = expect_err(h.client.get_batch(req(&operator(), malformed)).await)?;
    assert_invalid(&malformed, "batch");
    Ok(())
}

#[tokio::test]
async fn cp2_rejects_threshold_not_above_face_value() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.threshold_fen = spec.face_value_fen;
    assert_invalid(&create_err(&mut h, spec).await?, "batch.threshold_fen");
    Ok(())
}

#[tokio::test]
async fn cp2_rejects_a_face_value_that_is_not_positive() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.kind = pb::CouponKind::Cash.into();
    spec.threshold_fen = 0;
    spec.face_value_fen = 0;
    assert_invalid(&create_err(&mut h, spec).await?, "batch.face_value_fen");
    Ok(())
}

#[tokio::test]
async fn cp2_rejects_a_discount_outside_1_to_99_percent() -> TestResult {
    let mut h = start().await?;
    for percent in [0, 100] {
        let mut spec = batch_spec(&new_shop());
        spec.kind = pb::CouponKind::Discount.into();
        spec.face_value_fen = 0;
        spec.threshold_fen = 0;
        spec.discount_percent = percent;
        assert_invalid(&create_err(&mut h, spec).await?, "batch.discount_percent");
    }
    let mut spec = batch_spec(&new_shop());
    spec.kind = pb::CouponKind::Discount.into();
    spec.face_value_fen = 0;
    spec.threshold_fen = 0;
    spec.discount_percent = 15;
    spec.discount_cap_fen = 3_000;
    let batch = create(&mut h, spec).await?;
    assert_eq!(
        (batch.discount_percent, batch.discount_cap_fen),
        (15, 3_000)
    );
    Ok(())
}

#[tokio::test]
async fn cp2_rejects_windows_that_do_not_end_after_they_start() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.claim_end_time = spec.claim_start_time;
    assert_invalid(&create_err(&mut h, spec).await?, "batch.claim_end_time");
    let mut spec = batch_spec(&new_shop());
    spec.validity = absolute(t0() + Duration::days(2), t0() + Duration::days(1));
    assert_invalid(&create_err(&mut h, spec).await?, "batch.validity.end_time");
    Ok(())
}

#[tokio::test]
async fn cp2_rejects_relative_days_outside_1_to_365() -> TestResult {
    let mut h = start().await?;
    for days in [0, 366] {
        let mut spec = batch_spec(&new_shop());
        spec.validity = Some(pb::Validity {
            kind: pb::ValidityKind::Relative.into(),
            relative_days: days,
            ..Default::default()
        });
        assert_invalid(
            &create_err(&mut h, spec).await?,
            "batch.validity.relative_days",
        );
    }
    Ok(())
}

#[tokio::test]
async fn cp2_rejects_a_quantity_below_one() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.total_quantity = 0;
    assert_invalid(&create_err(&mut h, spec).await?, "batch.total_quantity");
    Ok(())
}

#[tokio::test]
async fn cp2_reports_every_bad_field_at_once() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.internal_name = String::new();
    spec.kind = pb::CouponKind::Unspecified.into();
    spec.channel = CouponChannel::Unspecified.into();
    spec.per_issue_count = 0;
    spec.validity = None;
    let status = create_err(&mut h, spec).await?;
    for field in [
        "batch.internal_name",
        "batch.kind",
        "batch.channel",
        "batch.per_issue_count",
        "batch.validity.kind",
    ] {
        assert_invalid(&status, field);
    }
    Ok(())
}

#[tokio::test]
async fn cp1_whole_hour_validity_must_fall_on_hours() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    let mut validity = absolute(t0(), t0() + Duration::minutes(90));
    if let Some(v) = validity.as_mut() {
        v.whole_hours = true;
    }
    spec.validity = validity;
    assert_invalid(&create_err(&mut h, spec).await?, "batch.validity.end_time");
    Ok(())
}

#[tokio::test]
async fn x1_a_merchant_creates_batches_for_its_own_shop_only() -> TestResult {
    let mut h = start().await?;
    let spec = batch_spec(&new_shop());
    let request = pb::CreateBatchRequest {
        request_id: rid("create"),
        batch: Some(spec),
    };
    let status = expect_err(
        h.client
            .create_batch(req(&merchant(&new_shop()), request.clone()))
            .await,
    )?;
    assert_code(&status, Code::PermissionDenied);
    let status = expect_err(h.client.create_batch(req(&shopper("u1"), request)).await)?;
    assert_code(&status, Code::PermissionDenied);
    Ok(())
}

#[tokio::test]
async fn x2_create_replay_returns_the_same_batch_and_a_changed_body_is_refused() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let request = pb::CreateBatchRequest {
        request_id: rid("create"),
        batch: Some(batch_spec(&shop)),
    };
    let me = merchant(&shop);
    let first = h
        .client
        .create_batch(req(&me, request.clone()))
        .await?
        .into_inner();
    let again = h
        .client
        .create_batch(req(&me, request.clone()))
        .await?
        .into_inner();
    assert_eq!(first, again);
    let mut changed = request;
    if let Some(b) = changed.batch.as_mut() {
        b.total_quantity = 5;
    }
    let status = expect_err(h.client.create_batch(req(&me, changed)).await)?;
    assert_precondition(&status, "IDEMPOTENCY_KEY_REUSED");
    let listed = h
        .client
        .list_batches(req(
            &me,
            pb::ListBatchesRequest {
                shop_id: shop,
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(listed.total_size, 1);
    Ok(())
}

#[tokio::test]
async fn cp1_a_pop_shops_batch_goes_active_on_submit() -> TestResult {
    let mut h = start().await?;
    let batch = create(&mut h, batch_spec(&new_shop())).await?;
    let submitted = submit(&mut h, &batch).await?;
    assert_eq!(submitted.status(), pb::BatchStatus::Active);
    let again = expect_err(submit(&mut h, &batch).await)?;
    assert_precondition(&again, "INVALID_BATCH_TRANSITION");
    Ok(())
}

#[tokio::test]
async fn cp9_a_self_operated_batch_waits_for_an_operator_who_approves_it() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.shop_type = ShopType::SelfOperated.into();
    let batch = create(&mut h, spec).await?;
    let pending = submit(&mut h, &batch).await?;
    assert_eq!(pending.status(), pb::BatchStatus::PendingApproval);
    // Pending batches issue nothing.
    let refused = expect_err(claim(&mut h, &pending, "u1").await)?;
    assert_precondition(&refused, "BATCH_NOT_ACTIVE");
    // The merchant cannot approve its own batch.
    let approve = pb::ApproveBatchRequest {
        request_id: rid("approve"),
        batch_id: batch.batch_id.clone(),
    };
    let denied = expect_err(
        h.client
            .approve_batch(req(&merchant(&batch.shop_id), approve.clone()))
            .await,
    )?;
    assert_code(&denied, Code::PermissionDenied);
    let approved = h
        .client
        .approve_batch(req(&operator(), approve))
        .await?
        .into_inner();
    assert_eq!(approved.status(), pb::BatchStatus::Active);
    claim(&mut h, &approved, "u1").await?;
    Ok(())
}

#[tokio::test]
async fn cp9_an_operator_rejects_a_pending_batch_with_a_reason() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.shop_type = ShopType::SelfOperated.into();
    let batch = create(&mut h, spec).await?;
    let reject = |reason: &str| pb::RejectBatchRequest {
        request_id: rid("reject"),
        batch_id: batch.batch_id.clone(),
        reason: reason.into(),
    };
    // Only pending batches can be rejected.
    let early = expect_err(
        h.client
            .reject_batch(req(&operator(), reject("too generous")))
            .await,
    )?;
    assert_precondition(&early, "INVALID_BATCH_TRANSITION");
    submit(&mut h, &batch).await?;
    let no_reason = expect_err(h.client.reject_batch(req(&operator(), reject(" "))).await)?;
    assert_invalid(&no_reason, "reason");
    let rejected = h
        .client
        .reject_batch(req(&operator(), reject("face value too generous")))
        .await?
        .into_inner();
    assert_eq!(rejected.status(), pb::BatchStatus::Closed);
    assert_eq!(rejected.reject_reason, "face value too generous");
    let approve = pb::ApproveBatchRequest {
        request_id: rid("approve"),
        batch_id: batch.batch_id.clone(),
    };
    let late = expect_err(h.client.approve_batch(req(&operator(), approve)).await)?;
    assert_precondition(&late, "INVALID_BATCH_TRANSITION");
    Ok(())
}

fn close_request(batch: &pb::Batch) -> pb::CloseBatchRequest {
    pb::CloseBatchRequest {
        request_id: rid("close"),
        batch_id: batch.batch_id.clone(),
        shop_id: batch.shop_id.clone(),
    }
}

#[tokio::test]
async fn cp7_a_closed_batch_stops_issuing() -> TestResult {
    let mut h = start().await?;
    let batch = active(&mut h, batch_spec(&new_shop())).await?;
    claim(&mut h, &batch, "u1").await?;
    let me = merchant(&batch.shop_id);
    let closed = h
        .client
        .close_batch(req(&me, close_request(&batch)))
        .await?
        .into_inner();
    assert_eq!(closed.status(), pb::BatchStatus::Closed);
    let refused = expect_err(claim(&mut h, &batch, "u2").await)?;
    assert_precondition(&refused, "BATCH_NOT_ACTIVE");
    let twice = expect_err(h.client.close_batch(req(&me, close_request(&batch))).await)?;
    assert_precondition(&twice, "INVALID_BATCH_TRANSITION");
    // Another merchant cannot close it.
    let other = expect_err(
        h.client
            .close_batch(req(&merchant(&new_shop()), close_request(&batch)))
            .await,
    )?;
    assert_code(&other, Code::PermissionDenied);
    Ok(())
}

#[tokio::test]
async fn cp7_a_sprint_plan_batch_cannot_be_closed_but_a_service_may_end_it() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.channel = CouponChannel::SprintPlan.into();
    spec.per_issue_count = 2;
    spec.per_user_limit = 0;
    let batch = active(&mut h, spec).await?;
    let me = merchant(&batch.shop_id);
    let refused = expect_err(h.client.close_batch(req(&me, close_request(&batch))).await)?;
    assert_precondition(&refused, "SPRINT_PLAN_BATCH_CANNOT_CLOSE");
    let end = pb::EndBatchRequest {
        request_id: rid("end"),
        batch_id: batch.batch_id.clone(),
    };
    let denied = expect_err(h.client.end_batch(req(&me, end.clone())).await)?;
    assert_code(&denied, Code::PermissionDenied);
    let ended = h.client.end_batch(req(&service(), end)).await?.into_inner();
    assert_eq!(ended.status(), pb::BatchStatus::Ended);
    Ok(())
}

#[tokio::test]
async fn cp1_an_active_batch_reads_ended_once_no_coupon_can_be_valid() -> TestResult {
    let mut h = start().await?;
    let mut spec = batch_spec(&new_shop());
    spec.validity = absolute(t0(), t0() + Duration::days(3));
    let batch = active(&mut h, spec).await?;
    h.clock.advance(Duration::days(3) - Duration::seconds(1));
    assert_eq!(
        get_batch(&mut h, &batch.batch_id).await?.status(),
        pb::BatchStatus::Active
    );
    h.clock.advance(Duration::seconds(1));
    assert_eq!(
        get_batch(&mut h, &batch.batch_id).await?.status(),
        pb::BatchStatus::Ended
    );
    let listed = h
        .client
        .list_batches(req(
            &merchant(&batch.shop_id),
            pb::ListBatchesRequest {
                shop_id: batch.shop_id.clone(),
                status: pb::BatchStatus::Ended.into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(listed.total_size, 1);
    Ok(())
}

#[tokio::test]
async fn cp1_shoppers_never_see_the_internal_name_nor_unpublished_batches() -> TestResult {
    let mut h = start().await?;
    let draft = create(&mut h, batch_spec(&new_shop())).await?;
    let get = |batch: &str| pb::GetBatchRequest {
        shop_id: String::new(),
        batch: batch.into(),
    };
    let hidden = expect_err(
        h.client
            .get_batch(req(&shopper("u1"), get(&draft.batch_id)))
            .await,
    )?;
    assert_code(&hidden, Code::NotFound);
    let live = submit(&mut h, &draft).await?;
    let seen = h
        .client
        .get_batch(req(&shopper("u1"), get(&live.batch_key)))
        .await?
        .into_inner();
    assert_eq!(seen.internal_name, "");
    assert_eq!(seen.face_value_fen, live.face_value_fen);
    let merchant_view = h
        .client
        .get_batch(req(&merchant(&live.shop_id), get(&live.batch_id)))
        .await?
        .into_inner();
    assert_eq!(merchant_view.internal_name, live.internal_name);
    Ok(())
}

#[tokio::test]
async fn cp1_merchants_page_through_their_own_batches_and_operators_see_pending_ones() -> TestResult
{
    let mut h = start().await?;
    let shop = new_shop();
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(create(&mut h, batch_spec(&shop)).await?.batch_id);
    }
    let mut own = batch_spec(&new_shop());
    own.shop_type = ShopType::SelfOperated.into();
    let pending = create(&mut h, own).await?;
    submit(&mut h, &pending).await?;
    let me = merchant(&shop);
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = h
            .client
            .list_batches(req(
                &me,
                pb::ListBatchesRequest {
                    shop_id: shop.clone(),
                    page_size: 2,
                    page_token: token.clone(),
                    ..Default::default()
                },
            ))
            .await?
            .into_inner();
        assert_eq!(page.total_size, 5);
        seen.extend(page.batches.into_iter().map(|b| b.batch_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    ids.reverse();
    assert_eq!(seen, ids, "newest first, each once");
    let denied = expect_err(
        h.client
            .list_batches(req(
                &merchant(&new_shop()),
                pb::ListBatchesRequest {
                    shop_id: shop.clone(),
                    ..Default::default()
                },
            ))
            .await,
    )?;
    assert_code(&denied, Code::PermissionDenied);
    let queue = h
        .client
        .list_batches(req(
            &operator(),
            pb::ListBatchesRequest {
                status: pb::BatchStatus::PendingApproval.into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(queue.total_size, 1);
    assert_eq!(queue.batches[0].batch_id, pending.batch_id);
    Ok(())
}

#[tokio::test]
async fn x3_list_filters_with_unknown_enum_numbers_or_a_huge_page_are_invalid() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let me = merchant(&shop);
    let cases = [
        (
            pb::ListBatchesRequest {
                status: 99,
                ..Default::default()
            },
            "status",
        ),
        (
            pb::ListBatchesRequest {
                channel: 99,
                ..Default::default()
            },
            "channel",
        ),
        (
            pb::ListBatchesRequest {
                page_size: 201,
                ..Default::default()
            },
            "page_size",
        ),
    ];
    for (request, field) in cases {
        let request = pb::ListBatchesRequest {
            shop_id: shop.clone(),
            ..request
        };
        let status = expect_err(h.client.list_batches(req(&me, request)).await)?;
        assert_invalid(&status, field);
    }
    let status = expect_err(
        h.client
            .list_wallet_coupons(req(
                &shopper("u1"),
                pb::ListWalletCouponsRequest {
                    user_id: "u1".into(),
                    state: 99,
                    ..Default::default()
                },
            ))
            .await,
    )?;
    assert_invalid(&status, "state");
    Ok(())
}

#[tokio::test]
async fn x3_control_characters_in_batch_texts_and_cart_lines_are_invalid_naming_the_field()
-> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let mut spec = batch_spec(&shop);
    spec.internal_name = "spring\0sale".into();
    spec.regions = vec!["3100\u{7}".into()];
    spec.item_scope = Some(pb::ItemScope {
        categories: vec!["tea\0".into()],
        skus: Vec::new(),
    });
    let status = create_err(&mut h, spec).await?;
    assert_invalid(&status, "batch.internal_name");
    assert_invalid(&status, "batch.regions[0]");
    assert_invalid(&status, "batch.item_scope.categories[0]");
    let status = expect_err(
        h.client
            .evaluate_cart(req(
                &shopper("u1"),
                pb::EvaluateCartRequest {
                    shop_id: shop.clone(),
                    user_id: "u1".into(),
                    region: "31\u{0}0000".into(),
                    lines: vec![line("sku\0", "tea", 1, 100)],
                    coupon_ids: vec![uuid::Uuid::now_v7().to_string()],
                },
            ))
            .await,
    )?;
    assert_invalid(&status, "region");
    assert_invalid(&status, "lines[0].sku");
    Ok(())
}
