//! GP-1..GP-8: new-member and member gift packs — composition, quantity, overlap,
//! eligibility, pop-ups and the new-member exclusive coupon or gift.

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::input;

use super::types::{
    BatchKey, BatchStatus, BatchView, Channel, MAX_WINDOW, MemberView, PackId, ShopView, Window,
};

/// A pack name's length in characters (the spec gives none; the card name's 20 is reused).
pub const MAX_NAME_CHARS: usize = 20;
/// GP-2/GP-4: a gift item's sku and title, in characters.
pub const MAX_SKU_CHARS: usize = 64;
pub const MAX_TITLE_CHARS: usize = 60;
/// GP-2: coupon batches per pack.
pub const MAX_BATCHES: usize = 3;
/// GP-1: how long after the first-ever join a shopper counts as new.
pub(crate) const NEW_MEMBER_FOR: Duration = Duration::hours(24);
/// LV-1: levels are numbered 1..=5.
pub const MAX_LEVEL: i32 = 5;

/// Which pack (GP-1 new-member, GP-6 member).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PackKind {
    NewMember,
    Member,
}

memberhub_kit::db_enum!(pub(crate) PackKind { NewMember => "NEW_MEMBER", Member => "MEMBER" });

/// A gift item as merchandise knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GiftItemView {
    pub sku: String,
    /// The item is listed in the gift category.
    pub in_gift_category: bool,
    pub stock: i64,
}

/// A gift item set aside for a pack or an exclusive gift: `quantity` units of `sku`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GiftItem {
    pub sku: String,
    pub quantity: i64,
}

/// A pack as requested, with the views the caller looked up for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PackRequest<'a> {
    pub kind: PackKind,
    pub name: &'a str,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// The batches named by the request, in request order.
    pub batches: &'a [BatchView],
    /// The requested item and quantity, with the item as merchandise reports it.
    pub gift_item: Option<(GiftItem, GiftItemView)>,
    /// `None`: default to the smallest component stock (GP-3).
    pub quantity: Option<i64>,
    pub min_level: Option<i32>,
    pub popup: Option<(DateTime<Utc>, DateTime<Utc>)>,
}

/// A validated pack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewPack {
    pub kind: PackKind,
    pub name: String,
    pub window: Window,
    pub batch_keys: Vec<BatchKey>,
    pub gift_item: Option<GiftItem>,
    pub quantity: i64,
    pub min_level: Option<i32>,
    pub popup: Option<Window>,
}

impl NewPack {
    /// GP-2, GP-3, GP-6, GP-7: checks the whole request and reports every violation.
    pub(crate) fn parse(shop: &ShopView, req: &PackRequest<'_>) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let name = v.check(input::text("name", req.name, MAX_NAME_CHARS));
        let window = match Window::new(req.start, req.end) {
            None => {
                v.add("end_time", "must be after start_time");
                None
            }
            Some(w) if w.duration() > MAX_WINDOW => {
                v.add("end_time", "the pack may run at most 366 days");
                None
            }
            Some(w) => Some(w),
        };
        check_batches(&mut v, shop, req.batches);
        if let Some((item, view)) = &req.gift_item {
            check_gift_item(&mut v, "gift_item", shop, item, view);
        }
        let quantity = check_quantity(&mut v, req);
        match (req.kind, req.min_level) {
            (_, None) => {}
            (PackKind::NewMember, Some(_)) => {
                v.add("min_level", "only member packs have a minimum level")
            }
            (PackKind::Member, Some(l)) if !(1..=MAX_LEVEL).contains(&l) => {
                v.add("min_level", "must be a level from 1 to 5")
            }
            (PackKind::Member, Some(_)) => {}
        }
        let popup = match (req.kind, req.popup) {
            (_, None) => None,
            (PackKind::NewMember, Some(_)) => {
                v.add(
                    "popup_start_time",
                    "a new-member pack pops up when the shopper joins; it has no pop-up window",
                );
                None
            }
            (PackKind::Member, Some((start, end))) => match (Window::new(start, end), window) {
                (None, _) => {
                    v.add("popup_end_time", "must be after popup_start_time");
                    None
                }
                (Some(p), Some(w)) if !w.covers(&p) => {
                    v.add(
                        "popup_start_time",
                        "the pop-up window must lie within the pack's validity",
                    );
                    None
                }
                (p, _) => p,
            },
        };
        v.finish()?;
        Ok(Self {
            kind: req.kind,
            name: name.expect("a bad name was recorded as a violation"),
            window: window.expect("a missing window was recorded as a violation"),
            batch_keys: req.batches.iter().map(|b| b.key.clone()).collect(),
            gift_item: req.gift_item.as_ref().map(|(item, _)| item.clone()),
            quantity: quantity.expect("a bad quantity was recorded as a violation"),
            min_level: req.min_level,
            popup,
        })
    }
}

