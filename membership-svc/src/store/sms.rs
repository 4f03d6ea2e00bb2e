//! MP-4: sent codes, wrong tries, and the recording `SmsSender`'s message table.

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::domain::ids::{ShopId, UserId};
use crate::domain::sms::{self, HashKey, Phone, SentCode, VerificationSms};
use crate::error::Error;

/// The code last sent to the shopper for the shop, locked.
pub(crate) async fn lock_code(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
) -> Result<Option<SentCode>, Error> {
    let row = sqlx::query!(
        "SELECT phone_hash, code_hash, sent_at, expires_at, failed_attempts, consumed_at
         FROM membership.sms_codes WHERE shop_id = $1 AND user_id = $2 FOR UPDATE",
        shop_id.as_uuid(),
        user_id.as_str(),
    )
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(|r| SentCode {
        phone_hash: r.phone_hash,
        code_hash: r.code_hash,
        sent_at: r.sent_at,
        expires_at: r.expires_at,
        failed_attempts: r.failed_attempts,
        consumed: r.consumed_at.is_some(),
    }))
}

/// Replaces the shopper's code with a new one.
pub(crate) async fn store_code(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
    code: &SentCode,
) -> Result<(), Error> {
    sqlx::query!(
        "INSERT INTO membership.sms_codes (shop_id, user_id, phone_hash, code_hash, sent_at, expires_at, failed_attempts)
         VALUES ($1, $2, $3, $4, $5, $6, 0)
         ON CONFLICT (shop_id, user_id) DO UPDATE SET phone_hash = EXCLUDED.phone_hash, code_hash = EXCLUDED.code_hash,
             sent_at = EXCLUDED.sent_at, expires_at = EXCLUDED.expires_at, failed_attempts = 0, consumed_at = NULL",
        shop_id.as_uuid(),
        user_id.as_str(),
        code.phone_hash,
        code.code_hash,
        code.sent_at,
        code.expires_at,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The code opened the card: it cannot open another.
pub(crate) async fn consume_code(
    conn: &mut PgConnection,
    shop_id: ShopId,
    user_id: &UserId,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    sqlx::query!(
        "UPDATE membership.sms_codes SET consumed_at = $3 WHERE shop_id = $1 AND user_id = $2",
        shop_id.as_uuid(),
        user_id.as_str(),
        now,
    )
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// MP-4: counts a wrong code in one statement that commits on its own, before the card
/// opening's transaction: concurrent guesses queue on the row, so at most five are ever
/// judged wrong and the rest meet the limit. Returns whether this guess was counted wrong.
/// A right code, or a code that can no longer be tried, is left to the opening to judge.
pub(crate) async fn count_wrong_code(
    pool: &PgPool,
    shop_id: ShopId,
    user_id: &UserId,
    phone_hash: &[u8],
    code_hash: &[u8],
    now: DateTime<Utc>,
) -> Result<bool, Error> {
    let counted = sqlx::query_scalar!(
        "UPDATE membership.sms_codes SET failed_attempts = failed_attempts + 1
         WHERE shop_id = $1 AND user_id = $2 AND phone_hash = $3 AND code_hash <> $4
           AND failed_attempts < 5 AND consumed_at IS NULL AND expires_at > $5
         RETURNING failed_attempts",
        shop_id.as_uuid(),
        user_id.as_str(),
        phone_hash,
        code_hash,
        now,
    )
    .fetch_optional(pool)
    .await?;
    Ok(counted.is_some())
}

/// Where card-verification messages go. A real SMS gateway implements this trait; the
/// default records them (see [`RecordingSender`]).
pub(crate) trait SmsSender: Send + Sync + std::fmt::Debug {
    /// Sends `sms` to `phone` as part of the caller's transaction.
    fn send<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        shop_id: ShopId,
        phone: &'a Phone,
        sms: &'a VerificationSms,
        now: DateTime<Utc>,
    ) -> futures::future::BoxFuture<'a, Result<(), Error>>;
}

/// The recording sender. The database keeps each message with its code masked and the phone
/// only hashed and masked (MP-4: codes are stored only as keyed hashes, in `sms_codes`); the
/// full text, code included, stays in this process's memory for the tests and `memberhub dev`
/// that play the shopper's phone.
#[derive(Debug, Clone)]
pub(crate) struct RecordingSender {
    pub key: HashKey,
}

/// A message as the shopper's phone would show it (kept in memory only).
#[derive(Debug, Clone)]
pub struct RecordedSms {
    pub shop_id: Uuid,
    phone_hash: Vec<u8>,
    /// The key `phone_hash` was made with (services in one process may differ).
    key: HashKey,
    pub phone_masked: String,
    pub body: String,
    pub sent_at: DateTime<Utc>,
}

/// How many messages the in-memory record keeps (the oldest are forgotten first).
const RECORDED_CAPACITY: usize = 10_000;

fn recorded() -> &'static std::sync::Mutex<std::collections::VecDeque<RecordedSms>> {
    static RECORDED: std::sync::OnceLock<
        std::sync::Mutex<std::collections::VecDeque<RecordedSms>>,
    > = std::sync::OnceLock::new();
    RECORDED.get_or_init(Default::default)
}

impl SmsSender for RecordingSender {
    fn send<'a>(
        &'a self,
        conn: &'a mut PgConnection,
        shop_id: ShopId,
        phone: &'a Phone,
        sms: &'a VerificationSms,
        now: DateTime<Utc>,
    ) -> futures::future::BoxFuture<'a, Result<(), Error>> {
        Box::pin(async move {
            let phone_hash = self.key.phone(phone);
            sqlx::query!(
                "INSERT INTO membership.sms_messages (shop_id, phone_hash, phone_masked, body, sent_at)
                 VALUES ($1, $2, $3, $4, $5)",
                shop_id.as_uuid(),
                phone_hash,
                phone.masked(),
                sms.redacted(),
                now,
            )
            .execute(&mut *conn)
            .await?;
            // Recorded when the insert succeeded; a rolled-back opening may still leave its
            // message here, as a real SMS would have been delivered.
            if let Ok(mut messages) = recorded().lock() {
                if messages.len() >= RECORDED_CAPACITY {
                    messages.pop_front();
                }
                messages.push_back(RecordedSms {
                    shop_id: shop_id.as_uuid(),
                    phone_hash,
                    key: self.key.clone(),
                    phone_masked: phone.masked(),
                    body: sms.text(),
                    sent_at: now,
                });
            }
            Ok(())
        })
    }
}

