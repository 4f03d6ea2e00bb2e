//! SP-1, SP-2, SP-3, SP-7: sprint plans and the shops invited to them. A plan's phase is
//! read from its boundaries and the clock; a shop's joining and withdrawal are decided on
//! its locked row.

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::sprint_plan::{self, Join, NewPlan, Phase, Phases, ShopState, Thresholds};
use crate::domain::types::{BatchKey, PlanId, ShopId};
use crate::error::Error;

/// A stored plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PlanRecord {
    pub(crate) id: PlanId,
    pub(crate) plan: NewPlan,
    pub(crate) created_at: DateTime<Utc>,
}

struct PlanRow {
    plan_id: Uuid,
    name: String,
    registration_start: DateTime<Utc>,
    sprint_start: DateTime<Utc>,
    award_start: DateTime<Utc>,
    redemption_start: DateTime<Utc>,
    redemption_end: DateTime<Utc>,
    required_distribution: i64,
    min_face_value_fen: i64,
    max_fold_percent: i32,
    created_at: DateTime<Utc>,
}

impl From<PlanRow> for PlanRecord {
    fn from(r: PlanRow) -> Self {
        PlanRecord {
            id: r.plan_id.into(),
            plan: NewPlan {
                name: r.name,
                phases: Phases {
                    registration_start: r.registration_start,
                    sprint_start: r.sprint_start,
                    award_start: r.award_start,
                    redemption_start: r.redemption_start,
                    redemption_end: r.redemption_end,
                },
                required_distribution: r.required_distribution,
                min_face_value_fen: r.min_face_value_fen,
                max_fold_percent: r.max_fold_percent,
            },
            created_at: r.created_at,
        }
    }
}

#[tracing::instrument(skip_all)]
pub(crate) async fn insert_plan(
    conn: &mut PgConnection,
    plan: &NewPlan,
    now: DateTime<Utc>,
) -> Result<PlanRecord, Error> {
    let p = &plan.phases;
    let row = sqlx::query_as!(
        PlanRow,
        "INSERT INTO campaign.sprint_plans (plan_id, name, registration_start, sprint_start,
             award_start, redemption_start, redemption_end, required_distribution,
             min_face_value_fen, max_fold_percent, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
         RETURNING plan_id, name, registration_start, sprint_start, award_start,
             redemption_start, redemption_end, required_distribution, min_face_value_fen,
             max_fold_percent, created_at",
        PlanId::new().as_uuid(),
        plan.name,
        p.registration_start,
        p.sprint_start,
        p.award_start,
        p.redemption_start,
        p.redemption_end,
        plan.required_distribution,
        plan.min_face_value_fen,
        plan.max_fold_percent,
        now,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.into())
}

pub(crate) async fn get_plan(
    conn: &mut PgConnection,
    id: PlanId,
) -> Result<Option<PlanRecord>, Error> {
    let row = sqlx::query_as!(
        PlanRow,
        "SELECT plan_id, name, registration_start, sprint_start, award_start,
             redemption_start, redemption_end, required_distribution, min_face_value_fen,
             max_fold_percent, created_at
         FROM campaign.sprint_plans WHERE plan_id = $1",
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(Into::into))
}

