//! OR-1..OR-4: applying order events to orders, members and points — a pure fold over
//! state the store has loaded and locked, so a whole batch is decided in memory and
//! written back with a few set-based statements.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use memberhub_kit::error::FieldViolation;
use serde_json::json;

use super::events::{EventType, NewEvent};
use super::ids::{ShopId, UserId};
use super::levels::{Benefits, Ladder};
use super::members::{Member, Transition};
use super::program::JoinPolicy;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum EventKind {
    Paid,
    ReceiptConfirmed,
    Refunded { refund_id: String },
}

impl EventKind {
    pub(crate) fn as_db(&self) -> &'static str {
        match self {
            EventKind::Paid => "PAID",
            EventKind::ReceiptConfirmed => "RECEIPT_CONFIRMED",
            EventKind::Refunded { .. } => "REFUNDED",
        }
    }

    pub(crate) fn refund_id(&self) -> &str {
        match self {
            EventKind::Refunded { refund_id } => refund_id,
            _ => "",
        }
    }
}

/// OR-1: one event as reported by the commerce platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderEvent {
    pub shop_id: ShopId,
    pub order_id: String,
    pub user_id: UserId,
    pub kind: EventKind,
    /// The order amount, or the refunded amount for a refund.
    pub amount_fen: i64,
    pub occurred_at: DateTime<Utc>,
    /// What was bought (a refund's lines are checked and not kept).
    pub lines: Vec<OrderLine>,
}

/// OR-1: one line of an order, as the commerce platform reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OrderLine {
    pub sku: String,
    /// Empty when the platform gave none.
    pub category: String,
    pub quantity: i64,
    pub unit_price_fen: i64,
}

/// What makes an event the same event however often it is delivered.
pub(crate) type EventKey = (ShopId, String, &'static str, String);

impl OrderEvent {
    pub(crate) fn key(&self) -> EventKey {
        (
            self.shop_id,
            self.order_id.clone(),
            self.kind.as_db(),
            self.kind.refund_id().to_string(),
        )
    }

    /// Validates an order id and amount; `field` prefixes the field names.
    pub(crate) fn check_order_id(field: &str, raw: &str) -> Result<String, FieldViolation> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(|c| c.is_ascii_graphic()) {
            return Err(FieldViolation::new(
                format!("{field}.order_id"),
                "must be 1 to 64 printable ASCII characters",
            ));
        }
        Ok(raw.to_string())
    }
}

/// OR-1: the facts kept about one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Order {
    pub shop_id: ShopId,
    pub order_id: String,
    pub user_id: UserId,
    pub amount_fen: i64,
    pub paid_at: Option<DateTime<Utc>>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub refunded_fen: i64,
    pub points_earned: i64,
    pub points_reversed: i64,
}

impl Order {
    /// OR-3: a confirmed order counts until it is fully refunded.
    fn counts(&self) -> bool {
        self.confirmed_at.is_some() && self.refunded_fen < self.amount_fen
    }
}

/// What the fold needs to know about a shop's program.
#[derive(Debug, Clone)]
pub(crate) struct ProgramRules {
    pub policy: JoinPolicy,
    pub points_per_yuan: i32,
    pub ladder: Ladder,
    /// Benefits by level number.
    pub benefits: HashMap<i32, Benefits>,
}

impl ProgramRules {
    /// OR-4: floor(amount in yuan × base rate × level multiplier).
    pub(crate) fn points_for(&self, amount_fen: i64, level: i32) -> i64 {
        let multiplier = self
            .benefits
            .get(&level)
            .map_or(100, Benefits::multiplier_percent);
        (i128::from(amount_fen) * i128::from(self.points_per_yuan) * i128::from(multiplier)
            / 10_000) as i64
    }
}

/// How one delivered event was taken (OR-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Applied,
    Duplicate,
    /// A refund before its order's confirmation: kept, applied when the confirmation comes.
    Held,
}

/// A change to a member's points, as a ledger transfer with the issuance account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PointsMove {
    pub shop_id: ShopId,
    pub user_id: UserId,
    /// Positive: earned (a new lot); negative: reversed (oldest lots first).
    pub delta: i64,
    /// OR-4: what a reversal could not take back.
    pub shortfall: i64,
    pub reason: String,
    /// Unique: the transfer can happen once only.
    pub key: String,
    pub at: DateTime<Utc>,
}

