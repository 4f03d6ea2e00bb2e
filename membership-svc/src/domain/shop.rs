//! MP-1: shops.

use chrono::{DateTime, Utc};
use memberhub_kit::error::{Failure, FieldViolation, Violations};

use super::ids::ShopId;
use super::text;
use memberhub_kit::input;

/// The longest shop name, in characters.
pub const MAX_SHOP_NAME_CHARS: usize = 30;

/// the default shop time zone.
pub(crate) const DEFAULT_TIME_ZONE: &str = "Asia/Shanghai";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShopType {
    Pop,
    SelfOperated,
}

memberhub_kit::db_enum!(pub ShopType { Pop => "POP", SelfOperated => "SELF_OPERATED" });

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shop {
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
pub(crate) struct NewShop {
    pub name: String,
    pub shop_type: ShopType,
    pub logo_url: String,
    pub time_zone: String,
    pub gift_items: bool,
}

impl NewShop {
    /// Validates every field, reporting all violations at once.
    pub(crate) fn parse(
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
        let time_zone = violations.check(parse_time_zone("time_zone", time_zone));
        violations.finish()?;
        match (name, shop_type, logo_url, time_zone) {
            (Some(name), Some(shop_type), Some(logo_url), Some(time_zone)) => Ok(Self {
                name,
                shop_type,
                logo_url,
                time_zone,
                gift_items,
            }),
            // finish() returned Ok, so every check above passed.
            _ => Err(Failure::Internal),
        }
    }
}

/// an IANA time zone; empty means [`DEFAULT_TIME_ZONE`].
fn parse_time_zone(field: &str, raw: &str) -> Result<String, FieldViolation> {
    let zone = match raw.trim() {
        "" => DEFAULT_TIME_ZONE,
        zone => zone,
    };
    zone.parse::<chrono_tz::Tz>()
        .map(|_| zone.to_string())
        .map_err(|_| FieldViolation::new(field, "must be an IANA time zone such as Asia/Shanghai"))
}

/// The fields an operator may change on a shop. What a `None` names stays as it is.
///
/// The type decides rules applied when things are created (MP-4's SMS verification is for
/// `POP` shops only; CP-9's approval is chosen when a coupon batch is created), so it may
/// change only before the shop is in business: while it has no member and has not
/// activated the SMS service (checked by the store under the shop's row lock). A new time
/// zone applies to every day and year boundary computed from then on, PT-5's expiry
/// included.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ShopChanges {
    pub name: Option<String>,
    pub logo_url: Option<String>,
    pub time_zone: Option<String>,
    pub shop_type: Option<ShopType>,
    pub gift_items: Option<bool>,
}

/// The new values as sent; [`ShopChanges::parse`] keeps those the mask names.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ShopValues<'a> {
    pub name: &'a str,
    pub logo_url: &'a str,
    pub time_zone: &'a str,
    pub shop_type: Option<ShopType>,
    pub gift_items: bool,
}

impl ShopChanges {
    /// The fields `mask` names (AIP-134 paths, prefixed `shop.` in violations), each
    /// validated as at registration; an empty mask or an unknown path is INVALID_ARGUMENT
    /// on `update_mask`.
    pub(crate) fn parse(values: ShopValues<'_>, mask: &[String]) -> Result<Self, Failure> {
        let mut violations = Violations::new();
        let mut changes = Self::default();
        if mask.is_empty() {
            violations.add(
                "update_mask",
                "must name at least one of name, logo_url, time_zone, type, gift_items",
            );
        }
        for path in mask {
            match path.trim() {
                "name" => {
                    changes.name = violations.check(input::text(
                        "shop.name",
                        values.name,
                        MAX_SHOP_NAME_CHARS,
                    ));
                }
                "logo_url" => {
                    changes.logo_url =
                        violations.check(text::image_url("shop.logo_url", values.logo_url));
                }
                "time_zone" => {
                    changes.time_zone =
                        violations.check(parse_time_zone("shop.time_zone", values.time_zone));
                }
                "type" => match values.shop_type {
                    Some(shop_type) => changes.shop_type = Some(shop_type),
                    None => violations.add(
                        "shop.type",
                        "must be SHOP_TYPE_POP or SHOP_TYPE_SELF_OPERATED",
                    ),
                },
                "gift_items" => changes.gift_items = Some(values.gift_items),
                other => violations.add(
                    "update_mask",
                    format!(
                        "{other:?} is not updatable: name, logo_url, time_zone, type, gift_items"
                    ),
                ),
            }
        }
        violations.finish()?;
        Ok(changes)
    }

