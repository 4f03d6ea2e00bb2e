//! Campaigns (campaign-svc): open-card gifts (OC-1..OC-10), gift packs, gift items and the
//! new-member exclusive (GP-1..GP-9), points exchanges (PT-3), claims and entitlements
//! (GP-4). Enums travel as their short names (`BEANS`, `NEW_MEMBER`, `GRANTED` ...).

use chrono::{DateTime, Utc};
use memberhub_kit::clock::to_timestamp;
use memberhub_proto::campaign as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{short, timestamp};
use crate::error::ApiError;
use crate::query::{self, FieldCheck};

fn ts(at: Option<DateTime<Utc>>) -> Option<prost_types::Timestamp> {
    at.map(to_timestamp)
}

/// OC-4: what an open-card gift prize is.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum PrizeType {
    Beans,
    CashCoupon,
    ThresholdCoupon,
    Points,
    RedPacket,
    DataPack,
}

impl From<PrizeType> for pb::PrizeType {
    fn from(t: PrizeType) -> Self {
        match t {
            PrizeType::Beans => pb::PrizeType::Beans,
            PrizeType::CashCoupon => pb::PrizeType::CashCoupon,
            PrizeType::ThresholdCoupon => pb::PrizeType::ThresholdCoupon,
            PrizeType::Points => pb::PrizeType::Points,
            PrizeType::RedPacket => pb::PrizeType::RedPacket,
            PrizeType::DataPack => pb::PrizeType::DataPack,
        }
    }
}

/// GP-1/GP-6: which shoppers a gift pack is for.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum GiftPackKind {
    NewMember,
    Member,
}

impl From<GiftPackKind> for pb::GiftPackKind {
    fn from(k: GiftPackKind) -> Self {
        match k {
            GiftPackKind::NewMember => pb::GiftPackKind::NewMember,
            GiftPackKind::Member => pb::GiftPackKind::Member,
        }
    }
}

/// Where a claim stands: `GRANTED` only once every grant step is done (never half).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ClaimState {
    Pending,
    Granted,
    Failed,
}

impl From<ClaimState> for pb::ClaimState {
    fn from(s: ClaimState) -> Self {
        match s {
            ClaimState::Pending => pb::ClaimState::Pending,
            ClaimState::Granted => pb::ClaimState::Granted,
            ClaimState::Failed => pb::ClaimState::Failed,
        }
    }
}

/// GP-8: which of the two new-member exclusives a new member takes.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum ExclusiveChoice {
    Coupon,
    Gift,
}

impl From<ExclusiveChoice> for pb::ExclusiveChoice {
    fn from(c: ExclusiveChoice) -> Self {
        match c {
            ExclusiveChoice::Coupon => pb::ExclusiveChoice::Coupon,
            ExclusiveChoice::Gift => pb::ExclusiveChoice::Gift,
        }
    }
}

// ------------------------------------------------------------------ open-card gifts

/// OC-4: one prize of an open-card gift's pack.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Prize {
    /// `BEANS`, `CASH_COUPON`, `THRESHOLD_COUPON`, `POINTS`, `RED_PACKET` or `DATA_PACK`.
    #[serde(rename = "type")]
    pub prize_type: String,
    /// Asset prizes: the amount per pack (beans, points, red packet fen, data pack MB).
    pub amount: i64,
    /// Coupon prizes: the bound batch's key (`BA_...`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub batch_key: String,
}

impl From<pb::Prize> for Prize {
    fn from(p: pb::Prize) -> Self {
        Self {
            prize_type: short(p.r#type().as_str_name(), "PRIZE_TYPE_"),
            amount: p.amount,
            batch_key: p.batch_key,
        }
    }
}

/// OC-4..OC-6: a prize of a new or changed open-card gift.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct NewPrize {
    #[serde(rename = "type")]
    pub prize_type: PrizeType,
    /// Asset prizes: the amount per pack (required for them).
    // campaign-svc `open_card_gift::MAX_AMOUNT`.
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub amount: i64,
    /// Coupon prizes: the batch to bind, by its key (`BA_...`; required for them).
    #[serde(default)]
    #[schema(pattern = r"^(?:BA_[a-z2-7]{7})?$")]
    pub batch_key: String,
}

