//! CP-1, CP-2, CP-7, CP-9: coupon batches, their validation and their status machine.

use chrono::{DateTime, Duration, Timelike, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::error::{Failure, FieldViolation, Violations};
use memberhub_kit::input;

use super::ids::{AllocationId, BatchId, BatchKey, ShopId};

/// The largest face value, threshold or cap (10 million yuan): keeps every sum in range.
pub const MAX_FEN: i64 = 1_000_000_000;
/// The largest batch.
pub const MAX_QUANTITY: i64 = 100_000_000;
/// CP-1: the most coupons one issue grants.
pub const MAX_PER_ISSUE: i32 = 10;
/// The largest per-user limit other than 0 (unlimited).
pub const MAX_PER_USER_LIMIT: i32 = 10_000;
/// Item-scope and region lists.
pub const MAX_SCOPE_ENTRIES: usize = 500;
/// CP-2: relative validity in days.
pub const RELATIVE_DAYS: std::ops::RangeInclusive<i32> = 1..=365;

/// How a shop sells; decides whether a batch needs an operator's approval (CP-9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShopType {
    Pop,
    SelfOperated,
}

memberhub_kit::db_enum!(pub ShopType { Pop => "POP", SelfOperated => "SELF_OPERATED" });

/// CP-1: what a coupon takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Spend X save Y.
    Threshold,
    /// No minimum.
    Cash,
    /// Percent off, optionally capped.
    Discount,
}

memberhub_kit::db_enum!(pub Kind { Threshold => "THRESHOLD", Cash => "CASH", Discount => "DISCOUNT" });

/// CP-1: through which channel a batch is issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    General,
    Crm,
    Interactive,
    SprintPlan,
}

memberhub_kit::db_enum!(pub Channel { General => "GENERAL", Crm => "CRM", Interactive => "INTERACTIVE", SprintPlan => "SPRINT_PLAN" });

/// CP-1: a batch's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Draft,
    PendingApproval,
    Active,
    Ended,
    Closed,
}

impl Status {
    /// Whether coupons may be issued (and stock allocated or bound) in this status.
    pub(crate) fn is_issuable(self) -> bool {
        self == Status::Active
    }
}

memberhub_kit::db_enum!(pub Status { Draft => "DRAFT", PendingApproval => "PENDING_APPROVAL", Active => "ACTIVE", Ended => "ENDED", Closed => "CLOSED" });

/// A half-open time window `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Window {
    /// `other` lies within this window (equal ends accepted, OC-6).
    pub(crate) fn covers(&self, other: &Window) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

/// CP-1: when an issued coupon can be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Validity {
    Absolute {
        window: Window,
        whole_hours: bool,
    },
    /// N days from the claim.
    Relative {
        days: i32,
    },
}

impl Validity {
    /// The validity of a coupon claimed at `claimed_at`.
    pub(crate) fn for_claim_at(&self, claimed_at: DateTime<Utc>) -> Window {
        match *self {
            Validity::Absolute { window, .. } => window,
            Validity::Relative { days } => Window {
                start: claimed_at,
                end: claimed_at + Duration::days(i64::from(days)),
            },
        }
    }
}

/// CP-1: the item scope; empty lists mean every item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ItemScope {
    pub categories: Vec<String>,
    pub skus: Vec<String>,
}

impl ItemScope {
    pub(crate) fn is_all(&self) -> bool {
        self.categories.is_empty() && self.skus.is_empty()
    }

    /// An item is in scope when the scope is all, or its category or sku is listed.
    pub(crate) fn includes(&self, sku: &str, category: &str) -> bool {
        self.is_all()
            || self.categories.iter().any(|c| c == category)
            || self.skus.iter().any(|s| s == sku)
    }
}

/// What a coupon of the batch does (shown to shoppers; the internal name is not part of it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Terms {
    pub kind: Kind,
    pub face_value_fen: i64,
    pub threshold_fen: i64,
    pub discount_percent: i32,
    pub discount_cap_fen: i64,
    pub item_scope: ItemScope,
    /// Empty means every region.
    pub regions: Vec<String>,
}

/// A validated new batch (CP-1, CP-2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewBatch {
    pub shop_id: ShopId,
    pub shop_type: ShopType,
    pub internal_name: String,
    pub terms: Terms,
    pub channel: Channel,
    pub total_quantity: i64,
    pub per_user_limit: i32,
    pub per_issue_count: i32,
    pub giftable: bool,
    pub claim_window: Window,
    pub validity: Validity,
}