/// Everything a batch changes; the store writes it back.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub orders: HashMap<(ShopId, String), Order>,
    pub members: HashMap<(ShopId, UserId), Member>,
    pub points: HashMap<(ShopId, UserId), i64>,
    /// Members whose new membership period must be recorded.
    pub joined: Vec<(ShopId, UserId)>,
    pub applied_refunds: Vec<EventKey>,
    pub moves: Vec<PointsMove>,
    pub events: Vec<NewEvent>,
}

/// The loaded state a batch folds over.
pub(crate) struct Batch<'a> {
    pub rules: &'a HashMap<ShopId, ProgramRules>,
    pub effects: Effects,
    pub now: DateTime<Utc>,
}

impl Batch<'_> {
    /// Applies one new (never seen) event; `held` are the refunds of this order waiting for
    /// its confirmation. Returns the outcome.
    pub(crate) fn apply(&mut self, event: &OrderEvent, held: &[OrderEvent]) -> Outcome {
        let Some(rules) = self.rules.get(&event.shop_id) else {
            return Outcome::Duplicate;
        };
        // The order's first event named its shopper; later events follow the order.
        let order_key = (event.shop_id, event.order_id.clone());
        let Some(mut order) = self.effects.orders.remove(&order_key) else {
            return Outcome::Duplicate;
        };
        let member_key = (order.shop_id, order.user_id.clone());
        let Some(mut member) = self.effects.members.remove(&member_key) else {
            self.effects.orders.insert(order_key, order);
            return Outcome::Duplicate;
        };
        let mut balance = self.effects.points.get(&member_key).copied().unwrap_or(0);
        let mut out = Fold {
            rules,
            now: self.now,
            effects: &mut self.effects,
            balance: &mut balance,
        };
        let outcome = match &event.kind {
            EventKind::Paid => {
                out.paid(&mut order, &mut member, event);
                Outcome::Applied
            }
            EventKind::ReceiptConfirmed => {
                out.confirmed(&mut order, &mut member, event);
                for refund in held {
                    out.refunded(&mut order, &mut member, refund);
                    out.effects.applied_refunds.push(refund.key());
                }
                Outcome::Applied
            }
            EventKind::Refunded { .. } if order.confirmed_at.is_some() => {
                out.refunded(&mut order, &mut member, event);
                out.effects.applied_refunds.push(event.key());
                Outcome::Applied
            }
            EventKind::Refunded { .. } => Outcome::Held,
        };
        self.effects.points.insert(member_key.clone(), balance);
        self.effects.orders.insert(order_key, order);
        self.effects.members.insert(member_key, member);
        outcome
    }
}

struct Fold<'a> {
    rules: &'a ProgramRules,
    now: DateTime<Utc>,
    effects: &'a mut Effects,
    balance: &'a mut i64,
}

