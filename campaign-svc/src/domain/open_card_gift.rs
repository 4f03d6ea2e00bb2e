//! OC-1..OC-9: the open-card gift (开卡有礼) — validation of a new campaign, its audience,
//! overlap, budget, coupon binding, stock, status and closing, and who gets the pack.

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::input;

use super::types::{
    BatchKey, BatchStatus, BatchView, Channel, CouponKind, JoinChannel, JoinPolicy, MAX_WINDOW,
    MemberView, ShopId, ShopType, Validity, Window,
};

/// OC-1: the longest name, in characters.
pub const MAX_NAME_CHARS: usize = 10;
/// OC-2: the shortest campaign.
pub(crate) const MIN_DURATION: Duration = Duration::days(3);
/// OC-4: the most prizes in a pack.
pub const MAX_PRIZES: usize = 3;
/// The largest amount per pack or gift quantity: keeps `quantity × amount` in range.
pub const MAX_AMOUNT: i64 = 1_000_000_000;

/// OC-4: what a prize is (stored in a claim's steps by the names of [`PrizeType::as_db`]).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PrizeType {
    Beans,
    CashCoupon,
    ThresholdCoupon,
    Points,
    RedPacket,
    DataPack,
}

memberhub_kit::db_enum!(pub PrizeType {
    Beans => "BEANS",
    CashCoupon => "CASH_COUPON",
    ThresholdCoupon => "THRESHOLD_COUPON",
    Points => "POINTS",
    RedPacket => "RED_PACKET",
    DataPack => "DATA_PACK",
});

impl PrizeType {
    pub const ALL: [PrizeType; 6] = [
        PrizeType::Beans,
        PrizeType::CashCoupon,
        PrizeType::ThresholdCoupon,
        PrizeType::Points,
        PrizeType::RedPacket,
        PrizeType::DataPack,
    ];

    /// A coupon prize binds a batch (OC-6); the others grant an asset (PT-2).
    pub fn is_coupon(self) -> bool {
        matches!(self, PrizeType::CashCoupon | PrizeType::ThresholdCoupon)
    }

    /// OC-5: prizes paid from the shop's recharged budget.
    pub fn needs_budget(self) -> bool {
        matches!(
            self,
            PrizeType::Beans | PrizeType::RedPacket | PrizeType::DataPack
        )
    }

    /// OC-4: whether a shop of this type may offer the prize.
    pub fn offered_to(self, shop_type: ShopType) -> bool {
        match shop_type {
            ShopType::Pop => true,
            ShopType::SelfOperated => self != PrizeType::CashCoupon,
        }
    }

    /// OC-6: the coupon kind a coupon prize's batch must have.
    pub fn coupon_kind(self) -> Option<CouponKind> {
        match self {
            PrizeType::CashCoupon => Some(CouponKind::Cash),
            PrizeType::ThresholdCoupon => Some(CouponKind::Threshold),
            _ => None,
        }
    }
}

/// A prize as requested: asset prizes carry an amount per pack, coupon prizes a batch key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PrizeRequest {
    pub prize_type: Option<PrizeType>,
    pub amount: i64,
    pub batch_key: String,
}

/// A validated prize.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Prize {
    /// Beans, points, red packet (fen) or data pack (MB): `amount` per pack.
    Asset { prize_type: PrizeType, amount: i64 },
    /// One issue of the bound batch per pack.
    Coupon {
        prize_type: PrizeType,
        batch_key: BatchKey,
    },
}

impl Prize {
    pub(crate) fn prize_type(&self) -> PrizeType {
        match self {
            Prize::Asset { prize_type, .. } | Prize::Coupon { prize_type, .. } => *prize_type,
        }
    }
}

/// A validated new campaign (OC-1, OC-2, OC-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewOpenCardGift {
    pub shop: ShopId,
    pub name: String,
    pub window: Window,
    pub prizes: Vec<Prize>,
    pub gift_quantity: i64,
}

