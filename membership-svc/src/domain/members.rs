//! MB-1..MB-3: a shopper's standing with a shop, and the rules that move it.

use chrono::{DateTime, Utc};
use memberhub_kit::error::{Failure, FieldViolation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ids::{ShopId, UserId};
use super::levels::Ladder;
use super::program::JoinPolicy;
use memberhub_kit::input;

/// MB-1: how a membership started.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinChannel {
    Order,
    Card,
    Import,
}

/// MB-1: where the shopper came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Storefront,
    OfflineStore,
    BrandMall,
    WeChat,
    OtherMarketplace,
    Other,
}

/// A shopper's standing with a shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MemberState {
    /// Never joined (may have ordered or followed).
    None,
    /// MB-2: card opened under `ORDER_AND_CARD`, waiting for an order.
    Pending,
    Active,
    Quit,
}

memberhub_kit::db_enum!(pub(crate) JoinChannel { Order => "ORDER", Card => "CARD", Import => "IMPORT" });
memberhub_kit::db_enum!(pub(crate) Source {
    Storefront => "STOREFRONT",
    OfflineStore => "OFFLINE_STORE",
    BrandMall => "BRAND_MALL",
    WeChat => "WECHAT",
    OtherMarketplace => "OTHER_MARKETPLACE",
    Other => "OTHER",
});
memberhub_kit::db_enum!(pub(crate) MemberState { None => "NONE", Pending => "PENDING", Active => "ACTIVE", Quit => "QUIT" });

/// MB-1: optional profile given at card opening.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Profile {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nickname: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gender: String,
    /// `YYYY-MM-DD`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub birthday: String,
}

/// MB-1: the longest nickname, in characters.
pub const MAX_NICKNAME_CHARS: usize = 30;

impl Profile {
    pub(crate) fn parse(
        nickname: &str,
        gender: &str,
        birthday: &str,
    ) -> Result<Self, Vec<FieldViolation>> {
        let mut violations = Vec::new();
        let nickname = input::optional_text("profile.nickname", nickname, MAX_NICKNAME_CHARS)
            .unwrap_or_else(|v| {
                violations.push(v);
                None
            })
            .unwrap_or_default();
        let gender = gender.trim().to_ascii_uppercase();
        if !["", "MALE", "FEMALE", "OTHER"].contains(&gender.as_str()) {
            violations.push(FieldViolation::new(
                "profile.gender",
                "must be MALE, FEMALE or OTHER",
            ));
        }
        let birthday = birthday.trim().to_string();
        if !birthday.is_empty() && chrono::NaiveDate::parse_from_str(&birthday, "%Y-%m-%d").is_err()
        {
            violations.push(FieldViolation::new(
                "profile.birthday",
                "must be a date YYYY-MM-DD",
            ));
        }
        if violations.is_empty() {
            Ok(Self {
                nickname,
                gender,
                birthday,
            })
        } else {
            Err(violations)
        }
    }
}

/// One shopper's row with one shop: the current membership period plus order totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub shop_id: ShopId,
    pub user_id: UserId,
    pub state: MemberState,
    pub membership_id: Option<Uuid>,
    pub join_channel: Option<JoinChannel>,
    pub source: Option<Source>,
    pub joined_at: Option<DateTime<Utc>>,
    pub first_joined_at: Option<DateTime<Utc>>,
    pub card_opened_at: Option<DateTime<Utc>>,
    pub phone_hash: Option<Vec<u8>>,
    pub profile: Profile,
    /// 0 unless a member.
    pub level: i32,
    pub total_spend_fen: i64,
    pub order_count: i64,
    pub paid_order_count: i64,
    pub following: bool,
}

/// What a rule did to a member, for the outbox and the period history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transition {
    /// A new membership period began (MB-1, MB-3).
    Joined { first_ever: bool },
    /// MB-2: the card was opened.
    CardOpened,
    /// MB-3.
    Quit,
    /// LV-5.
    LevelChanged { from: i32, to: i32 },
}

impl Member {
    /// A shopper the shop has not seen.
    #[cfg(test)]
    pub(crate) fn new(shop_id: ShopId, user_id: UserId) -> Self {
        Self {
            shop_id,
            user_id,
            state: MemberState::None,
            membership_id: None,
            join_channel: None,
            source: None,
            joined_at: None,
            first_joined_at: None,
            card_opened_at: None,
            phone_hash: None,
            profile: Profile::default(),
            level: 0,
            total_spend_fen: 0,
            order_count: 0,
            paid_order_count: 0,
            following: false,
        }
    }