/// GP-2: 1..=3 distinct batches of the shop, `CRM`, `ACTIVE`, shop-wide.
fn check_batches(v: &mut Violations, shop: &ShopView, batches: &[BatchView]) {
    if !(1..=MAX_BATCHES).contains(&batches.len()) {
        v.add("batch_keys", "must name 1 to 3 coupon batches");
    }
    for (i, b) in batches.iter().enumerate() {
        let field = format!("batch_keys[{i}]");
        if batches[..i].iter().any(|o| o.key == b.key) {
            v.add(
                &field,
                format!("{} appears twice; batches must differ", b.key),
            );
        }
        if b.shop != shop.shop {
            v.add(&field, format!("{} belongs to another shop", b.key));
        }
        if b.channel != Channel::Crm {
            v.add(&field, format!("{} must be a CRM batch", b.key));
        }
        if b.status != BatchStatus::Active {
            v.add(&field, format!("{} must be ACTIVE", b.key));
        }
        if !b.shop_wide {
            v.add(
                &field,
                format!(
                    "{} must be shop-wide (item scope all), not a product coupon",
                    b.key
                ),
            );
        }
    }
}

/// GP-2 (and GP-8's gift): the shop has `gift_items`, the item is in the gift category and
/// the quantity is 1..=its stock.
fn check_gift_item(
    v: &mut Violations,
    field: &str,
    shop: &ShopView,
    item: &GiftItem,
    view: &GiftItemView,
) {
    if !shop.gift_items {
        v.add(
            field,
            "only shops with the gift_items capability may offer a gift item",
        );
    }
    if !view.in_gift_category {
        v.add(
            format!("{field}.sku"),
            "must be an item in the gift category",
        );
    }
    if !(1..=view.stock.max(0)).contains(&item.quantity) {
        v.add(
            format!("{field}.quantity"),
            format!("must be 1 to the item's stock ({})", view.stock.max(0)),
        );
    }
}

/// GP-3: the smallest component stock (coupon batches and the gift item's quantity).
pub(crate) fn smallest_component_stock(
    batches: &[BatchView],
    gift_item: Option<&GiftItem>,
) -> Option<i64> {
    batches
        .iter()
        .map(|b| b.stock)
        .chain(gift_item.map(|g| g.quantity))
        .min()
}

/// GP-3: quantity defaults to the smallest component stock; a larger one is invalid.
fn check_quantity(v: &mut Violations, req: &PackRequest<'_>) -> Option<i64> {
    let Some(cap) =
        smallest_component_stock(req.batches, req.gift_item.as_ref().map(|(item, _)| item))
    else {
        return Some(0); // no batches: already a violation
    };
    match req.quantity {
        None if cap < 1 => {
            v.add("quantity", "a component is out of stock");
            None
        }
        None => Some(cap),
        Some(q) if q < 1 => {
            v.add("quantity", "must be at least 1");
            None
        }
        Some(q) if q > cap => {
            v.add(
                "quantity",
                format!("must not exceed the smallest component stock ({cap})"),
            );
            None
        }
        Some(q) => Some(q),
    }
}

/// Another pack of the same shop, for GP-5.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OtherPack {
    pub id: PackId,
    pub kind: PackKind,
    pub window: Window,
    pub closed: bool,
}

/// GP-5: a pack may not overlap another non-closed pack of the same kind.
pub(crate) fn check_overlap(
    kind: PackKind,
    window: &Window,
    others: &[OtherPack],
) -> Result<(), Failure> {
    match others
        .iter()
        .find(|o| o.kind == kind && !o.closed && o.window.overlaps(window))
    {
        None => Ok(()),
        Some(o) => Err(Failure::FailedPrecondition {
            reason: "PACK_WINDOW_OVERLAP",
            message: format!(
                "{} pack {} runs {} to {}, overlapping this window",
                kind.as_db(),
                o.id,
                o.window.start(),
                o.window.end()
            ),
            metadata: vec![("pack_id", o.id.to_string())],
        }),
    }
}

