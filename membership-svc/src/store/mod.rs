//! sqlx: the only place with SQL. Every statement names the `membership` schema, and no
//! statement touches another service's schema.

pub(crate) mod cards;
pub(crate) mod cart;
pub(crate) mod holds;
pub(crate) mod idempotency;
pub(crate) mod ledger;
pub(crate) mod levels;
pub(crate) mod members;
pub(crate) mod orders;
pub(crate) mod outbox;
pub(crate) mod programs;
pub(crate) mod retention;
pub(crate) mod shops;
pub(crate) mod sms;

use sqlx::PgPool;

/// The service's handle on its database.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    pub pool: PgPool,
}

impl Store {
    pub(crate) fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}
