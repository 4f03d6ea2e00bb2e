//! CP-5 and CP-6: issued coupons, their wallet state, and what they take off a cart.

use chrono::{DateTime, Utc};
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::input;

use super::batch::{Kind, MAX_CODE_CHARS, MAX_FEN, Terms, Window};
use super::ids::{BatchId, BatchKey, CouponId, IssueId, OrderId, ShopId, UserId};

/// A coupon's state as stored; EXPIRED is never stored (see [`State`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoredState {
    Available,
    Locked,
    Used,
}

memberhub_kit::db_enum!(pub StoredState { Available => "AVAILABLE", Locked => "LOCKED", Used => "USED" });

/// CP-5: the wallet states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Available,
    Locked,
    Used,
    Expired,
}

impl State {
    /// EXPIRED is derived from the validity at read time, so it never lags behind a job:
    /// an unused, unlocked coupon past its validity is expired. A locked coupon stays
    /// LOCKED (its order decides); releasing it after its validity shows it EXPIRED.
    pub(crate) fn at(stored: StoredState, valid_until: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        match stored {
            StoredState::Available if now >= valid_until => State::Expired,
            StoredState::Available => State::Available,
            StoredState::Locked => State::Locked,
            StoredState::Used => State::Used,
        }
    }
}

/// An issued coupon with its batch's terms (never the batch's internal name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Coupon {
    pub id: CouponId,
    pub code: String,
    pub batch: BatchId,
    pub batch_key: BatchKey,
    pub shop: ShopId,
    pub user: UserId,
    pub issue: IssueId,
    pub terms: Terms,
    pub giftable: bool,
    pub valid: Window,
    pub stored: StoredState,
    /// The state at the time it was read.
    pub state: State,
    pub order: Option<OrderId>,
    pub issued_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
}

/// The most coupons one evaluation or lock names.
pub const MAX_COUPONS_PER_CALL: usize = 50;

/// Coupon ids of a request: 1 to 50, each a UUID, none twice.
pub(crate) fn parse_ids(raw: &[String]) -> Result<Vec<CouponId>, Failure> {
    let mut v = Violations::new();
    if raw.is_empty() || raw.len() > MAX_COUPONS_PER_CALL {
        v.add(
            "coupon_ids",
            format!("must name 1 to {MAX_COUPONS_PER_CALL} coupons"),
        );
    }
    let mut ids: Vec<CouponId> = Vec::with_capacity(raw.len());
    for (i, id) in raw.iter().enumerate() {
        let field = format!("coupon_ids[{i}]");
        match CouponId::parse(&field, id) {
            Ok(id) if ids.contains(&id) => v.add(field, "appears twice"),
            Ok(id) => ids.push(id),
            Err(violation) => {
                v.check::<()>(Err(violation));
            }
        }
    }
    v.finish().map(|()| ids)
}

// ------------------------------------------------------------------ carts (CP-6)

/// The largest quantity of one line.
pub const MAX_LINE_QUANTITY: i64 = 100_000;
/// The most lines a cart may have.
pub const MAX_LINES: usize = 500;

/// One line of a cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CartLine {
    pub sku: String,
    pub category: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
    /// LV-6: sold only to members whose level grants exclusive access.
    pub member_exclusive: bool,
    /// LV-6: the unit price for members with exclusive access; 0 when none.
    pub member_price_fen: i64,
    /// LV-6: the member benefit taken off the line ([`crate::domain::member_price::price`]).
    pub member_discount_fen: i64,
}

impl CartLine {
    /// quantity x unit price.
    pub(crate) fn list_amount(&self) -> i64 {
        self.quantity * self.unit_price_fen
    }

    /// What the shopper pays for the line before coupons.
    pub(crate) fn amount(&self) -> i64 {
        self.list_amount() - self.member_discount_fen
    }
}

/// A validated cart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cart {
    pub shop: ShopId,
    /// `None` when unknown: then region-limited coupons are not usable.
    pub region: Option<String>,
    pub lines: Vec<CartLine>,
}

/// A line as received.
#[derive(Debug, Clone, Default)]
pub(crate) struct LineInput {
    pub sku: String,
    pub category: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
    pub member_exclusive: bool,
    pub member_price_fen: i64,
}

