//! What a shopper sees of campaigns in the member center (MP-5, OC-3, OC-7, OC-8, GP-7,
//! GP-8), and the composed member center itself: membership, offers and coupons.

use std::collections::BTreeMap;

use memberhub_proto::campaign as pb;
use serde::Serialize;
use utoipa::ToSchema;

use super::campaign::{Claim, GiftItem, GiftPack, Prize};
use super::members::MemberCenter;
use super::{short, timestamp};
use crate::coupon_views::WalletCoupon;

/// OC-3: the live open-card gift as a shopper who has not opened the card sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StorefrontOpenCardGift {
    pub campaign_id: String,
    pub name: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// OC-4, OC-7: the whole pack a shopper gets for opening the card.
    pub prizes: Vec<Prize>,
}

impl From<pb::OpenCardGift> for StorefrontOpenCardGift {
    fn from(g: pb::OpenCardGift) -> Self {
        Self {
            campaign_id: g.campaign_id,
            name: g.name,
            start_time: timestamp(g.start_time),
            end_time: timestamp(g.end_time),
            prizes: g.prizes.into_iter().map(Prize::from).collect(),
        }
    }
}

/// GP-8: the new-member exclusive a new member may still choose from.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StorefrontNewMemberExclusive {
    /// The exclusive coupon's batch (`BA_...`); empty when none.
    pub batch_key: String,
    /// The exclusive gift; absent when none.
    pub gift_item: Option<GiftItem>,
}

impl From<pb::NewMemberExclusive> for StorefrontNewMemberExclusive {
    fn from(e: pb::NewMemberExclusive) -> Self {
        Self {
            batch_key: e.batch_key,
            gift_item: e.gift_item.map(GiftItem::from),
        }
    }
}

/// What campaign-svc offers this shopper in the shop's member center.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StorefrontOffers {
    /// OC-3, OC-8: the live open-card gift; only for a shopper who has not opened the card,
    /// and only while packs are left.
    pub open_card_gift: Option<StorefrontOpenCardGift>,
    /// OC-7: this shopper's claim of that gift, once there is one.
    pub open_card_gift_claim: Option<Claim>,
    /// GP-1, GP-6: packs this shopper may claim now.
    pub claimable_packs: Vec<GiftPack>,
    /// GP-7: show the gift pop-up on this visit.
    pub show_popup: bool,
    /// GP-8: the new-member exclusive, while this shopper may still claim it.
    pub new_member_exclusive: Option<StorefrontNewMemberExclusive>,
    /// `POP` or `SELF_OPERATED`.
    pub shop_type: String,
}

impl From<pb::StorefrontOffers> for StorefrontOffers {
    fn from(o: pb::StorefrontOffers) -> Self {
        Self {
            shop_type: short(o.shop_type().as_str_name(), "SHOP_TYPE_"),
            open_card_gift: o.open_card_gift.map(StorefrontOpenCardGift::from),
            open_card_gift_claim: o.open_card_gift_claim.map(Claim::from),
            claimable_packs: o.claimable_packs.into_iter().map(GiftPack::from).collect(),
            show_popup: o.show_popup,
            new_member_exclusive: o
                .new_member_exclusive
                .map(StorefrontNewMemberExclusive::from),
        }
    }
}

/// How many coupons of the shop the shopper can use, and the first few of them.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MemberCenterCoupons {
    /// Available coupons of this shop in the wallet (at least this many when `has_more`).
    pub available_count: i64,
    /// More than `available_count`: the wallet has another page.
    pub has_more: bool,
    /// The newest few, for the member center's coupon strip.
    pub coupons: Vec<WalletCoupon>,
}

/// A section of the member center that was left out, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Section {
    Offers,
    Coupons,
}

impl Section {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Section::Offers => "offers",
            Section::Coupons => "coupons",
        }
    }
}

/// MP-5, MP-6: the storefront member center in one call: the card face, membership, level,
/// benefits and points (membership-svc, always present), the campaign offers (campaign-svc)
/// and the shop's available coupons (coupon-svc). An optional section whose service failed
/// or was too slow is absent and named in `degraded`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StorefrontMemberCenter {
    #[serde(flatten)]
    pub center: MemberCenter,
    /// Absent when degraded.
    pub offers: Option<StorefrontOffers>,
    /// Absent when degraded.
    pub coupons: Option<MemberCenterCoupons>,
    /// The sections left out of this reply: `offers`, `coupons`; empty when complete.
    pub degraded: Vec<String>,
    /// Why each degraded section is missing: a gRPC code name such as `DEADLINE_EXCEEDED`
    /// or `UNAVAILABLE`.
    pub degraded_reasons: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp5_the_membership_sections_stay_at_the_top_level() -> Result<(), serde_json::Error> {
        let page = StorefrontMemberCenter {
            center: MemberCenter::from(memberhub_proto::membership::MemberCenter {
                shop_id: "s".into(),
                is_member: true,
                level_name: "银卡".into(),
                ..Default::default()
            }),
            offers: None,
            coupons: None,
            degraded: vec![Section::Offers.name().into()],
            degraded_reasons: BTreeMap::from([("offers".into(), "UNAVAILABLE".into())]),
        };
        let json = serde_json::to_value(&page)?;
        assert_eq!(json["is_member"], true);
        assert_eq!(json["level_name"], "银卡");
        assert!(json["offers"].is_null());
        assert_eq!(json["degraded"], serde_json::json!(["offers"]));
        assert_eq!(json["degraded_reasons"]["offers"], "UNAVAILABLE");
        Ok(())
    }

    #[test]
    fn oc3_the_shopper_sees_no_merchant_counters_of_the_gift() -> Result<(), serde_json::Error> {
        let offers = StorefrontOffers::from(pb::StorefrontOffers {
            open_card_gift: Some(pb::OpenCardGift {
                campaign_id: "c".into(),
                name: "开卡礼".into(),
                gift_quantity: 100,
                packs_left: 42,
                ..Default::default()
            }),
            ..Default::default()
        });
        let json = serde_json::to_value(&offers)?;
        assert_eq!(json["open_card_gift"]["name"], "开卡礼");
        assert!(json["open_card_gift"].get("gift_quantity").is_none());
        assert!(json["open_card_gift"].get("packs_left").is_none());
        Ok(())
    }
}
