//! MB: memberships, channels and sources.

use memberhub_kit::clock::to_timestamp;
use memberhub_kit::error::FieldViolation;
use memberhub_kit::input;
use memberhub_proto::membership as pb;

use crate::domain::members::{JoinChannel, Member, MemberState, Source};

/// A caller-set join channel: `None` when unset; an unknown number is refused.
pub(crate) fn join_channel(field: &str, raw: i32) -> Result<Option<JoinChannel>, FieldViolation> {
    Ok(match input::enumeration(field, raw)? {
        pb::JoinChannel::Order => Some(JoinChannel::Order),
        pb::JoinChannel::Card => Some(JoinChannel::Card),
        pb::JoinChannel::Import => Some(JoinChannel::Import),
        pb::JoinChannel::Unspecified => None,
    })
}

fn join_channel_to_pb(c: JoinChannel) -> pb::JoinChannel {
    match c {
        JoinChannel::Order => pb::JoinChannel::Order,
        JoinChannel::Card => pb::JoinChannel::Card,
        JoinChannel::Import => pb::JoinChannel::Import,
    }
}

/// A caller-set member source: `None` when unset; an unknown number is refused.
pub(crate) fn source(field: &str, raw: i32) -> Result<Option<Source>, FieldViolation> {
    Ok(match input::enumeration(field, raw)? {
        pb::MemberSource::Storefront => Some(Source::Storefront),
        pb::MemberSource::OfflineStore => Some(Source::OfflineStore),
        pb::MemberSource::BrandMall => Some(Source::BrandMall),
        pb::MemberSource::Wechat => Some(Source::WeChat),
        pb::MemberSource::OtherMarketplace => Some(Source::OtherMarketplace),
        pb::MemberSource::Other => Some(Source::Other),
        pb::MemberSource::Unspecified => None,
    })
}

fn source_to_pb(s: Source) -> pb::MemberSource {
    match s {
        Source::Storefront => pb::MemberSource::Storefront,
        Source::OfflineStore => pb::MemberSource::OfflineStore,
        Source::BrandMall => pb::MemberSource::BrandMall,
        Source::WeChat => pb::MemberSource::Wechat,
        Source::OtherMarketplace => pb::MemberSource::OtherMarketplace,
        Source::Other => pb::MemberSource::Other,
    }
}

/// MB-1, MB-4: a membership as shown to anyone; the phone never leaves, only whether one
/// was given.
pub(crate) fn membership(m: &Member, points_balance: i64) -> pb::Membership {
    let state = match m.state {
        MemberState::None => pb::MembershipState::Unspecified,
        MemberState::Pending => pb::MembershipState::Pending,
        MemberState::Active => pb::MembershipState::Active,
        MemberState::Quit => pb::MembershipState::Quit,
    };
    pb::Membership {
        membership_id: m.membership_id.map(|id| id.to_string()).unwrap_or_default(),
        shop_id: m.shop_id.to_string(),
        user_id: m.user_id.as_str().to_string(),
        state: state.into(),
        join_channel: m
            .join_channel
            .map_or(pb::JoinChannel::Unspecified, join_channel_to_pb)
            .into(),
        source: m
            .source
            .map_or(pb::MemberSource::Unspecified, source_to_pb)
            .into(),
        join_time: m.joined_at.map(to_timestamp),
        first_join_time: m.first_joined_at.map(to_timestamp),
        card_open_time: m.card_opened_at.map(to_timestamp),
        level: m.level,
        total_spend_fen: m.total_spend_fen,
        order_count: m.order_count,
        points_balance,
        has_phone: m.phone_hash.is_some(),
        profile: Some(pb::MemberProfile {
            nickname: m.profile.nickname.clone(),
            gender: m.profile.gender.clone(),
            birthday: m.profile.birthday.clone(),
        }),
    }
}
