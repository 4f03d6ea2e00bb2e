//! A rolling restart under load: two coupon-svc processes behind the gateway (and
//! campaign-svc) balanced over both; shoppers claim coupons through the gateway without
//! pause; one coupon-svc gets SIGTERM, drains, exits and starts again on its address. No
//! client request fails (a client retries 503 with the same idempotency key, as the
//! gateway's Retry-After asks) and no shopper gets a second coupon.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::json;
use support::Api;
use support::processes::{Deployment, jwt_secret};
use support::shop::{Shop, key, ok, text};

/// Shoppers claiming at once.
const CLIENTS: usize = 6;

/// One shopper's claim, retried on 503 (and on a dropped connection) with its key.
async fn claim(api: &Api, shop: &str, batch: &str, user: &str) -> anyhow::Result<usize> {
    let token = api.shopper(user)?;
    let idempotency_key = key();
    let path = format!("/api/storefront/v1/shops/{shop}/coupon-batches/{batch}/claim");
    let mut retries = 0;
    loop {
        let answer = api
            .call(
                Method::POST,
                &path,
                Some(&token),
                Some(&idempotency_key),
                None,
            )
            .await;
        match answer {
            Ok((200, body)) => {
                anyhow::ensure!(
                    body["coupons"].as_array().map(Vec::len) == Some(1),
                    "{body}"
                );
                return Ok(retries);
            }
            Ok((503, _)) | Err(_) if retries < 100 => {
                retries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Ok((status, body)) => anyhow::bail!("{user}: {status} {body}"),
            Err(e) => anyhow::bail!("{user}: {e}"),
        }
    }
}

#[tokio::test]
async fn deploy_a_coupon_svc_restarted_under_claim_load_fails_no_request_and_issues_once()
-> TestResult {
    let db = support::migrated_db().await?;
    let deployment = Deployment::new(&db.url)?;
    let membership = deployment.membership().await?;
    let mut first = deployment.coupon(&membership.url()).await?;
    let second = deployment.coupon(&membership.url()).await?;
    let coupons = format!("{},{}", first.url(), second.url());
    let campaign = deployment.campaign(&membership.url(), &coupons).await?;
    let gateway = deployment
        .gateway(&membership.url(), &coupons, &campaign.url())
        .await?;
    let api = Api::new(gateway.url(), &jwt_secret())?;
    let s = Shop::on(api.clone(), None, "Restart Tea", "u-restart").await?;
    let now = chrono::Utc::now();
    let batch = ok(
        "create batch",
        s.backoffice(
            Method::POST,
            "/coupon-batches",
            Some(json!({
                "internal_name": "restart",
                "kind": "THRESHOLD",
                "face_value_fen": 1000,
                "threshold_fen": 5000,
                "channel": "GENERAL",
                "total_quantity": 100_000,
                "per_user_limit": 1,
                "per_issue_count": 1,
                "claim_start_time": (now - chrono::Duration::hours(1)).to_rfc3339(),
                "claim_end_time": (now + chrono::Duration::days(1)).to_rfc3339(),
                "validity": {"kind": "RELATIVE", "relative_days": 7},
            })),
        )
        .await?,
    )?;
    let batch_id = text(&batch, "batch_id")?;
    ok(
        "submit batch",
        s.backoffice(
            Method::POST,
            &format!("/coupon-batches/{batch_id}/submit"),
            None,
        )
        .await?,
    )?;

    let stop = Arc::new(AtomicBool::new(false));
    let claimed = Arc::new(AtomicUsize::new(0));
    let retried = Arc::new(AtomicUsize::new(0));
    let mut load = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let (api, shop, batch) = (api.clone(), s.shop.clone(), batch_id.clone());
        let (stop, claimed, retried) = (stop.clone(), claimed.clone(), retried.clone());
        load.spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                let retries = claim(&api, &shop, &batch, &format!("u-{client}-{n}")).await?;
                retried.fetch_add(retries, Ordering::Relaxed);
                claimed.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            anyhow::Ok(())
        });
    }
    let steady = |at_least: usize| {
        let claimed = claimed.clone();
        async move {
            let start = claimed.load(Ordering::Relaxed);
            while claimed.load(Ordering::Relaxed) < start + at_least {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(30), steady(100)).await?;

    let address = first.address;
    let asked = Instant::now();
    let exit = first.terminate().await?;
    let drain = asked.elapsed();
    assert!(exit.success(), "a drained coupon-svc exits cleanly: {exit}");
    let during = claimed.load(Ordering::Relaxed);
    let restarted = deployment.coupon_at(address, &membership.url()).await?;
    let restart = asked.elapsed();
    tokio::time::timeout(Duration::from_secs(30), steady(100)).await?;
    stop.store(true, Ordering::Relaxed);
    while let Some(done) = load.join_next().await {
        done??;
    }
    let claims = claimed.load(Ordering::Relaxed);
    eprintln!(
        "rolling restart: drain {drain:?}, back after {restart:?}; {claims} claims \
         ({during} before the restart), {} retried on 503",
        retried.load(Ordering::Relaxed)
    );

    let pool = db.pool(2).await?;
    let (coupons, holders): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT user_id) FROM coupon.coupons WHERE batch_id::text = $1",
    )
    .bind(&batch_id)
    .fetch_one(&pool)
    .await?;
    assert_eq!(
        (coupons, holders),
        (claims as i64, claims as i64),
        "one coupon per answered claim, none twice"
    );
    drop((restarted, second, campaign, gateway, membership));
    Ok(())
}
