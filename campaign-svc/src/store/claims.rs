//! Claims as sagas (OC-7, GP-9, PT-3): recorded once per `once_key`, with their plan (the
//! domain's steps, as JSON); a runner holds a claim by a lease, and every progress write is
//! fenced by the lease's token; the reconciler takes over claims whose lease ran out.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::claim::{ClaimState, Progress, Step};
use crate::domain::types::{ClaimId, ShopId};
use crate::error::Error;

/// What is being claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimKind {
    OpenCardGift,
    NewMemberPack,
    MemberPack,
    NewMemberExclusive,
    PointsExchange,
}

memberhub_kit::db_enum!(pub ClaimKind { OpenCardGift => "OPEN_CARD_GIFT", NewMemberPack => "NEW_MEMBER_PACK", MemberPack => "MEMBER_PACK", NewMemberExclusive => "NEW_MEMBER_EXCLUSIVE", PointsExchange => "POINTS_EXCHANGE" });

/// A claim about to be recorded.
#[derive(Debug, Clone)]
pub struct NewClaim {
    pub id: ClaimId,
    pub shop_id: ShopId,
    pub user_id: String,
    pub kind: ClaimKind,
    pub source_id: String,
    pub once_key: String,
    /// The plan (`domain::claim::plan`).
    pub steps: Vec<Step>,
    /// The creator's lease token: it runs the claim first, fenced by this token.
    pub lease: Lease,
}

/// A runner's hold on a claim: every progress write carries it, and a write whose token is
/// no longer the claim's (the lease ran out and another runner took it) changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease(Uuid);

impl Lease {
    pub fn new() -> Self {
        Self(Uuid::new_v4())
    }
}

impl Default for Lease {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Debug, Clone)]
pub struct ClaimRecord {
    pub id: ClaimId,
    pub shop_id: ShopId,
    pub user_id: String,
    pub kind: ClaimKind,
    pub source_id: String,
    /// Its state and steps: moved only through `Progress`'s transitions.
    pub progress: Progress,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub granted_at: Option<DateTime<Utc>>,
}