impl Cart {
    pub(crate) fn parse(
        shop_id: &str,
        region: &str,
        lines: Vec<LineInput>,
    ) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let shop = v.check(ShopId::parse("shop_id", shop_id));
        let region = v
            .check(input::optional_text("region", region, MAX_CODE_CHARS))
            .flatten();
        if lines.is_empty() || lines.len() > MAX_LINES {
            v.add("lines", format!("must have 1 to {MAX_LINES} lines"));
        }
        let mut parsed = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let sku = v.check(input::text(
                &format!("lines[{i}].sku"),
                &line.sku,
                MAX_CODE_CHARS,
            ));
            let category = v.check(input::text(
                &format!("lines[{i}].category"),
                &line.category,
                MAX_CODE_CHARS,
            ));
            if !(1..=MAX_LINE_QUANTITY).contains(&line.quantity) {
                v.add(
                    format!("lines[{i}].quantity"),
                    format!("must be 1 to {MAX_LINE_QUANTITY}"),
                );
            }
            if !(0..=MAX_FEN).contains(&line.unit_price_fen) {
                v.add(
                    format!("lines[{i}].unit_price_fen"),
                    format!("must be 0 to {MAX_FEN} fen"),
                );
            }
            if !(0..=line.unit_price_fen.max(0)).contains(&line.member_price_fen) {
                v.add(
                    format!("lines[{i}].member_price_fen"),
                    "must be 0 (none) to unit_price_fen",
                );
            }
            if let (Some(sku), Some(category)) = (sku, category) {
                parsed.push(CartLine {
                    sku,
                    category,
                    quantity: line.quantity,
                    unit_price_fen: line.unit_price_fen,
                    member_exclusive: line.member_exclusive,
                    member_price_fen: line.member_price_fen,
                    member_discount_fen: 0,
                });
            }
        }
        v.finish()?;
        let shop = shop.ok_or(Failure::Internal)?;
        Ok(Self {
            shop,
            region,
            lines: parsed,
        })
    }

    /// The cart's list total in fen (bounded: 500 lines of at most 10^5 x 10^9 fen fit in
    /// i64).
    pub(crate) fn total(&self) -> i64 {
        self.lines.iter().map(CartLine::list_amount).sum()
    }
}

/// Why a coupon cannot be used on a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unusable {
    NotFound,
    WrongShop,
    Locked,
    Used,
    Expired,
    NotYetValid,
    RegionNotCovered,
    NoEligibleItems,
    ThresholdNotMet,
}

impl Unusable {
    /// The stable UPPER_SNAKE reason.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Unusable::NotFound => "COUPON_NOT_FOUND",
            Unusable::WrongShop => "WRONG_SHOP",
            Unusable::Locked => "COUPON_LOCKED",
            Unusable::Used => "COUPON_USED",
            Unusable::Expired => "COUPON_EXPIRED",
            Unusable::NotYetValid => "COUPON_NOT_YET_VALID",
            Unusable::RegionNotCovered => "REGION_NOT_COVERED",
            Unusable::NoEligibleItems => "NO_ELIGIBLE_ITEMS",
            Unusable::ThresholdNotMet => "THRESHOLD_NOT_MET",
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Unusable::NotFound => "the shopper holds no such coupon",
            Unusable::WrongShop => "the coupon is for another shop",
            Unusable::Locked => "the coupon is locked by an order",
            Unusable::Used => "the coupon was used",
            Unusable::Expired => "the coupon has expired",
            Unusable::NotYetValid => "the coupon is not valid yet",
            Unusable::RegionNotCovered => "the coupon does not cover the delivery region",
            Unusable::NoEligibleItems => "no item of the cart is in the coupon's scope",
            Unusable::ThresholdNotMet => "the items in scope do not reach the coupon's threshold",
        }
    }
}

/// CP-6: the discount `coupon` gives on `cart` at `now`, or why it gives none.
pub(crate) fn evaluate(coupon: &Coupon, cart: &Cart, now: DateTime<Utc>) -> Result<i64, Unusable> {
    if coupon.shop != cart.shop {
        return Err(Unusable::WrongShop);
    }
    match State::at(coupon.stored, coupon.valid.end, now) {
        State::Locked => return Err(Unusable::Locked),
        State::Used => return Err(Unusable::Used),
        State::Expired => return Err(Unusable::Expired),
        State::Available => {}
    }
    if now < coupon.valid.start {
        return Err(Unusable::NotYetValid);
    }
    usable_on(&coupon.terms, cart)
}

/// The terms alone applied to a cart: region, item scope, threshold, discount and cap.
pub(crate) fn usable_on(terms: &Terms, cart: &Cart) -> Result<i64, Unusable> {
    if !terms.regions.is_empty()
        && !cart
            .region
            .as_ref()
            .is_some_and(|r| terms.regions.contains(r))
    {
        return Err(Unusable::RegionNotCovered);
    }
    let eligible: i64 = cart
        .lines
        .iter()
        .filter(|l| terms.item_scope.includes(&l.sku, &l.category))
        .map(CartLine::amount)
        .sum();
    if eligible <= 0 {
        return Err(Unusable::NoEligibleItems);
    }
    discount(terms, eligible)
}

