//! The operators' shapes: shop search and changes (MP-1) and the events the campaign
//! consumer parked.

use memberhub_proto::{campaign as campaign_pb, common as pbc, membership as pb};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Shop, ShopType, timestamp};
use crate::error::ApiError;
use crate::query::{self, FieldCheck};

/// MP-1: the search over the platform's shops. Shops are not grouped into brands yet, so
/// there is no brand filter.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ShopQuery {
    /// Only shops whose name contains this text (case-insensitive).
    // membership-svc `shop::MAX_SHOP_NAME_CHARS`.
    #[param(max_length = 30, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub name: Option<String>,
    #[serde(rename = "type")]
    #[param(value_type = Option<ShopType>)]
    pub shop_type: Option<String>,
    /// Created at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub create_time_from: Option<String>,
    /// Created before this RFC 3339 time.
    #[param(format = DateTime)]
    pub create_time_to: Option<String>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl ShopQuery {
    /// The ListShops request, or INVALID_ARGUMENT naming every bad filter.
    pub(crate) fn into_request(self) -> Result<pb::ListShopsRequest, ApiError> {
        let mut check = FieldCheck::default();
        let shop_type = check.take(query::enum_name::<ShopType>(
            "type",
            self.shop_type.as_deref(),
        ));
        let create_time_from = check.take(query::timestamp(
            "create_time_from",
            self.create_time_from.as_deref(),
        ));
        let create_time_to = check.take(query::timestamp(
            "create_time_to",
            self.create_time_to.as_deref(),
        ));
        let page_size = check.take(query::integer("page_size", self.page_size.as_deref()));
        check.finish(pb::ListShopsRequest {
            page_size: page_size.unwrap_or_default(),
            page_token: self.page_token.unwrap_or_default(),
            name_contains: self.name.unwrap_or_default(),
            r#type: shop_type
                .map_or(pbc::ShopType::Unspecified, Into::into)
                .into(),
            create_time_from,
            create_time_to,
        })
    }
}

/// MP-1: one page of shops, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ShopPage {
    pub shops: Vec<Shop>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<pb::ListShopsResponse> for ShopPage {
    fn from(r: pb::ListShopsResponse) -> Self {
        Self {
            shops: r.shops.into_iter().map(Shop::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// MP-1: the fields to change; an absent field stays as it is (at least one is required).
/// `type` changes only while the shop has no member and has not activated the SMS service
/// (400 `SHOP_TYPE_LOCKED`).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub(crate) struct UpdateShop {
    // membership-svc `shop::MAX_SHOP_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 30,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: Option<String>,
    /// An absolute http(s) URL.
    // membership-svc `text::image_url` (2048 bytes).
    #[schema(
        max_length = 2048,
        pattern = r"^https?://[^/?#\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub logo_url: Option<String>,
    /// IANA zone such as `Asia/Shanghai` (empty restores that default).
    pub time_zone: Option<String>,
    #[serde(rename = "type")]
    pub shop_type: Option<ShopType>,
    pub gift_items: Option<bool>,
}

impl UpdateShop {
    /// The UpdateShop request whose mask names the fields present; INVALID_ARGUMENT on
    /// `body` when none is.
    pub(crate) fn into_request(
        self,
        request_id: String,
        shop_id: String,
    ) -> Result<pb::UpdateShopRequest, ApiError> {
        let mut paths = Vec::new();
        let mut shop = pb::Shop {
            shop_id,
            ..Default::default()
        };
        if let Some(name) = self.name {
            shop.name = name;
            paths.push("name".to_string());
        }
        if let Some(logo_url) = self.logo_url {
            shop.logo_url = logo_url;
            paths.push("logo_url".to_string());
        }
        if let Some(time_zone) = self.time_zone {
            shop.time_zone = time_zone;
            paths.push("time_zone".to_string());
        }
        if let Some(shop_type) = self.shop_type {
            shop.r#type = pbc::ShopType::from(shop_type).into();
            paths.push("type".to_string());
        }
        if let Some(gift_items) = self.gift_items {
            shop.gift_items = gift_items;
            paths.push("gift_items".to_string());
        }
        if paths.is_empty() {
            return Err(ApiError::invalid_field(
                "body",
                "must set at least one of name, logo_url, time_zone, type, gift_items",
            ));
        }
        Ok(pb::UpdateShopRequest {
            request_id,
            shop: Some(shop),
            update_mask: Some(prost_types::FieldMask { paths }),
        })
    }
}

/// A membership-svc event the campaign consumer could not read, and why.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ParkedEvent {
    /// The event's cursor in membership-svc's feed.
    pub cursor: String,
    /// The event's type as membership-svc named it (e.g. `EVENT_TYPE_CARD_OPENED`).
    pub event_type: String,
    pub shop_id: String,
    pub reason: String,
    pub park_time: Option<String>,
}

/// SP-2: a shop's size as the platform judges it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ShopStatistics {
    pub shop_id: String,
    /// Active members now.
    pub member_count: i64,
    /// Receipt-confirmed sales net of refunds over the 365 days before `as_of_time`.
    pub sales_fen: i64,
    pub as_of_time: Option<String>,
}

impl From<pb::ShopStatistics> for ShopStatistics {
    fn from(s: pb::ShopStatistics) -> Self {
        Self {
            shop_id: s.shop_id,
            member_count: s.member_count,
            sales_fen: s.sales_fen,
            as_of_time: timestamp(s.as_of_time),
        }
    }
}

/// Parked events, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ParkedEventPage {
    pub parked_events: Vec<ParkedEvent>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<campaign_pb::ListParkedEventsResponse> for ParkedEventPage {
    fn from(r: campaign_pb::ListParkedEventsResponse) -> Self {
        Self {
            parked_events: r
                .parked_events
                .into_iter()
                .map(|e| ParkedEvent {
                    cursor: e.cursor,
                    event_type: e.event_type,
                    shop_id: e.shop_id,
                    reason: e.reason,
                    park_time: timestamp(e.park_time),
                })
                .collect(),
            next_page_token: r.next_page_token,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp1_the_update_mask_names_the_fields_present() {
        let body: UpdateShop =
            serde_json::from_value(serde_json::json!({"name": "N", "type": "SELF_OPERATED"}))
                .unwrap_or_default();
        let request = body.into_request("k".into(), "s".into()).ok();
        assert_eq!(
            request
                .as_ref()
                .and_then(|r| r.update_mask.clone())
                .map(|m| m.paths)
                .unwrap_or_default(),
            ["name", "type"]
        );
        let shop = request.and_then(|r| r.shop).unwrap_or_default();
        assert_eq!(shop.r#type(), pbc::ShopType::SelfOperated);
        assert_eq!(shop.name, "N");
        let empty = UpdateShop::default().into_request("k".into(), "s".into());
        assert_eq!(
            empty
                .err()
                .map(|e| e.body.field_violations[0].field.clone()),
            Some("body".to_string())
        );
    }

    #[test]
    fn mp1_bad_shop_filters_are_named() {
        let query = ShopQuery {
            shop_type: Some("MARKET".into()),
            create_time_from: Some("yesterday".into()),
            ..Default::default()
        };
        let fields: Vec<String> = query
            .into_request()
            .err()
            .map(|e| {
                e.body
                    .field_violations
                    .into_iter()
                    .map(|v| v.field)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["type", "create_time_from"]);
    }
}
