//! The JSON shapes of the HTTP API, converted from the services' protobuf messages.
//! Enums travel as their short names (`POP`, `ORDER_OR_CARD` ...); times are RFC 3339 UTC;
//! money is integer fen (X-4, X-5).

mod campaign;
mod campaign_storefront;
mod ledger;
mod levels;
mod members;
mod orders;
mod platform;
mod program;
mod sandbox;
mod sprint_plans;

pub(crate) use campaign::*;
pub(crate) use campaign_storefront::*;
pub(crate) use ledger::*;
pub(crate) use levels::*;
pub(crate) use members::*;
pub(crate) use orders::*;
pub(crate) use platform::*;
pub(crate) use program::*;
pub(crate) use sandbox::*;
pub(crate) use sprint_plans::*;

use memberhub_proto::common as pbc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn timestamp(t: Option<prost_types::Timestamp>) -> Option<String> {
    t.and_then(|t| memberhub_kit::clock::from_timestamp(&t))
        .map(|t| t.to_rfc3339())
}

/// `SHOP_TYPE_POP` -> `POP`: strip the proto enum prefix.
fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ShopType {
    Pop,
    SelfOperated,
}

impl From<ShopType> for pbc::ShopType {
    fn from(t: ShopType) -> Self {
        match t {
            ShopType::Pop => pbc::ShopType::Pop,
            ShopType::SelfOperated => pbc::ShopType::SelfOperated,
        }
    }
}

/// A registered shop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Shop {
    pub shop_id: String,
    pub name: String,
    /// `POP` or `SELF_OPERATED`.
    #[serde(rename = "type")]
    pub shop_type: String,
    pub logo_url: String,
    pub time_zone: String,
    pub gift_items: bool,
    pub create_time: Option<String>,
}

impl From<memberhub_proto::membership::Shop> for Shop {
    fn from(s: memberhub_proto::membership::Shop) -> Self {
        Self {
            shop_type: short(s.r#type().as_str_name(), "SHOP_TYPE_"),
            shop_id: s.shop_id,
            name: s.name,
            logo_url: s.logo_url,
            time_zone: s.time_zone,
            gift_items: s.gift_items,
            create_time: timestamp(s.create_time),
        }
    }
}

/// MP-1: register a shop.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct CreateShop {
    // membership-svc `shop::MAX_SHOP_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 30,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    #[serde(rename = "type")]
    pub shop_type: ShopType,
    /// An absolute http(s) URL.
    // membership-svc `text::image_url` (2048 bytes).
    #[schema(
        max_length = 2048,
        pattern = r"^https?://[^/?#\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub logo_url: String,
    /// IANA zone such as `Asia/Shanghai` (the default when empty); membership-svc knows
    /// the list, which is too long to publish here.
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub gift_items: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Asserts that `variant` travels as its proto name without `prefix`.
    pub(super) fn assert_short_name<V: Serialize + std::fmt::Debug>(
        variant: V,
        proto_name: &str,
        prefix: &str,
    ) {
        let json = serde_json::to_value(&variant).ok();
        assert_eq!(
            json.as_ref().and_then(|v| v.as_str()),
            Some(short(proto_name, prefix).as_str()),
            "{variant:?} must travel as {proto_name} without {prefix}"
        );
    }

    #[test]
    fn shop_types_travel_as_short_proto_names() {
        for t in [ShopType::Pop, ShopType::SelfOperated] {
            assert_short_name(t, pbc::ShopType::from(t).as_str_name(), "SHOP_TYPE_");
        }
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let at = prost_types::Timestamp {
            seconds: 1_748_736_000,
            nanos: 0,
        };
        assert_eq!(
            timestamp(Some(at)).as_deref(),
            Some("2025-06-01T00:00:00+00:00")
        );
        assert_eq!(timestamp(None), None);
    }
}
