//! PT-1..PT-5: transfers, balances, points lots, budget reservations and expiry.
//!
//! A transfer debits its source with a conditional UPDATE (`balance >= amount`), credits its
//! target, writes the immutable transfer (unique by key) and both ledger entries, and keeps
//! points lots in step: credits add a lot, debits consume the oldest lots first.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::ids::{ShopId, UserId};
use crate::domain::ledger::{self, Account, Asset, TransferCommand};
use crate::domain::orders::PointsMove;
use crate::error::Error;
use memberhub_kit::error::Failure;

/// A transfer as recorded.
#[derive(Debug, Clone)]
pub(crate) struct Transfer {
    pub transfer_id: Uuid,
    pub shop_id: ShopId,
    pub from: Account,
    pub to: Account,
    pub asset: Asset,
    pub amount: i64,
    pub shortfall: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// Debits a non-system account; RESOURCE_EXHAUSTED when it holds too little.
async fn debit(
    conn: &mut PgConnection,
    shop_id: ShopId,
    account: &Account,
    asset: Asset,
    amount: i64,
) -> Result<Option<i64>, Error> {
    if account.is_system() {
        return Ok(None);
    }
    let balance = sqlx::query_scalar!(
        "UPDATE membership.accounts SET balance = balance - $5
         WHERE shop_id = $1 AND kind = $2 AND owner = $3 AND asset = $4 AND balance >= $5
         RETURNING balance",
        shop_id.as_uuid(),
        account.kind(),
        account.owner(),
        asset.as_db(),
        amount,
    )
    .fetch_optional(&mut *conn)
    .await?;
    balance
        .map(Some)
        .ok_or_else(|| Error::Rejected(ledger::insufficient(account, asset)))
}

/// Credits a non-system account, opening it if new.
async fn credit(
    conn: &mut PgConnection,
    shop_id: ShopId,
    account: &Account,
    asset: Asset,
    amount: i64,
) -> Result<Option<i64>, Error> {
    if account.is_system() {
        return Ok(None);
    }
    let balance = sqlx::query_scalar!(
        "INSERT INTO membership.accounts (shop_id, kind, owner, asset, balance) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (shop_id, kind, owner, asset) DO UPDATE SET balance = accounts.balance + EXCLUDED.balance
         RETURNING balance",
        shop_id.as_uuid(),
        account.kind(),
        account.owner(),
        asset.as_db(),
        amount,
    )
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| match memberhub_kit::db::sqlstate(&e).as_deref() {
        Some("22003") => Error::Rejected(Failure::precondition(
            "BALANCE_LIMIT_EXCEEDED",
            "the account cannot hold that much more",
        )),
        _ => Error::Database(e),
    })?;
    Ok(Some(balance))
}

/// PT-1: one transfer, exactly once per `key`.
#[tracing::instrument(skip_all, fields(shop_id = %cmd.shop_id, asset = cmd.asset.as_db()))]
pub(crate) async fn transfer(
    conn: &mut PgConnection,
    cmd: &TransferCommand,
    key: &str,
    now: DateTime<Utc>,
) -> Result<Transfer, Error> {
    ensure_shop(conn, cmd.shop_id).await?;
    if let Account::Reservation(id) = &cmd.to {
        // Budget moved into a reservation must be one a release can still return.
        let held = lock_reservation(conn, *id).await?;
        if held.released || held.asset != cmd.asset || held.shop_id != cmd.shop_id {
            return Err(Error::Rejected(Failure::precondition(
                "RESERVATION_NOT_HELD",
                "the reservation is released or holds another asset or shop",
            )));
        }
    }
    let from_balance = debit(conn, cmd.shop_id, &cmd.from, cmd.asset, cmd.amount).await?;
    let to_balance = credit(conn, cmd.shop_id, &cmd.to, cmd.asset, cmd.amount).await?;
    let transfer = Transfer {
        transfer_id: Uuid::now_v7(),
        shop_id: cmd.shop_id,
        from: cmd.from.clone(),
        to: cmd.to.clone(),
        asset: cmd.asset,
        amount: cmd.amount,
        shortfall: 0,
        reason: cmd.reason.clone(),
        created_at: now,
    };
    record(conn, &transfer, key, from_balance, to_balance).await?;
    if cmd.asset == Asset::Points {
        if let Account::Member(user) = &cmd.from {
            consume_lots(conn, &[(cmd.shop_id, user.clone(), cmd.amount)]).await?;
        }
        if let Account::Member(user) = &cmd.to {
            add_lots(conn, &[(cmd.shop_id, user.clone(), cmd.amount)], now).await?;
        }
    }
    Ok(transfer)
}

