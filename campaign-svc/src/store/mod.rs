//! sqlx: the only place with SQL. Every statement names the `campaign` schema, and no
//! statement touches another service's schema. Transactions live here.

pub mod claims;
pub mod entitlements;
pub mod events;
pub mod exclusives;
pub mod gifts;
pub mod idempotency;
pub mod items;
pub mod pack_provisionings;
pub mod packs;
pub mod stats;

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
