//! OC-1..OC-9: open-card gifts and their prizes. A campaign is inserted PROVISIONING (its
//! window taken by the EXCLUDE constraint, no packs), becomes READY once its budget,
//! allocations and join hold are in place, and is settled after it closes or ends.

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::claim::{CouponGrant, OpenCardPrize};
use crate::domain::open_card_gift::{NewOpenCardGift, Prize, PrizeType};
use crate::domain::types::{BatchKey, CampaignId, ShopId, Window};
use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Provisioning,
    Ready,
    Failed,
}

memberhub_kit::db_enum!(Phase { Provisioning => "PROVISIONING", Ready => "READY", Failed => "FAILED" });

/// Why provisioning was refused, replayed to a retry.
#[derive(Debug, Clone)]
pub(crate) struct ProvisioningFailure {
    pub code: tonic::Code,
    pub reason: String,
    pub message: String,
}

#[derive(Debug, Clone)]
pub(crate) struct PrizeRecord {
    pub position: i32,
    pub prize_type: PrizeType,
    pub amount: i64,
    pub batch_key: Option<String>,
    pub batch_id: Option<Uuid>,
    pub allocation_id: Option<Uuid>,
    pub reservation_id: Option<Uuid>,
    pub capacity: Option<i64>,
    pub released: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct GiftRecord {
    pub id: CampaignId,
    pub shop_id: ShopId,
    pub name: String,
    pub window: Window,
    pub gift_quantity: i64,
    pub packs_left: i64,
    pub time_zone: String,
    pub phase: Phase,
    pub failure: Option<ProvisioningFailure>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    pub prizes: Vec<PrizeRecord>,
}

impl GiftRecord {
    /// OC-7: the prizes a claim grants, resolved against what provisioning reserved; the
    /// reason when a stored coupon prize lacks its batch (the claim then fails, it is never
    /// granted with fewer prizes).
    pub(crate) fn claim_prizes(&self) -> Result<Vec<OpenCardPrize>, String> {
        self.prizes
            .iter()
            .enumerate()
            .map(|(i, p)| {
                if !p.prize_type.is_coupon() {
                    return Ok(OpenCardPrize::Asset {
                        prize_type: p.prize_type,
                        amount: p.amount,
                        reservation_id: p.reservation_id,
                    });
                }
                let corrupt = |what: &str| {
                    format!("CORRUPT_PRIZE: prize {i} of campaign {}: {what}", self.id)
                };
                let batch_key = p
                    .batch_key
                    .as_deref()
                    .ok_or_else(|| corrupt("no batch key"))
                    .and_then(|k| {
                        BatchKey::parse("batch_key", k).map_err(|_| corrupt("malformed batch key"))
                    })?;
                Ok(OpenCardPrize::Coupon {
                    prize_type: p.prize_type,
                    coupon: CouponGrant {
                        batch_key,
                        batch_id: p.batch_id.ok_or_else(|| corrupt("no batch id"))?,
                        allocation_id: p.allocation_id,
                    },
                })
            })
            .collect()
    }
}

/// What a prize will reserve, decided at creation so that a retried provisioning asks for
/// the same thing (OC-8: a coupon prize reserves at most the batch's free stock).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PlannedPrize {
    pub batch_id: Option<Uuid>,
    /// Packs this prize serves; `None` when unbounded (points).
    pub capacity: Option<i64>,
}

/// What provisioning reserved for one prize.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Provisioned {
    pub position: i32,
    pub allocation_id: Option<Uuid>,
    pub reservation_id: Option<Uuid>,
}

pub(crate) fn prize_type_from_db(raw: &str) -> Result<PrizeType, Error> {
    PrizeType::from_db(raw).ok_or(Error::CorruptRow("open_card_prizes.prize_type"))
}

