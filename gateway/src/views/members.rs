//! Members, card opening, fans and the member center (MB-1..MB-5, MP-5). No shape here
//! carries a phone number: merchants never see one (MB-4), and shoppers send theirs only.

use memberhub_proto::membership as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::levels::LevelBenefits;
use super::program::CardFace;
use super::{short, timestamp};
use crate::error::ApiError;
use crate::query::{self, FieldCheck};

/// MB-1: how a membership began.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum JoinChannel {
    Order,
    Card,
    Import,
}

impl From<JoinChannel> for pb::JoinChannel {
    fn from(c: JoinChannel) -> Self {
        match c {
            JoinChannel::Order => pb::JoinChannel::Order,
            JoinChannel::Card => pb::JoinChannel::Card,
            JoinChannel::Import => pb::JoinChannel::Import,
        }
    }
}

/// MB-1: where the member came from.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum MemberSource {
    Storefront,
    OfflineStore,
    BrandMall,
    Wechat,
    OtherMarketplace,
    Other,
}

impl From<MemberSource> for pb::MemberSource {
    fn from(s: MemberSource) -> Self {
        match s {
            MemberSource::Storefront => pb::MemberSource::Storefront,
            MemberSource::OfflineStore => pb::MemberSource::OfflineStore,
            MemberSource::BrandMall => pb::MemberSource::BrandMall,
            MemberSource::Wechat => pb::MemberSource::Wechat,
            MemberSource::OtherMarketplace => pb::MemberSource::OtherMarketplace,
            MemberSource::Other => pb::MemberSource::Other,
        }
    }
}

/// MB-1: a profile's gender: `MALE`, `FEMALE`, `OTHER`, or empty when not given
/// (membership-svc `members::Profile::parse` also takes them in lower case and keeps them
/// in upper case). An enum with an empty name, which a derived schema cannot spell.
fn gender() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(["", "MALE", "FEMALE", "OTHER"]))
        .description(Some("`MALE`, `FEMALE` or `OTHER`; empty when not given."))
        .build()
}

/// MB-1: profile tags a shopper may give when opening the card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub(crate) struct MemberProfile {
    // membership-svc `members::MAX_NICKNAME_CHARS`.
    #[schema(max_length = 30, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub nickname: String,
    #[schema(schema_with = gender)]
    pub gender: String,
    /// `YYYY-MM-DD`.
    #[schema(
        pattern = r"^(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)?$"
    )]
    pub birthday: String,
}

impl From<pb::MemberProfile> for MemberProfile {
    fn from(p: pb::MemberProfile) -> Self {
        Self {
            nickname: p.nickname,
            gender: p.gender,
            birthday: p.birthday,
        }
    }
}

impl From<MemberProfile> for pb::MemberProfile {
    fn from(p: MemberProfile) -> Self {
        Self {
            nickname: p.nickname,
            gender: p.gender,
            birthday: p.birthday,
        }
    }
}

/// A shopper's membership of a shop, with the totals that decide the level (OR-3, LV-5).
/// Carries whether a verified phone is on file, never the phone itself (MB-4).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Membership {
    pub membership_id: String,
    pub shop_id: String,
    pub user_id: String,
    /// `PENDING` (card opened under `ORDER_AND_CARD`, waiting for an order), `ACTIVE` or `QUIT`.
    pub state: String,
    /// `ORDER`, `CARD` or `IMPORT`.
    pub join_channel: String,
    /// `STOREFRONT`, `OFFLINE_STORE`, `BRAND_MALL`, `WECHAT`, `OTHER_MARKETPLACE` or `OTHER`.
    pub source: String,
    pub join_time: Option<String>,
    pub first_join_time: Option<String>,
    pub card_open_time: Option<String>,
    pub level: i32,
    /// Cumulative receipt-confirmed spend net of refunds, in fen.
    pub total_spend_fen: i64,
    /// Cumulative receipt-confirmed orders.
    pub order_count: i64,
    pub points_balance: i64,
    pub has_phone: bool,
    pub profile: Option<MemberProfile>,
}

impl From<pb::Membership> for Membership {
    fn from(m: pb::Membership) -> Self {
        Self {
            state: short(m.state().as_str_name(), "MEMBERSHIP_STATE_"),
            join_channel: short(m.join_channel().as_str_name(), "JOIN_CHANNEL_"),
            source: short(m.source().as_str_name(), "MEMBER_SOURCE_"),
            membership_id: m.membership_id,
            shop_id: m.shop_id,
            user_id: m.user_id,
            join_time: timestamp(m.join_time),
            first_join_time: timestamp(m.first_join_time),
            card_open_time: timestamp(m.card_open_time),
            level: m.level,
            total_spend_fen: m.total_spend_fen,
            order_count: m.order_count,
            points_balance: m.points_balance,
            has_phone: m.has_phone,
            profile: m.profile.map(MemberProfile::from),
        }
    }
}

