//! Member sprint plans (会员冲刺计划): SP-1 plans and their phases, SP-2 invitations with
//! thresholds, SP-3 joining with a reward batch, SP-7 withdrawal. Pure: the clock is passed
//! in.

use chrono::{DateTime, Timelike, Utc};
use memberhub_kit::error::{Failure, Violations};
use memberhub_kit::input;

use crate::domain::types::MAX_WINDOW;

/// SP-1: a plan's name, in characters.
pub(crate) const MAX_NAME_CHARS: usize = 30;
/// SP-3: R when the operator does not set it.
pub(crate) const DEFAULT_REQUIRED_DISTRIBUTION: i64 = 400;
/// The largest R, F or threshold a plan accepts (a billion coupons, ten million yuan).
pub(crate) const MAX_AMOUNT: i64 = 1_000_000_000;

/// SP-1: where a plan stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Upcoming,
    Registration,
    Sprint,
    Award,
    Redemption,
    Ended,
}

impl Phase {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Phase::Upcoming => "UPCOMING",
            Phase::Registration => "REGISTRATION",
            Phase::Sprint => "SPRINT",
            Phase::Award => "AWARD",
            Phase::Redemption => "REDEMPTION",
            Phase::Ended => "ENDED",
        }
    }
}

/// SP-1: the phase boundaries: registration, sprint, award and redemption each run from
/// their start to the next start; redemption to `redemption_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Phases {
    pub(crate) registration_start: DateTime<Utc>,
    pub(crate) sprint_start: DateTime<Utc>,
    pub(crate) award_start: DateTime<Utc>,
    pub(crate) redemption_start: DateTime<Utc>,
    pub(crate) redemption_end: DateTime<Utc>,
}

impl Phases {
    pub(crate) fn at(&self, now: DateTime<Utc>) -> Phase {
        if now < self.registration_start {
            Phase::Upcoming
        } else if now < self.sprint_start {
            Phase::Registration
        } else if now < self.award_start {
            Phase::Sprint
        } else if now < self.redemption_start {
            Phase::Award
        } else if now < self.redemption_end {
            Phase::Redemption
        } else {
            Phase::Ended
        }
    }
}

/// SP-1: a plan as created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewPlan {
    pub(crate) name: String,
    pub(crate) phases: Phases,
    pub(crate) required_distribution: i64,
    pub(crate) min_face_value_fen: i64,
    pub(crate) max_fold_percent: i32,
}

/// A plan as received; times absent are `None`.
#[derive(Debug, Clone, Default)]
pub(crate) struct PlanInput<'a> {
    pub(crate) name: &'a str,
    pub(crate) registration_start: Option<DateTime<Utc>>,
    pub(crate) sprint_start: Option<DateTime<Utc>>,
    pub(crate) award_start: Option<DateTime<Utc>>,
    pub(crate) redemption_start: Option<DateTime<Utc>>,
    pub(crate) redemption_end: Option<DateTime<Utc>>,
    pub(crate) required_distribution: i64,
    pub(crate) min_face_value_fen: i64,
    pub(crate) max_fold_percent: i32,
}

fn whole_hour(at: DateTime<Utc>) -> bool {
    at.minute() == 0 && at.second() == 0 && at.nanosecond() == 0
}