/// OC-3: inserts the campaign PROVISIONING; an overlapping live window of the shop is
/// refused by the constraint and reported naming the other campaign.
#[tracing::instrument(skip_all, fields(shop_id = %gift.shop))]
pub(crate) async fn insert(
    conn: &mut PgConnection,
    id: CampaignId,
    gift: &NewOpenCardGift,
    planned: &[PlannedPrize],
    time_zone: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!("SAVEPOINT before_insert")
        .execute(&mut *conn)
        .await?;
    let inserted = sqlx::query!(
        "INSERT INTO campaign.open_card_gifts
           (campaign_id, shop_id, name, start_time, end_time, gift_quantity, packs_left,
            time_zone, phase, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, 'PROVISIONING', $8)",
        id.as_uuid(),
        gift.shop.as_uuid(),
        gift.name,
        gift.window.start(),
        gift.window.end(),
        gift.gift_quantity,
        time_zone,
        now,
    )
    .execute(&mut *conn)
    .await;
    if let Err(e) = inserted {
        if memberhub_kit::db::sqlstate(&e).as_deref() != Some("23P01") {
            return Err(e.into());
        }
        sqlx::query!("ROLLBACK TO SAVEPOINT before_insert")
            .execute(&mut *conn)
            .await?;
        return Err(overlap(conn, gift.shop, &gift.window).await);
    }
    for (position, prize) in gift.prizes.iter().enumerate() {
        let (batch_key, amount) = match prize {
            Prize::Coupon { batch_key, .. } => (Some(batch_key.as_str().to_string()), 0),
            Prize::Asset { amount, .. } => (None, *amount),
        };
        let plan = planned.get(position).copied().unwrap_or_default();
        sqlx::query!(
            "INSERT INTO campaign.open_card_prizes
               (campaign_id, position, prize_type, amount, batch_key, batch_id, capacity)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            id.as_uuid(),
            position as i32,
            prize.prize_type().as_db(),
            amount,
            batch_key,
            plan.batch_id,
            plan.capacity,
        )
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// The OC-3 refusal naming the campaign whose window overlaps.
async fn overlap(conn: &mut PgConnection, shop: ShopId, window: &Window) -> Error {
    let other = sqlx::query!(
        "SELECT campaign_id, start_time, end_time FROM campaign.open_card_gifts
         WHERE shop_id = $1 AND closed_at IS NULL
           AND tstzrange(start_time, end_time, '[)') && tstzrange($2, $3, '[)')
         LIMIT 1",
        shop.as_uuid(),
        window.start(),
        window.end(),
    )
    .fetch_optional(&mut *conn)
    .await;
    match other {
        Ok(Some(o)) => Failure::FailedPrecondition {
            reason: "OPEN_CARD_GIFT_OVERLAP",
            message: format!(
                "open-card gift {} already runs from {} to {}; a shop has one at a time",
                o.campaign_id, o.start_time, o.end_time
            ),
            metadata: vec![("campaign_id", o.campaign_id.to_string())],
        }
        .into(),
        Ok(None) => Failure::precondition(
            "OPEN_CARD_GIFT_OVERLAP",
            "another open-card gift of this shop overlaps this window",
        )
        .into(),
        Err(e) => e.into(),
    }
}

/// One campaign with its prizes.
pub(crate) async fn get(conn: &mut PgConnection, id: CampaignId) -> Result<GiftRecord, Error> {
    let mut gifts = load(conn, &[id.as_uuid()]).await?;
    gifts
        .pop()
        .ok_or_else(|| Error::not_found("open-card gift", id))
}

/// The campaign row locked for a change (close, update, provisioning).
pub(crate) async fn lock(conn: &mut PgConnection, id: CampaignId) -> Result<GiftRecord, Error> {
    sqlx::query!(
        "SELECT campaign_id FROM campaign.open_card_gifts WHERE campaign_id = $1 FOR UPDATE",
        id.as_uuid()
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("open-card gift", id))?;
    get(conn, id).await
}

async fn load(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<GiftRecord>, Error> {
    let rows = sqlx::query!(
        "SELECT campaign_id, shop_id, name, start_time, end_time, gift_quantity, packs_left,
                time_zone, phase, failure_code, failure_reason, failure_message, created_at,
                closed_at, settled_at
         FROM campaign.open_card_gifts WHERE campaign_id = ANY($1)
         ORDER BY campaign_id DESC",
        ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    let prizes = sqlx::query!(
        "SELECT campaign_id, position, prize_type, amount, batch_key, batch_id, allocation_id,
                reservation_id, capacity, released_at
         FROM campaign.open_card_prizes WHERE campaign_id = ANY($1) ORDER BY position",
        ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            let window = Window::new(r.start_time, r.end_time)
                .ok_or(Error::CorruptRow("open_card_gifts.window"))?;
            let failure = match (r.failure_code, r.failure_reason, r.failure_message) {
                (Some(code), reason, message) => Some(ProvisioningFailure {
                    code: tonic::Code::from_i32(code.parse().unwrap_or(9)),
                    reason: reason.unwrap_or_default(),
                    message: message.unwrap_or_default(),
                }),
                _ => None,
            };
            let prizes = prizes
                .iter()
                .filter(|p| p.campaign_id == r.campaign_id)
                .map(|p| {
                    Ok(PrizeRecord {
                        position: p.position,
                        prize_type: prize_type_from_db(&p.prize_type)?,
                        amount: p.amount,
                        batch_key: p.batch_key.clone(),
                        batch_id: p.batch_id,
                        allocation_id: p.allocation_id,
                        reservation_id: p.reservation_id,
                        capacity: p.capacity,
                        released: p.released_at.is_some(),
                    })
                })
                .collect::<Result<Vec<_>, Error>>()?;
            Ok(GiftRecord {
                id: r.campaign_id.into(),
                shop_id: r.shop_id.into(),
                name: r.name,
                window,
                gift_quantity: r.gift_quantity,
                packs_left: r.packs_left,
                time_zone: r.time_zone,
                phase: Phase::from_db(&r.phase)
                    .ok_or(Error::CorruptRow("open_card_gifts.phase"))?,
                failure,
                created_at: r.created_at,
                closed_at: r.closed_at,
                settled_at: r.settled_at,
                prizes,
            })
        })
        .collect()
}

/// OC-8: provisioning done: records what was reserved and opens the packs. False when the
/// reconciler has given up on the campaign meanwhile (see [`fence_abandoned`]).
pub(crate) async fn mark_ready(
    conn: &mut PgConnection,
    id: CampaignId,
    provisioned: &[Provisioned],
    packs: i64,
) -> Result<bool, Error> {
    for p in provisioned {
        sqlx::query!(
            "UPDATE campaign.open_card_prizes SET allocation_id = $3, reservation_id = $4
             WHERE campaign_id = $1 AND position = $2",
            id.as_uuid(),
            p.position,
            p.allocation_id,
            p.reservation_id,
        )
        .execute(&mut *conn)
        .await?;
    }
    let ready = sqlx::query!(
        "UPDATE campaign.open_card_gifts SET phase = 'READY', packs_left = $2
         WHERE campaign_id = $1 AND phase = 'PROVISIONING' AND failure_code IS NULL",
        id.as_uuid(),
        packs,
    )
    .execute(&mut *conn)
    .await?;
    Ok(ready.rows_affected() == 1)
}

/// Provisioning was refused and compensated: the window is freed (closed) and the refusal
/// kept for retries.
pub(crate) async fn mark_failed(
    conn: &mut PgConnection,
    id: CampaignId,
    failure: &ProvisioningFailure,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.open_card_gifts
         SET phase = 'FAILED', closed_at = $2, settled_at = $2,
             failure_code = COALESCE(failure_code, $3), failure_reason = COALESCE(failure_reason, $4),
             failure_message = COALESCE(failure_message, $5)
         WHERE campaign_id = $1 AND phase = 'PROVISIONING'",
        id.as_uuid(),
        now,
        (failure.code as i32).to_string(),
        failure.reason,
        failure.message,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Campaigns left PROVISIONING since before `created_before` (their create was never
/// retried after a crash or an unavailable peer).
pub(crate) async fn abandoned(
    conn: &mut PgConnection,
    created_before: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<CampaignId>, Error> {
    let ids = sqlx::query_scalar!(
        "SELECT campaign_id FROM campaign.open_card_gifts
         WHERE phase = 'PROVISIONING' AND created_at < $1 LIMIT $2",
        created_before,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(CampaignId::from).collect())
}

/// Gives up on an abandoned provisioning: records why, so that a late `mark_ready` fails
/// and a retried create gets this answer. The campaign stays PROVISIONING (and is picked
/// up again) until what it holds is given back.
pub(crate) async fn fence_abandoned(
    conn: &mut PgConnection,
    id: CampaignId,
    failure: &ProvisioningFailure,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.open_card_gifts
         SET failure_code = $2, failure_reason = $3, failure_message = $4
         WHERE campaign_id = $1 AND phase = 'PROVISIONING' AND failure_code IS NULL",
        id.as_uuid(),
        (failure.code as i32).to_string(),
        failure.reason,
        failure.message,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// OC-9: closes the campaign now. Takes the row lock that every claim takes, so no claim
/// starts once this commits. Returns false when it was closed already.
pub(crate) async fn close(
    conn: &mut PgConnection,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let closed = sqlx::query!(
        "UPDATE campaign.open_card_gifts SET closed_at = $2
         WHERE campaign_id = $1 AND closed_at IS NULL",
        id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(closed.rows_affected() == 1)
}

/// OC-1: renames the campaign.
pub(crate) async fn rename(
    conn: &mut PgConnection,
    id: CampaignId,
    name: &str,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.open_card_gifts SET name = $2 WHERE campaign_id = $1",
        id.as_uuid(),
        name,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// A shop's campaigns, newest first, after `before` (a page token).
pub(crate) async fn list(
    conn: &mut PgConnection,
    shop: ShopId,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<GiftRecord>, Error> {
    let ids = sqlx::query_scalar!(
        "SELECT campaign_id FROM campaign.open_card_gifts
         WHERE shop_id = $1 AND ($2::uuid IS NULL OR campaign_id < $2) AND phase <> 'FAILED'
         ORDER BY campaign_id DESC LIMIT $3",
        shop.as_uuid(),
        before,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    load(conn, &ids).await
}

/// OC-3/OC-7: the shop's campaign live at `at` (READY, not closed, created by then), if any.
pub(crate) async fn live_for_shop(
    conn: &mut PgConnection,
    shop: ShopId,
    at: DateTime<Utc>,
) -> Result<Option<GiftRecord>, Error> {
    let id = sqlx::query_scalar!(
        "SELECT campaign_id FROM campaign.open_card_gifts
         WHERE shop_id = $1 AND phase = 'READY' AND closed_at IS NULL
           AND start_time <= $2 AND end_time > $2 AND created_at <= $2
         LIMIT 1",
        shop.as_uuid(),
        at,
    )
    .fetch_optional(&mut *conn)
    .await?;
    match id {
        Some(id) => Ok(load(conn, &[id]).await?.pop()),
        None => Ok(None),
    }
}

/// OC-9: campaigns closed or ended, not yet settled, with no claim still granting.
pub(crate) async fn settleable(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<CampaignId>, Error> {
    let ids = sqlx::query_scalar!(
        "SELECT g.campaign_id FROM campaign.open_card_gifts g
         WHERE g.settled_at IS NULL AND g.phase = 'READY'
           AND (g.closed_at IS NOT NULL OR g.end_time <= $1)
           AND NOT EXISTS (SELECT 1 FROM campaign.claims c
                           WHERE c.source_id = g.campaign_id::text
                             AND c.state IN ('PENDING', 'GRANTING'))
         LIMIT $2",
        now,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(CampaignId::from).collect())
}

/// Whether a claim of the campaign is still granting (settling waits for it).
pub(crate) async fn has_unfinished_claims(
    conn: &mut PgConnection,
    id: CampaignId,
) -> Result<bool, Error> {
    Ok(sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM campaign.claims
                          WHERE source_id = $1 AND state IN ('PENDING', 'GRANTING')) AS "any!""#,
        id.to_string(),
    )
    .fetch_one(&mut *conn)
    .await?)
}

pub(crate) async fn mark_prize_released(
    conn: &mut PgConnection,
    id: CampaignId,
    position: i32,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.open_card_prizes SET released_at = $3
         WHERE campaign_id = $1 AND position = $2 AND released_at IS NULL",
        id.as_uuid(),
        position,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn mark_settled(
    conn: &mut PgConnection,
    id: CampaignId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.open_card_gifts SET settled_at = $2, packs_left = 0
         WHERE campaign_id = $1 AND settled_at IS NULL",
        id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// OC-9: no claim starts from here on (settling).
pub(crate) async fn stop_claims(conn: &mut PgConnection, id: CampaignId) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.open_card_gifts SET packs_left = 0 WHERE campaign_id = $1",
        id.as_uuid()
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// OC-7/OC-8: takes one pack for a claim; false when none is left or the campaign closed.
/// The row lock this takes is the one a close takes (OC-9).
pub(crate) async fn take_pack(conn: &mut PgConnection, id: CampaignId) -> Result<bool, Error> {
    let taken = sqlx::query!(
        "UPDATE campaign.open_card_gifts SET packs_left = packs_left - 1
         WHERE campaign_id = $1 AND phase = 'READY' AND closed_at IS NULL AND packs_left > 0",
        id.as_uuid(),
    )
    .execute(&mut *conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}
