//! LV-6 at checkout: what a shopper pays for each cart line before coupons, given their
//! membership.
//!
//! The stacking rule (`ARCHITECTURE.md`, "Member benefits at checkout"): member benefits
//! come first and coupons apply to what is left, so a threshold coupon's threshold is met
//! by what the shopper pays, not by list prices.
//! - A line with a member price costs quantity x member price for a member whose level
//!   grants exclusive access; the level discount does not apply on top of it (one member
//!   benefit per line). Anyone else pays the unit price less their level discount, and the
//!   line says why the member price did not apply.
//! - Any other line costs its list amount less the level discount, rounded half up to the
//!   fen.
//! - A member-exclusive line is sold only to members whose level grants exclusive access;
//!   for anyone else it is not purchasable (its reason tells the storefront why) and is
//!   left out of coupon evaluation.

use crate::domain::coupon::{Cart, CartLine};

/// The shopper's membership as it prices a cart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct MemberTerms {
    /// 0 for a non-member (and a member whose membership is not active).
    pub level: i32,
    /// 95: the member pays 95 % (9.5 fold); 0: no discount.
    pub discount_percent: i32,
    /// The level grants member-exclusive items and prices.
    pub exclusive_access: bool,
    /// The lowest level that grants exclusive access; 0 when none does.
    pub exclusive_access_level: i32,
}

impl MemberTerms {
    /// Why this shopper may not have member-exclusive items and prices, if they may not.
    pub(crate) fn refusal(&self) -> Option<Refusal> {
        if self.level == 0 {
            Some(Refusal::MembersOnly)
        } else if !self.exclusive_access {
            Some(Refusal::LevelTooLow)
        } else {
            None
        }
    }

    /// `amount` less the level discount, rounded half up to the fen.
    pub(crate) fn discounted(&self, amount: i64) -> i64 {
        if !(1..=99).contains(&self.discount_percent) {
            return amount;
        }
        // i128: an amount may be near i64::MAX / 100.
        let paid = (i128::from(amount) * i128::from(self.discount_percent) + 50) / 100;
        i64::try_from(paid).unwrap_or(amount)
    }
}

/// Why a member-exclusive line (or price) is not for this shopper.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    MembersOnly,
    LevelTooLow,
}

impl Refusal {
    /// The stable UPPER_SNAKE reason.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Refusal::MembersOnly => "MEMBERS_ONLY",
            Refusal::LevelTooLow => "LEVEL_TOO_LOW",
        }
    }

    pub(crate) fn message(self) -> &'static str {
        match self {
            Refusal::MembersOnly => "only members may buy this item at this price",
            Refusal::LevelTooLow => "the member's level does not grant exclusive access",
        }
    }
}

/// One cart line as this shopper pays for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LinePrice {
    pub sku: String,
    pub list_amount_fen: i64,
    pub payable_fen: i64,
    pub purchasable: bool,
    /// Why the line is not purchasable, or why its member price did not apply.
    pub refusal: Option<Refusal>,
}

/// A cart priced for one shopper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PricedCart {
    /// The purchasable lines with the member benefit taken off: what coupons apply to.
    pub cart: Cart,
    /// Every line of the request, in order.
    pub lines: Vec<LinePrice>,
    /// The terms it was priced with.
    pub terms: MemberTerms,
}

impl PricedCart {
    /// What the purchasable lines cost before coupons.
    pub(crate) fn payable(&self) -> i64 {
        self.cart.lines.iter().map(CartLine::amount).sum()
    }

    /// The member benefit on the purchasable lines.
    pub(crate) fn member_discount(&self) -> i64 {
        self.cart.lines.iter().map(|l| l.member_discount_fen).sum()
    }

    /// The first line the shopper may not buy.
    pub(crate) fn first_refused(&self) -> Option<&LinePrice> {
        self.lines.iter().find(|l| !l.purchasable)
    }
}

