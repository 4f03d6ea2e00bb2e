//! MB-1..MB-5: members, their periods, the merchant's list and fans.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::domain::ids::{ShopId, UserId};
use crate::domain::members::{JoinChannel, Member, MemberState, Profile, Source};
use crate::error::Error;

/// A member row as stored.
pub(crate) struct MemberRow {
    shop_id: Uuid,
    user_id: String,
    state: String,
    membership_id: Option<Uuid>,
    join_channel: Option<String>,
    source: Option<String>,
    joined_at: Option<DateTime<Utc>>,
    first_joined_at: Option<DateTime<Utc>>,
    card_opened_at: Option<DateTime<Utc>>,
    phone_hash: Option<Vec<u8>>,
    profile: serde_json::Value,
    level: i32,
    total_spend_fen: i64,
    order_count: i64,
    paid_order_count: i64,
    following: bool,
}

fn parse_opt<T>(
    raw: Option<String>,
    f: fn(&str) -> Option<T>,
    what: &'static str,
) -> Result<Option<T>, Error> {
    raw.map(|v| f(&v).ok_or(Error::CorruptRow(what)))
        .transpose()
}

impl TryFrom<MemberRow> for Member {
    type Error = Error;

    fn try_from(r: MemberRow) -> Result<Self, Error> {
        Ok(Member {
            shop_id: r.shop_id.into(),
            user_id: UserId::parse("user_id", &r.user_id)
                .map_err(|_| Error::CorruptRow("members.user_id"))?,
            state: MemberState::from_db(&r.state).ok_or(Error::CorruptRow("members.state"))?,
            membership_id: r.membership_id,
            join_channel: parse_opt(r.join_channel, JoinChannel::from_db, "members.join_channel")?,
            source: parse_opt(r.source, Source::from_db, "members.source")?,
            joined_at: r.joined_at,
            first_joined_at: r.first_joined_at,
            card_opened_at: r.card_opened_at,
            phone_hash: r.phone_hash,
            profile: serde_json::from_value::<Profile>(r.profile)
                .map_err(|_| Error::CorruptRow("members.profile"))?,
            level: r.level,
            total_spend_fen: r.total_spend_fen,
            order_count: r.order_count,
            paid_order_count: r.paid_order_count,
            following: r.following,
        })
    }
}

/// Locks the shopper's row with the shop (creating it if new) and returns it.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn lock(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
    now: DateTime<Utc>,
) -> Result<Member, Error> {
    lock_many(conn, &[(shop_id, user_id.clone())], now)
        .await?
        .pop()
        .ok_or(Error::CorruptRow("members"))
}

