//! Protobuf messages to domain commands (and enum decoding), domain values to protobuf, so
//! handlers stay recipes.

use chrono::{DateTime, Utc};
use memberhub_kit::clock::{from_timestamp, to_timestamp};
use memberhub_kit::error::Failure;
use memberhub_proto::{common as pbc, coupon as pb};

use crate::domain::allocation::Allocation;
use crate::domain::batch::{
    Batch, BatchInput, Channel, Kind, NewBatch, ShopType, Status, Terms, Validity, ValidityInput,
    View,
};
use crate::domain::coupon::{Coupon, LineInput, State};
use crate::domain::ids::BatchRef;
use crate::domain::member_price::{LinePrice, MemberTerms};
use crate::store::coupons::Evaluation;
use crate::store::statistics::Statistics;

fn time(at: Option<&prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    at.and_then(from_timestamp)
}

pub(crate) fn shop_type(raw: i32) -> Option<ShopType> {
    match pbc::ShopType::try_from(raw).ok()? {
        pbc::ShopType::Pop => Some(ShopType::Pop),
        pbc::ShopType::SelfOperated => Some(ShopType::SelfOperated),
        pbc::ShopType::Unspecified => None,
    }
}

impl From<ShopType> for pbc::ShopType {
    fn from(t: ShopType) -> Self {
        match t {
            ShopType::Pop => pbc::ShopType::Pop,
            ShopType::SelfOperated => pbc::ShopType::SelfOperated,
        }
    }
}

pub(crate) fn kind(raw: i32) -> Option<Kind> {
    match pb::CouponKind::try_from(raw).ok()? {
        pb::CouponKind::Threshold => Some(Kind::Threshold),
        pb::CouponKind::Cash => Some(Kind::Cash),
        pb::CouponKind::Discount => Some(Kind::Discount),
        pb::CouponKind::Unspecified => None,
    }
}

impl From<Kind> for pb::CouponKind {
    fn from(k: Kind) -> Self {
        match k {
            Kind::Threshold => pb::CouponKind::Threshold,
            Kind::Cash => pb::CouponKind::Cash,
            Kind::Discount => pb::CouponKind::Discount,
        }
    }
}

pub(crate) fn channel(raw: i32) -> Option<Channel> {
    match pbc::CouponChannel::try_from(raw).ok()? {
        pbc::CouponChannel::General => Some(Channel::General),
        pbc::CouponChannel::Crm => Some(Channel::Crm),
        pbc::CouponChannel::Interactive => Some(Channel::Interactive),
        pbc::CouponChannel::SprintPlan => Some(Channel::SprintPlan),
        pbc::CouponChannel::Unspecified => None,
    }
}

impl From<Channel> for pbc::CouponChannel {
    fn from(c: Channel) -> Self {
        match c {
            Channel::General => pbc::CouponChannel::General,
            Channel::Crm => pbc::CouponChannel::Crm,
            Channel::Interactive => pbc::CouponChannel::Interactive,
            Channel::SprintPlan => pbc::CouponChannel::SprintPlan,
        }
    }
}

pub(crate) fn status(raw: i32) -> Option<Status> {
    match pb::BatchStatus::try_from(raw).ok()? {
        pb::BatchStatus::Draft => Some(Status::Draft),
        pb::BatchStatus::PendingApproval => Some(Status::PendingApproval),
        pb::BatchStatus::Active => Some(Status::Active),
        pb::BatchStatus::Ended => Some(Status::Ended),
        pb::BatchStatus::Closed => Some(Status::Closed),
        pb::BatchStatus::Unspecified => None,
    }
}

impl From<Status> for pb::BatchStatus {
    fn from(s: Status) -> Self {
        match s {
            Status::Draft => pb::BatchStatus::Draft,
            Status::PendingApproval => pb::BatchStatus::PendingApproval,
            Status::Active => pb::BatchStatus::Active,
            Status::Ended => pb::BatchStatus::Ended,
            Status::Closed => pb::BatchStatus::Closed,
        }
    }
}

pub(crate) fn state(raw: i32) -> Option<State> {
    match pb::CouponState::try_from(raw).ok()? {
        pb::CouponState::Available => Some(State::Available),
        pb::CouponState::Locked => Some(State::Locked),
        pb::CouponState::Used => Some(State::Used),
        pb::CouponState::Expired => Some(State::Expired),
        pb::CouponState::Unspecified => None,
    }
}

impl From<State> for pb::CouponState {
    fn from(s: State) -> Self {
        match s {
            State::Available => pb::CouponState::Available,
            State::Locked => pb::CouponState::Locked,
            State::Used => pb::CouponState::Used,
            State::Expired => pb::CouponState::Expired,
        }
    }
}

impl TryFrom<pb::CreateBatchRequest> for NewBatch {
    type Error = Failure;

