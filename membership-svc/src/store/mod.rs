//! sqlx: the only place with SQL. Every statement names the `membership` schema, and no
//! statement touches another service's schema.

pub mod cards;
pub mod cart;
pub mod holds;
pub mod idempotency;
pub mod ledger;
pub mod levels;
pub mod members;
pub mod orders;
pub mod outbox;
pub mod programs;
pub mod retention;
pub mod shops;
pub mod sms;

use sqlx::PgPool;

/// The service's handle on its database.
#[derive(Debug, Clone)]
pub struct Store {
    pub pool: PgPool,
}

impl Store {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}
