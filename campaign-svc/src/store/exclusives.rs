//! GP-8: a shop's new-member exclusive coupon and/or gift. One row per shop; `since` is when
//! the shop first set it (joins before it do not count) and survives later changes.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::gift_pack::{ExclusiveOffer, GiftItem};
use crate::domain::types::{BatchKey, ShopId};
use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExclusiveRecord {
    pub shop_id: ShopId,
    pub offer: ExclusiveOffer,
    pub batch_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
}

struct ExclusiveRow {
    shop_id: Uuid,
    batch_key: Option<String>,
    batch_id: Option<Uuid>,
    gift_sku: Option<String>,
    gift_quantity: Option<i64>,
    updated_at: DateTime<Utc>,
    since: Option<DateTime<Utc>>,
}

impl TryFrom<ExclusiveRow> for ExclusiveRecord {
    type Error = Error;

    fn try_from(r: ExclusiveRow) -> Result<Self, Error> {
        let coupon = r
            .batch_key
            .as_deref()
            .map(|k| BatchKey::parse("batch_key", k))
            .transpose()
            .map_err(|_| Error::CorruptRow("new_member_exclusives.batch_key"))?;
        Ok(ExclusiveRecord {
            shop_id: r.shop_id.into(),
            offer: ExclusiveOffer {
                coupon,
                gift: match (r.gift_sku, r.gift_quantity) {
                    (Some(sku), Some(quantity)) => Some(GiftItem { sku, quantity }),
                    _ => None,
                },
                since: r.since.unwrap_or(r.updated_at),
            },
            batch_id: r.batch_id,
            updated_at: r.updated_at,
        })
    }
}

/// Sets (or replaces) the shop's offer; the first set's time stays its `since`.
#[tracing::instrument(skip_all, fields(shop_id = %shop))]
pub(crate) async fn set(
    conn: &mut PgConnection,
    shop: ShopId,
    offer: &ExclusiveOffer,
    batch_id: Option<Uuid>,
    now: DateTime<Utc>,
) -> Result<ExclusiveRecord, Error> {
    sqlx::query_as!(
        ExclusiveRow,
        "INSERT INTO campaign.new_member_exclusives
           (shop_id, batch_key, batch_id, gift_sku, gift_quantity, updated_at, since)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (shop_id) DO UPDATE
           SET batch_key = EXCLUDED.batch_key, batch_id = EXCLUDED.batch_id,
               gift_sku = EXCLUDED.gift_sku, gift_quantity = EXCLUDED.gift_quantity,
               updated_at = EXCLUDED.updated_at,
               since = COALESCE(campaign.new_member_exclusives.since,
                                campaign.new_member_exclusives.updated_at)
         RETURNING shop_id, batch_key, batch_id, gift_sku, gift_quantity, updated_at, since",
        shop.as_uuid(),
        offer.coupon.as_ref().map(|k| k.as_str().to_string()),
        batch_id,
        offer.gift.as_ref().map(|g| g.sku.clone()),
        offer.gift.as_ref().map(|g| g.quantity),
        now,
        offer.since,
    )
    .fetch_one(&mut *conn)
    .await?
    .try_into()
}

pub(crate) async fn get(
    conn: &mut PgConnection,
    shop: ShopId,
) -> Result<Option<ExclusiveRecord>, Error> {
    sqlx::query_as!(
        ExclusiveRow,
        "SELECT shop_id, batch_key, batch_id, gift_sku, gift_quantity, updated_at, since
         FROM campaign.new_member_exclusives WHERE shop_id = $1",
        shop.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(ExclusiveRecord::try_from)
    .transpose()
}

/// GP-8: records a new member's one claim in the shop and, for the gift, takes one unit of
/// the item's stock, in the caller's transaction. On refusal the caller rolls back.
#[tracing::instrument(skip_all, fields(claim_id = %claim.id))]
pub(crate) async fn record_claim(
    conn: &mut PgConnection,
    claim: &crate::store::claims::NewClaim,
    gift_sku: Option<&str>,
    now: DateTime<Utc>,
    lease_until: DateTime<Utc>,
) -> Result<(), Error> {
    if !crate::store::claims::insert(conn, claim, now, lease_until).await? {
        return Err(memberhub_kit::error::Failure::precondition(
            "EXCLUSIVE_ALREADY_CLAIMED",
            "a new member may claim the exclusive coupon or gift once",
        )
        .into());
    }
    if let Some(sku) = gift_sku
        && !crate::store::items::reserve(conn, claim.shop_id, sku, 1).await?
    {
        return Err(memberhub_kit::error::Failure::ResourceExhausted {
            reason: "GIFT_ITEM_OUT_OF_STOCK",
            message: format!("gift item {sku} is out of stock"),
        }
        .into());
    }
    Ok(())
}
