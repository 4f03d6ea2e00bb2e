//! SP-4, SP-5, SP-8: shoppers registered with a plan's shops, the sprint spend the event
//! consumer adds up for them, and the shop's counts.
//!
//! Spend is kept per order (`campaign.sprint_spend_orders`: the confirmed amount and the
//! order's cumulative refund), and a registration's spend and qualification time are always
//! recomputed from those rows, so a delivery applied twice, out of order or after a refund
//! lands on the same figures. Nothing moves once the shop's award has started: the consumer
//! holds the shop's row shared while it counts, and the award takes it exclusively to rank.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::sprint_registration::AwardState;
use crate::domain::types::{PlanId, ShopId};
use crate::error::Error;

/// A stored registration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RegistrationRecord {
    pub(crate) plan_id: PlanId,
    pub(crate) shop_id: ShopId,
    pub(crate) user_id: String,
    pub(crate) registered_at: DateTime<Utc>,
    pub(crate) spend_fen: i64,
    pub(crate) qualified_at: Option<DateTime<Utc>>,
    pub(crate) award_state: Option<AwardState>,
    pub(crate) awarded_at: Option<DateTime<Utc>>,
    pub(crate) coupon_ids: Vec<Uuid>,
}

struct RegistrationRow {
    plan_id: Uuid,
    shop_id: Uuid,
    user_id: String,
    registered_at: DateTime<Utc>,
    spend_fen: i64,
    qualified_at: Option<DateTime<Utc>>,
    award_state: Option<String>,
    awarded_at: Option<DateTime<Utc>>,
    coupon_ids: Option<Vec<Uuid>>,
}

impl TryFrom<RegistrationRow> for RegistrationRecord {
    type Error = Error;

    fn try_from(r: RegistrationRow) -> Result<Self, Error> {
        let award_state = match r.award_state.as_deref() {
            None => None,
            Some(raw) => Some(
                AwardState::from_db(raw)
                    .ok_or(Error::CorruptRow("sprint_registrations.award_state"))?,
            ),
        };
        Ok(RegistrationRecord {
            plan_id: r.plan_id.into(),
            shop_id: r.shop_id.into(),
            user_id: r.user_id,
            registered_at: r.registered_at,
            spend_fen: r.spend_fen,
            qualified_at: r.qualified_at,
            award_state,
            awarded_at: r.awarded_at,
            coupon_ids: r.coupon_ids.unwrap_or_default(),
        })
    }
}

pub(crate) async fn get(
    conn: &mut PgConnection,
    plan: PlanId,
    shop: ShopId,
    user: &str,
) -> Result<Option<RegistrationRecord>, Error> {
    let row = sqlx::query_as!(
        RegistrationRow,
        r#"SELECT r.plan_id, r.shop_id, r.user_id, r.registered_at, r.spend_fen, r.qualified_at,
             r.award_state, r.awarded_at,
             ARRAY(SELECT c.coupon_id FROM campaign.sprint_award_coupons c
                   WHERE c.plan_id = r.plan_id AND c.shop_id = r.shop_id
                     AND c.user_id = r.user_id ORDER BY c.coupon_id) AS coupon_ids
         FROM campaign.sprint_registrations r
         WHERE r.plan_id = $1 AND r.shop_id = $2 AND r.user_id = $3"#,
        plan.as_uuid(),
        shop.as_uuid(),
        user,
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(TryInto::try_into).transpose()
}

/// SP-4: registers the shopper once; a second registration answers the first.
pub(crate) async fn register(
    conn: &mut PgConnection,
    plan: PlanId,
    shop: ShopId,
    user: &str,
    now: DateTime<Utc>,
) -> Result<RegistrationRecord, Error> {
    sqlx::query!(
        "INSERT INTO campaign.sprint_registrations (plan_id, shop_id, user_id, registered_at)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (plan_id, shop_id, user_id) DO NOTHING",
        plan.as_uuid(),
        shop.as_uuid(),
        user,
        now,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, plan, shop, user)
        .await?
        .ok_or(Error::CorruptRow("sprint_registrations: row vanished"))
}

/// An order event as SP-5 reads it from membership-svc's feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SprintOrder {
    pub(crate) shop_id: ShopId,
    pub(crate) user_id: String,
    pub(crate) order_id: String,
    pub(crate) occurred_at: DateTime<Utc>,
    /// The order's confirmed amount (0 for a refund) and its cumulative refund.
    pub(crate) confirmed_fen: Option<i64>,
    pub(crate) refunded_fen: i64,
}

/// Of `shops`, those with a joined plan whose award has not started: only their order
/// events can move sprint spend, so the consumer skips the rest without a per-event query.
pub(crate) async fn counting_shops(
    conn: &mut PgConnection,
    shops: &[Uuid],
) -> Result<HashSet<Uuid>, Error> {
    if shops.is_empty() {
        return Ok(HashSet::new());
    }
    let rows = sqlx::query_scalar!(
        "SELECT DISTINCT shop_id FROM campaign.sprint_plan_shops
         WHERE shop_id = ANY($1) AND state = 'JOINED' AND award_started_at IS NULL",
        shops,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().collect())
}

