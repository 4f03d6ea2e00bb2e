//! GP-4: entitlements (the right to buy a gift item for 0.01 yuan, or exchanged goods for
//! free), granted by claim steps (`claims::grant_entitlement`) and consumed once by the
//! order system: a conditional UPDATE, so two orders never both consume one.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::types::ShopId;
use crate::error::Error;
use memberhub_kit::error::Failure;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntitlementRecord {
    pub id: Uuid,
    pub shop_id: ShopId,
    pub user_id: String,
    pub sku: String,
    pub price_fen: i64,
    pub claim_id: Uuid,
    pub order_id: Option<String>,
    pub created_at: DateTime<Utc>,
    pub consumed_at: Option<DateTime<Utc>>,
}

struct EntitlementRow {
    entitlement_id: Uuid,
    shop_id: Uuid,
    user_id: String,
    sku: String,
    price_fen: i64,
    claim_id: Uuid,
    order_id: Option<String>,
    created_at: DateTime<Utc>,
    consumed_at: Option<DateTime<Utc>>,
}

impl From<EntitlementRow> for EntitlementRecord {
    fn from(r: EntitlementRow) -> Self {
        EntitlementRecord {
            id: r.entitlement_id,
            shop_id: r.shop_id.into(),
            user_id: r.user_id,
            sku: r.sku,
            price_fen: r.price_fen,
            claim_id: r.claim_id,
            order_id: r.order_id,
            created_at: r.created_at,
            consumed_at: r.consumed_at,
        }
    }
}

/// A shopper's entitlements in a shop, newest first.
pub(crate) async fn list(
    conn: &mut PgConnection,
    shop: ShopId,
    user: &str,
) -> Result<Vec<EntitlementRecord>, Error> {
    let rows = sqlx::query_as!(
        EntitlementRow,
        "SELECT entitlement_id, shop_id, user_id, sku, price_fen, claim_id, order_id,
                created_at, consumed_at
         FROM campaign.entitlements WHERE shop_id = $1 AND user_id = $2
         ORDER BY entitlement_id DESC",
        shop.as_uuid(),
        user,
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(EntitlementRecord::from).collect())
}

/// GP-4: the order consumes the entitlement. Consuming it again for the same order returns
/// it unchanged; for another order it is FAILED_PRECONDITION `ENTITLEMENT_CONSUMED`.
#[tracing::instrument(skip_all, fields(entitlement_id = %id))]
pub(crate) async fn consume(
    conn: &mut PgConnection,
    id: Uuid,
    order_id: &str,
    now: DateTime<Utc>,
) -> Result<EntitlementRecord, Error> {
    let consumed = sqlx::query_as!(
        EntitlementRow,
        "UPDATE campaign.entitlements
         SET order_id = $2, consumed_at = COALESCE(consumed_at, $3)
         WHERE entitlement_id = $1 AND (order_id IS NULL OR order_id = $2)
         RETURNING entitlement_id, shop_id, user_id, sku, price_fen, claim_id, order_id,
                   created_at, consumed_at",
        id,
        order_id,
        now,
    )
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = consumed {
        return Ok(row.into());
    }
    let other = sqlx::query_scalar!(
        "SELECT order_id FROM campaign.entitlements WHERE entitlement_id = $1",
        id
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| Error::not_found("entitlement", id))?;
    Err(Failure::FailedPrecondition {
        reason: "ENTITLEMENT_CONSUMED",
        message: "the entitlement was consumed by another order".to_string(),
        metadata: vec![("order_id", other.unwrap_or_default())],
    }
    .into())
}
