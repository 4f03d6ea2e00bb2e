//! Order events from the commerce platform's order system (OR-1..OR-4).

use memberhub_proto::{common as pbc, membership as pb};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::short;
use crate::error::ApiError;
use crate::query::{self, FieldCheck};

/// OR-1: what happened to the order.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum OrderEventType {
    Paid,
    ReceiptConfirmed,
    Refunded,
}

impl From<OrderEventType> for pb::OrderEventType {
    fn from(t: OrderEventType) -> Self {
        match t {
            OrderEventType::Paid => pb::OrderEventType::Paid,
            OrderEventType::ReceiptConfirmed => pb::OrderEventType::ReceiptConfirmed,
            OrderEventType::Refunded => pb::OrderEventType::Refunded,
        }
    }
}

/// A line of the order. Money is integer fen.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, ToSchema)]
pub(crate) struct OrderLine {
    // membership-svc `convert::orders::{MAX_SKU_CHARS, MAX_CATEGORY_CHARS, MAX_QUANTITY}`,
    // `ledger::MAX_AMOUNT`.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub sku: String,
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub category: String,
    #[schema(minimum = 1, maximum = 1_000_000_i64)]
    pub quantity: i64,
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub unit_price_fen: i64,
}

impl From<OrderLine> for pbc::OrderLine {
    fn from(l: OrderLine) -> Self {
        Self {
            sku: l.sku,
            category: l.category,
            quantity: l.quantity,
            unit_price_fen: l.unit_price_fen,
            // cart-only fields (LV-6)
            member_exclusive: false,
            member_price_fen: 0,
        }
    }
}

/// OR-1: an order event. Each takes effect once, however often it is delivered
/// (identity: order, type and refund id).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct OrderEvent {
    #[serde(rename = "type")]
    pub event_type: OrderEventType,
    /// Printable ASCII without spaces.
    // membership-svc `OrderEvent::check_order_id`.
    #[schema(max_length = 64, pattern = r"^[!-~]+$")]
    pub order_id: String,
    #[schema(format = Uuid)]
    pub shop_id: String,
    /// Printable ASCII without spaces.
    // membership-svc `ids::UserId`.
    #[schema(max_length = 64, pattern = r"^[!-~]+$")]
    pub user_id: String,
    /// The order amount in fen, or the refunded amount for `REFUNDED` (then positive).
    // membership-svc `ledger::MAX_AMOUNT`.
    #[schema(minimum = 0, maximum = 1_000_000_000_000_i64)]
    pub amount_fen: i64,
    /// Required for `REFUNDED`; each partial refund has its own id.
    // membership-svc `convert::orders::MAX_REFUND_ID_CHARS`.
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub refund_id: String,
    // membership-svc `convert::orders::MAX_LINES`.
    #[serde(default)]
    #[schema(max_items = 500)]
    pub lines: Vec<OrderLine>,
    /// When it happened, RFC 3339, in the years 1 to 9999 (UTC); required (the service
    /// names it when missing).
    #[serde(default)]
    #[schema(required = true, value_type = String, format = DateTime)]
    pub occur_time: Option<String>,
}

impl OrderEvent {
    /// The protobuf event; a bad field is recorded in `check` under `prefix` + its name.
    fn into_proto(self, prefix: &str, check: &mut FieldCheck) -> pb::OrderEvent {
        let occur_time = check.take(query::timestamp(
            &format!("{prefix}occur_time"),
            self.occur_time.as_deref(),
        ));
        pb::OrderEvent {
            r#type: pb::OrderEventType::from(self.event_type).into(),
            order_id: self.order_id,
            shop_id: self.shop_id,
            user_id: self.user_id,
            amount_fen: self.amount_fen,
            refund_id: self.refund_id,
            lines: self.lines.into_iter().map(Into::into).collect(),
            occur_time,
        }
    }

