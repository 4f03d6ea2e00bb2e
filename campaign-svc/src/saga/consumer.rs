//! OC-7, SP-5: follows membership-svc's `WatchEvents` from the durable cursor. Events that arrive
//! together are applied in one transaction with the cursor move; the claims they record are
//! then run by the saga. A broken stream ends the run and the supervisor reopens it from the
//! committed cursor, so an event is applied exactly once whatever happens to this process.
//!
//! Cards opened record open-card gift claims; confirmed and refunded orders move sprint
//! spend (`store::sprint_registrations`). When the stream goes idle the consumer records
//! that it is caught up, which a sprint award waits for.
//!
//! A `CARD_OPENED` event (or an order event of a shop counting sprint spend) that cannot be
//! read is parked (`campaign.parked_events`, with the
//! reason), logged and counted, and the consumer goes on: one bad event never stalls the
//! feed. [`ConsumerHealth`] tells readiness whether the consumer is down or behind.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
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
use crate::store::sprint_awards;
use crate::store::sprint_registrations::{self, SprintOrder};

/// This consumer's name in `campaign.event_cursors`.
pub(crate) const CONSUMER: &str = "campaign-svc/open-card-gifts";
/// Events applied per transaction at most.
const MAX_BATCH: usize = 512;
/// A stream silent this long has delivered everything: the consumer is caught up.
const IDLE: Duration = Duration::from_secs(1);

/// Whether the consumer keeps up: when it was last down, and how far behind the stream it
/// is (`campaign_consumer_lag_seconds`).
#[derive(Debug)]
pub(crate) struct ConsumerHealth {
    /// Unix ms since when the stream has been closed; 0 while it is open.
    down_since_ms: AtomicI64,
    /// How old the last applied event was when it was applied, in ms (0 when caught up).
    lag_ms: AtomicI64,
}

impl ConsumerHealth {
    /// Down from the start, until the stream first opens.
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            down_since_ms: AtomicI64::new(now_ms()),
            lag_ms: AtomicI64::new(0),
        })
    }

    fn up(&self) {
        self.down_since_ms.store(0, Ordering::Relaxed);
    }

    fn down(&self) {
        let _ =
            self.down_since_ms
                .compare_exchange(0, now_ms(), Ordering::Relaxed, Ordering::Relaxed);
    }

    fn lag(&self, ms: i64) {
        let ms = ms.max(0);
        self.lag_ms.store(ms, Ordering::Relaxed);
        metrics::gauge!("campaign_consumer_lag_seconds").set(ms as f64 / 1000.0);
    }

    /// `Err` with the reason when the consumer has been down, or behind, for more than
    /// `limit` (readiness turns NOT_SERVING).
    pub(crate) fn check(&self, limit: Duration) -> Result<(), String> {
        let limit_ms = limit.as_millis() as i64;
        let down_since = self.down_since_ms.load(Ordering::Relaxed);
        if down_since != 0 && now_ms() - down_since > limit_ms {
            return Err(format!(
                "event consumer down for {} s",
                (now_ms() - down_since) / 1000
            ));
        }
        let lag = self.lag_ms.load(Ordering::Relaxed);
        if lag > limit_ms {
            return Err(format!("event consumer {} s behind", lag / 1000));
        }
        Ok(())
    }
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// One run: opens the stream at the committed cursor and applies events until it breaks.
/// The supervisor restarts it.
pub(crate) async fn run(
    store: Store,
    peers: Peers,
    saga: Saga,
    health: Arc<ConsumerHealth>,
) -> Result<(), Error> {
    let result = follow(&store, &peers, &saga, &health).await;
    health.down();
    result
}