/// Writes the transfer row and its two entries.
async fn record(
    conn: &mut PgConnection,
    t: &Transfer,
    key: &str,
    from_balance: Option<i64>,
    to_balance: Option<i64>,
) -> Result<(), Error> {
    sqlx::query!(
        "WITH t AS (
           INSERT INTO membership.transfers (transfer_id, key, shop_id, asset, from_kind, from_owner, to_kind, to_owner,
                                             amount, shortfall, reason, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING transfer_id)
         INSERT INTO membership.ledger_entries (transfer_id, shop_id, kind, owner, asset, delta, balance_after, reason, created_at)
         SELECT t.transfer_id, $3, e.kind, e.owner, $4, e.delta, e.balance_after, $11, $12
         FROM t, (VALUES ($5, $6, -$9::bigint, $13::bigint), ($7, $8, $9::bigint, $14::bigint)) AS e(kind, owner, delta, balance_after)",
        t.transfer_id,
        key,
        t.shop_id.as_uuid(),
        t.asset.as_db(),
        t.from.kind(),
        t.from.owner(),
        t.to.kind(),
        t.to.owner(),
        t.amount,
        t.shortfall,
        t.reason,
        t.created_at,
        from_balance,
        to_balance,
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| match memberhub_kit::db::sqlstate(&e).as_deref() {
        Some("23505") => Error::TransferKeyUsed(key.to_string()),
        _ => Error::Database(e),
    })?;
    Ok(())
}

/// PT-5: a new lot per credit.
async fn add_lots(
    conn: &mut PgConnection,
    credits: &[(ShopId, UserId, i64)],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let shops: Vec<Uuid> = credits.iter().map(|c| c.0.as_uuid()).collect();
    let users: Vec<String> = credits.iter().map(|c| c.1.as_str().to_string()).collect();
    let amounts: Vec<i64> = credits.iter().map(|c| c.2).collect();
    sqlx::query!(
        "INSERT INTO membership.points_lots (shop_id, user_id, earned_at, amount, remaining)
         SELECT s, u, $4, a, a FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS c(s, u, a)",
        &shops,
        &users,
        &amounts,
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// PT-5: debits consume the oldest lots first, all members of a batch in one statement.
/// The caller holds each member's points account lock, which guards their lots.
async fn consume_lots(
    conn: &mut PgConnection,
    debits: &[(ShopId, UserId, i64)],
) -> Result<(), Error> {
    let shops: Vec<Uuid> = debits.iter().map(|d| d.0.as_uuid()).collect();
    let users: Vec<String> = debits.iter().map(|d| d.1.as_str().to_string()).collect();
    let amounts: Vec<i64> = debits.iter().map(|d| d.2).collect();
    sqlx::query!(
        "WITH debit AS (
           SELECT s AS shop_id, u AS user_id, sum(a) AS amount
           FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS d(s, u, a) GROUP BY s, u),
         lots AS (
           SELECT l.lot_id, l.remaining, d.amount,
                  sum(l.remaining) OVER (PARTITION BY l.shop_id, l.user_id ORDER BY l.earned_at, l.lot_id) - l.remaining AS before
           FROM membership.points_lots l JOIN debit d ON l.shop_id = d.shop_id AND l.user_id = d.user_id
           WHERE l.remaining > 0)
         UPDATE membership.points_lots p
         SET remaining = p.remaining - LEAST(lots.remaining, lots.amount - lots.before)
         FROM lots WHERE p.lot_id = lots.lot_id AND lots.before < lots.amount",
        &shops,
        &users,
        &amounts,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Locks the points accounts of members (opening them at 0), in a fixed order, and returns
/// their balances.
pub(crate) async fn lock_points(
    conn: &mut PgConnection,
    members: &[(ShopId, UserId)],
) -> Result<Vec<(ShopId, UserId, i64)>, Error> {
    let mut keys = members.to_vec();
    keys.sort_by(|a, b| (a.0.as_uuid(), a.1.as_str()).cmp(&(b.0.as_uuid(), b.1.as_str())));
    keys.dedup();
    let shops: Vec<Uuid> = keys.iter().map(|k| k.0.as_uuid()).collect();
    let users: Vec<String> = keys.iter().map(|k| k.1.as_str().to_string()).collect();
    sqlx::query!(
        "INSERT INTO membership.accounts (shop_id, kind, owner, asset, balance)
         SELECT s, 'MEMBER', u, 'POINTS', 0 FROM unnest($1::uuid[], $2::text[]) AS k(s, u)
         ON CONFLICT DO NOTHING",
        &shops,
        &users,
    )
    .execute(&mut *conn)
    .await?;
    let rows = sqlx::query!(
        "SELECT a.shop_id, a.owner, a.balance FROM membership.accounts a
         JOIN unnest($1::uuid[], $2::text[]) AS k(s, u) ON a.shop_id = k.s AND a.owner = k.u
         WHERE a.kind = 'MEMBER' AND a.asset = 'POINTS'
         ORDER BY a.shop_id, a.owner COLLATE \"C\" FOR UPDATE OF a",
        &shops,
        &users,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.shop_id.into(),
                UserId::parse("owner", &r.owner)
                    .map_err(|_| Error::CorruptRow("accounts.owner"))?,
                r.balance,
            ))
        })
        .collect()
}