impl From<NewPrize> for pb::Prize {
    fn from(p: NewPrize) -> Self {
        Self {
            r#type: pb::PrizeType::from(p.prize_type).into(),
            amount: p.amount,
            batch_key: p.batch_key,
        }
    }
}

/// OC-1..OC-10: an open-card gift campaign as the merchant sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OpenCardGift {
    pub campaign_id: String,
    pub shop_id: String,
    pub name: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub prizes: Vec<Prize>,
    pub gift_quantity: i64,
    /// OC-8, OC-10: packs still to give.
    pub packs_left: i64,
    /// `SCHEDULED`, `LIVE`, `ENDED` or `CLOSED`.
    pub status: String,
    /// The shop's IANA time zone at creation; statistics days are cut in it (X-4).
    pub time_zone: String,
    pub create_time: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub close_time: Option<String>,
    /// OC-9: unused budget and coupon allocations have been given back.
    pub settled: bool,
}

impl From<pb::OpenCardGift> for OpenCardGift {
    fn from(g: pb::OpenCardGift) -> Self {
        Self {
            status: short(g.status().as_str_name(), "CAMPAIGN_STATUS_"),
            campaign_id: g.campaign_id,
            shop_id: g.shop_id,
            name: g.name,
            start_time: timestamp(g.start_time),
            end_time: timestamp(g.end_time),
            prizes: g.prizes.into_iter().map(Prize::from).collect(),
            gift_quantity: g.gift_quantity,
            packs_left: g.packs_left,
            time_zone: g.time_zone,
            create_time: timestamp(g.create_time),
            close_time: timestamp(g.close_time),
            settled: g.settled,
        }
    }
}

/// OC-1..OC-6, OC-8: a new open-card gift, or the whole of a changed one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct OpenCardGiftBody {
    /// OC-1: 1 to 10 characters.
    // campaign-svc `open_card_gift::MAX_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 10,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    pub start_time: DateTime<Utc>,
    /// OC-2: at least 3 days and at most 366 days after `start_time`.
    pub end_time: DateTime<Utc>,
    /// OC-4: 1 to 3 prizes of distinct types.
    // campaign-svc `open_card_gift::MAX_PRIZES`.
    #[schema(min_items = 1, max_items = 3)]
    pub prizes: Vec<NewPrize>,
    /// OC-8: packs to give.
    // campaign-svc `open_card_gift::MAX_AMOUNT`.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub gift_quantity: i64,
}

impl OpenCardGiftBody {
    /// The campaign for `shop_id`; `campaign_id` is empty for a new one.
    pub(crate) fn into_pb(self, shop_id: String, campaign_id: String) -> pb::OpenCardGift {
        pb::OpenCardGift {
            campaign_id,
            shop_id,
            name: self.name,
            start_time: ts(Some(self.start_time)),
            end_time: ts(Some(self.end_time)),
            prizes: self.prizes.into_iter().map(pb::Prize::from).collect(),
            gift_quantity: self.gift_quantity,
            ..Default::default()
        }
    }
}

