//! SP-6: the award of a joined shop, in three durable steps.
//!
//! 1. **Decide** (one transaction, the shop's row locked exclusively): rank the qualified by
//!    qualification time; the first D become `DUE`, the rest `NOT_AWARDED_OUT_OF_STOCK`, and
//!    `award_started_at` freezes the sprint spend. Decided once: a rerun finds it done.
//! 2. **Issue** the `DUE` in rank order, a chunk at a time, through coupon-svc with one
//!    idempotency key per shopper (`store` never calls out; `sprint_award` does), then mark
//!    each chunk `AWARDED` with its coupons. A crash between the two re-sends the same keys,
//!    and coupon-svc answers with the coupons it already issued: never a second issue.
//! 3. **Finish** when nothing is `DUE`.
//!
//! The lease (`award_lease_until`, `award_lease_holder`) keeps a second replica from running
//! the same award at the same time; correctness does not rest on it.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::types::{PlanId, ShopId};
use crate::error::Error;

/// A shop whose award may run now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AwardDue {
    pub(crate) plan_id: PlanId,
    pub(crate) shop_id: ShopId,
    pub(crate) batch_id: Uuid,
    pub(crate) distribution_quantity: i64,
}

/// Joined shops whose award phase has started, whose award has not finished and whose lease
/// is free or `holder`'s own (a round of its that failed is resumed at once), once the event
/// consumer was caught up after the award start (so every sprint event membership-svc had
/// sent is counted). At most `limit`.
pub(crate) async fn due(
    conn: &mut PgConnection,
    consumer: &str,
    holder: Uuid,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<AwardDue>, Error> {
    let rows = sqlx::query!(
        r#"SELECT s.plan_id, s.shop_id, s.batch_id AS "batch_id!",
                  s.distribution_quantity AS "distribution_quantity!"
           FROM campaign.sprint_plan_shops s
           JOIN campaign.sprint_plans p ON p.plan_id = s.plan_id
           WHERE s.state = 'JOINED' AND s.award_finished_at IS NULL
             AND p.award_start <= $1
             AND p.award_start <= (SELECT caught_up_at FROM campaign.event_cursors
                                   WHERE consumer = $2)
             AND (s.award_lease_until IS NULL OR s.award_lease_until <= $1
                  OR s.award_lease_holder = $4)
           ORDER BY p.award_start, s.plan_id, s.shop_id
           LIMIT $3"#,
        now,
        consumer,
        limit,
        holder,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| AwardDue {
            plan_id: r.plan_id.into(),
            shop_id: r.shop_id.into(),
            batch_id: r.batch_id,
            distribution_quantity: r.distribution_quantity,
        })
        .collect())
}