/// MB-4: one page of a shop's members.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MemberPage {
    pub members: Vec<Membership>,
    /// Empty on the last page.
    pub next_page_token: String,
    /// Members matching the filters, over all pages.
    pub total_size: i64,
}

impl From<pb::ListMembersResponse> for MemberPage {
    fn from(r: pb::ListMembersResponse) -> Self {
        Self {
            members: r.members.into_iter().map(Membership::from).collect(),
            next_page_token: r.next_page_token,
            total_size: r.total_size,
        }
    }
}

/// MB-4: filters and paging of the member list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListMembersQuery {
    /// Only members at this level; 0 means every level.
    // membership-svc `members::list_filter`, `program::MAX_LEVELS`.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 5)]
    pub level: Option<String>,
    /// Joined at or after this RFC 3339 time.
    #[param(format = DateTime)]
    pub join_time_from: Option<String>,
    /// Joined before this RFC 3339 time.
    #[param(format = DateTime)]
    pub join_time_to: Option<String>,
    #[param(value_type = Option<JoinChannel>)]
    pub join_channel: Option<String>,
    #[param(value_type = Option<MemberSource>)]
    pub source: Option<String>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl ListMembersQuery {
    /// The ListMembers request, or INVALID_ARGUMENT naming every bad filter.
    pub(crate) fn into_request(self, shop_id: String) -> Result<pb::ListMembersRequest, ApiError> {
        let mut check = FieldCheck::default();
        let level = check.take(query::integer("level", self.level.as_deref()));
        let join_time_from = check.take(query::timestamp(
            "join_time_from",
            self.join_time_from.as_deref(),
        ));
        let join_time_to = check.take(query::timestamp(
            "join_time_to",
            self.join_time_to.as_deref(),
        ));
        let join_channel = check.take(query::enum_name::<JoinChannel>(
            "join_channel",
            self.join_channel.as_deref(),
        ));
        let source = check.take(query::enum_name::<MemberSource>(
            "source",
            self.source.as_deref(),
        ));
        let page_size = check.take(query::integer("page_size", self.page_size.as_deref()));
        check.finish(pb::ListMembersRequest {
            shop_id,
            page_size: page_size.unwrap_or_default(),
            page_token: self.page_token.unwrap_or_default(),
            level: level.unwrap_or_default(),
            join_time_from,
            join_time_to,
            join_channel: join_channel
                .map_or(pb::JoinChannel::Unspecified, Into::into)
                .into(),
            source: source
                .map_or(pb::MemberSource::Unspecified, Into::into)
                .into(),
        })
    }
}

/// MP-4: when the code sent expires and when another may be requested.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SmsCodeSent {
    pub expire_time: Option<String>,
    pub resend_allowed_time: Option<String>,
}

impl From<pb::SendCardSmsCodeResponse> for SmsCodeSent {
    fn from(r: pb::SendCardSmsCodeResponse) -> Self {
        Self {
            expire_time: timestamp(r.expire_time),
            resend_allowed_time: timestamp(r.resend_allowed_time),
        }
    }
}

/// MB-5: whether the shopper now follows the shop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Following {
    pub following: bool,
}

impl From<pb::FollowShopResponse> for Following {
    fn from(r: pb::FollowShopResponse) -> Self {
        Self {
            following: r.following,
        }
    }
}

/// MP-5: the storefront member center.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MemberCenter {
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
    /// Present for members.
    pub membership: Option<Membership>,
    /// The member's level name (LV-6); empty for non-members.
    pub level_name: String,
    /// The member's level benefits (LV-6); absent for non-members.
    pub benefits: Option<LevelBenefits>,
    /// MP-6: the member center's tab position in the storefront.
    pub member_tab_position: i32,
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
            membership: m.membership.map(Membership::from),
            level_name: m.level_name,
            benefits: m.benefits.map(LevelBenefits::from),
            member_tab_position: m.member_tab_position,
        }
    }
}

// ------------------------------------------------------------------ request bodies

/// MP-4: send a card-opening code to this phone.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct SendCardSmsCode {
    /// An 11-digit mainland mobile number, optionally after `+86`.
    #[schema(pattern = r"^(?:\+86)?[- ]*1(?:[- ]*[0-9]){10}[- ]*$")]
    pub phone: String,
}

/// MB-2: open the shop's card.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct OpenCard {
    /// The phone to keep on the membership; may differ from the account's bound phone.
    #[schema(pattern = r"^(?:\+86)?[- ]*1(?:[- ]*[0-9]){10}[- ]*$")]
    pub phone: String,
    /// The 6-digit code sent to `phone`; required when the shop has SMS verification on
    /// (MP-4).
    #[serde(default)]
    #[schema(pattern = r"^(?:[0-9]{6})?$")]
    pub sms_code: String,
    /// Where the shopper opened the card; absent means the service's default, `STOREFRONT`.
    #[serde(default)]
    pub source: Option<MemberSource>,
    #[serde(default)]
    pub profile: Option<MemberProfile>,
}

