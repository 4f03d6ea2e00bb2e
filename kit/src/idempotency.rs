//! idempotency keys. A key is unique per (scope, method, key), where the scope is the
//! calling actor, so one tenant never sees another's stored response. The fingerprint is a
//! hash of the whole request: the same key with a different request is refused with
//! `IDEMPOTENCY_KEY_REUSED`. Each service stores keys in its own schema, in the same
//! transaction as the effect (see each service's `store::idempotency`).

use sha2::{Digest, Sha256};

use crate::actor::Actor;
use crate::error::{Failure, FieldViolation};

/// The longest accepted key.
pub const MAX_KEY_LEN: usize = 128;

/// A request's idempotency identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub scope: String,
    pub method: &'static str,
    pub key: String,
    pub fingerprint: Vec<u8>,
}

impl IdempotencyKey {
    /// Builds the key of a mutating request; INVALID_ARGUMENT on `request_id` when absent.
    pub fn new<M: prost::Message>(
        actor: &Actor,
        method: &'static str,
        request_id: &str,
        request: &M,
    ) -> Result<Self, Failure> {
        let key = parse_request_id(request_id).map_err(|v| Failure::InvalidArgument(vec![v]))?;
        Ok(Self {
            scope: actor.scope(),
            method,
            key,
            fingerprint: fingerprint(method, request),
        })
    }
}

/// Validates a `request_id`.
pub fn parse_request_id(raw: &str) -> Result<String, FieldViolation> {
    // Not trimmed: the key is exactly what the fingerprinted request carries.
    let trimmed = raw;
    if trimmed.is_empty() {
        return Err(FieldViolation::new(
            "request_id",
            "required: an idempotency key for this mutation",
        ));
    }
    if trimmed.len() > MAX_KEY_LEN || !trimmed.chars().all(|c| c.is_ascii_graphic()) {
        return Err(FieldViolation::new(
            "request_id",
            "must be 1 to 128 printable ASCII characters",
        ));
    }
    Ok(trimmed.to_string())
}

/// SHA-256 of the method and the encoded request.
pub fn fingerprint<M: prost::Message>(method: &str, request: &M) -> Vec<u8> {
    let mut hasher = Sha256::new();
    hasher.update(method.as_bytes());
    hasher.update([0]);
    hasher.update(request.encode_to_vec());
    hasher.finalize().to_vec()
}

/// The refusal for a key used before with a different request.
pub fn key_reused() -> Failure {
    Failure::precondition(
        "IDEMPOTENCY_KEY_REUSED",
        "this idempotency key was used before with a different request",
    )
}

/// The fingerprint of a key closed by [`abort`]: no SHA-256 fingerprint is this short, so
/// no request ever matches it.
pub const ABORTED: &[u8] = b"ABORTED";

/// The refusal for a request whose stored fingerprint differs from its own: the key was
/// aborted (a saga compensated the step before this call arrived), or reused.
pub fn refusal_for(stored_fingerprint: &[u8]) -> Failure {
    if stored_fingerprint == ABORTED {
        Failure::precondition(
            "REQUEST_ABORTED",
            "this request's step was compensated before it arrived; it is refused for good",
        )
    } else {
        key_reused()
    }
}

/// An `AbortStep` request, checked: a service (or an operator) closes one of its own keys of
/// one of `methods` (the service's saga steps). Returns the scope and the key.
pub fn abort_target(
    actor: &Actor,
    methods: &[&str],
    method: &str,
    request_id: &str,
) -> Result<(String, String), Failure> {
    actor.ensure_operator()?;
    if !methods.contains(&method) {
        return Err(Failure::invalid(
            "method",
            format!("must be one of {}", methods.join(", ")),
        ));
    }
    let key = parse_request_id(request_id).map_err(|v| Failure::InvalidArgument(vec![v]))?;
    Ok((actor.scope(), key))
}

/// What [`abort`] found under a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abort {
    /// A request with the key was applied: the step happened after all.
    Applied,
    /// The key is closed: a request arriving with it later is refused (`REQUEST_ABORTED`).
    Barred,
}