/// Takes (or renews) the award's lease for `holder` until `until`; false when another
/// holder has it, or the award finished.
pub(crate) async fn lease(
    conn: &mut PgConnection,
    award: &AwardDue,
    holder: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, Error> {
    let taken = sqlx::query!(
        "UPDATE campaign.sprint_plan_shops
         SET award_lease_until = $4, award_lease_holder = $3
         WHERE plan_id = $1 AND shop_id = $2 AND award_finished_at IS NULL
           AND (award_lease_holder = $3 OR award_lease_until IS NULL
                OR award_lease_until <= $5)",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        holder,
        until,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Step 1: ranks the qualified and freezes the sprint, once.
pub(crate) async fn decide(
    conn: &mut PgConnection,
    award: &AwardDue,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let started = sqlx::query_scalar!(
        "SELECT award_started_at FROM campaign.sprint_plan_shops
         WHERE plan_id = $1 AND shop_id = $2 FOR UPDATE",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await?;
    if started.is_some() {
        return Ok(());
    }
    // The registrations were all written since the last autovacuum analyse, typically: with
    // no statistics the planner joins the ranking to the table as a nested loop over both
    // (minutes at 100,000 rows instead of a fraction of a second). A utility statement, so
    // it cannot go through `query!`.
    sqlx::raw_sql("ANALYZE campaign.sprint_registrations")
        .execute(&mut *conn)
        .await?;
    sqlx::query!(
        "WITH ranked AS (
             SELECT user_id, row_number() OVER (ORDER BY qualified_at, qualify_seq) AS rank
             FROM campaign.sprint_registrations
             WHERE plan_id = $1 AND shop_id = $2 AND qualified_at IS NOT NULL
         )
         UPDATE campaign.sprint_registrations r
         SET award_rank = ranked.rank,
             award_state = CASE WHEN ranked.rank <= $3 THEN 'DUE'
                                ELSE 'NOT_AWARDED_OUT_OF_STOCK' END
         FROM ranked
         WHERE r.plan_id = $1 AND r.shop_id = $2 AND r.user_id = ranked.user_id",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        award.distribution_quantity,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE campaign.sprint_plan_shops SET award_started_at = $3
         WHERE plan_id = $1 AND shop_id = $2",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Step 2: the next `limit` shoppers still `DUE`, in rank order.
pub(crate) async fn next_due(
    conn: &mut PgConnection,
    award: &AwardDue,
    limit: i64,
) -> Result<Vec<String>, Error> {
    Ok(sqlx::query_scalar!(
        "SELECT user_id FROM campaign.sprint_registrations
         WHERE plan_id = $1 AND shop_id = $2 AND award_state = 'DUE'
         ORDER BY award_rank LIMIT $3",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// Step 2: records issued shoppers with their coupons (`coupons` pairs each coupon with its
/// shopper). Plain inserts and a key lookup by `ANY`: no join a planner could turn into a
/// nested loop over the registrations.
pub(crate) async fn mark_awarded(
    conn: &mut PgConnection,
    award: &AwardDue,
    coupons: &[(String, Uuid)],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let (users, ids): (Vec<String>, Vec<Uuid>) = coupons.iter().cloned().unzip();
    let mut awarded = users.clone();
    awarded.dedup();
    sqlx::query!(
        "INSERT INTO campaign.sprint_award_coupons (plan_id, shop_id, user_id, coupon_id)
         SELECT $1, $2, x.u, x.c FROM unnest($3::text[], $4::uuid[]) AS x(u, c)
         ON CONFLICT DO NOTHING",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        &users,
        &ids,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE campaign.sprint_registrations
         SET award_state = 'AWARDED', awarded_at = $4
         WHERE plan_id = $1 AND shop_id = $2 AND user_id = ANY($3) AND award_state = 'DUE'",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        &awarded,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Step 2: shoppers the batch could no longer serve (coupon-svc refused for stock).
pub(crate) async fn mark_out_of_stock(
    conn: &mut PgConnection,
    award: &AwardDue,
    users: &[String],
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.sprint_registrations
         SET award_state = 'NOT_AWARDED_OUT_OF_STOCK'
         WHERE plan_id = $1 AND shop_id = $2 AND user_id = ANY($3) AND award_state = 'DUE'",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        users,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Step 3: ends the award when nothing is `DUE`; false while something is.
pub(crate) async fn finish(
    conn: &mut PgConnection,
    award: &AwardDue,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let done = sqlx::query!(
        "UPDATE campaign.sprint_plan_shops
         SET award_finished_at = $3, award_lease_until = NULL, award_lease_holder = NULL
         WHERE plan_id = $1 AND shop_id = $2 AND award_started_at IS NOT NULL
           AND award_finished_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM campaign.sprint_registrations
                           WHERE plan_id = $1 AND shop_id = $2 AND award_state = 'DUE')",
        award.plan_id.as_uuid(),
        award.shop_id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The award's start and finish times (SP-8).
pub(crate) async fn times(
    conn: &mut PgConnection,
    plan: PlanId,
    shop: ShopId,
) -> Result<(Option<DateTime<Utc>>, Option<DateTime<Utc>>), Error> {
    let row = sqlx::query!(
        "SELECT award_started_at, award_finished_at FROM campaign.sprint_plan_shops
         WHERE plan_id = $1 AND shop_id = $2",
        plan.as_uuid(),
        shop.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map_or((None, None), |r| (r.award_started_at, r.award_finished_at)))
}

/// The consumer was idle at `at` with everything applied (see `due`).
pub(crate) async fn caught_up(
    conn: &mut PgConnection,
    consumer: &str,
    cursor: &str,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "INSERT INTO campaign.event_cursors AS e (consumer, cursor, updated_at, caught_up_at)
         VALUES ($1, $2, $3, $3)
         ON CONFLICT (consumer) DO UPDATE SET caught_up_at = $3
         WHERE e.cursor = $2 AND (e.caught_up_at IS NULL OR e.caught_up_at < $3)",
        consumer,
        cursor,
        at,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
