//! X-1 trust boundary through the real gRPC interface: forged or stale actors are
//! UNAUTHENTICATED, a merchant stays in its shop, a service calls only what it is granted.

mod support;

use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::coupon as pb;
use support::*;
use tonic::Code;

async fn batch_count(h: &Harness) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar("SELECT count(*) FROM coupon.batches")
        .fetch_one(&h.pool)
        .await?)
}

#[tokio::test]
async fn x1_forged_unsigned_expired_or_tampered_actors_are_unauthenticated() -> TestResult {
    let mut h = start().await?;
    let shop = new_shop();
    let create = pb::CreateBatchRequest {
        request_id: rid("forged"),
        batch: Some(batch_spec(&shop)),
    };
    for (label, request) in memberhub_kit::testing::forgeries(&create) {
        let status = expect_err(h.client.create_batch(request).await)?;
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
    }
    let list = pb::ListBatchesRequest {
        shop_id: shop.clone(),
        ..Default::default()
    };
    for (label, request) in memberhub_kit::testing::forgeries(&list) {
        let status = expect_err(h.client.list_batches(request).await)?;
        assert_eq!(status.code(), Code::Unauthenticated, "{label}: {status:?}");
    }
    assert_eq!(batch_count(&h).await?, 0);
    Ok(())
}

#[tokio::test]
async fn x1_a_merchant_of_shop_a_cannot_create_a_batch_for_shop_b() -> TestResult {
    let mut h = start().await?;
    let (a, b) = (new_shop(), new_shop());
    let request = pb::CreateBatchRequest {
        request_id: rid("cross-shop"),
        batch: Some(batch_spec(&b)),
    };
    let status = expect_err(h.client.create_batch(req(&merchant(&a), request)).await)?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(batch_count(&h).await?, 0);
    Ok(())
}

#[tokio::test]
async fn x1_the_order_system_cannot_create_a_coupon_batch() -> TestResult {
    let mut h = start().await?;
    let orders = Actor::Service {
        name: memberhub_kit::auth::ORDER_SYSTEM.into(),
    };
    let request = pb::CreateBatchRequest {
        request_id: rid("orders"),
        batch: Some(batch_spec(&new_shop())),
    };
    let status = expect_err(h.client.create_batch(req(&orders, request)).await)?;
    assert_code(&status, Code::PermissionDenied);
    assert!(status.message().contains("CreateBatch"), "{status:?}");
    // nor may campaign-svc, which only issues against batches merchants made
    let campaign = Actor::Service {
        name: memberhub_kit::auth::CAMPAIGN_SVC.into(),
    };
    let request = pb::CreateBatchRequest {
        request_id: rid("campaign"),
        batch: Some(batch_spec(&new_shop())),
    };
    let status = expect_err(h.client.create_batch(req(&campaign, request)).await)?;
    assert_code(&status, Code::PermissionDenied);
    assert_eq!(batch_count(&h).await?, 0);
    Ok(())
}