    /// `shop` with the changes applied.
    pub(crate) fn apply(&self, mut shop: Shop) -> Shop {
        if let Some(name) = &self.name {
            shop.name.clone_from(name);
        }
        if let Some(logo_url) = &self.logo_url {
            shop.logo_url.clone_from(logo_url);
        }
        if let Some(time_zone) = &self.time_zone {
            shop.time_zone.clone_from(time_zone);
        }
        if let Some(shop_type) = self.shop_type {
            shop.shop_type = shop_type;
        }
        if let Some(gift_items) = self.gift_items {
            shop.gift_items = gift_items;
        }
        shop
    }
}

/// Operators' search over shops (MP-1); every `None` matches any shop.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShopFilter {
    /// Case-insensitive substring of the name.
    pub name_contains: Option<String>,
    pub shop_type: Option<ShopType>,
    /// Created at or after.
    pub created_from: Option<DateTime<Utc>>,
    /// Created before.
    pub created_to: Option<DateTime<Utc>>,
}

/// Where the next page of shops starts: after this (created, id) in newest-first order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShopPageToken {
    pub created_at: DateTime<Utc>,
    pub shop_id: ShopId,
}

impl ShopPageToken {
    /// The token of the page after `shop`.
    pub(crate) fn after(shop: &Shop) -> Self {
        Self {
            created_at: shop.created_at,
            shop_id: shop.id,
        }
    }

    pub(crate) fn encode(&self) -> String {
        format!(
            "{}|{}",
            self.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            self.shop_id
        )
    }

    /// A token this list returned; anything else is INVALID_ARGUMENT on `page_token`.
    pub(crate) fn parse(raw: &str) -> Result<Option<Self>, FieldViolation> {
        if raw.is_empty() {
            return Ok(None);
        }
        let bad =
            || FieldViolation::new("page_token", "must be a page token returned by this list");
        let (at, id) = raw.split_once('|').ok_or_else(bad)?;
        let created_at = DateTime::parse_from_rfc3339(at).map_err(|_| bad())?;
        let shop_id = ShopId::parse("page_token", id).map_err(|_| bad())?;
        Ok(Some(Self {
            created_at: created_at.to_utc(),
            shop_id,
        }))
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

#[cfg(test)]
mod change_tests {
    use super::*;

    fn values() -> ShopValues<'static> {
        ShopValues {
            name: "New name",
            logo_url: "https://img.example.com/new.png",
            time_zone: "Europe/Berlin",
            shop_type: None,
            gift_items: true,
        }
    }

    #[test]
    fn mp1_only_the_masked_fields_change() -> Result<(), Failure> {
        let changes = ShopChanges::parse(values(), &["name".into(), "gift_items".into()])?;
        assert_eq!(
            changes,
            ShopChanges {
                name: Some("New name".into()),
                gift_items: Some(true),
                ..ShopChanges::default()
            }
        );
        Ok(())
    }

    #[test]
    fn mp1_an_empty_or_unknown_mask_and_bad_values_name_their_fields() {
        let bad = ShopValues {
            name: " ",
            time_zone: "Mars/Base",
            ..values()
        };
        let mask: Vec<String> = ["name", "time_zone", "type", "created_at"]
            .map(String::from)
            .to_vec();
        let Err(Failure::InvalidArgument(violations)) = ShopChanges::parse(bad, &mask) else {
            panic!("expected invalid argument")
        };
        let fields: Vec<_> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            ["shop.name", "shop.time_zone", "shop.type", "update_mask"]
        );
        let Err(Failure::InvalidArgument(violations)) = ShopChanges::parse(values(), &[]) else {
            panic!("expected invalid argument")
        };
        assert_eq!(violations[0].field, "update_mask");
    }

    #[test]
    fn mp1_page_tokens_round_trip_and_garbage_names_the_field() {
        let token = ShopPageToken {
            created_at: DateTime::from_timestamp(1_748_736_000, 123_000).unwrap_or_default(),
            shop_id: ShopId::new(),
        };
        assert_eq!(
            ShopPageToken::parse(&token.encode()).ok(),
            Some(Some(token))
        );
        assert_eq!(ShopPageToken::parse("").ok(), Some(None));
        assert_eq!(
            ShopPageToken::parse("yesterday|x").err().map(|v| v.field),
            Some("page_token".to_string())
        );
    }
}