async fn follow(
    store: &Store,
    peers: &Peers,
    saga: &Saga,
    health: &ConsumerHealth,
) -> Result<(), Error> {
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
    health.up();
    tracing::info!(cursor = %cursor, "following membership events");
    loop {
        let first = match tokio::time::timeout(IDLE, stream.next()).await {
            Err(_) => {
                health.lag(0);
                // Everything sent so far is applied: a sprint award waiting for this may run.
                let mut conn = store.pool.acquire().await?;
                sprint_awards::caught_up(&mut conn, CONSUMER, &cursor, saga.clock().now()).await?;
                continue;
            }
            Ok(None) => return Ok(()),
            Ok(Some(event)) => event.map_err(Error::from_peer)?,
        };
        let mut batch = vec![first];
        // Whether the batch ends because nothing more was waiting: then applying it catches
        // the consumer up, which a sprint award waits for (steady traffic may never leave
        // the stream idle for long).
        let mut drained = false;
        while batch.len() < MAX_BATCH {
            match stream.next().now_or_never() {
                Some(Some(event)) => batch.push(event.map_err(Error::from_peer)?),
                _ => {
                    drained = true;
                    break;
                }
            }
        }
        let Some(claims) = apply(store, saga, &cursor, &batch, drained).await? else {
            // Another consumer moved the cursor: start over from where it is.
            return Ok(());
        };
        if let Some(last) = batch.last() {
            cursor = last.cursor.clone();
            if let Some(at) = last.occur_time.as_ref().and_then(from_timestamp) {
                health.lag((saga.clock().now() - at).num_milliseconds());
            }
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
    drained: bool,
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
        let mut orders = Vec::new();
        for event in batch {
            if is_order(event) {
                orders.push(event);
                continue;
            }
            let opened = match card_opened(event) {
                Ok(Some(opened)) => opened,
                Ok(None) => continue,
                Err(reason) => {
                    tracing::error!(cursor = %event.cursor, shop_id = %event.shop_id, reason, "unreadable event parked");
                    metrics::counter!("campaign_parked_events_total").increment(1);
                    events::park(&mut tx, CONSUMER, event, reason, now).await?;
                    continue;
                }
            };
            if let Some(held) = events::on_card_opened(&mut tx, &opened, now, lease_until).await?
            {
                claims.push(held);
            }
        }
        apply_orders(&mut tx, &orders, now).await?;
        if let Some(last) = batch.last() {
            events::advance_cursor(&mut tx, CONSUMER, &last.cursor, now).await?;
            if drained {
                sprint_awards::caught_up(&mut tx, CONSUMER, &last.cursor, now).await?;
            }
        }
        tx.commit().await?;
        Ok(Some(claims))
    })
    .await
}

/// SP-5: order events of shops counting sprint spend move it; the rest (most) are skipped
/// after one query. An unreadable one of a counting shop is parked like a card opening.
async fn apply_orders(
    tx: &mut sqlx::PgConnection,
    orders: &[&membership_pb::WatchEventsResponse],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), Error> {
    if orders.is_empty() {
        return Ok(());
    }
    let shops: Vec<uuid::Uuid> = orders
        .iter()
        .filter_map(|e| uuid::Uuid::parse_str(&e.shop_id).ok())
        .collect();
    let counting = sprint_registrations::counting_shops(tx, &shops).await?;
    for event in orders {
        let Ok(shop) = uuid::Uuid::parse_str(&event.shop_id) else {
            continue;
        };
        if !counting.contains(&shop) {
            continue;
        }
        match sprint_order(event) {
            Ok(order) => sprint_registrations::on_order(tx, &order).await?,
            Err(reason) => {
                tracing::error!(cursor = %event.cursor, shop_id = %event.shop_id, reason, "unreadable order event parked");
                metrics::counter!("campaign_parked_events_total").increment(1);
                events::park(tx, CONSUMER, event, reason, now).await?;
            }
        }
    }
    Ok(())
}

fn is_order(event: &membership_pb::WatchEventsResponse) -> bool {
    event.r#type == EventType::OrderConfirmed as i32
        || event.r#type == EventType::OrderRefunded as i32
}

/// The fields of an order event's payload SP-5 reads.
#[derive(serde::Deserialize)]
struct OrderPayload {
    order_id: String,
    order_amount_fen: i64,
    order_refunded_fen: Option<i64>,
}

