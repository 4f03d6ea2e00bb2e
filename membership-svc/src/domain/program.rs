//! MP-1..MP-5: a shop's membership program.

use chrono::{DateTime, Utc};
use memberhub_kit::error::{Failure, FieldViolation, Violations};

use super::ids::ShopId;
use super::shop::{Shop, ShopType};
use super::text;
use memberhub_kit::input;

/// MP-3: the longest card name, in characters.
pub const MAX_CARD_NAME_CHARS: usize = 20;

/// MP-1: the fixed join terms shown on the card-opening page; merchants cannot edit them.
pub(crate) const JOIN_TERMS: &str = "By opening this card you agree to the marketplace membership terms: the shop \
receives your membership data and the phone number you give, may send you member offers, and you may quit \
at any time from the member center.";
/// MP-3: the platform's default card-opening page image.
pub(crate) const DEFAULT_OPENING_IMAGE_URL: &str =
    "https://static.memberhub.dev/card/opening-default.png";
/// MP-3: the platform's default member-card image of level `n` (1..5).
pub(crate) fn default_level_image_url(level: i32) -> String {
    format!("https://static.memberhub.dev/card/level-{level}-default.png")
}
/// LV-1: the most levels a program may have.
pub const MAX_LEVELS: i32 = 5;

/// MP-2: how a shopper becomes a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinPolicy {
    Order,
    Card,
    OrderOrCard,
    OrderAndCard,
}

impl JoinPolicy {
    /// MB-2: opening a card is refused only under `ORDER`.
    pub(crate) fn allows_card_opening(self) -> bool {
        self != JoinPolicy::Order
    }
}

memberhub_kit::db_enum!(pub JoinPolicy { Order => "ORDER", Card => "CARD", OrderOrCard => "ORDER_OR_CARD", OrderAndCard => "ORDER_AND_CARD" });

/// MP-5: how a shopper without the card can get it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinRoute {
    None,
    OpenCard,
    PlaceOrder,
    OpenCardAndOrder,
}

impl JoinRoute {
    pub(crate) fn for_policy(policy: JoinPolicy) -> Self {
        match policy {
            JoinPolicy::Order => JoinRoute::PlaceOrder,
            JoinPolicy::Card | JoinPolicy::OrderOrCard => JoinRoute::OpenCard,
            JoinPolicy::OrderAndCard => JoinRoute::OpenCardAndOrder,
        }
    }
}

/// MP-3: what the card looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CardFace {
    pub card_name: String,
    pub logo_url: String,
    pub opening_image_url: String,
    /// Levels 1..=5 in order, defaults filled in.
    pub level_images: Vec<(i32, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Program {
    pub shop_id: ShopId,
    pub shop_type: ShopType,
    pub shop_name: String,
    pub join_policy: JoinPolicy,
    pub card_face: CardFace,
    pub sms_service_active: bool,
    pub sms_verification_enabled: bool,
    pub updated_at: DateTime<Utc>,
    /// OR-4.
    pub points_per_yuan: i32,
    /// PT-5.
    pub points_expiry_enabled: bool,
    /// MP-6: 1..5.
    pub member_tab_position: i32,
    /// MP-6: does any level have a benefit?
    pub benefits_configured: bool,
}

/// OR-4, PT-5, MP-6: a validated settings change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct SettingsChange {
    pub points_per_yuan: Option<i32>,
    pub points_expiry_enabled: Option<bool>,
    pub member_tab_position: Option<i32>,
}

impl SettingsChange {
    pub(crate) fn parse(
        points_per_yuan: Option<i32>,
        points_expiry_enabled: Option<bool>,
        member_tab_position: Option<i32>,
    ) -> Result<Self, Failure> {
        let mut violations = Violations::new();
        if points_per_yuan.is_some_and(|r| !(0..=100).contains(&r)) {
            violations.add("points_per_yuan", "must be 0 to 100 points per yuan");
        }
        if member_tab_position.is_some_and(|p| !(1..=5).contains(&p)) {
            violations.add("member_tab_position", "must be a tab position 1 to 5");
        }
        violations.finish()?;
        Ok(Self {
            points_per_yuan,
            points_expiry_enabled,
            member_tab_position,
        })
    }
}

/// MP-1: the program a new shop starts with.
#[derive(Debug, Clone)]
pub(crate) struct ProgramDefaults {
    pub join_policy: JoinPolicy,
    pub card_name: String,
    pub card_logo_url: String,
    pub opening_image_url: String,
}

