//! run a mutation at most once per idempotency key. The key is claimed first in the
//! transaction (a concurrent duplicate waits on the row, then sees the stored response);
//! the response is stored with the effect; a refusal rolls back and stores nothing. A
//! deadlock or serialization failure reruns the whole transaction a bounded number of times.

use memberhub_kit::idempotency::IdempotencyKey;
use sqlx::PgConnection;

use super::Store;
use crate::error::Error;

impl Store {
    /// Runs `effect` in a transaction unless `key` was seen: then returns the stored
    /// response, or `IDEMPOTENCY_KEY_REUSED` when the request differs.
    #[tracing::instrument(skip_all, fields(method = key.method))]
    pub async fn idempotent<T, F>(
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
        memberhub_kit::db::retry_transient(key.method, transient, || {
            self.idempotent_once(key, now, effect.clone())
        })
        .await
    }

    async fn idempotent_once<T, F>(
        &self,
        key: &IdempotencyKey,
        now: chrono::DateTime<chrono::Utc>,
        effect: F,
    ) -> Result<T, Error>
    where
        T: prost::Message + Default,
        F: AsyncFnOnce(&mut PgConnection) -> Result<T, Error>,
    {
        let mut tx = self.pool.begin().await?;
        let claimed = sqlx::query!(
            "INSERT INTO campaign.idempotency_keys (scope, method, key, fingerprint, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            key.scope,
            key.method,
            key.key,
            key.fingerprint,
            now,
        )
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            let stored = sqlx::query!(
                "SELECT fingerprint, response FROM campaign.idempotency_keys
                 WHERE scope = $1 AND method = $2 AND key = $3",
                key.scope,
                key.method,
                key.key,
            )
            .fetch_one(&mut *tx)
            .await?;
            if stored.fingerprint != key.fingerprint {
                return Err(Error::IdempotencyKeyReused);
            }
            let response = stored.response.ok_or(Error::StoredResponseMissing)?;
            return T::decode(response.as_slice()).map_err(Error::StoredResponseCorrupt);
        }
        let response = effect(&mut tx).await?;
        sqlx::query!(
            "UPDATE campaign.idempotency_keys SET response = $4
             WHERE scope = $1 AND method = $2 AND key = $3",
            key.scope,
            key.method,
            key.key,
            response.encode_to_vec(),
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(response)
    }
}
