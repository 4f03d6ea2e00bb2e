//! MP-1..MP-4: reading and changing a shop's program.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::domain::ids::ShopId;
use crate::domain::program::{self, CardFace, CardFaceChange, JoinPolicy, Program};
use crate::domain::shop::ShopType;
use crate::error::Error;

/// The program of `shop_id`.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn get(conn: &mut PgConnection, shop_id: ShopId) -> Result<Program, Error> {
    let row = sqlx::query_as!(
        ProgramRow,
        r#"SELECT p.shop_id, s.shop_type, s.name AS shop_name, p.join_policy, p.card_name, p.card_logo_url,
                p.opening_image_url, p.sms_service_active, p.sms_verification_enabled, p.updated_at,
                p.points_per_yuan, p.points_expiry_enabled, p.member_tab_position,
                EXISTS (SELECT 1 FROM membership.levels l WHERE l.shop_id = p.shop_id
                          AND (l.discount_permille > 0 OR l.exclusive_access OR l.points_multiplier_percent > 0
                               OR l.points_for_coupon <> '[]' OR l.points_for_goods <> '[]')) AS "benefits_configured!"
         FROM membership.programs p JOIN membership.shops s USING (shop_id)
         WHERE p.shop_id = $1"#,
        shop_id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    let row = row.ok_or(Error::ShopNotFound(shop_id))?;
    let images = sqlx::query!(
        "SELECT level, image_url FROM membership.level_card_images WHERE shop_id = $1",
        shop_id.as_uuid(),
    )
    .fetch_all(&mut *conn)
    .await?;
    let level_images = (1..=program::MAX_LEVELS)
        .map(|level| {
            let custom = images
                .iter()
                .find(|i| i.level == level)
                .map(|i| i.image_url.clone());
            (
                level,
                custom.unwrap_or_else(|| program::default_level_image_url(level)),
            )
        })
        .collect();
    Ok(Program {
        shop_id: row.shop_id.into(),
        shop_type: ShopType::from_db(&row.shop_type).ok_or(Error::CorruptRow("shops.shop_type"))?,
        shop_name: row.shop_name,
        join_policy: JoinPolicy::from_db(&row.join_policy)
            .ok_or(Error::CorruptRow("programs.join_policy"))?,
        card_face: CardFace {
            card_name: row.card_name,
            logo_url: row.card_logo_url,
            opening_image_url: row.opening_image_url,
            level_images,
        },
        sms_service_active: row.sms_service_active,
        sms_verification_enabled: row.sms_verification_enabled,
        updated_at: row.updated_at,
        points_per_yuan: row.points_per_yuan,
        points_expiry_enabled: row.points_expiry_enabled,
        member_tab_position: row.member_tab_position,
        benefits_configured: row.benefits_configured,
    })
}

struct ProgramRow {
    shop_id: uuid::Uuid,
    shop_type: String,
    shop_name: String,
    join_policy: String,
    card_name: String,
    card_logo_url: String,
    opening_image_url: String,
    sms_service_active: bool,
    sms_verification_enabled: bool,
    updated_at: DateTime<Utc>,
    points_per_yuan: i32,
    points_expiry_enabled: bool,
    member_tab_position: i32,
    benefits_configured: bool,
}

/// Locks the program row of `shop_id` for the transaction and returns its join policy.
/// OC-3: taking a card join hold and changing the policy both start here, so they serialise.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn lock_join_policy(
    conn: &mut PgConnection,
    shop_id: ShopId,
) -> Result<JoinPolicy, Error> {
    let raw = sqlx::query_scalar!(
        "SELECT join_policy FROM membership.programs WHERE shop_id = $1 FOR UPDATE",
        shop_id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::ShopNotFound(shop_id))?;
    JoinPolicy::from_db(&raw).ok_or(Error::CorruptRow("programs.join_policy"))
}

