//! OR-1..OR-4: ingesting a batch of order events in one transaction with a fixed number of
//! set-based statements, whatever the batch size: lock and load, fold in memory
//! (`domain::orders`), write back.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{ledger, levels, members, outbox};
use crate::domain::ids::{ShopId, UserId};
use crate::domain::orders::{self, Batch, EventKey, EventKind, Order, OrderEvent, Outcome};
use crate::error::Error;

/// Applies `events` (any order, duplicates allowed) and returns one outcome per event, in
/// the order given.
#[tracing::instrument(skip_all, fields(events = events.len()))]
pub(crate) async fn ingest(
    conn: &mut PgConnection,
    events: &[OrderEvent],
    now: DateTime<Utc>,
) -> Result<Vec<Outcome>, Error> {
    let mut sorted: Vec<OrderEvent> = events.to_vec();
    orders::sort_for_apply(&mut sorted);
    sorted.dedup_by(|a, b| a.key() == b.key());

    // 1. The programs, share-locked so a level-rule change waits for this batch (LV-5).
    let shops: Vec<ShopId> = sorted
        .iter()
        .map(|e| e.shop_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let rules = levels::rules_for_orders(conn, &shops).await?;

    // 2. Orders, locked in (shop, order) order, then the event rows: only new ones return.
    let loaded = lock_orders(conn, &sorted).await?;
    let new_keys = insert_events(conn, &sorted, now).await?;
    insert_lines(conn, &sorted, &new_keys).await?;
    let held = held_refunds(conn, &loaded).await?;

    // 3. Members and their points accounts, locked in (shop, user) order.
    let member_keys: Vec<(ShopId, UserId)> = loaded
        .iter()
        .map(|o| (o.shop_id, o.user_id.clone()))
        .collect();
    let loaded_members = members::lock_many(conn, &member_keys, now).await?;
    let balances = ledger::lock_points(conn, &member_keys).await?;

    // 4. The fold.
    let mut batch = Batch {
        rules: &rules,
        effects: orders::Effects::default(),
        now,
    };
    for order in loaded {
        batch
            .effects
            .orders
            .insert((order.shop_id, order.order_id.clone()), order);
    }
    for member in loaded_members {
        batch
            .effects
            .members
            .insert((member.shop_id, member.user_id.clone()), member);
    }
    for (shop, user, balance) in &balances {
        batch.effects.points.insert((*shop, user.clone()), *balance);
    }
    let mut outcomes: HashMap<EventKey, Outcome> = HashMap::new();
    for event in &sorted {
        let key = event.key();
        let outcome = if !new_keys.contains(&key) {
            Outcome::Duplicate
        } else if batch.effects.applied_refunds.contains(&key) {
            // Held, then applied by its order's confirmation earlier in this batch.
            Outcome::Applied
        } else {
            let waiting: Vec<OrderEvent> = held
                .get(&(event.shop_id, event.order_id.clone()))
                .cloned()
                .unwrap_or_default();
            let waiting: Vec<OrderEvent> = waiting.into_iter().filter(|h| h.key() != key).collect();
            batch.apply(event, &waiting)
        };
        outcomes.insert(key, outcome);
    }

    // 5. Write back.
    let effects = batch.effects;
    save_orders(conn, effects.orders.values().collect::<Vec<_>>().as_slice()).await?;
    mark_applied(conn, &effects.applied_refunds).await?;
    let touched: Vec<&crate::domain::members::Member> = effects.members.values().collect();
    members::save_order_fields(conn, &touched, now).await?;
    let joined: Vec<&crate::domain::members::Member> = effects
        .joined
        .iter()
        .filter_map(|k| effects.members.get(k))
        .collect();
    if !joined.is_empty() {
        members::insert_periods(conn, &joined).await?;
    }
    ledger::apply_points_moves(conn, &effects.moves, &balances, now).await?;
    outbox::append(conn, &effects.events).await?;
    // A copy of an event later in the same batch is a duplicate delivery.
    let mut reported = HashSet::new();
    Ok(events
        .iter()
        .map(|e| {
            let key = e.key();
            let outcome = outcomes
                .get(&key)
                .copied()
                .filter(|_| !reported.contains(&key));
            reported.insert(key);
            outcome.unwrap_or(Outcome::Duplicate)
        })
        .collect())
}

/// Creates the orders not seen before and locks all of them.
async fn lock_orders(conn: &mut PgConnection, events: &[OrderEvent]) -> Result<Vec<Order>, Error> {
    let mut firsts: Vec<&OrderEvent> = Vec::new();
    for e in events {
        if firsts
            .last()
            .is_none_or(|l| (l.shop_id, &l.order_id) != (e.shop_id, &e.order_id))
        {
            firsts.push(e);
        }
    }
    let shops: Vec<Uuid> = firsts.iter().map(|e| e.shop_id.as_uuid()).collect();
    let ids: Vec<String> = firsts.iter().map(|e| e.order_id.clone()).collect();
    let users: Vec<String> = firsts
        .iter()
        .map(|e| e.user_id.as_str().to_string())
        .collect();
    sqlx::query!(
        "INSERT INTO membership.orders (shop_id, order_id, user_id)
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) ON CONFLICT DO NOTHING",
        &shops,
        &ids,
        &users,
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query!(
        "SELECT o.shop_id, o.order_id, o.user_id, o.amount_fen, o.paid_at, o.confirmed_at, o.refunded_fen,
                o.points_earned, o.points_reversed
         FROM membership.orders o JOIN unnest($1::uuid[], $2::text[]) AS k(s, id) ON o.shop_id = k.s AND o.order_id = k.id
         ORDER BY o.shop_id, o.order_id COLLATE \"C\" FOR UPDATE OF o",
        &shops,
        &ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Order {
                shop_id: r.shop_id.into(),
                order_id: r.order_id,
                user_id: UserId::parse("user_id", &r.user_id)
                    .map_err(|_| Error::CorruptRow("orders.user_id"))?,
                amount_fen: r.amount_fen,
                paid_at: r.paid_at,
                confirmed_at: r.confirmed_at,
                refunded_fen: r.refunded_fen,
                points_earned: r.points_earned,
                points_reversed: r.points_reversed,
            })
        })
        .collect()
}

