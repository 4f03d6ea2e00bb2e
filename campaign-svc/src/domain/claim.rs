//! OC-7, GP-9, PT-3: a claim is a saga over other services. Its plan has one step per
//! prize, coupon batch, gift item or points movement, each with an idempotency key derived
//! from the claim id and the step, so a retried step is applied once. Its state machine
//! only ever reports a claim as granted when every step is done: never half.

use std::fmt;

use super::gift_pack::GiftItem;
use super::open_card_gift::{Prize, PrizeType};
use super::types::{BatchKey, ClaimId};

/// One thing a claim asks another service to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// membership-svc: move `amount` of an asset prize (beans, points, red packet, data)
    /// from the shop's budget (or points) account to the shopper.
    GrantAsset { prize_type: PrizeType, amount: i64 },
    /// coupon-svc: one issue of the batch (against the campaign's allocation, if any).
    IssueCoupon { batch_key: BatchKey },
    /// The right to buy the gift item for 0.01 yuan (GP-4).
    GrantGiftItem { sku: String },
    /// membership-svc: spend the shopper's points for an exchange (PT-3).
    SpendPoints { points: i64 },
}

impl Action {
    /// A short stable label, part of the idempotency key.
    fn label(&self) -> String {
        match self {
            Action::GrantAsset { prize_type, .. } => format!("asset:{}", prize_type.name()),
            Action::IssueCoupon { batch_key } => format!("coupon:{batch_key}"),
            Action::GrantGiftItem { sku } => format!("gift:{sku}"),
            Action::SpendPoints { .. } => "spend-points".to_string(),
        }
    }
}

/// One step of a claim's plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub index: usize,
    pub action: Action,
    /// `claim:<claim id>:<index>:<label>`: the same claim and step always give the same key.
    pub idempotency_key: String,
}

/// The key a step's call carries.
pub fn step_key(claim: ClaimId, index: usize, action: &Action) -> String {
    format!("claim:{claim}:{index}:{}", action.label())
}

/// PT-3: the key of the refund that compensates a points spend.
pub fn refund_key(claim: ClaimId) -> String {
    format!("claim:{claim}:refund-points")
}

/// What is being claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed<'a> {
    /// OC-7: the whole open-card pack.
    OpenCardGift { prizes: &'a [Prize] },
    /// GP-9: the whole gift pack: one issue per batch, then the gift item.
    GiftPack {
        batch_keys: &'a [BatchKey],
        gift_item: Option<&'a GiftItem>,
    },
    /// GP-8: the exclusive coupon.
    ExclusiveCoupon { batch_key: &'a BatchKey },
    /// GP-8: the exclusive gift.
    ExclusiveGift { gift: &'a GiftItem },
    /// PT-3: points for a coupon.
    PointsForCoupon {
        points: i64,
        batch_key: &'a BatchKey,
    },
    /// PT-3: points for goods.
    PointsForGoods { points: i64, sku: &'a str },
}

/// The steps of a claim, in the order the saga runs them. An exchange spends points first,
/// so a failed grant is compensated by a refund (PT-3).
pub fn plan(claim: ClaimId, claimed: &Claimed<'_>) -> Vec<Step> {
    let actions: Vec<Action> = match claimed {
        Claimed::OpenCardGift { prizes } => prizes
            .iter()
            .map(|p| match p {
                Prize::Asset { prize_type, amount } => Action::GrantAsset {
                    prize_type: *prize_type,
                    amount: *amount,
                },
                Prize::Coupon { batch_key, .. } => Action::IssueCoupon {
                    batch_key: batch_key.clone(),
                },
            })
            .collect(),
        Claimed::GiftPack {
            batch_keys,
            gift_item,
        } => batch_keys
            .iter()
            .map(|k| Action::IssueCoupon {
                batch_key: k.clone(),
            })
            .chain(gift_item.map(|g| Action::GrantGiftItem { sku: g.sku.clone() }))
            .collect(),
        Claimed::ExclusiveCoupon { batch_key } => vec![Action::IssueCoupon {
            batch_key: (*batch_key).clone(),
        }],
        Claimed::ExclusiveGift { gift } => vec![Action::GrantGiftItem {
            sku: gift.sku.clone(),
        }],
        Claimed::PointsForCoupon { points, batch_key } => vec![
            Action::SpendPoints { points: *points },
            Action::IssueCoupon {
                batch_key: (*batch_key).clone(),
            },
        ],
        Claimed::PointsForGoods { points, sku } => vec![
            Action::SpendPoints { points: *points },
            Action::GrantGiftItem {
                sku: (*sku).to_string(),
            },
        ],
    };
    actions
        .into_iter()
        .enumerate()
        .map(|(index, action)| Step {
            index,
            idempotency_key: step_key(claim, index, &action),
            action,
        })
        .collect()
}

/// A claim's state. `Pending` and `Granting` read as the contract's `PENDING`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimState {
    /// Recorded; nothing asked of another service yet.
    Pending,
    /// Steps are running; retried (idempotently) until all are done.
    Granting,
    /// Every step is done.
    Granted,
    /// Nothing is held by the shopper: refused before any grant, or compensated (PT-3).
    Failed,
}

impl ClaimState {
    pub fn name(self) -> &'static str {
        match self {
            ClaimState::Pending => "PENDING",
            ClaimState::Granting => "GRANTING",
            ClaimState::Granted => "GRANTED",
            ClaimState::Failed => "FAILED",
        }
    }

    /// Whether the claim is over.
    pub fn is_final(self) -> bool {
        matches!(self, ClaimState::Granted | ClaimState::Failed)
    }
}

/// A transition the state machine refuses: a bug in the saga driver, not a user error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a claim cannot go from {from} by {what}", from = .from.name())]
    NotAllowed {
        from: ClaimState,
        what: &'static str,
    },
    #[error("step {0} is not part of the claim's plan")]
    NoSuchStep(usize),
    #[error("the claim cannot be granted with steps {0:?} not done (never half)")]
    Incomplete(Vec<usize>),
    #[error("the claim cannot fail while it holds steps {0:?} that nothing compensates")]
    Uncompensated(Vec<usize>),
}