/// A page of the shop's open-card gifts.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OpenCardGiftList {
    pub gifts: Vec<OpenCardGift>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<pb::ListOpenCardGiftsResponse> for OpenCardGiftList {
    fn from(r: pb::ListOpenCardGiftsResponse) -> Self {
        Self {
            gifts: r.gifts.into_iter().map(OpenCardGift::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// Paging of a list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageQuery {
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl PageQuery {
    /// (page_size, page_token), or INVALID_ARGUMENT naming `page_size`.
    pub(crate) fn parse(self) -> Result<(i32, String), ApiError> {
        let mut check = FieldCheck::default();
        let page_size = check.take(query::integer("page_size", self.page_size.as_deref()));
        check.finish((
            page_size.unwrap_or_default(),
            self.page_token.unwrap_or_default(),
        ))
    }
}

/// OC-10: one prize type's total for a day.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct PrizeTotal {
    #[serde(rename = "type")]
    pub prize_type: String,
    pub amount: i64,
}

/// OC-10: one shop-local day of an open-card gift.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct DailyStatistics {
    /// The shop-local day, `YYYY-MM-DD`.
    pub day: String,
    /// Final from T+1: the merchant's authoritative report.
    #[serde(rename = "final")]
    pub is_final: bool,
    /// Distinct shoppers shown the gift that day.
    pub exposures: i64,
    pub cards_opened: i64,
    pub packs_granted: i64,
    pub prize_totals: Vec<PrizeTotal>,
}

/// OC-10: the daily series and the live "packs left" counter for stop-loss decisions.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OpenCardGiftStatistics {
    pub campaign_id: String,
    pub days: Vec<DailyStatistics>,
    pub packs_left: i64,
}

impl From<pb::OpenCardGiftStatistics> for OpenCardGiftStatistics {
    fn from(s: pb::OpenCardGiftStatistics) -> Self {
        Self {
            campaign_id: s.campaign_id,
            days: s
                .days
                .into_iter()
                .map(|d| DailyStatistics {
                    day: d.day,
                    is_final: d.r#final,
                    exposures: d.exposures,
                    cards_opened: d.cards_opened,
                    packs_granted: d.packs_granted,
                    prize_totals: d
                        .prize_totals
                        .into_iter()
                        .map(|t| PrizeTotal {
                            prize_type: short(t.r#type().as_str_name(), "PRIZE_TYPE_"),
                            amount: t.amount,
                        })
                        .collect(),
                })
                .collect(),
            packs_left: s.packs_left,
        }
    }
}

// ------------------------------------------------------------------ gift packs

/// GP-2: a gift item and how many of it a pack (or the exclusive) gives.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
pub(crate) struct GiftItem {
    /// A gift item of the shop; empty means no gift item.
    // campaign-svc `gift_pack::MAX_SKU_CHARS`.
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub sku: String,
    /// 1 to the item's stock; 0 asks for the whole stock.
    #[schema(minimum = 0)]
    pub quantity: i64,
}

impl From<pb::GiftItem> for GiftItem {
    fn from(i: pb::GiftItem) -> Self {
        Self {
            sku: i.sku,
            quantity: i.quantity,
        }
    }
}

impl From<GiftItem> for pb::GiftItem {
    fn from(i: GiftItem) -> Self {
        Self {
            sku: i.sku,
            quantity: i.quantity,
        }
    }
}

/// GP-1..GP-7: a new-member or member gift pack.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct GiftPack {
    pub pack_id: String,
    pub shop_id: String,
    /// `NEW_MEMBER` or `MEMBER`.
    pub kind: String,
    pub name: String,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    /// GP-2: 1 to 3 CRM coupon batches, by key.
    pub batch_keys: Vec<String>,
    /// GP-2, GP-4: at most one gift item.
    pub gift_item: Option<GiftItem>,
    pub quantity: i64,
    /// GP-6: member packs only; 0 means every level.
    pub min_level: i32,
    /// GP-7: the pop-up window.
    pub popup_start_time: Option<String>,
    pub popup_end_time: Option<String>,
    /// `SCHEDULED`, `LIVE`, `ENDED` or `CLOSED`.
    pub status: String,
    pub packs_left: i64,
}

impl From<pb::GiftPack> for GiftPack {
    fn from(p: pb::GiftPack) -> Self {
        Self {
            kind: short(p.kind().as_str_name(), "GIFT_PACK_KIND_"),
            status: short(p.status().as_str_name(), "CAMPAIGN_STATUS_"),
            pack_id: p.pack_id,
            shop_id: p.shop_id,
            name: p.name,
            start_time: timestamp(p.start_time),
            end_time: timestamp(p.end_time),
            batch_keys: p.batch_keys,
            gift_item: p.gift_item.map(GiftItem::from),
            quantity: p.quantity,
            min_level: p.min_level,
            popup_start_time: timestamp(p.popup_start_time),
            popup_end_time: timestamp(p.popup_end_time),
            packs_left: p.packs_left,
        }
    }
}

/// GP-1..GP-7: a new gift pack.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct CreateGiftPack {
    pub kind: GiftPackKind,
    // campaign-svc `gift_pack::MAX_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 20,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    pub start_time: DateTime<Utc>,
    /// At most 366 days after `start_time`.
    pub end_time: DateTime<Utc>,
    /// GP-2: 1 to 3 distinct CRM, shop-wide batches.
    #[schema(schema_with = pack_batch_keys)]
    pub batch_keys: Vec<String>,
    /// GP-2: shops with the `gift_items` capability only.
    #[serde(default)]
    pub gift_item: Option<GiftItem>,
    /// GP-3: at most the smallest component stock; absent or 0 means exactly that.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub quantity: i64,
    /// GP-6: member packs only, 1 to 5; 0 means every level.
    // campaign-svc `gift_pack::MAX_LEVEL`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 5)]
    pub min_level: i32,
    /// GP-7: member packs only, within the pack's window; both or neither.
    // Left out rather than null (see `coupon_views::Validity`).
    #[serde(default)]
    #[schema(nullable = false)]
    pub popup_start_time: Option<DateTime<Utc>>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub popup_end_time: Option<DateTime<Utc>>,
}