/// The messages this process's recording sender sent to `phone`, newest first (for tests and
/// `memberhub dev`), matched by the phone's hash under the key each message was sent with.
pub fn recorded_messages(phone: &str) -> Result<Vec<RecordedSms>, Error> {
    let phone = Phone::parse("phone", phone)
        .map_err(|v| Error::Rejected(memberhub_kit::error::Failure::InvalidArgument(vec![v])))?;
    Ok(latest_messages(usize::MAX)
        .into_iter()
        .filter(|m| m.key.phone(&phone) == m.phone_hash)
        .collect())
}

/// The newest messages this process's recording sender sent, newest first (what
/// `memberhub dev` prints).
pub fn latest_messages(limit: usize) -> Vec<RecordedSms> {
    recorded()
        .lock()
        .map(|messages| messages.iter().rev().take(limit).cloned().collect())
        .unwrap_or_default()
}

/// MP-4: what to store for a freshly sent code.
pub(crate) fn new_sent_code(
    key: &HashKey,
    shop_id: ShopId,
    user_id: &UserId,
    phone: &Phone,
    code: &str,
    now: DateTime<Utc>,
) -> SentCode {
    SentCode {
        phone_hash: key.phone(phone),
        code_hash: key.code(&shop_id.to_string(), user_id.as_str(), code),
        sent_at: now,
        expires_at: now + sms::CODE_VALIDITY,
        failed_attempts: 0,
        consumed: false,
    }
}