/// OR-4: the points moves of an order batch, set-based: transfers, entries, balances, lots.
#[tracing::instrument(skip_all, fields(moves = moves.len()))]
pub(crate) async fn apply_points_moves(
    conn: &mut PgConnection,
    moves: &[PointsMove],
    balances: &[(ShopId, UserId, i64)],
    now: DateTime<Utc>,
) -> Result<(), Error> {
    if moves.is_empty() {
        return Ok(());
    }
    // Each member's balance after each of their moves, in order.
    let mut running: std::collections::HashMap<(ShopId, &str), i64> =
        std::collections::HashMap::new();
    // `balances` are as loaded before the batch.
    let start = |shop: ShopId, user: &UserId| {
        balances
            .iter()
            .find(|b| b.0 == shop && b.1 == *user)
            .map_or(0, |b| b.2)
    };
    let mut after = Vec::with_capacity(moves.len());
    for m in moves {
        let balance = running
            .entry((m.shop_id, m.user_id.as_str()))
            .or_insert_with(|| start(m.shop_id, &m.user_id));
        *balance += m.delta;
        after.push(*balance);
    }
    let ids: Vec<Uuid> = moves.iter().map(|_| Uuid::now_v7()).collect();
    let keys: Vec<String> = moves.iter().map(|m| m.key.clone()).collect();
    let shops: Vec<Uuid> = moves.iter().map(|m| m.shop_id.as_uuid()).collect();
    let users: Vec<String> = moves
        .iter()
        .map(|m| m.user_id.as_str().to_string())
        .collect();
    let deltas: Vec<i64> = moves.iter().map(|m| m.delta).collect();
    let shortfalls: Vec<i64> = moves.iter().map(|m| m.shortfall).collect();
    let reasons: Vec<String> = moves.iter().map(|m| m.reason.clone()).collect();
    let times: Vec<DateTime<Utc>> = moves.iter().map(|m| m.at.max(now)).collect();
    sqlx::query!(
        "WITH m AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::text[], $5::bigint[], $6::bigint[],
                                          $7::text[], $8::timestamptz[], $9::bigint[])
                    AS m(id, key, shop_id, user_id, delta, shortfall, reason, at, after)),
         t AS (INSERT INTO membership.transfers (transfer_id, key, shop_id, asset, from_kind, from_owner, to_kind, to_owner,
                                                 amount, shortfall, reason, created_at)
               SELECT id, key, shop_id, 'POINTS',
                      CASE WHEN delta > 0 THEN 'SYSTEM_ISSUANCE' ELSE 'MEMBER' END,
                      CASE WHEN delta > 0 THEN '' ELSE user_id END,
                      CASE WHEN delta > 0 THEN 'MEMBER' ELSE 'SYSTEM_ISSUANCE' END,
                      CASE WHEN delta > 0 THEN user_id ELSE '' END,
                      abs(delta), shortfall, reason, at FROM m)
         INSERT INTO membership.ledger_entries (transfer_id, shop_id, kind, owner, asset, delta, balance_after, reason, created_at)
         SELECT id, shop_id, 'MEMBER', user_id, 'POINTS', delta, after, reason, at FROM m
         UNION ALL
         SELECT id, shop_id, 'SYSTEM_ISSUANCE', '', 'POINTS', -delta, NULL, reason, at FROM m",
        &ids,
        &keys,
        &shops,
        &users,
        &deltas,
        &shortfalls,
        &reasons,
        &times,
        &after,
    )
    .execute(&mut *conn)
    .await?;
    let (mut final_shops, mut final_users, mut final_balances) =
        (Vec::new(), Vec::new(), Vec::new());
    for ((shop, user), balance) in &running {
        final_shops.push(shop.as_uuid());
        final_users.push(user.to_string());
        final_balances.push(*balance);
    }
    sqlx::query!(
        "UPDATE membership.accounts a SET balance = v.balance
         FROM unnest($1::uuid[], $2::text[], $3::bigint[]) AS v(shop_id, owner, balance)
         WHERE a.shop_id = v.shop_id AND a.kind = 'MEMBER' AND a.owner = v.owner AND a.asset = 'POINTS'",
        &final_shops,
        &final_users,
        &final_balances,
    )
    .execute(&mut *conn)
    .await?;
    let credits: Vec<(ShopId, UserId, i64)> = moves
        .iter()
        .filter(|m| m.delta > 0)
        .map(|m| (m.shop_id, m.user_id.clone(), m.delta))
        .collect();
    let debits: Vec<(ShopId, UserId, i64)> = moves
        .iter()
        .filter(|m| m.delta < 0)
        .map(|m| (m.shop_id, m.user_id.clone(), -m.delta))
        .collect();
    if !credits.is_empty() {
        add_lots(conn, &credits, now).await?;
    }
    if !debits.is_empty() {
        consume_lots(conn, &debits).await?;
    }
    Ok(())
}

