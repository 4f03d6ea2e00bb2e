//! The JSON shapes of the coupon routes, converted from and to coupon-svc's protobuf
//! messages. Enums travel as their short names (`THRESHOLD`, `GENERAL`, `ACTIVE` ...),
//! timestamps as RFC 3339 strings, money as integer fen. Storefront shapes never carry a
//! batch's internal name (CP-1).

use chrono::{DateTime, Utc};
use memberhub_kit::clock::to_timestamp;
use memberhub_proto::{common as pbc, coupon as pb};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

fn timestamp(t: Option<prost_types::Timestamp>) -> Option<String> {
    t.and_then(|t| memberhub_kit::clock::from_timestamp(&t))
        .map(|t| t.to_rfc3339())
}

fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_string()
}

fn ts(at: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    at.map(to_timestamp)
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CouponKind {
    Threshold,
    Cash,
    Discount,
}

impl From<CouponKind> for pb::CouponKind {
    fn from(k: CouponKind) -> Self {
        match k {
            CouponKind::Threshold => pb::CouponKind::Threshold,
            CouponKind::Cash => pb::CouponKind::Cash,
            CouponKind::Discount => pb::CouponKind::Discount,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CouponChannel {
    General,
    Crm,
    Interactive,
    SprintPlan,
}

impl From<CouponChannel> for pbc::CouponChannel {
    fn from(c: CouponChannel) -> Self {
        match c {
            CouponChannel::General => pbc::CouponChannel::General,
            CouponChannel::Crm => pbc::CouponChannel::Crm,
            CouponChannel::Interactive => pbc::CouponChannel::Interactive,
            CouponChannel::SprintPlan => pbc::CouponChannel::SprintPlan,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum BatchStatus {
    Draft,
    PendingApproval,
    Active,
    Ended,
    Closed,
}

impl From<BatchStatus> for pb::BatchStatus {
    fn from(s: BatchStatus) -> Self {
        match s {
            BatchStatus::Draft => pb::BatchStatus::Draft,
            BatchStatus::PendingApproval => pb::BatchStatus::PendingApproval,
            BatchStatus::Active => pb::BatchStatus::Active,
            BatchStatus::Ended => pb::BatchStatus::Ended,
            BatchStatus::Closed => pb::BatchStatus::Closed,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum CouponState {
    Available,
    Locked,
    Used,
    Expired,
}

impl From<CouponState> for pb::CouponState {
    fn from(s: CouponState) -> Self {
        match s {
            CouponState::Available => pb::CouponState::Available,
            CouponState::Locked => pb::CouponState::Locked,
            CouponState::Used => pb::CouponState::Used,
            CouponState::Expired => pb::CouponState::Expired,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ValidityKind {
    Absolute,
    Relative,
}

/// CP-1: when an issued coupon can be used.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct Validity {
    pub kind: ValidityKind,
    /// ABSOLUTE: [start_time, end_time).
    // Published as left out rather than null (the service takes both): schemathesis fills
    // a `["string", "null"]` date-time with strings that are no time, and replies never
    // carry null here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub start_time: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub end_time: Option<DateTime<Utc>>,
    /// ABSOLUTE: both ends on whole hours.
    #[serde(default)]
    pub whole_hours: bool,
    /// RELATIVE: 1 to 365 days from the claim; 0 for ABSOLUTE.
    // coupon-svc `batch::RELATIVE_DAYS`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 365)]
    pub relative_days: i32,
}

impl From<pb::Validity> for Validity {
    fn from(v: pb::Validity) -> Self {
        let at = |t: Option<prost_types::Timestamp>| {
            t.and_then(|t| memberhub_kit::clock::from_timestamp(&t))
        };
        Self {
            kind: match v.kind() {
                pb::ValidityKind::Absolute => ValidityKind::Absolute,
                pb::ValidityKind::Relative | pb::ValidityKind::Unspecified => {
                    ValidityKind::Relative
                }
            },
            start_time: at(v.start_time),
            end_time: at(v.end_time),
            whole_hours: v.whole_hours,
            relative_days: v.relative_days,
        }
    }
}

impl From<Validity> for pb::Validity {
    fn from(v: Validity) -> Self {
        pb::Validity {
            kind: match v.kind {
                ValidityKind::Absolute => pb::ValidityKind::Absolute,
                ValidityKind::Relative => pb::ValidityKind::Relative,
            }
            .into(),
            start_time: ts(v.start_time),
            end_time: ts(v.end_time),
            whole_hours: v.whole_hours,
            relative_days: v.relative_days,
        }
    }
}

/// CP-1: empty lists mean every item; otherwise an item is in scope when its category or
/// its sku is listed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub(crate) struct ItemScope {
    #[serde(default)]
    #[schema(schema_with = scope_codes)]
    pub categories: Vec<String>,
    #[serde(default)]
    #[schema(schema_with = scope_codes)]
    pub skus: Vec<String>,
}

/// CP-1: category, sku and region lists: at most 500 distinct codes of 1 to 64 characters
/// (coupon-svc `batch::{MAX_SCOPE_ENTRIES, MAX_CODE_CHARS}`); utoipa's attributes cannot
/// say "distinct" nor constrain the items of a `Vec<String>`.
fn scope_codes() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .min_length(Some(1))
                .max_length(Some(64))
                .pattern(Some(crate::constraints::REQUIRED_TEXT)),
        )
        .max_items(Some(500))
        .unique_items(true)
        .build()
}

/// CP-6: 1 to 50 distinct coupon ids (coupon-svc `coupon::MAX_COUPONS_PER_CALL`).
fn coupon_ids() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    use utoipa::openapi::{KnownFormat, SchemaFormat};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid))),
        )
        .min_items(Some(1))
        .max_items(Some(50))
        .unique_items(true)
        .build()
}

fn scope(s: Option<pb::ItemScope>) -> ItemScope {
    let s = s.unwrap_or_default();
    ItemScope {
        categories: s.categories,
        skus: s.skus,
    }
}

// ------------------------------------------------------------------ back-office

/// CP-1: a new batch (the shop comes from the path; its type from membership-svc).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct CreateCouponBatch {
    // coupon-svc `batch::MAX_INTERNAL_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub internal_name: String,
    pub kind: CouponKind,
    /// THRESHOLD and CASH: 1 or more; DISCOUNT: 0.
    // coupon-svc `batch::MAX_FEN`, as for every amount below.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub face_value_fen: i64,
    /// THRESHOLD: more than the face value; CASH: 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub threshold_fen: i64,
    /// DISCOUNT: percent off, 1 to 99; otherwise 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 99)]
    pub discount_percent: i32,
    /// DISCOUNT: the most one coupon takes off, 0 for no cap; otherwise 0.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub discount_cap_fen: i64,
    #[serde(default)]
    pub item_scope: ItemScope,
    /// Empty: every region.
    #[serde(default)]
    #[schema(schema_with = scope_codes)]
    pub regions: Vec<String>,
    pub channel: CouponChannel,
    // coupon-svc `batch::MAX_QUANTITY`.
    #[schema(minimum = 1, maximum = 100_000_000_i64)]
    pub total_quantity: i64,
    /// 0 = unlimited.
    // coupon-svc `batch::MAX_PER_USER_LIMIT`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 10_000)]
    pub per_user_limit: i32,
    // coupon-svc `batch::MAX_PER_ISSUE`.
    #[schema(minimum = 1, maximum = 10)]
    pub per_issue_count: i32,
    #[serde(default)]
    pub giftable: bool,
    pub claim_start_time: DateTime<Utc>,
    pub claim_end_time: DateTime<Utc>,
    pub validity: Validity,
}

impl CreateCouponBatch {
    pub(crate) fn into_pb(self, shop_id: String, shop_type: pbc::ShopType) -> pb::Batch {
        pb::Batch {
            shop_id,
            shop_type: shop_type.into(),
            internal_name: self.internal_name,
            kind: pb::CouponKind::from(self.kind).into(),
            face_value_fen: self.face_value_fen,
            threshold_fen: self.threshold_fen,
            discount_percent: self.discount_percent,
            discount_cap_fen: self.discount_cap_fen,
            item_scope: Some(pb::ItemScope {
                categories: self.item_scope.categories,
                skus: self.item_scope.skus,
            }),
            regions: self.regions,
            channel: pbc::CouponChannel::from(self.channel).into(),
            total_quantity: self.total_quantity,
            per_user_limit: self.per_user_limit,
            per_issue_count: self.per_issue_count,
            giftable: self.giftable,
            claim_start_time: Some(to_timestamp(self.claim_start_time)),
            claim_end_time: Some(to_timestamp(self.claim_end_time)),
            validity: Some(self.validity.into()),
            ..Default::default()
        }
    }
}

/// A coupon batch as its merchant (or an operator) sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CouponBatch {
    pub batch_id: String,
    /// The copyable key, e.g. `BA_zv2bmpn`.
    pub batch_key: String,
    pub shop_id: String,
    pub internal_name: String,
    /// `THRESHOLD`, `CASH` or `DISCOUNT`.
    pub kind: String,
    pub face_value_fen: i64,
    pub threshold_fen: i64,
    pub discount_percent: i32,
    pub discount_cap_fen: i64,
    pub item_scope: ItemScope,
    pub regions: Vec<String>,
    /// `GENERAL`, `CRM`, `INTERACTIVE` or `SPRINT_PLAN`.
    pub channel: String,
    pub total_quantity: i64,
    pub per_user_limit: i32,
    pub per_issue_count: i32,
    pub giftable: bool,
    pub claim_start_time: Option<String>,
    pub claim_end_time: Option<String>,
    pub validity: Option<Validity>,
    /// `DRAFT`, `PENDING_APPROVAL`, `ACTIVE`, `ENDED` or `CLOSED`.
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reject_reason: String,
    pub remaining_quantity: i64,
    pub issued_quantity: i64,
    pub reserved_quantity: i64,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub bound_allocation_id: String,
    /// OC-6: the campaign the batch is bound to; absent when not bound.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub bound_holder: String,
    /// OC-6: when the batch can actually be claimed: the bound campaign's window once
    /// bound, else `claim_start_time`..`claim_end_time`.
    pub effective_claim_start_time: Option<String>,
    pub effective_claim_end_time: Option<String>,
    pub create_time: Option<String>,
    pub update_time: Option<String>,
}

impl From<pb::Batch> for CouponBatch {
    fn from(b: pb::Batch) -> Self {
        Self {
            kind: short(b.kind().as_str_name(), "COUPON_KIND_"),
            channel: short(b.channel().as_str_name(), "COUPON_CHANNEL_"),
            status: short(b.status().as_str_name(), "BATCH_STATUS_"),
            batch_id: b.batch_id,
            batch_key: b.batch_key,
            shop_id: b.shop_id,
            internal_name: b.internal_name,
            face_value_fen: b.face_value_fen,
            threshold_fen: b.threshold_fen,
            discount_percent: b.discount_percent,
            discount_cap_fen: b.discount_cap_fen,
            item_scope: scope(b.item_scope),
            regions: b.regions,
            total_quantity: b.total_quantity,
            per_user_limit: b.per_user_limit,
            per_issue_count: b.per_issue_count,
            giftable: b.giftable,
            claim_start_time: timestamp(b.claim_start_time),
            claim_end_time: timestamp(b.claim_end_time),
            validity: b.validity.map(Validity::from),
            reject_reason: b.reject_reason,
            remaining_quantity: b.remaining_quantity,
            issued_quantity: b.issued_quantity,
            reserved_quantity: b.reserved_quantity,
            bound_allocation_id: b.bound_allocation_id,
            bound_holder: b.bound_holder,
            effective_claim_start_time: timestamp(b.effective_claim_start_time),
            effective_claim_end_time: timestamp(b.effective_claim_end_time),
            create_time: timestamp(b.create_time),
            update_time: timestamp(b.update_time),
        }
    }
}

/// A page of batches, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CouponBatchList {
    pub batches: Vec<CouponBatch>,
    /// Pass as `page_token` for the next page; empty on the last.
    pub next_page_token: String,
    pub total_size: i64,
}

impl From<pb::ListBatchesResponse> for CouponBatchList {
    fn from(r: pb::ListBatchesResponse) -> Self {
        Self {
            batches: r.batches.into_iter().map(CouponBatch::from).collect(),
            next_page_token: r.next_page_token,
            total_size: r.total_size,
        }
    }
}

/// Filters of a batch list.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct CouponBatchQuery {
    pub status: Option<BatchStatus>,
    pub channel: Option<CouponChannel>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(minimum = 0, maximum = 200)]
    pub page_size: Option<i32>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
    /// Platform only: one shop's batches.
    pub shop_id: Option<String>,
}