impl NewPlan {
    /// SP-1/SP-3: every violation at once, each naming its field (`plan.<field>`). The plan
    /// must start in the future (invited shops read their thresholds before registration
    /// opens), its phases must be contiguous and non-empty, and the redemption phase runs
    /// on whole hours because it is the reward coupons' validity.
    pub(crate) fn parse(input: PlanInput<'_>, now: DateTime<Utc>) -> Result<Self, Failure> {
        let mut v = Violations::new();
        let name = v.check(input::text("plan.name", input.name, MAX_NAME_CHARS));
        let mut required = |field: &str, at: Option<DateTime<Utc>>| {
            if at.is_none() {
                v.add(format!("plan.{field}"), "is required");
            }
            at
        };
        let times = [
            required("registration_start_time", input.registration_start),
            required("sprint_start_time", input.sprint_start),
            required("award_start_time", input.award_start),
            required("redemption_start_time", input.redemption_start),
            required("redemption_end_time", input.redemption_end),
        ];
        let fields = [
            "plan.registration_start_time",
            "plan.sprint_start_time",
            "plan.award_start_time",
            "plan.redemption_start_time",
            "plan.redemption_end_time",
        ];
        if let Some(start) = times[0]
            && start <= now
        {
            v.add(fields[0], "must be in the future");
        }
        for i in 1..times.len() {
            if let (Some(before), Some(at)) = (times[i - 1], times[i])
                && at <= before
            {
                v.add(
                    fields[i],
                    format!(
                        "must be after {} (every phase is non-empty)",
                        &fields[i - 1][5..]
                    ),
                );
            }
        }
        for i in [3, 4] {
            if times[i].is_some_and(|at| !whole_hour(at)) {
                v.add(fields[i], "must be a whole hour (the coupons' validity)");
            }
        }
        if let (Some(start), Some(end)) = (times[0], times[4])
            && end - start > MAX_WINDOW
        {
            v.add(fields[4], "the plan may last at most 366 days");
        }
        let required_distribution = match input.required_distribution {
            0 => DEFAULT_REQUIRED_DISTRIBUTION,
            r => r,
        };
        if !(1..=MAX_AMOUNT).contains(&required_distribution) {
            v.add(
                "plan.required_distribution",
                format!("must be 1 to {MAX_AMOUNT}, or 0 for {DEFAULT_REQUIRED_DISTRIBUTION}"),
            );
        }
        if !(1..=MAX_AMOUNT).contains(&input.min_face_value_fen) {
            v.add(
                "plan.min_face_value_fen",
                format!("must be 1 to {MAX_AMOUNT} fen"),
            );
        }
        if !(1..=99).contains(&input.max_fold_percent) {
            v.add("plan.max_fold_percent", "must be 1 to 99 (90 = 9折)");
        }
        v.finish()?;
        let [Some(a), Some(b), Some(c), Some(d), Some(e)] = times else {
            return Err(Failure::Internal);
        };
        Ok(Self {
            name: name.unwrap_or_default(),
            phases: Phases {
                registration_start: a,
                sprint_start: b,
                award_start: c,
                redemption_start: d,
                redemption_end: e,
            },
            required_distribution,
            min_face_value_fen: input.min_face_value_fen,
            max_fold_percent: input.max_fold_percent,
        })
    }
}

/// SP-2: what an invited shop must meet to join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Thresholds {
    pub(crate) min_member_count: i64,
    pub(crate) min_sales_fen: i64,
}

impl Thresholds {
    pub(crate) fn parse(min_member_count: i64, min_sales_fen: i64) -> Result<Self, Failure> {
        let mut v = Violations::new();
        if !(0..=MAX_AMOUNT).contains(&min_member_count) {
            v.add(
                "thresholds.min_member_count",
                format!("must be 0 to {MAX_AMOUNT}"),
            );
        }
        if !(0..=MAX_AMOUNT * 100).contains(&min_sales_fen) {
            v.add(
                "thresholds.min_sales_fen",
                format!("must be 0 to {} fen", MAX_AMOUNT * 100),
            );
        }
        v.finish()?;
        Ok(Self {
            min_member_count,
            min_sales_fen,
        })
    }
}

/// A shop's standing in a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShopState {
    Invited,
    Joined,
    Withdrawn,
}

memberhub_kit::db_enum!(pub(crate) ShopState { Invited => "INVITED", Joined => "JOINED", Withdrawn => "WITHDRAWN" });

/// FAILED_PRECONDITION naming the phase the plan is in.
fn closed(phase: Phase, what: &str) -> Failure {
    Failure::FailedPrecondition {
        reason: "SPRINT_PLAN_PHASE",
        message: format!(
            "{what} only before registration starts; the plan is in {}",
            phase.name()
        ),
        metadata: vec![("phase", phase.name().to_string())],
    }
}

