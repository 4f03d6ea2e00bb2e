//! Member sprint plans (campaign-svc, SP-1, SP-2, SP-3, SP-7): operators create plans and
//! invite shops; merchants read their invitations, join and may withdraw before
//! registration.

use chrono::{DateTime, Utc};
use memberhub_kit::clock::to_timestamp;
use memberhub_proto::campaign as pb;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{short, timestamp};

/// SP-1: a new plan. Phases run from each start to the next; redemption to its end.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct CreateSprintPlan {
    // campaign-svc `sprint_plan::MAX_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 30,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub name: String,
    /// In the future.
    pub registration_start_time: DateTime<Utc>,
    pub sprint_start_time: DateTime<Utc>,
    pub award_start_time: DateTime<Utc>,
    /// A whole hour: the reward coupons' validity is the redemption phase.
    pub redemption_start_time: DateTime<Utc>,
    /// A whole hour, at most 366 days after registration starts.
    pub redemption_end_time: DateTime<Utc>,
    /// SP-3 R; absent or 0 means 400.
    // campaign-svc `sprint_plan::MAX_AMOUNT`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub required_distribution: i64,
    /// SP-3 F: the reward coupon's minimum face value.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub min_face_value_fen: i64,
    /// SP-3 P: the deepest discount as a fold, 90 = 9折.
    #[schema(minimum = 1, maximum = 99)]
    pub max_fold_percent: i32,
}

impl From<CreateSprintPlan> for pb::SprintPlan {
    fn from(b: CreateSprintPlan) -> Self {
        pb::SprintPlan {
            name: b.name,
            registration_start_time: Some(to_timestamp(b.registration_start_time)),
            sprint_start_time: Some(to_timestamp(b.sprint_start_time)),
            award_start_time: Some(to_timestamp(b.award_start_time)),
            redemption_start_time: Some(to_timestamp(b.redemption_start_time)),
            redemption_end_time: Some(to_timestamp(b.redemption_end_time)),
            required_distribution: b.required_distribution,
            min_face_value_fen: b.min_face_value_fen,
            max_fold_percent: b.max_fold_percent,
            ..Default::default()
        }
    }
}

/// SP-1: a plan and the phase it is in now (`UPCOMING`, `REGISTRATION`, `SPRINT`, `AWARD`,
/// `REDEMPTION`, `ENDED`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SprintPlan {
    pub plan_id: String,
    pub name: String,
    pub registration_start_time: Option<String>,
    pub sprint_start_time: Option<String>,
    pub award_start_time: Option<String>,
    pub redemption_start_time: Option<String>,
    pub redemption_end_time: Option<String>,
    pub required_distribution: i64,
    pub min_face_value_fen: i64,
    pub max_fold_percent: i32,
    pub phase: String,
    pub create_time: Option<String>,
}

impl From<pb::SprintPlan> for SprintPlan {
    fn from(p: pb::SprintPlan) -> Self {
        Self {
            phase: short(p.phase().as_str_name(), "SPRINT_PHASE_"),
            plan_id: p.plan_id,
            name: p.name,
            registration_start_time: timestamp(p.registration_start_time),
            sprint_start_time: timestamp(p.sprint_start_time),
            award_start_time: timestamp(p.award_start_time),
            redemption_start_time: timestamp(p.redemption_start_time),
            redemption_end_time: timestamp(p.redemption_end_time),
            required_distribution: p.required_distribution,
            min_face_value_fen: p.min_face_value_fen,
            max_fold_percent: p.max_fold_percent,
            create_time: timestamp(p.create_time),
        }
    }
}

/// A page of plans, newest first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SprintPlanPage {
    pub plans: Vec<SprintPlan>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<pb::ListSprintPlansResponse> for SprintPlanPage {
    fn from(r: pb::ListSprintPlansResponse) -> Self {
        Self {
            plans: r.plans.into_iter().map(SprintPlan::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// The phase filter of the plan list.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub(crate) enum SprintPhase {
    Upcoming,
    Registration,
    Sprint,
    Award,
    Redemption,
    Ended,
}

impl From<SprintPhase> for pb::SprintPhase {
    fn from(p: SprintPhase) -> Self {
        match p {
            SprintPhase::Upcoming => pb::SprintPhase::Upcoming,
            SprintPhase::Registration => pb::SprintPhase::Registration,
            SprintPhase::Sprint => pb::SprintPhase::Sprint,
            SprintPhase::Award => pb::SprintPhase::Award,
            SprintPhase::Redemption => pb::SprintPhase::Redemption,
            SprintPhase::Ended => pb::SprintPhase::Ended,
        }
    }
}

/// Filters of the plan list.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct SprintPlanQuery {
    /// Only plans in this phase now.
    pub phase: Option<SprintPhase>,
    /// 1 to 200; absent or 0 means 50.
    // memberhub_kit::input::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE}.
    #[param(value_type = Option<i32>, minimum = 0, maximum = 200)]
    pub page_size: Option<String>,
    /// The previous page's `next_page_token`.
    pub page_token: Option<String>,
}

/// SP-2: what an invited shop must meet to join.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub(crate) struct SprintThresholds {
    /// Active members of the shop.
    // campaign-svc `sprint_plan::MAX_AMOUNT`.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1_000_000_000_i64)]
    pub min_member_count: i64,
    /// Receipt-confirmed sales net of refunds over the 365 days before joining.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 100_000_000_000_i64)]
    pub min_sales_fen: i64,
}

/// SP-2: invite a shop.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct InviteSprintPlanShop {
    #[schema(format = Uuid)]
    pub shop_id: String,
    #[serde(default)]
    pub thresholds: SprintThresholds,
}