/// GP-2: 1 to 3 distinct batch keys (campaign-svc `gift_pack::MAX_BATCHES`); utoipa's
/// attributes cannot say "distinct".
fn pack_batch_keys() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Type};
    ArrayBuilder::new()
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(crate::constraints::BATCH_KEY)),
        )
        .min_items(Some(1))
        .max_items(Some(3))
        .unique_items(true)
        .description(Some("GP-2: 1 to 3 distinct CRM, shop-wide batches."))
        .build()
}

impl CreateGiftPack {
    pub(crate) fn into_pb(self, shop_id: String) -> pb::GiftPack {
        pb::GiftPack {
            shop_id,
            kind: pb::GiftPackKind::from(self.kind).into(),
            name: self.name,
            start_time: ts(Some(self.start_time)),
            end_time: ts(Some(self.end_time)),
            batch_keys: self.batch_keys,
            gift_item: self.gift_item.map(pb::GiftItem::from),
            quantity: self.quantity,
            min_level: self.min_level,
            popup_start_time: ts(self.popup_start_time),
            popup_end_time: ts(self.popup_end_time),
            ..Default::default()
        }
    }
}

/// A page of the shop's gift packs.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct GiftPackList {
    pub packs: Vec<GiftPack>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<pb::ListGiftPacksResponse> for GiftPackList {
    fn from(r: pb::ListGiftPacksResponse) -> Self {
        Self {
            packs: r.packs.into_iter().map(GiftPack::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// Filter and paging of the gift pack list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GiftPackQuery {
    /// Only packs of this kind.
    #[param(value_type = Option<GiftPackKind>)]
    pub kind: Option<String>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl GiftPackQuery {
    /// The ListGiftPacks request, or INVALID_ARGUMENT naming every bad filter.
    pub(crate) fn into_request(
        self,
        shop_id: String,
    ) -> Result<pb::ListGiftPacksRequest, ApiError> {
        let mut check = FieldCheck::default();
        let kind = check.take(query::enum_name::<GiftPackKind>(
            "kind",
            self.kind.as_deref(),
        ));
        let page_size = check.take(query::integer("page_size", self.page_size.as_deref()));
        check.finish(pb::ListGiftPacksRequest {
            shop_id,
            kind: kind
                .map_or(pb::GiftPackKind::Unspecified, Into::into)
                .into(),
            page_size: page_size.unwrap_or_default(),
            page_token: self.page_token.unwrap_or_default(),
        })
    }
}

/// GP-2, GP-4: a gift item of the shop that packs and the exclusive may give away.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct GiftItemRecord {
    pub shop_id: String,
    pub sku: String,
    pub title: String,
    /// GP-2: only items of the gift category may be given away.
    pub gift_category: bool,
    /// Units not yet promised to a pack or the exclusive.
    pub stock: i64,
}

impl From<pb::GiftItemRecord> for GiftItemRecord {
    fn from(i: pb::GiftItemRecord) -> Self {
        Self {
            shop_id: i.shop_id,
            sku: i.sku,
            title: i.title,
            gift_category: i.gift_category,
            stock: i.stock,
        }
    }
}

/// GP-2: the shop's gift items.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct GiftItemList {
    pub items: Vec<GiftItemRecord>,
}

impl From<pb::ListGiftItemsResponse> for GiftItemList {
    fn from(r: pb::ListGiftItemsResponse) -> Self {
        Self {
            items: r.items.into_iter().map(GiftItemRecord::from).collect(),
        }
    }
}

/// GP-2: a gift item's title, category and stock (the sku is in the path).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct UpsertGiftItem {
    // campaign-svc `gift_pack::MAX_TITLE_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub title: String,
    pub gift_category: bool,
    #[schema(minimum = 0)]
    pub stock: i64,
}

impl UpsertGiftItem {
    pub(crate) fn into_pb(self, shop_id: String, sku: String) -> pb::GiftItemRecord {
        pb::GiftItemRecord {
            shop_id,
            sku,
            title: self.title,
            gift_category: self.gift_category,
            stock: self.stock,
        }
    }
}

/// GP-8: the shop's new-member exclusive coupon and/or gift.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct NewMemberExclusive {
    pub shop_id: String,
    /// A CRM batch (`BA_...`); empty when none.
    pub batch_key: String,
    /// Absent when none.
    pub gift_item: Option<GiftItem>,
    pub update_time: Option<String>,
}