/// An ORDER_CONFIRMED or ORDER_REFUNDED event as sprint spend reads it; the reason when it
/// cannot be read.
fn sprint_order(event: &membership_pb::WatchEventsResponse) -> Result<SprintOrder, &'static str> {
    let (shop_id, occurred_at) = subject(event)?;
    let payload: OrderPayload =
        serde_json::from_str(&event.payload_json).map_err(|_| "malformed order payload")?;
    let confirmed = event.r#type == EventType::OrderConfirmed as i32;
    let refunded_fen = match (payload.order_refunded_fen, confirmed) {
        (Some(fen), _) => fen,
        (None, true) => 0,
        (None, false) => return Err("refund without order_refunded_fen"),
    };
    if payload.order_id.is_empty() || payload.order_amount_fen < 0 || refunded_fen < 0 {
        return Err("malformed order payload");
    }
    Ok(SprintOrder {
        shop_id,
        user_id: event.user_id.clone(),
        order_id: payload.order_id,
        occurred_at,
        confirmed_fen: confirmed.then_some(payload.order_amount_fen),
        refunded_fen,
    })
}

/// Whose event it is and when it happened: the shop, and the time (a user id is required).
fn subject(
    event: &membership_pb::WatchEventsResponse,
) -> Result<(ShopId, chrono::DateTime<chrono::Utc>), &'static str> {
    let shop_id = ShopId::parse("shop_id", &event.shop_id).map_err(|_| "malformed shop_id")?;
    if event.user_id.is_empty() {
        return Err("no user_id");
    }
    let occurred_at = event
        .occur_time
        .as_ref()
        .and_then(from_timestamp)
        .ok_or("no or malformed occur_time")?;
    Ok((shop_id, occurred_at))
}

/// A CARD_OPENED event: the shopper had not opened the card before (OC-3's audience).
/// `None` for other events; the reason when a card opening cannot be read.
fn card_opened(
    event: &membership_pb::WatchEventsResponse,
) -> Result<Option<CardOpened>, &'static str> {
    if event.r#type != EventType::CardOpened as i32 {
        return Ok(None);
    }
    let (shop_id, occurred_at) = subject(event)?;
    Ok(Some(CardOpened {
        shop_id,
        user_id: event.user_id.clone(),
        occurred_at,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened() -> membership_pb::WatchEventsResponse {
        membership_pb::WatchEventsResponse {
            cursor: "1".into(),
            r#type: EventType::CardOpened as i32,
            shop_id: uuid::Uuid::now_v7().to_string(),
            user_id: "u1".into(),
            occur_time: Some(prost_types::Timestamp {
                seconds: 1_800_000_000,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    #[test]
    fn oc7_a_card_opening_that_cannot_be_read_says_why() {
        assert!(matches!(card_opened(&opened()), Ok(Some(_))));
        let mut bad = opened();
        bad.shop_id = "not-a-uuid".into();
        assert_eq!(card_opened(&bad).err(), Some("malformed shop_id"));
        let mut bad = opened();
        bad.occur_time = None;
        assert_eq!(card_opened(&bad).err(), Some("no or malformed occur_time"));
        let mut bad = opened();
        bad.user_id.clear();
        assert_eq!(card_opened(&bad).err(), Some("no user_id"));
        let mut other = opened();
        other.r#type = EventType::CardOpened as i32 + 1;
        other.shop_id.clear();
        assert!(matches!(card_opened(&other), Ok(None)));
    }

    #[test]
    fn health_fails_when_down_or_behind_beyond_the_limit() {
        let health = ConsumerHealth::new();
        health.up();
        assert!(health.check(Duration::from_secs(1)).is_ok());
        health.lag(5_000);
        assert!(health.check(Duration::from_secs(1)).is_err());
        health.lag(0);
        health
            .down_since_ms
            .store(now_ms() - 5_000, Ordering::Relaxed);
        assert!(health.check(Duration::from_secs(1)).is_err());
        assert!(health.check(Duration::from_secs(10)).is_ok());
    }
}
