//! CP-1, CP-7, CP-9: batches and their status changes.

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::batch::{
    Batch, Binding, Channel, ItemScope, Kind, NewBatch, ShopType, Status, Terms, Validity, Window,
};
use crate::domain::ids::{AllocationId, BatchId, BatchKey, BatchRef, ShopId};
use crate::error::Error;

/// A batch's immutable part: what issuing needs, cached by the issuer. A batch's terms
/// never change after creation; only its status and stock do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchSpec {
    pub id: BatchId,
    pub key: BatchKey,
    pub spec: NewBatch,
}

/// How often a fresh key is tried when a random one is taken.
const KEY_ATTEMPTS: usize = 8;

/// Inserts the batch (DRAFT) and its stock row in the caller's transaction.
#[tracing::instrument(skip_all, fields(shop_id = %new.shop_id))]
pub(crate) async fn insert(
    conn: &mut PgConnection,
    new: NewBatch,
    now: DateTime<Utc>,
) -> Result<Batch, Error> {
    let id = BatchId::new();
    let (valid_from, valid_until, whole_hours, relative_days) = match new.validity {
        Validity::Absolute {
            window,
            whole_hours,
        } => (Some(window.start), Some(window.end), whole_hours, None),
        Validity::Relative { days } => (None, None, false, Some(days)),
    };
    let validity_kind = match new.validity {
        Validity::Absolute { .. } => "ABSOLUTE",
        Validity::Relative { .. } => "RELATIVE",
    };
    let terms = &new.terms;
    let mut inserted = false;
    for _ in 0..KEY_ATTEMPTS {
        let key = BatchKey::random();
        inserted = sqlx::query!(
            "INSERT INTO coupon.batches (batch_id, batch_key, shop_id, shop_type, internal_name, kind,
                face_value_fen, threshold_fen, discount_percent, discount_cap_fen, item_categories,
                item_skus, regions, channel, total_quantity, per_user_limit, per_issue_count, giftable,
                claim_start, claim_end, validity_kind, valid_from, valid_until, whole_hours,
                relative_days, ends_at, status, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18,
                $19, $20, $21, $22, $23, $24, $25, $26, 'DRAFT', $27, $27)
             ON CONFLICT (batch_key) DO NOTHING",
            id.as_uuid(),
            key.as_str(),
            new.shop_id.as_uuid(),
            new.shop_type.as_db(),
            new.internal_name,
            terms.kind.as_db(),
            terms.face_value_fen,
            terms.threshold_fen,
            terms.discount_percent,
            terms.discount_cap_fen,
            &terms.item_scope.categories,
            &terms.item_scope.skus,
            &terms.regions,
            new.channel.as_db(),
            new.total_quantity,
            new.per_user_limit,
            new.per_issue_count,
            new.giftable,
            new.claim_window.start,
            new.claim_window.end,
            validity_kind,
            valid_from,
            valid_until,
            whole_hours,
            relative_days,
            new.ends_at(),
            now,
        )
        .execute(&mut *conn)
        .await?
        .rows_affected()
            == 1;
        if inserted {
            break;
        }
    }
    if !inserted {
        return Err(Error::KeySpaceCrowded);
    }
    sqlx::query!(
        "INSERT INTO coupon.stock (batch_id, free) VALUES ($1, $2)",
        id.as_uuid(),
        new.total_quantity,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, &BatchRef::Id(id))
        .await?
        .ok_or_else(|| Error::BatchNotFound(id.to_string()))
}

struct BatchRow {
    batch_id: Uuid,
    batch_key: String,
    shop_id: Uuid,
    shop_type: String,
    internal_name: String,
    kind: String,
    face_value_fen: i64,
    threshold_fen: i64,
    discount_percent: i32,
    discount_cap_fen: i64,
    item_categories: Vec<String>,
    item_skus: Vec<String>,
    regions: Vec<String>,
    channel: String,
    total_quantity: i64,
    per_user_limit: i32,
    per_issue_count: i32,
    giftable: bool,
    claim_start: DateTime<Utc>,
    claim_end: DateTime<Utc>,
    validity_kind: String,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
    whole_hours: bool,
    relative_days: Option<i32>,
    status: String,
    reject_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    free: i64,
    bound_allocation_id: Option<Uuid>,
    bound_holder: Option<String>,
    bound_claim_start: Option<DateTime<Utc>>,
    bound_claim_end: Option<DateTime<Utc>>,
    issued: i64,
    reserved: i64,
}