    /// CP-2: INVALID_ARGUMENT naming every bad field (`batch.<field>`).
    fn try_from(request: pb::CreateBatchRequest) -> Result<Self, Failure> {
        let b = request.batch.unwrap_or_default();
        let scope = b.item_scope.unwrap_or_default();
        let validity = b.validity.map(|v| ValidityInput {
            absolute: match pb::ValidityKind::try_from(v.kind) {
                Ok(pb::ValidityKind::Absolute) => Some(true),
                Ok(pb::ValidityKind::Relative) => Some(false),
                Ok(pb::ValidityKind::Unspecified) | Err(_) => None,
            },
            start: time(v.start_time.as_ref()),
            end: time(v.end_time.as_ref()),
            whole_hours: v.whole_hours,
            relative_days: v.relative_days,
        });
        NewBatch::parse(BatchInput {
            shop_id: b.shop_id,
            shop_type: shop_type(b.shop_type),
            internal_name: b.internal_name,
            kind: kind(b.kind),
            face_value_fen: b.face_value_fen,
            threshold_fen: b.threshold_fen,
            discount_percent: b.discount_percent,
            discount_cap_fen: b.discount_cap_fen,
            categories: scope.categories,
            skus: scope.skus,
            regions: b.regions,
            channel: channel(b.channel),
            total_quantity: b.total_quantity,
            per_user_limit: b.per_user_limit,
            per_issue_count: b.per_issue_count,
            giftable: b.giftable,
            claim_start: time(b.claim_start_time.as_ref()),
            claim_end: time(b.claim_end_time.as_ref()),
            validity,
        })
    }
}

/// The batch named by a request field (`batch` or `batch_id`).
pub(crate) fn batch_ref(field: &str, raw: &str) -> Result<BatchRef, Failure> {
    BatchRef::parse(field, raw).map_err(|v| Failure::InvalidArgument(vec![v]))
}

fn scope(terms: &Terms) -> pb::ItemScope {
    pb::ItemScope {
        categories: terms.item_scope.categories.clone(),
        skus: terms.item_scope.skus.clone(),
    }
}

/// A batch as `view` may see it: shoppers never get the internal name (CP-1).
pub(crate) fn batch_as(found: Batch, now: DateTime<Utc>, view: View) -> pb::Batch {
    let mut batch = batch(found, now);
    match view {
        View::Full => {}
        View::Storefront => batch.internal_name.clear(),
    }
    batch
}

/// A batch as of `now` (ENDED derived from its validity).
pub(crate) fn batch(batch: Batch, now: DateTime<Utc>) -> pb::Batch {
    let status = batch.status_at(now);
    let effective = batch.effective_claim_window();
    let spec = batch.spec;
    let validity = match spec.validity {
        Validity::Absolute {
            window,
            whole_hours,
        } => pb::Validity {
            kind: pb::ValidityKind::Absolute.into(),
            start_time: Some(to_timestamp(window.start)),
            end_time: Some(to_timestamp(window.end)),
            whole_hours,
            relative_days: 0,
        },
        Validity::Relative { days } => pb::Validity {
            kind: pb::ValidityKind::Relative.into(),
            relative_days: days,
            ..Default::default()
        },
    };
    pb::Batch {
        batch_id: batch.id.to_string(),
        batch_key: batch.key.to_string(),
        shop_id: spec.shop_id.to_string(),
        internal_name: spec.internal_name,
        kind: pb::CouponKind::from(spec.terms.kind).into(),
        face_value_fen: spec.terms.face_value_fen,
        threshold_fen: spec.terms.threshold_fen,
        discount_percent: spec.terms.discount_percent,
        discount_cap_fen: spec.terms.discount_cap_fen,
        item_scope: Some(scope(&spec.terms)),
        regions: spec.terms.regions,
        channel: pbc::CouponChannel::from(spec.channel).into(),
        total_quantity: spec.total_quantity,
        per_user_limit: spec.per_user_limit,
        per_issue_count: spec.per_issue_count,
        giftable: spec.giftable,
        claim_start_time: Some(to_timestamp(spec.claim_window.start)),
        claim_end_time: Some(to_timestamp(spec.claim_window.end)),
        validity: Some(validity),
        status: pb::BatchStatus::from(status).into(),
        reject_reason: batch.reject_reason.unwrap_or_default(),
        remaining_quantity: batch.remaining,
        shop_type: pbc::ShopType::from(spec.shop_type).into(),
        issued_quantity: batch.issued,
        reserved_quantity: batch.reserved,
        bound_allocation_id: batch
            .bound_allocation
            .map(|a| a.to_string())
            .unwrap_or_default(),
        bound_holder: batch
            .binding
            .as_ref()
            .map(|b| b.holder.clone())
            .unwrap_or_default(),
        effective_claim_start_time: Some(to_timestamp(effective.start)),
        effective_claim_end_time: Some(to_timestamp(effective.end)),
        create_time: Some(to_timestamp(batch.created_at)),
        update_time: Some(to_timestamp(batch.updated_at)),
    }
}

