//! The membership program: join policy, card face, SMS verification, settings (MP-1..MP-6).

use memberhub_proto::membership as pb;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{short, timestamp};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum JoinPolicy {
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

/// MP-3: a level's member-card image.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct LevelCardImage {
    // membership-svc `program::MAX_LEVELS`.
    #[schema(minimum = 1, maximum = 5)]
    pub level: i32,
    /// An absolute http(s) URL; empty restores the platform default.
    // membership-svc `text::image_url` (2048 bytes).
    #[schema(
        max_length = 2048,
        pattern = r"^(?:https?://[^/?#\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$"
    )]
    pub image_url: String,
}

/// MP-3: the card face.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CardFace {
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

/// A recommendation the back-office shows; the save it came with succeeded (LV-6, MP-6).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Warning {
    /// Stable UPPER_SNAKE code, e.g. `BENEFITS_NOT_CONFIGURED`.
    pub code: String,
    pub message: String,
    /// The level concerned; 0 when the warning is about the whole program.
    pub level: i32,
}

impl From<pb::Warning> for Warning {
    fn from(w: pb::Warning) -> Self {
        Self {
            code: w.code,
            message: w.message,
            level: w.level,
        }
    }
}

pub(super) fn warnings(list: Vec<pb::Warning>) -> Vec<Warning> {
    list.into_iter().map(Warning::from).collect()
}

/// A shop's membership program.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Program {
    pub shop_id: String,
    /// `ORDER`, `CARD`, `ORDER_OR_CARD` or `ORDER_AND_CARD`.
    pub join_policy: String,
    pub card_face: Option<CardFace>,
    pub join_terms: String,
    pub sms_service_active: bool,
    pub sms_verification_enabled: bool,
    pub update_time: Option<String>,
    /// OR-4: points per yuan of confirmed spend, before the level multiplier.
    pub points_per_yuan: i32,
    /// PT-5: points earned in year Y expire at the end of year Y+1 (shop time zone).
    pub points_expiry_enabled: bool,
    /// MP-6: the member center's tab in the storefront, 1..5.
    pub member_tab_position: i32,
    /// MP-6: what the merchant should still set up.
    pub setup_warnings: Vec<Warning>,
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
            points_per_yuan: p.points_per_yuan,
            points_expiry_enabled: p.points_expiry_enabled,
            member_tab_position: p.member_tab_position,
            setup_warnings: warnings(p.setup_warnings),
        }
    }
}

/// The program after a settings change, with what the merchant should still look at.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ProgramSettingsSaved {
    pub program: Option<Program>,
    pub warnings: Vec<Warning>,
}

impl From<pb::UpdateProgramSettingsResponse> for ProgramSettingsSaved {
    fn from(r: pb::UpdateProgramSettingsResponse) -> Self {
        Self {
            program: r.program.map(Program::from),
            warnings: warnings(r.warnings),
        }
    }
}

// ------------------------------------------------------------------ request bodies

/// MP-2.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct SetJoinPolicy {
    pub join_policy: JoinPolicy,
}

/// MP-3: fields left out stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub(crate) struct UpdateCardFace {
    // membership-svc `program::MAX_CARD_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub card_name: Option<String>,
    /// An absolute http(s) URL.
    #[schema(
        max_length = 2048,
        pattern = r"^https?://[^/?#\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub logo_url: Option<String>,
    /// An absolute http(s) URL.
    #[schema(
        max_length = 2048,
        pattern = r"^https?://[^/?#\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub opening_image_url: Option<String>,
    /// An empty `image_url` restores the platform default for that level; each level at
    /// most once.
    // One image per level: membership-svc `program::MAX_LEVELS`.
    #[serde(default)]
    #[schema(max_items = 5)]
    pub level_images: Vec<LevelCardImage>,
}

/// MP-4.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct SetSmsVerification {
    pub enabled: bool,
}

/// OR-4, PT-5, MP-6: fields left out stay as they are.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub(crate) struct UpdateProgramSettings {
    /// OR-4: points per yuan of confirmed spend.
    // membership-svc `program::SettingsChange::parse`.
    #[schema(minimum = 0, maximum = 100)]
    pub points_per_yuan: Option<i32>,
    /// PT-5: whether points expire at the end of the year after they were earned.
    pub points_expiry_enabled: Option<bool>,
    /// MP-6: the member center's tab position in the storefront, 1..5.
    #[schema(minimum = 1, maximum = 5)]
    pub member_tab_position: Option<i32>,
}

impl UpdateProgramSettings {
    pub(crate) fn into_request(
        self,
        request_id: String,
        shop_id: String,
    ) -> pb::UpdateProgramSettingsRequest {
        pb::UpdateProgramSettingsRequest {
            request_id,
            shop_id,
            points_per_yuan: self.points_per_yuan,
            points_expiry_enabled: self.points_expiry_enabled,
            member_tab_position: self.member_tab_position,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_short_name;
    use super::*;

    #[test]
    fn join_policies_travel_as_short_proto_names() {
        for p in [
            JoinPolicy::Order,
            JoinPolicy::Card,
            JoinPolicy::OrderOrCard,
            JoinPolicy::OrderAndCard,
        ] {
            assert_short_name(p, pb::JoinPolicy::from(p).as_str_name(), "JOIN_POLICY_");
        }
    }

    #[test]
    fn settings_left_out_stay_unset_in_the_request() -> Result<(), serde_json::Error> {
        let body: UpdateProgramSettings = serde_json::from_str(r#"{"points_per_yuan": 2}"#)?;
        let request = body.into_request("k".into(), "s".into());
        assert_eq!(request.points_per_yuan, Some(2));
        assert_eq!(request.points_expiry_enabled, None);
        assert_eq!(request.member_tab_position, None);
        Ok(())
    }
}
