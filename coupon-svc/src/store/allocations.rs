//! CP-4, OC-6: reserving units of a batch for a campaign, binding, releasing.

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use sqlx::PgConnection;

use crate::domain::allocation::{self, Allocation, NewAllocation};
use crate::domain::batch::{Batch, Channel, Window};
use crate::domain::ids::{AllocationId, BatchId, BatchRef, Holder};
use crate::error::Error;

/// The allocation, if it exists.
#[tracing::instrument(skip_all, fields(allocation_id = %id))]
pub(crate) async fn get(
    conn: &mut PgConnection,
    id: AllocationId,
) -> Result<Option<Allocation>, Error> {
    let row = sqlx::query!(
        "SELECT allocation_id, batch_id, channel, holder, reserved, remaining, issued, bound,
                claim_start, claim_end, created_at, released_at
         FROM coupon.allocations WHERE allocation_id = $1",
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Allocation {
            id: AllocationId::from(r.allocation_id),
            batch: BatchId::from(r.batch_id),
            channel: Channel::from_db(&r.channel)
                .ok_or(Error::CorruptRow("allocations.channel"))?,
            holder: Holder::from_db(r.holder),
            reserved: r.reserved,
            issued: r.issued,
            remaining: r.remaining,
            bound: r.bound,
            window: match (r.claim_start, r.claim_end) {
                (Some(start), Some(end)) => Some(Window { start, end }),
                _ => None,
            },
            created_at: r.created_at,
            released_at: r.released_at,
        })
    })
    .transpose()
}

/// CP-4: reserves `new.quantity` units of the batch for `new.holder`; OC-6 binds the batch
/// when asked. `authorize` rules on the batch first (tenancy). The units come off the free
/// stock with one conditional update, so they are unavailable to everyone else at once.
#[tracing::instrument(skip_all, fields(batch_id = %new.batch, quantity = new.quantity))]
pub(crate) async fn reserve(
    conn: &mut PgConnection,
    new: NewAllocation,
    authorize: impl FnOnce(&Batch) -> Result<(), Failure>,
    now: DateTime<Utc>,
) -> Result<Allocation, Error> {
    let batch = super::batches::get(conn, &BatchRef::Id(new.batch))
        .await?
        .ok_or_else(|| Error::BatchNotFound(new.batch.to_string()))?;
    authorize(&batch)?;
    allocation::check_reserve(&batch, &new, now)?;
    let id = AllocationId::new();
    let taken = sqlx::query!(
        "UPDATE coupon.stock
         SET free = free - $2,
             bound_allocation_id = CASE WHEN $3 THEN $4 ELSE bound_allocation_id END
         WHERE batch_id = $1 AND issuable AND free >= $2 AND bound_allocation_id IS NULL",
        new.batch.as_uuid(),
        new.quantity,
        new.bind,
        id.as_uuid(),
    )
    .execute(&mut *conn)
    .await?
    .rows_affected()
        == 1;
    if !taken {
        // Something changed since the read above: say what, from a fresh read.
        let fresh = super::batches::get(conn, &BatchRef::Id(new.batch))
            .await?
            .ok_or_else(|| Error::BatchNotFound(new.batch.to_string()))?;
        allocation::check_reserve(&fresh, &new, now)?;
        return Err(if fresh.bound_allocation.is_some() {
            allocation::already_bound()
        } else {
            allocation::insufficient_stock(fresh.remaining)
        }
        .into());
    }
    if new.bind {
        // After the stock lock, a fresh statement sees every committed reservation: a bound
        // batch is claimable only through its campaign, so no other may hold units.
        let others = sqlx::query_scalar!(
            r#"SELECT count(*) AS "count!" FROM coupon.allocations WHERE batch_id = $1 AND released_at IS NULL"#,
            new.batch.as_uuid(),
        )
        .fetch_one(&mut *conn)
        .await?;
        if others > 0 {
            return Err(Failure::precondition(
                "BATCH_ALREADY_ALLOCATED",
                "another campaign holds units of this batch; a bound batch must be its campaign's alone",
            )
            .into());
        }
    }
    sqlx::query!(
        "INSERT INTO coupon.allocations (allocation_id, batch_id, channel, holder, reserved, remaining,
             bound, claim_start, claim_end, created_at)
         VALUES ($1, $2, $3, $4, $5, $5, $6, $7, $8, $9)",
        id.as_uuid(),
        new.batch.as_uuid(),
        new.channel.as_db(),
        new.holder.as_str(),
        new.quantity,
        new.bind,
        new.window.map(|w| w.start),
        new.window.map(|w| w.end),
        now,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, id)
        .await?
        .ok_or_else(|| Error::AllocationNotFound(id.to_string()))
}

/// The allocation with its batch, for tenancy checks.
pub(crate) async fn get_with_batch(
    conn: &mut PgConnection,
    id: AllocationId,
) -> Result<(Allocation, Batch), Error> {
    let allocation = get(conn, id)
        .await?
        .ok_or_else(|| Error::AllocationNotFound(id.to_string()))?;
    let batch = super::batches::get(conn, &BatchRef::Id(allocation.batch))
        .await?
        .ok_or_else(|| Error::BatchNotFound(allocation.batch.to_string()))?;
    Ok((allocation, batch))
}

/// CP-4: returns the units not issued to the batch's free stock and lifts an OC-6 binding.
/// Releasing a released allocation changes nothing and returns it as it is.
#[tracing::instrument(skip_all, fields(allocation_id = %id))]
pub(crate) async fn release(
    conn: &mut PgConnection,
    id: AllocationId,
    authorize: impl FnOnce(&Batch) -> Result<(), Failure>,
    now: DateTime<Utc>,
) -> Result<Allocation, Error> {
    let (_, batch) = get_with_batch(conn, id).await?;
    authorize(&batch)?;
    let released = sqlx::query!(
        "UPDATE coupon.allocations SET last_take = remaining, remaining = 0, released_at = $2
         WHERE allocation_id = $1 AND released_at IS NULL
         RETURNING batch_id, last_take",
        id.as_uuid(),
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(released) = released {
        sqlx::query!(
            "UPDATE coupon.stock
             SET free = free + $2,
                 bound_allocation_id = CASE WHEN bound_allocation_id = $3 THEN NULL ELSE bound_allocation_id END
             WHERE batch_id = $1",
            released.batch_id,
            released.last_take,
            id.as_uuid(),
        )
        .execute(&mut *conn)
        .await?;
    }
    get(conn, id)
        .await?
        .ok_or_else(|| Error::AllocationNotFound(id.to_string()))
}