/// CP-8: what a batch's coupons became.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CouponBatchStatistics {
    pub batch_id: String,
    /// Issues made (each of per_issue_count coupons).
    pub issues: i64,
    /// Coupons issued.
    pub issued: i64,
    pub used: i64,
    pub expired: i64,
    pub locked: i64,
    pub available: i64,
    /// used / issued in basis points (2500 = 25 %).
    pub use_rate_bp: i32,
    pub total_quantity: i64,
    pub remaining_quantity: i64,
    pub reserved_quantity: i64,
}

impl From<pb::BatchStatistics> for CouponBatchStatistics {
    fn from(s: pb::BatchStatistics) -> Self {
        Self {
            batch_id: s.batch_id,
            issues: s.issues,
            issued: s.issued,
            used: s.used,
            expired: s.expired,
            locked: s.locked,
            available: s.available,
            use_rate_bp: s.use_rate_bp,
            total_quantity: s.total_quantity,
            remaining_quantity: s.remaining_quantity,
            reserved_quantity: s.reserved_quantity,
        }
    }
}

/// CP-9: why an operator rejects a batch.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct RejectCouponBatch {
    // coupon-svc `batch::MAX_REASON_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub reason: String,
}

// ------------------------------------------------------------------ storefront

/// CP-3: a page of the shop's coupon centre.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CouponCentre {
    pub batches: Vec<StorefrontCouponBatch>,
    /// Pass as `page_token` for the next page; empty on the last.
    pub next_page_token: String,
}