/// MP-2; OC-3: never `ORDER` while an open-card gift holds card joining open.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id, join_policy = policy.as_db()))]
pub(crate) async fn set_join_policy(
    conn: &mut PgConnection,
    shop_id: ShopId,
    policy: JoinPolicy,
    now: DateTime<Utc>,
) -> Result<Program, Error> {
    lock_join_policy(conn, shop_id).await?;
    if policy == JoinPolicy::Order {
        let live = super::holds::live(conn, shop_id, now).await?;
        program::check_policy_change(policy, live.as_ref())?;
    }
    let updated = sqlx::query!(
        "UPDATE membership.programs SET join_policy = $2, updated_at = $3 WHERE shop_id = $1",
        shop_id.as_uuid(),
        policy.as_db(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::ShopNotFound(shop_id));
    }
    get(conn, shop_id).await
}

/// MP-3: applies the given fields; never a level change (LV-4).
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn update_card_face(
    conn: &mut PgConnection,
    shop_id: ShopId,
    change: CardFaceChange,
    now: DateTime<Utc>,
) -> Result<Program, Error> {
    let updated = sqlx::query!(
        "UPDATE membership.programs
         SET card_name = COALESCE($2, card_name),
             card_logo_url = COALESCE($3, card_logo_url),
             opening_image_url = COALESCE($4, opening_image_url),
             updated_at = $5
         WHERE shop_id = $1",
        shop_id.as_uuid(),
        change.card_name,
        change.logo_url,
        change.opening_image_url,
        now,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::ShopNotFound(shop_id));
    }
    for (level, url) in change.level_images {
        match url {
            Some(url) => {
                sqlx::query!(
                    "INSERT INTO membership.level_card_images (shop_id, level, image_url) VALUES ($1, $2, $3)
                     ON CONFLICT (shop_id, level) DO UPDATE SET image_url = EXCLUDED.image_url",
                    shop_id.as_uuid(),
                    level,
                    url,
                )
                .execute(&mut *conn)
                .await?;
            }
            None => {
                sqlx::query!(
                    "DELETE FROM membership.level_card_images WHERE shop_id = $1 AND level = $2",
                    shop_id.as_uuid(),
                    level,
                )
                .execute(&mut *conn)
                .await?;
            }
        }
    }
    get(conn, shop_id).await
}

/// MP-4: the shop's card-verification SMS service is now active.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn activate_sms_service(
    conn: &mut PgConnection,
    shop_id: ShopId,
    now: DateTime<Utc>,
) -> Result<Program, Error> {
    let updated = sqlx::query!(
        "UPDATE membership.programs SET sms_service_active = true, updated_at = $2 WHERE shop_id = $1",
        shop_id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::ShopNotFound(shop_id));
    }
    get(conn, shop_id).await
}

/// MP-4: turns verification on or off. No lock is needed: a shop's type never changes and
/// its SMS service is never deactivated, so a rule that held at the check still holds.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id, enable))]
pub(crate) async fn set_sms_verification(
    conn: &mut PgConnection,
    shop_id: ShopId,
    enable: bool,
    now: DateTime<Utc>,
) -> Result<Program, Error> {
    let current = get(conn, shop_id).await?;
    program::check_sms_verification(current.shop_type, current.sms_service_active, enable)?;
    sqlx::query!(
        "UPDATE membership.programs SET sms_verification_enabled = $2, updated_at = $3 WHERE shop_id = $1",
        shop_id.as_uuid(),
        enable,
        now,
    )
    .execute(&mut *conn)
    .await?;
    get(conn, shop_id).await
}

/// OR-4, PT-5, MP-6: points rate, expiry and the member tab's position.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn update_settings(
    conn: &mut PgConnection,
    shop_id: ShopId,
    change: program::SettingsChange,
    now: DateTime<Utc>,
) -> Result<Program, Error> {
    let updated = sqlx::query!(
        "UPDATE membership.programs
         SET points_per_yuan = COALESCE($2, points_per_yuan),
             points_expiry_enabled = COALESCE($3, points_expiry_enabled),
             member_tab_position = COALESCE($4, member_tab_position),
             updated_at = $5
         WHERE shop_id = $1",
        shop_id.as_uuid(),
        change.points_per_yuan,
        change.points_expiry_enabled,
        change.member_tab_position,
        now,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(Error::ShopNotFound(shop_id));
    }
    get(conn, shop_id).await
}
