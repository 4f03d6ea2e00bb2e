//! MP-1: shops and the program created with each.

use sqlx::PgConnection;

use crate::domain::ids::ShopId;
use crate::domain::program::ProgramDefaults;
use crate::domain::shop::{NewShop, Shop, ShopChanges, ShopFilter, ShopPageToken, ShopType};
use crate::error::Error;

/// Inserts the shop and its default program in the caller's transaction.
#[tracing::instrument(skip_all)]
pub(crate) async fn insert(
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
pub(crate) async fn get(conn: &mut PgConnection, shop_id: ShopId) -> Result<Option<Shop>, Error> {
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

fn shop_type(raw: &str) -> Result<ShopType, Error> {
    ShopType::from_db(raw).ok_or(Error::CorruptRow("shops.shop_type"))
}

/// MP-1: a page of shops matching `filter`, newest first (ties by id), after `after`.
#[tracing::instrument(skip_all)]
pub(crate) async fn list(
    conn: &mut PgConnection,
    filter: &ShopFilter,
    after: Option<ShopPageToken>,
    limit: i64,
) -> Result<Vec<Shop>, Error> {
    let rows = sqlx::query!(
        "SELECT shop_id, name, shop_type, logo_url, time_zone, gift_items, created_at
         FROM membership.shops
         WHERE ($1::text IS NULL OR strpos(lower(name), lower($1)) > 0)
           AND ($2::text IS NULL OR shop_type = $2)
           AND ($3::timestamptz IS NULL OR created_at >= $3)
           AND ($4::timestamptz IS NULL OR created_at < $4)
           AND ($5::timestamptz IS NULL OR (created_at, shop_id) < ($5, $6::uuid))
         ORDER BY created_at DESC, shop_id DESC
         LIMIT $7",
        filter.name_contains,
        filter.shop_type.map(ShopType::as_db),
        filter.created_from,
        filter.created_to,
        after.map(|t| t.created_at),
        after.map(|t| t.shop_id.as_uuid()),
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Shop {
                id: r.shop_id.into(),
                name: r.name,
                shop_type: shop_type(&r.shop_type)?,
                logo_url: r.logo_url,
                time_zone: r.time_zone,
                gift_items: r.gift_items,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// MP-1: applies `changes` to the shop in the caller's transaction, under the shop's row
/// lock. A type change is refused once the shop has a member or an active SMS service
/// (`SHOP_TYPE_LOCKED`; see [`ShopChanges`]).
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn update(
    conn: &mut PgConnection,
    shop_id: ShopId,
    changes: &ShopChanges,
) -> Result<Shop, Error> {
    let row = sqlx::query!(
        "SELECT shop_id, name, shop_type, logo_url, time_zone, gift_items, created_at
         FROM membership.shops WHERE shop_id = $1 FOR UPDATE",
        shop_id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::ShopNotFound(shop_id))?;
    let current = Shop {
        id: row.shop_id.into(),
        name: row.name,
        shop_type: shop_type(&row.shop_type)?,
        logo_url: row.logo_url,
        time_zone: row.time_zone,
        gift_items: row.gift_items,
        created_at: row.created_at,
    };
    if changes
        .shop_type
        .is_some_and(|new| new != current.shop_type)
    {
        // The program row is locked as well: order ingestion share-locks it and activating
        // the SMS service updates it, so neither interleaves with this check. A card opened
        // at the same moment may commit its member just after; the type then changed before
        // the shop's first member, which is what the rule allows.
        let in_business = sqlx::query_scalar!(
            r#"SELECT (p.sms_service_active
                       OR EXISTS (SELECT 1 FROM membership.members m
                                  WHERE m.shop_id = p.shop_id AND m.state <> 'NONE')) AS "in_business!"
               FROM membership.programs p WHERE p.shop_id = $1 FOR UPDATE"#,
            shop_id.as_uuid(),
        )
        .fetch_one(&mut *conn)
        .await?;
        if in_business {
            return Err(memberhub_kit::error::Failure::precondition(
                "SHOP_TYPE_LOCKED",
                "the shop type can change only while the shop has no member and has not \
                 activated the SMS service",
            )
            .into());
        }
    }
    let shop = changes.apply(current);
    sqlx::query!(
        "UPDATE membership.shops
         SET name = $2, shop_type = $3, logo_url = $4, time_zone = $5, gift_items = $6
         WHERE shop_id = $1",
        shop.id.as_uuid(),
        shop.name,
        shop.shop_type.as_db(),
        shop.logo_url,
        shop.time_zone,
        shop.gift_items,
    )
    .execute(&mut *conn)
    .await?;
    Ok(shop)
}

/// SP-2: active members now, and receipt-confirmed sales net of refunds since `since`.
pub(crate) async fn statistics(
    conn: &mut PgConnection,
    shop_id: ShopId,
    since: chrono::DateTime<chrono::Utc>,
) -> Result<(i64, i64), Error> {
    let members = sqlx::query_scalar!(
        r#"SELECT count(*) AS "count!" FROM membership.members
           WHERE shop_id = $1 AND state = 'ACTIVE'"#,
        shop_id.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await?;
    let sales = sqlx::query_scalar!(
        r#"SELECT COALESCE(sum(amount_fen - refunded_fen), 0)::bigint AS "sales!"
           FROM membership.orders
           WHERE shop_id = $1 AND confirmed_at >= $2"#,
        shop_id.as_uuid(),
        since,
    )
    .fetch_one(&mut *conn)
    .await?;
    Ok((members, sales))
}
