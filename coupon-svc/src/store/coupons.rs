//! CP-5, CP-6: the wallet, and locking, redeeming and releasing coupons for an order. A
//! coupon changes state only by a conditional update on its current state, under its row
//! lock: two orders can never both hold, or both use, one coupon.

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::batch::{ItemScope, Kind, Terms, Window};
use crate::domain::coupon::{self, Cart, Coupon, State, StoredState, Unusable};
use crate::domain::ids::{BatchId, BatchKey, CouponId, IssueId, OrderId, ShopId, UserId};
use crate::error::Error;

struct CouponRow {
    coupon_id: Uuid,
    code: String,
    batch_id: Uuid,
    batch_key: String,
    shop_id: Uuid,
    user_id: String,
    issue_id: Uuid,
    kind: String,
    face_value_fen: i64,
    threshold_fen: i64,
    discount_percent: i32,
    discount_cap_fen: i64,
    item_categories: Vec<String>,
    item_skus: Vec<String>,
    regions: Vec<String>,
    giftable: bool,
    valid_from: DateTime<Utc>,
    valid_until: DateTime<Utc>,
    state: String,
    order_id: Option<String>,
    issued_at: DateTime<Utc>,
    used_at: Option<DateTime<Utc>>,
}

impl CouponRow {
    fn into_coupon(self, now: DateTime<Utc>) -> Result<Coupon, Error> {
        let stored = StoredState::from_db(&self.state).ok_or(Error::CorruptRow("coupons.state"))?;
        Ok(Coupon {
            id: CouponId::from(self.coupon_id),
            code: self.code,
            batch: BatchId::from(self.batch_id),
            batch_key: BatchKey::from_db(self.batch_key),
            shop: ShopId::from(self.shop_id),
            user: UserId::from_db(self.user_id),
            issue: IssueId::from(self.issue_id),
            terms: Terms {
                kind: Kind::from_db(&self.kind).ok_or(Error::CorruptRow("batches.kind"))?,
                face_value_fen: self.face_value_fen,
                threshold_fen: self.threshold_fen,
                discount_percent: self.discount_percent,
                discount_cap_fen: self.discount_cap_fen,
                item_scope: ItemScope {
                    categories: self.item_categories,
                    skus: self.item_skus,
                },
                regions: self.regions,
            },
            giftable: self.giftable,
            valid: Window {
                start: self.valid_from,
                end: self.valid_until,
            },
            stored,
            state: State::at(stored, self.valid_until, now),
            order: self.order_id.map(OrderId::from_db),
            issued_at: self.issued_at,
            used_at: self.used_at,
        })
    }
}

/// What a wallet page is filtered by.
#[derive(Debug, Clone)]
pub(crate) struct WalletFilter {
    pub user: UserId,
    pub shop: Option<ShopId>,
    pub state: Option<State>,
    /// Coupons older than this one (the page token).
    pub before: Option<CouponId>,
    pub limit: i64,
}

fn state_name(state: State) -> &'static str {
    match state {
        State::Available => "AVAILABLE",
        State::Locked => "LOCKED",
        State::Used => "USED",
        State::Expired => "EXPIRED",
    }
}

