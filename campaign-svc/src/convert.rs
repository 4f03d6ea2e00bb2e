//! Between the contract (protobuf) and this service's records, and from peers' messages to
//! the domain's plain views.

use chrono::{DateTime, Utc};
use memberhub_kit::clock::{from_timestamp, to_timestamp};
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{CouponChannel, ShopType as PbShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;

use crate::domain::claim::Action;
use crate::domain::claim::ClaimState;
use crate::domain::open_card_gift::{CampaignStatus, PrizeType, status_at};
use crate::domain::types::{
    BatchKey, BatchStatus, BatchView, Channel, CouponKind, JoinChannel, JoinPolicy, MemberView,
    MembershipView, ShopId, ShopType, Validity, Window,
};
use crate::store::claims::{ClaimKind, ClaimRecord};
use crate::store::open_card_gifts::GiftRecord;

pub(crate) fn timestamp(at: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    at.map(to_timestamp)
}

pub(crate) fn prize_type(raw: i32) -> Option<PrizeType> {
    match pb::PrizeType::try_from(raw).ok()? {
        pb::PrizeType::Beans => Some(PrizeType::Beans),
        pb::PrizeType::CashCoupon => Some(PrizeType::CashCoupon),
        pb::PrizeType::ThresholdCoupon => Some(PrizeType::ThresholdCoupon),
        pb::PrizeType::Points => Some(PrizeType::Points),
        pb::PrizeType::RedPacket => Some(PrizeType::RedPacket),
        pb::PrizeType::DataPack => Some(PrizeType::DataPack),
        pb::PrizeType::Unspecified => None,
    }
}

pub(crate) fn pb_prize_type(t: PrizeType) -> pb::PrizeType {
    match t {
        PrizeType::Beans => pb::PrizeType::Beans,
        PrizeType::CashCoupon => pb::PrizeType::CashCoupon,
        PrizeType::ThresholdCoupon => pb::PrizeType::ThresholdCoupon,
        PrizeType::Points => pb::PrizeType::Points,
        PrizeType::RedPacket => pb::PrizeType::RedPacket,
        PrizeType::DataPack => pb::PrizeType::DataPack,
    }
}

pub(crate) fn pb_status(status: CampaignStatus) -> pb::CampaignStatus {
    match status {
        CampaignStatus::Scheduled => pb::CampaignStatus::Scheduled,
        CampaignStatus::Live => pb::CampaignStatus::Live,
        CampaignStatus::Ended => pb::CampaignStatus::Ended,
        CampaignStatus::Closed => pb::CampaignStatus::Closed,
    }
}

pub(crate) fn open_card_gift(gift: &GiftRecord, now: DateTime<Utc>) -> pb::OpenCardGift {
    let status = status_at(&gift.window, gift.closed_at, now);
    let live = status == CampaignStatus::Live;
    pb::OpenCardGift {
        campaign_id: gift.id.to_string(),
        shop_id: gift.shop_id.to_string(),
        name: gift.name.clone(),
        start_time: Some(to_timestamp(gift.window.start())),
        end_time: Some(to_timestamp(gift.window.end())),
        prizes: gift
            .prizes
            .iter()
            .map(|p| pb::Prize {
                r#type: pb_prize_type(p.prize_type) as i32,
                amount: p.amount,
                batch_key: p.batch_key.clone().unwrap_or_default(),
            })
            .collect(),
        gift_quantity: gift.gift_quantity,
        // Packs left are claimable only while the campaign runs.
        packs_left: if live || status == CampaignStatus::Scheduled {
            gift.packs_left
        } else {
            0
        },
        status: pb_status(status) as i32,
        time_zone: gift.time_zone.clone(),
        create_time: Some(to_timestamp(gift.created_at)),
        close_time: timestamp(gift.closed_at),
        settled: gift.settled_at.is_some(),
    }
}

pub(crate) fn pb_claim_kind(kind: ClaimKind) -> pb::ClaimKind {
    match kind {
        ClaimKind::OpenCardGift => pb::ClaimKind::OpenCardGift,
        ClaimKind::NewMemberPack => pb::ClaimKind::NewMemberPack,
        ClaimKind::MemberPack => pb::ClaimKind::MemberPack,
        ClaimKind::NewMemberExclusive => pb::ClaimKind::NewMemberExclusive,
        ClaimKind::PointsExchange => pb::ClaimKind::PointsExchange,
    }
}

pub(crate) fn pb_claim_state(state: ClaimState) -> pb::ClaimState {
    match state {
        ClaimState::Pending | ClaimState::Granting => pb::ClaimState::Pending,
        ClaimState::Granted => pb::ClaimState::Granted,
        ClaimState::Failed => pb::ClaimState::Failed,
    }
}

/// A claim with its reveal payload (GP-9): what each done step granted.
pub(crate) fn claim(claim: &ClaimRecord) -> pb::Claim {
    let state = claim.progress.state();
    let items = if state == ClaimState::Granted {
        claim
            .progress
            .steps()
            .iter()
            .filter_map(|s| match &s.action {
                Action::GrantAsset {
                    prize_type, amount, ..
                } => Some(pb::GrantedItem {
                    r#type: pb_prize_type(*prize_type) as i32,
                    amount: *amount,
                    ..Default::default()
                }),
                Action::IssueCoupon { prize_type, .. } => Some(pb::GrantedItem {
                    r#type: prize_type.map(pb_prize_type).unwrap_or_default() as i32,
                    amount: s.result.coupon_ids.len() as i64,
                    coupon_ids: s.result.coupon_ids.clone(),
                    ..Default::default()
                }),
                Action::GrantGiftItem { .. } => Some(pb::GrantedItem {
                    amount: 1,
                    entitlement_id: s.result.entitlement_id.clone().unwrap_or_default(),
                    ..Default::default()
                }),
                Action::SpendPoints { .. } => None,
            })
            .collect()
    } else {
        Vec::new()
    };
    pb::Claim {
        claim_id: claim.id.to_string(),
        shop_id: claim.shop_id.to_string(),
        user_id: claim.user_id.clone(),
        state: pb_claim_state(state) as i32,
        items,
        create_time: Some(to_timestamp(claim.created_at)),
        kind: pb_claim_kind(claim.kind) as i32,
        source_id: claim.source_id.clone(),
        grant_time: timestamp(claim.granted_at),
        failure_reason: if state == ClaimState::Failed {
            claim.failure_reason.clone().unwrap_or_default()
        } else {
            String::new()
        },
    }
}

pub(crate) fn shop_type(raw: i32) -> Option<ShopType> {
    match PbShopType::try_from(raw).ok()? {
        PbShopType::Pop => Some(ShopType::Pop),
        PbShopType::SelfOperated => Some(ShopType::SelfOperated),
        PbShopType::Unspecified => None,
    }
}

pub(crate) fn join_policy(raw: i32) -> Option<JoinPolicy> {
    match membership_pb::JoinPolicy::try_from(raw).ok()? {
        membership_pb::JoinPolicy::Order => Some(JoinPolicy::Order),
        membership_pb::JoinPolicy::Card => Some(JoinPolicy::Card),
        membership_pb::JoinPolicy::OrderOrCard => Some(JoinPolicy::OrderOrCard),
        membership_pb::JoinPolicy::OrderAndCard => Some(JoinPolicy::OrderAndCard),
        membership_pb::JoinPolicy::Unspecified => None,
    }
}

/// A shopper as campaign rules read them; `None` (not a member) is a stranger unless the
/// membership says otherwise.
pub(crate) fn member_view(membership: Option<&membership_pb::Membership>) -> MemberView {
    let Some(m) = membership else {
        return MemberView::stranger();
    };
    let active = m.state == membership_pb::MembershipState::Active as i32;
    let channel = match membership_pb::JoinChannel::try_from(m.join_channel) {
        Ok(membership_pb::JoinChannel::Card) => JoinChannel::Card,
        Ok(membership_pb::JoinChannel::Import) => JoinChannel::Import,
        _ => JoinChannel::Order,
    };
    MemberView {
        membership: match (active, m.join_time.as_ref().and_then(from_timestamp)) {
            (true, Some(joined_at)) => Some(MembershipView {
                joined_at,
                channel,
                level: m.level,
            }),
            _ => None,
        },
        first_joined_at: m.first_join_time.as_ref().and_then(from_timestamp),
        card_opened_at: m.card_open_time.as_ref().and_then(from_timestamp),
    }
}

/// A coupon-svc batch as the binding rules read it (OC-6, GP-2).
/// The contract's channel of a claim step's coupon issue.
pub(crate) fn pb_channel(channel: Channel) -> CouponChannel {
    match channel {
        Channel::General => CouponChannel::General,
        Channel::Crm => CouponChannel::Crm,
        Channel::Interactive => CouponChannel::Interactive,
        Channel::SprintPlan => CouponChannel::SprintPlan,
    }
}

pub(crate) fn batch_view(batch: &coupon_pb::Batch) -> Option<BatchView> {
    let kind = match coupon_pb::CouponKind::try_from(batch.kind).ok()? {
        coupon_pb::CouponKind::Threshold => CouponKind::Threshold,
        coupon_pb::CouponKind::Cash => CouponKind::Cash,
        coupon_pb::CouponKind::Discount => CouponKind::Discount,
        coupon_pb::CouponKind::Unspecified => return None,
    };
    let channel = match CouponChannel::try_from(batch.channel).ok()? {
        CouponChannel::General => Channel::General,
        CouponChannel::Crm => Channel::Crm,
        CouponChannel::Interactive => Channel::Interactive,
        CouponChannel::SprintPlan => Channel::SprintPlan,
        CouponChannel::Unspecified => return None,
    };
    let status = match coupon_pb::BatchStatus::try_from(batch.status).ok()? {
        coupon_pb::BatchStatus::Draft => BatchStatus::Draft,
        coupon_pb::BatchStatus::PendingApproval => BatchStatus::PendingApproval,
        coupon_pb::BatchStatus::Active => BatchStatus::Active,
        coupon_pb::BatchStatus::Ended => BatchStatus::Ended,
        coupon_pb::BatchStatus::Closed => BatchStatus::Closed,
        coupon_pb::BatchStatus::Unspecified => return None,
    };
    let validity = batch.validity.as_ref()?;
    let validity = if validity.kind == coupon_pb::ValidityKind::Relative as i32 {
        Validity::Relative {
            days: validity.relative_days,
        }
    } else {
        Validity::Absolute
    };
    let claim_window = Window::new(
        batch.claim_start_time.as_ref().and_then(from_timestamp)?,
        batch.claim_end_time.as_ref().and_then(from_timestamp)?,
    )?;
    let scope = batch.item_scope.as_ref();
    Some(BatchView {
        key: BatchKey::parse("batch_key", &batch.batch_key).ok()?,
        shop: ShopId::parse("shop_id", &batch.shop_id).ok()?,
        kind,
        channel,
        status,
        claim_window,
        validity,
        shop_wide: scope.is_none_or(|s| s.categories.is_empty() && s.skus.is_empty()),
        stock: batch.remaining_quantity,
    })
}

// ----------------------------------------------------------------- gift packs (GP, PT-3)

/// A pack kind the caller set; `None` when unset (a number outside the enum is refused
/// earlier, by `memberhub_kit::input::enumeration`).
pub(crate) fn pack_kind(raw: pb::GiftPackKind) -> Option<crate::domain::gift_pack::PackKind> {
    use crate::domain::gift_pack::PackKind;
    match raw {
        pb::GiftPackKind::NewMember => Some(PackKind::NewMember),
        pb::GiftPackKind::Member => Some(PackKind::Member),
        pb::GiftPackKind::Unspecified => None,
    }
}

pub(crate) fn pb_pack_kind(kind: crate::domain::gift_pack::PackKind) -> pb::GiftPackKind {
    use crate::domain::gift_pack::PackKind;
    match kind {
        PackKind::NewMember => pb::GiftPackKind::NewMember,
        PackKind::Member => pb::GiftPackKind::Member,
    }
}

/// A pack as the contract shows it; packs left read 0 once it is over (ended or closed).
pub(crate) fn gift_pack(
    pack: &crate::store::gift_packs::PackRecord,
    now: DateTime<Utc>,
) -> pb::GiftPack {
    // GP-3: a pack whose gift ran out ended then; it was not closed by the merchant.
    let status = match pack.closed_at {
        Some(at) if pack.gift_ran_out && at <= now => CampaignStatus::Ended,
        _ => status_at(&pack.window, pack.closed_at, now),
    };
    let open = matches!(status, CampaignStatus::Live | CampaignStatus::Scheduled);
    pb::GiftPack {
        pack_id: pack.id.to_string(),
        shop_id: pack.shop_id.to_string(),
        kind: pb_pack_kind(pack.kind) as i32,
        name: pack.name.clone(),
        start_time: Some(to_timestamp(pack.window.start())),
        end_time: Some(to_timestamp(pack.window.end())),
        batch_keys: pack
            .batch_keys
            .iter()
            .map(|k| k.as_str().to_string())
            .collect(),
        gift_item: pack.gift_item.as_ref().map(|g| pb::GiftItem {
            sku: g.sku.clone(),
            quantity: g.quantity,
        }),
        quantity: pack.quantity,
        min_level: pack.min_level.unwrap_or(0),
        popup_start_time: timestamp(pack.popup.map(|p| p.start())),
        popup_end_time: timestamp(pack.popup.map(|p| p.end())),
        status: pb_status(status) as i32,
        packs_left: if open { pack.packs_left } else { 0 },
    }
}

pub(crate) fn gift_item_record(item: &crate::store::items::ItemRecord) -> pb::GiftItemRecord {
    pb::GiftItemRecord {
        shop_id: item.shop_id.to_string(),
        sku: item.sku.clone(),
        title: item.title.clone(),
        gift_category: item.gift_category,
        stock: item.stock,
    }
}

pub(crate) fn exclusive(
    record: &crate::store::exclusives::ExclusiveRecord,
) -> pb::NewMemberExclusive {
    pb::NewMemberExclusive {
        shop_id: record.shop_id.to_string(),
        batch_key: record
            .offer
            .coupon
            .as_ref()
            .map(|k| k.as_str().to_string())
            .unwrap_or_default(),
        gift_item: record.offer.gift.as_ref().map(|g| pb::GiftItem {
            sku: g.sku.clone(),
            quantity: g.quantity,
        }),
        update_time: Some(to_timestamp(record.updated_at)),
    }
}

pub(crate) fn entitlement(e: &crate::store::entitlements::EntitlementRecord) -> pb::Entitlement {
    pb::Entitlement {
        entitlement_id: e.id.to_string(),
        shop_id: e.shop_id.to_string(),
        user_id: e.user_id.clone(),
        sku: e.sku.clone(),
        price_fen: e.price_fen,
        state: if e.consumed_at.is_some() {
            pb::EntitlementState::Consumed
        } else {
            pb::EntitlementState::Available
        } as i32,
        claim_id: e.claim_id.to_string(),
        order_id: e.order_id.clone().unwrap_or_default(),
        create_time: Some(to_timestamp(e.created_at)),
    }
}

/// PT-3/LV-6: the exchange items of `level` in the shop's level rules.
pub(crate) fn level_items(
    rules: &membership_pb::LevelRules,
    level: i32,
) -> crate::domain::exchange::LevelItems {
    use crate::domain::exchange::{ExchangeItemView, LevelItems};
    let view = |i: &membership_pb::ExchangeItem| ExchangeItemView {
        item_id: i.item_id.clone(),
        points_cost: i.points_cost,
        target: i.target.clone(),
    };
    rules
        .levels
        .iter()
        .find(|l| l.level == level)
        .and_then(|l| l.benefits.as_ref())
        .map(|b| LevelItems {
            for_coupon: b.points_for_coupon.iter().map(view).collect(),
            for_goods: b.points_for_goods.iter().map(view).collect(),
        })
        .unwrap_or_default()
}

fn pb_sprint_phase(phase: crate::domain::sprint_plan::Phase) -> pb::SprintPhase {
    use crate::domain::sprint_plan::Phase;
    match phase {
        Phase::Upcoming => pb::SprintPhase::Upcoming,
        Phase::Registration => pb::SprintPhase::Registration,
        Phase::Sprint => pb::SprintPhase::Sprint,
        Phase::Award => pb::SprintPhase::Award,
        Phase::Redemption => pb::SprintPhase::Redemption,
        Phase::Ended => pb::SprintPhase::Ended,
    }
}

/// SP-1: a plan with its phase at `now`.
pub(crate) fn sprint_plan(
    record: &crate::store::sprint_plans::PlanRecord,
    now: DateTime<Utc>,
) -> pb::SprintPlan {
    let plan = &record.plan;
    let p = &plan.phases;
    pb::SprintPlan {
        plan_id: record.id.to_string(),
        name: plan.name.clone(),
        registration_start_time: Some(to_timestamp(p.registration_start)),
        sprint_start_time: Some(to_timestamp(p.sprint_start)),
        award_start_time: Some(to_timestamp(p.award_start)),
        redemption_start_time: Some(to_timestamp(p.redemption_start)),
        redemption_end_time: Some(to_timestamp(p.redemption_end)),
        required_distribution: plan.required_distribution,
        min_face_value_fen: plan.min_face_value_fen,
        max_fold_percent: plan.max_fold_percent,
        phase: pb_sprint_phase(p.at(now)).into(),
        create_time: Some(to_timestamp(record.created_at)),
    }
}

/// SP-2: a shop's invitation, with its plan.
pub(crate) fn sprint_plan_shop(
    shop: &crate::store::sprint_plans::ShopRecord,
    plan: &crate::store::sprint_plans::PlanRecord,
    now: DateTime<Utc>,
) -> pb::SprintPlanShop {
    use crate::domain::sprint_plan::ShopState;
    pb::SprintPlanShop {
        plan_id: shop.plan_id.to_string(),
        shop_id: shop.shop_id.to_string(),
        thresholds: Some(pb::SprintThresholds {
            min_member_count: shop.thresholds.min_member_count,
            min_sales_fen: shop.thresholds.min_sales_fen,
        }),
        state: match shop.state {
            ShopState::Invited => pb::SprintShopState::Invited,
            ShopState::Joined => pb::SprintShopState::Joined,
            ShopState::Withdrawn => pb::SprintShopState::Withdrawn,
        }
        .into(),
        invite_time: Some(to_timestamp(shop.invited_at)),
        withdraw_time: timestamp(shop.withdrawn_at),
        plan: Some(sprint_plan(plan, now)),
        spend_threshold_fen: shop
            .joined
            .as_ref()
            .map_or(0, |j| j.join.spend_threshold_fen),
        distribution_quantity: shop
            .joined
            .as_ref()
            .map_or(0, |j| j.join.distribution_quantity),
        batch_key: shop
            .joined
            .as_ref()
            .map(|j| j.batch_key.as_str().to_string())
            .unwrap_or_default(),
        batch_id: shop
            .joined
            .as_ref()
            .map(|j| j.batch_id.to_string())
            .unwrap_or_default(),
        join_time: timestamp(shop.joined.as_ref().map(|j| j.at)),
    }
}

/// SP-3: the reward batch as the join rules read it.
pub(crate) fn reward_batch(
    batch: &coupon_pb::Batch,
    shop: crate::domain::types::ShopId,
) -> crate::domain::sprint_plan::RewardBatch {
    let time = |t: &Option<prost_types::Timestamp>| t.as_ref().and_then(from_timestamp);
    let validity = batch.validity.as_ref();
    let whole_hour_validity = validity
        .filter(|v| v.kind == coupon_pb::ValidityKind::Absolute as i32 && v.whole_hours)
        .and_then(|v| Some((time(&v.start_time)?, time(&v.end_time)?)));
    let scope = batch.item_scope.as_ref();
    crate::domain::sprint_plan::RewardBatch {
        shop_matches: batch.shop_id.eq_ignore_ascii_case(&shop.to_string()),
        threshold_kind: batch.kind == coupon_pb::CouponKind::Threshold as i32,
        face_value_fen: batch.face_value_fen,
        threshold_fen: batch.threshold_fen,
        sprint_channel: batch.channel == CouponChannel::SprintPlan as i32,
        shop_wide: scope.is_none_or(|s| s.categories.is_empty() && s.skus.is_empty()),
        all_regions: batch.regions.is_empty(),
        claim_start: time(&batch.claim_start_time),
        claim_end: time(&batch.claim_end_time),
        whole_hour_validity,
        per_issue_count: batch.per_issue_count,
        giftable: batch.giftable,
        per_user_limit: batch.per_user_limit,
        total_quantity: batch.total_quantity,
        active: batch.status == coupon_pb::BatchStatus::Active as i32,
    }
}

/// SP-4..SP-6: a registration as the shopper reads it. `award_started` tells a shopper
/// without an award state apart: not yet decided (PENDING) or decided without them
/// (NOT_QUALIFIED).
pub(crate) fn sprint_registration(
    registration: &crate::store::sprint_registrations::RegistrationRecord,
    plan: &crate::store::sprint_plans::PlanRecord,
    shop: &crate::store::sprint_plans::ShopRecord,
    award_started: bool,
    now: DateTime<Utc>,
) -> pb::SprintRegistration {
    use crate::domain::sprint_registration::AwardState;
    let award_state = match (registration.award_state, award_started) {
        (Some(AwardState::Due), _) => pb::SprintAwardState::Due,
        (Some(AwardState::Awarded), _) => pb::SprintAwardState::Awarded,
        (Some(AwardState::NotAwardedOutOfStock), _) => pb::SprintAwardState::NotAwardedOutOfStock,
        (None, true) => pb::SprintAwardState::NotQualified,
        (None, false) => pb::SprintAwardState::Pending,
    };
    pb::SprintRegistration {
        plan_id: registration.plan_id.to_string(),
        shop_id: registration.shop_id.to_string(),
        user_id: registration.user_id.clone(),
        register_time: Some(to_timestamp(registration.registered_at)),
        phase: pb_sprint_phase(plan.plan.phases.at(now)).into(),
        spend_fen: registration.spend_fen,
        spend_threshold_fen: shop
            .joined
            .as_ref()
            .map_or(0, |j| j.join.spend_threshold_fen),
        qualify_time: timestamp(registration.qualified_at),
        award_state: award_state.into(),
        award_time: timestamp(registration.awarded_at),
        coupon_ids: registration
            .coupon_ids
            .iter()
            .map(ToString::to_string)
            .collect(),
        batch_id: shop
            .joined
            .as_ref()
            .map(|j| j.batch_id.to_string())
            .unwrap_or_default(),
    }
}