impl From<pb::ListClaimableBatchesResponse> for CouponCentre {
    fn from(r: pb::ListClaimableBatchesResponse) -> Self {
        Self {
            batches: r
                .batches
                .into_iter()
                .map(StorefrontCouponBatch::from)
                .collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// A batch as shoppers see it: never the internal name (CP-1).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct StorefrontCouponBatch {
    pub batch_id: String,
    pub batch_key: String,
    pub shop_id: String,
    pub kind: String,
    pub face_value_fen: i64,
    pub threshold_fen: i64,
    pub discount_percent: i32,
    pub discount_cap_fen: i64,
    pub item_scope: ItemScope,
    pub regions: Vec<String>,
    pub channel: String,
    pub per_user_limit: i32,
    pub per_issue_count: i32,
    pub claim_start_time: Option<String>,
    pub claim_end_time: Option<String>,
    pub validity: Option<Validity>,
    pub status: String,
    pub remaining_quantity: i64,
}

impl From<pb::Batch> for StorefrontCouponBatch {
    fn from(b: pb::Batch) -> Self {
        Self {
            kind: short(b.kind().as_str_name(), "COUPON_KIND_"),
            channel: short(b.channel().as_str_name(), "COUPON_CHANNEL_"),
            status: short(b.status().as_str_name(), "BATCH_STATUS_"),
            batch_id: b.batch_id,
            batch_key: b.batch_key,
            shop_id: b.shop_id,
            face_value_fen: b.face_value_fen,
            threshold_fen: b.threshold_fen,
            discount_percent: b.discount_percent,
            discount_cap_fen: b.discount_cap_fen,
            item_scope: scope(b.item_scope),
            regions: b.regions,
            per_user_limit: b.per_user_limit,
            per_issue_count: b.per_issue_count,
            claim_start_time: timestamp(b.claim_start_time),
            claim_end_time: timestamp(b.claim_end_time),
            validity: b.validity.map(Validity::from),
            remaining_quantity: b.remaining_quantity,
        }
    }
}

/// CP-5: a coupon in a shopper's wallet.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct WalletCoupon {
    pub coupon_id: String,
    pub code: String,
    pub batch_id: String,
    pub batch_key: String,
    pub shop_id: String,
    /// `AVAILABLE`, `LOCKED`, `USED` or `EXPIRED`.
    pub state: String,
    pub kind: String,
    pub face_value_fen: i64,
    pub threshold_fen: i64,
    pub discount_percent: i32,
    pub discount_cap_fen: i64,
    pub item_scope: ItemScope,
    pub regions: Vec<String>,
    pub giftable: bool,
    pub valid_from_time: Option<String>,
    pub valid_until_time: Option<String>,
    pub issue_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_time: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub order_id: String,
}

impl From<pb::Coupon> for WalletCoupon {
    fn from(c: pb::Coupon) -> Self {
        Self {
            state: short(c.state().as_str_name(), "COUPON_STATE_"),
            kind: short(c.kind().as_str_name(), "COUPON_KIND_"),
            coupon_id: c.coupon_id,
            code: c.code,
            batch_id: c.batch_id,
            batch_key: c.batch_key,
            shop_id: c.shop_id,
            face_value_fen: c.face_value_fen,
            threshold_fen: c.threshold_fen,
            discount_percent: c.discount_percent,
            discount_cap_fen: c.discount_cap_fen,
            item_scope: scope(c.item_scope),
            regions: c.regions,
            giftable: c.giftable,
            valid_from_time: timestamp(c.valid_from_time),
            valid_until_time: timestamp(c.valid_until_time),
            issue_time: timestamp(c.issue_time),
            use_time: timestamp(c.use_time),
            order_id: c.order_id,
        }
    }
}

/// CP-5: a page of the wallet, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Wallet {
    pub coupons: Vec<WalletCoupon>,
    pub next_page_token: String,
}

