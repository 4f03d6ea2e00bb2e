//! GP-9: a gift pack's provisioning, written down before its coupon allocations are
//! reserved. RESERVING -> RECORDED when the pack is recorded; a creator that is refused, or
//! loses a race to a retry, gives the units back -> ABANDONED; one that died leaves it
//! RESERVING, and the reconciler fences it (ABANDONING, so a late creator can no longer
//! record the pack), gives the units back and ends it ABANDONED.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::types::PackId;
use crate::error::Error;

/// What an abandoned provisioning may hold.
#[derive(Debug, Clone)]
pub struct Provisioning {
    pub pack_id: PackId,
    pub batch_ids: Vec<Uuid>,
    pub quantity: i64,
}

/// Writes the provisioning down (committed before anything is reserved).
pub async fn begin(
    conn: &mut PgConnection,
    provisioning: &Provisioning,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "INSERT INTO campaign.gift_pack_provisionings (pack_id, batch_ids, quantity, state, started_at)
         VALUES ($1, $2, $3, 'RESERVING', $4)",
        provisioning.pack_id.as_uuid(),
        &provisioning.batch_ids,
        provisioning.quantity,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// RESERVING -> RECORDED, in the transaction that records the pack; false when the
/// reconciler abandoned it meanwhile (the pack must not be recorded).
pub async fn mark_recorded(conn: &mut PgConnection, pack: PackId) -> Result<bool, Error> {
    let updated = sqlx::query!(
        "UPDATE campaign.gift_pack_provisionings SET state = 'RECORDED'
         WHERE pack_id = $1 AND state = 'RESERVING'",
        pack.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Takes a provisioning for giving back: RESERVING or ABANDONING -> ABANDONING. False when
/// it was recorded or given back already.
pub(crate) async fn fence(conn: &mut PgConnection, pack: PackId) -> Result<bool, Error> {
    let updated = sqlx::query!(
        "UPDATE campaign.gift_pack_provisionings SET state = 'ABANDONING'
         WHERE pack_id = $1 AND state IN ('RESERVING', 'ABANDONING')",
        pack.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(updated.rows_affected() == 1)
}

/// Its units are given back.
pub(crate) async fn mark_abandoned(conn: &mut PgConnection, pack: PackId) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.gift_pack_provisionings SET state = 'ABANDONED'
         WHERE pack_id = $1 AND state <> 'RECORDED'",
        pack.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Provisionings left RESERVING since before `before`, or fenced and not yet given back.
pub(crate) async fn abandoned(
    conn: &mut PgConnection,
    before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Provisioning>, Error> {
    let rows = sqlx::query!(
        "SELECT pack_id, batch_ids, quantity FROM campaign.gift_pack_provisionings
         WHERE (state = 'RESERVING' AND started_at < $1) OR state = 'ABANDONING'
         ORDER BY started_at LIMIT $2",
        before,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Provisioning {
            pack_id: r.pack_id.into(),
            batch_ids: r.batch_ids,
            quantity: r.quantity,
        })
        .collect())
}
