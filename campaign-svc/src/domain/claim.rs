//! OC-7, GP-9, PT-3: a claim is a saga over other services. Its plan has one step per
//! prize, coupon batch, gift item or points movement, each carrying everything its call
//! needs and an idempotency key derived from the claim id and the step, so a retried step
//! is applied once. These types are what the store persists (as JSON) and what the saga
//! runs: [`Progress`] is the only way the saga moves a claim, and it only ever reports a
//! claim as granted when every step is done (never half) and as failed when the shopper
//! holds nothing from it (never taken back).

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::open_card_gift::PrizeType;
use super::types::{BatchKey, Channel, ClaimId};

/// GP-4: what the shopper pays for a pack's or an exclusive's gift item (0.01 yuan).
pub(crate) const GIFT_ITEM_PRICE_FEN: i64 = 1;

/// One thing a claim asks another service to do, with everything the call needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Action {
    /// membership-svc: `amount` of an asset prize to the shopper, from the campaign's budget
    /// reservation (beans, red packets, data) or issued by the shop (points).
    GrantAsset {
        prize_type: PrizeType,
        amount: i64,
        reservation_id: Option<Uuid>,
    },
    /// coupon-svc: one issue of the batch through `channel`, against the allocation if any.
    IssueCoupon {
        /// The prize type shown in the reveal (open-card gifts); `None` elsewhere.
        prize_type: Option<PrizeType>,
        batch_id: Uuid,
        batch_key: BatchKey,
        channel: Channel,
        allocation_id: Option<Uuid>,
    },
    /// GP-4: the right to buy the item for `price_fen` (1 = 0.01 yuan; 0 for exchanged goods).
    GrantGiftItem { sku: String, price_fen: i64 },
    /// PT-3: the shopper's points, spent first; refunded if a later step fails for good.
    SpendPoints { points: i64 },
}

impl Action {
    /// A short stable label, part of the idempotency key.
    fn label(&self) -> String {
        match self {
            Action::GrantAsset { prize_type, .. } => format!("asset:{}", prize_type.as_db()),
            Action::IssueCoupon { batch_key, .. } => format!("coupon:{batch_key}"),
            Action::GrantGiftItem { sku, .. } => format!("gift:{sku}"),
            Action::SpendPoints { .. } => "spend-points".to_string(),
        }
    }
}

/// What a done step produced (the reveal payload, GP-9).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub coupon_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entitlement_id: Option<String>,
}

/// One step of a claim's plan, as persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    pub action: Action,
    /// `claim:<claim id>:<index>:<label>`: the same claim and step always give the same key.
    pub key: String,
    #[serde(default)]
    pub done: bool,
    #[serde(default)]
    pub result: StepResult,
}

/// The key a step's call carries.
fn step_key(claim: ClaimId, index: usize, action: &Action) -> String {
    format!("claim:{claim}:{index}:{}", action.label())
}

/// PT-3: the key of the refund that compensates a points spend.
pub(crate) fn refund_key(claim: ClaimId) -> String {
    format!("claim:{claim}:refund-points")
}

/// A coupon a claim issues, resolved against what was set aside for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CouponGrant {
    pub batch_key: BatchKey,
    pub batch_id: Uuid,
    /// The campaign's or pack's allocation the issue draws on (GP-9, OC-6), if any.
    pub allocation_id: Option<Uuid>,
}

/// One prize of an open-card gift, resolved against what provisioning reserved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpenCardPrize {
    Asset {
        prize_type: PrizeType,
        amount: i64,
        reservation_id: Option<Uuid>,
    },
    Coupon {
        prize_type: PrizeType,
        coupon: CouponGrant,
    },
}