impl From<pb::NewMemberExclusive> for NewMemberExclusive {
    fn from(e: pb::NewMemberExclusive) -> Self {
        Self {
            shop_id: e.shop_id,
            batch_key: e.batch_key,
            gift_item: e.gift_item.map(GiftItem::from),
            update_time: timestamp(e.update_time),
        }
    }
}

/// GP-8: set the exclusive coupon and/or gift; leaving one out removes it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct SetNewMemberExclusive {
    /// A CRM batch (`BA_...`); empty or absent for none.
    #[serde(default)]
    #[schema(pattern = r"^(?:BA_[a-z2-7]{7})?$")]
    pub batch_key: String,
    #[serde(default)]
    pub gift_item: Option<GiftItem>,
}

impl SetNewMemberExclusive {
    pub(crate) fn into_pb(self, shop_id: String) -> pb::NewMemberExclusive {
        pb::NewMemberExclusive {
            shop_id,
            batch_key: self.batch_key,
            gift_item: self.gift_item.map(pb::GiftItem::from),
            update_time: None,
        }
    }
}

// ------------------------------------------------------------------ claims

/// GP-9: one thing a claim granted (the reveal).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct GrantedItem {
    /// A prize type (`BEANS`, `THRESHOLD_COUPON` ...); empty for pack coupons and gift items.
    #[serde(rename = "type")]
    pub prize_type: String,
    pub amount: i64,
    pub coupon_ids: Vec<String>,
    /// GP-4: the right to buy a gift item for 0.01 yuan.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub entitlement_id: String,
}

impl From<pb::GrantedItem> for GrantedItem {
    fn from(i: pb::GrantedItem) -> Self {
        let prize_type = match i.r#type() {
            pb::PrizeType::Unspecified => String::new(),
            t => short(t.as_str_name(), "PRIZE_TYPE_"),
        };
        Self {
            prize_type,
            amount: i.amount,
            coupon_ids: i.coupon_ids,
            entitlement_id: i.entitlement_id,
        }
    }
}

/// OC-7, GP-1, GP-6, GP-8, PT-3: a shopper's claim, granted whole or not at all.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Claim {
    pub claim_id: String,
    pub shop_id: String,
    pub user_id: String,
    /// `OPEN_CARD_GIFT`, `NEW_MEMBER_PACK`, `MEMBER_PACK`, `NEW_MEMBER_EXCLUSIVE` or
    /// `POINTS_EXCHANGE`.
    pub kind: String,
    /// The campaign, pack or exchange item claimed.
    pub source_id: String,
    /// `PENDING`, `GRANTED` or `FAILED`.
    pub state: String,
    /// GP-9: what the claim granted.
    pub items: Vec<GrantedItem>,
    pub create_time: Option<String>,
    pub grant_time: Option<String>,
    /// Why a FAILED claim failed (e.g. `INSUFFICIENT_POINTS`); points spent came back (PT-3).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub failure_reason: String,
}

impl From<pb::Claim> for Claim {
    fn from(c: pb::Claim) -> Self {
        Self {
            kind: short(c.kind().as_str_name(), "CLAIM_KIND_"),
            state: short(c.state().as_str_name(), "CLAIM_STATE_"),
            claim_id: c.claim_id,
            shop_id: c.shop_id,
            user_id: c.user_id,
            source_id: c.source_id,
            items: c.items.into_iter().map(GrantedItem::from).collect(),
            create_time: timestamp(c.create_time),
            grant_time: timestamp(c.grant_time),
            failure_reason: c.failure_reason,
        }
    }
}

