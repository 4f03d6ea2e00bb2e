//! sqlx: the only place with SQL. Every statement names the `campaign` schema, and no
//! statement touches another service's schema. Transactions live here.

pub(crate) mod claims;
pub(crate) mod entitlements;
pub(crate) mod events;
pub(crate) mod exclusives;
pub(crate) mod gift_pack_provisionings;
pub(crate) mod gift_packs;
pub(crate) mod idempotency;
pub(crate) mod items;
pub(crate) mod open_card_gifts;
pub(crate) mod sprint_awards;
pub(crate) mod sprint_plans;
pub(crate) mod sprint_registrations;
pub(crate) mod stats;

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
