//! run a mutation at most once per idempotency key, with the keys kept in this
//! service's schema (the shared logic is `memberhub_kit::idempotency::run`).

use memberhub_kit::idempotency::IdempotencyKey;
use sqlx::PgConnection;

use super::Store;
use crate::error::Error;

impl Store {
    /// Runs `effect` in a transaction unless `key` was seen: then returns the stored
    /// response, or `IDEMPOTENCY_KEY_REUSED` when the request differs.
    #[tracing::instrument(skip_all, fields(method = key.method))]
    pub(crate) async fn idempotent<T, F>(
        &self,
        key: &IdempotencyKey,
        now: chrono::DateTime<chrono::Utc>,
        effect: F,
    ) -> Result<T, Error>
    where
        T: prost::Message + Default,
        F: AsyncFnOnce(&mut PgConnection) -> Result<T, Error> + Clone,
    {
        let transient =
            |e: &Error| matches!(e, Error::Database(d) if memberhub_kit::db::is_transient(d));
        memberhub_kit::idempotency::run(
            &self.pool,
            "coupon.idempotency_keys",
            key,
            now,
            transient,
            effect,
        )
        .await
    }

    /// The stored answer to `key`, if a request with it was applied (X-2: read before any
    /// state check, so a retry after a lost response gets it even when state has moved).
    pub(crate) async fn stored<T>(&self, key: &IdempotencyKey) -> Result<Option<T>, Error>
    where
        T: prost::Message + Default,
    {
        memberhub_kit::idempotency::stored(&self.pool, "coupon.idempotency_keys", key).await
    }

    /// The saga barrier (`AbortStep`): closes `key` of `method` in `scope` to requests not
    /// applied yet; whether one was applied.
    pub(crate) async fn abort(
        &self,
        scope: &str,
        method: &str,
        key: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<memberhub_kit::idempotency::Abort, Error> {
        Ok(memberhub_kit::idempotency::abort(
            &self.pool,
            "coupon.idempotency_keys",
            scope,
            method,
            key,
            now,
        )
        .await?)
    }
}