/// OR-1: records each event once; returns the keys that were new.
async fn insert_events(
    conn: &mut PgConnection,
    events: &[OrderEvent],
    now: DateTime<Utc>,
) -> Result<HashSet<EventKey>, Error> {
    let shops: Vec<Uuid> = events.iter().map(|e| e.shop_id.as_uuid()).collect();
    let ids: Vec<String> = events.iter().map(|e| e.order_id.clone()).collect();
    let types: Vec<String> = events.iter().map(|e| e.kind.as_db().to_string()).collect();
    let refunds: Vec<String> = events
        .iter()
        .map(|e| e.kind.refund_id().to_string())
        .collect();
    let amounts: Vec<i64> = events.iter().map(|e| e.amount_fen).collect();
    let times: Vec<DateTime<Utc>> = events.iter().map(|e| e.occurred_at).collect();
    let rows = sqlx::query!(
        "INSERT INTO membership.order_events (shop_id, order_id, event_type, refund_id, amount_fen, occurred_at, received_at, applied)
         SELECT s, o, t, r, a, at, $7, t <> 'REFUNDED'
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::timestamptz[]) AS e(s, o, t, r, a, at)
         ON CONFLICT DO NOTHING
         RETURNING shop_id, order_id, event_type, refund_id",
        &shops,
        &ids,
        &types,
        &refunds,
        &amounts,
        &times,
        now,
    )
    .fetch_all(&mut *conn)
    .await?;
    let by_type = |t: &str| -> Option<&'static str> {
        ["PAID", "RECEIPT_CONFIRMED", "REFUNDED"]
            .into_iter()
            .find(|k| *k == t)
    };
    rows.into_iter()
        .map(|r| {
            Ok((
                ShopId::from(r.shop_id),
                r.order_id,
                by_type(&r.event_type).ok_or(Error::CorruptRow("order_events.event_type"))?,
                r.refund_id,
            ))
        })
        .collect()
}