impl OpenCard {
    pub(crate) fn into_request(
        self,
        request_id: String,
        shop_id: String,
        user_id: String,
    ) -> pb::OpenCardRequest {
        pb::OpenCardRequest {
            request_id,
            shop_id,
            user_id,
            phone: self.phone,
            sms_code: self.sms_code,
            source: self
                .source
                .map_or(pb::MemberSource::Unspecified, Into::into)
                .into(),
            profile: self.profile.map(Into::into),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_short_name;
    use super::*;

    #[test]
    fn join_channels_and_sources_travel_as_short_proto_names() {
        for c in [JoinChannel::Order, JoinChannel::Card, JoinChannel::Import] {
            assert_short_name(c, pb::JoinChannel::from(c).as_str_name(), "JOIN_CHANNEL_");
        }
        for s in [
            MemberSource::Storefront,
            MemberSource::OfflineStore,
            MemberSource::BrandMall,
            MemberSource::Wechat,
            MemberSource::OtherMarketplace,
            MemberSource::Other,
        ] {
            assert_short_name(s, pb::MemberSource::from(s).as_str_name(), "MEMBER_SOURCE_");
        }
    }

    #[test]
    fn mb4_member_list_filters_map_to_the_request() -> Result<(), ApiError> {
        let filters = ListMembersQuery {
            level: Some("2".into()),
            join_time_from: Some("2025-06-01T00:00:00Z".into()),
            join_time_to: None,
            join_channel: Some("CARD".into()),
            source: Some("WECHAT".into()),
            page_size: Some("50".into()),
            page_token: Some("next".into()),
        };
        let request = filters.into_request("shop".into())?;
        assert_eq!(request.level, 2);
        assert_eq!(
            request.join_time_from.map(|t| t.seconds),
            Some(1_748_736_000)
        );
        assert_eq!(request.join_time_to, None);
        assert_eq!(request.join_channel(), pb::JoinChannel::Card);
        assert_eq!(request.source(), pb::MemberSource::Wechat);
        assert_eq!(
            (request.page_size, request.page_token.as_str()),
            (50, "next")
        );
        Ok(())
    }

    #[test]
    fn mb4_no_filters_means_everyone() -> Result<(), ApiError> {
        let request = ListMembersQuery::default().into_request("shop".into())?;
        assert_eq!(
            request,
            pb::ListMembersRequest {
                shop_id: "shop".into(),
                ..Default::default()
            }
        );
        Ok(())
    }

    #[test]
    fn mb4_bad_filters_are_all_named() {
        let filters = ListMembersQuery {
            level: Some("gold".into()),
            join_time_to: Some("last week".into()),
            join_channel: Some("PHONE".into()),
            source: Some("storefront".into()),
            page_size: Some("-".into()),
            ..Default::default()
        };
        let fields: Vec<String> = filters
            .into_request("shop".into())
            .err()
            .map(|e| {
                e.body
                    .field_violations
                    .into_iter()
                    .map(|v| v.field)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(
            fields,
            [
                "level",
                "join_time_to",
                "join_channel",
                "source",
                "page_size"
            ]
        );
    }

    #[test]
    fn mb4_a_member_row_carries_totals_and_never_a_phone() -> Result<(), serde_json::Error> {
        let row = Membership::from(pb::Membership {
            user_id: "u-1".into(),
            state: pb::MembershipState::Active.into(),
            join_channel: pb::JoinChannel::Card.into(),
            source: pb::MemberSource::Storefront.into(),
            level: 2,
            total_spend_fen: 42_345,
            order_count: 2,
            points_balance: 1_146,
            has_phone: true,
            ..Default::default()
        });
        let json = serde_json::to_value(&row)?;
        assert_eq!(json["state"], "ACTIVE");
        assert_eq!(json["join_channel"], "CARD");
        assert_eq!(json["source"], "STOREFRONT");
        assert_eq!(
            (
                &json["level"],
                &json["total_spend_fen"],
                &json["order_count"],
                &json["points_balance"]
            ),
            (
                &serde_json::json!(2),
                &serde_json::json!(42_345),
                &serde_json::json!(2),
                &serde_json::json!(1_146)
            )
        );
        let keys: Vec<&String> = json
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert!(
            keys.iter()
                .all(|k| *k == "has_phone" || !k.contains("phone")),
            "no phone field: {keys:?}"
        );
        Ok(())
    }

    #[test]
    fn mb2_card_opening_without_source_leaves_it_to_the_service() -> Result<(), serde_json::Error> {
        let body: OpenCard = serde_json::from_str(r#"{"phone": "13800138000"}"#)?;
        let request = body.into_request("k".into(), "s".into(), "u".into());
        assert_eq!(request.source(), pb::MemberSource::Unspecified);
        assert_eq!((request.sms_code.as_str(), request.profile), ("", None));
        Ok(())
    }
}