impl Fold<'_> {
    fn transitions(&mut self, member: &Member, transitions: Vec<Transition>) {
        for t in transitions {
            if matches!(t, Transition::Joined { .. }) {
                self.effects
                    .joined
                    .push((member.shop_id, member.user_id.clone()));
            }
            self.effects
                .events
                .push(NewEvent::from_transition(member, t, self.now));
        }
    }

    fn order_event(
        &mut self,
        member: &Member,
        event_type: EventType,
        order: &Order,
        event: &OrderEvent,
    ) {
        let payload = json!({
            "order_id": order.order_id,
            "amount_fen": event.amount_fen,
            "refund_id": event.kind.refund_id(),
            "order_amount_fen": order.amount_fen,
            "order_refunded_fen": order.refunded_fen,
        });
        self.effects.events.push(NewEvent::new(
            event_type,
            member,
            event.occurred_at,
            payload,
        ));
    }

    /// OR-2: the first payment may make a member.
    fn paid(&mut self, order: &mut Order, member: &mut Member, event: &OrderEvent) {
        if order.paid_at.is_none() {
            order.paid_at = Some(event.occurred_at);
            if order.amount_fen == 0 {
                order.amount_fen = event.amount_fen;
            }
            let transitions =
                member.record_paid_order(self.rules.policy, &self.rules.ladder, self.now);
            self.transitions(member, transitions);
        }
        self.order_event(member, EventType::OrderPaid, order, event);
    }

    /// OR-3, OR-4: a confirmed order counts and earns points. A confirmation that arrives
    /// before its payment implies the payment (an order cannot be confirmed unpaid).
    fn confirmed(&mut self, order: &mut Order, member: &mut Member, event: &OrderEvent) {
        if order.paid_at.is_none() {
            order.paid_at = Some(event.occurred_at);
            let transitions =
                member.record_paid_order(self.rules.policy, &self.rules.ladder, self.now);
            self.transitions(member, transitions);
        }
        order.amount_fen = event.amount_fen;
        order.confirmed_at = Some(event.occurred_at);
        // Points use the level held when the order is confirmed, before it counts.
        let points = if member.is_member() {
            self.rules.points_for(order.amount_fen, member.level)
        } else {
            0
        };
        let transitions = member.add_totals(order.amount_fen, 1, &self.rules.ladder);
        self.order_event(member, EventType::OrderConfirmed, order, event);
        if points > 0 {
            order.points_earned = points;
            self.move_points(
                member,
                points,
                0,
                format!("order {} confirmed", order.order_id),
                format!("order:{}:{}:earn", order.shop_id, order.order_id),
                event.occurred_at,
            );
        }
        self.transitions(member, transitions);
    }

    /// OR-3, OR-4: a (partial) refund takes back spend and, proportionally, points.
    fn refunded(&mut self, order: &mut Order, member: &mut Member, event: &OrderEvent) {
        let counted = order.counts();
        let refund = event
            .amount_fen
            .min(order.amount_fen - order.refunded_fen)
            .max(0);
        order.refunded_fen += refund;
        let orders_delta = if counted && !order.counts() { -1 } else { 0 };
        let transitions = member.add_totals(-refund, orders_delta, &self.rules.ladder);
        self.order_event(member, EventType::OrderRefunded, order, event);
        if order.amount_fen > 0 && order.points_earned > 0 {
            // OR-4: the points reversed so far are always floor(earned × refunded / amount),
            // so many small refunds reverse exactly what one big refund would. (How the total
            // splits between refunds depends on their arrival order; the total does not.)
            let target = (i128::from(order.points_earned) * i128::from(order.refunded_fen)
                / i128::from(order.amount_fen)) as i64;
            let due = target - order.points_reversed;
            if due > 0 {
                order.points_reversed += due;
                let taken = due.min(*self.balance);
                let reason = format!("order {} refund {}", order.order_id, event.kind.refund_id());
                let key = format!(
                    "order:{}:{}:refund:{}",
                    order.shop_id,
                    order.order_id,
                    event.kind.refund_id()
                );
                self.move_points(member, -taken, due - taken, reason, key, event.occurred_at);
            }
        }
        self.transitions(member, transitions);
    }

    fn move_points(
        &mut self,
        member: &Member,
        delta: i64,
        shortfall: i64,
        reason: String,
        key: String,
        at: DateTime<Utc>,
    ) {
        *self.balance += delta;
        self.effects.moves.push(PointsMove {
            shop_id: member.shop_id,
            user_id: member.user_id.clone(),
            delta,
            shortfall,
            reason: reason.clone(),
            key,
            at,
        });
        let payload = json!({ "delta": delta, "balance": *self.balance, "shortfall": shortfall, "reason": reason });
        self.effects.events.push(NewEvent::new(
            EventType::PointsChanged,
            member,
            self.now,
            payload,
        ));
    }
}

