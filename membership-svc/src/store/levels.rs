//! LV-1..LV-6: the ladder, benefits, the 30-day change lock and the bulk recompute.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use memberhub_kit::error::Failure;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ids::ShopId;
use crate::domain::levels::{
    self, Benefits, Condition, ExchangeItem, Ladder, LevelDefinition, Operator,
};
use crate::domain::orders::ProgramRules;
use crate::domain::program::JoinPolicy;
use crate::error::Error;

/// A shop's ladder with each level's benefits and the LV-4 clock.
#[derive(Debug, Clone)]
pub(crate) struct LevelRules {
    pub shop_id: ShopId,
    pub levels: Vec<(LevelDefinition, Benefits)>,
    pub last_change: Option<DateTime<Utc>>,
}

impl LevelRules {
    pub(crate) fn ladder(&self) -> Ladder {
        Ladder::from_stored(self.levels.iter().map(|(d, _)| d.clone()).collect())
    }
}

struct LevelRow {
    shop_id: Uuid,
    level: i32,
    name: String,
    min_spend_fen: Option<i64>,
    min_order_count: Option<i64>,
    operator: Option<String>,
    discount_permille: i32,
    exclusive_access: bool,
    points_multiplier_percent: i32,
    points_for_coupon: serde_json::Value,
    points_for_goods: serde_json::Value,
}

fn decode(row: LevelRow) -> Result<(LevelDefinition, Benefits), Error> {
    let condition = match row.level {
        1 => None,
        _ => Some(Condition {
            min_spend_fen: row.min_spend_fen,
            min_order_count: row.min_order_count,
            operator: row
                .operator
                .as_deref()
                .and_then(Operator::from_db)
                .unwrap_or(Operator::And),
        }),
    };
    let items = |v: serde_json::Value| {
        serde_json::from_value::<Vec<ExchangeItem>>(v)
            .map_err(|_| Error::CorruptRow("levels.items"))
    };
    Ok((
        LevelDefinition {
            level: row.level,
            name: row.name,
            condition,
        },
        Benefits {
            discount_permille: row.discount_permille,
            exclusive_access: row.exclusive_access,
            points_multiplier_percent: row.points_multiplier_percent,
            points_for_coupon: items(row.points_for_coupon)?,
            points_for_goods: items(row.points_for_goods)?,
        },
    ))
}

async fn level_rows(conn: &mut PgConnection, shops: &[Uuid]) -> Result<Vec<LevelRow>, Error> {
    Ok(sqlx::query_as!(
        LevelRow,
        "SELECT shop_id, level, name, min_spend_fen, min_order_count, operator, discount_permille, exclusive_access,
                points_multiplier_percent, points_for_coupon, points_for_goods
         FROM membership.levels WHERE shop_id = ANY($1) ORDER BY shop_id, level",
        shops,
    )
    .fetch_all(&mut *conn)
    .await?)
}

/// The shop's level rules.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn get(conn: &mut PgConnection, shop_id: ShopId) -> Result<LevelRules, Error> {
    let last_change = sqlx::query_scalar!(
        "SELECT level_changed_at FROM membership.programs WHERE shop_id = $1",
        shop_id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::ShopNotFound(shop_id))?;
    let levels = level_rows(conn, &[shop_id.as_uuid()])
        .await?
        .into_iter()
        .map(decode)
        .collect::<Result<_, _>>()?;
    Ok(LevelRules {
        shop_id,
        levels,
        last_change,
    })
}

/// What order ingestion needs per shop. Share-locks each program row so a level-rule
/// change (which locks it exclusively) waits for in-flight batches, and they for it.
pub(crate) async fn rules_for_orders(
    conn: &mut PgConnection,
    shops: &[ShopId],
) -> Result<HashMap<ShopId, ProgramRules>, Error> {
    let mut ids: Vec<Uuid> = shops.iter().map(ShopId::as_uuid).collect();
    ids.sort();
    let programs = sqlx::query!(
        "SELECT shop_id, join_policy, points_per_yuan FROM membership.programs
         WHERE shop_id = ANY($1) ORDER BY shop_id FOR KEY SHARE",
        &ids,
    )
    .fetch_all(&mut *conn)
    .await?;
    if let Some(missing) = ids
        .iter()
        .find(|id| !programs.iter().any(|p| p.shop_id == **id))
    {
        return Err(Error::ShopNotFound((*missing).into()));
    }
    let mut levels: HashMap<Uuid, Vec<(LevelDefinition, Benefits)>> = HashMap::new();
    for row in level_rows(conn, &ids).await? {
        let shop = row.shop_id;
        levels.entry(shop).or_default().push(decode(row)?);
    }
    programs
        .into_iter()
        .map(|p| {
            let rungs = levels.remove(&p.shop_id).unwrap_or_default();
            let rules = ProgramRules {
                policy: JoinPolicy::from_db(&p.join_policy)
                    .ok_or(Error::CorruptRow("programs.join_policy"))?,
                points_per_yuan: p.points_per_yuan,
                ladder: Ladder::from_stored(rungs.iter().map(|(d, _)| d.clone()).collect()),
                benefits: rungs.into_iter().map(|(d, b)| (d.level, b)).collect(),
            };
            Ok((p.shop_id.into(), rules))
        })
        .collect()
}

