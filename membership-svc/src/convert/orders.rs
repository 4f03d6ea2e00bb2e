//! OR and the event feed.

use memberhub_kit::clock::to_timestamp;
use memberhub_kit::error::{Failure, FieldViolation, Violations};
use memberhub_kit::input;
use memberhub_proto::{common as pbc, membership as pb};

use crate::domain::cart::CartEvent;
use crate::domain::events::EventType;
use crate::domain::ids::{ShopId, UserId};
use crate::domain::orders::{EventKind, OrderEvent, OrderLine, Outcome};
use crate::store::outbox::StoredEvent;

/// OR-1: the most events one batch may carry.
pub(crate) const MAX_BATCH: usize = 1000;
/// OR-1: the most lines one event may carry.
pub(crate) const MAX_LINES: usize = 500;
/// OR-1: the longest line sku and category, in characters.
pub(crate) const MAX_SKU_CHARS: usize = 64;
pub(crate) const MAX_CATEGORY_CHARS: usize = 64;
/// OR-1: the longest refund id, in characters.
pub(crate) const MAX_REFUND_ID_CHARS: usize = 64;
/// OR-1: the largest quantity of one line.
pub(crate) const MAX_QUANTITY: i64 = 1_000_000;

/// OR-1: an event's lines (sku, category, quantity, unit price), each checked.
fn check_lines(
    field: &str,
    lines: &[pbc::OrderLine],
    violations: &mut Violations,
) -> Option<Vec<OrderLine>> {
    let field = format!("{field}.lines");
    violations.check(input::at_most(&field, lines, MAX_LINES))?;
    let mut checked = Some(Vec::with_capacity(lines.len()));
    for (j, line) in lines.iter().enumerate() {
        let f = |name: &str| format!("{field}[{j}].{name}");
        let sku = violations.check(input::text(&f("sku"), &line.sku, MAX_SKU_CHARS));
        let category = violations.check(input::optional_text(
            &f("category"),
            &line.category,
            MAX_CATEGORY_CHARS,
        ));
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            violations.add(f("quantity"), format!("must be 1 to {MAX_QUANTITY}"));
        }
        let price_ok = (0..=crate::domain::ledger::MAX_AMOUNT).contains(&line.unit_price_fen);
        if !price_ok {
            violations.add(
                f("unit_price_fen"),
                "must be an amount in fen from 0 up to 10 billion yuan",
            );
        }
        let quantity_ok = (1..=MAX_QUANTITY).contains(&line.quantity);
        checked = match (checked, sku, category) {
            (Some(mut all), Some(sku), Some(category)) if price_ok && quantity_ok => {
                all.push(OrderLine {
                    sku,
                    category: category.unwrap_or_default(),
                    quantity: line.quantity,
                    unit_price_fen: line.unit_price_fen,
                });
                Some(all)
            }
            _ => None,
        };
    }
    checked
}

fn order_event(
    field: &str,
    raw: &pb::OrderEvent,
    violations: &mut Violations,
) -> Option<OrderEvent> {
    let f = |name: &str| format!("{field}.{name}");
    let shop_id = violations.check(ShopId::parse(&f("shop_id"), &raw.shop_id));
    let user_id = violations.check(UserId::parse(&f("user_id"), &raw.user_id));
    let order_id = violations.check(OrderEvent::check_order_id(field, &raw.order_id));
    let kind = match pb::OrderEventType::try_from(raw.r#type).ok() {
        Some(pb::OrderEventType::Paid) => Some(EventKind::Paid),
        Some(pb::OrderEventType::ReceiptConfirmed) => Some(EventKind::ReceiptConfirmed),
        Some(pb::OrderEventType::Refunded) => violations
            .check(input::text(
                &f("refund_id"),
                &raw.refund_id,
                MAX_REFUND_ID_CHARS,
            ))
            .map(|refund_id| EventKind::Refunded { refund_id }),
        _ => {
            violations.add(f("type"), "must be PAID, RECEIPT_CONFIRMED or REFUNDED");
            None
        }
    };
    let amount_ok = match kind {
        Some(EventKind::Refunded { .. }) => raw.amount_fen > 0,
        _ => raw.amount_fen >= 0,
    } && raw.amount_fen <= crate::domain::ledger::MAX_AMOUNT;
    if !amount_ok {
        violations.add(
            f("amount_fen"),
            "must be an amount in fen up to 10 billion yuan, positive for a refund",
        );
    }
    let lines = check_lines(field, &raw.lines, violations);
    let occurred_at = raw.occur_time.as_ref().and_then(super::api_time);
    if occurred_at.is_none() {
        violations.add(f("occur_time"), "is required: a time in years 1 to 9999");
    }
    Some(OrderEvent {
        shop_id: shop_id?,
        order_id: order_id?,
        user_id: user_id?,
        kind: kind?,
        amount_fen: raw.amount_fen,
        occurred_at: occurred_at?,
        lines: lines?,
    })
}

