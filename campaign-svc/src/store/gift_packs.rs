//! GP-1..GP-7: new-member and member packs. "One pack of a kind at a time" (GP-5) is the
//! EXCLUDE constraint on `gift_packs`; packs left is a counter taken by a conditional UPDATE
//! in the claim transaction; a pack's gift-item units are set aside at creation and the
//! unused ones given back when it closes. GP-7's pop-up views live here too.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::gift_pack::{GiftItem, NewPack, OtherPack, PackKind, PackState, check_overlap};
use crate::domain::types::{BatchKey, PackId, ShopId, Window};
use crate::error::Error;
use crate::store::items;
use memberhub_kit::error::Failure;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackRecord {
    pub id: PackId,
    pub shop_id: ShopId,
    pub kind: PackKind,
    pub name: String,
    pub window: Window,
    pub batch_keys: Vec<BatchKey>,
    pub batch_ids: Vec<Uuid>,
    /// coupon-svc allocations, one per batch in `batch_keys` order (empty: none).
    pub allocation_ids: Vec<Uuid>,
    pub gift_item: Option<GiftItem>,
    pub quantity: i64,
    pub packs_left: i64,
    pub min_level: Option<i32>,
    pub popup: Option<Window>,
    pub created_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub settled_at: Option<DateTime<Utc>>,
    /// GP-3: the gift item ran out, which ended the pack (`closed_at` is when).
    pub gift_ran_out: bool,
}

impl PackRecord {
    /// The pack as claim rules read it.
    pub(crate) fn state(&self) -> PackState {
        PackState {
            kind: self.kind,
            window: self.window,
            // A pack that ended because its gift ran out is sold out, not closed (GP-3).
            closed: self.closed_at.is_some() && !self.gift_ran_out,
            packs_left: self.packs_left,
            min_level: self.min_level,
        }
    }

    /// GP-1/GP-6: one claim per pack and shopper.
    pub(crate) fn once_key(&self, user: &str) -> String {
        format!("pack:{}:{user}", self.id)
    }
}

struct PackRow {
    pack_id: Uuid,
    shop_id: Uuid,
    kind: String,
    name: String,
    start_time: DateTime<Utc>,
    end_time: DateTime<Utc>,
    batch_keys: Vec<String>,
    batch_ids: Vec<Uuid>,
    allocation_ids: Vec<Uuid>,
    gift_sku: Option<String>,
    gift_quantity: Option<i64>,
    quantity: i64,
    packs_left: i64,
    min_level: Option<i32>,
    popup_start: Option<DateTime<Utc>>,
    popup_end: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    settled_at: Option<DateTime<Utc>>,
    gift_ran_out: bool,
}

impl TryFrom<PackRow> for PackRecord {
    type Error = Error;

    fn try_from(r: PackRow) -> Result<Self, Error> {
        let corrupt = || Error::CorruptRow("gift_packs");
        Ok(PackRecord {
            id: r.pack_id.into(),
            shop_id: r.shop_id.into(),
            kind: PackKind::from_db(&r.kind).ok_or(Error::CorruptRow("gift_packs.kind"))?,
            name: r.name,
            window: Window::new(r.start_time, r.end_time).ok_or_else(corrupt)?,
            batch_keys: r
                .batch_keys
                .iter()
                .map(|k| BatchKey::parse("batch_keys", k).map_err(|_| corrupt()))
                .collect::<Result<_, _>>()?,
            batch_ids: r.batch_ids,
            allocation_ids: r.allocation_ids,
            gift_item: match (r.gift_sku, r.gift_quantity) {
                (Some(sku), Some(quantity)) => Some(GiftItem { sku, quantity }),
                _ => None,
            },
            quantity: r.quantity,
            packs_left: r.packs_left,
            min_level: r.min_level,
            popup: match (r.popup_start, r.popup_end) {
                (Some(s), Some(e)) => Some(Window::new(s, e).ok_or_else(corrupt)?),
                _ => None,
            },
            created_at: r.created_at,
            closed_at: r.closed_at,
            settled_at: r.settled_at,
            gift_ran_out: r.gift_ran_out,
        })
    }
}