/// Orders events for applying: by shop and order, payment before confirmation before
/// refunds, so locks are taken in one global order and a batch reads like history.
pub(crate) fn sort_for_apply(events: &mut [OrderEvent]) {
    events.sort_by(|a, b| {
        (a.shop_id.as_uuid(), &a.order_id, &a.kind).cmp(&(
            b.shop_id.as_uuid(),
            &b.order_id,
            &b.kind,
        ))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::levels::{Operator, RawLevel};
    use crate::domain::members::Member;

    fn rules(multiplier: i32) -> ProgramRules {
        let ladder = Ladder::parse(&[
            RawLevel {
                level: 1,
                ..Default::default()
            },
            RawLevel {
                level: 2,
                min_spend_fen: Some(10_000),
                operator: Some(Operator::And),
                ..Default::default()
            },
        ])
        .expect("valid");
        let benefits = HashMap::from([(
            1,
            Benefits {
                points_multiplier_percent: multiplier,
                ..Default::default()
            },
        )]);
        ProgramRules {
            policy: JoinPolicy::Order,
            points_per_yuan: 2,
            ladder,
            benefits,
        }
    }

    fn event(shop: ShopId, kind: EventKind, amount: i64) -> OrderEvent {
        OrderEvent {
            shop_id: shop,
            order_id: "o1".into(),
            user_id: UserId::parse("u", "u1").expect("valid"),
            kind,
            amount_fen: amount,
            occurred_at: Utc::now(),
            lines: Vec::new(),
        }
    }

    fn run(
        events: &[OrderEvent],
        rules: &HashMap<ShopId, ProgramRules>,
    ) -> (Effects, Vec<Outcome>) {
        let mut batch = Batch {
            rules,
            effects: Effects::default(),
            now: Utc::now(),
        };
        let first = &events[0];
        batch.effects.orders.insert(
            (first.shop_id, first.order_id.clone()),
            Order {
                shop_id: first.shop_id,
                order_id: first.order_id.clone(),
                user_id: first.user_id.clone(),
                amount_fen: 0,
                paid_at: None,
                confirmed_at: None,
                refunded_fen: 0,
                points_earned: 0,
                points_reversed: 0,
            },
        );
        batch.effects.members.insert(
            (first.shop_id, first.user_id.clone()),
            Member::new(first.shop_id, first.user_id.clone()),
        );
        let mut held: Vec<OrderEvent> = Vec::new();
        let mut outcomes = Vec::new();
        for e in events {
            let outcome = batch.apply(e, &held);
            if outcome == Outcome::Held {
                held.push(e.clone());
            }
            outcomes.push(outcome);
        }
        (batch.effects, outcomes)
    }

    #[test]
    fn or2_to_or4_paid_confirmed_refunded_in_order() {
        let shop = ShopId::new();
        let rules = HashMap::from([(shop, rules(150))]);
        let refund = EventKind::Refunded {
            refund_id: "r1".into(),
        };
        let (effects, outcomes) = run(
            &[
                event(shop, EventKind::Paid, 12_345),
                event(shop, EventKind::ReceiptConfirmed, 12_345),
                event(shop, refund, 2_345),
            ],
            &rules,
        );
        assert_eq!(outcomes, vec![Outcome::Applied; 3]);
        let member = effects.members.values().next().expect("member");
        assert!(
            member.is_member(),
            "OR-2: a first paid order joins under ORDER"
        );
        assert_eq!(
            (member.total_spend_fen, member.order_count, member.level),
            (10_000, 1, 2)
        );
        // 123.45 yuan × 2 × 1.5 = 370.35 -> 370; refund 2345/12345 of 370 -> 70.
        let deltas: Vec<i64> = effects.moves.iter().map(|m| m.delta).collect();
        assert_eq!(deltas, vec![370, -70]);
        assert_eq!(effects.points.values().copied().sum::<i64>(), 300);
    }

    #[test]
    fn or1_refund_before_confirmation_is_held_then_applied() {
        let shop = ShopId::new();
        let rules = HashMap::from([(shop, rules(0))]);
        let refund = EventKind::Refunded {
            refund_id: "r1".into(),
        };
        let (effects, outcomes) = run(
            &[
                event(shop, refund, 5_000),
                event(shop, EventKind::ReceiptConfirmed, 10_000),
            ],
            &rules,
        );
        assert_eq!(outcomes, vec![Outcome::Held, Outcome::Applied]);
        let member = effects.members.values().next().expect("member");
        assert_eq!((member.total_spend_fen, member.order_count), (5_000, 1));
        assert_eq!(effects.applied_refunds.len(), 1);
        let deltas: Vec<i64> = effects.moves.iter().map(|m| m.delta).collect();
        assert_eq!(deltas, vec![200, -100]);
    }

    #[test]
    fn or4_reversal_never_goes_negative_and_records_shortfall() {
        let shop = ShopId::new();
        let rules = HashMap::from([(shop, rules(0))]);
        let mut batch = Batch {
            rules: &rules,
            effects: Effects::default(),
            now: Utc::now(),
        };
        let e = event(shop, EventKind::ReceiptConfirmed, 10_000);
        batch.effects.orders.insert(
            (shop, "o1".into()),
            Order {
                shop_id: shop,
                order_id: "o1".into(),
                user_id: e.user_id.clone(),
                amount_fen: 0,
                paid_at: None,
                confirmed_at: None,
                refunded_fen: 0,
                points_earned: 0,
                points_reversed: 0,
            },
        );
        batch.effects.members.insert(
            (shop, e.user_id.clone()),
            Member::new(shop, e.user_id.clone()),
        );
        batch.apply(&e, &[]);
        // The member spent most of the 200 points elsewhere.
        batch.effects.points.insert((shop, e.user_id.clone()), 50);
        batch.apply(
            &event(
                shop,
                EventKind::Refunded {
                    refund_id: "all".into(),
                },
                10_000,
            ),
            &[],
        );
        let last = batch.effects.moves.last().expect("reversal");
        assert_eq!((last.delta, last.shortfall), (-50, 150));
        let member = batch.effects.members.values().next().expect("member");
        assert_eq!(
            (member.total_spend_fen, member.order_count),
            (0, 0),
            "a fully refunded order no longer counts"
        );
    }
}