impl NewOpenCardGift {
    /// Checks every field and reports all violations at once (INVALID_ARGUMENT).
    pub(crate) fn parse(
        shop: ShopId,
        shop_type: ShopType,
        name: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        prizes: &[PrizeRequest],
        gift_quantity: i64,
    ) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let name = v.check(input::text("name", name, MAX_NAME_CHARS));
        let window = match Window::new(start, end) {
            None => {
                v.add("end_time", "must be after start_time");
                None
            }
            Some(w) if w.duration() < MIN_DURATION => {
                v.add("end_time", "the campaign must last at least 3 days");
                None
            }
            Some(w) if w.duration() > MAX_WINDOW => {
                v.add("end_time", "the campaign may last at most 366 days");
                None
            }
            Some(w) => Some(w),
        };
        let prizes = parse_prizes(&mut v, shop_type, prizes);
        if !(1..=MAX_AMOUNT).contains(&gift_quantity) {
            v.add("gift_quantity", "must be 1 to 1000000000");
        }
        v.finish()?;
        let window = window.expect("a missing window was recorded as a violation");
        Ok(Self {
            shop,
            name: name.expect("a bad name was recorded as a violation"),
            window,
            prizes,
            gift_quantity,
        })
    }
}

/// OC-4: 1..=3 prizes of distinct types from the shop's menu, each well-formed.
fn parse_prizes(v: &mut Violations, shop_type: ShopType, raw: &[PrizeRequest]) -> Vec<Prize> {
    if !(1..=MAX_PRIZES).contains(&raw.len()) {
        v.add("prizes", "must have 1 to 3 prizes");
        // Too many are not walked: the answer stays small whatever the request's size.
        if raw.len() > MAX_PRIZES {
            return Vec::new();
        }
    }
    let mut seen = Vec::new();
    let mut prizes = Vec::new();
    for (i, p) in raw.iter().enumerate() {
        let Some(prize_type) = p.prize_type else {
            v.add(format!("prizes[{i}].type"), "must be a prize type");
            continue;
        };
        if !prize_type.offered_to(shop_type) {
            v.add(
                format!("prizes[{i}].type"),
                format!(
                    "{} is not offered to self-operated shops",
                    prize_type.as_db()
                ),
            );
        }
        if seen.contains(&prize_type) {
            v.add(
                format!("prizes[{i}].type"),
                format!(
                    "{} appears twice; prize types must differ",
                    prize_type.as_db()
                ),
            );
        }
        seen.push(prize_type);
        if prize_type.is_coupon() {
            match BatchKey::parse(&format!("prizes[{i}].batch_key"), &p.batch_key) {
                Ok(batch_key) => prizes.push(Prize::Coupon {
                    prize_type,
                    batch_key,
                }),
                Err(e) => v.add(e.field, e.description),
            }
        } else if !(1..=MAX_AMOUNT).contains(&p.amount) {
            v.add(format!("prizes[{i}].amount"), "must be 1 to 1000000000");
        } else {
            prizes.push(Prize::Asset {
                prize_type,
                amount: p.amount,
            });
        }
    }
    prizes
}

/// OC-3: creating a campaign needs a join policy that allows opening the card.
pub(crate) fn check_join_policy(policy: JoinPolicy) -> Result<(), Failure> {
    if policy.allows_card_opening() {
        Ok(())
    } else {
        Err(Failure::precondition(
            "CARD_JOIN_DISABLED",
            "the shop's join policy is ORDER: allow card opening before creating an open-card gift",
        ))
    }
}

/// OC-3: the audience — a shopper who has not opened the card: a non-member, or a member
/// who joined by ordering (and has not opened the card since).
pub(crate) fn in_audience(member: &MemberView) -> bool {
    if member.card_opened_at.is_some() {
        return false;
    }
    match member.membership {
        None => true,
        Some(m) => m.channel == JoinChannel::Order,
    }
}