/// GP-3/GP-5: records the pack and sets its gift-item units aside (one per pack). An
/// overlapping non-closed pack of the same kind is refused by the constraint and reported
/// naming it; too little item stock left is RESOURCE_EXHAUSTED. Nothing is kept on refusal.
#[tracing::instrument(skip_all, fields(shop_id = %shop, pack_id = %id))]
pub(crate) async fn insert(
    conn: &mut PgConnection,
    id: PackId,
    shop: ShopId,
    pack: &NewPack,
    batch_ids: &[Uuid],
    allocation_ids: &[Uuid],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!("SAVEPOINT before_pack")
        .execute(&mut *conn)
        .await?;
    let keys: Vec<String> = pack
        .batch_keys
        .iter()
        .map(|k| k.as_str().to_string())
        .collect();
    let inserted = sqlx::query!(
        "INSERT INTO campaign.gift_packs
           (pack_id, shop_id, kind, name, start_time, end_time, batch_keys, batch_ids,
            gift_sku, gift_quantity, quantity, packs_left, min_level, popup_start, popup_end,
            created_at, allocation_ids)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12, $13, $14, $15, $16)",
        id.as_uuid(),
        shop.as_uuid(),
        pack.kind.as_db(),
        pack.name,
        pack.window.start(),
        pack.window.end(),
        &keys,
        batch_ids,
        pack.gift_item.as_ref().map(|g| g.sku.clone()),
        pack.gift_item.as_ref().map(|g| g.quantity),
        pack.quantity,
        pack.min_level,
        pack.popup.map(|p| p.start()),
        pack.popup.map(|p| p.end()),
        now,
        allocation_ids,
    )
    .execute(&mut *conn)
    .await;
    if let Err(e) = inserted {
        if memberhub_kit::db::sqlstate(&e).as_deref() != Some("23P01") {
            return Err(e.into());
        }
        sqlx::query!("ROLLBACK TO SAVEPOINT before_pack")
            .execute(&mut *conn)
            .await?;
        return Err(overlap(conn, shop, pack.kind, &pack.window).await);
    }
    if let Some(gift) = &pack.gift_item
        && !items::reserve(conn, shop, &gift.sku, pack.quantity).await?
    {
        return Err(Failure::ResourceExhausted {
            reason: "GIFT_ITEM_OUT_OF_STOCK",
            message: format!(
                "gift item {} has fewer than {} units left",
                gift.sku, pack.quantity
            ),
        }
        .into());
    }
    Ok(())
}

/// GP-5: the refusal naming the pack whose window overlaps.
async fn overlap(conn: &mut PgConnection, shop: ShopId, kind: PackKind, window: &Window) -> Error {
    let others = sqlx::query!(
        "SELECT pack_id, start_time, end_time FROM campaign.gift_packs
         WHERE shop_id = $1 AND kind = $2 AND closed_at IS NULL
           AND tstzrange(start_time, end_time, '[)') && tstzrange($3, $4, '[)')
         LIMIT 1",
        shop.as_uuid(),
        kind.as_db(),
        window.start(),
        window.end(),
    )
    .fetch_all(&mut *conn)
    .await;
    let others: Vec<OtherPack> = match others {
        Ok(rows) => rows
            .into_iter()
            .filter_map(|o| {
                Some(OtherPack {
                    id: o.pack_id.into(),
                    kind,
                    window: Window::new(o.start_time, o.end_time)?,
                    closed: false,
                })
            })
            .collect(),
        Err(e) => return e.into(),
    };
    match check_overlap(kind, window, &others) {
        Err(failure) => failure.into(),
        // The other pack closed since: the constraint still spoke of it.
        Ok(()) => Failure::precondition(
            "PACK_WINDOW_OVERLAP",
            format!(
                "another {} pack of this shop overlaps this window",
                kind.as_db()
            ),
        )
        .into(),
    }
}