impl BatchRow {
    fn spec(&self) -> Result<NewBatch, Error> {
        let validity = match (
            self.validity_kind.as_str(),
            self.valid_from,
            self.valid_until,
            self.relative_days,
        ) {
            ("ABSOLUTE", Some(start), Some(end), _) => Validity::Absolute {
                window: Window { start, end },
                whole_hours: self.whole_hours,
            },
            ("RELATIVE", _, _, Some(days)) => Validity::Relative { days },
            _ => return Err(Error::CorruptRow("batches.validity")),
        };
        Ok(NewBatch {
            shop_id: ShopId::from(self.shop_id),
            shop_type: ShopType::from_db(&self.shop_type)
                .ok_or(Error::CorruptRow("batches.shop_type"))?,
            internal_name: self.internal_name.clone(),
            terms: Terms {
                kind: Kind::from_db(&self.kind).ok_or(Error::CorruptRow("batches.kind"))?,
                face_value_fen: self.face_value_fen,
                threshold_fen: self.threshold_fen,
                discount_percent: self.discount_percent,
                discount_cap_fen: self.discount_cap_fen,
                item_scope: ItemScope {
                    categories: self.item_categories.clone(),
                    skus: self.item_skus.clone(),
                },
                regions: self.regions.clone(),
            },
            channel: Channel::from_db(&self.channel).ok_or(Error::CorruptRow("batches.channel"))?,
            total_quantity: self.total_quantity,
            per_user_limit: self.per_user_limit,
            per_issue_count: self.per_issue_count,
            giftable: self.giftable,
            claim_window: Window {
                start: self.claim_start,
                end: self.claim_end,
            },
            validity,
        })
    }