/// OC-6: a coupon prize may bind this batch for a campaign of `shop` over `campaign`.
/// The first broken rule is reported with its own reason.
pub(crate) fn check_coupon_binding(
    prize_type: PrizeType,
    shop: ShopId,
    campaign: &Window,
    batch: &BatchView,
) -> Result<(), Failure> {
    let fail = |reason: &'static str, why: &str| {
        Err(Failure::FailedPrecondition {
            reason,
            message: format!("batch {} cannot be bound: {why}", batch.key),
            metadata: vec![("batch_key", batch.key.to_string())],
        })
    };
    if batch.shop != shop {
        return fail("BATCH_OF_ANOTHER_SHOP", "it belongs to another shop");
    }
    if prize_type.coupon_kind() != Some(batch.kind) {
        return fail(
            "BATCH_KIND_MISMATCH",
            &format!("a {} prize needs a batch of that kind", prize_type.as_db()),
        );
    }
    if batch.channel != Channel::Interactive {
        return fail("BATCH_NOT_INTERACTIVE", "its channel must be INTERACTIVE");
    }
    if batch.status != BatchStatus::Active {
        return fail("BATCH_NOT_ACTIVE", "it must be ACTIVE");
    }
    if !batch.claim_window.covers(campaign) {
        return fail(
            "BATCH_CLAIM_WINDOW_TOO_NARROW",
            "its claim window must start no later than the campaign and end no earlier",
        );
    }
    if !matches!(batch.validity, Validity::Relative { .. }) {
        return fail(
            "BATCH_VALIDITY_NOT_RELATIVE",
            "its validity must be RELATIVE (N days from claim)",
        );
    }
    Ok(())
}

/// OC-8: packs left = the minimum over the gift quantity left and every bounded capacity.
pub(crate) fn pack_stock(gift_quantity_left: i64, capacities: &[Option<i64>]) -> i64 {
    capacities
        .iter()
        .flatten()
        .fold(gift_quantity_left, |low, c| low.min(*c))
        .max(0)
}

/// The campaign's status at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CampaignStatus {
    Scheduled,
    Live,
    Ended,
    Closed,
}

/// The status of a campaign over `window`, closed at `closed_at` if it was, at `now`.
pub(crate) fn status_at(
    window: &Window,
    closed_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> CampaignStatus {
    match closed_at {
        Some(c) if c <= now => CampaignStatus::Closed,
        _ if now < window.start() => CampaignStatus::Scheduled,
        _ if window.contains(now) => CampaignStatus::Live,
        _ => CampaignStatus::Ended,
    }
}

/// What closing a campaign does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Close {
    /// Close now and release unused budget and allocations.
    Close,
    /// It was closed already: nothing more to do (a retried close).
    AlreadyClosed,
}