impl NewBatch {
    /// The instant after which no coupon of the batch can be valid: the batch is ENDED.
    pub(crate) fn ends_at(&self) -> DateTime<Utc> {
        ends_at(&self.claim_window, &self.validity)
    }
}

fn ends_at(claim_window: &Window, validity: &Validity) -> DateTime<Utc> {
    match validity {
        Validity::Absolute { window, .. } => window.end,
        Validity::Relative { .. } => validity.for_claim_at(claim_window.end).end,
    }
}

/// A batch as stored, with its stock figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Batch {
    pub id: BatchId,
    pub key: BatchKey,
    pub spec: NewBatch,
    /// As stored; see [`Batch::status_at`] for the status to show.
    pub status: Status,
    pub reject_reason: Option<String>,
    /// Units neither issued nor reserved.
    pub remaining: i64,
    /// Issues made from free stock and allocations.
    pub issued: i64,
    /// Units held by live allocations and not yet issued.
    pub reserved: i64,
    pub bound_allocation: Option<AllocationId>,
    /// OC-6: the holder of the bound allocation and the claim window it sets, if bound.
    pub binding: Option<Binding>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// OC-6: a batch bound to a campaign is claimable only through it, within its window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Binding {
    pub holder: String,
    pub claim_window: Option<Window>,
}

impl Batch {
    /// When the batch can be claimed: the bound campaign's window once bound (OC-6), else
    /// its own.
    pub(crate) fn effective_claim_window(&self) -> Window {
        self.binding
            .as_ref()
            .and_then(|b| b.claim_window)
            .unwrap_or(self.spec.claim_window)
    }

    /// The status at `now`: an ACTIVE batch whose coupons can no longer be valid is ENDED,
    /// derived from its validity rather than set by a job that may lag.
    pub(crate) fn status_at(&self, now: DateTime<Utc>) -> Status {
        effective_status(self.status, self.spec.ends_at(), now)
    }
}

/// See [`Batch::status_at`].
pub(crate) fn effective_status(
    stored: Status,
    ends_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Status {
    if stored == Status::Active && now >= ends_at {
        Status::Ended
    } else {
        stored
    }
}

// ------------------------------------------------------------------ CP-2 validation

/// A create request as received; enums already decoded (`None` = unspecified).
#[derive(Debug, Clone, Default)]
pub(crate) struct BatchInput {
    pub shop_id: String,
    pub shop_type: Option<ShopType>,
    pub internal_name: String,
    pub kind: Option<Kind>,
    pub face_value_fen: i64,
    pub threshold_fen: i64,
    pub discount_percent: i32,
    pub discount_cap_fen: i64,
    pub categories: Vec<String>,
    pub skus: Vec<String>,
    pub regions: Vec<String>,
    pub channel: Option<Channel>,
    pub total_quantity: i64,
    pub per_user_limit: i32,
    pub per_issue_count: i32,
    pub giftable: bool,
    /// `None` when absent or out of range.
    pub claim_start: Option<DateTime<Utc>>,
    pub claim_end: Option<DateTime<Utc>>,
    pub validity: Option<ValidityInput>,
}

/// The validity part of a create request.
#[derive(Debug, Clone, Default)]
pub(crate) struct ValidityInput {
    /// `None` = unspecified; `Some(true)` = ABSOLUTE, `Some(false)` = RELATIVE.
    pub absolute: Option<bool>,
    pub start: Option<DateTime<Utc>>,
    pub end: Option<DateTime<Utc>>,
    pub whole_hours: bool,
    pub relative_days: i32,
}

/// The prefix of every field of a create request's batch.
const F: &str = "batch.";

fn field(name: &str) -> String {
    format!("{F}{name}")
}

impl NewBatch {
    /// CP-2: validates every field, reporting all violations at once.
    pub(crate) fn parse(input: BatchInput) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let shop_id = v.check(ShopId::parse(&field("shop_id"), &input.shop_id));
        if input.shop_type.is_none() {
            v.add(
                field("shop_type"),
                "must be SHOP_TYPE_POP or SHOP_TYPE_SELF_OPERATED",
            );
        }
        let internal_name = v.check(internal_name(&input.internal_name));
        let terms = terms(&input, &mut v);
        if input.channel.is_none() {
            v.add(
                field("channel"),
                "must be GENERAL, CRM, INTERACTIVE or SPRINT_PLAN",
            );
        }
        if !(1..=MAX_QUANTITY).contains(&input.total_quantity) {
            v.add(
                field("total_quantity"),
                format!("must be 1 to {MAX_QUANTITY}"),
            );
        }
        if !(0..=MAX_PER_USER_LIMIT).contains(&input.per_user_limit) {
            v.add(
                field("per_user_limit"),
                format!("must be 0 (unlimited) to {MAX_PER_USER_LIMIT}"),
            );
        }
        if !(1..=MAX_PER_ISSUE).contains(&input.per_issue_count) {
            v.add(
                field("per_issue_count"),
                format!("must be 1 to {MAX_PER_ISSUE}"),
            );
        }
        let claim_window = window(
            input.claim_start,
            input.claim_end,
            &field("claim_start_time"),
            &field("claim_end_time"),
            &mut v,
        );
        let validity = validity(input.validity.as_ref(), claim_window.as_ref(), &mut v);
        v.finish()?;
        match (
            shop_id,
            input.shop_type,
            internal_name,
            terms,
            input.channel,
            claim_window,
            validity,
        ) {
            (
                Some(shop_id),
                Some(shop_type),
                Some(internal_name),
                Some(terms),
                Some(channel),
                Some(claim_window),
                Some(validity),
            ) => Ok(Self {
                shop_id,
                shop_type,
                internal_name,
                terms,
                channel,
                total_quantity: input.total_quantity,
                per_user_limit: input.per_user_limit,
                per_issue_count: input.per_issue_count,
                giftable: input.giftable,
                claim_window,
                validity,
            }),
            // finish() returned Ok, so every part above was valid.
            _ => Err(Failure::Internal),
        }
    }
}