/// CP-5: a page of the shopper's coupons, newest first; EXPIRED is derived at `now`.
#[tracing::instrument(skip_all)]
pub(crate) async fn wallet(
    conn: &mut PgConnection,
    filter: &WalletFilter,
    now: DateTime<Utc>,
) -> Result<Vec<Coupon>, Error> {
    let rows = sqlx::query_as!(
        CouponRow,
        "SELECT c.coupon_id, c.code, c.batch_id, b.batch_key, c.shop_id, c.user_id, c.issue_id,
                b.kind, b.face_value_fen, b.threshold_fen, b.discount_percent, b.discount_cap_fen,
                b.item_categories, b.item_skus, b.regions, b.giftable,
                c.valid_from, c.valid_until, c.state, c.order_id, c.issued_at, c.used_at
         FROM coupon.coupons c JOIN coupon.batches b USING (batch_id)
         WHERE c.user_id = $1
           AND ($2::uuid IS NULL OR c.shop_id = $2)
           AND ($3::text IS NULL
                OR ($3 = 'AVAILABLE' AND c.state = 'AVAILABLE' AND c.valid_until > $4)
                OR ($3 = 'EXPIRED' AND c.state = 'AVAILABLE' AND c.valid_until <= $4)
                OR ($3 IN ('LOCKED', 'USED') AND c.state = $3))
           AND ($5::uuid IS NULL OR c.coupon_id < $5)
         ORDER BY c.coupon_id DESC
         LIMIT $6",
        filter.user.as_str(),
        filter.shop.map(|s| s.as_uuid()),
        filter.state.map(state_name),
        now,
        filter.before.map(|c| c.as_uuid()),
        filter.limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(|r| r.into_coupon(now)).collect()
}

/// The shopper's coupons among `ids` (others' coupons are simply absent).
async fn load(
    conn: &mut PgConnection,
    user: &UserId,
    ids: &[CouponId],
    for_update: bool,
    now: DateTime<Utc>,
) -> Result<Vec<Coupon>, Error> {
    let ids: Vec<Uuid> = ids.iter().map(CouponId::as_uuid).collect();
    let rows = if for_update {
        sqlx::query_as!(
            CouponRow,
            "SELECT c.coupon_id, c.code, c.batch_id, b.batch_key, c.shop_id, c.user_id, c.issue_id,
                    b.kind, b.face_value_fen, b.threshold_fen, b.discount_percent, b.discount_cap_fen,
                    b.item_categories, b.item_skus, b.regions, b.giftable,
                    c.valid_from, c.valid_until, c.state, c.order_id, c.issued_at, c.used_at
             FROM coupon.coupons c JOIN coupon.batches b USING (batch_id)
             WHERE c.user_id = $1 AND c.coupon_id = ANY($2)
             ORDER BY c.coupon_id
             FOR UPDATE OF c",
            user.as_str(),
            &ids,
        )
        .fetch_all(&mut *conn)
        .await?
    } else {
        sqlx::query_as!(
            CouponRow,
            "SELECT c.coupon_id, c.code, c.batch_id, b.batch_key, c.shop_id, c.user_id, c.issue_id,
                    b.kind, b.face_value_fen, b.threshold_fen, b.discount_percent, b.discount_cap_fen,
                    b.item_categories, b.item_skus, b.regions, b.giftable,
                    c.valid_from, c.valid_until, c.state, c.order_id, c.issued_at, c.used_at
             FROM coupon.coupons c JOIN coupon.batches b USING (batch_id)
             WHERE c.user_id = $1 AND c.coupon_id = ANY($2)",
            user.as_str(),
            &ids,
        )
        .fetch_all(&mut *conn)
        .await?
    };
    rows.into_iter().map(|r| r.into_coupon(now)).collect()
}

/// One coupon's evaluation against a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Evaluation {
    pub coupon: CouponId,
    pub result: Result<i64, Unusable>,
}

/// CP-6: what each coupon would take off the cart, in the order asked.
#[tracing::instrument(skip_all, fields(coupons = ids.len()))]
pub(crate) async fn evaluate(
    conn: &mut PgConnection,
    user: &UserId,
    ids: &[CouponId],
    cart: &Cart,
    now: DateTime<Utc>,
) -> Result<Vec<Evaluation>, Error> {
    let coupons = load(conn, user, ids, false, now).await?;
    Ok(evaluations(ids, &coupons, cart, now, None))
}

fn evaluations(
    ids: &[CouponId],
    coupons: &[Coupon],
    cart: &Cart,
    now: DateTime<Utc>,
    locked_by: Option<&OrderId>,
) -> Vec<Evaluation> {
    ids.iter()
        .map(|id| Evaluation {
            coupon: *id,
            result: match coupons.iter().find(|c| c.id == *id) {
                None => Err(Unusable::NotFound),
                // A retry of this order's own lock: evaluate it as if still available.
                Some(c) if c.stored == StoredState::Locked && c.order.as_ref() == locked_by => {
                    let mut again = c.clone();
                    again.stored = StoredState::Available;
                    coupon::evaluate(&again, cart, now)
                }
                Some(c) => coupon::evaluate(c, cart, now),
            },
        })
        .collect()
}