/// A claim's progress through its plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    state: ClaimState,
    steps: Vec<Step>,
    done: Vec<bool>,
    refunded: bool,
}

impl Progress {
    pub fn new(steps: Vec<Step>) -> Self {
        let done = vec![false; steps.len()];
        Self {
            state: ClaimState::Pending,
            steps,
            done,
            refunded: false,
        }
    }

    pub fn state(&self) -> ClaimState {
        self.state
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The steps still to run, in order.
    pub fn remaining(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| !self.done[s.index])
    }

    fn not_allowed(&self, what: &'static str) -> TransitionError {
        TransitionError::NotAllowed {
            from: self.state,
            what,
        }
    }

    /// PENDING → GRANTING (again from GRANTING is a no-op: a resumed saga).
    pub fn start(&mut self) -> Result<(), TransitionError> {
        match self.state {
            ClaimState::Pending | ClaimState::Granting => {
                self.state = ClaimState::Granting;
                Ok(())
            }
            _ => Err(self.not_allowed("start")),
        }
    }

    /// Records a step as done while GRANTING (idempotent); when the last one is done the
    /// claim becomes GRANTED.
    pub fn step_done(&mut self, index: usize) -> Result<ClaimState, TransitionError> {
        if self.state != ClaimState::Granting {
            return Err(self.not_allowed("a step"));
        }
        let Some(done) = self.done.get_mut(index) else {
            return Err(TransitionError::NoSuchStep(index));
        };
        *done = true;
        if self.done.iter().all(|d| *d) {
            self.state = ClaimState::Granted;
        }
        Ok(self.state)
    }

    /// GRANTING → GRANTED, only when every step is done.
    pub fn finish(&mut self) -> Result<(), TransitionError> {
        match self.state {
            ClaimState::Granted => Ok(()),
            ClaimState::Granting => {
                let missing: Vec<usize> = self
                    .done
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| !**d)
                    .map(|(i, _)| i)
                    .collect();
                if missing.is_empty() {
                    self.state = ClaimState::Granted;
                    Ok(())
                } else {
                    Err(TransitionError::Incomplete(missing))
                }
            }
            _ => Err(self.not_allowed("finish")),
        }
    }

    /// PT-3: records that the points spent by this claim came back.
    pub fn points_refunded(&mut self) -> Result<(), TransitionError> {
        if self.state != ClaimState::Granting {
            return Err(self.not_allowed("a refund"));
        }
        self.refunded = true;
        Ok(())
    }

    /// PENDING/GRANTING → FAILED, only when the shopper holds nothing from the claim: no
    /// step done, or only a points spend that was refunded (PT-3). A grant that was made is
    /// never taken back: such a claim must be driven forward to GRANTED.
    pub fn fail(&mut self) -> Result<(), TransitionError> {
        match self.state {
            ClaimState::Failed => Ok(()),
            ClaimState::Pending | ClaimState::Granting => {
                let held: Vec<usize> = self
                    .steps
                    .iter()
                    .filter(|s| self.done[s.index])
                    .filter(|s| !(self.refunded && matches!(s.action, Action::SpendPoints { .. })))
                    .map(|s| s.index)
                    .collect();
                if held.is_empty() {
                    self.state = ClaimState::Failed;
                    Ok(())
                } else {
                    Err(TransitionError::Uncompensated(held))
                }
            }
            ClaimState::Granted => Err(self.not_allowed("fail")),
        }
    }
}

