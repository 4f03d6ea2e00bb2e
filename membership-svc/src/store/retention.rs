//! X-1 retention: what membership-svc keeps only for a while, pruned by the hourly sweep in
//! bounded batches (each its own short statement, so pruning never holds a long lock).
//!
//! | what | kept |
//! | --- | --- |
//! | idempotency keys | 48 h (`memberhub_kit::idempotency::KEY_RETENTION`) |
//! | recorded SMS (code masked) | 30 days |
//! | SMS codes (hashed) | 1 day past their expiry |
//! | event feed (outbox) | 7 days after written; a consumer resuming from a pruned cursor is refused |

use chrono::{DateTime, Duration, Utc};
use sqlx::PgPool;

use crate::error::Error;

/// Rows deleted per statement.
const BATCH: i64 = 1_000;
const SMS_MESSAGES_KEPT: Duration = Duration::days(30);
const SMS_CODES_KEPT_PAST_EXPIRY: Duration = Duration::days(1);
/// How far behind the newest event a consumer of `WatchEvents` may fall.
pub(crate) const FEED_KEPT: Duration = Duration::days(7);

/// Prunes everything past its retention at `now`.
pub async fn prune(pool: &PgPool, now: DateTime<Utc>) -> Result<(), Error> {
    let keys =
        memberhub_kit::idempotency::prune(pool, "membership.idempotency_keys", now, BATCH).await?;
    let sms = memberhub_kit::db::delete_in_batches(
        pool,
        "membership.sms_messages",
        "sent_at",
        now - SMS_MESSAGES_KEPT,
        BATCH,
    )
    .await?;
    let codes = memberhub_kit::db::delete_in_batches(
        pool,
        "membership.sms_codes",
        "expires_at",
        now - SMS_CODES_KEPT_PAST_EXPIRY,
        BATCH,
    )
    .await?;
    let events = prune_feed(pool, now - FEED_KEPT).await?;
    if keys + sms + codes + events > 0 {
        tracing::info!(keys, sms, codes, events, "pruned past retention");
    }
    Ok(())
}

/// Deletes feed events written before `before`, oldest first, and raises the horizon to the
/// newest one deleted.
async fn prune_feed(pool: &PgPool, before: DateTime<Utc>) -> Result<u64, Error> {
    let mut deleted = 0;
    loop {
        let n = sqlx::query_scalar!(
            r#"WITH gone AS (
                 DELETE FROM membership.outbox WHERE position IN (
                   SELECT position FROM membership.outbox WHERE written_at < $1
                   ORDER BY txid, position LIMIT $2)
                 RETURNING txid, position),
               top AS (SELECT txid, position FROM gone ORDER BY txid DESC, position DESC LIMIT 1),
               saved AS (
                 INSERT INTO membership.outbox_horizon (txid, position)
                 SELECT txid, position FROM top
                 ON CONFLICT (only_row) DO UPDATE SET txid = EXCLUDED.txid, position = EXCLUDED.position
                 WHERE (EXCLUDED.txid, EXCLUDED.position) > (outbox_horizon.txid, outbox_horizon.position))
               SELECT count(*) AS "n!" FROM gone"#,
            before,
            BATCH,
        )
        .fetch_one(pool)
        .await?;
        let n = u64::try_from(n).unwrap_or(0);
        deleted += n;
        if n < BATCH as u64 {
            return Ok(deleted);
        }
    }
}