/// CP-6: locks every coupon to the order at placement, all or none; each must be usable on
/// the order's cart. Coupons this order already holds stay locked (a retry).
#[tracing::instrument(skip_all, fields(order_id = %order, coupons = ids.len()))]
pub(crate) async fn lock(
    conn: &mut PgConnection,
    user: &UserId,
    order: &OrderId,
    ids: &[CouponId],
    cart: &Cart,
    now: DateTime<Utc>,
) -> Result<(Vec<Coupon>, Vec<Evaluation>), Error> {
    let coupons = load(conn, user, ids, true, now).await?;
    let evaluations = evaluations(ids, &coupons, cart, now, Some(order));
    if let Some(bad) = evaluations.iter().find(|e| e.result.is_err()) {
        let why = bad.result.err().unwrap_or(Unusable::NotFound);
        return Err(Failure::FailedPrecondition {
            reason: why.reason(),
            message: format!("coupon {}: {}", bad.coupon, why.message()),
            metadata: vec![("coupon_id", bad.coupon.to_string())],
        }
        .into());
    }
    let uuids: Vec<Uuid> = ids.iter().map(CouponId::as_uuid).collect();
    sqlx::query!(
        "UPDATE coupon.coupons SET state = 'LOCKED', order_id = $3, locked_at = $4
         WHERE user_id = $1 AND coupon_id = ANY($2) AND state = 'AVAILABLE'",
        user.as_str(),
        &uuids,
        order.as_str(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    let coupons = load(conn, user, ids, false, now).await?;
    Ok((coupons, evaluations))
}

/// The coupons an order holds or used.
async fn of_order(
    conn: &mut PgConnection,
    user: &UserId,
    order: &OrderId,
    now: DateTime<Utc>,
) -> Result<Vec<Coupon>, Error> {
    let rows = sqlx::query_as!(
        CouponRow,
        "SELECT c.coupon_id, c.code, c.batch_id, b.batch_key, c.shop_id, c.user_id, c.issue_id,
                b.kind, b.face_value_fen, b.threshold_fen, b.discount_percent, b.discount_cap_fen,
                b.item_categories, b.item_skus, b.regions, b.giftable,
                c.valid_from, c.valid_until, c.state, c.order_id, c.issued_at, c.used_at
         FROM coupon.coupons c JOIN coupon.batches b USING (batch_id)
         WHERE c.user_id = $1 AND c.order_id = $2
         ORDER BY c.coupon_id",
        user.as_str(),
        order.as_str(),
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(|r| r.into_coupon(now)).collect()
}

/// CP-6: at payment, the order's locked coupons become USED. Idempotent per order: a second
/// call returns the same coupons, already used.
#[tracing::instrument(skip_all, fields(order_id = %order))]
pub(crate) async fn redeem(
    conn: &mut PgConnection,
    user: &UserId,
    order: &OrderId,
    now: DateTime<Utc>,
) -> Result<Vec<Coupon>, Error> {
    sqlx::query!(
        "UPDATE coupon.coupons SET state = 'USED', used_at = $3
         WHERE user_id = $1 AND order_id = $2 AND state = 'LOCKED'",
        user.as_str(),
        order.as_str(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    let coupons = of_order(conn, user, order, now).await?;
    if coupons.is_empty() {
        return Err(Failure::precondition(
            "NO_COUPONS_FOR_ORDER",
            "the order holds no coupons: lock them at order placement first",
        )
        .into());
    }
    Ok(coupons)
}

/// CP-6: a cancelled order gives back its locked coupons (they show EXPIRED if their
/// validity ended meanwhile). Used coupons are not given back.
#[tracing::instrument(skip_all, fields(order_id = %order))]
pub(crate) async fn release(
    conn: &mut PgConnection,
    user: &UserId,
    order: &OrderId,
    now: DateTime<Utc>,
) -> Result<Vec<Coupon>, Error> {
    let released = sqlx::query_scalar!(
        "UPDATE coupon.coupons SET state = 'AVAILABLE', order_id = NULL, locked_at = NULL
         WHERE user_id = $1 AND order_id = $2 AND state = 'LOCKED'
         RETURNING coupon_id",
        user.as_str(),
        order.as_str(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let used = of_order(conn, user, order, now).await?;
    if !used.is_empty() {
        return Err(Failure::precondition(
            "ORDER_ALREADY_PAID",
            "the order's coupons were used at payment and are not given back",
        )
        .into());
    }
    let ids: Vec<CouponId> = released.into_iter().map(CouponId::from).collect();
    load(conn, user, &ids, false, now).await
}