impl fmt::Display for ClaimState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn claim() -> ClaimId {
        ClaimId::from(uuid::Uuid::from_u128(42))
    }

    fn key(raw: &str) -> BatchKey {
        BatchKey::parse("k", raw).expect("a valid key")
    }

    fn open_card_prizes() -> Vec<Prize> {
        vec![
            Prize::Asset {
                prize_type: PrizeType::Beans,
                amount: 10,
            },
            Prize::Coupon {
                prize_type: PrizeType::CashCoupon,
                batch_key: key("BA_aaaaaaa"),
            },
            Prize::Asset {
                prize_type: PrizeType::Points,
                amount: 50,
            },
        ]
    }

    #[test]
    fn oc7_plan_has_one_step_per_prize() {
        let prizes = open_card_prizes();
        let steps = plan(claim(), &Claimed::OpenCardGift { prizes: &prizes });
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[1].action,
            Action::IssueCoupon {
                batch_key: key("BA_aaaaaaa")
            }
        );
        assert_eq!(
            steps[0].idempotency_key,
            "claim:00000000-0000-0000-0000-00000000002a:0:asset:BEANS"
        );
    }

    #[test]
    fn gp9_pack_plan_issues_each_batch_then_the_gift_item() {
        let keys = [key("BA_aaaaaaa"), key("BA_bbbbbbb")];
        let item = GiftItem {
            sku: "gift-1".into(),
            quantity: 5,
        };
        let steps = plan(
            claim(),
            &Claimed::GiftPack {
                batch_keys: &keys,
                gift_item: Some(&item),
            },
        );
        let actions: Vec<Action> = steps.into_iter().map(|s| s.action).collect();
        assert_eq!(
            actions,
            vec![
                Action::IssueCoupon {
                    batch_key: key("BA_aaaaaaa")
                },
                Action::IssueCoupon {
                    batch_key: key("BA_bbbbbbb")
                },
                Action::GrantGiftItem {
                    sku: "gift-1".into()
                },
            ]
        );
    }

    #[test]
    fn gp8_exclusive_claims_have_one_step() {
        let k = key("BA_aaaaaaa");
        assert_eq!(
            plan(claim(), &Claimed::ExclusiveCoupon { batch_key: &k }).len(),
            1
        );
        let g = GiftItem {
            sku: "g".into(),
            quantity: 1,
        };
        assert_eq!(plan(claim(), &Claimed::ExclusiveGift { gift: &g }).len(), 1);
    }

    #[test]
    fn pt3_an_exchange_spends_points_before_granting() {
        let k = key("BA_aaaaaaa");
        let steps = plan(
            claim(),
            &Claimed::PointsForCoupon {
                points: 100,
                batch_key: &k,
            },
        );
        assert_eq!(steps[0].action, Action::SpendPoints { points: 100 });
        assert!(matches!(steps[1].action, Action::IssueCoupon { .. }));
        let goods = plan(
            claim(),
            &Claimed::PointsForGoods {
                points: 5,
                sku: "s",
            },
        );
        assert_eq!(goods[0].action, Action::SpendPoints { points: 5 });
        assert_eq!(goods[1].action, Action::GrantGiftItem { sku: "s".into() });
    }

    #[test]
    fn claim_keys_are_deterministic_and_distinct_per_step_and_claim() {
        let prizes = open_card_prizes();
        let a = plan(claim(), &Claimed::OpenCardGift { prizes: &prizes });
        let again = plan(claim(), &Claimed::OpenCardGift { prizes: &prizes });
        assert_eq!(a, again);
        let other = plan(ClaimId::new(), &Claimed::OpenCardGift { prizes: &prizes });
        let keys: std::collections::HashSet<&str> = a
            .iter()
            .chain(&other)
            .map(|s| s.idempotency_key.as_str())
            .collect();
        assert_eq!(keys.len(), 6);
        assert_ne!(refund_key(claim()), a[0].idempotency_key);
    }

    fn progress() -> Progress {
        let prizes = open_card_prizes();
        Progress::new(plan(claim(), &Claimed::OpenCardGift { prizes: &prizes }))
    }

    #[test]
    fn gp9_a_claim_goes_pending_granting_granted() {
        let mut p = progress();
        assert_eq!(p.state(), ClaimState::Pending);
        p.start().expect("pending may start");
        assert_eq!(p.step_done(0), Ok(ClaimState::Granting));
        assert_eq!(p.step_done(2), Ok(ClaimState::Granting));
        assert_eq!(p.remaining().map(|s| s.index).collect::<Vec<_>>(), vec![1]);
        assert_eq!(p.step_done(1), Ok(ClaimState::Granted));
        assert!(p.state().is_final());
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn gp9_a_claim_is_never_granted_half() {
        let mut p = progress();
        p.start().expect("pending may start");
        p.step_done(0).expect("a step while granting");
        assert_eq!(p.finish(), Err(TransitionError::Incomplete(vec![1, 2])));
        assert_eq!(p.state(), ClaimState::Granting);
    }

    #[test]
    fn claim_steps_are_recorded_only_while_granting() {
        let mut p = progress();
        assert!(p.step_done(0).is_err());
        p.start().expect("pending may start");
        assert_eq!(p.step_done(9), Err(TransitionError::NoSuchStep(9)));
        // A step reported twice (a retried call) is recorded once.
        assert_eq!(p.step_done(0), Ok(ClaimState::Granting));
        assert_eq!(p.step_done(0), Ok(ClaimState::Granting));
    }

    #[test]
    fn claim_a_granted_claim_cannot_fail_or_restart() {
        let mut p = progress();
        p.start().expect("pending may start");
        for i in 0..3 {
            p.step_done(i).expect("a step while granting");
        }
        assert!(p.fail().is_err());
        assert!(p.start().is_err());
        assert_eq!(p.state(), ClaimState::Granted);
    }

    #[test]
    fn claim_fails_cleanly_when_nothing_was_granted() {
        let mut p = progress();
        assert_eq!(p.fail(), Ok(()));
        assert_eq!(p.state(), ClaimState::Failed);
        assert!(p.start().is_err());
        let mut q = progress();
        q.start().expect("pending may start");
        assert_eq!(q.fail(), Ok(()));
    }

    #[test]
    fn claim_with_a_grant_made_cannot_fail_it_must_go_forward() {
        let mut p = progress();
        p.start().expect("pending may start");
        p.step_done(1).expect("a step while granting");
        assert_eq!(p.fail(), Err(TransitionError::Uncompensated(vec![1])));
        assert_eq!(p.state(), ClaimState::Granting);
    }

    #[test]
    fn pt3_a_failed_exchange_fails_only_after_the_points_come_back() {
        let k = key("BA_aaaaaaa");
        let mut p = Progress::new(plan(
            claim(),
            &Claimed::PointsForCoupon {
                points: 100,
                batch_key: &k,
            },
        ));
        p.start().expect("pending may start");
        p.step_done(0).expect("points spent");
        assert_eq!(p.fail(), Err(TransitionError::Uncompensated(vec![0])));
        p.points_refunded().expect("refund while granting");
        assert_eq!(p.fail(), Ok(()));
        assert_eq!(p.state(), ClaimState::Failed);
    }

    proptest! {
        /// GP-9: whatever order steps complete in, the claim is GRANTED exactly when all
        /// are done, and FAILED is unreachable once any grant was made.
        #[test]
        fn gp9_granted_iff_every_step_done(order in proptest::sample::subsequence(vec![0usize, 1, 2], 0..=3)) {
            let mut p = progress();
            p.start().expect("pending may start");
            for i in &order {
                p.step_done(*i).expect("a step while granting");
            }
            prop_assert_eq!(p.state() == ClaimState::Granted, order.len() == 3);
            prop_assert_eq!(p.finish().is_ok(), order.len() == 3);
            prop_assert_eq!(p.fail().is_ok(), order.is_empty());
        }
    }
}