/// A page of plans, newest first, optionally only those in `phase` at `now`.
pub(crate) async fn list_plans(
    conn: &mut PgConnection,
    phase: Option<Phase>,
    before: Option<PlanId>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<PlanRecord>, Error> {
    let rows = sqlx::query_as!(
        PlanRow,
        r#"SELECT plan_id, name, registration_start, sprint_start, award_start,
             redemption_start, redemption_end, required_distribution, min_face_value_fen,
             max_fold_percent, created_at
           FROM campaign.sprint_plans
           WHERE ($1::uuid IS NULL OR plan_id < $1)
             AND ($2::text IS NULL OR $2 = CASE
                   WHEN $3 < registration_start THEN 'UPCOMING'
                   WHEN $3 < sprint_start THEN 'REGISTRATION'
                   WHEN $3 < award_start THEN 'SPRINT'
                   WHEN $3 < redemption_start THEN 'AWARD'
                   WHEN $3 < redemption_end THEN 'REDEMPTION'
                   ELSE 'ENDED' END)
           ORDER BY plan_id DESC
           LIMIT $4"#,
        before.map(|p| p.as_uuid()),
        phase.map(Phase::name),
        now,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

/// A shop's invitation to a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShopRecord {
    pub(crate) plan_id: PlanId,
    pub(crate) shop_id: ShopId,
    pub(crate) thresholds: Thresholds,
    pub(crate) state: ShopState,
    pub(crate) invited_at: DateTime<Utc>,
    pub(crate) withdrawn_at: Option<DateTime<Utc>>,
    /// SP-3, once joined.
    pub(crate) joined: Option<Joined>,
}

/// SP-3: what a shop committed to when it joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    pub(crate) join: Join,
    pub(crate) batch_key: BatchKey,
    pub(crate) batch_id: Uuid,
    pub(crate) at: DateTime<Utc>,
}

struct ShopRow {
    plan_id: Uuid,
    shop_id: Uuid,
    min_member_count: i64,
    min_sales_fen: i64,
    state: String,
    invited_at: DateTime<Utc>,
    withdrawn_at: Option<DateTime<Utc>>,
    spend_threshold_fen: Option<i64>,
    distribution_quantity: Option<i64>,
    batch_key: Option<String>,
    batch_id: Option<Uuid>,
    joined_at: Option<DateTime<Utc>>,
}

impl TryFrom<ShopRow> for ShopRecord {
    type Error = Error;

    fn try_from(r: ShopRow) -> Result<Self, Error> {
        Ok(ShopRecord {
            plan_id: r.plan_id.into(),
            shop_id: r.shop_id.into(),
            thresholds: Thresholds {
                min_member_count: r.min_member_count,
                min_sales_fen: r.min_sales_fen,
            },
            state: ShopState::from_db(&r.state)
                .ok_or(Error::CorruptRow("sprint_plan_shops.state"))?,
            invited_at: r.invited_at,
            withdrawn_at: r.withdrawn_at,
            joined: match (
                r.spend_threshold_fen,
                r.distribution_quantity,
                r.batch_key,
                r.batch_id,
                r.joined_at,
            ) {
                (None, None, None, None, None) => None,
                (Some(threshold), Some(quantity), Some(key), Some(batch_id), Some(at)) => {
                    Some(Joined {
                        join: Join {
                            spend_threshold_fen: threshold,
                            distribution_quantity: quantity,
                        },
                        batch_key: BatchKey::parse("batch_key", &key)
                            .map_err(|_| Error::CorruptRow("sprint_plan_shops.batch_key"))?,
                        batch_id,
                        at,
                    })
                }
                _ => return Err(Error::CorruptRow("sprint_plan_shops join columns")),
            },
        })
    }
}

/// SP-2: invites `shop` to `plan` while the plan is upcoming (its boundaries never change,
/// so the check needs no lock). ALREADY_EXISTS when the shop was invited before.
#[tracing::instrument(skip_all, fields(plan_id = %plan, shop_id = %shop))]
pub(crate) async fn invite(
    conn: &mut PgConnection,
    plan: PlanId,
    shop: ShopId,
    thresholds: Thresholds,
    now: DateTime<Utc>,
) -> Result<ShopRecord, Error> {
    let found = get_plan(conn, plan)
        .await?
        .ok_or_else(|| Error::not_found("sprint plan", plan))?;
    sprint_plan::may_invite(&found.plan.phases, now)?;
    let row = sqlx::query_as!(
        ShopRow,
        "INSERT INTO campaign.sprint_plan_shops (plan_id, shop_id, min_member_count,
             min_sales_fen, state, invited_at)
         VALUES ($1, $2, $3, $4, 'INVITED', $5)
         ON CONFLICT (plan_id, shop_id) DO NOTHING
         RETURNING plan_id, shop_id, min_member_count, min_sales_fen, state, invited_at,
             withdrawn_at, spend_threshold_fen, distribution_quantity, batch_key, batch_id,
             joined_at",
        plan.as_uuid(),
        shop.as_uuid(),
        thresholds.min_member_count,
        thresholds.min_sales_fen,
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => row.try_into(),
        None => Err(Failure::AlreadyExists(format!(
            "shop {shop} is already invited to sprint plan {plan}"
        ))
        .into()),
    }
}

