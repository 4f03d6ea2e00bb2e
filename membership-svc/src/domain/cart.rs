//! OR-1: add-to-cart events, as the commerce platform reports them.

use chrono::{DateTime, Utc};

use super::ids::{ShopId, UserId};

/// A shopper put `quantity` of `sku` in the cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CartEvent {
    pub shop_id: ShopId,
    /// The platform's id; a redelivery carries the same one.
    pub event_id: String,
    pub user_id: UserId,
    pub sku: String,
    /// Empty when the platform gave none.
    pub category: String,
    pub quantity: i64,
    pub occurred_at: DateTime<Utc>,
}

impl CartEvent {
    /// What makes two deliveries the same event.
    pub(crate) fn key(&self) -> (ShopId, &str) {
        (self.shop_id, self.event_id.as_str())
    }
}
