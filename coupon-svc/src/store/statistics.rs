//! CP-8: batch statistics.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::batch::Batch;
use crate::error::Error;

/// What a batch's coupons became.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statistics {
    pub issues: i64,
    pub issued: i64,
    pub used: i64,
    pub locked: i64,
    pub available: i64,
    /// Unused coupons past their validity, derived at `now`.
    pub expired: i64,
}

impl Statistics {
    /// CP-8: used / issued in basis points (0 when nothing was issued).
    pub(crate) fn use_rate_bp(&self) -> i32 {
        if self.issued == 0 {
            return 0;
        }
        i32::try_from(self.used * 10_000 / self.issued).unwrap_or(10_000)
    }
}

/// CP-8: counts of the batch's coupons by state at `now`.
#[tracing::instrument(skip_all, fields(batch_id = %batch.id))]
pub(crate) async fn of_batch(
    conn: &mut PgConnection,
    batch: &Batch,
    now: DateTime<Utc>,
) -> Result<Statistics, Error> {
    let row = sqlx::query!(
        r#"SELECT count(*) AS "issued!",
                  count(DISTINCT issue_id) AS "issues!",
                  count(*) FILTER (WHERE state = 'USED') AS "used!",
                  count(*) FILTER (WHERE state = 'LOCKED') AS "locked!",
                  count(*) FILTER (WHERE state = 'AVAILABLE' AND valid_until > $2) AS "available!",
                  count(*) FILTER (WHERE state = 'AVAILABLE' AND valid_until <= $2) AS "expired!"
           FROM coupon.coupons WHERE batch_id = $1"#,
        batch.id.as_uuid(),
        now,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Statistics {
        issues: row.issues,
        issued: row.issued,
        used: row.used,
        locked: row.locked,
        available: row.available,
        expired: row.expired,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp8_use_rate_is_used_over_issued_in_basis_points() {
        let stats = |issued, used| Statistics {
            issues: issued,
            issued,
            used,
            locked: 0,
            available: 0,
            expired: 0,
        };
        assert_eq!(stats(0, 0).use_rate_bp(), 0);
        assert_eq!(stats(3, 1).use_rate_bp(), 3_333);
        assert_eq!(stats(4, 4).use_rate_bp(), 10_000);
    }
}