/// What is being claimed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed<'a> {
    /// OC-7: the whole open-card pack; coupons through the INTERACTIVE channel.
    OpenCardGift { prizes: &'a [OpenCardPrize] },
    /// GP-9: the whole gift pack: one CRM issue per batch, then the gift item.
    GiftPack {
        coupons: &'a [CouponGrant],
        gift_sku: Option<&'a str>,
    },
    /// GP-8: the exclusive coupon.
    ExclusiveCoupon { coupon: &'a CouponGrant },
    /// GP-8: the exclusive gift.
    ExclusiveGift { sku: &'a str },
    /// PT-3: points for a coupon.
    PointsForCoupon {
        points: i64,
        coupon: &'a CouponGrant,
    },
    /// PT-3: points for goods, granted free.
    PointsForGoods { points: i64, sku: &'a str },
}

fn issue(coupon: &CouponGrant, channel: Channel, prize_type: Option<PrizeType>) -> Action {
    Action::IssueCoupon {
        prize_type,
        batch_id: coupon.batch_id,
        batch_key: coupon.batch_key.clone(),
        channel,
        allocation_id: coupon.allocation_id,
    }
}

fn gift(sku: &str, price_fen: i64) -> Action {
    Action::GrantGiftItem {
        sku: sku.to_string(),
        price_fen,
    }
}

/// The steps of a claim, in the order the saga runs them. An exchange spends points first,
/// so a failed grant is compensated by a refund (PT-3).
pub fn plan(claim: ClaimId, claimed: &Claimed<'_>) -> Vec<Step> {
    let actions: Vec<Action> = match claimed {
        Claimed::OpenCardGift { prizes } => prizes
            .iter()
            .map(|p| match p {
                OpenCardPrize::Asset {
                    prize_type,
                    amount,
                    reservation_id,
                } => Action::GrantAsset {
                    prize_type: *prize_type,
                    amount: *amount,
                    reservation_id: *reservation_id,
                },
                OpenCardPrize::Coupon { prize_type, coupon } => {
                    issue(coupon, Channel::Interactive, Some(*prize_type))
                }
            })
            .collect(),
        Claimed::GiftPack { coupons, gift_sku } => coupons
            .iter()
            .map(|c| issue(c, Channel::Crm, None))
            .chain(gift_sku.map(|sku| gift(sku, GIFT_ITEM_PRICE_FEN)))
            .collect(),
        Claimed::ExclusiveCoupon { coupon } => vec![issue(coupon, Channel::Crm, None)],
        Claimed::ExclusiveGift { sku } => vec![gift(sku, GIFT_ITEM_PRICE_FEN)],
        Claimed::PointsForCoupon { points, coupon } => vec![
            Action::SpendPoints { points: *points },
            issue(coupon, Channel::Crm, None),
        ],
        Claimed::PointsForGoods { points, sku } => {
            vec![Action::SpendPoints { points: *points }, gift(sku, 0)]
        }
    };
    actions
        .into_iter()
        .enumerate()
        .map(|(index, action)| Step {
            key: step_key(claim, index, &action),
            action,
            done: false,
            result: StepResult::default(),
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

memberhub_kit::db_enum!(pub ClaimState {
    Pending => "PENDING",
    Granting => "GRANTING",
    Granted => "GRANTED",
    Failed => "FAILED",
});

impl ClaimState {
    /// Whether the claim is over.
    pub fn is_final(self) -> bool {
        matches!(self, ClaimState::Granted | ClaimState::Failed)
    }
}

/// A transition the state machine refuses: a bug in the saga driver, not a user error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a claim cannot go from {from} by {what}", from = .from.as_db())]
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

/// A claim's progress through its plan: its state, its steps (done or not, with what each
/// produced) and whether its points are being given back (PT-3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    state: ClaimState,
    steps: Vec<Step>,
    compensating: bool,
    refunded: bool,
}

impl Progress {
    /// A freshly planned claim.
    pub fn new(steps: Vec<Step>) -> Self {
        Self::resume(ClaimState::Pending, steps, false)
    }

    /// A claim as stored.
    pub fn resume(state: ClaimState, steps: Vec<Step>, compensating: bool) -> Self {
        Self {
            state,
            steps,
            compensating,
            refunded: false,
        }
    }

    pub fn state(&self) -> ClaimState {
        self.state
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// PT-3: a refusal came after points were spent; the refund is under way.
    pub fn compensating(&self) -> bool {
        self.compensating
    }

    /// The index of the next step to run, if any.
    pub fn next(&self) -> Option<usize> {
        self.steps.iter().position(|s| !s.done)
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

    /// Records a step as done, with what it produced, while GRANTING (idempotent); when the
    /// last one is done the claim becomes GRANTED.
    pub fn step_done(
        &mut self,
        index: usize,
        result: StepResult,
    ) -> Result<ClaimState, TransitionError> {
        if self.state != ClaimState::Granting || self.compensating {
            return Err(self.not_allowed("a step"));
        }
        let Some(step) = self.steps.get_mut(index) else {
            return Err(TransitionError::NoSuchStep(index));
        };
        if !step.done {
            step.done = true;
            step.result = result;
        }
        if self.steps.iter().all(|s| s.done) {
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
                    .steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| !s.done)
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

    /// Whether a grant was made: something other than a points spend is with the shopper,
    /// so the claim can only go forward (never taken back).
    pub fn holds_grant(&self) -> bool {
        self.steps
            .iter()
            .any(|s| s.done && !matches!(s.action, Action::SpendPoints { .. }))
    }

    /// PT-3: the points this claim has spent so far.
    pub fn points_spent(&self) -> i64 {
        self.steps
            .iter()
            .filter(|s| s.done)
            .filter_map(|s| match s.action {
                Action::SpendPoints { points } => Some(points),
                _ => None,
            })
            .sum()
    }

    /// PT-3: a later step was refused for good after points were spent and before any
    /// grant: the points are to be given back, then the claim fails.
    pub fn begin_compensation(&mut self) -> Result<(), TransitionError> {
        if self.state != ClaimState::Granting || self.holds_grant() || self.points_spent() == 0 {
            return Err(self.not_allowed("a compensation"));
        }
        self.compensating = true;
        Ok(())
    }

    /// PT-3: records that the points spent by this claim came back.
    pub fn points_refunded(&mut self) -> Result<(), TransitionError> {
        if self.state != ClaimState::Granting || !self.compensating {
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
                    .enumerate()
                    .filter(|(_, s)| s.done)
                    .filter(|(_, s)| {
                        !(self.refunded && matches!(s.action, Action::SpendPoints { .. }))
                    })
                    .map(|(i, _)| i)
                    .collect();
                if held.is_empty() {
                    self.state = ClaimState::Failed;
                    self.compensating = false;
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
        f.write_str(self.as_db())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn claim() -> ClaimId {
        ClaimId::from(Uuid::from_u128(42))
    }

    fn coupon(raw: &str) -> CouponGrant {
        CouponGrant {
            batch_key: BatchKey::parse("k", raw).expect("a valid key"),
            batch_id: Uuid::from_u128(7),
            allocation_id: Some(Uuid::from_u128(8)),
        }
    }

    fn open_card_prizes() -> Vec<OpenCardPrize> {
        vec![
            OpenCardPrize::Asset {
                prize_type: PrizeType::Beans,
                amount: 10,
                reservation_id: Some(Uuid::from_u128(9)),
            },
            OpenCardPrize::Coupon {
                prize_type: PrizeType::CashCoupon,
                coupon: coupon("BA_aaaaaaa"),
            },
            OpenCardPrize::Asset {
                prize_type: PrizeType::Points,
                amount: 50,
                reservation_id: None,
            },
        ]
    }

    fn actions(steps: Vec<Step>) -> Vec<Action> {
        steps.into_iter().map(|s| s.action).collect()
    }

    #[test]
    fn oc7_plan_has_one_step_per_prize_coupons_through_interactive() {
        let prizes = open_card_prizes();
        let steps = plan(claim(), &Claimed::OpenCardGift { prizes: &prizes });
        assert_eq!(steps.len(), 3);
        assert_eq!(
            steps[1].action,
            issue(
                &coupon("BA_aaaaaaa"),
                Channel::Interactive,
                Some(PrizeType::CashCoupon)
            )
        );
        assert_eq!(
            steps[0].key,
            "claim:00000000-0000-0000-0000-00000000002a:0:asset:BEANS"
        );
    }

    #[test]
    fn gp9_pack_plan_issues_each_batch_through_crm_then_the_gift_item_at_one_fen() {
        let coupons = [coupon("BA_aaaaaaa"), coupon("BA_bbbbbbb")];
        let steps = plan(
            claim(),
            &Claimed::GiftPack {
                coupons: &coupons,
                gift_sku: Some("gift-1"),
            },
        );
        assert_eq!(
            actions(steps),
            vec![
                issue(&coupons[0], Channel::Crm, None),
                issue(&coupons[1], Channel::Crm, None),
                gift("gift-1", GIFT_ITEM_PRICE_FEN),
            ]
        );
    }

    #[test]
    fn gp8_exclusive_claims_have_one_step() {
        let c = coupon("BA_aaaaaaa");
        assert_eq!(
            actions(plan(claim(), &Claimed::ExclusiveCoupon { coupon: &c })),
            vec![issue(&c, Channel::Crm, None)]
        );
        assert_eq!(
            actions(plan(claim(), &Claimed::ExclusiveGift { sku: "g" })),
            vec![gift("g", GIFT_ITEM_PRICE_FEN)]
        );
    }

    #[test]
    fn pt3_an_exchange_spends_points_before_granting_and_goods_are_free() {
        let c = coupon("BA_aaaaaaa");
        let steps = plan(
            claim(),
            &Claimed::PointsForCoupon {
                points: 100,
                coupon: &c,
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
        assert_eq!(
            actions(goods),
            vec![Action::SpendPoints { points: 5 }, gift("s", 0)]
        );
    }

    #[test]
    fn claim_keys_are_deterministic_and_distinct_per_step_and_claim() {
        let prizes = open_card_prizes();
        let a = plan(claim(), &Claimed::OpenCardGift { prizes: &prizes });
        let again = plan(claim(), &Claimed::OpenCardGift { prizes: &prizes });
        assert_eq!(a, again);
        let other = plan(ClaimId::new(), &Claimed::OpenCardGift { prizes: &prizes });
        let keys: std::collections::HashSet<&str> =
            a.iter().chain(&other).map(|s| s.key.as_str()).collect();
        assert_eq!(keys.len(), 6);
        assert_ne!(refund_key(claim()), a[0].key);
    }

    /// The stored form: what earlier versions wrote still reads, and a malformed step (an
    /// unknown channel or prize type, a bad batch key) is an error, never a default.
    #[test]
    fn claim_steps_round_trip_and_malformed_ones_are_refused() {
        let prizes = open_card_prizes();
        let steps = plan(claim(), &Claimed::OpenCardGift { prizes: &prizes });
        let json = serde_json::to_value(&steps).expect("steps serialise");
        assert_eq!(json[1]["action"]["type"], "ISSUE_COUPON");
        assert_eq!(json[1]["action"]["channel"], "INTERACTIVE");
        assert_eq!(json[1]["action"]["prize_type"], "CASH_COUPON");
        let back: Vec<Step> = serde_json::from_value(json.clone()).expect("steps read back");
        assert_eq!(back, steps);
        for (field, bad) in [
            ("channel", "CARRIER_PIGEON"),
            ("prize_type", "GOLD"),
            ("batch_key", "not-a-key"),
        ] {
            let mut broken = json.clone();
            broken[1]["action"][field] = serde_json::Value::from(bad);
            assert!(
                serde_json::from_value::<Vec<Step>>(broken).is_err(),
                "{field}"
            );
        }
    }

    fn progress() -> Progress {
        let prizes = open_card_prizes();
        Progress::new(plan(claim(), &Claimed::OpenCardGift { prizes: &prizes }))
    }

    fn done(p: &mut Progress, index: usize) -> Result<ClaimState, TransitionError> {
        p.step_done(index, StepResult::default())
    }

    #[test]
    fn gp9_a_claim_goes_pending_granting_granted() {
        let mut p = progress();
        assert_eq!(p.state(), ClaimState::Pending);
        p.start().expect("pending may start");
        assert_eq!(done(&mut p, 0), Ok(ClaimState::Granting));
        assert_eq!(done(&mut p, 2), Ok(ClaimState::Granting));
        assert_eq!(p.next(), Some(1));
        assert_eq!(done(&mut p, 1), Ok(ClaimState::Granted));
        assert!(p.state().is_final());
        assert_eq!(p.finish(), Ok(()));
    }

    #[test]
    fn gp9_a_claim_is_never_granted_half() {
        let mut p = progress();
        p.start().expect("pending may start");
        done(&mut p, 0).expect("a step while granting");
        assert_eq!(p.finish(), Err(TransitionError::Incomplete(vec![1, 2])));
        assert_eq!(p.state(), ClaimState::Granting);
    }

    #[test]
    fn claim_steps_are_recorded_only_while_granting_and_once() {
        let mut p = progress();
        assert!(done(&mut p, 0).is_err());
        p.start().expect("pending may start");
        assert_eq!(done(&mut p, 9), Err(TransitionError::NoSuchStep(9)));
        // A step reported twice (a duplicated response) keeps its first result.
        let first = StepResult {
            transfer_id: Some("t1".into()),
            ..StepResult::default()
        };
        assert_eq!(p.step_done(0, first.clone()), Ok(ClaimState::Granting));
        let again = StepResult {
            transfer_id: Some("t2".into()),
            ..StepResult::default()
        };
        assert_eq!(p.step_done(0, again), Ok(ClaimState::Granting));
        assert_eq!(p.steps()[0].result, first);
    }

    #[test]
    fn claim_a_granted_claim_cannot_fail_or_restart() {
        let mut p = progress();
        p.start().expect("pending may start");
        for i in 0..3 {
            done(&mut p, i).expect("a step while granting");
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
        done(&mut p, 1).expect("a step while granting");
        assert!(p.holds_grant());
        assert_eq!(p.fail(), Err(TransitionError::Uncompensated(vec![1])));
        assert!(p.begin_compensation().is_err());
        assert_eq!(p.state(), ClaimState::Granting);
    }

    #[test]
    fn pt3_a_failed_exchange_fails_only_after_the_points_come_back() {
        let c = coupon("BA_aaaaaaa");
        let mut p = Progress::new(plan(
            claim(),
            &Claimed::PointsForCoupon {
                points: 100,
                coupon: &c,
            },
        ));
        p.start().expect("pending may start");
        assert!(p.begin_compensation().is_err(), "nothing spent yet");
        done(&mut p, 0).expect("points spent");
        assert_eq!(p.points_spent(), 100);
        assert!(!p.holds_grant());
        assert_eq!(p.fail(), Err(TransitionError::Uncompensated(vec![0])));
        assert!(
            p.points_refunded().is_err(),
            "no refund before compensating"
        );
        p.begin_compensation().expect("spent, nothing granted");
        assert!(done(&mut p, 1).is_err(), "no grant while compensating");
        p.points_refunded().expect("refund while compensating");
        assert_eq!(p.fail(), Ok(()));
        assert_eq!(p.state(), ClaimState::Failed);
        assert!(!p.compensating());
    }

    proptest! {
        /// GP-9: whatever order steps complete in, the claim is GRANTED exactly when all
        /// are done, and FAILED is unreachable once any grant was made.
        #[test]
        fn gp9_granted_iff_every_step_done(order in proptest::sample::subsequence(vec![0usize, 1, 2], 0..=3)) {
            let mut p = progress();
            p.start().expect("pending may start");
            for i in &order {
                done(&mut p, *i).expect("a step while granting");
            }
            prop_assert_eq!(p.state() == ClaimState::Granted, order.len() == 3);
            prop_assert_eq!(p.finish().is_ok(), order.len() == 3);
            prop_assert_eq!(p.fail().is_ok(), order.is_empty());
        }
    }
}