    /// The ReportOrderEvent request, or INVALID_ARGUMENT naming the bad field.
    pub(crate) fn into_request(
        self,
        request_id: String,
    ) -> Result<pb::ReportOrderEventRequest, ApiError> {
        let mut check = FieldCheck::default();
        let event = self.into_proto("", &mut check);
        check.finish(pb::ReportOrderEventRequest {
            request_id,
            event: Some(event),
        })
    }
}

/// OR-1: several events, applied in order; one idempotency key covers the batch.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct OrderEventBatch {
    // membership-svc `convert::orders::MAX_BATCH`.
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<OrderEvent>,
}

impl OrderEventBatch {
    /// The BatchReportOrderEvents request, or INVALID_ARGUMENT naming each bad field as
    /// `events[i].field`.
    pub(crate) fn into_request(
        self,
        request_id: String,
    ) -> Result<pb::BatchReportOrderEventsRequest, ApiError> {
        let mut check = FieldCheck::default();
        let events = self
            .events
            .into_iter()
            .enumerate()
            .map(|(i, event)| event.into_proto(&format!("events[{i}]."), &mut check))
            .collect();
        check.finish(pb::BatchReportOrderEventsRequest { request_id, events })
    }
}

fn outcome_name(outcome: pb::OrderEventOutcome) -> String {
    short(outcome.as_str_name(), "ORDER_EVENT_OUTCOME_")
}

/// OR-1: what the event did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OrderEventReported {
    /// `APPLIED`; `DUPLICATE` (delivered before, nothing changed); or `HELD` (a refund that
    /// arrived before its confirmation, applied later).
    pub outcome: String,
}

impl From<pb::ReportOrderEventResponse> for OrderEventReported {
    fn from(r: pb::ReportOrderEventResponse) -> Self {
        Self {
            outcome: outcome_name(r.outcome()),
        }
    }
}

/// OR-1: one outcome per event, in request order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct OrderEventsReported {
    pub outcomes: Vec<String>,
}

impl From<pb::BatchReportOrderEventsResponse> for OrderEventsReported {
    fn from(r: pb::BatchReportOrderEventsResponse) -> Self {
        Self {
            outcomes: r
                .outcomes
                .into_iter()
                .map(|o| {
                    outcome_name(
                        pb::OrderEventOutcome::try_from(o)
                            .unwrap_or(pb::OrderEventOutcome::Unspecified),
                    )
                })
                .collect(),
        }
    }
}

/// OR-1: a shopper put an item in the cart. Each takes effect once per (shop, event id).
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct CartEvent {
    /// The platform's id of the event; a redelivery carries the same one.
    // membership-svc `convert::orders::MAX_EVENT_ID_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub event_id: String,
    #[schema(format = Uuid)]
    pub shop_id: String,
    /// Printable ASCII without spaces.
    // membership-svc `ids::UserId`.
    #[schema(max_length = 64, pattern = r"^[!-~]+$")]
    pub user_id: String,
    // membership-svc `convert::orders::MAX_SKU_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 64,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub sku: String,
    #[serde(default)]
    #[schema(max_length = 64, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub category: String,
    #[schema(minimum = 1, maximum = 1_000_000_i64)]
    pub quantity: i64,
    /// When it happened, RFC 3339, in the years 1 to 9999 (UTC); required.
    #[serde(default)]
    #[schema(required = true, value_type = String, format = DateTime)]
    pub occur_time: Option<String>,
}

/// OR-1: add-to-cart events; one idempotency key covers the batch.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct CartEventBatch {
    // membership-svc `convert::orders::MAX_BATCH`.
    #[schema(min_items = 1, max_items = 1000)]
    pub events: Vec<CartEvent>,
}