/// SP-2: shops are invited only before registration starts.
pub(crate) fn may_invite(phases: &Phases, now: DateTime<Utc>) -> Result<(), Failure> {
    match phases.at(now) {
        Phase::Upcoming => Ok(()),
        phase => Err(closed(phase, "shops are invited")),
    }
}

/// SP-7: a shop withdraws only before registration starts. `Ok(false)`: it already has
/// (a retry, answered with the shop as it stands).
pub(crate) fn may_withdraw(
    phases: &Phases,
    state: ShopState,
    now: DateTime<Utc>,
) -> Result<bool, Failure> {
    if state == ShopState::Withdrawn {
        return Ok(false);
    }
    match phases.at(now) {
        Phase::Upcoming => Ok(true),
        phase => Err(closed(phase, "a shop withdraws")),
    }
}

/// SP-3: what a joining shop commits to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Join {
    /// The sprint threshold: a registered member qualifies by spending this much.
    pub(crate) spend_threshold_fen: i64,
    /// D: how many members may be awarded.
    pub(crate) distribution_quantity: i64,
}

impl Join {
    pub(crate) fn parse(
        plan: &NewPlan,
        spend_threshold_fen: i64,
        distribution_quantity: i64,
    ) -> Result<Self, Failure> {
        let mut v = Violations::new();
        if !(1..=MAX_AMOUNT).contains(&spend_threshold_fen) {
            v.add(
                "spend_threshold_fen",
                format!("must be 1 to {MAX_AMOUNT} fen"),
            );
        }
        if !(plan.required_distribution..=MAX_AMOUNT).contains(&distribution_quantity) {
            v.add(
                "distribution_quantity",
                format!(
                    "must be at least the plan's required distribution {} (SP-3) and at most {MAX_AMOUNT}",
                    plan.required_distribution
                ),
            );
        }
        v.finish()?;
        Ok(Self {
            spend_threshold_fen,
            distribution_quantity,
        })
    }
}

/// The reward batch as SP-3 reads it (from coupon-svc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RewardBatch {
    pub(crate) shop_matches: bool,
    pub(crate) threshold_kind: bool,
    pub(crate) face_value_fen: i64,
    pub(crate) threshold_fen: i64,
    pub(crate) sprint_channel: bool,
    /// Item scope "all": not a product coupon.
    pub(crate) shop_wide: bool,
    pub(crate) all_regions: bool,
    pub(crate) claim_start: Option<DateTime<Utc>>,
    pub(crate) claim_end: Option<DateTime<Utc>>,
    /// ABSOLUTE validity with whole hours: its window; `None` otherwise.
    pub(crate) whole_hour_validity: Option<(DateTime<Utc>, DateTime<Utc>)>,
    pub(crate) per_issue_count: i32,
    pub(crate) giftable: bool,
    pub(crate) per_user_limit: i32,
    pub(crate) total_quantity: i64,
    pub(crate) active: bool,
}

