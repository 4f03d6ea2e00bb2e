//! sqlx: the only place with SQL. Every statement names the `membership` schema, and no
//! statement touches another service's schema.

pub mod idempotency;
pub mod programs;
pub mod shops;

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