impl From<pb::ListWalletCouponsResponse> for Wallet {
    fn from(r: pb::ListWalletCouponsResponse) -> Self {
        Self {
            coupons: r.coupons.into_iter().map(WalletCoupon::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// Filters of the wallet.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WalletQuery {
    /// Only coupons of this shop.
    pub shop_id: Option<String>,
    pub state: Option<CouponState>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(minimum = 0, maximum = 200)]
    pub page_size: Option<i32>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

/// CP-3: the coupons one claim granted.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ClaimedCoupons {
    pub coupons: Vec<WalletCoupon>,
}

impl From<pb::IssueCouponsResponse> for ClaimedCoupons {
    fn from(r: pb::IssueCouponsResponse) -> Self {
        Self {
            coupons: r.coupons.into_iter().map(WalletCoupon::from).collect(),
        }
    }
}

/// A line of a cart (money in fen).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct CartLine {
    // coupon-svc `batch::MAX_CODE_CHARS`, `coupon::MAX_LINE_QUANTITY`, `batch::MAX_FEN`.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub sku: String,
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub category: String,
    #[schema(minimum = 1, maximum = 100_000_i64)]
    pub quantity: i64,
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub unit_price_fen: i64,
    /// LV-6: sold only to members whose level grants exclusive access.
    #[serde(default)]
    pub member_exclusive: bool,
    /// LV-6: the unit price for members whose level grants exclusive access (at most
    /// `unit_price_fen`); 0 or absent when the item has none.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub member_price_fen: i64,
}

/// CP-6: a cart and the coupons to try on it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct EvaluateCart {
    /// The delivery region; empty when unknown.
    // coupon-svc `batch::MAX_CODE_CHARS`.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub region: String,
    // coupon-svc `coupon::MAX_LINES`.
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<CartLine>,
    #[schema(schema_with = coupon_ids)]
    pub coupon_ids: Vec<String>,
}

