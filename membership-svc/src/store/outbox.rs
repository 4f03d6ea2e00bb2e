//! The outbox: events written in the change's transaction, read in commit-safe order.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::events::{Cursor, EventType, NewEvent};
use crate::error::Error;

/// Writes events in the caller's transaction.
pub(crate) async fn append(conn: &mut PgConnection, events: &[NewEvent]) -> Result<(), Error> {
    if events.is_empty() {
        return Ok(());
    }
    let ids: Vec<Uuid> = events.iter().map(|_| Uuid::now_v7()).collect();
    let types: Vec<String> = events
        .iter()
        .map(|e| e.event_type.as_db().to_string())
        .collect();
    let shops: Vec<Uuid> = events.iter().map(|e| e.shop_id.as_uuid()).collect();
    let users: Vec<String> = events
        .iter()
        .map(|e| e.user_id.as_str().to_string())
        .collect();
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let payloads: Vec<serde_json::Value> = events.iter().map(|e| e.payload.clone()).collect();
    sqlx::query!(
        "INSERT INTO membership.outbox (event_id, event_type, shop_id, user_id, occurred_at, payload)
         SELECT id, t, s, u, at, p FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::timestamptz[], $6::jsonb[])
         WITH ORDINALITY AS e(id, t, s, u, at, p, n) ORDER BY n",
        &ids,
        &types,
        &shops,
        &users,
        &times,
        &payloads,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// An event as read back.
#[derive(Debug, Clone)]
pub(crate) struct StoredEvent {
    pub cursor: Cursor,
    pub event_id: Uuid,
    pub event_type: EventType,
    pub shop_id: Uuid,
    pub user_id: String,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

/// The newest position pruned from the feed (see `retention`), if any.
pub(crate) async fn horizon(pool: &PgPool) -> Result<Option<Cursor>, Error> {
    let row = sqlx::query!("SELECT txid, position FROM membership.outbox_horizon")
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| Cursor {
        txid: r.txid,
        position: r.position,
    }))
}

/// Up to `limit` events after `after`, only from transactions older than every transaction
/// still running: those can no longer add events before the ones returned, so a reader that
/// moves its cursor forward never skips one that commits late.
pub(crate) async fn read_after(
    pool: &PgPool,
    after: Cursor,
    limit: i64,
) -> Result<Vec<StoredEvent>, Error> {
    let rows = sqlx::query!(
        "SELECT position, txid, event_id, event_type, shop_id, user_id, occurred_at, payload
         FROM membership.outbox
         WHERE (txid, position) > ($1, $2)
           AND txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint
         ORDER BY txid, position LIMIT $3",
        after.txid,
        after.position,
        limit,
    )
    .fetch_all(pool)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(StoredEvent {
                cursor: Cursor {
                    txid: r.txid,
                    position: r.position,
                },
                event_id: r.event_id,
                event_type: EventType::from_db(&r.event_type)
                    .ok_or(Error::CorruptRow("outbox.event_type"))?,
                shop_id: r.shop_id,
                user_id: r.user_id,
                occurred_at: r.occurred_at,
                payload: r.payload,
            })
        })
        .collect()
}