/// CP-1: the longest internal name, in characters.
pub const MAX_INTERNAL_NAME_CHARS: usize = 50;
/// CP-1: the longest category, sku or region code, in characters.
pub const MAX_CODE_CHARS: usize = 64;
/// CP-9: the longest rejection reason, in characters.
pub const MAX_REASON_CHARS: usize = 200;

fn internal_name(raw: &str) -> Result<String, FieldViolation> {
    input::text(&field("internal_name"), raw, MAX_INTERNAL_NAME_CHARS)
}

/// Collects violations and remembers whether any was recorded for the part at hand.
struct Part<'a> {
    v: &'a mut Violations,
    bad: bool,
}

impl Part<'_> {
    fn add(&mut self, name: &str, description: impl Into<String>) {
        self.bad = true;
        self.v.add(field(name), description);
    }

    fn money(&mut self, name: &str, value: i64, min: i64) {
        if !(min..=MAX_FEN).contains(&value) {
            let floor = if min == 0 { "0" } else { "greater than 0" };
            self.add(name, format!("must be {floor} to {MAX_FEN} fen"));
        }
    }

    fn zero(&mut self, name: &str, value: i64, kind: &str) {
        if value != 0 {
            self.add(name, format!("must be 0 for {kind} coupons"));
        }
    }

    /// Category, sku and region codes: 1 to 64 characters, no duplicates.
    fn names(&mut self, raw: &[String], name: &str) -> Vec<String> {
        if raw.len() > MAX_SCOPE_ENTRIES {
            self.add(name, format!("at most {MAX_SCOPE_ENTRIES} entries"));
            return Vec::new();
        }
        let mut out: Vec<String> = Vec::with_capacity(raw.len());
        for (i, entry) in raw.iter().enumerate() {
            let name = format!("{name}[{i}]");
            match input::text(&name, entry, MAX_CODE_CHARS) {
                Err(violation) => self.add(&name, violation.description),
                Ok(entry) if out.contains(&entry) => self.add(&name, "appears twice"),
                Ok(entry) => out.push(entry),
            }
        }
        out
    }
}