/// PT-2: a campaign's budget reservation.
#[derive(Debug, Clone)]
pub(crate) struct Reservation {
    pub reservation_id: Uuid,
    pub shop_id: ShopId,
    pub asset: Asset,
    pub amount: i64,
    pub remaining: i64,
    pub released: bool,
}

/// PT-2, OC-5: set budget aside for a campaign (moved into its own account).
pub(crate) async fn reserve(
    conn: &mut PgConnection,
    shop_id: ShopId,
    asset: Asset,
    amount: i64,
    purpose: &str,
    now: DateTime<Utc>,
) -> Result<Reservation, Error> {
    let id = Uuid::now_v7();
    sqlx::query!(
        "INSERT INTO membership.budget_reservations (reservation_id, shop_id, asset, amount, purpose, state, created_at)
         VALUES ($1, $2, $3, $4, $5, 'HELD', $6)",
        id,
        shop_id.as_uuid(),
        asset.as_db(),
        amount,
        purpose,
        now,
    )
    .execute(&mut *conn)
    .await?;
    let cmd = TransferCommand {
        shop_id,
        from: Account::ShopBudget,
        to: Account::Reservation(id),
        asset,
        amount,
        reason: format!("reserve for {purpose}"),
    };
    transfer(conn, &cmd, &format!("reservation:{id}:hold"), now).await?;
    Ok(Reservation {
        reservation_id: id,
        shop_id,
        asset,
        amount,
        remaining: amount,
        released: false,
    })
}

/// The reservation, locked.
pub(crate) async fn lock_reservation(
    conn: &mut PgConnection,
    id: Uuid,
) -> Result<Reservation, Error> {
    let row = sqlx::query!(
        r#"SELECT r.reservation_id, r.shop_id, r.asset, r.amount, r.state, COALESCE(a.balance, 0) AS "remaining!"
           FROM membership.budget_reservations r
           LEFT JOIN membership.accounts a ON a.shop_id = r.shop_id AND a.kind = 'RESERVATION'
                AND a.owner = r.reservation_id::text AND a.asset = r.asset
           WHERE r.reservation_id = $1 FOR UPDATE OF r"#,
        id,
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(Error::ReservationNotFound(id))?;
    Ok(Reservation {
        reservation_id: row.reservation_id,
        shop_id: row.shop_id.into(),
        asset: Asset::from_db(&row.asset).ok_or(Error::CorruptRow("budget_reservations.asset"))?,
        amount: row.amount,
        remaining: row.remaining,
        released: row.state == "RELEASED",
    })
}

/// OC-9: return what is left of a reservation to the shop's budget, once.
pub(crate) async fn release(
    conn: &mut PgConnection,
    id: Uuid,
    now: DateTime<Utc>,
) -> Result<Reservation, Error> {
    let mut reservation = lock_reservation(conn, id).await?;
    if reservation.released {
        return Ok(reservation);
    }
    if reservation.remaining > 0 {
        let cmd = TransferCommand {
            shop_id: reservation.shop_id,
            from: Account::Reservation(id),
            to: Account::ShopBudget,
            asset: reservation.asset,
            amount: reservation.remaining,
            reason: "reservation released".into(),
        };
        transfer(conn, &cmd, &format!("reservation:{id}:release"), now).await?;
    }
    sqlx::query!(
        "UPDATE membership.budget_reservations SET state = 'RELEASED' WHERE reservation_id = $1",
        id
    )
    .execute(&mut *conn)
    .await?;
    reservation.released = true;
    reservation.remaining = 0;
    Ok(reservation)
}

/// PT-4: a member-facing ledger line.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub entry_id: i64,
    pub transfer_id: Uuid,
    pub asset: Asset,
    pub delta: i64,
    pub balance_after: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}