    pub(crate) fn is_member(&self) -> bool {
        self.state == MemberState::Active
    }

    fn join(
        &mut self,
        channel: JoinChannel,
        source: Source,
        ladder: &Ladder,
        now: DateTime<Utc>,
        out: &mut Vec<Transition>,
    ) {
        let first_ever = self.first_joined_at.is_none();
        self.state = MemberState::Active;
        self.membership_id = Some(Uuid::now_v7());
        self.join_channel = Some(channel);
        self.source = Some(source);
        self.joined_at = Some(now);
        self.first_joined_at.get_or_insert(now);
        // The level a member starts at travels with MEMBER_JOINED, not as a change.
        self.level = ladder.level_for(self.total_spend_fen, self.order_count);
        out.push(Transition::Joined { first_ever });
    }

    /// MB-2: open the card under `policy`.
    pub(crate) fn open_card(
        &mut self,
        policy: JoinPolicy,
        card: CardOpening,
        ladder: &Ladder,
        now: DateTime<Utc>,
    ) -> Result<Vec<Transition>, Failure> {
        if !policy.allows_card_opening() {
            return Err(Failure::precondition(
                "CARD_JOIN_DISABLED",
                "this shop admits members by ordering only: opening a card is disabled",
            ));
        }
        if self.card_opened_at.is_some() {
            // A holder waiting under ORDER_AND_CARD joins once the policy lets a card alone do it.
            if self.state == MemberState::Pending && policy != JoinPolicy::OrderAndCard {
                let mut out = Vec::new();
                self.join(JoinChannel::Card, card.source, ladder, now, &mut out);
                return Ok(out);
            }
            return Err(Failure::AlreadyExists("the card is already opened".into()));
        }
        let mut out = Vec::new();
        self.card_opened_at = Some(now);
        self.phone_hash = card.phone_hash;
        if card.profile != Profile::default() {
            self.profile = card.profile;
        }
        out.push(Transition::CardOpened);
        let joins = match self.state {
            MemberState::Active => false,
            _ if policy == JoinPolicy::OrderAndCard => self.paid_order_count > 0,
            _ => true,
        };
        if joins {
            self.join(JoinChannel::Card, card.source, ladder, now, &mut out);
        } else if !self.is_member() {
            self.state = MemberState::Pending;
            self.source = Some(card.source);
        }
        Ok(out)
    }

    /// OR-2 (and MB-2 under `ORDER_AND_CARD`): a paid order may make the shopper a member.
    pub(crate) fn record_paid_order(
        &mut self,
        policy: JoinPolicy,
        ladder: &Ladder,
        now: DateTime<Utc>,
    ) -> Vec<Transition> {
        self.paid_order_count += 1;
        let mut out = Vec::new();
        let joins = match (self.state, policy) {
            (MemberState::Active, _) => false,
            (_, JoinPolicy::Order | JoinPolicy::OrderOrCard) => true,
            // The card is opened; with the order, every policy admits them.
            (MemberState::Pending, _) => true,
            _ => false,
        };
        if joins {
            let source = self.source.unwrap_or(Source::Storefront);
            self.join(JoinChannel::Order, source, ladder, now, &mut out);
        }
        out
    }

    /// MB-3: leave the shop; the next join starts a new period and is never a first join.
    pub(crate) fn quit(&mut self) -> Result<Vec<Transition>, Failure> {
        match self.state {
            MemberState::Active | MemberState::Pending => {
                let was_member = self.state == MemberState::Active;
                self.state = if was_member {
                    MemberState::Quit
                } else {
                    MemberState::None
                };
                self.card_opened_at = None;
                self.level = 0;
                // A pending holder never joined: withdrawing the card is not a quit.
                Ok(if was_member {
                    vec![Transition::Quit]
                } else {
                    Vec::new()
                })
            }
            MemberState::None | MemberState::Quit => Err(Failure::precondition(
                "NOT_A_MEMBER",
                "the shopper is not a member of this shop",
            )),
        }
    }

    /// OR-3: apply a change of confirmed totals (negative for refunds), then LV-5.
    pub(crate) fn add_totals(
        &mut self,
        spend_fen: i64,
        orders: i64,
        ladder: &Ladder,
    ) -> Vec<Transition> {
        self.total_spend_fen = self.total_spend_fen.saturating_add(spend_fen).max(0);
        self.order_count = self.order_count.saturating_add(orders).max(0);
        let mut out = Vec::new();
        self.recompute_level(ladder, &mut out);
        out
    }