impl ProgramDefaults {
    pub(crate) fn for_shop(shop: &Shop) -> Self {
        // A shop name may be up to 30 characters; the card name only 20.
        let card_name = shop
            .name
            .chars()
            .take(20)
            .collect::<String>()
            .trim_end()
            .to_string();
        Self {
            join_policy: JoinPolicy::Order,
            card_name,
            card_logo_url: shop.logo_url.clone(),
            opening_image_url: DEFAULT_OPENING_IMAGE_URL.to_string(),
        }
    }
}

/// MP-3: a validated card-face change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub(crate) struct CardFaceChange {
    pub card_name: Option<String>,
    pub logo_url: Option<String>,
    pub opening_image_url: Option<String>,
    /// `None` image restores the platform default for that level.
    pub level_images: Vec<(i32, Option<String>)>,
}

impl CardFaceChange {
    pub(crate) fn parse(
        card_name: Option<&str>,
        logo_url: Option<&str>,
        opening_image_url: Option<&str>,
        level_images: &[(i32, &str)],
    ) -> Result<Self, Failure> {
        let mut violations = Violations::new();
        let card_name = card_name
            .and_then(|n| violations.check(input::text("card_name", n, MAX_CARD_NAME_CHARS)));
        let logo_url = logo_url.and_then(|u| violations.check(text::image_url("logo_url", u)));
        let opening_image_url = opening_image_url
            .and_then(|u| violations.check(text::image_url("opening_image_url", u)));
        let mut levels = Vec::new();
        // One image per level at most: a longer list is refused before it is walked.
        let images = violations
            .check(input::at_most(
                "level_images",
                level_images,
                MAX_LEVELS as usize,
            ))
            .map_or(&[][..], |()| level_images);
        for (index, (level, url)) in images.iter().enumerate() {
            if !(1..=MAX_LEVELS).contains(level) {
                violations.add(
                    format!("level_images[{index}].level"),
                    "must be a level from 1 to 5",
                );
                continue;
            }
            if levels.iter().any(|(seen, _)| seen == level) {
                violations.add(
                    format!("level_images[{index}].level"),
                    "each level may appear once",
                );
                continue;
            }
            if url.trim().is_empty() {
                levels.push((*level, None));
            } else if let Some(url) = violations.check(text::image_url(
                &format!("level_images[{index}].image_url"),
                url,
            )) {
                levels.push((*level, Some(url)));
            }
        }
        violations.finish()?;
        Ok(Self {
            card_name,
            logo_url,
            opening_image_url,
            level_images: levels,
        })
    }
}

/// MP-4: may this program turn SMS verification on?
pub(crate) fn check_sms_verification(
    shop_type: ShopType,
    sms_service_active: bool,
    enable: bool,
) -> Result<(), Failure> {
    if !enable {
        return Ok(());
    }
    if shop_type != ShopType::Pop {
        return Err(Failure::precondition(
            "SMS_VERIFICATION_POP_ONLY",
            "only POP shops may require SMS verification at card opening",
        ));
    }
    if !sms_service_active {
        return Err(Failure::precondition(
            "SMS_SERVICE_NOT_ACTIVATED",
            "activate the shop's card-verification SMS service before enabling SMS verification",
        ));
    }
    Ok(())
}

/// OC-3: campaign-svc's hold on card joining while an open-card gift may run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CardJoinHold {
    pub shop_id: ShopId,
    /// Who holds it, e.g. the open-card gift's campaign id.
    pub holder: String,
    /// The hold lapses at this time (the campaign's end).
    pub end_time: DateTime<Utc>,
    pub released_at: Option<DateTime<Utc>>,
}

/// OC-3: the longest accepted holder (a campaign id).
pub(crate) const MAX_HOLDER_LEN: usize = 128;

/// OC-3: a hold's holder: 1 to 128 characters, no whitespace or control characters. Not
/// trimmed: it is the key the holder releases with.
pub(crate) fn parse_holder(field: &str, raw: &str) -> Result<String, FieldViolation> {
    let count = raw.chars().count();
    if count == 0
        || count > MAX_HOLDER_LEN
        || raw.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return Err(FieldViolation::new(
            field,
            "must name the holder (the campaign id): 1 to 128 characters without spaces",
        ));
    }
    Ok(raw.to_string())
}

/// OC-3: a hold (an open-card gift) needs a join policy that allows card opening.
pub(crate) fn check_hold(policy: JoinPolicy) -> Result<(), Failure> {
    if policy.allows_card_opening() {
        Ok(())
    } else {
        Err(Failure::precondition(
            "CARD_JOIN_DISABLED",
            "the shop's join policy is ORDER: an open-card gift needs a policy that allows card opening",
        ))
    }
}

