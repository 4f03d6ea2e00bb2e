//! MP-1: shops.

use chrono::{DateTime, Utc};
use memberhub_kit::error::{Failure, Violations};

use super::ids::ShopId;
use super::text;
use memberhub_kit::input;

/// The longest shop name, in characters.
pub const MAX_SHOP_NAME_CHARS: usize = 30;

/// the default shop time zone.
pub const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopType {
    Pop,
    SelfOperated,
}

impl ShopType {
    pub fn as_db(self) -> &'static str {
        match self {
            ShopType::Pop => "POP",
            ShopType::SelfOperated => "SELF_OPERATED",
        }
    }

    pub fn from_db(raw: &str) -> Option<Self> {
        match raw {
            "POP" => Some(ShopType::Pop),
            "SELF_OPERATED" => Some(ShopType::SelfOperated),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shop {
    pub id: ShopId,
    pub name: String,
    pub shop_type: ShopType,
    pub logo_url: String,
    pub time_zone: String,
    pub gift_items: bool,
    pub created_at: DateTime<Utc>,
}

/// A validated request to register a shop.
#[derive(Debug, Clone)]
pub struct NewShop {
    pub name: String,
    pub shop_type: ShopType,
    pub logo_url: String,
    pub time_zone: String,
    pub gift_items: bool,
}

impl NewShop {
    /// Validates every field, reporting all violations at once.
    pub fn parse(
        name: &str,
        shop_type: Option<ShopType>,
        logo_url: &str,
        time_zone: &str,
        gift_items: bool,
    ) -> Result<Self, Failure> {
        let mut violations = Violations::new();
        let name = violations.check(input::text("name", name, MAX_SHOP_NAME_CHARS));
        if shop_type.is_none() {
            violations.add("type", "must be SHOP_TYPE_POP or SHOP_TYPE_SELF_OPERATED");
        }
        let logo_url = violations.check(text::image_url("logo_url", logo_url));
        let time_zone = if time_zone.trim().is_empty() {
            DEFAULT_TIME_ZONE
        } else {
            time_zone.trim()
        };
        if time_zone.parse::<chrono_tz::Tz>().is_err() {
            violations.add(
                "time_zone",
                "must be an IANA time zone such as Asia/Shanghai",
            );
        }
        violations.finish()?;
        match (name, shop_type, logo_url) {
            (Some(name), Some(shop_type), Some(logo_url)) => Ok(Self {
                name,
                shop_type,
                logo_url,
                time_zone: time_zone.to_string(),
                gift_items,
            }),
            // finish() returned Ok, so every check above passed.
            _ => Err(Failure::Internal),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp1_a_shop_defaults_to_the_shanghai_time_zone() {
        let shop = NewShop::parse("Shop", Some(ShopType::Pop), "https://x/logo.png", "", false);
        assert_eq!(
            shop.map(|s| s.time_zone).ok().as_deref(),
            Some(DEFAULT_TIME_ZONE)
        );
    }

    #[test]
    fn mp1_every_bad_field_is_reported_together() {
        let err = NewShop::parse("", None, "nope", "Mars/Base", false);
        let Err(Failure::InvalidArgument(violations)) = err else {
            panic!("expected invalid argument")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["name", "type", "logo_url", "time_zone"]);
    }
}
