//! MP-1: shops and the program created with each.

use sqlx::PgConnection;

use crate::domain::ids::ShopId;
use crate::domain::program::ProgramDefaults;
use crate::domain::shop::{NewShop, Shop, ShopType};
use crate::error::Error;

/// Inserts the shop and its default program in the caller's transaction.
#[tracing::instrument(skip_all)]
pub async fn insert(
    conn: &mut PgConnection,
    new: NewShop,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Shop, Error> {
    let shop = Shop {
        id: ShopId::new(),
        name: new.name,
        shop_type: new.shop_type,
        logo_url: new.logo_url,
        time_zone: new.time_zone,
        gift_items: new.gift_items,
        created_at: now,
    };
    sqlx::query!(
        "INSERT INTO membership.shops (shop_id, name, shop_type, logo_url, time_zone, gift_items, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        shop.id.as_uuid(),
        shop.name,
        shop.shop_type.as_db(),
        shop.logo_url,
        shop.time_zone,
        shop.gift_items,
        shop.created_at,
    )
    .execute(&mut *conn)
    .await?;
    let defaults = ProgramDefaults::for_shop(&shop);
    sqlx::query!(
        "INSERT INTO membership.programs (shop_id, join_policy, card_name, card_logo_url, opening_image_url, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6)",
        shop.id.as_uuid(),
        defaults.join_policy.as_db(),
        defaults.card_name,
        defaults.card_logo_url,
        defaults.opening_image_url,
        now,
    )
    .execute(&mut *conn)
    .await?;
    // LV-1: level 1 exists from the start.
    sqlx::query!(
        "INSERT INTO membership.levels (shop_id, level, name) VALUES ($1, 1, $2)",
        shop.id.as_uuid(),
        crate::domain::levels::default_level_name(1),
    )
    .execute(&mut *conn)
    .await?;
    Ok(shop)
}

/// The shop, if it exists.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub async fn get(conn: &mut PgConnection, shop_id: ShopId) -> Result<Option<Shop>, Error> {
    let row = sqlx::query!(
        "SELECT shop_id, name, shop_type, logo_url, time_zone, gift_items, created_at
         FROM membership.shops WHERE shop_id = $1",
        shop_id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|r| {
        Ok(Shop {
            id: r.shop_id.into(),
            name: r.name,
            shop_type: ShopType::from_db(&r.shop_type)
                .ok_or(Error::CorruptRow("shops.shop_type"))?,
            logo_url: r.logo_url,
            time_zone: r.time_zone,
            gift_items: r.gift_items,
            created_at: r.created_at,
        })
    })
    .transpose()
}