/// Records the claim, held by its creator until `lease_until`. Returns false when the same
/// `once_key` was claimed already (nothing is written).
pub async fn insert(
    conn: &mut PgConnection,
    claim: &NewClaim,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<bool, Error> {
    if claim.steps.is_empty() {
        // Never a smaller GRANTED: a claim that would grant nothing is a broken plan.
        return Err(Error::CorruptRow("a claim's plan has no steps"));
    }
    let steps = serde_json::to_value(&claim.steps).map_err(Error::CorruptSteps)?;
    let inserted = sqlx::query!(
        "INSERT INTO campaign.claims
           (claim_id, shop_id, user_id, kind, source_id, once_key, state, steps, lease_until,
            created_at, updated_at, lease_token)
         VALUES ($1, $2, $3, $4, $5, $6, 'PENDING', $7, $8, $9, $9, $10)
         ON CONFLICT (once_key) DO NOTHING",
        claim.id.as_uuid(),
        claim.shop_id.as_uuid(),
        claim.user_id,
        claim.kind.as_db(),
        claim.source_id,
        claim.once_key,
        steps,
        lease_until,
        now,
        claim.lease.0,
    )
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Records a claim that failed before it could run (its stored campaign cannot be planned):
/// FAILED with `reason`, so the shopper and the merchant see why and nothing is granted.
pub(crate) async fn insert_failed(
    conn: &mut PgConnection,
    claim: &NewClaim,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let inserted = sqlx::query!(
        "INSERT INTO campaign.claims
           (claim_id, shop_id, user_id, kind, source_id, once_key, state, steps, failure_reason,
            lease_until, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'FAILED', '[]'::jsonb, $7, $8, $8, $8)
         ON CONFLICT (once_key) DO NOTHING",
        claim.id.as_uuid(),
        claim.shop_id.as_uuid(),
        claim.user_id,
        claim.kind.as_db(),
        claim.source_id,
        claim.once_key,
        reason,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Removes a claim recorded in this same transaction (its pack could not be taken).
pub(crate) async fn forget(conn: &mut PgConnection, id: ClaimId) -> Result<(), Error> {
    sqlx::query!(
        "DELETE FROM campaign.claims WHERE claim_id = $1 AND state = 'PENDING'",
        id.as_uuid()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

struct ClaimRow {
    claim_id: Uuid,
    shop_id: Uuid,
    user_id: String,
    kind: String,
    source_id: String,
    state: String,
    steps: serde_json::Value,
    failure_reason: Option<String>,
    compensating: bool,
    created_at: DateTime<Utc>,
    granted_at: Option<DateTime<Utc>>,
}

impl TryFrom<ClaimRow> for ClaimRecord {
    type Error = Error;

    fn try_from(r: ClaimRow) -> Result<Self, Error> {
        Ok(ClaimRecord {
            id: r.claim_id.into(),
            shop_id: r.shop_id.into(),
            user_id: r.user_id,
            kind: ClaimKind::from_db(&r.kind).ok_or(Error::CorruptRow("claims.kind"))?,
            source_id: r.source_id,
            progress: Progress::resume(
                ClaimState::from_db(&r.state).ok_or(Error::CorruptRow("claims.state"))?,
                serde_json::from_value(r.steps).map_err(Error::CorruptSteps)?,
                r.compensating,
            ),
            failure_reason: r.failure_reason,
            created_at: r.created_at,
            granted_at: r.granted_at,
        })
    }
}

pub async fn get(conn: &mut PgConnection, id: ClaimId) -> Result<ClaimRecord, Error> {
    sqlx::query_as!(
        ClaimRow,
        "SELECT claim_id, shop_id, user_id, kind, source_id, state, steps, failure_reason,
                compensating, created_at, granted_at
         FROM campaign.claims WHERE claim_id = $1",
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("claim", id))?
    .try_into()
}

/// The claim recorded under `once_key`, if any.
pub(crate) async fn by_once_key(
    conn: &mut PgConnection,
    once_key: &str,
) -> Result<Option<ClaimRecord>, Error> {
    sqlx::query_as!(
        ClaimRow,
        "SELECT claim_id, shop_id, user_id, kind, source_id, state, steps, failure_reason,
                compensating, created_at, granted_at
         FROM campaign.claims WHERE once_key = $1",
        once_key,
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(ClaimRecord::try_from)
    .transpose()
}

/// Filters of the merchant's claim list.
#[derive(Debug, Clone, Default)]
pub(crate) struct ClaimFilter {
    pub user_id: Option<String>,
    pub source_id: Option<String>,
    pub states: Vec<&'static str>,
}

pub(crate) async fn list(
    conn: &mut PgConnection,
    shop: ShopId,
    filter: &ClaimFilter,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<ClaimRecord>, Error> {
    let states: Vec<String> = filter.states.iter().map(|s| s.to_string()).collect();
    let rows = sqlx::query_as!(
        ClaimRow,
        "SELECT claim_id, shop_id, user_id, kind, source_id, state, steps, failure_reason,
                compensating, created_at, granted_at
         FROM campaign.claims
         WHERE shop_id = $1
           AND ($2::text IS NULL OR user_id = $2)
           AND ($3::text IS NULL OR source_id = $3)
           AND (cardinality($4::text[]) = 0 OR state = ANY($4))
           AND ($5::uuid IS NULL OR claim_id < $5)
         ORDER BY claim_id DESC LIMIT $6",
        shop.as_uuid(),
        filter.user_id,
        filter.source_id,
        &states,
        before,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(ClaimRecord::try_from).collect()
}

/// Takes the claim for a run until `lease_until` under a new lease token if it is unfinished
/// and its lease ran out; `None` when someone else holds it or it is finished. The old
/// holder's writes are fenced off from here on.
pub async fn take_lease(
    conn: &mut PgConnection,
    id: ClaimId,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<Option<(ClaimRecord, Lease)>, Error> {
    let lease = Lease::new();
    sqlx::query_as!(
        ClaimRow,
        "UPDATE campaign.claims
         SET lease_until = $3, lease_token = $4, attempts = attempts + 1, updated_at = $2
         WHERE claim_id = $1 AND state IN ('PENDING', 'GRANTING') AND lease_until <= $2
         RETURNING claim_id, shop_id, user_id, kind, source_id, state, steps, failure_reason,
                   compensating, created_at, granted_at",
        id.as_uuid(),
        now,
        lease_until,
        lease.0,
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(|row| Ok((ClaimRecord::try_from(row)?, lease)))
    .transpose()
}

/// Claims whose lease ran out, oldest first.
pub(crate) async fn due(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<ClaimId>, Error> {
    let ids = sqlx::query_scalar!(
        "SELECT claim_id FROM campaign.claims
         WHERE state IN ('PENDING', 'GRANTING') AND lease_until <= $1
         ORDER BY lease_until LIMIT $2",
        now,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(ClaimId::from).collect())
}

/// Saves progress (the steps with those now done, and the state) if `lease` still holds the
/// claim and it is unfinished; false when a stale runner tried (nothing is written).
pub async fn save(
    conn: &mut PgConnection,
    claim: &ClaimRecord,
    lease: Lease,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let steps = serde_json::to_value(claim.progress.steps()).map_err(Error::CorruptSteps)?;
    let saved = sqlx::query!(
        "UPDATE campaign.claims
         SET steps = $2, state = $3, failure_reason = $4, compensating = $5, updated_at = $6,
             granted_at = $7
         WHERE claim_id = $1 AND lease_token = $8 AND state IN ('PENDING', 'GRANTING')",
        claim.id.as_uuid(),
        steps,
        claim.progress.state().as_db(),
        claim.failure_reason,
        claim.progress.compensating(),
        now,
        claim.granted_at,
        lease.0,
    )
    .execute(&mut *conn)
    .await?;
    Ok(saved.rows_affected() == 1)
}

/// Gives the claim back to the reconciler at `retry_at` (a peer was unavailable), with the
/// steps done so far, if `lease` still holds it; false for a stale runner.
pub async fn postpone(
    conn: &mut PgConnection,
    claim: &ClaimRecord,
    lease: Lease,
    retry_at: DateTime<Utc>,
    why: &str,
) -> Result<bool, Error> {
    let steps = serde_json::to_value(claim.progress.steps()).map_err(Error::CorruptSteps)?;
    let postponed = sqlx::query!(
        "UPDATE campaign.claims SET lease_until = $2, failure_reason = $3, steps = $4
         WHERE claim_id = $1 AND lease_token = $5 AND state IN ('PENDING', 'GRANTING')",
        claim.id.as_uuid(),
        retry_at,
        why,
        steps,
        lease.0,
    )
    .execute(&mut *conn)
    .await?;
    Ok(postponed.rows_affected() == 1)
}

/// How many times the claim was taken for a run (for the retry back-off).
pub(crate) async fn attempts(conn: &mut PgConnection, id: ClaimId) -> Result<i32, Error> {
    Ok(sqlx::query_scalar!(
        "SELECT attempts FROM campaign.claims WHERE claim_id = $1",
        id.as_uuid()
    )
    .fetch_optional(&mut *conn)
    .await?
    .unwrap_or(0))
}

/// GP-4: the entitlement a gift-item step grants; a retried step finds the first one.
pub(crate) async fn grant_entitlement(
    conn: &mut PgConnection,
    claim: &ClaimRecord,
    step_key: &str,
    sku: &str,
    price_fen: i64,
    now: DateTime<Utc>,
) -> Result<Uuid, Error> {
    sqlx::query!(
        "INSERT INTO campaign.entitlements
           (entitlement_id, shop_id, user_id, sku, price_fen, claim_id, step_key, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
         ON CONFLICT (step_key) DO NOTHING",
        Uuid::now_v7(),
        claim.shop_id.as_uuid(),
        claim.user_id,
        sku,
        price_fen,
        claim.id.as_uuid(),
        step_key,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(sqlx::query_scalar!(
        "SELECT entitlement_id FROM campaign.entitlements WHERE step_key = $1",
        step_key
    )
    .fetch_one(&mut *conn)
    .await?)
}
