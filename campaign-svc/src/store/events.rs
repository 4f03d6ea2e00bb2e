//! OC-7: consuming membership-svc's events. The cursor row is locked for each batch, so two
//! consumers never apply the same events; a card opened during a live campaign records the
//! claim and takes its pack in the same transaction that moves the cursor.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::claim::{Claimed, plan};
use crate::domain::types::{ClaimId, ShopId};
use crate::error::Error;
use crate::store::claims::{self, ClaimKind, Lease, NewClaim};
use crate::store::{open_card_gifts, stats};

/// A card opening, as the event stream reports it.
#[derive(Debug, Clone)]
pub(crate) struct CardOpened {
    pub shop_id: ShopId,
    pub user_id: String,
    pub occurred_at: DateTime<Utc>,
}

/// The cursor this consumer has committed (empty before the first event).
pub(crate) async fn cursor(conn: &mut PgConnection, consumer: &str) -> Result<String, Error> {
    Ok(sqlx::query_scalar!(
        "SELECT cursor FROM campaign.event_cursors WHERE consumer = $1",
        consumer
    )
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or_default())
}

/// Whether the batch may be applied: the cursor is still where this consumer read from.
/// Locks the cursor row until the transaction ends.
pub(crate) async fn lock_cursor(
    conn: &mut PgConnection,
    consumer: &str,
    expected: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    sqlx::query!(
        "INSERT INTO campaign.event_cursors (consumer, cursor, updated_at) VALUES ($1, '', $2)
         ON CONFLICT (consumer) DO NOTHING",
        consumer,
        now,
    )
    .execute(&mut *conn)
    .await?;
    let stored = sqlx::query_scalar!(
        "SELECT cursor FROM campaign.event_cursors WHERE consumer = $1 FOR UPDATE",
        consumer
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(stored == expected)
}

pub(crate) async fn advance_cursor(
    conn: &mut PgConnection,
    consumer: &str,
    to: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.event_cursors SET cursor = $2, updated_at = $3 WHERE consumer = $1",
        consumer,
        to,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// OC-7/OC-8/OC-10: counts the card opening for the shop's live campaign and, if a pack is
/// left, records the shopper's claim (once per campaign). Returns the claim to run, with the
/// lease its recorder holds it under. A campaign whose stored prizes cannot be planned fails
/// the claim with the reason (never a smaller grant).
pub(crate) async fn on_card_opened(
    conn: &mut PgConnection,
    event: &CardOpened,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<(ClaimId, Lease)>, Error> {
    let Some(gift) = open_card_gifts::live_for_shop(conn, event.shop_id, event.occurred_at).await?
    else {
        return Ok(None);
    };
    stats::count_card_opened(conn, &gift, event.occurred_at).await?;
    let id = ClaimId::new();
    let mut claim = NewClaim {
        id,
        shop_id: event.shop_id,
        user_id: event.user_id.clone(),
        kind: ClaimKind::OpenCardGift,
        source_id: gift.id.to_string(),
        once_key: format!("oc:{}:{}", gift.id, event.user_id),
        steps: Vec::new(),
        lease: Lease::new(),
    };
    match gift.claim_prizes() {
        Ok(prizes) => claim.steps = plan(id, &Claimed::OpenCardGift { prizes: &prizes }),
        Err(reason) => {
            tracing::error!(campaign_id = %gift.id, claim_id = %id, reason = %reason, "open-card gift cannot be planned; the claim fails");
            metrics::counter!("memberhub_claim_runs_total", "kind" => ClaimKind::OpenCardGift.as_db(), "outcome" => "corrupt")
                .increment(1);
            claims::insert_failed(conn, &claim, &reason, now).await?;
            return Ok(None);
        }
    }
    if !claims::insert(conn, &claim, now, lease_until).await? {
        return Ok(None);
    }
    if open_card_gifts::take_pack(conn, gift.id).await? {
        Ok(Some((id, claim.lease)))
    } else {
        claims::forget(conn, id).await?;
        Ok(None)
    }
}

/// Keeps an event the consumer could not read, with why, for an operator (the consumer
/// moves past it). Parking the same event again (a replayed batch) changes nothing.
pub(crate) async fn park(
    conn: &mut PgConnection,
    consumer: &str,
    event: &memberhub_proto::membership::WatchEventsResponse,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "INSERT INTO campaign.parked_events (consumer, cursor, event_type, shop_id, reason, parked_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (consumer, cursor) DO NOTHING",
        consumer,
        event.cursor,
        event.r#type,
        event.shop_id,
        reason,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An event the consumer parked.
#[derive(Debug, Clone)]
pub(crate) struct ParkedEvent {
    pub cursor: String,
    pub event_type: i32,
    pub shop_id: String,
    pub reason: String,
    pub parked_at: DateTime<Utc>,
}

/// `consumer`'s parked events, newest first, after the page position `before` (the last
/// row of the previous page: its time and cursor).
pub(crate) async fn parked(
    conn: &mut PgConnection,
    consumer: &str,
    before: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> Result<Vec<ParkedEvent>, Error> {
    let (at, cursor) = before.unzip();
    Ok(sqlx::query_as!(
        ParkedEvent,
        "SELECT cursor, event_type, shop_id, reason, parked_at FROM campaign.parked_events
         WHERE consumer = $1
           AND ($2::timestamptz IS NULL OR (parked_at, cursor) < ($2, $3::text))
         ORDER BY parked_at DESC, cursor DESC LIMIT $4",
        consumer,
        at,
        cursor,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?)
}
