//! The domain events written to the outbox (and served by `WatchEvents`).

use chrono::{DateTime, Utc};
use memberhub_kit::error::FieldViolation;
use serde_json::json;

use super::ids::{ShopId, UserId};
use super::members::{Member, Transition};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    MemberJoined,
    MemberQuit,
    CardOpened,
    OrderPaid,
    OrderConfirmed,
    OrderRefunded,
    LevelChanged,
    PointsChanged,
}

memberhub_kit::db_enum!(pub EventType { MemberJoined => "MEMBER_JOINED", MemberQuit => "MEMBER_QUIT", CardOpened => "CARD_OPENED", OrderPaid => "ORDER_PAID", OrderConfirmed => "ORDER_CONFIRMED", OrderRefunded => "ORDER_REFUNDED", LevelChanged => "LEVEL_CHANGED", PointsChanged => "POINTS_CHANGED" });

/// An event about to be written to the outbox.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NewEvent {
    pub event_type: EventType,
    pub shop_id: ShopId,
    pub user_id: UserId,
    pub occurred_at: DateTime<Utc>,
    pub payload: serde_json::Value,
}

impl NewEvent {
    pub(crate) fn new(
        event_type: EventType,
        member: &Member,
        occurred_at: DateTime<Utc>,
        payload: serde_json::Value,
    ) -> Self {
        Self {
            event_type,
            shop_id: member.shop_id,
            user_id: member.user_id.clone(),
            occurred_at,
            payload,
        }
    }

    /// The event a member transition publishes.
    pub(crate) fn from_transition(
        member: &Member,
        transition: Transition,
        now: DateTime<Utc>,
    ) -> Self {
        let membership_id = member.membership_id.map(|id| id.to_string());
        let (event_type, payload) = match transition {
            Transition::Joined { first_ever } => (
                EventType::MemberJoined,
                json!({
                    "membership_id": membership_id,
                    "join_channel": member.join_channel.map(|c| c.as_db()),
                    "first_ever": first_ever,
                    "first_join_time": member.first_joined_at,
                    "card_opened": member.card_opened_at.is_some(),
                    "level": member.level,
                }),
            ),
            Transition::CardOpened => (
                EventType::CardOpened,
                json!({
                    "membership_id": membership_id,
                    "is_member": member.is_member(),
                    "join_channel": member.join_channel.map(|c| c.as_db()),
                    "first_join_time": member.first_joined_at,
                }),
            ),
            Transition::Quit => (
                EventType::MemberQuit,
                json!({ "membership_id": membership_id }),
            ),
            Transition::LevelChanged { from, to } => {
                (EventType::LevelChanged, json!({ "from": from, "to": to }))
            }
        };
        Self::new(event_type, member, now, payload)
    }
}

/// A position in the feed: events are ordered by (transaction id, position).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Cursor {
    pub txid: i64,
    pub position: i64,
}

impl Cursor {
    /// Empty means the beginning.
    pub(crate) fn parse(field: &str, raw: &str) -> Result<Self, FieldViolation> {
        if raw.is_empty() {
            return Ok(Self::default());
        }
        let bad = || FieldViolation::new(field, "must be a cursor returned by WatchEvents");
        let (txid, position) = raw.split_once('.').ok_or_else(bad)?;
        Ok(Self {
            txid: txid.parse().map_err(|_| bad())?,
            position: position.parse().map_err(|_| bad())?,
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.txid, self.position)
    }
}