/// SP-5: counts a confirmation made during a plan's sprint phase, or a refund of an order
/// already counted, for every registration of the shopper in the shop whose award has not
/// started; then recomputes each one's spend and qualification time.
#[tracing::instrument(skip_all, fields(shop_id = %order.shop_id))]
pub(crate) async fn on_order(conn: &mut PgConnection, order: &SprintOrder) -> Result<(), Error> {
    let registrations = sqlx::query!(
        r#"SELECT r.plan_id, s.spend_threshold_fen AS "threshold!", p.sprint_start, p.award_start
           FROM campaign.sprint_registrations r
           JOIN campaign.sprint_plan_shops s ON s.plan_id = r.plan_id AND s.shop_id = r.shop_id
           JOIN campaign.sprint_plans p ON p.plan_id = r.plan_id
           WHERE r.shop_id = $1 AND r.user_id = $2 AND s.award_started_at IS NULL
           FOR SHARE OF s"#,
        order.shop_id.as_uuid(),
        order.user_id,
    )
    .fetch_all(&mut *conn)
    .await?;
    for r in registrations {
        let counted = match order.confirmed_fen {
            Some(amount) => {
                let in_sprint =
                    r.sprint_start <= order.occurred_at && order.occurred_at < r.award_start;
                in_sprint
                    && sqlx::query!(
                        "INSERT INTO campaign.sprint_spend_orders (plan_id, shop_id, user_id,
                             order_id, confirmed_at, confirmed_fen, refunded_fen)
                         VALUES ($1, $2, $3, $4, $5, $6::bigint, LEAST($6::bigint, $7::bigint))
                         ON CONFLICT DO NOTHING",
                        r.plan_id,
                        order.shop_id.as_uuid(),
                        order.user_id,
                        order.order_id,
                        order.occurred_at,
                        amount,
                        order.refunded_fen,
                    )
                    .execute(&mut *conn)
                    .await?
                    .rows_affected()
                        == 1
            }
            None => {
                sqlx::query!(
                    "UPDATE campaign.sprint_spend_orders
                     SET refunded_fen = LEAST(confirmed_fen, GREATEST(refunded_fen, $5::bigint))
                     WHERE plan_id = $1 AND shop_id = $2 AND user_id = $3 AND order_id = $4
                       AND refunded_fen < LEAST(confirmed_fen, $5)",
                    r.plan_id,
                    order.shop_id.as_uuid(),
                    order.user_id,
                    order.order_id,
                    order.refunded_fen,
                )
                .execute(&mut *conn)
                .await?
                .rows_affected()
                    == 1
            }
        };
        if counted {
            recompute(conn, r.plan_id, order, r.threshold).await?;
        }
    }
    Ok(())
}

/// SP-5: spend is the sum of the counted orders net of their refunds; the qualification time
/// is when the orders, taken in confirmation order, first reached the threshold. Each order
/// nets at least 0, so that running sum never falls back: the time is well defined, and the
/// same whatever order the events arrived in. A refund that takes the spend below the
/// threshold un-qualifies; crossing again later qualifies anew, behind those already there.
async fn recompute(
    conn: &mut PgConnection,
    plan: Uuid,
    order: &SprintOrder,
    threshold: i64,
) -> Result<(), Error> {
    sqlx::query!(
        r#"WITH o AS (
               SELECT confirmed_at,
                      SUM(confirmed_fen - refunded_fen) OVER (ORDER BY confirmed_at, order_id)::bigint AS running,
                      SUM(confirmed_fen - refunded_fen) OVER ()::bigint AS total
               FROM campaign.sprint_spend_orders
               WHERE plan_id = $1 AND shop_id = $2 AND user_id = $3
           ), t AS (
               SELECT COALESCE(MAX(total), 0)::bigint AS spend,
                      MIN(confirmed_at) FILTER (WHERE running >= $4::bigint) AS crossed
               FROM o
           )
           UPDATE campaign.sprint_registrations r
           SET spend_fen = t.spend,
               qualified_at = CASE WHEN t.spend >= $4::bigint THEN t.crossed END,
               qualify_seq = CASE WHEN t.spend >= $4::bigint
                   THEN COALESCE(r.qualify_seq, nextval('campaign.sprint_qualify_seq')) END
           FROM t
           WHERE r.plan_id = $1 AND r.shop_id = $2 AND r.user_id = $3"#,
        plan,
        order.shop_id.as_uuid(),
        order.user_id,
        threshold,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// SP-8: a shop's counts in a plan, from its registrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub(crate) registered: i64,
    pub(crate) qualified: i64,
    pub(crate) awarded: i64,
    pub(crate) not_awarded: i64,
}

pub(crate) async fn counts(
    conn: &mut PgConnection,
    plan: PlanId,
    shop: ShopId,
) -> Result<Counts, Error> {
    let row = sqlx::query!(
        r#"SELECT COUNT(*) AS "registered!",
                  COUNT(*) FILTER (WHERE qualified_at IS NOT NULL) AS "qualified!",
                  COUNT(*) FILTER (WHERE award_state = 'AWARDED') AS "awarded!",
                  COUNT(*) FILTER (WHERE award_state = 'NOT_AWARDED_OUT_OF_STOCK') AS "not_awarded!"
           FROM campaign.sprint_registrations WHERE plan_id = $1 AND shop_id = $2"#,
        plan.as_uuid(),
        shop.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(Counts {
        registered: row.registered,
        qualified: row.qualified,
        awarded: row.awarded,
        not_awarded: row.not_awarded,
    })
}