pub(crate) async fn get(conn: &mut PgConnection, id: PackId) -> Result<PackRecord, Error> {
    sqlx::query_as!(
        PackRow,
        "SELECT pack_id, shop_id, kind, name, start_time, end_time, batch_keys, batch_ids,
                allocation_ids, gift_sku, gift_quantity, quantity, packs_left, min_level,
                popup_start, popup_end, created_at, closed_at, settled_at, gift_ran_out
         FROM campaign.gift_packs WHERE pack_id = $1",
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("gift pack", id))?
    .try_into()
}

/// A shop's packs (of `kind`, if given), newest first, after `before` (a page token).
pub(crate) async fn list(
    conn: &mut PgConnection,
    shop: ShopId,
    kind: Option<PackKind>,
    before: Option<Uuid>,
    limit: i64,
) -> Result<Vec<PackRecord>, Error> {
    let rows = sqlx::query_as!(
        PackRow,
        "SELECT pack_id, shop_id, kind, name, start_time, end_time, batch_keys, batch_ids,
                allocation_ids, gift_sku, gift_quantity, quantity, packs_left, min_level,
                popup_start, popup_end, created_at, closed_at, settled_at, gift_ran_out
         FROM campaign.gift_packs
         WHERE shop_id = $1 AND ($2::text IS NULL OR kind = $2)
           AND ($3::uuid IS NULL OR pack_id < $3)
         ORDER BY pack_id DESC LIMIT $4",
        shop.as_uuid(),
        kind.map(PackKind::as_db),
        before,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(PackRecord::try_from).collect()
}

/// The shop's packs valid at `at` and not closed (at most one of each kind, GP-5).
pub(crate) async fn live_for_shop(
    conn: &mut PgConnection,
    shop: ShopId,
    at: DateTime<Utc>,
) -> Result<Vec<PackRecord>, Error> {
    let rows = sqlx::query_as!(
        PackRow,
        "SELECT pack_id, shop_id, kind, name, start_time, end_time, batch_keys, batch_ids,
                allocation_ids, gift_sku, gift_quantity, quantity, packs_left, min_level,
                popup_start, popup_end, created_at, closed_at, settled_at, gift_ran_out
         FROM campaign.gift_packs
         WHERE shop_id = $1 AND closed_at IS NULL AND start_time <= $2 AND end_time > $2
         ORDER BY kind",
        shop.as_uuid(),
        at,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(PackRecord::try_from).collect()
}

/// GP-3: takes one pack for a claim; false when none is left or the pack closed. The row
/// lock this takes is the one a close takes. Taking the last pack of one with a gift item
/// means the gift ran out: the pack ends at `now`.
pub(crate) async fn take_pack(
    conn: &mut PgConnection,
    id: PackId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let taken = sqlx::query!(
        "UPDATE campaign.gift_packs SET packs_left = packs_left - 1,
                closed_at = CASE WHEN packs_left = 1 AND gift_sku IS NOT NULL THEN $2::timestamptz END,
                gift_ran_out = (packs_left = 1 AND gift_sku IS NOT NULL)
         WHERE pack_id = $1 AND closed_at IS NULL AND packs_left > 0",
        id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Closes the pack now (claims stop at once) and gives the gift-item units of the packs
/// left back to the item's stock. False when it was closed already.
#[tracing::instrument(skip_all, fields(pack_id = %id))]
pub(crate) async fn close(
    conn: &mut PgConnection,
    id: PackId,
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let left = sqlx::query!(
        "SELECT shop_id, gift_sku, packs_left FROM campaign.gift_packs
         WHERE pack_id = $1 AND closed_at IS NULL FOR UPDATE",
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    let Some(left) = left else {
        return Ok(false);
    };
    sqlx::query!(
        "UPDATE campaign.gift_packs SET closed_at = $2, packs_left = 0 WHERE pack_id = $1",
        id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    if let Some(sku) = left.gift_sku
        && left.packs_left > 0
    {
        items::give_back(conn, left.shop_id.into(), &sku, left.packs_left).await?;
    }
    Ok(true)
}

/// GP-7: when the pack last popped up for this shopper, if ever.
pub(crate) async fn popup_seen(
    conn: &mut PgConnection,
    pack: PackId,
    user: &str,
) -> Result<Option<DateTime<Utc>>, Error> {
    Ok(sqlx::query_scalar!(
        "SELECT seen_at FROM campaign.popup_views WHERE pack_id = $1 AND user_id = $2",
        pack.as_uuid(),
        user,
    )
    .fetch_optional(&mut *conn)
    .await?)
}

/// GP-7: records that the pack popped up for this shopper at `at`.
pub(crate) async fn record_popup(
    conn: &mut PgConnection,
    pack: PackId,
    user: &str,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "INSERT INTO campaign.popup_views (pack_id, user_id, seen_at) VALUES ($1, $2, $3)
         ON CONFLICT (pack_id, user_id) DO UPDATE SET seen_at = EXCLUDED.seen_at",
        pack.as_uuid(),
        user,
        at,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// GP-1/GP-3/GP-6: records the claim and takes one pack, in the caller's transaction. A
/// second claim of the pack by the shopper is `PACK_ALREADY_CLAIMED`; no pack left (or the
/// pack closed meanwhile) is RESOURCE_EXHAUSTED `PACK_OUT_OF_STOCK`. On refusal the caller
/// rolls back: nothing is recorded.
#[tracing::instrument(skip_all, fields(pack_id = %pack, claim_id = %claim.id))]
pub(crate) async fn record_claim(
    conn: &mut PgConnection,
    pack: PackId,
    claim: &crate::store::claims::NewClaim,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<(), Error> {
    if !crate::store::claims::insert(conn, claim, now, lease_until).await? {
        return Err(
            Failure::precondition("PACK_ALREADY_CLAIMED", "the pack was already claimed").into(),
        );
    }
    if !take_pack(conn, pack, now).await? {
        return Err(Failure::ResourceExhausted {
            reason: "PACK_OUT_OF_STOCK",
            message: "no packs left".to_string(),
        }
        .into());
    }
    Ok(())
}

/// GP-3/GP-9: begins settling a closed or ended pack once no claim of it is granting: no
/// claim starts any more (packs left 0) and the gift-item units of the packs left go back
/// to stock. Returns the pack to release the allocations of, `None` when it is not due, a
/// claim is still granting, or it was settled already. Safe to repeat.
#[tracing::instrument(skip_all, fields(pack_id = %id))]
pub(crate) async fn begin_settle(
    conn: &mut PgConnection,
    id: PackId,
    now: DateTime<Utc>,
) -> Result<Option<PackRecord>, Error> {
    let locked = sqlx::query!(
        "SELECT pack_id FROM campaign.gift_packs
         WHERE pack_id = $1 AND settled_at IS NULL
           AND (closed_at IS NOT NULL OR end_time <= $2)
         FOR UPDATE",
        id.as_uuid(),
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if locked.is_none() {
        return Ok(None);
    }
    let granting = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM campaign.claims
                          WHERE source_id = $1 AND state IN ('PENDING', 'GRANTING')) AS "any!""#,
        id.to_string(),
    )
    .fetch_one(&mut *conn)
    .await?;
    if granting {
        return Ok(None);
    }
    let pack = get(conn, id).await?;
    if let Some(gift) = &pack.gift_item
        && pack.packs_left > 0
    {
        items::give_back(conn, pack.shop_id, &gift.sku, pack.packs_left).await?;
    }
    sqlx::query!(
        "UPDATE campaign.gift_packs SET packs_left = 0 WHERE pack_id = $1",
        id.as_uuid()
    )
    .execute(&mut *conn)
    .await?;
    Ok(Some(pack))
}

pub(crate) async fn mark_settled(
    conn: &mut PgConnection,
    id: PackId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.gift_packs SET settled_at = $2 WHERE pack_id = $1 AND settled_at IS NULL",
        id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Packs closed or ended (before `now`) and not yet settled.
pub(crate) async fn settleable(
    conn: &mut PgConnection,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<PackId>, Error> {
    let ids = sqlx::query_scalar!(
        "SELECT pack_id FROM campaign.gift_packs
         WHERE settled_at IS NULL AND (closed_at IS NOT NULL OR end_time <= $1)
         ORDER BY end_time LIMIT $2",
        now,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(ids.into_iter().map(PackId::from).collect())
}