/// GP-1: whether the shopper is a new member at `at`, counting joins from `since` (a pack's
/// start, or when the exclusive offer was set, GP-8): their first-ever join was at or after
/// `since` and less than 24 h before `at`, and they have not quit and rejoined since.
pub(crate) fn is_new_member(member: &MemberView, since: DateTime<Utc>, at: DateTime<Utc>) -> bool {
    let Some(first) = member.first_joined_at else {
        return false;
    };
    member.in_first_period() && since <= first && first <= at && at < first + NEW_MEMBER_FOR
}

/// Why a pack cannot be claimed, as FAILED_PRECONDITION.
fn not_claimable(reason: &'static str, message: &str) -> Failure {
    Failure::precondition(reason, message)
}

/// A pack's state as claims read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PackState {
    pub kind: PackKind,
    pub window: Window,
    pub closed: bool,
    pub packs_left: i64,
    pub min_level: Option<i32>,
}

/// GP-1, GP-3, GP-6: may this shopper claim the pack at `at`?
pub(crate) fn check_claim(
    pack: &PackState,
    member: &MemberView,
    at: DateTime<Utc>,
    already_claimed: bool,
) -> Result<(), Failure> {
    if pack.closed || !pack.window.contains(at) {
        return Err(not_claimable("PACK_NOT_VALID", "the pack is not valid now"));
    }
    if already_claimed {
        return Err(not_claimable(
            "PACK_ALREADY_CLAIMED",
            "the pack was already claimed",
        ));
    }
    let Some(membership) = member.membership else {
        return Err(not_claimable(
            "NOT_A_MEMBER",
            "only members may claim the pack",
        ));
    };
    match pack.kind {
        PackKind::NewMember => {
            if !is_new_member(member, pack.window.start(), at) {
                return Err(not_claimable(
                    "NOT_A_NEW_MEMBER",
                    "the pack is for shoppers who first joined within the last 24 hours",
                ));
            }
        }
        PackKind::Member => {
            if let Some(min) = pack.min_level
                && membership.level < min
            {
                return Err(Failure::FailedPrecondition {
                    reason: "LEVEL_TOO_LOW",
                    message: format!("the pack needs level {min} or above"),
                    metadata: vec![("min_level", min.to_string())],
                });
            }
        }
    }
    if pack.packs_left <= 0 {
        return Err(Failure::ResourceExhausted {
            reason: "PACK_OUT_OF_STOCK",
            message: "no packs left".to_string(),
        });
    }
    Ok(())
}

/// GP-7: whether the member-center response flags a pop-up for this pack.
/// New-member pack: on the visit right after joining (`first_visit_since_join`), while the
/// shopper may claim it. Member pack: on the first visit inside the pop-up window
/// (`last_popup_at` is when it last popped for this shopper), while they may claim it.
pub(crate) fn show_popup(
    pack: &PackState,
    popup: Option<&Window>,
    claimable: bool,
    now: DateTime<Utc>,
    first_visit_since_join: bool,
    last_popup_at: Option<DateTime<Utc>>,
) -> bool {
    if !claimable {
        return false;
    }
    match pack.kind {
        PackKind::NewMember => first_visit_since_join,
        PackKind::Member => popup.is_some_and(|w| {
            w.contains(now) && !last_popup_at.is_some_and(|shown| w.contains(shown))
        }),
    }
}

/// GP-8: a shop's new-member exclusive offer: a CRM coupon batch and/or a gift item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ExclusiveOffer {
    pub coupon: Option<BatchKey>,
    pub gift: Option<GiftItem>,
    /// When the offer was set: joins before it do not count (GP-1 applied to the offer).
    pub since: DateTime<Utc>,
}

