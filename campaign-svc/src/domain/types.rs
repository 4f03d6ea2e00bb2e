//! Small shared types: ids, half-open windows, shops and join policies, and plain "views" of
//! other services' data (a coupon batch from coupon-svc, a shopper's membership from
//! membership-svc) so that every rule is a pure function of its inputs.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::error::FieldViolation;

/// The longest campaign or pack window: a year, leap day included. It bounds what a window
/// costs later (OC-10 builds one statistics row per day).
pub(crate) const MAX_WINDOW: Duration = Duration::days(366);
/// The longest shopper id, in characters (membership-svc's user ids).
pub const MAX_USER_ID_CHARS: usize = 64;
/// The longest order id, exchange item id or claim source id, in characters.
pub const MAX_REF_CHARS: usize = 128;

memberhub_kit::uuid_id!(
    /// A shop's id (owned by membership-svc).
    pub ShopId,
    "a shop id"
);
memberhub_kit::uuid_id!(
    /// An open-card gift campaign's id.
    pub(crate) CampaignId,
    "a campaign id"
);
memberhub_kit::uuid_id!(
    /// A gift pack's id (new-member or member pack).
    pub PackId,
    "a pack id"
);
memberhub_kit::uuid_id!(
    /// A member sprint plan's id (SP-1).
    pub(crate) PlanId,
    "a plan id"
);
memberhub_kit::uuid_id!(
    /// A claim: one saga that grants a pack, a gift or an exchange whole.
    pub ClaimId,
    "a claim id"
);

/// A coupon batch's copyable key (`BA_…`), as coupon-svc prints it. Read back from storage
/// through [`BatchKey::parse`], so a malformed stored key is an error.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct BatchKey(String);

impl TryFrom<String> for BatchKey {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse("batch_key", &raw).map_err(|v| v.description)
    }
}

impl From<BatchKey> for String {
    fn from(key: BatchKey) -> String {
        key.0
    }
}

impl BatchKey {
    /// `BA_` + 7 lowercase base32 characters (coupon-svc's CP-1 shape).
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldViolation> {
        let raw = raw.trim();
        let valid = raw.strip_prefix("BA_").is_some_and(|body| {
            body.len() == 7
                && body
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
        });
        if valid {
            Ok(Self(raw.to_string()))
        } else {
            Err(FieldViolation::new(
                field,
                "must be a batch key such as BA_zv2bmpn",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A half-open time window `[start, end)`; `end > start` by construction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl Window {
    /// `None` unless `end` is after `start`.
    pub(crate) fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Option<Self> {
        (end > start).then_some(Self { start, end })
    }

    pub(crate) fn start(&self) -> DateTime<Utc> {
        self.start
    }

    pub(crate) fn end(&self) -> DateTime<Utc> {
        self.end
    }

    pub(crate) fn duration(&self) -> chrono::Duration {
        self.end - self.start
    }

    pub(crate) fn contains(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }

    /// Whether the two windows share an instant; back-to-back `[a,b)` and `[b,c)` do not.
    pub(crate) fn overlaps(&self, other: &Window) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// `other` lies within this window (equal ends accepted).
    pub(crate) fn covers(&self, other: &Window) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// How a shop sells (OC-4 prize menus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShopType {
    Pop,
    SelfOperated,
}

/// What campaign rules need to know about a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ShopView {
    pub shop: ShopId,
    pub shop_type: ShopType,
    /// Tmall-style free-gift items (GP-2, GP-8).
    pub gift_items: bool,
    pub join_policy: JoinPolicy,
}

/// MP-2: how a shopper becomes a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinPolicy {
    Order,
    Card,
    OrderOrCard,
    OrderAndCard,
}

impl JoinPolicy {
    /// Whether a shopper may open the card at all (MB-2: not under `ORDER`).
    pub(crate) fn allows_card_opening(self) -> bool {
        self != JoinPolicy::Order
    }
}

/// MB-1: how the current membership began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinChannel {
    Order,
    Card,
    Import,
}

/// One membership period of a shopper in a shop (MB-1, MB-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MembershipView {
    pub joined_at: DateTime<Utc>,
    pub channel: JoinChannel,
    /// LV-5: the member's current level (1..=5).
    pub level: i32,
}

/// What membership-svc knows about one shopper in one shop, as campaign rules read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MemberView {
    /// The current membership period, if the shopper is a member now.
    pub membership: Option<MembershipView>,
    /// When the shopper first ever joined this shop (whatever happened since, MB-3).
    pub first_joined_at: Option<DateTime<Utc>>,
    /// When the card was opened in the current period (MB-2); under `ORDER_AND_CARD` a
    /// non-member may have opened the card while their membership waits for an order.
    pub card_opened_at: Option<DateTime<Utc>>,
}