/// Refunds waiting for their order's confirmation (including any inserted just now).
/// OR-1: the lines of an order, from the first new payment or confirmation that carries
/// any, for members and non-members alike. An order that has lines keeps them: a later
/// event's lines (a redelivery, a confirmation repeating the payment's) change nothing.
async fn insert_lines(
    conn: &mut PgConnection,
    events: &[OrderEvent],
    new_keys: &HashSet<EventKey>,
) -> Result<(), Error> {
    let mut shops = Vec::new();
    let mut orders = Vec::new();
    let mut numbers = Vec::new();
    let mut users = Vec::new();
    let mut skus = Vec::new();
    let mut categories = Vec::new();
    let mut quantities = Vec::new();
    let mut prices = Vec::new();
    let mut times = Vec::new();
    let mut seen = HashSet::new();
    let carrying = events.iter().filter(|e| {
        !matches!(e.kind, EventKind::Refunded { .. })
            && !e.lines.is_empty()
            && new_keys.contains(&e.key())
            && seen.insert((e.shop_id, e.order_id.as_str()))
    });
    for e in carrying {
        for (n, line) in e.lines.iter().enumerate() {
            shops.push(e.shop_id.as_uuid());
            orders.push(e.order_id.clone());
            numbers.push(n as i32);
            users.push(e.user_id.as_str().to_string());
            skus.push(line.sku.clone());
            categories.push(line.category.clone());
            quantities.push(line.quantity);
            prices.push(line.unit_price_fen);
            times.push(e.occurred_at);
        }
    }
    if shops.is_empty() {
        return Ok(());
    }
    sqlx::query!(
        "INSERT INTO membership.order_lines
           (shop_id, order_id, line_no, user_id, sku, category, quantity, unit_price_fen, ordered_at)
         SELECT l.* FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[],
                                $6::text[], $7::bigint[], $8::bigint[], $9::timestamptz[])
              AS l(shop_id, order_id, line_no, user_id, sku, category, quantity, price, at)
         WHERE NOT EXISTS (SELECT 1 FROM membership.order_lines x
                           WHERE x.shop_id = l.shop_id AND x.order_id = l.order_id)
         ON CONFLICT (shop_id, order_id, line_no) DO NOTHING",
        &shops,
        &orders,
        &numbers,
        &users,
        &skus,
        &categories,
        &quantities,
        &prices,
        &times,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn held_refunds(
    conn: &mut PgConnection,
    orders: &[Order],
) -> Result<HashMap<(ShopId, String), Vec<OrderEvent>>, Error> {
    let shops: Vec<Uuid> = orders.iter().map(|o| o.shop_id.as_uuid()).collect();
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    let rows = sqlx::query!(
        "SELECT e.shop_id, e.order_id, e.refund_id, e.amount_fen, e.occurred_at, o.user_id
         FROM membership.order_events e
         JOIN unnest($1::uuid[], $2::text[]) AS k(s, id) ON e.shop_id = k.s AND e.order_id = k.id
         JOIN membership.orders o ON o.shop_id = e.shop_id AND o.order_id = e.order_id
         WHERE NOT e.applied ORDER BY e.shop_id, e.order_id, e.refund_id",
        &shops,
        &ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut held: HashMap<(ShopId, String), Vec<OrderEvent>> = HashMap::new();
    for r in rows {
        let event = OrderEvent {
            shop_id: r.shop_id.into(),
            order_id: r.order_id.clone(),
            user_id: UserId::parse("user_id", &r.user_id)
                .map_err(|_| Error::CorruptRow("orders.user_id"))?,
            kind: EventKind::Refunded {
                refund_id: r.refund_id,
            },
            amount_fen: r.amount_fen,
            occurred_at: r.occurred_at,
            lines: Vec::new(),
        };
        held.entry((r.shop_id.into(), r.order_id))
            .or_default()
            .push(event);
    }
    Ok(held)
}

async fn save_orders(conn: &mut PgConnection, orders: &[&Order]) -> Result<(), Error> {
    let shops: Vec<Uuid> = orders.iter().map(|o| o.shop_id.as_uuid()).collect();
    let ids: Vec<String> = orders.iter().map(|o| o.order_id.clone()).collect();
    let amounts: Vec<i64> = orders.iter().map(|o| o.amount_fen).collect();
    let paid: Vec<Option<DateTime<Utc>>> = orders.iter().map(|o| o.paid_at).collect();
    let confirmed: Vec<Option<DateTime<Utc>>> = orders.iter().map(|o| o.confirmed_at).collect();
    let refunded: Vec<i64> = orders.iter().map(|o| o.refunded_fen).collect();
    let earned: Vec<i64> = orders.iter().map(|o| o.points_earned).collect();
    let reversed: Vec<i64> = orders.iter().map(|o| o.points_reversed).collect();
    sqlx::query!(
        "UPDATE membership.orders o SET amount_fen = v.amount, paid_at = v.paid, confirmed_at = v.confirmed,
                refunded_fen = v.refunded, points_earned = v.earned, points_reversed = v.reversed
         FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::bigint[], $7::bigint[], $8::bigint[])
              AS v(shop_id, order_id, amount, paid, confirmed, refunded, earned, reversed)
         WHERE o.shop_id = v.shop_id AND o.order_id = v.order_id",
        &shops,
        &ids,
        &amounts,
        &paid as &[Option<DateTime<Utc>>],
        &confirmed as &[Option<DateTime<Utc>>],
        &refunded,
        &earned,
        &reversed,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

async fn mark_applied(conn: &mut PgConnection, refunds: &[EventKey]) -> Result<(), Error> {
    if refunds.is_empty() {
        return Ok(());
    }
    let shops: Vec<Uuid> = refunds.iter().map(|k| k.0.as_uuid()).collect();
    let ids: Vec<String> = refunds.iter().map(|k| k.1.clone()).collect();
    let refund_ids: Vec<String> = refunds.iter().map(|k| k.3.clone()).collect();
    sqlx::query!(
        "UPDATE membership.order_events e SET applied = true
         FROM unnest($1::uuid[], $2::text[], $3::text[]) AS k(s, o, r)
         WHERE e.shop_id = k.s AND e.order_id = k.o AND e.event_type = 'REFUNDED' AND e.refund_id = k.r",
        &shops,
        &ids,
        &refund_ids,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