/// A page of the shop's claims.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct ClaimList {
    pub claims: Vec<Claim>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<pb::ListClaimsResponse> for ClaimList {
    fn from(r: pb::ListClaimsResponse) -> Self {
        Self {
            claims: r.claims.into_iter().map(Claim::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// Filters and paging of the claim list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ClaimQuery {
    /// Only this shopper's claims.
    // campaign-svc `types::MAX_USER_ID_CHARS`.
    #[param(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub user_id: Option<String>,
    /// Only claims of this campaign, pack or exchange item.
    // campaign-svc `types::MAX_REF_CHARS`.
    #[param(max_length = 128, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub source_id: Option<String>,
    #[param(value_type = Option<ClaimState>)]
    pub state: Option<String>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl ClaimQuery {
    /// The ListClaims request, or INVALID_ARGUMENT naming every bad filter.
    pub(crate) fn into_request(self, shop_id: String) -> Result<pb::ListClaimsRequest, ApiError> {
        let mut check = FieldCheck::default();
        let state = check.take(query::enum_name::<ClaimState>(
            "state",
            self.state.as_deref(),
        ));
        let page_size = check.take(query::integer("page_size", self.page_size.as_deref()));
        check.finish(pb::ListClaimsRequest {
            shop_id,
            user_id: self.user_id.unwrap_or_default(),
            source_id: self.source_id.unwrap_or_default(),
            state: state.map_or(pb::ClaimState::Unspecified, Into::into).into(),
            page_size: page_size.unwrap_or_default(),
            page_token: self.page_token.unwrap_or_default(),
        })
    }
}

/// The state filter and paging of a shopper's own claims.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct MyClaimQuery {
    #[param(value_type = Option<ClaimState>)]
    pub state: Option<String>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

impl MyClaimQuery {
    /// The ListClaims request for `user_id`'s claims in the shop, or INVALID_ARGUMENT naming
    /// every bad filter.
    pub(crate) fn into_request(
        self,
        shop_id: String,
        user_id: String,
    ) -> Result<pb::ListClaimsRequest, ApiError> {
        ClaimQuery {
            user_id: Some(user_id),
            source_id: None,
            state: self.state,
            page_size: self.page_size,
            page_token: self.page_token,
        }
        .into_request(shop_id)
    }
}

/// GP-8: which exclusive the new member takes.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct ClaimNewMemberExclusive {
    pub choice: ExclusiveChoice,
}

/// PT-3: exchange points for an item of the member's level benefits
/// (`points_for_coupon` / `points_for_goods`).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct ExchangePoints {
    // campaign-svc `types::MAX_REF_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub item_id: String,
}

// ------------------------------------------------------------------ entitlements

/// GP-4: the right to buy a gift item for 0.01 yuan (or exchanged goods for nothing).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct Entitlement {
    pub entitlement_id: String,
    pub shop_id: String,
    pub user_id: String,
    pub sku: String,
    /// What the shopper pays, in fen: 1 for a gift item, 0 for exchanged goods.
    pub price_fen: i64,
    /// `AVAILABLE` or `CONSUMED`.
    pub state: String,
    pub claim_id: String,
    /// The order that consumed it; empty while available.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub order_id: String,
    pub create_time: Option<String>,
}

impl From<pb::Entitlement> for Entitlement {
    fn from(e: pb::Entitlement) -> Self {
        Self {
            state: short(e.state().as_str_name(), "ENTITLEMENT_STATE_"),
            entitlement_id: e.entitlement_id,
            shop_id: e.shop_id,
            user_id: e.user_id,
            sku: e.sku,
            price_fen: e.price_fen,
            claim_id: e.claim_id,
            order_id: e.order_id,
            create_time: timestamp(e.create_time),
        }
    }
}

/// GP-4: the caller's entitlements in a shop.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct EntitlementList {
    pub entitlements: Vec<Entitlement>,
}

impl From<pb::ListEntitlementsResponse> for EntitlementList {
    fn from(r: pb::ListEntitlementsResponse) -> Self {
        Self {
            entitlements: r.entitlements.into_iter().map(Entitlement::from).collect(),
        }
    }
}

