//! Replicas as separate processes: two membership-svc and two campaign-svc binaries over
//! one database, the gateway and campaign-svc balanced over both membership-svc, the gateway
//! over both campaign-svc. Shoppers open cards at once; both event consumers read the same
//! feed; each card opening is granted the open-card gift once, whole (OC-7).

mod support;

use std::time::Duration;

use chrono::Utc;
use memberhub_kit::testing::TestResult;
use reqwest::Method;
use serde_json::json;
use support::Api;
use support::processes::{Deployment, jwt_secret};
use support::shop::{Shop, key, ok, text};

const SHOPPERS: usize = 40;

async fn count(pool: &sqlx::PgPool, sql: &'static str) -> anyhow::Result<i64> {
    Ok(sqlx::query_scalar(sql).fetch_one(pool).await?)
}

#[tokio::test]
async fn deploy_two_membership_and_two_campaign_processes_grant_each_card_opening_once()
-> TestResult {
    let db = support::migrated_db().await?;
    let deployment = Deployment::new(&db.url)?;
    let first = deployment.membership().await?;
    let second = deployment.membership().await?;
    let memberships = format!("{},{}", first.url(), second.url());
    let coupon = deployment.coupon(&memberships).await?;
    let campaign_a = deployment.campaign(&memberships, &coupon.url()).await?;
    let campaign_b = deployment.campaign(&memberships, &coupon.url()).await?;
    let campaigns = format!("{},{}", campaign_a.url(), campaign_b.url());
    let gateway = deployment
        .gateway(&memberships, &coupon.url(), &campaigns)
        .await?;
    let api = Api::new(gateway.url(), &jwt_secret())?;

    let s = Shop::on(api.clone(), None, "Replica Tea", "u-replica").await?;
    s.recharge("BEANS", 10_000).await?;
    let batch_key = s.live_batch("INTERACTIVE", "open-card coupon").await?;
    let now = Utc::now();
    let gift = ok(
        "create open-card gift",
        s.backoffice(
            Method::POST,
            "/open-card-gifts",
            Some(json!({
                "name": "开卡有礼",
                "start_time": (now - chrono::Duration::minutes(1)).to_rfc3339(),
                "end_time": (now + chrono::Duration::days(7)).to_rfc3339(),
                "prizes": [
                    {"type": "BEANS", "amount": 5},
                    {"type": "THRESHOLD_COUPON", "batch_key": batch_key},
                ],
                "gift_quantity": 100,
            })),
        )
        .await?,
    )?;
    let campaign_id = text(&gift, "campaign_id")?;

    let mut joins = tokio::task::JoinSet::new();
    for i in 0..SHOPPERS {
        let (api, shop) = (api.clone(), s.shop.clone());
        joins.spawn(async move {
            let user = format!("u-{i}");
            let answer = api
                .call(
                    Method::POST,
                    &format!("/api/storefront/v1/shops/{shop}/card/open"),
                    Some(&api.shopper(&user)?),
                    Some(&key()),
                    Some(json!({"phone": format!("138{i:08}")})),
                )
                .await?;
            ok(&format!("{user} opens the card"), answer).map(|_| ())
        });
    }
    while let Some(joined) = joins.join_next().await {
        joined??;
    }

    let pool = db.pool(2).await?;
    let n = SHOPPERS as i64;
    let mut granted = 0;
    for _ in 0..300 {
        granted = count(
            &pool,
            "SELECT count(*) FROM campaign.claims WHERE state = 'GRANTED'",
        )
        .await?;
        if granted >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(granted, n, "every card opening granted within 30 s");
    // Settled: nothing more arrives from either consumer.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        count(&pool, "SELECT count(*) FROM campaign.claims").await?,
        n,
        "one claim per card opening"
    );
    assert_eq!(
        count(
            &pool,
            "SELECT count(DISTINCT user_id) FROM campaign.claims WHERE state = 'GRANTED'"
        )
        .await?,
        n
    );
    assert_eq!(
        count(&pool, "SELECT count(*) FROM coupon.coupons").await?,
        n,
        "one coupon per claim"
    );
    assert_eq!(
        count(&pool, "SELECT count(DISTINCT user_id) FROM coupon.coupons").await?,
        n
    );
    let (transfers, beans): (i64, i64) = sqlx::query_as(
        "SELECT count(*), coalesce(sum(amount), 0)::bigint FROM membership.transfers
         WHERE to_kind = 'MEMBER' AND asset = 'BEANS'",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!((transfers, beans), (n, 5 * n), "beans once per claim");
    let current = ok(
        "read the gift",
        s.backoffice(
            Method::GET,
            &format!("/open-card-gifts/{campaign_id}"),
            None,
        )
        .await?,
    )?;
    assert_eq!(current["packs_left"], json!(100 - n), "{current}");
    drop((gateway, campaign_a, campaign_b, coupon, first, second));
    Ok(())
}