/// The discount of `terms` on `eligible` fen of in-scope items: never more than those items
/// cost, never negative.
pub(crate) fn discount(terms: &Terms, eligible: i64) -> Result<i64, Unusable> {
    if eligible < terms.threshold_fen {
        return Err(Unusable::ThresholdNotMet);
    }
    let raw = match terms.kind {
        Kind::Threshold | Kind::Cash => terms.face_value_fen,
        Kind::Discount => {
            // i128: eligible may be near i64::MAX / 100.
            let off = i128::from(eligible) * i128::from(terms.discount_percent) / 100;
            let off = i64::try_from(off).unwrap_or(i64::MAX);
            if terms.discount_cap_fen > 0 {
                off.min(terms.discount_cap_fen)
            } else {
                off
            }
        }
    };
    Ok(raw.clamp(0, eligible))
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use proptest::prelude::*;

    use super::*;
    use crate::domain::batch::ItemScope;
    use crate::domain::batch::tests::at;

    fn terms(kind: Kind, face: i64, threshold: i64, percent: i32, cap: i64) -> Terms {
        Terms {
            kind,
            face_value_fen: face,
            threshold_fen: threshold,
            discount_percent: percent,
            discount_cap_fen: cap,
            item_scope: ItemScope::default(),
            regions: Vec::new(),
        }
    }

    fn line(sku: &str, category: &str, quantity: i64, price: i64) -> CartLine {
        CartLine {
            sku: sku.into(),
            category: category.into(),
            quantity,
            unit_price_fen: price,
            member_exclusive: false,
            member_price_fen: 0,
            member_discount_fen: 0,
        }
    }

    fn cart(shop: ShopId, region: Option<&str>, lines: Vec<CartLine>) -> Cart {
        Cart {
            shop,
            region: region.map(str::to_string),
            lines,
        }
    }

    fn coupon(shop: ShopId, terms: Terms, valid: Window) -> Coupon {
        Coupon {
            id: CouponId::new(),
            code: "CODE".into(),
            batch: BatchId::new(),
            batch_key: BatchKey::random(),
            shop,
            user: UserId::from_db("u1".into()),
            issue: IssueId::new(),
            terms,
            giftable: false,
            valid,
            stored: StoredState::Available,
            state: State::Available,
            order: None,
            issued_at: valid.start,
            used_at: None,
        }
    }

    #[test]
    fn cp6_threshold_coupon_needs_the_threshold_in_scope() {
        let t = terms(Kind::Threshold, 2_000, 10_000, 0, 0);
        assert_eq!(discount(&t, 9_999), Err(Unusable::ThresholdNotMet));
        assert_eq!(discount(&t, 10_000), Ok(2_000));
    }

    #[test]
    fn cp6_discount_is_capped() {
        let t = terms(Kind::Discount, 0, 0, 10, 500);
        assert_eq!(discount(&t, 3_000), Ok(300));
        assert_eq!(discount(&t, 90_000), Ok(500));
        let uncapped = terms(Kind::Discount, 0, 0, 10, 0);
        assert_eq!(discount(&uncapped, 90_000), Ok(9_000));
    }

    #[test]
    fn cp6_cash_never_exceeds_the_items_in_scope() {
        let t = terms(Kind::Cash, 5_000, 0, 0, 0);
        assert_eq!(discount(&t, 1_200), Ok(1_200));
    }

    #[test]
    fn cp6_item_scope_counts_only_listed_categories_or_skus() {
        let shop = ShopId::new();
        let mut t = terms(Kind::Threshold, 1_000, 5_000, 0, 0);
        t.item_scope = ItemScope {
            categories: vec!["tea".into()],
            skus: vec!["cup-1".into()],
        };
        let lines = vec![
            line("green-1", "tea", 2, 2_000),
            line("cup-1", "ware", 1, 1_000),
            line("pot-9", "ware", 1, 50_000),
        ];
        assert_eq!(usable_on(&t, &cart(shop, None, lines)), Ok(1_000));
        let only_pots = vec![line("pot-9", "ware", 1, 50_000)];
        assert_eq!(
            usable_on(&t, &cart(shop, None, only_pots)),
            Err(Unusable::NoEligibleItems)
        );
        let too_little = vec![line("green-1", "tea", 1, 2_000)];
        assert_eq!(
            usable_on(&t, &cart(shop, None, too_little)),
            Err(Unusable::ThresholdNotMet)
        );
    }

    #[test]
    fn cp6_region_limited_coupons_need_a_listed_region() {
        let shop = ShopId::new();
        let mut t = terms(Kind::Cash, 500, 0, 0, 0);
        t.regions = vec!["310000".into()];
        let lines = || vec![line("a", "b", 1, 1_000)];
        assert_eq!(usable_on(&t, &cart(shop, Some("310000"), lines())), Ok(500));
        assert_eq!(
            usable_on(&t, &cart(shop, Some("110000"), lines())),
            Err(Unusable::RegionNotCovered)
        );
        assert_eq!(
            usable_on(&t, &cart(shop, None, lines())),
            Err(Unusable::RegionNotCovered)
        );
    }

    #[test]
    fn cp5_cp6_state_and_validity_decide_first() {
        let shop = ShopId::new();
        let valid = Window {
            start: at(10, 0),
            end: at(12, 0),
        };
        let t = terms(Kind::Cash, 500, 0, 0, 0);
        let c = coupon(shop, t, valid);
        let basket = cart(shop, None, vec![line("a", "b", 1, 1_000)]);
        assert_eq!(evaluate(&c, &basket, at(9, 59)), Err(Unusable::NotYetValid));
        assert_eq!(evaluate(&c, &basket, at(10, 0)), Ok(500));
        assert_eq!(evaluate(&c, &basket, at(12, 0)), Err(Unusable::Expired));
        let other = cart(ShopId::new(), None, vec![line("a", "b", 1, 1_000)]);
        assert_eq!(evaluate(&c, &other, at(11, 0)), Err(Unusable::WrongShop));
        let mut locked = c.clone();
        locked.stored = StoredState::Locked;
        assert_eq!(evaluate(&locked, &basket, at(13, 0)), Err(Unusable::Locked));
        let mut used = c;
        used.stored = StoredState::Used;
        assert_eq!(evaluate(&used, &basket, at(11, 0)), Err(Unusable::Used));
    }

    #[test]
    fn cp5_expiry_is_derived_at_the_validity_end() {
        let end = at(12, 0);
        assert_eq!(
            State::at(StoredState::Available, end, end - Duration::seconds(1)),
            State::Available
        );
        assert_eq!(State::at(StoredState::Available, end, end), State::Expired);
        assert_eq!(State::at(StoredState::Locked, end, end), State::Locked);
        assert_eq!(State::at(StoredState::Used, end, end), State::Used);
    }

    #[test]
    fn cp6_cart_lines_name_the_bad_field() {
        let shop = ShopId::new().to_string();
        let lines = vec![
            LineInput {
                sku: "a".into(),
                category: "b".into(),
                quantity: 1,
                unit_price_fen: 100,
                member_exclusive: true,
                member_price_fen: 101,
            },
            LineInput {
                sku: "".into(),
                category: "b".into(),
                quantity: 0,
                unit_price_fen: -1,
                ..LineInput::default()
            },
        ];
        let Err(Failure::InvalidArgument(v)) = Cart::parse(&shop, "", lines) else {
            panic!("expected invalid argument")
        };
        let fields: Vec<_> = v.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "lines[0].member_price_fen",
                "lines[1].sku",
                "lines[1].quantity",
                "lines[1].unit_price_fen"
            ]
        );
    }

    fn any_terms() -> impl Strategy<Value = Terms> {
        prop_oneof![
            (1..MAX_FEN)
                .prop_flat_map(|face| (Just(face), face + 1..=MAX_FEN + 1))
                .prop_map(|(face, threshold)| terms(Kind::Threshold, face, threshold, 0, 0)),
            (1..MAX_FEN).prop_map(|face| terms(Kind::Cash, face, 0, 0, 0)),
            (1..=99i32, 0..MAX_FEN, 0..MAX_FEN).prop_map(|(percent, cap, threshold)| terms(
                Kind::Discount,
                0,
                threshold,
                percent,
                cap
            )),
        ]
    }

    proptest! {
        /// CP-6: a discount is never negative, never more than the items in scope, never
        /// more than the face value or cap, and only when the threshold is met.
        #[test]
        fn cp6_discount_stays_within_its_bounds(t in any_terms(), eligible in 1..(MAX_FEN * 1000)) {
            match discount(&t, eligible) {
                Ok(off) => {
                    prop_assert!(off >= 0 && off <= eligible);
                    prop_assert!(eligible >= t.threshold_fen);
                    match t.kind {
                        Kind::Threshold | Kind::Cash => prop_assert!(off <= t.face_value_fen),
                        Kind::Discount => {
                            prop_assert!(off <= eligible * i64::from(t.discount_percent) / 100);
                            if t.discount_cap_fen > 0 {
                                prop_assert!(off <= t.discount_cap_fen);
                            }
                        }
                    }
                }
                Err(reason) => {
                    prop_assert_eq!(reason, Unusable::ThresholdNotMet);
                    prop_assert!(eligible < t.threshold_fen);
                }
            }
        }

        /// CP-6: more in-scope spend never lowers the discount.
        #[test]
        fn cp6_discount_is_monotonic_in_spend(t in any_terms(), a in 1..MAX_FEN, extra in 0..MAX_FEN) {
            if let (Ok(low), Ok(high)) = (discount(&t, a), discount(&t, a + extra)) {
                prop_assert!(low <= high);
            }
            if discount(&t, a).is_ok() {
                prop_assert!(discount(&t, a + extra).is_ok());
            }
        }
    }
}