/// SP-3: what a joining shop commits to.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub(crate) struct JoinSprintPlan {
    /// What a member must spend in the sprint phase to qualify.
    // campaign-svc `sprint_plan::MAX_AMOUNT`.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub spend_threshold_fen: i64,
    /// D: at least the plan's `required_distribution`.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub distribution_quantity: i64,
    /// The approved reward batch's key (`BA_...`).
    #[schema(pattern = r"^BA_[a-z2-7]{7}$")]
    pub batch_key: String,
}

/// SP-2: a shop's invitation (`INVITED`, `JOINED`, `WITHDRAWN`), with the plan.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SprintPlanShop {
    pub plan_id: String,
    pub shop_id: String,
    pub thresholds: SprintThresholds,
    pub state: String,
    pub invite_time: Option<String>,
    pub withdraw_time: Option<String>,
    pub plan: Option<SprintPlan>,
    /// SP-3, once joined (0 or empty before).
    pub spend_threshold_fen: i64,
    pub distribution_quantity: i64,
    pub batch_key: String,
    pub join_time: Option<String>,
}

impl From<pb::SprintPlanShop> for SprintPlanShop {
    fn from(s: pb::SprintPlanShop) -> Self {
        let thresholds = s.thresholds.unwrap_or_default();
        Self {
            state: short(s.state().as_str_name(), "SPRINT_SHOP_STATE_"),
            plan_id: s.plan_id,
            shop_id: s.shop_id,
            thresholds: SprintThresholds {
                min_member_count: thresholds.min_member_count,
                min_sales_fen: thresholds.min_sales_fen,
            },
            invite_time: timestamp(s.invite_time),
            withdraw_time: timestamp(s.withdraw_time),
            plan: s.plan.map(SprintPlan::from),
            spend_threshold_fen: s.spend_threshold_fen,
            distribution_quantity: s.distribution_quantity,
            batch_key: s.batch_key,
            join_time: timestamp(s.join_time),
        }
    }
}

/// A page of invitations.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SprintPlanShopPage {
    pub shops: Vec<SprintPlanShop>,
    /// Empty on the last page.
    pub next_page_token: String,
}

impl From<pb::ListSprintPlanShopsResponse> for SprintPlanShopPage {
    fn from(r: pb::ListSprintPlanShopsResponse) -> Self {
        Self {
            shops: r.shops.into_iter().map(SprintPlanShop::from).collect(),
            next_page_token: r.next_page_token,
        }
    }
}

/// SP-3: a reward batch made from a plan. The fields the seed fixes are filled in from the
/// plan and cannot be sent: kind THRESHOLD, channel SPRINT_PLAN, every region, claim window
/// = the award phase, ABSOLUTE whole-hour validity = the redemption phase, 2 coupons per
/// issue, not giftable, no per-user limit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateRewardBatch {
    // coupon-svc `batch::MAX_INTERNAL_NAME_CHARS`.
    #[schema(
        min_length = 1,
        max_length = 50,
        pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$"
    )]
    pub internal_name: String,
    /// At least the plan's `min_face_value_fen`, deep enough for its fold.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub face_value_fen: i64,
    /// The sprint threshold the shop will join with.
    #[schema(minimum = 1, maximum = 1_000_000_000_i64)]
    pub threshold_fen: i64,
    /// Categories (or SKUs): a product coupon.
    pub item_scope: crate::coupon_views::ItemScope,
    /// More than the distribution quantity the shop will join with.
    // coupon-svc `batch::MAX_QUANTITY`.
    #[schema(minimum = 1, maximum = 100_000_000_i64)]
    pub total_quantity: i64,
}