/// SP-3: every rule on the reward batch at once, each violation naming its field
/// (`batch.<field>`).
pub(crate) fn check_reward_batch(
    plan: &NewPlan,
    join: &Join,
    batch: &RewardBatch,
) -> Result<(), Failure> {
    let mut v = Violations::new();
    if !batch.shop_matches {
        v.add("batch_key", "must be a batch of the joining shop");
    }
    if !batch.threshold_kind {
        v.add("batch.kind", "must be THRESHOLD");
    }
    if batch.threshold_fen != join.spend_threshold_fen {
        v.add(
            "batch.threshold_fen",
            format!(
                "must equal the sprint threshold {} fen",
                join.spend_threshold_fen
            ),
        );
    }
    if batch.face_value_fen < plan.min_face_value_fen {
        v.add(
            "batch.face_value_fen",
            format!(
                "must be at least the plan's {} fen",
                plan.min_face_value_fen
            ),
        );
    }
    // (threshold - face) / threshold is what the shopper pays: at most P %.
    let paid = i128::from(batch.threshold_fen - batch.face_value_fen) * 100;
    if paid > i128::from(plan.max_fold_percent) * i128::from(batch.threshold_fen) {
        v.add(
            "batch.face_value_fen",
            format!(
                "the discount must reach the plan's fold: (threshold - face) x 100 <= {} x threshold",
                plan.max_fold_percent
            ),
        );
    }
    if !batch.sprint_channel {
        v.add("batch.channel", "must be SPRINT_PLAN");
    }
    if batch.shop_wide {
        v.add(
            "batch.item_scope",
            "must name categories (or SKUs): a product coupon",
        );
    }
    if !batch.all_regions {
        v.add("batch.regions", "must cover every region");
    }
    let p = &plan.phases;
    if batch.claim_start != Some(p.award_start) || batch.claim_end != Some(p.redemption_start) {
        v.add("batch.claim_window", "must be the plan's award phase");
    }
    if batch.whole_hour_validity != Some((p.redemption_start, p.redemption_end)) {
        v.add(
            "batch.validity",
            "must be ABSOLUTE, on whole hours, the plan's redemption phase",
        );
    }
    if batch.per_issue_count != 2 {
        v.add("batch.per_issue_count", "must be 2");
    }
    if batch.giftable {
        v.add("batch.giftable", "must be false");
    }
    if batch.per_user_limit != 0 {
        v.add("batch.per_user_limit", "must be 0 (unlimited)");
    }
    if batch.total_quantity <= join.distribution_quantity {
        v.add(
            "batch.total_quantity",
            format!(
                "must exceed the distribution quantity {}",
                join.distribution_quantity
            ),
        );
    }
    if !batch.active {
        v.add("batch.status", "must be ACTIVE (approved)");
    }
    v.finish()
}

/// SP-2: the thresholds the shop does not meet, as FAILED_PRECONDITION naming the first.
pub(crate) fn meets(thresholds: &Thresholds, members: i64, sales_fen: i64) -> Result<(), Failure> {
    let unmet = if members < thresholds.min_member_count {
        Some(("min_member_count", thresholds.min_member_count, members))
    } else if sales_fen < thresholds.min_sales_fen {
        Some(("min_sales_fen", thresholds.min_sales_fen, sales_fen))
    } else {
        None
    };
    match unmet {
        None => Ok(()),
        Some((threshold, required, actual)) => Err(Failure::FailedPrecondition {
            reason: "SPRINT_THRESHOLD_NOT_MET",
            message: format!(
                "the shop has {actual} where the plan requires {threshold} {required}"
            ),
            metadata: vec![
                ("threshold", threshold.to_string()),
                ("required", required.to_string()),
                ("actual", actual.to_string()),
            ],
        }),
    }
}

