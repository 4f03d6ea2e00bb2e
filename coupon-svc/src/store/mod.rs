//! sqlx: the only place with SQL. Every statement names the `coupon` schema, and no
//! statement touches another service's schema. Transactions live here.

pub(crate) mod allocations;
pub(crate) mod batches;
pub(crate) mod coupons;
pub(crate) mod idempotency;
pub(crate) mod issuing;
pub(crate) mod statistics;

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