impl EvaluateCart {
    pub(crate) fn lines(&self) -> Vec<pbc::OrderLine> {
        self.lines
            .iter()
            .map(|l| pbc::OrderLine {
                sku: l.sku.clone(),
                category: l.category.clone(),
                quantity: l.quantity,
                unit_price_fen: l.unit_price_fen,
                member_exclusive: l.member_exclusive,
                member_price_fen: l.member_price_fen,
            })
            .collect()
    }
}

/// CP-6: one coupon tried on the cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CouponEvaluation {
    pub coupon_id: String,
    pub usable: bool,
    pub discount_fen: i64,
    /// Why not usable, e.g. `THRESHOLD_NOT_MET`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// LV-6: the shopper's membership as it prices the cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct MemberPricing {
    /// 0 for a non-member.
    pub level: i32,
    /// 95: the member pays 95 % (9.5 fold); 0: no member discount.
    pub discount_percent: i32,
    pub exclusive_access: bool,
    /// The lowest level granting exclusive access; 0 when none does.
    pub exclusive_access_level: i32,
}

/// LV-6: one cart line as this shopper pays for it, before coupons.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CartLinePrice {
    pub sku: String,
    pub list_amount_fen: i64,
    pub payable_fen: i64,
    /// False: member-exclusive, and not for this shopper.
    pub purchasable: bool,
    /// `MEMBERS_ONLY` or `LEVEL_TOO_LOW`: why the line is not purchasable, or why its member
    /// price does not apply.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub reason: String,
}

/// CP-6, LV-6: the cart priced for the shopper and every coupon asked tried on it. Member
/// benefits come first; coupons apply to `payable_fen`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CartEvaluation {
    /// The list total of every line.
    pub cart_total_fen: i64,
    /// What the purchasable lines cost after member benefits, before coupons.
    pub payable_fen: i64,
    pub member_discount_fen: i64,
    pub member: Option<MemberPricing>,
    pub lines: Vec<CartLinePrice>,
    pub evaluations: Vec<CouponEvaluation>,
}