fn terms(input: &BatchInput, v: &mut Violations) -> Option<Terms> {
    let mut p = Part { v, bad: false };
    let Some(kind) = input.kind else {
        p.add("kind", "must be THRESHOLD, CASH or DISCOUNT");
        return None;
    };
    match kind {
        Kind::Threshold => {
            p.money("face_value_fen", input.face_value_fen, 1);
            p.money("threshold_fen", input.threshold_fen, 0);
            if input.threshold_fen <= input.face_value_fen {
                p.add("threshold_fen", "must be greater than the face value");
            }
            p.zero(
                "discount_percent",
                input.discount_percent.into(),
                "THRESHOLD",
            );
            p.zero("discount_cap_fen", input.discount_cap_fen, "THRESHOLD");
        }
        Kind::Cash => {
            p.money("face_value_fen", input.face_value_fen, 1);
            p.zero("threshold_fen", input.threshold_fen, "CASH (no minimum)");
            p.zero("discount_percent", input.discount_percent.into(), "CASH");
            p.zero("discount_cap_fen", input.discount_cap_fen, "CASH");
        }
        Kind::Discount => {
            if !(1..=99).contains(&input.discount_percent) {
                p.add("discount_percent", "must be 1 to 99 (percent off)");
            }
            p.money("discount_cap_fen", input.discount_cap_fen, 0);
            p.money("threshold_fen", input.threshold_fen, 0);
            p.zero(
                "face_value_fen",
                input.face_value_fen,
                "DISCOUNT (use discount_percent)",
            );
        }
    }
    let categories = p.names(&input.categories, "item_scope.categories");
    let skus = p.names(&input.skus, "item_scope.skus");
    let regions = p.names(&input.regions, "regions");
    (!p.bad).then_some(Terms {
        kind,
        face_value_fen: input.face_value_fen,
        threshold_fen: input.threshold_fen,
        discount_percent: input.discount_percent,
        discount_cap_fen: input.discount_cap_fen,
        item_scope: ItemScope { categories, skus },
        regions,
    })
}

fn window(
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    start_field: &str,
    end_field: &str,
    v: &mut Violations,
) -> Option<Window> {
    if start.is_none() {
        v.add(start_field, "required");
    }
    if end.is_none() {
        v.add(end_field, "required");
    }
    let (start, end) = (start?, end?);
    if end <= start {
        v.add(end_field, "must be after the start");
        return None;
    }
    Some(Window { start, end })
}

fn validity(
    input: Option<&ValidityInput>,
    claim_window: Option<&Window>,
    v: &mut Violations,
) -> Option<Validity> {
    let kind_field = field("validity.kind");
    let Some(input) = input else {
        v.add(kind_field, "required: ABSOLUTE or RELATIVE");
        return None;
    };
    let (start_field, end_field) = (field("validity.start_time"), field("validity.end_time"));
    let days_field = field("validity.relative_days");
    match input.absolute {
        None => {
            v.add(kind_field, "must be ABSOLUTE or RELATIVE");
            None
        }
        Some(true) => {
            if input.relative_days != 0 {
                v.add(days_field, "only for RELATIVE validity");
            }
            let window = window(input.start, input.end, &start_field, &end_field, v)?;
            if input.whole_hours {
                for (at, name) in [(window.start, &start_field), (window.end, &end_field)] {
                    if at.minute() != 0 || at.second() != 0 || at.nanosecond() != 0 {
                        v.add(name.as_str(), "must fall on a whole hour");
                    }
                }
            }
            if claim_window.is_some_and(|claim| window.end <= claim.start) {
                v.add(end_field, "must be after the claim window starts");
            }
            Some(Validity::Absolute {
                window,
                whole_hours: input.whole_hours,
            })
        }
        Some(false) => {
            if input.start.is_some() {
                v.add(start_field, "only for ABSOLUTE validity");
            }
            if input.end.is_some() {
                v.add(end_field, "only for ABSOLUTE validity");
            }
            if input.whole_hours {
                v.add(field("validity.whole_hours"), "only for ABSOLUTE validity");
            }
            if !RELATIVE_DAYS.contains(&input.relative_days) {
                v.add(days_field, "must be 1 to 365 days");
                return None;
            }
            Some(Validity::Relative {
                days: input.relative_days,
            })
        }
    }
}

// ------------------------------------------------------------------ tenancy

/// How much of a batch a caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// The shop's merchant, operators and services: everything.
    Full,
    /// Shoppers: live batches only, never the internal name (CP-1).
    Storefront,
}

/// may `actor` manage `batch`? With a shop filter from the request, a batch of another
/// shop is NOT_FOUND (it does not exist for that shop).
pub(crate) fn ensure_owner(
    actor: &Actor,
    batch: &Batch,
    shop: Option<ShopId>,
) -> Result<(), Failure> {
    if shop.is_some_and(|s| s != batch.spec.shop_id) {
        return Err(Failure::NotFound(format!("batch {} not found", batch.id)));
    }
    actor.ensure_shop_admin(&batch.spec.shop_id.to_string())
}

