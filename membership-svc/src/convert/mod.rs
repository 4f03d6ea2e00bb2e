//! Domain values to protobuf messages (and enum decoding), so handlers stay recipes.

mod ledger;
mod levels;
mod members;
mod orders;

pub(crate) use ledger::*;
pub(crate) use levels::*;
pub(crate) use members::*;
pub(crate) use orders::*;

/// A timestamp from a request, within years 1..9999 (what Postgres and people can use).
pub(crate) fn api_time(t: &prost_types::Timestamp) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::Datelike;
    memberhub_kit::clock::from_timestamp(t).filter(|at| (1..=9999).contains(&at.year()))
}

use memberhub_kit::clock::to_timestamp;
use memberhub_proto::{common as pbc, membership as pb};

use crate::domain::program::{CardJoinHold, JoinPolicy, JoinRoute, Program};
use crate::domain::shop::{Shop, ShopType};

impl From<ShopType> for pbc::ShopType {
    fn from(t: ShopType) -> Self {
        match t {
            ShopType::Pop => pbc::ShopType::Pop,
            ShopType::SelfOperated => pbc::ShopType::SelfOperated,
        }
    }
}

pub(crate) fn shop_type(raw: i32) -> Option<ShopType> {
    match pbc::ShopType::try_from(raw).ok()? {
        pbc::ShopType::Pop => Some(ShopType::Pop),
        pbc::ShopType::SelfOperated => Some(ShopType::SelfOperated),
        pbc::ShopType::Unspecified => None,
    }
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

pub(crate) fn join_policy(raw: i32) -> Option<JoinPolicy> {
    match pb::JoinPolicy::try_from(raw).ok()? {
        pb::JoinPolicy::Order => Some(JoinPolicy::Order),
        pb::JoinPolicy::Card => Some(JoinPolicy::Card),
        pb::JoinPolicy::OrderOrCard => Some(JoinPolicy::OrderOrCard),
        pb::JoinPolicy::OrderAndCard => Some(JoinPolicy::OrderAndCard),
        pb::JoinPolicy::Unspecified => None,
    }
}

impl From<JoinRoute> for pb::JoinRoute {
    fn from(r: JoinRoute) -> Self {
        match r {
            JoinRoute::None => pb::JoinRoute::None,
            JoinRoute::OpenCard => pb::JoinRoute::OpenCard,
            JoinRoute::PlaceOrder => pb::JoinRoute::PlaceOrder,
            JoinRoute::OpenCardAndOrder => pb::JoinRoute::OpenCardAndOrder,
        }
    }
}

impl From<Shop> for pb::Shop {
    fn from(shop: Shop) -> Self {
        pb::Shop {
            shop_id: shop.id.to_string(),
            name: shop.name,
            r#type: pbc::ShopType::from(shop.shop_type).into(),
            logo_url: shop.logo_url,
            time_zone: shop.time_zone,
            gift_items: shop.gift_items,
            create_time: Some(to_timestamp(shop.created_at)),
        }
    }
}

fn card_face(program: &Program) -> pb::CardFace {
    let face = &program.card_face;
    pb::CardFace {
        card_name: face.card_name.clone(),
        logo_url: face.logo_url.clone(),
        opening_image_url: face.opening_image_url.clone(),
        level_images: face
            .level_images
            .iter()
            .map(|(level, url)| pb::LevelCardImage {
                level: *level,
                image_url: url.clone(),
            })
            .collect(),
    }
}

impl From<Program> for pb::Program {
    fn from(program: Program) -> Self {
        pb::Program {
            shop_id: program.shop_id.to_string(),
            join_policy: pb::JoinPolicy::from(program.join_policy).into(),
            card_face: Some(card_face(&program)),
            join_terms: crate::domain::program::JOIN_TERMS.to_string(),
            sms_service_active: program.sms_service_active,
            sms_verification_enabled: program.sms_verification_enabled,
            update_time: Some(to_timestamp(program.updated_at)),
            points_per_yuan: program.points_per_yuan,
            points_expiry_enabled: program.points_expiry_enabled,
            member_tab_position: program.member_tab_position,
            setup_warnings: setup_warnings(&program),
        }
    }
}

/// MP-6: what the merchant should still set up.
pub(crate) fn setup_warnings(program: &Program) -> Vec<pb::Warning> {
    if program.benefits_configured {
        return Vec::new();
    }
    crate::domain::levels::setup_warnings(&[])
        .into_iter()
        .map(pb::Warning::from)
        .collect()
}

/// MP-5: the member center for this shopper: the card and how to open it, plus, for a
/// member, their membership, level name and benefits.
pub(crate) fn member_center(
    program: &Program,
    member: Option<(&crate::domain::members::Member, i64)>,
    level: Option<(&str, &crate::domain::levels::Benefits)>,
) -> pb::MemberCenter {
    let card_opened = member.is_some_and(|(m, _)| m.card_opened_at.is_some());
    let is_member = member.is_some_and(|(m, _)| m.is_member());
    let route = if card_opened {
        JoinRoute::None
    } else {
        JoinRoute::for_policy(program.join_policy)
    };
    let can_open = !card_opened && program.join_policy.allows_card_opening();
    pb::MemberCenter {
        shop_id: program.shop_id.to_string(),
        shop_name: program.shop_name.clone(),
        card_face: Some(card_face(program)),
        join_terms: crate::domain::program::JOIN_TERMS.to_string(),
        is_member,
        card_opened,
        join_route: pb::JoinRoute::from(route).into(),
        phone_required: can_open,
        sms_code_required: can_open && program.sms_verification_enabled,
        membership: member
            .filter(|(m, _)| m.state != crate::domain::members::MemberState::None)
            .map(|(m, points)| membership(m, points)),
        level_name: level
            .filter(|_| is_member)
            .map(|(name, _)| name.to_string())
            .unwrap_or_default(),
        benefits: level
            .filter(|_| is_member)
            .map(|(_, b)| pb::LevelBenefits::from(b)),
        member_tab_position: program.member_tab_position,
    }
}

impl From<CardJoinHold> for pb::CardJoinHold {
    fn from(hold: CardJoinHold) -> Self {
        pb::CardJoinHold {
            shop_id: hold.shop_id.to_string(),
            holder: hold.holder,
            end_time: Some(to_timestamp(hold.end_time)),
            released: hold.released_at.is_some(),
        }
    }
}