/// LV-1..LV-5: replaces the ladder. Unchanged ladders change nothing (and use no change);
/// otherwise the 30-day lock applies and every member's level is recomputed in bulk.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn update_ladder(
    conn: &mut PgConnection,
    shop_id: ShopId,
    ladder: Ladder,
    now: DateTime<Utc>,
) -> Result<LevelRules, Error> {
    // Exclusive: waits for order batches holding the program share-locked (LV-5).
    let last_change = sqlx::query_scalar!(
        "SELECT level_changed_at FROM membership.programs WHERE shop_id = $1 FOR UPDATE",
        shop_id.as_uuid(),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::ShopNotFound(shop_id))?;
    let current = get(conn, shop_id).await?;
    if current.ladder() == ladder {
        return Ok(current);
    }
    if let Some(next) = levels::next_change_allowed_at(last_change).filter(|next| now < *next) {
        return Err(Error::Rejected(Failure::FailedPrecondition {
            reason: "LEVEL_CHANGE_TOO_SOON",
            message: format!(
                "levels changed less than 30 days ago; the next change is allowed at {}",
                next.to_rfc3339()
            ),
            metadata: vec![("next_allowed_at", next.to_rfc3339())],
        }));
    }
    let count = ladder.levels().len() as i32;
    sqlx::query!(
        "DELETE FROM membership.levels WHERE shop_id = $1 AND level > $2",
        shop_id.as_uuid(),
        count
    )
    .execute(&mut *conn)
    .await?;
    for rung in ladder.levels() {
        let condition = rung.condition.as_ref();
        sqlx::query!(
            "INSERT INTO membership.levels (shop_id, level, name, min_spend_fen, min_order_count, operator)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (shop_id, level) DO UPDATE SET name = EXCLUDED.name, min_spend_fen = EXCLUDED.min_spend_fen,
                 min_order_count = EXCLUDED.min_order_count, operator = EXCLUDED.operator",
            shop_id.as_uuid(),
            rung.level,
            rung.name,
            condition.and_then(|c| c.min_spend_fen),
            condition.and_then(|c| c.min_order_count),
            condition.map(|c| c.operator.as_db()),
        )
        .execute(&mut *conn)
        .await?;
    }
    sqlx::query!(
        "UPDATE membership.programs SET level_changed_at = $2 WHERE shop_id = $1",
        shop_id.as_uuid(),
        now
    )
    .execute(&mut *conn)
    .await?;
    recompute_levels(conn, shop_id, now).await?;
    get(conn, shop_id).await
}

/// LV-5: every active member's level from the stored ladder, in one statement, with a
/// LEVEL_CHANGED outbox event per member whose level moved. Returns how many moved.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn recompute_levels(
    conn: &mut PgConnection,
    shop_id: ShopId,
    now: DateTime<Utc>,
) -> Result<u64, Error> {
    let changed = sqlx::query!(
        "WITH computed AS (
           SELECT m.shop_id, m.user_id, m.level AS old_level,
                  COALESCE((SELECT max(l.level) FROM membership.levels l
                            WHERE l.shop_id = m.shop_id AND (l.level = 1 OR CASE
                              WHEN l.min_spend_fen IS NOT NULL AND l.min_order_count IS NOT NULL THEN
                                CASE l.operator
                                  WHEN 'OR' THEN m.total_spend_fen >= l.min_spend_fen OR m.order_count >= l.min_order_count
                                  ELSE m.total_spend_fen >= l.min_spend_fen AND m.order_count >= l.min_order_count END
                              ELSE COALESCE(m.total_spend_fen >= l.min_spend_fen, m.order_count >= l.min_order_count) END)), 1)
                    AS new_level
           FROM membership.members m WHERE m.shop_id = $1 AND m.state = 'ACTIVE'),
         changed AS (
           UPDATE membership.members m SET level = c.new_level, updated_at = $2
           FROM computed c
           WHERE m.shop_id = c.shop_id AND m.user_id = c.user_id AND c.new_level <> c.old_level
           RETURNING m.shop_id, m.user_id, c.old_level, c.new_level)
         INSERT INTO membership.outbox (event_id, event_type, shop_id, user_id, occurred_at, payload)
         SELECT gen_random_uuid(), 'LEVEL_CHANGED', shop_id, user_id, $2,
                jsonb_build_object('from', old_level, 'to', new_level, 'cause', 'rule_change')
         FROM changed",
        shop_id.as_uuid(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(changed.rows_affected())
}

/// LV-6: replaces one level's benefits (never a level change).
#[tracing::instrument(skip_all, fields(shop_id = %shop_id, level))]
pub(crate) async fn update_benefits(
    conn: &mut PgConnection,
    shop_id: ShopId,
    level: i32,
    benefits: Benefits,
) -> Result<LevelRules, Error> {
    let coupons = serde_json::to_value(&benefits.points_for_coupon)
        .map_err(|_| Error::CorruptRow("levels.items"))?;
    let goods = serde_json::to_value(&benefits.points_for_goods)
        .map_err(|_| Error::CorruptRow("levels.items"))?;
    let updated = sqlx::query!(
        "UPDATE membership.levels SET discount_permille = $3, exclusive_access = $4, points_multiplier_percent = $5,
                points_for_coupon = $6, points_for_goods = $7
         WHERE shop_id = $1 AND level = $2",
        shop_id.as_uuid(),
        level,
        benefits.discount_permille,
        benefits.exclusive_access,
        benefits.points_multiplier_percent,
        coupons,
        goods,
    )
    .execute(&mut *conn)
    .await?;
    if updated.rows_affected() == 0 {
        get(conn, shop_id).await?;
        return Err(Error::Rejected(Failure::NotFound(format!(
            "level {level} does not exist in this program"
        ))));
    }
    get(conn, shop_id).await
}