/// OC-9: the merchant may close a scheduled or live campaign at any time (stop-loss). An
/// ended one has nothing left to stop.
pub(crate) fn check_close(status: CampaignStatus) -> Result<Close, Failure> {
    match status {
        CampaignStatus::Scheduled | CampaignStatus::Live => Ok(Close::Close),
        CampaignStatus::Closed => Ok(Close::AlreadyClosed),
        CampaignStatus::Ended => Err(Failure::precondition(
            "CAMPAIGN_ENDED",
            "the campaign has already ended; its unused budget and coupons were released",
        )),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::types::MembershipView;
    use crate::domain::types::tests::{at, window};

    fn shop() -> ShopId {
        ShopId::from(uuid::Uuid::from_u128(1))
    }

    fn asset(t: PrizeType, amount: i64) -> PrizeRequest {
        PrizeRequest {
            prize_type: Some(t),
            amount,
            batch_key: String::new(),
        }
    }

    fn coupon(t: PrizeType, key: &str) -> PrizeRequest {
        PrizeRequest {
            prize_type: Some(t),
            amount: 0,
            batch_key: key.to_string(),
        }
    }

    fn parse(name: &str, hours: i64, prizes: &[PrizeRequest]) -> Result<NewOpenCardGift, Failure> {
        NewOpenCardGift::parse(shop(), ShopType::Pop, name, at(0), at(hours), prizes, 100)
    }

    fn fields(result: Result<NewOpenCardGift, Failure>) -> Vec<String> {
        match result {
            Err(Failure::InvalidArgument(v)) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    fn reason<T: std::fmt::Debug>(result: Result<T, Failure>) -> &'static str {
        match result {
            Err(Failure::FailedPrecondition { reason, .. }) => reason,
            other => panic!("expected FAILED_PRECONDITION, got {other:?}"),
        }
    }

    fn beans() -> Vec<PrizeRequest> {
        vec![asset(PrizeType::Beans, 10)]
    }

    #[test]
    fn oc1_accepts_one_to_ten_characters() {
        assert!(parse("开", 72, &beans()).is_ok());
        assert!(parse("开卡有礼开卡有礼开卡有", 72, &beans()).is_err());
        assert!(parse("开卡有礼开卡有礼开卡", 72, &beans()).is_ok());
    }

    #[test]
    fn oc1_counts_characters_not_bytes() {
        // Ten CJK characters are 30 bytes: still a valid name.
        let name = "会员开卡有礼会员开卡";
        assert_eq!(name.chars().count(), 10);
        assert!(name.len() > 10);
        assert!(parse(name, 72, &beans()).is_ok());
    }

    #[test]
    fn oc1_rejects_an_empty_or_too_long_name() {
        assert_eq!(fields(parse("", 72, &beans())), vec!["name"]);
        assert_eq!(fields(parse("   ", 72, &beans())), vec!["name"]);
        assert_eq!(fields(parse("abcdefghijk", 72, &beans())), vec!["name"]);
    }

    #[test]
    fn oc2_rejects_a_campaign_shorter_than_three_days() {
        assert_eq!(fields(parse("gift", 71, &beans())), vec!["end_time"]);
        let one_second_short = NewOpenCardGift::parse(
            shop(),
            ShopType::Pop,
            "gift",
            at(0),
            at(72) - Duration::seconds(1),
            &beans(),
            1,
        );
        assert_eq!(fields(one_second_short), vec!["end_time"]);
    }

    #[test]
    fn oc2_accepts_exactly_three_days() {
        let gift = parse("gift", 72, &beans()).expect("exactly 3 days is allowed");
        assert_eq!(gift.window.duration(), Duration::days(3));
    }

    #[test]
    fn oc2_rejects_an_end_before_the_start() {
        assert_eq!(fields(parse("gift", 0, &beans())), vec!["end_time"]);
        assert_eq!(fields(parse("gift", -5, &beans())), vec!["end_time"]);
    }

    #[test]
    fn oc4_needs_one_to_three_prizes() {
        assert_eq!(fields(parse("gift", 72, &[])), vec!["prizes"]);
        let three = [
            asset(PrizeType::Beans, 1),
            asset(PrizeType::Points, 1),
            coupon(PrizeType::CashCoupon, "BA_abcdefg"),
        ];
        assert_eq!(
            parse("gift", 72, &three).map(|g| g.prizes.len()).ok(),
            Some(3)
        );
        let four = [
            asset(PrizeType::Beans, 1),
            asset(PrizeType::Points, 1),
            asset(PrizeType::RedPacket, 1),
            asset(PrizeType::DataPack, 1),
        ];
        assert_eq!(fields(parse("gift", 72, &four)), vec!["prizes"]);
    }

    #[test]
    fn oc4_rejects_two_prizes_of_the_same_type() {
        let twice = [asset(PrizeType::Beans, 1), asset(PrizeType::Beans, 2)];
        assert_eq!(fields(parse("gift", 72, &twice)), vec!["prizes[1].type"]);
    }

    #[test]
    fn oc4_pop_shops_may_offer_every_prize_type() {
        for t in PrizeType::ALL {
            assert!(t.offered_to(ShopType::Pop), "{t:?}");
        }
    }

    #[test]
    fn oc4_self_operated_shops_may_not_offer_cash_coupons() {
        for t in PrizeType::ALL {
            assert_eq!(
                t.offered_to(ShopType::SelfOperated),
                t != PrizeType::CashCoupon,
                "{t:?}"
            );
        }
        let result = NewOpenCardGift::parse(
            shop(),
            ShopType::SelfOperated,
            "gift",
            at(0),
            at(72),
            &[coupon(PrizeType::CashCoupon, "BA_abcdefg")],
            1,
        );
        assert_eq!(fields(result), vec!["prizes[0].type"]);
    }

    #[test]
    fn oc4_rejects_a_prize_without_a_type() {
        let untyped = [PrizeRequest {
            prize_type: None,
            amount: 1,
            batch_key: String::new(),
        }];
        assert_eq!(fields(parse("gift", 72, &untyped)), vec!["prizes[0].type"]);
    }

    #[test]
    fn oc4_asset_prizes_need_a_positive_amount_and_coupons_a_batch_key() {
        assert_eq!(
            fields(parse("gift", 72, &[asset(PrizeType::RedPacket, 0)])),
            vec!["prizes[0].amount"]
        );
        assert_eq!(
            fields(parse(
                "gift",
                72,
                &[coupon(PrizeType::ThresholdCoupon, "nope")]
            )),
            vec!["prizes[0].batch_key"]
        );
    }

    #[test]
    fn oc_reports_every_violation_at_once() {
        let result = NewOpenCardGift::parse(shop(), ShopType::Pop, "", at(0), at(1), &[], 0);
        assert_eq!(
            fields(result),
            vec!["name", "end_time", "prizes", "gift_quantity"]
        );
    }

    #[test]
    fn oc3_creating_needs_a_policy_that_allows_card_opening() {
        assert_eq!(
            reason(check_join_policy(JoinPolicy::Order)),
            "CARD_JOIN_DISABLED"
        );
        for p in [
            JoinPolicy::Card,
            JoinPolicy::OrderOrCard,
            JoinPolicy::OrderAndCard,
        ] {
            assert!(check_join_policy(p).is_ok(), "{p:?}");
        }
    }

    fn member(channel: JoinChannel, card: bool) -> MemberView {
        MemberView {
            membership: Some(MembershipView {
                joined_at: at(0),
                channel,
                level: 1,
            }),
            first_joined_at: Some(at(0)),
            card_opened_at: card.then(|| at(0)),
        }
    }

    #[test]
    fn oc3_audience_is_non_members_and_members_who_joined_by_ordering() {
        assert!(in_audience(&MemberView::stranger()));
        assert!(in_audience(&member(JoinChannel::Order, false)));
        assert!(!in_audience(&member(JoinChannel::Order, true)));
        assert!(!in_audience(&member(JoinChannel::Card, true)));
        assert!(!in_audience(&member(JoinChannel::Import, false)));
    }

    #[test]
    fn oc3_a_non_member_who_opened_the_card_under_order_and_card_is_not_in_the_audience() {
        let waiting = MemberView {
            card_opened_at: Some(at(0)),
            ..MemberView::stranger()
        };
        assert!(!in_audience(&waiting));
    }

    fn batch(kind: CouponKind) -> BatchView {
        BatchView {
            key: BatchKey::parse("k", "BA_abcdefg").expect("a valid key"),
            shop: shop(),
            kind,
            channel: Channel::Interactive,
            status: BatchStatus::Active,
            claim_window: window(0, 72),
            validity: Validity::Relative { days: 7 },
            shop_wide: true,
            stock: 100,
        }
    }

    fn bind(b: &BatchView) -> Result<(), Failure> {
        check_coupon_binding(PrizeType::CashCoupon, shop(), &window(0, 72), b)
    }

    #[test]
    fn oc6_accepts_a_claim_window_equal_to_the_campaign() {
        assert!(bind(&batch(CouponKind::Cash)).is_ok());
    }

    #[test]
    fn oc6_accepts_a_claim_window_wider_than_the_campaign() {
        let b = BatchView {
            claim_window: window(-10, 100),
            ..batch(CouponKind::Cash)
        };
        assert!(bind(&b).is_ok());
    }

    #[test]
    fn oc6_rejects_a_claim_window_starting_later_or_ending_earlier() {
        for w in [window(1, 72), window(0, 71), window(1, 71)] {
            let b = BatchView {
                claim_window: w,
                ..batch(CouponKind::Cash)
            };
            assert_eq!(reason(bind(&b)), "BATCH_CLAIM_WINDOW_TOO_NARROW");
        }
    }

    #[test]
    fn oc6_rejects_a_batch_outside_the_interactive_channel() {
        for c in [Channel::General, Channel::Crm, Channel::SprintPlan] {
            let b = BatchView {
                channel: c,
                ..batch(CouponKind::Cash)
            };
            assert_eq!(reason(bind(&b)), "BATCH_NOT_INTERACTIVE");
        }
    }

    #[test]
    fn oc6_rejects_a_batch_that_is_not_active() {
        for s in [
            BatchStatus::Draft,
            BatchStatus::PendingApproval,
            BatchStatus::Ended,
            BatchStatus::Closed,
        ] {
            let b = BatchView {
                status: s,
                ..batch(CouponKind::Cash)
            };
            assert_eq!(reason(bind(&b)), "BATCH_NOT_ACTIVE");
        }
    }

    #[test]
    fn oc6_rejects_absolute_validity() {
        let b = BatchView {
            validity: Validity::Absolute,
            ..batch(CouponKind::Cash)
        };
        assert_eq!(reason(bind(&b)), "BATCH_VALIDITY_NOT_RELATIVE");
    }

    #[test]
    fn oc6_the_batch_kind_must_match_the_prize_type_and_shop() {
        assert_eq!(
            reason(bind(&batch(CouponKind::Threshold))),
            "BATCH_KIND_MISMATCH"
        );
        assert!(
            check_coupon_binding(
                PrizeType::ThresholdCoupon,
                shop(),
                &window(0, 72),
                &batch(CouponKind::Threshold)
            )
            .is_ok()
        );
        let foreign = BatchView {
            shop: ShopId::from(uuid::Uuid::from_u128(2)),
            ..batch(CouponKind::Cash)
        };
        assert_eq!(reason(bind(&foreign)), "BATCH_OF_ANOTHER_SHOP");
    }

    #[test]
    fn oc8_pack_stock_is_the_smallest_capacity() {
        assert_eq!(pack_stock(100, &[Some(40), None, Some(70)]), 40);
        assert_eq!(pack_stock(30, &[Some(40), None]), 30);
        assert_eq!(pack_stock(100, &[None]), 100);
        assert_eq!(pack_stock(100, &[Some(0)]), 0);
        assert_eq!(pack_stock(-3, &[]), 0);
    }

    #[test]
    fn oc9_status_follows_the_window_and_closing() {
        let w = window(10, 100);
        assert_eq!(status_at(&w, None, at(9)), CampaignStatus::Scheduled);
        assert_eq!(status_at(&w, None, at(10)), CampaignStatus::Live);
        assert_eq!(status_at(&w, None, at(100)), CampaignStatus::Ended);
        assert_eq!(status_at(&w, Some(at(50)), at(50)), CampaignStatus::Closed);
        assert_eq!(status_at(&w, Some(at(50)), at(49)), CampaignStatus::Live);
    }

    #[test]
    fn oc9_scheduled_and_live_campaigns_can_be_closed_at_any_time() {
        assert_eq!(
            check_close(CampaignStatus::Scheduled).ok(),
            Some(Close::Close)
        );
        assert_eq!(check_close(CampaignStatus::Live).ok(), Some(Close::Close));
        assert_eq!(
            check_close(CampaignStatus::Closed).ok(),
            Some(Close::AlreadyClosed)
        );
        assert_eq!(reason(check_close(CampaignStatus::Ended)), "CAMPAIGN_ENDED");
    }

    proptest! {
        /// OC-3: overlap is symmetric, and two windows overlap exactly when some instant
        /// lies in both (checked on whole hours, the windows' granularity here).
        #[test]
        fn oc3_overlap_is_symmetric_and_means_a_shared_instant(
            a in 0i64..50, la in 1i64..30, b in 0i64..50, lb in 1i64..30,
        ) {
            let x = window(a, a + la);
            let y = window(b, b + lb);
            prop_assert_eq!(x.overlaps(&y), y.overlaps(&x));
            let shared = (0..100).any(|h| x.contains(at(h)) && y.contains(at(h)));
            prop_assert_eq!(x.overlaps(&y), shared);
        }

        /// OC-8: the pack stock never exceeds the gift quantity left or any capacity.
        #[test]
        fn oc8_pack_stock_is_a_lower_bound(
            left in -5i64..1000,
            caps in proptest::collection::vec(proptest::option::of(0i64..1000), 0..4),
        ) {
            let stock = pack_stock(left, &caps);
            prop_assert!(stock >= 0);
            prop_assert!(stock <= left.max(0));
            for c in caps.iter().flatten() {
                prop_assert!(stock <= *c);
            }
        }

        /// OC-1: any name of 1..=10 characters passes, whatever its byte length.
        #[test]
        fn oc1_any_short_name_of_any_script_passes(name in "[a-z开卡有礼😀]{1,10}") {
            prop_assert!(parse(&name, 72, &beans()).is_ok());
        }
    }
}
