//! The JSON shapes of the HTTP API, converted from the services' protobuf messages.
//! Enums travel as their short names (`POP`, `ORDER_OR_CARD` ...).

use memberhub_proto::{common as pbc, membership as pb};
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
pub enum ShopType {
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

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JoinPolicy {
    Order,
    Card,
    OrderOrCard,
    OrderAndCard,
}

impl From<JoinPolicy> for pb::JoinPolicy {
    fn from(p: JoinPolicy) -> Self {
        match p {
            JoinPolicy::Order => pb::JoinPolicy::Order,
            JoinPolicy::Card => pb::JoinPolicy::Card,
            JoinPolicy::OrderOrCard => pb::JoinPolicy::OrderOrCard,
            JoinPolicy::OrderAndCard => pb::JoinPolicy::OrderAndCard,
        }
    }
}

/// A registered shop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Shop {
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

impl From<pb::Shop> for Shop {
    fn from(s: pb::Shop) -> Self {
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LevelCardImage {
    pub level: i32,
    pub image_url: String,
}

/// MP-3: the card face.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardFace {
    pub card_name: String,
    pub logo_url: String,
    pub opening_image_url: String,
    pub level_images: Vec<LevelCardImage>,
}

impl From<pb::CardFace> for CardFace {
    fn from(f: pb::CardFace) -> Self {
        Self {
            card_name: f.card_name,
            logo_url: f.logo_url,
            opening_image_url: f.opening_image_url,
            level_images: f
                .level_images
                .into_iter()
                .map(|i| LevelCardImage {
                    level: i.level,
                    image_url: i.image_url,
                })
                .collect(),
        }
    }
}

/// A shop's membership program.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Program {
    pub shop_id: String,
    /// `ORDER`, `CARD`, `ORDER_OR_CARD` or `ORDER_AND_CARD`.
    pub join_policy: String,
    pub card_face: Option<CardFace>,
    pub join_terms: String,
    pub sms_service_active: bool,
    pub sms_verification_enabled: bool,
    pub update_time: Option<String>,
}

impl From<pb::Program> for Program {
    fn from(p: pb::Program) -> Self {
        Self {
            join_policy: short(p.join_policy().as_str_name(), "JOIN_POLICY_"),
            shop_id: p.shop_id,
            card_face: p.card_face.map(CardFace::from),
            join_terms: p.join_terms,
            sms_service_active: p.sms_service_active,
            sms_verification_enabled: p.sms_verification_enabled,
            update_time: timestamp(p.update_time),
        }
    }
}

/// MP-5: the storefront member center.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberCenter {
    pub shop_id: String,
    pub shop_name: String,
    pub card_face: Option<CardFace>,
    pub join_terms: String,
    pub is_member: bool,
    pub card_opened: bool,
    /// How to get the card: `OPEN_CARD`, `PLACE_ORDER`, `OPEN_CARD_AND_ORDER`, or `NONE`.
    pub join_route: String,
    pub phone_required: bool,
    pub sms_code_required: bool,
}

impl From<pb::MemberCenter> for MemberCenter {
    fn from(m: pb::MemberCenter) -> Self {
        Self {
            join_route: short(m.join_route().as_str_name(), "JOIN_ROUTE_"),
            shop_id: m.shop_id,
            shop_name: m.shop_name,
            card_face: m.card_face.map(CardFace::from),
            join_terms: m.join_terms,
            is_member: m.is_member,
            card_opened: m.card_opened,
            phone_required: m.phone_required,
            sms_code_required: m.sms_code_required,
        }
    }
}

// ------------------------------------------------------------------ request bodies

/// MP-1: register a shop.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct CreateShop {
    pub name: String,
    #[serde(rename = "type")]
    pub shop_type: ShopType,
    pub logo_url: String,
    /// IANA zone; default `Asia/Shanghai`.
    #[serde(default)]
    pub time_zone: String,
    #[serde(default)]
    pub gift_items: bool,
}

/// MP-2.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SetJoinPolicy {
    pub join_policy: JoinPolicy,
}

/// MP-3: fields left out stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct UpdateCardFace {
    pub card_name: Option<String>,
    pub logo_url: Option<String>,
    pub opening_image_url: Option<String>,
    /// An empty `image_url` restores the platform default for that level.
    #[serde(default)]
    pub level_images: Vec<LevelCardImage>,
}

/// MP-4.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct SetSmsVerification {
    pub enabled: bool,
}