/// SP-3: shops join while the plan is upcoming, once.
pub(crate) fn may_join(
    phases: &Phases,
    state: ShopState,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    match (phases.at(now), state) {
        (Phase::Upcoming, ShopState::Invited) => Ok(()),
        (Phase::Upcoming, ShopState::Joined) => Err(Failure::FailedPrecondition {
            reason: "SPRINT_PLAN_JOINED",
            message: "the shop has joined the plan already".into(),
            metadata: Vec::new(),
        }),
        (Phase::Upcoming, ShopState::Withdrawn) => Err(Failure::FailedPrecondition {
            reason: "SPRINT_PLAN_WITHDRAWN",
            message: "the shop withdrew from the plan".into(),
            metadata: Vec::new(),
        }),
        (phase, _) => Err(closed(phase, "shops join")),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn hours(n: i64) -> Duration {
        Duration::hours(n)
    }

    fn at(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + hours(h)
    }

    fn input(name: &str) -> PlanInput<'_> {
        PlanInput {
            name,
            registration_start: Some(at(24)),
            sprint_start: Some(at(48)),
            award_start: Some(at(72)),
            redemption_start: Some(at(96)),
            redemption_end: Some(at(120)),
            required_distribution: 0,
            min_face_value_fen: 1_000,
            max_fold_percent: 90,
        }
    }

    fn fields(failure: Failure) -> Vec<String> {
        match failure {
            Failure::InvalidArgument(v) => v.into_iter().map(|v| v.field).collect(),
            other => vec![format!("{other:?}")],
        }
    }

    #[test]
    fn sp1_a_plan_has_four_contiguous_non_empty_phases_and_r_defaults_to_400() {
        let plan = NewPlan::parse(input("双11冲刺"), at(0)).map_err(fields);
        let Ok(plan) = plan else { panic!("{plan:?}") };
        assert_eq!(plan.required_distribution, 400);
        let p = plan.phases;
        assert_eq!(p.at(at(24) - Duration::seconds(1)), Phase::Upcoming);
        assert_eq!(p.at(at(24)), Phase::Registration);
        assert_eq!(p.at(at(48) - Duration::seconds(1)), Phase::Registration);
        assert_eq!(p.at(at(48)), Phase::Sprint);
        assert_eq!(p.at(at(72)), Phase::Award);
        assert_eq!(p.at(at(96)), Phase::Redemption);
        assert_eq!(p.at(at(120) - Duration::seconds(1)), Phase::Redemption);
        assert_eq!(p.at(at(120)), Phase::Ended);
    }

    #[test]
    fn sp1_each_bad_field_is_named() {
        let mut bad = input("");
        bad.registration_start = Some(at(0));
        bad.award_start = Some(at(48));
        bad.redemption_start = Some(at(96) + Duration::minutes(30));
        bad.redemption_end = None;
        bad.required_distribution = -1;
        bad.min_face_value_fen = 0;
        bad.max_fold_percent = 100;
        let Err(failure) = NewPlan::parse(bad, at(0)) else {
            panic!("a bad plan was accepted")
        };
        assert_eq!(
            fields(failure),
            [
                "plan.name",
                "plan.redemption_end_time",
                "plan.registration_start_time",
                "plan.award_start_time",
                "plan.redemption_start_time",
                "plan.required_distribution",
                "plan.min_face_value_fen",
                "plan.max_fold_percent",
            ]
        );
    }

    #[test]
    fn sp2_sp7_invitations_and_withdrawal_close_when_registration_starts() {
        let Ok(plan) = NewPlan::parse(input("p"), at(0)) else {
            panic!("valid plan refused")
        };
        let p = plan.phases;
        assert!(may_invite(&p, at(23)).is_ok());
        assert!(may_withdraw(&p, ShopState::Joined, at(23)).is_ok_and(|changes| changes));
        let Err(Failure::FailedPrecondition { metadata, .. }) =
            may_withdraw(&p, ShopState::Invited, at(24))
        else {
            panic!("withdrawal after registration started")
        };
        assert_eq!(metadata, [("phase", "REGISTRATION".to_string())]);
        assert!(may_invite(&p, at(24)).is_err());
        // a shop that already withdrew gets its answer again, whatever the phase
        assert!(may_withdraw(&p, ShopState::Withdrawn, at(200)).is_ok_and(|changes| !changes));
    }

    #[test]
    fn sp2_thresholds_are_bounded_and_named() {
        assert!(Thresholds::parse(100, 1_000_000).is_ok());
        let Err(failure) = Thresholds::parse(-1, -1) else {
            panic!("negative thresholds accepted")
        };
        assert_eq!(
            fields(failure),
            ["thresholds.min_member_count", "thresholds.min_sales_fen"]
        );
    }

    /// Breaks one SP-3 rule of a reward batch.
    type Breaker = fn(&mut RewardBatch);

    fn reward(plan: &NewPlan) -> RewardBatch {
        let p = &plan.phases;
        RewardBatch {
            shop_matches: true,
            threshold_kind: true,
            face_value_fen: 2_000,
            threshold_fen: 20_000,
            sprint_channel: true,
            shop_wide: false,
            all_regions: true,
            claim_start: Some(p.award_start),
            claim_end: Some(p.redemption_start),
            whole_hour_validity: Some((p.redemption_start, p.redemption_end)),
            per_issue_count: 2,
            giftable: false,
            per_user_limit: 0,
            total_quantity: 401,
            active: true,
        }
    }

    #[test]
    fn sp3_every_reward_batch_rule_is_named_one_by_one_and_all_at_once() {
        let Ok(plan) = NewPlan::parse(input("p"), at(0)) else {
            panic!("valid plan refused")
        };
        let Ok(join) = Join::parse(&plan, 20_000, 400) else {
            panic!("valid join refused")
        };
        assert!(check_reward_batch(&plan, &join, &reward(&plan)).is_ok());
        let cases: [(&str, Breaker); 14] = [
            ("batch_key", |b| b.shop_matches = false),
            ("batch.kind", |b| b.threshold_kind = false),
            ("batch.threshold_fen", |b| b.threshold_fen = 19_999),
            ("batch.face_value_fen", |b| b.face_value_fen = 1_999),
            ("batch.channel", |b| b.sprint_channel = false),
            ("batch.item_scope", |b| b.shop_wide = true),
            ("batch.regions", |b| b.all_regions = false),
            ("batch.claim_window", |b| b.claim_end = None),
            ("batch.validity", |b| b.whole_hour_validity = None),
            ("batch.per_issue_count", |b| b.per_issue_count = 1),
            ("batch.giftable", |b| b.giftable = true),
            ("batch.per_user_limit", |b| b.per_user_limit = 1),
            ("batch.total_quantity", |b| b.total_quantity = 400),
            ("batch.status", |b| b.active = false),
        ];
        let mut all = reward(&plan);
        for (field, break_it) in &cases {
            let mut one = reward(&plan);
            break_it(&mut one);
            break_it(&mut all);
            let Err(failure) = check_reward_batch(&plan, &join, &one) else {
                panic!("{field}: a broken batch was accepted")
            };
            assert!(fields(failure).contains(&field.to_string()), "{field}");
        }
        let Err(failure) = check_reward_batch(&plan, &join, &all) else {
            panic!("a batch breaking every rule was accepted")
        };
        let named = fields(failure);
        for (field, _) in &cases {
            assert!(named.contains(&field.to_string()), "{field} in {named:?}");
        }
    }

    #[test]
    fn sp3_d_is_at_least_r_and_the_fold_is_checked_at_its_boundary() {
        let Ok(plan) = NewPlan::parse(input("p"), at(0)) else {
            panic!("valid plan refused")
        };
        assert!(Join::parse(&plan, 20_000, 399).is_err());
        let Ok(join) = Join::parse(&plan, 20_000, 400) else {
            panic!("D = R refused")
        };
        let mut shallow = reward(&plan);
        shallow.face_value_fen = 2_000; // 9折: allowed
        assert!(check_reward_batch(&plan, &join, &shallow).is_ok());
        let mut plan_85 = plan.clone();
        plan_85.max_fold_percent = 85; // 9折 is shallower than 8.5折
        let Err(failure) = check_reward_batch(&plan_85, &join, &shallow) else {
            panic!("a 9折 coupon accepted by an 8.5折 plan")
        };
        assert_eq!(fields(failure), ["batch.face_value_fen"]);
    }

    #[test]
    fn sp2_a_shop_below_a_threshold_is_told_which() {
        let t = Thresholds {
            min_member_count: 100,
            min_sales_fen: 1_000,
        };
        assert!(meets(&t, 100, 1_000).is_ok());
        let Err(Failure::FailedPrecondition { metadata, .. }) = meets(&t, 99, 5_000) else {
            panic!("below the member threshold")
        };
        assert_eq!(metadata[0], ("threshold", "min_member_count".to_string()));
        let Err(Failure::FailedPrecondition { metadata, .. }) = meets(&t, 100, 999) else {
            panic!("below the sales threshold")
        };
        assert_eq!(metadata[0], ("threshold", "min_sales_fen".to_string()));
    }
}