impl CartEventBatch {
    /// The BatchReportCartEvents request, or INVALID_ARGUMENT naming each bad field as
    /// `events[i].field`.
    pub(crate) fn into_request(
        self,
        request_id: String,
    ) -> Result<pb::BatchReportCartEventsRequest, ApiError> {
        let mut check = FieldCheck::default();
        let events = self
            .events
            .into_iter()
            .enumerate()
            .map(|(i, e)| pb::CartEvent {
                occur_time: check.take(query::timestamp(
                    &format!("events[{i}].occur_time"),
                    e.occur_time.as_deref(),
                )),
                event_id: e.event_id,
                shop_id: e.shop_id,
                user_id: e.user_id,
                sku: e.sku,
                category: e.category,
                quantity: e.quantity,
            })
            .collect();
        check.finish(pb::BatchReportCartEventsRequest { request_id, events })
    }
}

/// OR-1: one outcome per add-to-cart event, in request order: `APPLIED` or `DUPLICATE`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct CartEventsReported {
    pub outcomes: Vec<String>,
}

impl From<pb::BatchReportCartEventsResponse> for CartEventsReported {
    fn from(r: pb::BatchReportCartEventsResponse) -> Self {
        Self {
            outcomes: r
                .outcomes()
                .map(|o| short(o.as_str_name(), "CART_EVENT_OUTCOME_"))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_short_name;
    use super::*;

    fn refund(occur_time: &str) -> serde_json::Value {
        serde_json::json!({
            "type": "REFUNDED", "order_id": "o-1", "shop_id": "s-1", "user_id": "u-1",
            "amount_fen": 15000, "refund_id": "r-1", "occur_time": occur_time,
            "lines": [{"sku": "tea-1", "category": "tea", "quantity": 1, "unit_price_fen": 15000}],
        })
    }

    #[test]
    fn order_event_types_travel_as_short_proto_names() {
        for t in [
            OrderEventType::Paid,
            OrderEventType::ReceiptConfirmed,
            OrderEventType::Refunded,
        ] {
            assert_short_name(
                t,
                pb::OrderEventType::from(t).as_str_name(),
                "ORDER_EVENT_TYPE_",
            );
        }
    }

    #[test]
    fn or1_an_event_maps_every_field() -> Result<(), Box<dyn std::error::Error>> {
        let event: OrderEvent = serde_json::from_value(refund("2025-06-01T08:00:00+08:00"))?;
        let request = event
            .into_request("k-1".into())
            .map_err(|e| e.body.message)?;
        let event = request.event.ok_or("no event")?;
        assert_eq!(event.r#type(), pb::OrderEventType::Refunded);
        assert_eq!(
            (
                event.order_id.as_str(),
                event.shop_id.as_str(),
                event.user_id.as_str()
            ),
            ("o-1", "s-1", "u-1")
        );
        assert_eq!((event.amount_fen, event.refund_id.as_str()), (15000, "r-1"));
        assert_eq!(event.occur_time.map(|t| t.seconds), Some(1_748_736_000));
        assert_eq!(
            event.lines,
            [pbc::OrderLine {
                sku: "tea-1".into(),
                category: "tea".into(),
                quantity: 1,
                unit_price_fen: 15000,
                ..Default::default()
            }]
        );
        assert_eq!(request.request_id, "k-1");
        Ok(())
    }

    #[test]
    fn or1_a_bad_time_in_a_batch_names_the_event() -> Result<(), serde_json::Error> {
        let batch: OrderEventBatch = serde_json::from_value(serde_json::json!({
            "events": [refund("2025-06-01T00:00:00Z"), refund("noon")],
        }))?;
        let fields: Vec<String> = batch
            .into_request("k".into())
            .err()
            .map(|e| {
                e.body
                    .field_violations
                    .into_iter()
                    .map(|v| v.field)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["events[1].occur_time"]);
        Ok(())
    }

    #[test]
    fn or1_outcomes_travel_as_short_names_in_order() {
        let reported = OrderEventsReported::from(pb::BatchReportOrderEventsResponse {
            outcomes: vec![
                pb::OrderEventOutcome::Applied.into(),
                pb::OrderEventOutcome::Duplicate.into(),
                pb::OrderEventOutcome::Held.into(),
            ],
        });
        assert_eq!(reported.outcomes, ["APPLIED", "DUPLICATE", "HELD"]);
    }
}