/// GP-4: the order that uses the entitlement.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct ConsumeEntitlement {
    // campaign-svc `types::MAX_REF_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub order_id: String,
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_short_name;
    use super::*;

    #[test]
    fn campaign_enums_travel_as_short_proto_names() {
        for t in [
            PrizeType::Beans,
            PrizeType::CashCoupon,
            PrizeType::ThresholdCoupon,
            PrizeType::Points,
            PrizeType::RedPacket,
            PrizeType::DataPack,
        ] {
            assert_short_name(t, pb::PrizeType::from(t).as_str_name(), "PRIZE_TYPE_");
        }
        for k in [GiftPackKind::NewMember, GiftPackKind::Member] {
            assert_short_name(
                k,
                pb::GiftPackKind::from(k).as_str_name(),
                "GIFT_PACK_KIND_",
            );
        }
        for s in [ClaimState::Pending, ClaimState::Granted, ClaimState::Failed] {
            assert_short_name(s, pb::ClaimState::from(s).as_str_name(), "CLAIM_STATE_");
        }
        for c in [ExclusiveChoice::Coupon, ExclusiveChoice::Gift] {
            assert_short_name(
                c,
                pb::ExclusiveChoice::from(c).as_str_name(),
                "EXCLUSIVE_CHOICE_",
            );
        }
    }

    #[test]
    fn oc1_oc4_a_gift_body_becomes_the_campaign_of_the_path_shop() -> Result<(), serde_json::Error>
    {
        let body: OpenCardGiftBody = serde_json::from_str(
            r#"{"name": "开卡礼", "start_time": "2025-06-01T00:00:00Z", "end_time": "2025-06-04T00:00:00Z",
                "prizes": [{"type": "BEANS", "amount": 10}, {"type": "THRESHOLD_COUPON", "batch_key": "BA_abcdefg"}],
                "gift_quantity": 100}"#,
        )?;
        let gift = body.into_pb("shop".into(), String::new());
        assert_eq!(gift.shop_id, "shop");
        assert_eq!(gift.start_time.map(|t| t.seconds), Some(1_748_736_000));
        assert_eq!(gift.prizes[0].r#type(), pb::PrizeType::Beans);
        assert_eq!(gift.prizes[1].batch_key, "BA_abcdefg");
        assert_eq!(gift.gift_quantity, 100);
        Ok(())
    }

    #[test]
    fn oc10_statistics_days_say_final() -> Result<(), serde_json::Error> {
        let stats = OpenCardGiftStatistics::from(pb::OpenCardGiftStatistics {
            campaign_id: "c".into(),
            days: vec![pb::DailyStatistics {
                day: "2025-06-01".into(),
                r#final: true,
                packs_granted: 3,
                prize_totals: vec![pb::PrizeTotal {
                    r#type: pb::PrizeType::Beans.into(),
                    amount: 30,
                }],
                ..Default::default()
            }],
            packs_left: 7,
        });
        let json = serde_json::to_value(&stats)?;
        assert_eq!(json["days"][0]["final"], true);
        assert_eq!(json["days"][0]["prize_totals"][0]["type"], "BEANS");
        assert_eq!(json["packs_left"], 7);
        Ok(())
    }

    #[test]
    fn claim_filters_are_all_named_when_bad() {
        let filters = ClaimQuery {
            state: Some("DONE".into()),
            page_size: Some("many".into()),
            ..Default::default()
        };
        let fields: Vec<String> = filters
            .into_request("shop".into())
            .err()
            .map(|e| {
                e.body
                    .field_violations
                    .into_iter()
                    .map(|v| v.field)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["state", "page_size"]);
    }

    #[test]
    fn gp4_a_claim_shows_its_reveal() -> Result<(), serde_json::Error> {
        let claim = Claim::from(pb::Claim {
            claim_id: "c-1".into(),
            state: pb::ClaimState::Granted.into(),
            kind: pb::ClaimKind::NewMemberPack.into(),
            items: vec![
                pb::GrantedItem {
                    coupon_ids: vec!["k-1".into()],
                    ..Default::default()
                },
                pb::GrantedItem {
                    entitlement_id: "e-1".into(),
                    ..Default::default()
                },
            ],
            ..Default::default()
        });
        let json = serde_json::to_value(&claim)?;
        assert_eq!(
            (&json["state"], &json["kind"]),
            (
                &serde_json::json!("GRANTED"),
                &serde_json::json!("NEW_MEMBER_PACK")
            )
        );
        assert_eq!(json["items"][0]["coupon_ids"][0], "k-1");
        assert_eq!(json["items"][1]["entitlement_id"], "e-1");
        assert!(json.get("failure_reason").is_none());
        Ok(())
    }
}