/// X-1, CP-1: what `actor` may see of `batch`. Shoppers see ACTIVE and ENDED batches only.
pub(crate) fn view_for(
    actor: &Actor,
    batch: &Batch,
    shop: Option<ShopId>,
    now: DateTime<Utc>,
) -> Result<View, Failure> {
    if let Actor::Shopper { .. } = actor {
        let live = matches!(batch.status_at(now), Status::Active | Status::Ended);
        let in_shop = shop.is_none_or(|s| s == batch.spec.shop_id);
        return if live && in_shop {
            Ok(View::Storefront)
        } else {
            Err(Failure::NotFound(format!("batch {} not found", batch.id)))
        };
    }
    ensure_owner(actor, batch, shop).map(|()| View::Full)
}

// ------------------------------------------------------------------ status machine

fn transition_refused(from: Status, action: &str) -> Failure {
    Failure::FailedPrecondition {
        reason: "INVALID_BATCH_TRANSITION",
        message: format!("a {} batch cannot be {action}", from.as_db()),
        metadata: vec![("status", from.as_db().to_string())],
    }
}

/// DRAFT -> ACTIVE (POP) or PENDING_APPROVAL (self-operated, CP-9).
pub(crate) fn submit(batch: &Batch, now: DateTime<Utc>) -> Result<Status, Failure> {
    let status = batch.status_at(now);
    if status != Status::Draft {
        return Err(transition_refused(status, "submitted"));
    }
    if now >= batch.spec.claim_window.end {
        return Err(Failure::precondition(
            "CLAIM_WINDOW_OVER",
            "the batch's claim window is over; create a new batch",
        ));
    }
    Ok(match batch.spec.shop_type {
        ShopType::Pop => Status::Active,
        ShopType::SelfOperated => Status::PendingApproval,
    })
}

/// CP-9: PENDING_APPROVAL -> ACTIVE.
pub(crate) fn approve(batch: &Batch, now: DateTime<Utc>) -> Result<Status, Failure> {
    match batch.status_at(now) {
        Status::PendingApproval => Ok(Status::Active),
        other => Err(transition_refused(other, "approved")),
    }
}

/// CP-9: PENDING_APPROVAL -> CLOSED with a reason (1 to 200 characters).
pub(crate) fn reject(batch: &Batch, reason: &str, now: DateTime<Utc>) -> Result<String, Failure> {
    let reason = input::text("reason", reason, MAX_REASON_CHARS)
        .map_err(|v| Failure::InvalidArgument(vec![v]))?;
    match batch.status_at(now) {
        Status::PendingApproval => Ok(reason),
        other => Err(transition_refused(other, "rejected")),
    }
}

/// CP-7: the merchant stops issuing; never a SPRINT_PLAN batch (SP-7).
pub(crate) fn close(batch: &Batch, now: DateTime<Utc>) -> Result<Status, Failure> {
    if batch.spec.channel == Channel::SprintPlan {
        return Err(Failure::precondition(
            "SPRINT_PLAN_BATCH_CANNOT_CLOSE",
            "a SPRINT_PLAN batch never closes: it ends with its validity or when the shop \
             withdraws from the plan before registration",
        ));
    }
    match batch.status_at(now) {
        Status::Draft | Status::PendingApproval | Status::Active => Ok(Status::Closed),
        other @ (Status::Ended | Status::Closed) => Err(transition_refused(other, "closed")),
    }
}