pub(crate) async fn get_shop(
    conn: &mut PgConnection,
    plan: PlanId,
    shop: ShopId,
) -> Result<Option<ShopRecord>, Error> {
    let row = sqlx::query_as!(
        ShopRow,
        "SELECT plan_id, shop_id, min_member_count, min_sales_fen, state, invited_at,
             withdrawn_at, spend_threshold_fen, distribution_quantity, batch_key, batch_id,
             joined_at
         FROM campaign.sprint_plan_shops WHERE plan_id = $1 AND shop_id = $2",
        plan.as_uuid(),
        shop.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(TryInto::try_into).transpose()
}

/// Where a page of invitations starts: after this (plan, shop).
pub(crate) type ShopCursor = (PlanId, ShopId);

/// A page of invitations: a plan's shops, a shop's plans, or both filters; newest plan
/// first, then by shop.
pub(crate) async fn list_shops(
    conn: &mut PgConnection,
    plan: Option<PlanId>,
    shop: Option<ShopId>,
    after: Option<ShopCursor>,
    limit: i64,
) -> Result<Vec<ShopRecord>, Error> {
    let rows = sqlx::query_as!(
        ShopRow,
        "SELECT plan_id, shop_id, min_member_count, min_sales_fen, state, invited_at,
             withdrawn_at, spend_threshold_fen, distribution_quantity, batch_key, batch_id,
             joined_at
         FROM campaign.sprint_plan_shops
         WHERE ($1::uuid IS NULL OR plan_id = $1) AND ($2::uuid IS NULL OR shop_id = $2)
           AND ($3::uuid IS NULL OR (plan_id, shop_id) < ($3, $4::uuid))
         ORDER BY plan_id DESC, shop_id DESC
         LIMIT $5",
        plan.map(|p| p.as_uuid()),
        shop.map(|s| s.as_uuid()),
        after.map(|(p, _)| p.as_uuid()),
        after.map(|(_, s)| s.as_uuid()),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(TryInto::try_into).collect()
}

/// SP-7: withdraws `shop` from `plan`, decided on the locked invitation.
#[tracing::instrument(skip_all, fields(plan_id = %plan.id, shop_id = %shop))]
pub(crate) async fn withdraw(
    conn: &mut PgConnection,
    plan: &PlanRecord,
    shop: ShopId,
    now: DateTime<Utc>,
) -> Result<ShopRecord, Error> {
    let row = sqlx::query_as!(
        ShopRow,
        "SELECT plan_id, shop_id, min_member_count, min_sales_fen, state, invited_at,
             withdrawn_at, spend_threshold_fen, distribution_quantity, batch_key, batch_id,
             joined_at
         FROM campaign.sprint_plan_shops WHERE plan_id = $1 AND shop_id = $2 FOR UPDATE",
        plan.id.as_uuid(),
        shop.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("sprint plan invitation", shop))?;
    let current: ShopRecord = row.try_into()?;
    if !sprint_plan::may_withdraw(&plan.plan.phases, current.state, now)? {
        return Ok(current);
    }
    let row = sqlx::query_as!(
        ShopRow,
        "UPDATE campaign.sprint_plan_shops SET state = 'WITHDRAWN', withdrawn_at = $3
         WHERE plan_id = $1 AND shop_id = $2
         RETURNING plan_id, shop_id, min_member_count, min_sales_fen, state, invited_at,
             withdrawn_at, spend_threshold_fen, distribution_quantity, batch_key, batch_id,
             joined_at",
        plan.id.as_uuid(),
        shop.as_uuid(),
        now,
    )
    .fetch_one(&mut *conn)
    .await?;
    row.try_into()
}

/// SP-3: records `shop` as joined, decided on its locked invitation (invited, the plan
/// still upcoming). A batch serves one plan only (a unique index).
#[tracing::instrument(skip_all, fields(plan_id = %plan.id, shop_id = %shop))]
pub(crate) async fn join(
    conn: &mut PgConnection,
    plan: &PlanRecord,
    shop: ShopId,
    join: Join,
    batch: (&BatchKey, Uuid),
    now: DateTime<Utc>,
) -> Result<ShopRecord, Error> {
    let row = sqlx::query_as!(
        ShopRow,
        "SELECT plan_id, shop_id, min_member_count, min_sales_fen, state, invited_at,
             withdrawn_at, spend_threshold_fen, distribution_quantity, batch_key, batch_id,
             joined_at
         FROM campaign.sprint_plan_shops WHERE plan_id = $1 AND shop_id = $2 FOR UPDATE",
        plan.id.as_uuid(),
        shop.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("sprint plan", plan.id))?;
    let current: ShopRecord = row.try_into()?;
    sprint_plan::may_join(&plan.plan.phases, current.state, now)?;
    let row = sqlx::query_as!(
        ShopRow,
        "UPDATE campaign.sprint_plan_shops
         SET state = 'JOINED', spend_threshold_fen = $3, distribution_quantity = $4,
             batch_key = $5, batch_id = $6, joined_at = $7
         WHERE plan_id = $1 AND shop_id = $2
         RETURNING plan_id, shop_id, min_member_count, min_sales_fen, state, invited_at,
             withdrawn_at, spend_threshold_fen, distribution_quantity, batch_key, batch_id,
             joined_at",
        plan.id.as_uuid(),
        shop.as_uuid(),
        join.spend_threshold_fen,
        join.distribution_quantity,
        batch.0.as_str(),
        batch.1,
        now,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(d) if d.constraint() == Some("sprint_plan_shops_batch") => {
            Error::Rejected(Failure::invalid(
                "batch_key",
                "the batch is another plan's reward batch already",
            ))
        }
        _ => Error::Database(e),
    })?;
    row.try_into()
}
