//! The outbox feed (`WatchEvents`): written with each change, resumable from a cursor after
//! the client or the server restarts, and never skipping an event that commits late.

mod support;

use std::time::Duration;

use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_kit::testing::{TestDb, bind_loopback, wait_until_serving};
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use support::*;
use tokio_stream::StreamExt;
use tonic::transport::Channel;

fn campaign_svc() -> Actor {
    Actor::Service {
        name: "campaign-svc".into(),
    }
}

/// A membership-svc over `db` that stops when the returned sender is dropped.
async fn serve(
    db: &TestDb,
) -> anyhow::Result<(
    MembershipServiceClient<Channel>,
    tokio::sync::oneshot::Sender<()>,
)> {
    let pool = db.pool(4).await?;
    let (listener, address) = bind_loopback().await?;
    let config = membership_svc::config::from_env(Some(db.url.clone()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = membership_svc::serve_migrated(
            &config,
            pool,
            memberhub_kit::clock::system(),
            listener,
            async {
                let _ = stopped.await;
            },
        )
        .await;
    });
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok((MembershipServiceClient::new(channel), stop))
}

/// Opens cards for `users` in a CARD shop: each gives CARD_OPENED and MEMBER_JOINED events.
async fn open_cards(
    client: &mut MembershipServiceClient<Channel>,
    shop: &str,
    users: &[String],
) -> anyhow::Result<()> {
    for user in users {
        client
            .open_card(req(
                &shopper(user),
                pb::OpenCardRequest {
                    request_id: rid("open"),
                    shop_id: shop.into(),
                    user_id: user.clone(),
                    phone: "13800138000".into(),
                    ..Default::default()
                },
            ))
            .await?;
    }
    Ok(())
}

async fn card_shop(client: &mut MembershipServiceClient<Channel>) -> anyhow::Result<String> {
    let shop = client
        .create_shop(req(
            &operator(),
            create_shop_request("Feed Shop", ShopType::Pop),
        ))
        .await?
        .into_inner()
        .shop_id;
    client
        .set_join_policy(req(
            &merchant(&shop),
            pb::SetJoinPolicyRequest {
                request_id: rid("policy"),
                shop_id: shop.clone(),
                join_policy: pb::JoinPolicy::Card.into(),
            },
        ))
        .await?;
    Ok(shop)
}

/// Reads `n` events from a stream started after `cursor`, then drops the stream.
async fn take(
    client: &mut MembershipServiceClient<Channel>,
    cursor: &str,
    n: usize,
) -> anyhow::Result<Vec<pb::WatchEventsResponse>> {
    let mut stream = client
        .watch_events(req(
            &campaign_svc(),
            pb::WatchEventsRequest {
                after_cursor: cursor.into(),
            },
        ))
        .await?
        .into_inner();
    let mut events = Vec::new();
    while events.len() < n {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next()).await?;
        events.push(next.ok_or_else(|| anyhow::anyhow!("stream ended"))??);
    }
    Ok(events)
}

fn users(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

#[tokio::test]
async fn watch_resumes_from_its_cursor_after_client_and_server_restarts_with_nothing_lost_or_repeated()
-> TestResult {
    memberhub_kit::telemetry::init_for_tests();
    let db = TestDb::new(&[&membership_svc::MIGRATOR]).await?;
    let (mut client, stop) = serve(&db).await?;
    let shop = card_shop(&mut client).await?;

    open_cards(&mut client, &shop, &users("a", 3)).await?;
    let first = take(&mut client, "", 4).await?;
    // The client "restarts": it keeps only the cursor of the last event it handled.
    let cursor = first.last().map(|e| e.cursor.clone()).unwrap_or_default();

    open_cards(&mut client, &shop, &users("b", 2)).await?;
    let second = take(&mut client, &cursor, 6).await?;
    let cursor = second.last().map(|e| e.cursor.clone()).unwrap_or_default();

    // The server restarts.
    drop(stop);
    let (mut client, _stop) = serve(&db).await?;
    open_cards(&mut client, &shop, &users("c", 2)).await?;
    let third = take(&mut client, &cursor, 4).await?;

    let resumed: Vec<String> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|e| e.event_id.clone())
        .collect();
    let everything: Vec<String> = take(&mut client, "", 14)
        .await?
        .into_iter()
        .map(|e| e.event_id)
        .collect();
    assert_eq!(
        resumed, everything,
        "resuming gives exactly the whole feed, in order"
    );
    let mut unique = everything.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(
        unique.len(),
        14,
        "7 card openings, each CARD_OPENED + MEMBER_JOINED"
    );
    let joined = first
        .iter()
        .chain(&second)
        .chain(&third)
        .filter(|e| e.r#type == i32::from(pb::EventType::MemberJoined))
        .count();
    assert_eq!(joined, 7);
    Ok(())
}

#[tokio::test]
async fn watch_never_skips_an_event_whose_transaction_commits_after_a_later_one() -> TestResult {
    let mut h = start().await?;
    let shop = card_shop(&mut h.client).await?;
    let pool = h.db.pool(2).await?;

    // A transaction takes an outbox position and stays open...
    let mut late = pool.begin().await?;
    sqlx::query(
        "INSERT INTO membership.outbox (event_id, event_type, shop_id, user_id, occurred_at, payload)
         VALUES (gen_random_uuid(), 'POINTS_CHANGED', $1::uuid, 'late-user', now(), '{}')",
    )
    .bind(&shop)
    .execute(&mut *late)
    .await?;
    // ...while a later one commits two events at higher positions.
    open_cards(&mut h.client, &shop, &users("early", 1)).await?;
    let positions: Vec<(i64,)> =
        sqlx::query_as("SELECT position FROM membership.outbox ORDER BY position")
            .fetch_all(&pool)
            .await?;
    assert_eq!(
        positions.len(),
        2,
        "the open transaction's row is not visible yet"
    );

    let mut stream = h
        .client
        .watch_events(req(
            &campaign_svc(),
            pb::WatchEventsRequest {
                after_cursor: String::new(),
            },
        ))
        .await?
        .into_inner();
    // A naive `position > cursor` reader would hand out the committed events now and move
    // its cursor past the open transaction's position for good.
    let premature = tokio::time::timeout(Duration::from_millis(700), stream.next()).await;
    assert!(
        premature.is_err(),
        "nothing may be delivered while an older transaction is open: {premature:?}"
    );

    late.commit().await?;
    let mut delivered = Vec::new();
    while delivered.len() < 3 {
        let next = tokio::time::timeout(Duration::from_secs(20), stream.next()).await?;
        delivered.push(next.ok_or_else(|| anyhow::anyhow!("stream ended"))??);
    }
    assert_eq!(
        delivered[0].user_id, "late-user",
        "the late commit comes first: its transaction is older"
    );
    assert!(delivered[1..].iter().all(|e| e.user_id == "early-0"));
    Ok(())
}