    fn into_batch(self) -> Result<Batch, Error> {
        Ok(Batch {
            spec: self.spec()?,
            id: BatchId::from(self.batch_id),
            key: BatchKey::from_db(self.batch_key),
            status: Status::from_db(&self.status).ok_or(Error::CorruptRow("batches.status"))?,
            reject_reason: self.reject_reason,
            remaining: self.free,
            issued: self.issued,
            reserved: self.reserved,
            bound_allocation: self.bound_allocation_id.map(AllocationId::from),
            binding: self.bound_holder.map(|holder| Binding {
                holder,
                claim_window: self
                    .bound_claim_start
                    .zip(self.bound_claim_end)
                    .map(|(start, end)| Window { start, end }),
            }),
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// The batch by id or key, with its stock figures.
#[tracing::instrument(skip_all)]
pub(crate) async fn get(conn: &mut PgConnection, batch: &BatchRef) -> Result<Option<Batch>, Error> {
    let (id, key) = match batch {
        BatchRef::Id(id) => (Some(id.as_uuid()), None),
        BatchRef::Key(key) => (None, Some(key.as_str())),
    };
    let row = sqlx::query_as!(
        BatchRow,
        r#"SELECT b.batch_id, b.batch_key, b.shop_id, b.shop_type, b.internal_name, b.kind,
                  b.face_value_fen, b.threshold_fen, b.discount_percent, b.discount_cap_fen,
                  b.item_categories, b.item_skus, b.regions, b.channel, b.total_quantity,
                  b.per_user_limit, b.per_issue_count, b.giftable, b.claim_start, b.claim_end,
                  b.validity_kind, b.valid_from, b.valid_until, b.whole_hours, b.relative_days,
                  b.status, b.reject_reason, b.created_at, b.updated_at,
                  s.free, s.bound_allocation_id,
                  ba.holder AS "bound_holder?", ba.claim_start AS "bound_claim_start?",
                  ba.claim_end AS "bound_claim_end?",
                  s.issued + COALESCE(a.issued, 0) AS "issued!",
                  COALESCE(a.reserved, 0) AS "reserved!"
           FROM coupon.batches b
           JOIN coupon.stock s USING (batch_id)
           LEFT JOIN LATERAL (
               SELECT sum(issued)::bigint AS issued,
                      (sum(remaining) FILTER (WHERE released_at IS NULL))::bigint AS reserved
               FROM coupon.allocations WHERE batch_id = b.batch_id
           ) a ON true
           LEFT JOIN coupon.allocations ba ON ba.allocation_id = s.bound_allocation_id
           WHERE ($1::uuid IS NULL OR b.batch_id = $1) AND ($2::text IS NULL OR b.batch_key = $2)"#,
        id,
        key,
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(BatchRow::into_batch).transpose()
}

/// The immutable part of a batch, for the issuer's cache.
#[tracing::instrument(skip_all, fields(batch_id = %id))]
pub(crate) async fn spec(conn: &mut PgConnection, id: BatchId) -> Result<Option<BatchSpec>, Error> {
    Ok(get(conn, &BatchRef::Id(id)).await?.map(|b| BatchSpec {
        id: b.id,
        key: b.key,
        spec: b.spec,
    }))
}

/// What a list is filtered by.
#[derive(Debug, Clone, Default)]
pub(crate) struct ListFilter {
    /// `None`: every shop (operators and services only).
    pub shop: Option<ShopId>,
    pub status: Option<Status>,
    pub channel: Option<Channel>,
    /// Batches older than this one (the page token).
    pub before: Option<BatchId>,
    pub limit: i64,
}

/// A page of batches, newest first, and the total matching the filter. The status filter
/// applies to the status shown (an ACTIVE batch past its end is listed as ENDED).
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    conn: &mut PgConnection,
    filter: &ListFilter,
    now: DateTime<Utc>,
) -> Result<(Vec<Batch>, i64), Error> {
    let shop = filter.shop.map(|s| s.as_uuid());
    let status = filter.status.map(Status::as_db);
    let channel = filter.channel.map(Channel::as_db);
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM coupon.batches b
           WHERE ($1::uuid IS NULL OR b.shop_id = $1)
             AND ($2::text IS NULL OR (CASE WHEN b.status = 'ACTIVE' AND b.ends_at <= $4
                                            THEN 'ENDED' ELSE b.status END) = $2)
             AND ($3::text IS NULL OR b.channel = $3)"#,
        shop,
        status,
        channel,
        now,
    )
    .fetch_one(&mut *conn)
    .await?;
    let ids = sqlx::query_scalar!(
        r#"SELECT b.batch_id FROM coupon.batches b
           WHERE ($1::uuid IS NULL OR b.shop_id = $1)
             AND ($2::text IS NULL OR (CASE WHEN b.status = 'ACTIVE' AND b.ends_at <= $4
                                            THEN 'ENDED' ELSE b.status END) = $2)
             AND ($3::text IS NULL OR b.channel = $3)
             AND ($5::uuid IS NULL OR b.batch_id < $5)
           ORDER BY b.batch_id DESC
           LIMIT $6"#,
        shop,
        status,
        channel,
        now,
        filter.before.map(|b| b.as_uuid()),
        filter.limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut batches = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(batch) = get(conn, &BatchRef::Id(BatchId::from(id))).await? {
            batches.push(batch);
        }
    }
    Ok((batches, total))
}

/// CP-3: a page of `shop`'s coupon centre, newest first: ACTIVE GENERAL batches not bound
/// to a campaign, inside their claim window, with free stock left.
#[tracing::instrument(skip_all)]
pub(crate) async fn list_claimable(
    conn: &mut PgConnection,
    shop: ShopId,
    before: Option<BatchId>,
    limit: i64,
    now: DateTime<Utc>,
) -> Result<Vec<Batch>, Error> {
    let ids = sqlx::query_scalar!(
        r#"SELECT b.batch_id FROM coupon.batches b JOIN coupon.stock s USING (batch_id)
           WHERE b.shop_id = $1 AND b.channel = 'GENERAL' AND b.status = 'ACTIVE'
             AND s.issuable AND s.bound_allocation_id IS NULL AND s.free > 0
             AND b.claim_start <= $2 AND $2 < b.claim_end AND $2 < b.ends_at
             AND ($3::uuid IS NULL OR b.batch_id < $3)
           ORDER BY b.batch_id DESC
           LIMIT $4"#,
        shop.as_uuid(),
        now,
        before.map(|b| b.as_uuid()),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut batches = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(batch) = get(conn, &BatchRef::Id(BatchId::from(id))).await? {
            batches.push(batch);
        }
    }
    Ok(batches)
}

/// A status change decided by the domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatusChange {
    pub to: Status,
    pub reject_reason: Option<String>,
}

/// Changes a batch's status as `decide` rules on the locked batch; the stock row follows
/// (`issuable` = ACTIVE) under its lock, so the change serialises with issuing. Leaving
/// ACTIVE is refused while a campaign holds a live allocation of the batch: its claims were
/// promised capacity (OC-9 releases allocations first).
#[tracing::instrument(skip_all, fields(batch_id = %id))]
pub(crate) async fn change_status(
    conn: &mut PgConnection,
    id: BatchId,
    decide: impl FnOnce(&Batch) -> Result<StatusChange, Failure>,
    now: DateTime<Utc>,
) -> Result<Batch, Error> {
    let locked = sqlx::query_scalar!(
        "SELECT batch_id FROM coupon.batches WHERE batch_id = $1 FOR UPDATE",
        id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    if locked.is_none() {
        return Err(Error::BatchNotFound(id.to_string()));
    }
    let batch = get(conn, &BatchRef::Id(id))
        .await?
        .ok_or_else(|| Error::BatchNotFound(id.to_string()))?;
    let change = decide(&batch)?;
    sqlx::query!(
        "UPDATE coupon.batches SET status = $2, reject_reason = COALESCE($3, reject_reason), updated_at = $4
         WHERE batch_id = $1",
        id.as_uuid(),
        change.to.as_db(),
        change.reject_reason,
        now,
    )
    .execute(&mut *conn)
    .await?;
    sqlx::query!(
        "UPDATE coupon.stock SET issuable = $2 WHERE batch_id = $1",
        id.as_uuid(),
        change.to.is_issuable(),
    )
    .execute(&mut *conn)
    .await?;
    if !change.to.is_issuable() {
        // A fresh statement after the stock lock: sees every reservation committed before.
        let holder = sqlx::query_scalar!(
            "SELECT holder FROM coupon.allocations WHERE batch_id = $1 AND released_at IS NULL LIMIT 1",
            id.as_uuid(),
        )
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(holder) = holder {
            return Err(Failure::FailedPrecondition {
                reason: "BATCH_IN_USE_BY_CAMPAIGN",
                message: format!(
                    "campaign {holder} holds an allocation of this batch; close the campaign first"
                ),
                metadata: vec![("holder", holder)],
            }
            .into());
        }
    }
    get(conn, &BatchRef::Id(id))
        .await?
        .ok_or_else(|| Error::BatchNotFound(id.to_string()))
}