impl ExclusiveOffer {
    /// GP-8: at least one of the two; the coupon a CRM `ACTIVE` batch of the shop, the gift
    /// under GP-2's gift-item rules.
    pub(crate) fn parse(
        shop: &ShopView,
        coupon: Option<&BatchView>,
        gift: Option<(GiftItem, GiftItemView)>,
        since: DateTime<Utc>,
    ) -> Result<Self, Failure> {
        let mut v = Violations::new();
        if coupon.is_none() && gift.is_none() {
            v.add(
                "coupon_batch_key",
                "set an exclusive coupon, an exclusive gift or both",
            );
        }
        if let Some(b) = coupon {
            if b.shop != shop.shop {
                v.add("coupon_batch_key", "belongs to another shop");
            }
            if b.channel != Channel::Crm {
                v.add("coupon_batch_key", "must be a CRM batch");
            }
            if b.status != BatchStatus::Active {
                v.add("coupon_batch_key", "must be ACTIVE");
            }
        }
        if let Some((item, view)) = &gift {
            check_gift_item(&mut v, "gift_item", shop, item, view);
        }
        v.finish()?;
        Ok(Self {
            coupon: coupon.map(|b| b.key.clone()),
            gift: gift.map(|(item, _)| item),
            since,
        })
    }
}

/// GP-8: which of the two a new member picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExclusiveChoice {
    Coupon,
    Gift,
}

