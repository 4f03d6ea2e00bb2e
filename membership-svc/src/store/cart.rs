//! OR-1: add-to-cart events, kept once per (shop, event id).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::cart::CartEvent;
use crate::error::Error;

/// Keeps `events` in one statement; returns, per event in the order given, whether it was
/// new (false: delivered before, or earlier in the same batch).
pub(crate) async fn ingest(
    conn: &mut PgConnection,
    events: &[CartEvent],
    now: DateTime<Utc>,
) -> Result<Vec<bool>, Error> {
    let mut shops = Vec::with_capacity(events.len());
    let mut ids = Vec::with_capacity(events.len());
    let mut users = Vec::with_capacity(events.len());
    let mut skus = Vec::with_capacity(events.len());
    let mut categories = Vec::with_capacity(events.len());
    let mut quantities = Vec::with_capacity(events.len());
    let mut times = Vec::with_capacity(events.len());
    for e in events {
        shops.push(e.shop_id.as_uuid());
        ids.push(e.event_id.clone());
        users.push(e.user_id.as_str().to_string());
        skus.push(e.sku.clone());
        categories.push(e.category.clone());
        quantities.push(e.quantity);
        times.push(e.occurred_at);
    }
    let inserted = sqlx::query!(
        "INSERT INTO membership.cart_events
           (shop_id, event_id, user_id, sku, category, quantity, occurred_at, received_at)
         SELECT DISTINCT ON (s, id) s, id, u, k, c, q, t, $8
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[],
                     $7::timestamptz[]) WITH ORDINALITY AS e(s, id, u, k, c, q, t, n)
         ORDER BY s, id, n
         ON CONFLICT (shop_id, event_id) DO NOTHING
         RETURNING shop_id, event_id",
        &shops,
        &ids,
        &users,
        &skus,
        &categories,
        &quantities,
        &times,
        now,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut new: HashSet<(Uuid, String)> = inserted
        .into_iter()
        .map(|r| (r.shop_id, r.event_id))
        .collect();
    // The first delivery in the request is the one applied; a copy after it is a duplicate.
    Ok(events
        .iter()
        .map(|e| {
            let (shop, id) = e.key();
            new.remove(&(shop.as_uuid(), id.to_string()))
        })
        .collect())
}
