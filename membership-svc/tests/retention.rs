//! X-1 retention: idempotency keys, recorded SMS, spent codes and the event feed are pruned
//! after their documented retention, and a feed consumer that fell behind it is told so.

mod support;

use chrono::{Duration, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::membership as pb;
use support::*;
use tokio_stream::StreamExt;
use tonic::Code;

const PHONE: &str = "13800138000";

async fn counts(h: &Harness) -> anyhow::Result<[i64; 4]> {
    let pool = h.db.pool(1).await?;
    let mut counts = [0; 4];
    for (i, table) in [
        "membership.idempotency_keys",
        "membership.sms_messages",
        "membership.sms_codes",
        "membership.outbox",
    ]
    .iter()
    .enumerate()
    {
        counts[i] =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&pool)
                .await?;
    }
    Ok(counts)
}

fn watch(cursor: &str) -> tonic::Request<pb::WatchEventsRequest> {
    req(
        &Actor::Service {
            name: "campaign-svc".into(),
        },
        pb::WatchEventsRequest {
            after_cursor: cursor.into(),
        },
    )
}

#[tokio::test]
async fn x1_past_their_retention_keys_sms_codes_and_feed_events_are_pruned() -> TestResult {
    let mut h = start().await?;
    let shop = shop_with_policy(&mut h, pb::JoinPolicy::Card).await?;
    // a feed event (CARD_OPENED), before codes are required
    open_card(&h, &shop, "u2", PHONE).await?;
    activate_sms(&mut h, &merchant(&shop), &shop).await?;
    set_sms(&mut h, &shop, true).await?;
    h.client
        .send_card_sms_code(req(
            &shopper("u1"),
            pb::SendCardSmsCodeRequest {
                request_id: rid("sms"),
                shop_id: shop.clone(),
                user_id: "u1".into(),
                phone: PHONE.into(),
            },
        ))
        .await?;
    let mut stream = h.client.watch_events(watch("")).await?.into_inner();
    let first = stream
        .next()
        .await
        .ok_or_else(|| anyhow::anyhow!("no event"))??;
    drop(stream);
    let before = counts(&h).await?;
    assert!(before.iter().all(|n| *n > 0), "{before:?}");

    let pool = h.db.pool(2).await?;
    // within retention nothing goes (the service's clock wrote the rows)
    use memberhub_kit::clock::Clock;
    membership_svc::maintenance::prune(&pool, h.clock.now()).await?;
    assert_eq!(counts(&h).await?, before);
    // past every retention everything goes
    membership_svc::maintenance::prune(&pool, Utc::now() + Duration::days(31)).await?;
    assert_eq!(counts(&h).await?, [0; 4]);

    // a consumer resuming from a pruned cursor is told, not silently skipped ahead
    let status = match h.client.watch_events(watch(&first.cursor)).await {
        Err(status) => status,
        Ok(response) => {
            let mut stream = response.into_inner();
            match stream.next().await {
                Some(Err(status)) => status,
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    };
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert_precondition(&status, "FEED_CURSOR_EXPIRED");
    // a new consumer starts from what is kept
    h.client.watch_events(watch("")).await?;
    Ok(())
}