/// GP-8: a new member may claim one of the two, once per shop, whatever the packs do.
pub(crate) fn check_exclusive_claim(
    offer: &ExclusiveOffer,
    choice: ExclusiveChoice,
    member: &MemberView,
    at: DateTime<Utc>,
    already_claimed_in_shop: bool,
) -> Result<(), Failure> {
    let offered = match choice {
        ExclusiveChoice::Coupon => offer.coupon.is_some(),
        ExclusiveChoice::Gift => offer.gift.is_some(),
    };
    if !offered {
        return Err(Failure::precondition(
            "EXCLUSIVE_NOT_OFFERED",
            "the shop does not offer that exclusive",
        ));
    }
    if already_claimed_in_shop {
        return Err(Failure::precondition(
            "EXCLUSIVE_ALREADY_CLAIMED",
            "a new member may claim the exclusive coupon or gift once",
        ));
    }
    if !is_new_member(member, offer.since, at) {
        return Err(Failure::precondition(
            "NOT_A_NEW_MEMBER",
            "the exclusive is for shoppers who first joined within the last 24 hours",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::types::tests::{at, window};
    use crate::domain::types::{
        CouponKind, JoinChannel, JoinPolicy, MembershipView, ShopId, ShopType, Validity,
    };

    fn shop(gift_items: bool) -> ShopView {
        ShopView {
            shop: ShopId::from(uuid::Uuid::from_u128(1)),
            shop_type: ShopType::Pop,
            gift_items,
            join_policy: JoinPolicy::OrderOrCard,
        }
    }

    fn batch(key: &str, stock: i64) -> BatchView {
        BatchView {
            key: BatchKey::parse("k", key).expect("a valid key"),
            shop: shop(true).shop,
            kind: CouponKind::Threshold,
            channel: Channel::Crm,
            status: BatchStatus::Active,
            claim_window: window(0, 1000),
            validity: Validity::Relative { days: 7 },
            shop_wide: true,
            stock,
        }
    }

    fn gift(quantity: i64, stock: i64) -> (GiftItem, GiftItemView) {
        (
            GiftItem {
                sku: "gift-1".into(),
                quantity,
            },
            GiftItemView {
                sku: "gift-1".into(),
                in_gift_category: true,
                stock,
            },
        )
    }

    fn request<'a>(kind: PackKind, batches: &'a [BatchView]) -> PackRequest<'a> {
        PackRequest {
            kind,
            name: "新人礼",
            start: at(0),
            end: at(240),
            batches,
            gift_item: None,
            quantity: None,
            min_level: None,
            popup: None,
        }
    }

    fn fields(result: Result<NewPack, Failure>) -> Vec<String> {
        match result {
            Err(Failure::InvalidArgument(v)) => v.into_iter().map(|f| f.field).collect(),
            other => panic!("expected INVALID_ARGUMENT, got {other:?}"),
        }
    }

    fn reason<T: std::fmt::Debug>(result: Result<T, Failure>) -> &'static str {
        match result {
            Err(Failure::FailedPrecondition { reason, .. }) => reason,
            Err(Failure::ResourceExhausted { reason, .. }) => reason,
            other => panic!("expected a reasoned failure, got {other:?}"),
        }
    }

    #[test]
    fn gp2_a_pack_of_one_to_three_distinct_crm_batches_is_valid() {
        let b = [
            batch("BA_aaaaaaa", 10),
            batch("BA_bbbbbbb", 20),
            batch("BA_ccccccc", 30),
        ];
        let pack =
            NewPack::parse(&shop(false), &request(PackKind::NewMember, &b)).expect("a valid pack");
        assert_eq!(pack.batch_keys.len(), 3);
    }

    #[test]
    fn gp2_needs_at_least_one_and_at_most_three_batches() {
        assert_eq!(
            fields(NewPack::parse(
                &shop(false),
                &request(PackKind::NewMember, &[])
            )),
            vec!["batch_keys"]
        );
        let four = [
            batch("BA_aaaaaaa", 1),
            batch("BA_bbbbbbb", 1),
            batch("BA_ccccccc", 1),
            batch("BA_ddddddd", 1),
        ];
        assert_eq!(
            fields(NewPack::parse(
                &shop(false),
                &request(PackKind::NewMember, &four)
            )),
            vec!["batch_keys"]
        );
    }

    #[test]
    fn gp2_rejects_the_same_batch_twice() {
        let b = [batch("BA_aaaaaaa", 10), batch("BA_aaaaaaa", 10)];
        assert_eq!(
            fields(NewPack::parse(
                &shop(false),
                &request(PackKind::NewMember, &b)
            )),
            vec!["batch_keys[1]"]
        );
    }

    #[test]
    fn gp2_batches_must_be_crm_active_and_shop_wide() {
        let mut general = batch("BA_aaaaaaa", 10);
        general.channel = Channel::Interactive;
        let mut draft = batch("BA_bbbbbbb", 10);
        draft.status = BatchStatus::Draft;
        let mut product = batch("BA_ccccccc", 10);
        product.shop_wide = false;
        let b = [general, draft, product];
        assert_eq!(
            fields(NewPack::parse(
                &shop(false),
                &request(PackKind::NewMember, &b)
            )),
            vec!["batch_keys[0]", "batch_keys[1]", "batch_keys[2]"]
        );
    }

    #[test]
    fn gp2_name_and_window_are_required() {
        let b = [batch("BA_aaaaaaa", 10)];
        let mut req = request(PackKind::Member, &b);
        req.name = " ";
        req.end = req.start;
        assert_eq!(
            fields(NewPack::parse(&shop(false), &req)),
            vec!["name", "end_time"]
        );
    }

    #[test]
    fn gp2_a_gift_item_needs_the_gift_items_capability() {
        let b = [batch("BA_aaaaaaa", 10)];
        let mut req = request(PackKind::NewMember, &b);
        req.gift_item = Some(gift(5, 5));
        assert_eq!(
            fields(NewPack::parse(&shop(false), &req)),
            vec!["gift_item"]
        );
        let pack = NewPack::parse(&shop(true), &req).expect("gift shops may add an item");
        assert_eq!(pack.gift_item.map(|g| g.quantity), Some(5));
    }

    #[test]
    fn gp2_a_gift_item_must_be_in_the_gift_category_within_its_stock() {
        let b = [batch("BA_aaaaaaa", 10)];
        let mut req = request(PackKind::NewMember, &b);
        let (item, mut view) = gift(6, 5);
        view.in_gift_category = false;
        req.gift_item = Some((item, view));
        assert_eq!(
            fields(NewPack::parse(&shop(true), &req)),
            vec!["gift_item.sku", "gift_item.quantity"]
        );
    }

    #[test]
    fn gp3_quantity_defaults_to_the_smallest_component_stock() {
        let b = [batch("BA_aaaaaaa", 10), batch("BA_bbbbbbb", 4)];
        let pack =
            NewPack::parse(&shop(false), &request(PackKind::NewMember, &b)).expect("a valid pack");
        assert_eq!(pack.quantity, 4);
        let mut req = request(PackKind::NewMember, &b);
        req.gift_item = Some(gift(3, 100));
        let with_gift = NewPack::parse(&shop(true), &req).expect("a valid pack");
        assert_eq!(with_gift.quantity, 3);
    }

    #[test]
    fn gp3_quantity_equal_to_the_smallest_stock_is_allowed() {
        let b = [batch("BA_aaaaaaa", 10), batch("BA_bbbbbbb", 4)];
        let mut req = request(PackKind::NewMember, &b);
        req.quantity = Some(4);
        assert_eq!(
            NewPack::parse(&shop(false), &req).map(|p| p.quantity).ok(),
            Some(4)
        );
    }

    #[test]
    fn gp3_a_quantity_above_the_smallest_stock_is_invalid_argument() {
        let b = [batch("BA_aaaaaaa", 10), batch("BA_bbbbbbb", 4)];
        let mut req = request(PackKind::NewMember, &b);
        req.quantity = Some(5);
        assert_eq!(fields(NewPack::parse(&shop(false), &req)), vec!["quantity"]);
        req.quantity = Some(0);
        assert_eq!(fields(NewPack::parse(&shop(false), &req)), vec!["quantity"]);
    }

    #[test]
    fn gp3_a_component_out_of_stock_leaves_no_default() {
        let b = [batch("BA_aaaaaaa", 0)];
        assert_eq!(
            fields(NewPack::parse(
                &shop(false),
                &request(PackKind::NewMember, &b)
            )),
            vec!["quantity"]
        );
    }

    fn other(kind: PackKind, from: i64, to: i64, closed: bool) -> OtherPack {
        OtherPack {
            id: PackId::new(),
            kind,
            window: window(from, to),
            closed,
        }
    }

    #[test]
    fn gp5_an_overlapping_pack_of_the_same_kind_is_rejected_naming_it() {
        let o = other(PackKind::NewMember, 0, 100, false);
        match check_overlap(PackKind::NewMember, &window(99, 200), &[o]) {
            Err(Failure::FailedPrecondition {
                reason, metadata, ..
            }) => {
                assert_eq!(reason, "PACK_WINDOW_OVERLAP");
                assert_eq!(metadata, vec![("pack_id", o.id.to_string())]);
            }
            other => panic!("expected an overlap, got {other:?}"),
        }
    }

    #[test]
    fn gp5_back_to_back_packs_are_allowed() {
        let o = other(PackKind::Member, 0, 100, false);
        assert!(check_overlap(PackKind::Member, &window(100, 200), &[o]).is_ok());
    }

    #[test]
    fn gp5_other_kinds_and_closed_packs_do_not_block() {
        let member = other(PackKind::Member, 0, 100, false);
        let closed = other(PackKind::NewMember, 0, 100, true);
        assert!(check_overlap(PackKind::NewMember, &window(0, 100), &[member, closed]).is_ok());
    }

    fn joined(first: i64, current: i64, level: i32) -> MemberView {
        MemberView {
            membership: Some(MembershipView {
                joined_at: at(current),
                channel: JoinChannel::Card,
                level,
            }),
            first_joined_at: Some(at(first)),
            card_opened_at: Some(at(current)),
        }
    }

    #[test]
    fn gp1_a_join_at_the_pack_start_qualifies() {
        assert!(is_new_member(&joined(10, 10, 1), at(10), at(10)));
        assert!(is_new_member(&joined(10, 10, 1), at(10), at(33)));
    }

    #[test]
    fn gp1_a_join_before_the_pack_start_does_not_qualify() {
        assert!(!is_new_member(&joined(9, 9, 1), at(10), at(11)));
    }

    #[test]
    fn gp1_join_exactly_24h_before_claim_is_too_late() {
        assert!(!is_new_member(&joined(10, 10, 1), at(0), at(34)));
        let just_in_time = at(34) - Duration::nanoseconds(1);
        assert!(is_new_member(&joined(10, 10, 1), at(0), just_in_time));
    }

    #[test]
    fn gp1_a_rejoin_never_qualifies() {
        // First joined at 10, quit, rejoined at 20: the rejoin is not a first-ever join.
        assert!(!is_new_member(&joined(10, 20, 1), at(0), at(21)));
    }

    #[test]
    fn gp1_a_non_member_is_not_a_new_member() {
        assert!(!is_new_member(&MemberView::stranger(), at(0), at(1)));
    }

    fn pack(kind: PackKind) -> PackState {
        PackState {
            kind,
            window: window(0, 240),
            closed: false,
            packs_left: 10,
            min_level: None,
        }
    }

    #[test]
    fn gp1_a_new_member_may_claim_once_while_the_pack_is_valid() {
        let p = pack(PackKind::NewMember);
        let m = joined(5, 5, 1);
        assert!(check_claim(&p, &m, at(6), false).is_ok());
        assert_eq!(
            reason(check_claim(&p, &m, at(6), true)),
            "PACK_ALREADY_CLAIMED"
        );
        assert_eq!(
            reason(check_claim(&p, &m, at(29), false)),
            "NOT_A_NEW_MEMBER"
        );
        assert_eq!(
            reason(check_claim(&p, &MemberView::stranger(), at(6), false)),
            "NOT_A_MEMBER"
        );
    }

    #[test]
    fn gp_claims_outside_the_window_or_after_closing_are_refused() {
        let m = joined(5, 5, 1);
        let p = pack(PackKind::Member);
        assert_eq!(
            reason(check_claim(&p, &m, at(240), false)),
            "PACK_NOT_VALID"
        );
        let closed = PackState { closed: true, ..p };
        assert_eq!(
            reason(check_claim(&closed, &m, at(6), false)),
            "PACK_NOT_VALID"
        );
    }

    #[test]
    fn gp3_no_claim_once_the_packs_run_out() {
        let p = PackState {
            packs_left: 0,
            ..pack(PackKind::Member)
        };
        assert_eq!(
            reason(check_claim(&p, &joined(5, 5, 1), at(6), false)),
            "PACK_OUT_OF_STOCK"
        );
    }

    #[test]
    fn gp6_members_at_or_above_the_minimum_level_may_claim() {
        let p = PackState {
            min_level: Some(3),
            ..pack(PackKind::Member)
        };
        assert!(check_claim(&p, &joined(-1000, -1000, 3), at(6), false).is_ok());
        assert!(check_claim(&p, &joined(-1000, -1000, 5), at(6), false).is_ok());
        assert_eq!(
            reason(check_claim(&p, &joined(-1000, -1000, 2), at(6), false)),
            "LEVEL_TOO_LOW"
        );
        // No minimum: any member, however old.
        assert!(
            check_claim(
                &pack(PackKind::Member),
                &joined(-1000, 50, 1),
                at(60),
                false
            )
            .is_ok()
        );
    }

    #[test]
    fn gp6_min_level_is_a_level_of_a_member_pack() {
        let b = [batch("BA_aaaaaaa", 10)];
        let mut req = request(PackKind::Member, &b);
        req.min_level = Some(6);
        assert_eq!(
            fields(NewPack::parse(&shop(false), &req)),
            vec!["min_level"]
        );
        req.min_level = Some(5);
        assert!(NewPack::parse(&shop(false), &req).is_ok());
        let mut new_member = request(PackKind::NewMember, &b);
        new_member.min_level = Some(2);
        assert_eq!(
            fields(NewPack::parse(&shop(false), &new_member)),
            vec!["min_level"]
        );
    }

    #[test]
    fn gp7_a_popup_window_lies_within_a_member_pack() {
        let b = [batch("BA_aaaaaaa", 10)];
        let mut req = request(PackKind::Member, &b);
        req.popup = Some((at(0), at(240)));
        assert!(NewPack::parse(&shop(false), &req).is_ok());
        req.popup = Some((at(0), at(241)));
        assert_eq!(
            fields(NewPack::parse(&shop(false), &req)),
            vec!["popup_start_time"]
        );
        req.popup = Some((at(5), at(5)));
        assert_eq!(
            fields(NewPack::parse(&shop(false), &req)),
            vec!["popup_end_time"]
        );
        let mut new_member = request(PackKind::NewMember, &b);
        new_member.popup = Some((at(0), at(10)));
        assert_eq!(
            fields(NewPack::parse(&shop(false), &new_member)),
            vec!["popup_start_time"]
        );
    }

    #[test]
    fn gp7_new_members_see_the_popup_when_they_join() {
        let p = pack(PackKind::NewMember);
        assert!(show_popup(&p, None, true, at(5), true, None));
        assert!(!show_popup(&p, None, true, at(5), false, None));
        assert!(!show_popup(&p, None, false, at(5), true, None));
    }

    #[test]
    fn gp7_members_see_the_popup_on_their_first_visit_in_its_window() {
        let p = pack(PackKind::Member);
        let w = window(10, 20);
        assert!(show_popup(&p, Some(&w), true, at(10), false, None));
        assert!(!show_popup(&p, Some(&w), true, at(11), false, Some(at(10))));
        // Shown before the window opened: the first visit inside it still pops up.
        assert!(show_popup(&p, Some(&w), true, at(11), false, Some(at(9))));
        assert!(!show_popup(&p, Some(&w), true, at(20), false, None));
        assert!(!show_popup(&p, None, true, at(11), false, None));
        assert!(!show_popup(&p, Some(&w), false, at(11), false, None));
    }

    fn offer() -> ExclusiveOffer {
        ExclusiveOffer {
            coupon: Some(BatchKey::parse("k", "BA_aaaaaaa").expect("a valid key")),
            gift: Some(gift(10, 10).0),
            since: at(0),
        }
    }

    #[test]
    fn gp8_an_offer_needs_a_crm_coupon_or_a_gift_item() {
        let s = shop(true);
        assert!(ExclusiveOffer::parse(&s, None, None, at(0)).is_err());
        assert!(ExclusiveOffer::parse(&s, Some(&batch("BA_aaaaaaa", 5)), None, at(0)).is_ok());
        assert!(ExclusiveOffer::parse(&s, None, Some(gift(1, 1)), at(0)).is_ok());
        let mut interactive = batch("BA_aaaaaaa", 5);
        interactive.channel = Channel::Interactive;
        assert!(ExclusiveOffer::parse(&s, Some(&interactive), None, at(0)).is_err());
        // The gift follows GP-2: no gift_items capability, no gift.
        assert!(ExclusiveOffer::parse(&shop(false), None, Some(gift(1, 1)), at(0)).is_err());
    }

    #[test]
    fn gp8_a_new_member_may_claim_one_of_the_two_once_per_shop() {
        let m = joined(5, 5, 1);
        assert!(check_exclusive_claim(&offer(), ExclusiveChoice::Coupon, &m, at(6), false).is_ok());
        assert!(check_exclusive_claim(&offer(), ExclusiveChoice::Gift, &m, at(6), false).is_ok());
        assert_eq!(
            reason(check_exclusive_claim(
                &offer(),
                ExclusiveChoice::Gift,
                &m,
                at(6),
                true
            )),
            "EXCLUSIVE_ALREADY_CLAIMED"
        );
        assert_eq!(
            reason(check_exclusive_claim(
                &offer(),
                ExclusiveChoice::Coupon,
                &m,
                at(29),
                false
            )),
            "NOT_A_NEW_MEMBER"
        );
        let coupon_only = ExclusiveOffer {
            gift: None,
            ..offer()
        };
        assert_eq!(
            reason(check_exclusive_claim(
                &coupon_only,
                ExclusiveChoice::Gift,
                &m,
                at(6),
                false
            )),
            "EXCLUSIVE_NOT_OFFERED"
        );
    }

    proptest! {
        /// GP-1: a first-period member is new exactly when since <= join <= claim < join + 24 h.
        #[test]
        fn gp1_new_member_iff_joined_since_start_and_within_24h(
            since in -100i64..100, join in -100i64..100, claim_minutes in -6000i64..6000,
        ) {
            let m = joined(join, join, 1);
            let claim = at(0) + Duration::minutes(claim_minutes);
            let expected = at(since) <= at(join)
                && at(join) <= claim
                && claim < at(join) + Duration::hours(24);
            prop_assert_eq!(is_new_member(&m, at(since), claim), expected);
        }

        /// GP-1 / MB-3: a rejoin never qualifies, whenever it happens.
        #[test]
        fn gp1_a_rejoin_never_qualifies_whenever(
            first in -100i64..100, gap in 1i64..100, claim in -100i64..300,
        ) {
            let m = joined(first, first + gap, 1);
            prop_assert!(!is_new_member(&m, at(-1000), at(claim)));
        }

        /// GP-3: a parsed pack's quantity never exceeds any component's stock.
        #[test]
        fn gp3_quantity_never_exceeds_a_component(
            stocks in proptest::collection::vec(1i64..1000, 1..=3),
            asked in proptest::option::of(1i64..1000),
        ) {
            let keys = ["BA_aaaaaaa", "BA_bbbbbbb", "BA_ccccccc"];
            let b: Vec<BatchView> =
                stocks.iter().zip(keys).map(|(s, k)| batch(k, *s)).collect();
            let mut req = request(PackKind::NewMember, &b);
            req.quantity = asked;
            let smallest = stocks.iter().copied().min().unwrap_or(0);
            match NewPack::parse(&shop(false), &req) {
                Ok(p) => {
                    prop_assert!(p.quantity >= 1 && p.quantity <= smallest);
                    prop_assert_eq!(p.quantity, asked.unwrap_or(smallest));
                }
                Err(_) => prop_assert!(asked.is_some_and(|q| q > smallest)),
            }
        }
    }
}
