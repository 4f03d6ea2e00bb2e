//! OC-3: campaign-svc's holds on card joining. A hold and a change of the join policy both
//! lock the program row first (`programs::lock_join_policy`), so they serialise: the policy
//! never ends up `ORDER` with a live hold.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::programs;
use crate::domain::ids::ShopId;
use crate::domain::program::{self, CardJoinHold};
use crate::error::Error;

/// OC-3: takes (or renews) `holder`'s hold until `end_time`, if the policy allows card
/// opening. Renewing a released hold takes it again.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id, holder = %holder, end_time = %end_time))]
pub(crate) async fn hold(
    conn: &mut PgConnection,
    shop_id: ShopId,
    holder: &str,
    end_time: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<CardJoinHold, Error> {
    let policy = programs::lock_join_policy(conn, shop_id).await?;
    program::check_hold(policy)?;
    let row = sqlx::query!(
        "INSERT INTO membership.card_join_holds (shop_id, holder, end_time, released_at, created_at)
         VALUES ($1, $2, $3, NULL, $4)
         ON CONFLICT (shop_id, holder) DO UPDATE SET end_time = EXCLUDED.end_time, released_at = NULL
         RETURNING end_time, released_at",
        shop_id.as_uuid(),
        holder,
        end_time,
        now,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(CardJoinHold {
        shop_id,
        holder: holder.to_string(),
        end_time: row.end_time,
        released_at: row.released_at,
    })
}

/// OC-3: releases `holder`'s hold; releasing it again changes nothing.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id, holder = %holder))]
pub(crate) async fn release(
    conn: &mut PgConnection,
    shop_id: ShopId,
    holder: &str,
    now: DateTime<Utc>,
) -> Result<CardJoinHold, Error> {
    let row = sqlx::query!(
        "UPDATE membership.card_join_holds SET released_at = COALESCE(released_at, $3)
         WHERE shop_id = $1 AND holder = $2
         RETURNING end_time, released_at",
        shop_id.as_uuid(),
        holder,
        now,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::HoldNotFound {
        shop_id,
        holder: holder.to_string(),
    })?;
    Ok(CardJoinHold {
        shop_id,
        holder: holder.to_string(),
        end_time: row.end_time,
        released_at: row.released_at,
    })
}

/// OC-3: a hold of the shop in force at `now` (the one ending last), if any.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn live(
    conn: &mut PgConnection,
    shop_id: ShopId,
    now: DateTime<Utc>,
) -> Result<Option<CardJoinHold>, Error> {
    let row = sqlx::query!(
        "SELECT holder, end_time, released_at FROM membership.card_join_holds
         WHERE shop_id = $1 AND released_at IS NULL AND end_time > $2
         ORDER BY end_time DESC, holder LIMIT 1",
        shop_id.as_uuid(),
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| CardJoinHold {
        shop_id,
        holder: r.holder,
        end_time: r.end_time,
        released_at: r.released_at,
    }))
}