/// Locks many rows at once, in (shop, user) order so concurrent batches never deadlock.
pub(crate) async fn lock_many(
    conn: &mut PgConnection,
    keys: &[(ShopId, UserId)],
    now: DateTime<Utc>,
) -> Result<Vec<Member>, Error> {
    let mut keys = keys.to_vec();
    keys.sort_by(|a, b| (a.0.as_uuid(), a.1.as_str()).cmp(&(b.0.as_uuid(), b.1.as_str())));
    keys.dedup();
    let shops: Vec<Uuid> = keys.iter().map(|k| k.0.as_uuid()).collect();
    let users: Vec<String> = keys.iter().map(|k| k.1.as_str().to_string()).collect();
    sqlx::query!(
        "INSERT INTO membership.members (shop_id, user_id, updated_at)
         SELECT s, u, $3 FROM unnest($1::uuid[], $2::text[]) AS k(s, u)
         ON CONFLICT (shop_id, user_id) DO NOTHING",
        &shops,
        &users,
        now,
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query_as!(
        MemberRow,
        "SELECT m.shop_id, m.user_id, m.state, m.membership_id, m.join_channel, m.source, m.joined_at,
                m.first_joined_at, m.card_opened_at, m.phone_hash, m.profile, m.level, m.total_spend_fen,
                m.order_count, m.paid_order_count, m.following
         FROM membership.members m JOIN unnest($1::uuid[], $2::text[]) AS k(s, u)
           ON m.shop_id = k.s AND m.user_id = k.u
         ORDER BY m.shop_id, m.user_id COLLATE \"C\"
         FOR UPDATE OF m",
        &shops,
        &users,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter().map(Member::try_from).collect()
}

/// The shopper's row with the shop, if any.
pub(crate) async fn get(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
) -> Result<Option<Member>, Error> {
    let row = sqlx::query_as!(
        MemberRow,
        "SELECT shop_id, user_id, state, membership_id, join_channel, source, joined_at, first_joined_at,
                card_opened_at, phone_hash, profile, level, total_spend_fen, order_count, paid_order_count, following
         FROM membership.members WHERE shop_id = $1 AND user_id = $2",
        shop_id.as_uuid(),
        user_id.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    row.map(Member::try_from).transpose()
}

/// Writes a member back (card opening, quit, follow).
#[tracing::instrument(skip_all, fields(shop_id = %member.shop_id))]
pub(crate) async fn save(
    conn: &mut PgConnection,
    member: &Member,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let profile =
        serde_json::to_value(&member.profile).map_err(|_| Error::CorruptRow("members.profile"))?;
    sqlx::query!(
        "UPDATE membership.members SET state = $3, membership_id = $4, join_channel = $5, source = $6,
                joined_at = $7, first_joined_at = $8, card_opened_at = $9, phone_hash = $10, profile = $11,
                level = $12, total_spend_fen = $13, order_count = $14, paid_order_count = $15,
                following = $16, followed_at = CASE WHEN $16 AND NOT following THEN $17 WHEN $16 THEN followed_at END,
                updated_at = $17
         WHERE shop_id = $1 AND user_id = $2",
        member.shop_id.as_uuid(),
        member.user_id.as_str(),
        member.state.as_db(),
        member.membership_id,
        member.join_channel.map(JoinChannel::as_db),
        member.source.map(Source::as_db),
        member.joined_at,
        member.first_joined_at,
        member.card_opened_at,
        member.phone_hash.as_deref(),
        profile,
        member.level,
        member.total_spend_fen,
        member.order_count,
        member.paid_order_count,
        member.following,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Writes back what order events change, for many members in one statement.
pub(crate) async fn save_order_fields(
    conn: &mut PgConnection,
    members: &[&Member],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let shops: Vec<Uuid> = members.iter().map(|m| m.shop_id.as_uuid()).collect();
    let users: Vec<String> = members
        .iter()
        .map(|m| m.user_id.as_str().to_string())
        .collect();
    let states: Vec<String> = members
        .iter()
        .map(|m| m.state.as_db().to_string())
        .collect();
    let periods: Vec<Option<Uuid>> = members.iter().map(|m| m.membership_id).collect();
    let channels: Vec<Option<String>> = members
        .iter()
        .map(|m| m.join_channel.map(|c| c.as_db().to_string()))
        .collect();
    let sources: Vec<Option<String>> = members
        .iter()
        .map(|m| m.source.map(|s| s.as_db().to_string()))
        .collect();
    let joined: Vec<Option<DateTime<Utc>>> = members.iter().map(|m| m.joined_at).collect();
    let first: Vec<Option<DateTime<Utc>>> = members.iter().map(|m| m.first_joined_at).collect();
    let levels: Vec<i32> = members.iter().map(|m| m.level).collect();
    let spend: Vec<i64> = members.iter().map(|m| m.total_spend_fen).collect();
    let counts: Vec<i64> = members.iter().map(|m| m.order_count).collect();
    let paid: Vec<i64> = members.iter().map(|m| m.paid_order_count).collect();
    sqlx::query!(
        "UPDATE membership.members m SET state = v.state, membership_id = v.period, join_channel = v.channel,
                source = v.source, joined_at = v.joined, first_joined_at = v.first, level = v.level,
                total_spend_fen = v.spend, order_count = v.orders, paid_order_count = v.paid, updated_at = $13
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[], $6::text[],
                     $7::timestamptz[], $8::timestamptz[], $9::int[], $10::bigint[], $11::bigint[], $12::bigint[])
              AS v(shop_id, user_id, state, period, channel, source, joined, first, level, spend, orders, paid)
         WHERE m.shop_id = v.shop_id AND m.user_id = v.user_id",
        &shops,
        &users,
        &states,
        &periods as &[Option<Uuid>],
        &channels as &[Option<String>],
        &sources as &[Option<String>],
        &joined as &[Option<DateTime<Utc>>],
        &first as &[Option<DateTime<Utc>>],
        &levels,
        &spend,
        &counts,
        &paid,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// MB-3: records the periods that just began.
pub(crate) async fn insert_periods(
    conn: &mut PgConnection,
    members: &[&Member],
) -> Result<(), Error> {
    let ids: Vec<Uuid> = members.iter().filter_map(|m| m.membership_id).collect();
    let shops: Vec<Uuid> = members.iter().map(|m| m.shop_id.as_uuid()).collect();
    let users: Vec<String> = members
        .iter()
        .map(|m| m.user_id.as_str().to_string())
        .collect();
    let channels: Vec<String> = members
        .iter()
        .map(|m| {
            m.join_channel
                .map_or("CARD", JoinChannel::as_db)
                .to_string()
        })
        .collect();
    let sources: Vec<String> = members
        .iter()
        .map(|m| m.source.map_or("OTHER", Source::as_db).to_string())
        .collect();
    let joined: Vec<DateTime<Utc>> = members.iter().filter_map(|m| m.joined_at).collect();
    let cards: Vec<Option<DateTime<Utc>>> = members.iter().map(|m| m.card_opened_at).collect();
    if ids.len() != members.len() || joined.len() != members.len() {
        return Err(Error::CorruptRow(
            "members: a joined member without a period",
        ));
    }
    sqlx::query!(
        "INSERT INTO membership.membership_periods (membership_id, shop_id, user_id, join_channel, source, joined_at, card_opened_at)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])
         ON CONFLICT (membership_id) DO UPDATE SET card_opened_at = EXCLUDED.card_opened_at",
        &ids,
        &shops,
        &users,
        &channels,
        &sources,
        &joined,
        &cards as &[Option<DateTime<Utc>>],
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// MB-3: closes the period that ended.
pub(crate) async fn close_period(
    conn: &mut PgConnection,
    membership_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE membership.membership_periods SET quit_at = $2 WHERE membership_id = $1",
        membership_id,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// MB-4: the filters a merchant may combine.
#[derive(Debug, Clone, Default)]
pub(crate) struct MemberFilter {
    pub level: Option<i32>,
    pub joined_from: Option<DateTime<Utc>>,
    pub joined_to: Option<DateTime<Utc>>,
    pub channel: Option<JoinChannel>,
    pub source: Option<Source>,
}

/// MB-4: where the previous page ended (newest first).
#[derive(Debug, Clone)]
pub(crate) struct MemberPageToken {
    pub joined_at: DateTime<Utc>,
    pub user_id: String,
}

/// A row of the merchant's member list (MB-4): never a phone.
#[derive(Debug, Clone)]
pub(crate) struct MemberListRow {
    pub member: Member,
    pub points_balance: i64,
}

/// MB-4: one page of active members plus the total matching the filters.
#[tracing::instrument(skip_all, fields(shop_id = %shop_id))]
pub(crate) async fn list(
    conn: &mut PgConnection,
    shop_id: ShopId,
    filter: &MemberFilter,
    after: Option<&MemberPageToken>,
    limit: i64,
) -> Result<(Vec<MemberListRow>, i64), Error> {
    let (after_at, after_user) = after.map_or((None, None), |t| {
        (Some(t.joined_at), Some(t.user_id.clone()))
    });
    let channel = filter.channel.map(JoinChannel::as_db);
    let source = filter.source.map(Source::as_db);
    let rows = sqlx::query!(
        r#"WITH page AS (
             SELECT m.* FROM membership.members m
             WHERE m.shop_id = $1 AND m.state = 'ACTIVE'
               AND ($2::int IS NULL OR m.level = $2)
               AND ($3::timestamptz IS NULL OR m.joined_at >= $3)
               AND ($4::timestamptz IS NULL OR m.joined_at < $4)
               AND ($5::text IS NULL OR m.join_channel = $5)
               AND ($6::text IS NULL OR m.source = $6)
               AND ($7::timestamptz IS NULL OR (m.joined_at, m.user_id) < ($7, $8::text))
             ORDER BY m.joined_at DESC, m.user_id DESC
             LIMIT $9)
           -- Balances only for the page's rows, each by its primary key.
           SELECT p.shop_id, p.user_id, p.state, p.membership_id, p.join_channel, p.source, p.joined_at,
                  p.first_joined_at, p.card_opened_at, p.phone_hash, p.profile, p.level, p.total_spend_fen,
                  p.order_count, p.paid_order_count, p.following,
                  COALESCE((SELECT a.balance FROM membership.accounts a
                            WHERE a.shop_id = p.shop_id AND a.kind = 'MEMBER' AND a.owner = p.user_id
                              AND a.asset = 'POINTS'), 0) AS "points!"
           FROM page p ORDER BY p.joined_at DESC, p.user_id DESC"#,
        shop_id.as_uuid(),
        filter.level,
        filter.joined_from,
        filter.joined_to,
        channel,
        source,
        after_at,
        after_user,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    let total = sqlx::query_scalar!(
        r#"SELECT count(*) AS "n!" FROM membership.members m
           WHERE m.shop_id = $1 AND m.state = 'ACTIVE'
             AND ($2::int IS NULL OR m.level = $2)
             AND ($3::timestamptz IS NULL OR m.joined_at >= $3)
             AND ($4::timestamptz IS NULL OR m.joined_at < $4)
             AND ($5::text IS NULL OR m.join_channel = $5)
             AND ($6::text IS NULL OR m.source = $6)"#,
        shop_id.as_uuid(),
        filter.level,
        filter.joined_from,
        filter.joined_to,
        channel,
        source,
    )
    .fetch_one(&mut *conn)
    .await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let member = Member::try_from(MemberRow {
                shop_id: r.shop_id,
                user_id: r.user_id,
                state: r.state,
                membership_id: r.membership_id,
                join_channel: r.join_channel,
                source: r.source,
                joined_at: r.joined_at,
                first_joined_at: r.first_joined_at,
                card_opened_at: r.card_opened_at,
                phone_hash: r.phone_hash,
                profile: r.profile,
                level: r.level,
                total_spend_fen: r.total_spend_fen,
                order_count: r.order_count,
                paid_order_count: r.paid_order_count,
                following: r.following,
            })?;
            Ok(MemberListRow {
                member,
                points_balance: r.points,
            })
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok((rows, total))
}
