//! sqlx: the only place with SQL. Every statement names the `coupon` schema, and no
//! statement touches another service's schema. Transactions live here.

pub mod allocations;
pub mod batches;
pub mod coupons;
pub mod idempotency;
pub mod issuing;
pub mod statistics;

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