/// The saga barrier: closes `key` of `method` in `scope` to any request not applied yet, so
/// a call still in flight when its step is compensated can never apply afterwards. A request
/// holding the key in an open transaction is waited for; then the key is either applied
/// (its response is stored) or barred.
pub async fn abort(
    pool: &sqlx::PgPool,
    table: &'static str,
    scope: &str,
    method: &str,
    key: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Abort, sqlx::Error> {
    let bar = format!(
        "INSERT INTO {table} (scope, method, key, fingerprint, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
    );
    let barred = sqlx::query(sqlx::AssertSqlSafe(bar))
        .bind(scope)
        .bind(method)
        .bind(key)
        .bind(ABORTED)
        .bind(now)
        .execute(pool)
        .await?
        .rows_affected()
        == 1;
    if barred {
        return Ok(Abort::Barred);
    }
    let read = format!(
        "SELECT fingerprint, response FROM {table} WHERE scope = $1 AND method = $2 AND key = $3"
    );
    let (fingerprint, response): (Vec<u8>, Option<Vec<u8>>) =
        sqlx::query_as(sqlx::AssertSqlSafe(read))
            .bind(scope)
            .bind(method)
            .bind(key)
            .fetch_one(pool)
            .await?;
    Ok(if fingerprint != ABORTED && response.is_some() {
        Abort::Applied
    } else {
        Abort::Barred
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x2_fingerprint_differs_when_the_request_differs() {
        let a = prost_types::Timestamp {
            seconds: 1,
            nanos: 0,
        };
        let b = prost_types::Timestamp {
            seconds: 2,
            nanos: 0,
        };
        assert_eq!(fingerprint("m", &a), fingerprint("m", &a));
        assert_ne!(fingerprint("m", &a), fingerprint("m", &b));
        assert_ne!(fingerprint("m", &a), fingerprint("n", &a));
    }

    #[test]
    fn x2_request_id_is_required_and_bounded() {
        assert!(parse_request_id("").is_err());
        assert!(parse_request_id(&"k".repeat(129)).is_err());
        assert!(parse_request_id(" abc ").is_err());
        assert_eq!(parse_request_id("abc").ok().as_deref(), Some("abc"));
    }
}

/// Why a stored response cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum Replay {
    #[error("idempotency key reused with a different request")]
    KeyReused,
    #[error("the request's step was compensated before it arrived")]
    Aborted,
    #[error("stored idempotent response is missing")]
    Missing,
    #[error("stored idempotent response cannot be decoded: {0}")]
    Corrupt(prost::DecodeError),
}

impl Replay {
    /// The client's answer: a reused key is theirs to fix; the rest is ours.
    pub fn failure(&self) -> Failure {
        match self {
            Replay::KeyReused => key_reused(),
            Replay::Aborted => refusal_for(ABORTED),
            Replay::Missing | Replay::Corrupt(_) => {
                tracing::error!(error = %self, "internal error");
                Failure::Internal
            }
        }
    }
}

/// The response stored under `key`, if a request with it has completed: read before any
/// check of current state, so a retry after a lost response gets the first answer even when
/// state has moved since. [`Replay::KeyReused`] when the key came with another request.
/// A key claimed by a request still running reads as `None`; [`run`] then waits on it.
pub async fn stored<T, E>(
    pool: &sqlx::PgPool,
    table: &'static str,
    key: &IdempotencyKey,
) -> Result<Option<T>, E>
where
    T: prost::Message + Default,
    E: From<sqlx::Error> + From<Replay>,
{
    let read = format!(
        "SELECT fingerprint, response FROM {table} WHERE scope = $1 AND method = $2 AND key = $3"
    );
    let row: Option<(Vec<u8>, Option<Vec<u8>>)> = sqlx::query_as(sqlx::AssertSqlSafe(read))
        .bind(&key.scope)
        .bind(key.method)
        .bind(&key.key)
        .fetch_optional(pool)
        .await?;
    match row {
        Some((fingerprint, _)) if fingerprint == ABORTED => Err(Replay::Aborted.into()),
        Some((fingerprint, _)) if fingerprint != key.fingerprint => Err(Replay::KeyReused.into()),
        None | Some((_, None)) => Ok(None),
        Some((_, Some(response))) => T::decode(response.as_slice())
            .map(Some)
            .map_err(|e| Replay::Corrupt(e).into()),
    }
}

/// Runs `effect` in a transaction unless `key` was seen: then returns the stored response,
/// or [`Replay::KeyReused`] when the request differs. The key is claimed first in the
/// transaction (a concurrent duplicate waits on the row, then sees the stored response); the
/// response is stored with the effect; a refusal rolls back and stores nothing. A deadlock or
/// serialization failure (`transient`) reruns the whole transaction a bounded number of times.
///
/// `table` is the service's own `<schema>.idempotency_keys`: each service keeps its keys in
/// its schema, so the SQL here is the one place the three share.
pub async fn run<T, E, F>(
    pool: &sqlx::PgPool,
    table: &'static str,
    key: &IdempotencyKey,
    now: chrono::DateTime<chrono::Utc>,
    transient: impl Fn(&E) -> bool,
    effect: F,
) -> Result<T, E>
where
    T: prost::Message + Default,
    E: From<sqlx::Error> + From<Replay>,
    F: AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, E> + Clone,
{
    crate::db::retry_transient(key.method, transient, || {
        run_once(pool, table, key, now, effect.clone())
    })
    .await
}

async fn run_once<T, E, F>(
    pool: &sqlx::PgPool,
    table: &'static str,
    key: &IdempotencyKey,
    now: chrono::DateTime<chrono::Utc>,
    effect: F,
) -> Result<T, E>
where
    T: prost::Message + Default,
    E: From<sqlx::Error> + From<Replay>,
    F: AsyncFnOnce(&mut sqlx::PgConnection) -> Result<T, E>,
{
    let mut tx = pool.begin().await?;
    let claim = format!(
        "INSERT INTO {table} (scope, method, key, fingerprint, created_at)
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING"
    );
    let claimed = sqlx::query(sqlx::AssertSqlSafe(claim))
        .bind(&key.scope)
        .bind(key.method)
        .bind(&key.key)
        .bind(&key.fingerprint)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    if !claimed {
        let read = format!(
            "SELECT fingerprint, response FROM {table} WHERE scope = $1 AND method = $2 AND key = $3"
        );
        let (fingerprint, response): (Vec<u8>, Option<Vec<u8>>) =
            sqlx::query_as(sqlx::AssertSqlSafe(read))
                .bind(&key.scope)
                .bind(key.method)
                .bind(&key.key)
                .fetch_one(&mut *tx)
                .await?;
        if fingerprint == ABORTED {
            return Err(Replay::Aborted.into());
        }
        if fingerprint != key.fingerprint {
            return Err(Replay::KeyReused.into());
        }
        let response = response.ok_or(Replay::Missing)?;
        return T::decode(response.as_slice()).map_err(|e| Replay::Corrupt(e).into());
    }
    let response = effect(&mut tx).await?;
    let store =
        format!("UPDATE {table} SET response = $4 WHERE scope = $1 AND method = $2 AND key = $3");
    sqlx::query(sqlx::AssertSqlSafe(store))
        .bind(&key.scope)
        .bind(key.method)
        .bind(&key.key)
        .bind(response.encode_to_vec())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(response)
}

/// Keys are kept at least this long (a client may retry a lost response for a day, as
/// Stripe's are kept), then pruned.
pub const KEY_RETENTION: chrono::Duration = chrono::Duration::hours(48);

/// Deletes `table`'s idempotency keys older than [`KEY_RETENTION`] before `now`, in batches
/// of `batch` rows, each its own statement, so pruning never holds a long lock. Returns how
/// many were deleted.
pub async fn prune(
    pool: &sqlx::PgPool,
    table: &'static str,
    now: chrono::DateTime<chrono::Utc>,
    batch: i64,
) -> Result<u64, sqlx::Error> {
    crate::db::delete_in_batches(pool, table, "created_at", now - KEY_RETENTION, batch).await
}

/// Prunes `table`'s keys every hour for as long as the service runs (for services without a
/// sweep of their own).
pub async fn prune_hourly(
    pool: sqlx::PgPool,
    table: &'static str,
    clock: crate::clock::SharedClock,
) {
    let mut tick = crate::clock::Ticker::new(table, &clock, std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match prune(&pool, table, clock.now(), 1_000).await {
            Ok(0) => {}
            Ok(keys) => tracing::info!(keys, table, "pruned idempotency keys past retention"),
            Err(error) => tracing::warn!(error = %error, table, "pruning idempotency keys failed"),
        }
    }
}