    /// LV-5: members hold the highest level they meet; non-members hold none.
    pub(crate) fn recompute_level(&mut self, ladder: &Ladder, out: &mut Vec<Transition>) {
        let level = if self.is_member() {
            ladder.level_for(self.total_spend_fen, self.order_count)
        } else {
            0
        };
        if level != self.level {
            out.push(Transition::LevelChanged {
                from: self.level,
                to: level,
            });
            self.level = level;
        }
    }
}

/// MB-2: what the shopper gives when opening a card.
#[derive(Debug, Clone)]
pub(crate) struct CardOpening {
    pub phone_hash: Option<Vec<u8>>,
    pub source: Source,
    pub profile: Profile,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::levels::{Operator, RawLevel};

    fn ladder() -> Ladder {
        Ladder::parse(&[
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
        .expect("valid")
    }

    fn card() -> CardOpening {
        CardOpening {
            phone_hash: Some(vec![1]),
            source: Source::Storefront,
            profile: Profile::default(),
        }
    }

    fn shopper() -> Member {
        Member::new(ShopId::new(), UserId::parse("u", "u1").expect("valid"))
    }

    #[test]
    fn mb2_card_policy_joins_at_level_one_and_order_policy_refuses() {
        let now = Utc::now();
        let mut m = shopper();
        let out = m
            .open_card(JoinPolicy::Card, card(), &ladder(), now)
            .expect("opens");
        assert!(out.contains(&Transition::Joined { first_ever: true }));
        assert_eq!(
            (m.state, m.level, m.join_channel),
            (MemberState::Active, 1, Some(JoinChannel::Card))
        );
        let mut m = shopper();
        let err = m
            .open_card(JoinPolicy::Order, card(), &ladder(), now)
            .expect_err("refused");
        assert!(matches!(
            err,
            Failure::FailedPrecondition {
                reason: "CARD_JOIN_DISABLED",
                ..
            }
        ));
    }

    #[test]
    fn mb2_order_and_card_waits_for_the_order() {
        let now = Utc::now();
        let mut m = shopper();
        m.open_card(JoinPolicy::OrderAndCard, card(), &ladder(), now)
            .expect("opens");
        assert_eq!(m.state, MemberState::Pending);
        let out = m.record_paid_order(JoinPolicy::OrderAndCard, &ladder(), now);
        assert!(out.contains(&Transition::Joined { first_ever: true }));
        assert!(m.card_opened_at.is_some() && m.is_member());
    }

    #[test]
    fn mb2_member_by_order_gets_the_card_without_a_new_period() {
        let now = Utc::now();
        let mut m = shopper();
        m.record_paid_order(JoinPolicy::OrderOrCard, &ladder(), now);
        let period = m.membership_id;
        let out = m
            .open_card(JoinPolicy::OrderOrCard, card(), &ladder(), now)
            .expect("opens");
        assert_eq!(out, vec![Transition::CardOpened]);
        assert_eq!(m.membership_id, period);
    }

    #[test]
    fn mb3_rejoin_is_never_a_first_join() {
        let t0 = Utc::now();
        let mut m = shopper();
        m.open_card(JoinPolicy::Card, card(), &ladder(), t0)
            .expect("opens");
        m.quit().expect("quits");
        assert_eq!(m.state, MemberState::Quit);
        let out = m
            .open_card(
                JoinPolicy::Card,
                card(),
                &ladder(),
                t0 + chrono::Duration::days(1),
            )
            .expect("reopens");
        assert!(out.contains(&Transition::Joined { first_ever: false }));
        assert_eq!(m.first_joined_at, Some(t0));
    }

    #[test]
    fn lv5_totals_move_the_level_both_ways() {
        let now = Utc::now();
        let mut m = shopper();
        m.open_card(JoinPolicy::Card, card(), &ladder(), now)
            .expect("opens");
        assert_eq!(
            m.add_totals(10_000, 1, &ladder()),
            vec![Transition::LevelChanged { from: 1, to: 2 }]
        );
        assert_eq!(
            m.add_totals(-5_000, 0, &ladder()),
            vec![Transition::LevelChanged { from: 2, to: 1 }]
        );
    }
}