impl MemberView {
    /// A shopper who has never joined and never opened the card.
    pub(crate) fn stranger() -> Self {
        Self::default()
    }

    /// The current period is the shopper's first-ever one (MB-3: a rejoin is not).
    pub(crate) fn in_first_period(&self) -> bool {
        match (self.membership, self.first_joined_at) {
            (Some(m), Some(first)) => m.joined_at == first,
            _ => false,
        }
    }
}

/// CP-1: what a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CouponKind {
    Threshold,
    Cash,
    Discount,
}

/// CP-1: the channel a batch is issued through (stored in a claim's steps by name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Channel {
    General,
    Crm,
    Interactive,
    SprintPlan,
}

/// CP-1: a batch's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BatchStatus {
    Draft,
    PendingApproval,
    Active,
    Ended,
    Closed,
}

/// CP-1: when an issued coupon can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    Absolute,
    Relative { days: i32 },
}

/// A coupon batch as coupon-svc's `GetBatch` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BatchView {
    pub key: BatchKey,
    pub shop: ShopId,
    pub kind: CouponKind,
    pub channel: Channel,
    pub status: BatchStatus,
    pub claim_window: Window,
    pub validity: Validity,
    /// Item scope "all" (a shop-wide coupon, not a product coupon).
    pub shop_wide: bool,
    /// Units not yet issued or reserved elsewhere.
    pub stock: i64,
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    /// 2026-01-01T00:00Z plus `hours`.
    pub(crate) fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("a fixed valid instant")
            + Duration::hours(hours)
    }

    /// `[at(from), at(to))`.
    pub(crate) fn window(from: i64, to: i64) -> Window {
        Window::new(at(from), at(to)).expect("tests build windows with end after start")
    }

    #[test]
    fn windows_need_an_end_after_the_start() {
        assert!(Window::new(at(1), at(1)).is_none());
        assert!(Window::new(at(2), at(1)).is_none());
        assert!(Window::new(at(1), at(2)).is_some());
    }

    #[test]
    fn windows_are_half_open() {
        let w = window(0, 10);
        assert!(w.contains(at(0)));
        assert!(w.contains(at(9)));
        assert!(!w.contains(at(10)));
    }

    #[test]
    fn back_to_back_windows_do_not_overlap() {
        assert!(!window(0, 10).overlaps(&window(10, 20)));
        assert!(!window(10, 20).overlaps(&window(0, 10)));
        assert!(window(0, 10).overlaps(&window(9, 20)));
        assert!(window(0, 10).overlaps(&window(2, 3)));
    }

    #[test]
    fn batch_keys_are_shaped_like_coupon_svc_keys() {
        assert!(BatchKey::parse("k", "BA_zv2bmpn").is_ok());
        assert!(BatchKey::parse("k", "BA_zv2bmp").is_err());
        assert!(BatchKey::parse("k", "BA_ZV2BMPN").is_err());
        assert!(BatchKey::parse("k", "BA_zv2bmp1").is_err());
        assert!(BatchKey::parse("k", "XX_zv2bmpn").is_err());
    }

    #[test]
    fn mb3_a_rejoin_is_not_the_first_period() {
        let first = MemberView {
            membership: Some(MembershipView {
                joined_at: at(0),
                channel: JoinChannel::Card,
                level: 1,
            }),
            first_joined_at: Some(at(0)),
            card_opened_at: Some(at(0)),
        };
        assert!(first.in_first_period());
        let rejoined = MemberView {
            membership: Some(MembershipView {
                joined_at: at(5),
                ..first.membership.expect("set above")
            }),
            ..first
        };
        assert!(!rejoined.in_first_period());
        assert!(!MemberView::stranger().in_first_period());
    }
}
