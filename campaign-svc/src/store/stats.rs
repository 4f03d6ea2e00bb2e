//! OC-10: the facts behind the daily series, per shop-local day. Exposures are the distinct
//! shoppers shown the gift (one row each); cards opened are counted as they happen; packs
//! granted and prize totals are read from claims.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgConnection;

use crate::domain::types::CampaignId;
use crate::error::Error;
use crate::store::open_card_gifts::GiftRecord;

/// The shop-local day of an instant; an unknown zone counts in UTC.
pub(crate) fn local_day(time_zone: &str, at: DateTime<Utc>) -> NaiveDate {
    match time_zone.parse::<chrono_tz::Tz>() {
        Ok(tz) => at.with_timezone(&tz).date_naive(),
        Err(_) => at.date_naive(),
    }
}

/// Counts `user` as shown the gift today. Each shopper has their own row, so concurrent
/// views never wait on each other, and a repeat view the same day writes nothing.
pub(crate) async fn count_exposure(
    conn: &mut PgConnection,
    gift: &GiftRecord,
    user: &str,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "INSERT INTO campaign.exposures (campaign_id, day, user_id) VALUES ($1, $2, $3)
         ON CONFLICT DO NOTHING",
        gift.id.as_uuid(),
        local_day(&gift.time_zone, at),
        user,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

pub(crate) async fn count_card_opened(
    conn: &mut PgConnection,
    gift: &GiftRecord,
    at: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "INSERT INTO campaign.daily_counters (campaign_id, day, cards_opened) VALUES ($1, $2, 1)
         ON CONFLICT (campaign_id, day) DO UPDATE SET cards_opened = daily_counters.cards_opened + 1",
        gift.id.as_uuid(),
        local_day(&gift.time_zone, at),
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// One day's counted facts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct DayCounts {
    /// Distinct shoppers shown the gift.
    pub exposures: i64,
    pub cards_opened: i64,
    pub packs_granted: i64,
    /// (prize type, total) in prize order.
    pub prize_totals: Vec<(String, i64)>,
}

/// Every day with any fact, keyed by shop-local day.
pub(crate) async fn days(
    conn: &mut PgConnection,
    id: CampaignId,
    time_zone: &str,
) -> Result<std::collections::BTreeMap<NaiveDate, DayCounts>, Error> {
    let mut days: std::collections::BTreeMap<NaiveDate, DayCounts> = Default::default();
    let counters = sqlx::query!(
        "SELECT day, cards_opened FROM campaign.daily_counters WHERE campaign_id = $1",
        id.as_uuid()
    )
    .fetch_all(&mut *conn)
    .await?;
    for c in counters {
        days.entry(c.day).or_default().cards_opened = c.cards_opened;
    }
    let exposures = sqlx::query!(
        r#"SELECT day, count(*) AS "shoppers!" FROM campaign.exposures
           WHERE campaign_id = $1 GROUP BY day"#,
        id.as_uuid()
    )
    .fetch_all(&mut *conn)
    .await?;
    for e in exposures {
        days.entry(e.day).or_default().exposures = e.shoppers;
    }
    let granted = sqlx::query!(
        r#"SELECT timezone($2, granted_at)::date AS "day!", count(*) AS "packs!"
           FROM campaign.claims
           WHERE source_id = $1 AND state = 'GRANTED' AND granted_at IS NOT NULL
           GROUP BY 1"#,
        id.to_string(),
        time_zone,
    )
    .fetch_all(&mut *conn)
    .await?;
    for g in granted {
        days.entry(g.day).or_default().packs_granted = g.packs;
    }
    let totals = sqlx::query!(
        r#"SELECT timezone($2, c.granted_at)::date AS "day!",
                  s.step->'action'->>'prize_type' AS "prize_type!",
                  sum(CASE WHEN s.step->'action'->>'type' = 'GRANT_ASSET'
                           THEN (s.step->'action'->>'amount')::bigint
                           ELSE jsonb_array_length(COALESCE(s.step->'result'->'coupon_ids', '[]'::jsonb))
                      END)::bigint AS "total!"
           FROM campaign.claims c, jsonb_array_elements(c.steps) WITH ORDINALITY AS s(step, n)
           WHERE c.source_id = $1 AND c.state = 'GRANTED' AND c.granted_at IS NOT NULL
             AND s.step->'action'->>'prize_type' IS NOT NULL
           GROUP BY 1, 2, s.n ORDER BY 1, s.n"#,
        id.to_string(),
        time_zone,
    )
    .fetch_all(&mut *conn)
    .await?;
    for t in totals {
        days.entry(t.day)
            .or_default()
            .prize_totals
            .push((t.prize_type, t.total));
    }
    Ok(days)
}