/// LV-6: prices `cart` for a shopper with `member`'s terms.
pub(crate) fn price(cart: Cart, member: &MemberTerms) -> PricedCart {
    let refusal = member.refusal();
    let mut lines = Vec::with_capacity(cart.lines.len());
    let mut purchasable = Vec::with_capacity(cart.lines.len());
    for mut line in cart.lines {
        let list = line.list_amount();
        if line.member_exclusive && refusal.is_some() {
            lines.push(LinePrice {
                sku: line.sku,
                list_amount_fen: list,
                payable_fen: list,
                purchasable: false,
                refusal,
            });
            continue;
        }
        let (payable, why) = match (line.member_price_fen, refusal) {
            (0, _) => (member.discounted(list), None),
            (price, None) => (line.quantity * price, None),
            (_, denied) => (member.discounted(list), denied),
        };
        line.member_discount_fen = list - payable;
        lines.push(LinePrice {
            sku: line.sku.clone(),
            list_amount_fen: list,
            payable_fen: payable,
            purchasable: true,
            refusal: why,
        });
        purchasable.push(line);
    }
    PricedCart {
        cart: Cart {
            shop: cart.shop,
            region: cart.region,
            lines: purchasable,
        },
        lines,
        terms: *member,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::ids::ShopId;

    fn line(sku: &str, quantity: i64, price: i64) -> CartLine {
        CartLine {
            sku: sku.into(),
            category: "tea".into(),
            quantity,
            unit_price_fen: price,
            member_exclusive: false,
            member_price_fen: 0,
            member_discount_fen: 0,
        }
    }

    fn cart(lines: Vec<CartLine>) -> Cart {
        Cart {
            shop: ShopId::new(),
            region: None,
            lines,
        }
    }

    fn member(level: i32, discount_percent: i32, exclusive_access: bool) -> MemberTerms {
        MemberTerms {
            level,
            discount_percent,
            exclusive_access,
            exclusive_access_level: 2,
        }
    }

    #[test]
    fn lv6_the_level_discount_is_taken_off_every_line_rounded_half_up() {
        // 3 x 3.33 = 9.99 yuan at 95 %: 949.05 fen -> 949
        let priced = price(
            cart(vec![line("a", 3, 333), line("b", 1, 10_000)]),
            &member(1, 95, false),
        );
        assert_eq!(priced.lines[0].payable_fen, 949);
        assert_eq!(priced.lines[1].payable_fen, 9_500);
        assert_eq!(priced.payable(), 10_449);
        assert_eq!(priced.member_discount(), 999 + 10_000 - 10_449);
        // 1 x 0.10 at 95 %: 9.5 fen rounds up to 10: the shopper never pays a half fen
        let tiny = price(cart(vec![line("c", 1, 10)]), &member(1, 95, false));
        assert_eq!(tiny.lines[0].payable_fen, 10);
    }

    #[test]
    fn lv6_non_members_and_members_without_a_discount_pay_list() {
        let lines = vec![line("a", 2, 5_000)];
        for terms in [MemberTerms::default(), member(1, 0, false)] {
            let priced = price(cart(lines.clone()), &terms);
            assert_eq!(priced.payable(), 10_000);
            assert_eq!(priced.member_discount(), 0);
        }
    }

    #[test]
    fn lv6_exclusive_items_are_refused_below_the_level_and_to_non_members() {
        let mut exclusive = line("x", 1, 8_000);
        exclusive.member_exclusive = true;
        let lines = vec![line("a", 1, 2_000), exclusive];
        let cases = [
            (MemberTerms::default(), Some(Refusal::MembersOnly)),
            (member(1, 95, false), Some(Refusal::LevelTooLow)),
            (member(2, 90, true), None),
        ];
        for (terms, expected) in cases {
            let priced = price(cart(lines.clone()), &terms);
            assert_eq!(priced.lines[1].purchasable, expected.is_none());
            assert_eq!(priced.lines[1].refusal, expected);
            assert_eq!(
                priced.first_refused().map(|l| l.sku.as_str()),
                expected.map(|_| "x")
            );
            // a refused line is left out of what coupons see
            assert_eq!(
                priced.cart.lines.len(),
                if expected.is_some() { 1 } else { 2 }
            );
        }
    }

    #[test]
    fn lv6_a_member_price_replaces_the_level_discount_for_those_with_access() {
        let mut priced_item = line("m", 2, 10_000);
        priced_item.member_price_fen = 7_000;
        let with_access = price(cart(vec![priced_item.clone()]), &member(2, 90, true));
        assert_eq!(with_access.lines[0].payable_fen, 14_000);
        assert_eq!(with_access.lines[0].refusal, None);
        // one level short: the level discount, and the reason the member price did not apply
        let short = price(cart(vec![priced_item.clone()]), &member(1, 95, false));
        assert_eq!(short.lines[0].payable_fen, 19_000);
        assert_eq!(short.lines[0].refusal, Some(Refusal::LevelTooLow));
        assert!(short.lines[0].purchasable);
        let stranger = price(cart(vec![priced_item]), &MemberTerms::default());
        assert_eq!(stranger.lines[0].payable_fen, 20_000);
        assert_eq!(stranger.lines[0].refusal, Some(Refusal::MembersOnly));
    }

    proptest! {
        #[test]
        fn lv6_payable_never_exceeds_list_nor_goes_negative(
            quantity in 1i64..100_000,
            price_fen in 0i64..1_000_000_000,
            percent in 0i32..100,
            member_price_share in 0i64..=100,
            exclusive_access in any::<bool>(),
        ) {
            let mut l = line("p", quantity, price_fen);
            l.member_price_fen = price_fen * member_price_share / 100;
            let priced = price(cart(vec![l]), &member(1, percent, exclusive_access));
            let p = &priced.lines[0];
            prop_assert!(p.payable_fen >= 0);
            prop_assert!(p.payable_fen <= p.list_amount_fen);
            prop_assert_eq!(priced.member_discount(), p.list_amount_fen - p.payable_fen);
        }
    }
}
