//! OC-7: follows membership-svc's `WatchEvents` from the durable cursor. Events that arrive
//! together are applied in one transaction with the cursor move; the claims they record are
//! then run by the saga. A broken stream is reopened from the committed cursor, so an event
//! is applied exactly once whatever happens to this process.

use std::time::Duration;

use futures::{FutureExt, StreamExt};
use memberhub_kit::clock::from_timestamp;
use memberhub_proto::membership as membership_pb;
use memberhub_proto::membership::EventType;

use crate::domain::types::{ClaimId, ShopId};
use crate::error::Error;
use crate::peers::Peers;
use crate::saga::Saga;
use crate::store::Store;
use crate::store::claims::Lease;
use crate::store::events::{self, CardOpened};

/// This consumer's name in `campaign.event_cursors`.
pub const CONSUMER: &str = "campaign-svc/open-card-gifts";
/// Events applied per transaction at most.
const MAX_BATCH: usize = 512;

/// Runs until the task is dropped.
pub async fn run(store: Store, peers: Peers, saga: Saga) {
    loop {
        if let Err(e) = follow(&store, &peers, &saga).await {
            tracing::warn!(error = %e, "event stream interrupted; reopening from the committed cursor");
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn follow(store: &Store, peers: &Peers, saga: &Saga) -> Result<(), Error> {
    let mut cursor = {
        let mut conn = store.pool.acquire().await?;
        events::cursor(&mut conn, CONSUMER).await?
    };
    // A stream: no deadline, unlike `peers::request`.
    let request = tonic::Request::new(membership_pb::WatchEventsRequest {
        after_cursor: cursor.clone(),
    });
    let mut client = peers.membership.clone();
    let mut stream = client
        .watch_events(request)
        .await
        .map_err(Error::from_peer)?
        .into_inner();
    tracing::info!(cursor = %cursor, "following membership events");
    loop {
        let Some(first) = stream.next().await else {
            return Ok(());
        };
        let mut batch = vec![first.map_err(Error::from_peer)?];
        while batch.len() < MAX_BATCH {
            match stream.next().now_or_never() {
                Some(Some(event)) => batch.push(event.map_err(Error::from_peer)?),
                _ => break,
            }
        }
        let Some(claims) = apply(store, saga, &cursor, &batch).await? else {
            // Another consumer moved the cursor: start over from where it is.
            return Ok(());
        };
        if let Some(last) = batch.last() {
            cursor = last.cursor.clone();
        }
        for (id, lease) in claims {
            saga.spawn(id, lease);
        }
    }
}

/// Applies a batch; `None` when the cursor is no longer `from`.
async fn apply(
    store: &Store,
    saga: &Saga,
    from: &str,
    batch: &[membership_pb::WatchEventsResponse],
) -> Result<Option<Vec<(ClaimId, Lease)>>, Error> {
    let now = saga.clock().now();
    let lease_until = saga.lease_until(now);
    let transient =
        |e: &Error| matches!(e, Error::Database(d) if memberhub_kit::db::is_transient(d));
    memberhub_kit::db::retry_transient("WatchEvents", transient, || async {
        let mut tx = store.pool.begin().await?;
        if !events::lock_cursor(&mut tx, CONSUMER, from, now).await? {
            return Ok(None);
        }
        let mut claims = Vec::new();
        for event in batch {
            let Some(opened) = card_opened(event) else {
                continue;
            };
            if let Some(held) = events::on_card_opened(&mut tx, &opened, now, lease_until).await?
            {
                claims.push(held);
            }
        }
        if let Some(last) = batch.last() {
            events::advance_cursor(&mut tx, CONSUMER, &last.cursor, now).await?;
        }
        tx.commit().await?;
        Ok(Some(claims))
    })
    .await
}

/// A CARD_OPENED event: the shopper had not opened the card before (OC-3's audience).
fn card_opened(event: &membership_pb::WatchEventsResponse) -> Option<CardOpened> {
    if event.r#type != EventType::CardOpened as i32 {
        return None;
    }
    let shop_id = ShopId::parse("shop_id", &event.shop_id).ok()?;
    let occurred_at = event.occur_time.as_ref().and_then(from_timestamp)?;
    Some(CardOpened {
        shop_id,
        user_id: event.user_id.clone(),
        occurred_at,
    })
}