/// OC-3: while an open-card gift is live (`live`, a hold in force now), the policy cannot
/// become `ORDER`.
pub(crate) fn check_policy_change(
    new: JoinPolicy,
    live: Option<&CardJoinHold>,
) -> Result<(), Failure> {
    match live {
        Some(hold) if new == JoinPolicy::Order => Err(Failure::FailedPrecondition {
            reason: "OPEN_CARD_GIFT_LIVE",
            message: format!(
                "the open-card gift of campaign {} is live until {}: the join policy cannot become ORDER before it ends or is closed",
                hold.holder,
                hold.end_time.to_rfc3339()
            ),
            metadata: vec![("campaign_id", hold.holder.clone())],
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(result: Result<(), Failure>) -> Option<&'static str> {
        match result {
            Err(Failure::FailedPrecondition { reason, .. }) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn mp4_only_pop_shops_with_an_active_service_may_enable_sms() {
        assert!(check_sms_verification(ShopType::Pop, true, true).is_ok());
        assert_eq!(
            reason(check_sms_verification(ShopType::Pop, false, true)),
            Some("SMS_SERVICE_NOT_ACTIVATED")
        );
        assert_eq!(
            reason(check_sms_verification(ShopType::SelfOperated, true, true)),
            Some("SMS_VERIFICATION_POP_ONLY")
        );
        // Turning it off is always allowed.
        assert!(check_sms_verification(ShopType::SelfOperated, false, false).is_ok());
    }

    #[test]
    fn mp5_join_route_follows_the_policy() {
        assert_eq!(
            JoinRoute::for_policy(JoinPolicy::Order),
            JoinRoute::PlaceOrder
        );
        assert_eq!(JoinRoute::for_policy(JoinPolicy::Card), JoinRoute::OpenCard);
        assert_eq!(
            JoinRoute::for_policy(JoinPolicy::OrderOrCard),
            JoinRoute::OpenCard
        );
        assert_eq!(
            JoinRoute::for_policy(JoinPolicy::OrderAndCard),
            JoinRoute::OpenCardAndOrder
        );
    }

    #[test]
    fn mp3_level_images_name_the_bad_entry() {
        let err = CardFaceChange::parse(
            None,
            None,
            None,
            &[(1, "https://x/1.png"), (6, "https://x/6.png")],
        );
        let Err(Failure::InvalidArgument(v)) = err else {
            panic!("expected invalid argument")
        };
        assert_eq!(v[0].field, "level_images[1].level");
    }

    fn hold(end_time: DateTime<Utc>, released: bool) -> CardJoinHold {
        CardJoinHold {
            shop_id: ShopId::new(),
            holder: "CA_1".into(),
            end_time,
            released_at: released.then_some(end_time),
        }
    }

    #[test]
    fn oc3_a_hold_needs_a_policy_that_allows_card_opening() {
        assert_eq!(
            reason(check_hold(JoinPolicy::Order)),
            Some("CARD_JOIN_DISABLED")
        );
        for policy in [
            JoinPolicy::Card,
            JoinPolicy::OrderOrCard,
            JoinPolicy::OrderAndCard,
        ] {
            assert!(check_hold(policy).is_ok());
        }
    }

    #[test]
    fn oc3_a_live_hold_blocks_only_the_change_to_order() {
        let now = Utc::now();
        let live = hold(now + chrono::Duration::hours(1), false);
        let Err(Failure::FailedPrecondition {
            reason, metadata, ..
        }) = check_policy_change(JoinPolicy::Order, Some(&live))
        else {
            panic!("expected OPEN_CARD_GIFT_LIVE")
        };
        assert_eq!(reason, "OPEN_CARD_GIFT_LIVE");
        assert_eq!(metadata, vec![("campaign_id", "CA_1".to_string())]);
        assert!(check_policy_change(JoinPolicy::Card, Some(&live)).is_ok());
        assert!(check_policy_change(JoinPolicy::Order, None).is_ok());
    }

    #[test]
    fn oc3_holder_is_a_non_blank_id() {
        assert_eq!(parse_holder("holder", "CA_1").ok().as_deref(), Some("CA_1"));
        for bad in ["", " ", "CA 1", "a\u{7}", &"x".repeat(129)] {
            assert!(parse_holder("holder", bad).is_err(), "{bad:?}");
        }
    }
}