/// PT-4: a member's entries, newest first, after `before_entry` when paging.
pub(crate) async fn member_entries(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
    asset: Option<Asset>,
    before_entry: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, Error> {
    let rows = sqlx::query!(
        r#"SELECT entry_id, transfer_id, asset, delta, balance_after AS "balance_after!", reason, created_at
           FROM membership.ledger_entries
           WHERE shop_id = $1 AND kind = 'MEMBER' AND owner = $2
             AND ($3::text IS NULL OR asset = $3) AND ($4::bigint IS NULL OR entry_id < $4)
           ORDER BY entry_id DESC LIMIT $5"#,
        shop_id.as_uuid(),
        user_id.as_str(),
        asset.map(Asset::as_db),
        before_entry,
        limit,
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Entry {
                entry_id: r.entry_id,
                transfer_id: r.transfer_id,
                asset: Asset::from_db(&r.asset).ok_or(Error::CorruptRow("ledger_entries.asset"))?,
                delta: r.delta,
                balance_after: r.balance_after,
                reason: r.reason,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// A member's balance of one asset.
pub(crate) async fn balance(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
    asset: Asset,
) -> Result<i64, Error> {
    let balance = sqlx::query_scalar!(
        "SELECT balance FROM membership.accounts WHERE shop_id = $1 AND kind = 'MEMBER' AND owner = $2 AND asset = $3",
        shop_id.as_uuid(),
        user_id.as_str(),
        asset.as_db(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(balance.unwrap_or(0))
}

/// PT-4: the shop's budget per asset: available, and set aside in held reservations.
pub(crate) async fn budget_balances(
    conn: &mut PgConnection,
    shop_id: ShopId,
) -> Result<Vec<(Asset, i64, i64)>, Error> {
    let rows = sqlx::query!(
        r#"SELECT asset AS "asset!",
                  COALESCE(sum(balance) FILTER (WHERE kind = 'SHOP_BUDGET'), 0)::bigint AS "available!",
                  COALESCE(sum(balance) FILTER (WHERE kind = 'RESERVATION'), 0)::bigint AS "reserved!"
           FROM membership.accounts WHERE shop_id = $1 AND kind IN ('SHOP_BUDGET', 'RESERVATION') AND asset <> 'POINTS'
           GROUP BY asset ORDER BY asset"#,
        shop_id.as_uuid(),
    )
    .fetch_all(&mut *conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok((
                Asset::from_db(&r.asset).ok_or(Error::CorruptRow("accounts.asset"))?,
                r.available,
                r.reserved,
            ))
        })
        .collect()
}

/// PT-5: members whose lots are expired in one transaction. At the year-end cliff every
/// member of every shop is due at once: one transaction for all of them would hold their
/// points rows (blocking order ingest) and the event feed's snapshot horizon for minutes.
pub const EXPIRY_CHUNK_MEMBERS: i64 = 200;

/// PT-5: expire every due lot (earned in year Y, expiring at the end of Y+1 in the shop's
/// time zone) of shops with expiry on (or of `shop`), in chunks of [`EXPIRY_CHUNK_MEMBERS`]
/// members, each its own transaction, shop by shop. Each member's expiry is one transfer to
/// the expiry account. Safe to run twice at once: a lot is zeroed under its account's lock,
/// so it expires once. Returns (lots, points).
#[tracing::instrument(skip_all)]
pub async fn expire_due(
    pool: &PgPool,
    shop: Option<ShopId>,
    now: DateTime<Utc>,
) -> Result<(i64, i64), Error> {
    let (mut lots, mut points) = (0, 0);
    let mut after: Option<(Uuid, String)> = None;
    loop {
        let mut tx = pool.begin().await?;
        let chunk = expire_chunk(&mut tx, shop, after.as_ref(), now).await?;
        tx.commit().await?;
        lots += chunk.lots;
        points += chunk.points;
        match chunk.last {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    Ok((lots, points))
}

/// One chunk of [`expire_due`]: what it expired, and the last member it looked at (`None`
/// when no member was left).
struct ExpiryChunk {
    lots: i64,
    points: i64,
    last: Option<(Uuid, String)>,
}

async fn expire_chunk(
    conn: &mut PgConnection,
    shop: Option<ShopId>,
    after: Option<&(Uuid, String)>,
    now: DateTime<Utc>,
) -> Result<ExpiryChunk, Error> {
    let due = sqlx::query!(
        r#"SELECT l.shop_id, l.user_id, count(*) AS "lots!", sum(l.remaining)::bigint AS "points!"
           FROM membership.points_lots l
           JOIN membership.programs p ON p.shop_id = l.shop_id AND p.points_expiry_enabled
           JOIN membership.shops s ON s.shop_id = l.shop_id
           WHERE l.remaining > 0 AND ($1::uuid IS NULL OR l.shop_id = $1)
             AND ($3::uuid IS NULL OR (l.shop_id, l.user_id COLLATE "C") > ($3, $4::text COLLATE "C"))
             AND (date_trunc('year', l.earned_at AT TIME ZONE s.time_zone) + interval '2 years') AT TIME ZONE s.time_zone <= $2
           GROUP BY l.shop_id, l.user_id
           ORDER BY l.shop_id, l.user_id COLLATE "C"
           LIMIT $5"#,
        shop.map(|s| s.as_uuid()),
        now,
        after.map(|a| a.0),
        after.map(|a| a.1.clone()),
        EXPIRY_CHUNK_MEMBERS,
    )
    .fetch_all(&mut *conn)
    .await?;
    let last = due.last().map(|r| (r.shop_id, r.user_id.clone()));
    let (mut lots, mut points) = (0, 0);
    for row in due {
        let (shop_id, user) = (
            ShopId::from(row.shop_id),
            UserId::parse("user_id", &row.user_id)
                .map_err(|_| Error::CorruptRow("points_lots.user_id"))?,
        );
        lock_points(conn, &[(shop_id, user.clone())]).await?;
        // Zero the due lots under the account lock, then move what they held.
        let expired = sqlx::query_scalar!(
            r#"WITH due AS (
                 SELECT l.lot_id, l.remaining FROM membership.points_lots l
                 JOIN membership.shops s ON s.shop_id = l.shop_id
                 WHERE l.shop_id = $1 AND l.user_id = $2 AND l.remaining > 0
                   AND (date_trunc('year', l.earned_at AT TIME ZONE s.time_zone) + interval '2 years') AT TIME ZONE s.time_zone <= $3
                 FOR UPDATE OF l),
               zeroed AS (UPDATE membership.points_lots p SET remaining = 0 FROM due WHERE p.lot_id = due.lot_id)
               SELECT COALESCE(sum(remaining), 0)::bigint AS "n!" FROM due"#,
            shop_id.as_uuid(),
            user.as_str(),
            now,
        )
        .fetch_one(&mut *conn)
        .await?;
        if expired <= 0 {
            continue;
        }
        let from_balance = debit(
            conn,
            shop_id,
            &Account::Member(user.clone()),
            Asset::Points,
            expired,
        )
        .await?;
        let t = Transfer {
            transfer_id: Uuid::now_v7(),
            shop_id,
            from: Account::Member(user.clone()),
            to: Account::SystemExpiry,
            asset: Asset::Points,
            amount: expired,
            shortfall: 0,
            reason: "points expired (PT-5)".into(),
            created_at: now,
        };
        record(
            conn,
            &t,
            &format!("expiry:{}", t.transfer_id),
            from_balance,
            None,
        )
        .await?;
        lots += row.lots;
        points += expired;
    }
    Ok(ExpiryChunk { lots, points, last })
}

/// NOT_FOUND unless the shop exists (the ledger keeps no foreign key to it).
async fn ensure_shop(conn: &mut PgConnection, shop_id: ShopId) -> Result<(), Error> {
    let exists = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM membership.shops WHERE shop_id = $1) AS "exists!""#,
        shop_id.as_uuid(),
    )
    .fetch_one(&mut *conn)
    .await?;
    if exists {
        Ok(())
    } else {
        Err(Error::ShopNotFound(shop_id))
    }
}