/// OR-1: a batch of events, every one valid, else INVALID_ARGUMENT naming each bad field.
pub(crate) fn order_events(raw: &[pb::OrderEvent]) -> Result<Vec<OrderEvent>, Failure> {
    batch(raw, order_event)
}

/// 1 to [`MAX_BATCH`] events, each checked by `check` under `events[i]`; INVALID_ARGUMENT
/// naming every bad field of every event.
fn batch<R, T>(
    raw: &[R],
    check: impl Fn(&str, &R, &mut Violations) -> Option<T>,
) -> Result<Vec<T>, Failure> {
    let mut violations = Violations::new();
    if raw.is_empty() || raw.len() > MAX_BATCH {
        violations.add("events", format!("must carry 1 to {MAX_BATCH} events"));
    }
    let events: Vec<Option<T>> = raw
        .iter()
        .enumerate()
        .map(|(i, e)| check(&format!("events[{i}]"), e, &mut violations))
        .collect();
    violations.finish()?;
    events
        .into_iter()
        .map(|e| e.ok_or(Failure::Internal))
        .collect()
}

/// OR-1: a single event.
pub(crate) fn single_order_event(raw: Option<&pb::OrderEvent>) -> Result<OrderEvent, Failure> {
    let raw = raw.ok_or_else(|| Failure::invalid("event", "is required"))?;
    let mut violations = Violations::new();
    let event = order_event("event", raw, &mut violations);
    violations.finish()?;
    event.ok_or(Failure::Internal)
}

/// OR-1: the longest add-to-cart event id, in characters.
pub(crate) const MAX_EVENT_ID_CHARS: usize = 64;

fn cart_event(field: &str, raw: &pb::CartEvent, violations: &mut Violations) -> Option<CartEvent> {
    let f = |name: &str| format!("{field}.{name}");
    let event_id = violations.check(input::text(
        &f("event_id"),
        &raw.event_id,
        MAX_EVENT_ID_CHARS,
    ));
    let shop_id = violations.check(ShopId::parse(&f("shop_id"), &raw.shop_id));
    let user_id = violations.check(UserId::parse(&f("user_id"), &raw.user_id));
    let sku = violations.check(input::text(&f("sku"), &raw.sku, MAX_SKU_CHARS));
    let category = violations.check(input::optional_text(
        &f("category"),
        &raw.category,
        MAX_CATEGORY_CHARS,
    ));
    if !(1..=MAX_QUANTITY).contains(&raw.quantity) {
        violations.add(f("quantity"), format!("must be 1 to {MAX_QUANTITY}"));
    }
    let occurred_at = raw.occur_time.as_ref().and_then(super::api_time);
    if occurred_at.is_none() {
        violations.add(f("occur_time"), "is required: a time in years 1 to 9999");
    }
    Some(CartEvent {
        shop_id: shop_id?,
        event_id: event_id?,
        user_id: user_id?,
        sku: sku?,
        category: category?.unwrap_or_default(),
        quantity: raw.quantity,
        occurred_at: occurred_at?,
    })
}

/// OR-1: a batch of add-to-cart events, every one valid, else INVALID_ARGUMENT naming each
/// bad field as `events[i].field`.
pub(crate) fn cart_events(raw: &[pb::CartEvent]) -> Result<Vec<CartEvent>, Failure> {
    batch(raw, cart_event)
}

impl From<Outcome> for pb::OrderEventOutcome {
    fn from(o: Outcome) -> Self {
        match o {
            Outcome::Applied => pb::OrderEventOutcome::Applied,
            Outcome::Duplicate => pb::OrderEventOutcome::Duplicate,
            Outcome::Held => pb::OrderEventOutcome::Held,
        }
    }
}

impl From<StoredEvent> for pb::WatchEventsResponse {
    fn from(e: StoredEvent) -> Self {
        let event_type = match e.event_type {
            EventType::MemberJoined => pb::EventType::MemberJoined,
            EventType::MemberQuit => pb::EventType::MemberQuit,
            EventType::CardOpened => pb::EventType::CardOpened,
            EventType::OrderPaid => pb::EventType::OrderPaid,
            EventType::OrderConfirmed => pb::EventType::OrderConfirmed,
            EventType::OrderRefunded => pb::EventType::OrderRefunded,
            EventType::LevelChanged => pb::EventType::LevelChanged,
            EventType::PointsChanged => pb::EventType::PointsChanged,
        };
        pb::WatchEventsResponse {
            cursor: e.cursor.to_string(),
            event_id: e.event_id.to_string(),
            r#type: event_type.into(),
            shop_id: e.shop_id.to_string(),
            user_id: e.user_id,
            occur_time: Some(to_timestamp(e.occurred_at)),
            payload_json: e.payload.to_string(),
        }
    }
}

/// Parses a field that must be a page token made by this service.
pub(crate) fn page_token<T: std::str::FromStr>(
    field: &str,
    raw: &str,
) -> Result<Option<T>, FieldViolation> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| FieldViolation::new(field, "must be a page token returned by this list"))
}