impl From<Coupon> for pb::Coupon {
    fn from(c: Coupon) -> Self {
        pb::Coupon {
            coupon_id: c.id.to_string(),
            code: c.code,
            batch_id: c.batch.to_string(),
            user_id: c.user.to_string(),
            state: pb::CouponState::from(c.state).into(),
            valid_from_time: Some(to_timestamp(c.valid.start)),
            valid_until_time: Some(to_timestamp(c.valid.end)),
            shop_id: c.shop.to_string(),
            batch_key: c.batch_key.to_string(),
            kind: pb::CouponKind::from(c.terms.kind).into(),
            face_value_fen: c.terms.face_value_fen,
            threshold_fen: c.terms.threshold_fen,
            discount_percent: c.terms.discount_percent,
            discount_cap_fen: c.terms.discount_cap_fen,
            item_scope: Some(scope(&c.terms)),
            regions: c.terms.regions,
            giftable: c.giftable,
            order_id: c.order.map(|o| o.to_string()).unwrap_or_default(),
            issue_time: Some(to_timestamp(c.issued_at)),
            use_time: c.used_at.map(to_timestamp),
        }
    }
}

pub(crate) fn coupons(coupons: Vec<Coupon>) -> Vec<pb::Coupon> {
    coupons.into_iter().map(pb::Coupon::from).collect()
}

impl From<Allocation> for pb::Allocation {
    fn from(a: Allocation) -> Self {
        pb::Allocation {
            allocation_id: a.id.to_string(),
            batch_id: a.batch.to_string(),
            channel: pbc::CouponChannel::from(a.channel).into(),
            holder: a.holder.to_string(),
            reserved: a.reserved,
            issued: a.issued,
            released: a.released_at.is_some(),
            remaining: a.remaining,
            bound: a.bound,
            claim_start_time: a.window.map(|w| to_timestamp(w.start)),
            claim_end_time: a.window.map(|w| to_timestamp(w.end)),
            create_time: Some(to_timestamp(a.created_at)),
            release_time: a.released_at.map(to_timestamp),
        }
    }
}

impl From<Evaluation> for pb::CouponEvaluation {
    fn from(e: Evaluation) -> Self {
        match e.result {
            Ok(discount) => pb::CouponEvaluation {
                coupon_id: e.coupon.to_string(),
                usable: true,
                discount_fen: discount,
                reason: String::new(),
            },
            Err(why) => pb::CouponEvaluation {
                coupon_id: e.coupon.to_string(),
                usable: false,
                discount_fen: 0,
                reason: why.reason().to_string(),
            },
        }
    }
}

pub(crate) fn statistics(batch: &Batch, stats: &Statistics) -> pb::BatchStatistics {
    pb::BatchStatistics {
        batch_id: batch.id.to_string(),
        issued: stats.issued,
        used: stats.used,
        expired: stats.expired,
        use_rate_bp: stats.use_rate_bp(),
        issues: stats.issues,
        locked: stats.locked,
        available: stats.available,
        total_quantity: batch.spec.total_quantity,
        remaining_quantity: batch.remaining,
        reserved_quantity: batch.reserved,
    }
}

pub(crate) fn lines(lines: Vec<pbc::OrderLine>) -> Vec<LineInput> {
    lines
        .into_iter()
        .map(|l| LineInput {
            sku: l.sku,
            category: l.category,
            quantity: l.quantity,
            unit_price_fen: l.unit_price_fen,
            member_exclusive: l.member_exclusive,
            member_price_fen: l.member_price_fen,
        })
        .collect()
}

/// An optional timestamp field: `Ok(None)` when absent, INVALID_ARGUMENT when out of range.
pub(crate) fn optional_time(
    field: &str,
    at: Option<&prost_types::Timestamp>,
) -> Result<Option<DateTime<Utc>>, Failure> {
    match at {
        None => Ok(None),
        Some(t) => from_timestamp(t)
            .map(Some)
            .ok_or_else(|| Failure::invalid(field, "must be a valid timestamp")),
    }
}

/// LV-6: the terms a cart was priced with.
pub(crate) fn member_pricing(terms: &MemberTerms) -> pb::MemberPricing {
    pb::MemberPricing {
        level: terms.level,
        discount_percent: terms.discount_percent,
        exclusive_access: terms.exclusive_access,
        exclusive_access_level: terms.exclusive_access_level,
    }
}

/// LV-6: one priced cart line.
pub(crate) fn line_price(line: &LinePrice) -> pb::CartLinePrice {
    pb::CartLinePrice {
        sku: line.sku.clone(),
        list_amount_fen: line.list_amount_fen,
        payable_fen: line.payable_fen,
        purchasable: line.purchasable,
        reason: line
            .refusal
            .map(|r| r.reason().to_string())
            .unwrap_or_default(),
    }
}