impl From<pb::EvaluateCartResponse> for CartEvaluation {
    fn from(r: pb::EvaluateCartResponse) -> Self {
        Self {
            cart_total_fen: r.cart_total_fen,
            payable_fen: r.payable_fen,
            member_discount_fen: r.member_discount_fen,
            member: r.member.map(|m| MemberPricing {
                level: m.level,
                discount_percent: m.discount_percent,
                exclusive_access: m.exclusive_access,
                exclusive_access_level: m.exclusive_access_level,
            }),
            lines: r
                .lines
                .into_iter()
                .map(|l| CartLinePrice {
                    sku: l.sku,
                    list_amount_fen: l.list_amount_fen,
                    payable_fen: l.payable_fen,
                    purchasable: l.purchasable,
                    reason: l.reason,
                })
                .collect(),
            evaluations: r.evaluations.into_iter().map(evaluation).collect(),
        }
    }
}

fn evaluation(e: pb::CouponEvaluation) -> CouponEvaluation {
    CouponEvaluation {
        coupon_id: e.coupon_id,
        usable: e.usable,
        discount_fen: e.discount_fen,
        reason: e.reason,
    }
}

/// CP-6: the order system locks coupons for an order at placement; every coupon must be
/// usable on the order's cart.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct LockOrderCoupons {
    /// The shopper placing the order.
    // coupon-svc `ids::UserId` (64).
    #[schema(max_length = 64, pattern = r"^[!-~]+$")]
    pub user_id: String,
    #[schema(format = Uuid)]
    pub shop_id: String,
    /// The delivery region; empty when unknown.
    // coupon-svc `batch::MAX_CODE_CHARS`.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub region: String,
    // coupon-svc `coupon::MAX_LINES`.
    #[schema(min_items = 1, max_items = 500)]
    pub lines: Vec<CartLine>,
    #[schema(schema_with = coupon_ids)]
    pub coupon_ids: Vec<String>,
}

impl LockOrderCoupons {
    pub(crate) fn into_request(
        self,
        request_id: String,
        order_id: String,
    ) -> pb::LockCouponsRequest {
        let lines = EvaluateCart {
            region: String::new(),
            lines: self.lines,
            coupon_ids: Vec::new(),
        }
        .lines();
        pb::LockCouponsRequest {
            request_id,
            user_id: self.user_id,
            order_id,
            coupon_ids: self.coupon_ids,
            shop_id: self.shop_id,
            region: self.region,
            lines,
        }
    }
}

/// CP-6: the shopper whose order's locked coupons are redeemed or released.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct OrderShopper {
    // coupon-svc `ids::UserId` (64).
    #[schema(max_length = 64, pattern = r"^[!-~]+$")]
    pub user_id: String,
}

/// CP-6: the coupons an order locked, with what each takes off the cart.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct LockedCoupons {
    pub coupons: Vec<WalletCoupon>,
    pub evaluations: Vec<CouponEvaluation>,
}

impl From<pb::LockCouponsResponse> for LockedCoupons {
    fn from(r: pb::LockCouponsResponse) -> Self {
        Self {
            coupons: r.coupons.into_iter().map(WalletCoupon::from).collect(),
            evaluations: r.evaluations.into_iter().map(evaluation).collect(),
        }
    }
}

/// CP-6: the coupons a redemption marked used, or a release gave back.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OrderCoupons {
    pub coupons: Vec<WalletCoupon>,
}

impl From<pb::RedeemCouponsResponse> for OrderCoupons {
    fn from(r: pb::RedeemCouponsResponse) -> Self {
        Self {
            coupons: r.coupons.into_iter().map(WalletCoupon::from).collect(),
        }
    }
}

impl From<pb::ReleaseCouponsResponse> for OrderCoupons {
    fn from(r: pb::ReleaseCouponsResponse) -> Self {
        Self {
            coupons: r.coupons.into_iter().map(WalletCoupon::from).collect(),
        }
    }
}

/// CP-3: a merchant hands one issue of their GENERAL or CRM batch to a member of the shop.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct IssueToMember {
    // coupon-svc `ids::UserId` (64).
    #[schema(max_length = 64, pattern = r"^[!-~]+$")]
    pub user_id: String,
}