impl CreateRewardBatch {
    /// The batch for `shop_id` with the plan's fixed fields.
    pub(crate) fn into_batch(
        self,
        shop_id: String,
        shop_type: memberhub_proto::common::ShopType,
        plan: &pb::SprintPlan,
    ) -> memberhub_proto::coupon::Batch {
        use memberhub_proto::coupon as coupon_pb;
        coupon_pb::Batch {
            shop_id,
            shop_type: shop_type.into(),
            internal_name: self.internal_name,
            kind: coupon_pb::CouponKind::Threshold.into(),
            face_value_fen: self.face_value_fen,
            threshold_fen: self.threshold_fen,
            item_scope: Some(coupon_pb::ItemScope {
                categories: self.item_scope.categories,
                skus: self.item_scope.skus,
            }),
            channel: memberhub_proto::common::CouponChannel::SprintPlan.into(),
            total_quantity: self.total_quantity,
            per_user_limit: 0,
            per_issue_count: 2,
            giftable: false,
            claim_start_time: plan.award_start_time,
            claim_end_time: plan.redemption_start_time,
            validity: Some(coupon_pb::Validity {
                kind: coupon_pb::ValidityKind::Absolute.into(),
                start_time: plan.redemption_start_time,
                end_time: plan.redemption_end_time,
                whole_hours: true,
                relative_days: 0,
            }),
            ..Default::default()
        }
    }
}

/// SP-4: register with a participating shop. A shopper who is not a member yet opens the
/// shop's card while registering (MB-2) and gives the phone (and SMS code) for it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RegisterSprintPlan {
    /// Needed only when the shopper is not a member of the shop yet: an 11-digit mainland
    /// mobile number, optionally after `+86` (membership-svc checks it, MB-2).
    #[serde(default)]
    pub phone: String,
    /// The 6-digit code sent to `phone` when the shop verifies phones by SMS (MP-4).
    #[serde(default)]
    #[schema(pattern = r"^(?:[0-9]{6})?$")]
    pub sms_code: String,
}

/// SP-4..SP-6: where the shopper stands in a shop's sprint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SprintRegistration {
    pub plan_id: String,
    pub shop_id: String,
    pub register_time: Option<String>,
    /// The plan's phase now: `REGISTRATION`, `SPRINT`, `AWARD`, `REDEMPTION` ...
    pub phase: String,
    /// Receipt-confirmed spend in the shop during the sprint, net of refunds.
    pub spend_fen: i64,
    pub spend_threshold_fen: i64,
    /// When the spend reached the threshold; absent while below it.
    pub qualify_time: Option<String>,
    /// `PENDING`, `DUE`, `AWARDED`, `NOT_AWARDED_OUT_OF_STOCK` or `NOT_QUALIFIED`.
    pub award_state: String,
    pub award_time: Option<String>,
    /// The two reward coupons, once awarded (they are in the shopper's wallet).
    pub coupon_ids: Vec<String>,
}

impl From<pb::SprintRegistration> for SprintRegistration {
    fn from(r: pb::SprintRegistration) -> Self {
        Self {
            phase: short(r.phase().as_str_name(), "SPRINT_PHASE_"),
            award_state: short(r.award_state().as_str_name(), "SPRINT_AWARD_STATE_"),
            plan_id: r.plan_id,
            shop_id: r.shop_id,
            register_time: timestamp(r.register_time),
            spend_fen: r.spend_fen,
            spend_threshold_fen: r.spend_threshold_fen,
            qualify_time: timestamp(r.qualify_time),
            award_time: timestamp(r.award_time),
            coupon_ids: r.coupon_ids,
        }
    }
}

/// SP-8: a participating shop's figures.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub(crate) struct SprintPlanShopStatistics {
    pub plan_id: String,
    pub shop_id: String,
    pub registered: i64,
    /// At or above the threshold now (before the award), or when the award was decided.
    pub qualified: i64,
    pub awarded: i64,
    pub not_awarded: i64,
    /// Reward coupons redeemed.
    pub used: i64,
    pub coupons_issued: i64,
    /// D.
    pub distribution_quantity: i64,
    pub award_start_time: Option<String>,
    pub award_finish_time: Option<String>,
}

impl From<pb::SprintPlanShopStatistics> for SprintPlanShopStatistics {
    fn from(s: pb::SprintPlanShopStatistics) -> Self {
        Self {
            plan_id: s.plan_id,
            shop_id: s.shop_id,
            registered: s.registered,
            qualified: s.qualified,
            awarded: s.awarded,
            not_awarded: s.not_awarded,
            used: s.used,
            coupons_issued: s.coupons_issued,
            distribution_quantity: s.distribution_quantity,
            award_start_time: timestamp(s.award_start_time),
            award_finish_time: timestamp(s.award_finish_time),
        }
    }
}
