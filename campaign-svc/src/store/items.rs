//! GP-2/GP-4/GP-8: a shop's gift items and the stock not yet promised. Stock leaves only by
//! a conditional UPDATE (`WHERE stock >= $q`, under `CHECK (stock >= 0)`): a pack sets its
//! units aside at creation, an exclusive gift takes one unit per claim, so a grant can never
//! run out.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::gift_pack::GiftItemView;
use crate::domain::types::ShopId;
use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ItemRecord {
    pub shop_id: ShopId,
    pub sku: String,
    pub title: String,
    pub gift_category: bool,
    pub stock: i64,
}

impl ItemRecord {
    /// The item as GP-2's rules read it.
    pub(crate) fn view(&self) -> GiftItemView {
        GiftItemView {
            sku: self.sku.clone(),
            in_gift_category: self.gift_category,
            stock: self.stock,
        }
    }
}

struct ItemRow {
    shop_id: uuid::Uuid,
    sku: String,
    title: String,
    gift_category: bool,
    stock: i64,
}

impl From<ItemRow> for ItemRecord {
    fn from(r: ItemRow) -> Self {
        ItemRecord {
            shop_id: r.shop_id.into(),
            sku: r.sku,
            title: r.title,
            gift_category: r.gift_category,
            stock: r.stock,
        }
    }
}

/// Creates or replaces the item; `stock` is the units not yet promised.
#[tracing::instrument(skip_all, fields(shop_id = %item.shop_id, sku = %item.sku))]
pub(crate) async fn upsert(
    conn: &mut PgConnection,
    item: &ItemRecord,
    now: DateTime<Utc>,
) -> Result<ItemRecord, Error> {
    let row = sqlx::query_as!(
        ItemRow,
        "INSERT INTO campaign.gift_items (shop_id, sku, title, gift_category, stock, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (shop_id, sku) DO UPDATE
           SET title = EXCLUDED.title, gift_category = EXCLUDED.gift_category,
               stock = EXCLUDED.stock, updated_at = EXCLUDED.updated_at
         RETURNING shop_id, sku, title, gift_category, stock",
        item.shop_id.as_uuid(),
        item.sku,
        item.title,
        item.gift_category,
        item.stock,
        now,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok(row.into())
}

pub(crate) async fn list(conn: &mut PgConnection, shop: ShopId) -> Result<Vec<ItemRecord>, Error> {
    let rows = sqlx::query_as!(
        ItemRow,
        "SELECT shop_id, sku, title, gift_category, stock FROM campaign.gift_items
         WHERE shop_id = $1 ORDER BY sku",
        shop.as_uuid(),
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows.into_iter().map(ItemRecord::from).collect())
}

pub(crate) async fn get(
    conn: &mut PgConnection,
    shop: ShopId,
    sku: &str,
) -> Result<Option<ItemRecord>, Error> {
    Ok(sqlx::query_as!(
        ItemRow,
        "SELECT shop_id, sku, title, gift_category, stock FROM campaign.gift_items
         WHERE shop_id = $1 AND sku = $2",
        shop.as_uuid(),
        sku,
    )
    .fetch_optional(&mut *conn)
    .await?
    .map(ItemRecord::from))
}

/// Sets `quantity` units aside; false (nothing changed) when fewer are left.
pub(crate) async fn reserve(
    conn: &mut PgConnection,
    shop: ShopId,
    sku: &str,
    quantity: i64,
) -> Result<bool, Error> {
    let taken = sqlx::query!(
        "UPDATE campaign.gift_items SET stock = stock - $3
         WHERE shop_id = $1 AND sku = $2 AND stock >= $3",
        shop.as_uuid(),
        sku,
        quantity,
    )
    .execute(&mut *conn)
    .await?;
    Ok(taken.rows_affected() == 1)
}

/// Gives `quantity` unused units back (a closed pack's).
pub(crate) async fn give_back(
    conn: &mut PgConnection,
    shop: ShopId,
    sku: &str,
    quantity: i64,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE campaign.gift_items SET stock = stock + $3 WHERE shop_id = $1 AND sku = $2",
        shop.as_uuid(),
        sku,
        quantity,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}