/// SP-7: a service ends the batch (e.g. the shop withdrew from its sprint plan).
pub(crate) fn end(batch: &Batch, now: DateTime<Utc>) -> Result<Status, Failure> {
    match batch.status_at(now) {
        Status::Draft | Status::PendingApproval | Status::Active => Ok(Status::Ended),
        other @ (Status::Ended | Status::Closed) => Err(transition_refused(other, "ended")),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use chrono::TimeZone;

    use super::*;

    pub(crate) fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, h, m, 0)
            .single()
            .unwrap_or_default()
    }

    pub(crate) fn input() -> BatchInput {
        BatchInput {
            shop_id: ShopId::new().to_string(),
            shop_type: Some(ShopType::Pop),
            internal_name: "Double 11 spend 100 save 20".into(),
            kind: Some(Kind::Threshold),
            face_value_fen: 2_000,
            threshold_fen: 10_000,
            channel: Some(Channel::General),
            total_quantity: 100,
            per_user_limit: 1,
            per_issue_count: 1,
            claim_start: Some(at(8, 0)),
            claim_end: Some(at(20, 0)),
            validity: Some(ValidityInput {
                absolute: Some(false),
                relative_days: 7,
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn fields(result: Result<NewBatch, Failure>) -> Vec<String> {
        match result {
            Err(Failure::InvalidArgument(v)) => v.into_iter().map(|v| v.field).collect(),
            other => panic!("expected invalid argument, got {other:?}"),
        }
    }

    #[test]
    fn cp1_a_valid_batch_parses() {
        let batch = NewBatch::parse(input());
        assert!(batch.is_ok(), "{batch:?}");
    }

    #[test]
    fn cp2_threshold_must_exceed_face_value() {
        let mut i = input();
        i.threshold_fen = 2_000;
        assert_eq!(fields(NewBatch::parse(i)), ["batch.threshold_fen"]);
    }

    #[test]
    fn cp2_face_value_must_be_positive() {
        let mut i = input();
        i.face_value_fen = 0;
        assert_eq!(fields(NewBatch::parse(i)), ["batch.face_value_fen"]);
        let mut i = input();
        i.kind = Some(Kind::Cash);
        i.threshold_fen = 0;
        i.face_value_fen = -5;
        assert_eq!(fields(NewBatch::parse(i)), ["batch.face_value_fen"]);
    }

    #[test]
    fn cp2_discount_is_1_to_99_percent() {
        for (percent, ok) in [(0, false), (1, true), (99, true), (100, false), (-3, false)] {
            let mut i = input();
            i.kind = Some(Kind::Discount);
            i.face_value_fen = 0;
            i.threshold_fen = 0;
            i.discount_percent = percent;
            let result = NewBatch::parse(i);
            if ok {
                assert!(result.is_ok(), "{percent}: {result:?}");
            } else {
                assert_eq!(fields(result), ["batch.discount_percent"], "{percent}");
            }
        }
    }

    #[test]
    fn cp2_windows_must_end_after_they_start() {
        let mut i = input();
        i.claim_end = i.claim_start;
        assert_eq!(fields(NewBatch::parse(i)), ["batch.claim_end_time"]);
        let mut i = input();
        i.validity = Some(ValidityInput {
            absolute: Some(true),
            start: Some(at(12, 0)),
            end: Some(at(11, 0)),
            ..Default::default()
        });
        assert_eq!(fields(NewBatch::parse(i)), ["batch.validity.end_time"]);
    }

    #[test]
    fn cp2_relative_days_are_1_to_365() {
        for (days, ok) in [(0, false), (1, true), (365, true), (366, false)] {
            let mut i = input();
            i.validity = Some(ValidityInput {
                absolute: Some(false),
                relative_days: days,
                ..Default::default()
            });
            let result = NewBatch::parse(i);
            if ok {
                assert!(result.is_ok(), "{days}");
            } else {
                assert_eq!(fields(result), ["batch.validity.relative_days"], "{days}");
            }
        }
    }

    #[test]
    fn cp2_quantity_is_at_least_one() {
        let mut i = input();
        i.total_quantity = 0;
        assert_eq!(fields(NewBatch::parse(i)), ["batch.total_quantity"]);
    }

    #[test]
    fn cp1_whole_hour_validity_must_fall_on_hours() {
        let mut i = input();
        i.validity = Some(ValidityInput {
            absolute: Some(true),
            start: Some(at(10, 0)),
            end: Some(at(12, 30)),
            whole_hours: true,
            ..Default::default()
        });
        assert_eq!(fields(NewBatch::parse(i)), ["batch.validity.end_time"]);
    }

    #[test]
    fn cp2_every_bad_field_is_reported_together() {
        let i = BatchInput::default();
        let named = fields(NewBatch::parse(i));
        for expected in [
            "batch.shop_id",
            "batch.shop_type",
            "batch.internal_name",
            "batch.kind",
            "batch.channel",
            "batch.total_quantity",
            "batch.per_issue_count",
            "batch.claim_start_time",
            "batch.claim_end_time",
            "batch.validity.kind",
        ] {
            assert!(
                named.iter().any(|f| f == expected),
                "{expected} in {named:?}"
            );
        }
    }

    #[test]
    fn cp1_relative_batches_end_when_the_last_claim_expires() {
        let batch = NewBatch::parse(input()).map(|b| b.ends_at()).ok();
        assert_eq!(batch, Some(at(20, 0) + Duration::days(7)));
    }
}
