//! Member sprint plans over gRPC (SP-1, SP-2, SP-3, SP-7), with the clock moved rather than
//! slept: operators create plans and invite shops; an invited shop reads its thresholds
//! before registration, joins with a reward batch meeting every SP-3 rule, and may withdraw
//! only until registration starts.

mod support;

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::testing::TestResult;
use memberhub_proto::campaign as pb;
use memberhub_proto::common::{CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::membership as membership_pb;
use support::{Suite, assert_invalid, assert_precondition, expect_err, merchant, req, rid, t0, ts};

/// A plan whose registration starts a day after t0, each phase two days long, on whole
/// hours.
fn plan(name: &str) -> pb::SprintPlan {
    let at = |days: i64| ts(t0() + Duration::days(days));
    pb::SprintPlan {
        name: name.into(),
        registration_start_time: at(1),
        sprint_start_time: at(3),
        award_start_time: at(5),
        redemption_start_time: at(7),
        redemption_end_time: at(9),
        min_face_value_fen: 2_000,
        max_fold_percent: 90,
        ..Default::default()
    }
}

async fn create(s: &mut Suite, plan: pb::SprintPlan) -> Result<pb::SprintPlan, tonic::Status> {
    s.campaign
        .create_sprint_plan(req(
            &Actor::Operator,
            pb::CreateSprintPlanRequest {
                request_id: rid("plan"),
                plan: Some(plan),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn invite(
    s: &mut Suite,
    plan_id: &str,
    shop_id: &str,
) -> Result<pb::SprintPlanShop, tonic::Status> {
    s.campaign
        .invite_sprint_plan_shop(req(
            &Actor::Operator,
            pb::InviteSprintPlanShopRequest {
                request_id: rid("invite"),
                plan_id: plan_id.into(),
                shop_id: shop_id.into(),
                thresholds: Some(pb::SprintThresholds {
                    min_member_count: 100,
                    min_sales_fen: 5_000_000,
                }),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn withdraw(
    s: &mut Suite,
    plan_id: &str,
    shop_id: &str,
    key: &str,
) -> Result<pb::SprintPlanShop, tonic::Status> {
    s.campaign
        .withdraw_sprint_plan_shop(req(
            &merchant(shop_id),
            pb::WithdrawSprintPlanShopRequest {
                request_id: key.into(),
                plan_id: plan_id.into(),
                shop_id: shop_id.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn get(s: &mut Suite, plan_id: &str) -> anyhow::Result<pb::SprintPlan> {
    Ok(s.campaign
        .get_sprint_plan(req(
            &Actor::Operator,
            pb::GetSprintPlanRequest {
                plan_id: plan_id.into(),
            },
        ))
        .await?
        .into_inner())
}

fn set(s: &Suite, at: DateTime<Utc>) {
    s.clock.set(at);
}

#[tokio::test]
async fn sp1_a_plans_phase_follows_the_clock_to_the_second() -> TestResult {
    let mut s = Suite::start().await?;
    let created = create(&mut s, plan("双11会员冲刺")).await?;
    assert_eq!(
        created.required_distribution, 400,
        "SP-3: R defaults to 400"
    );
    assert_eq!(created.phase(), pb::SprintPhase::Upcoming);
    let boundaries = [
        (1, pb::SprintPhase::Registration),
        (3, pb::SprintPhase::Sprint),
        (5, pb::SprintPhase::Award),
        (7, pb::SprintPhase::Redemption),
        (9, pb::SprintPhase::Ended),
    ];
    let mut before = pb::SprintPhase::Upcoming;
    for (days, phase) in boundaries {
        let boundary = t0() + Duration::days(days);
        set(&s, boundary - Duration::seconds(1));
        assert_eq!(get(&mut s, &created.plan_id).await?.phase(), before);
        set(&s, boundary);
        assert_eq!(get(&mut s, &created.plan_id).await?.phase(), phase);
        before = phase;
    }
    // the phase filter reads the same clock
    let listed = s
        .campaign
        .list_sprint_plans(req(
            &Actor::Operator,
            pb::ListSprintPlansRequest {
                phase: pb::SprintPhase::Ended.into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert!(listed.plans.iter().any(|p| p.plan_id == created.plan_id));
    let upcoming = s
        .campaign
        .list_sprint_plans(req(
            &Actor::Operator,
            pb::ListSprintPlansRequest {
                phase: pb::SprintPhase::Upcoming.into(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert!(upcoming.plans.iter().all(|p| p.plan_id != created.plan_id));
    Ok(())
}

#[tokio::test]
async fn sp1_bad_plans_name_each_field_and_only_operators_create() -> TestResult {
    let mut s = Suite::start().await?;
    let mut overlapping = plan("p");
    overlapping.award_start_time = overlapping.sprint_start_time;
    let status = expect_err(create(&mut s, overlapping).await)?;
    assert_invalid(&status, "plan.award_start_time");
    let mut half_hour = plan("p");
    half_hour.redemption_end_time = ts(t0() + Duration::days(9) + Duration::minutes(30));
    assert_invalid(
        &expect_err(create(&mut s, half_hour).await)?,
        "plan.redemption_end_time",
    );
    let mut started = plan("p");
    started.registration_start_time = ts(t0());
    assert_invalid(
        &expect_err(create(&mut s, started).await)?,
        "plan.registration_start_time",
    );
    let mut fold = plan("p");
    fold.max_fold_percent = 100;
    assert_invalid(
        &expect_err(create(&mut s, fold).await)?,
        "plan.max_fold_percent",
    );
    assert_invalid(&expect_err(create(&mut s, plan("")).await)?, "plan.name");

    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let refused = s
        .campaign
        .create_sprint_plan(req(
            &merchant(&shop),
            pb::CreateSprintPlanRequest {
                request_id: rid("plan"),
                plan: Some(plan("p")),
            },
        ))
        .await;
    assert_eq!(expect_err(refused)?.code(), tonic::Code::PermissionDenied);
    Ok(())
}

#[tokio::test]
async fn sp2_invited_shops_read_their_thresholds_before_registration_others_see_nothing()
-> TestResult {
    let mut s = Suite::start().await?;
    let created = create(&mut s, plan("p")).await?;
    let invited = s
        .shop(
            ShopType::SelfOperated,
            membership_pb::JoinPolicy::Card,
            false,
        )
        .await?;
    let stranger = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let answer = invite(&mut s, &created.plan_id, &invited).await?;
    assert_eq!(answer.state(), pb::SprintShopState::Invited);
    // inviting twice is refused; an unknown shop is NOT_FOUND from membership-svc
    let again = expect_err(invite(&mut s, &created.plan_id, &invited).await)?;
    assert_eq!(again.code(), tonic::Code::AlreadyExists, "{again:?}");
    let ghost = uuid::Uuid::now_v7().to_string();
    let missing = expect_err(invite(&mut s, &created.plan_id, &ghost).await)?;
    assert_eq!(missing.code(), tonic::Code::NotFound, "{missing:?}");

    let read = s
        .campaign
        .get_sprint_plan_shop(req(
            &merchant(&invited),
            pb::GetSprintPlanShopRequest {
                plan_id: created.plan_id.clone(),
                shop_id: invited.clone(),
            },
        ))
        .await?
        .into_inner();
    let thresholds = read.thresholds.unwrap_or_default();
    assert_eq!(
        (thresholds.min_member_count, thresholds.min_sales_fen),
        (100, 5_000_000)
    );
    let plan_read = read.plan.unwrap_or_default();
    assert_eq!(plan_read.phase(), pb::SprintPhase::Upcoming);
    assert_eq!(plan_read.min_face_value_fen, 2_000);
    // the merchant's list of invitations
    let mine = s
        .campaign
        .list_sprint_plan_shops(req(
            &merchant(&invited),
            pb::ListSprintPlanShopsRequest {
                shop_id: invited.clone(),
                ..Default::default()
            },
        ))
        .await?
        .into_inner();
    assert_eq!(mine.shops.len(), 1);
    // a shop not invited: NOT_FOUND, as for an unknown plan
    let not_invited = s
        .campaign
        .get_sprint_plan_shop(req(
            &merchant(&stranger),
            pb::GetSprintPlanShopRequest {
                plan_id: created.plan_id.clone(),
                shop_id: stranger.clone(),
            },
        ))
        .await;
    assert_eq!(expect_err(not_invited)?.code(), tonic::Code::NotFound);
    // another shop's merchant cannot read it, nor list the plan's shops
    let foreign = s
        .campaign
        .get_sprint_plan_shop(req(
            &merchant(&stranger),
            pb::GetSprintPlanShopRequest {
                plan_id: created.plan_id.clone(),
                shop_id: invited.clone(),
            },
        ))
        .await;
    assert_eq!(expect_err(foreign)?.code(), tonic::Code::PermissionDenied);
    let all = s
        .campaign
        .list_sprint_plan_shops(req(
            &merchant(&stranger),
            pb::ListSprintPlanShopsRequest {
                plan_id: created.plan_id.clone(),
                ..Default::default()
            },
        ))
        .await;
    assert_eq!(expect_err(all)?.code(), tonic::Code::PermissionDenied);

    // once registration starts nobody more is invited
    s.clock.set(t0() + Duration::days(1));
    let late = expect_err(invite(&mut s, &created.plan_id, &stranger).await)?;
    assert_precondition(&late, "SPRINT_PLAN_PHASE");
    Ok(())
}

#[tokio::test]
async fn sp7_a_shop_withdraws_only_before_registration_starts() -> TestResult {
    let mut s = Suite::start().await?;
    let created = create(&mut s, plan("p")).await?;
    let early = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let late = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    invite(&mut s, &created.plan_id, &early).await?;
    invite(&mut s, &created.plan_id, &late).await?;

    // one second before registration: allowed, and a retry answers the same
    s.clock.set(t0() + Duration::days(1) - Duration::seconds(1));
    let out = withdraw(&mut s, &created.plan_id, &early, "w-1").await?;
    assert_eq!(out.state(), pb::SprintShopState::Withdrawn);
    assert!(out.withdraw_time.is_some());
    s.clock.set(t0() + Duration::days(2));
    let replay = withdraw(&mut s, &created.plan_id, &early, "w-1").await?;
    assert_eq!(replay, out, "X-2: the stored answer");

    // at registration's first second: FAILED_PRECONDITION naming the phase
    s.clock.set(t0() + Duration::days(1));
    let refused = expect_err(withdraw(&mut s, &created.plan_id, &late, "w-2").await)?;
    assert_precondition(&refused, "SPRINT_PLAN_PHASE");
    assert!(refused.message().contains("REGISTRATION"), "{refused:?}");
    Ok(())
}

/// An approved reward batch meeting every SP-3 rule for `plan()` at a 200-yuan threshold;
/// `change` breaks one rule.
async fn reward_batch(
    s: &mut Suite,
    shop: &str,
    change: impl FnOnce(&mut coupon_pb::Batch),
) -> anyhow::Result<coupon_pb::Batch> {
    let at = |days: i64| ts(t0() + Duration::days(days));
    let mut spec = coupon_pb::Batch {
        shop_id: shop.into(),
        shop_type: ShopType::Pop.into(),
        internal_name: "sprint reward".into(),
        kind: coupon_pb::CouponKind::Threshold.into(),
        face_value_fen: 2_000,
        threshold_fen: 20_000,
        item_scope: Some(coupon_pb::ItemScope {
            categories: vec!["tea".into()],
            skus: Vec::new(),
        }),
        channel: CouponChannel::SprintPlan.into(),
        total_quantity: 401,
        per_user_limit: 0,
        per_issue_count: 2,
        giftable: false,
        claim_start_time: at(5),
        claim_end_time: at(7),
        validity: Some(coupon_pb::Validity {
            kind: coupon_pb::ValidityKind::Absolute.into(),
            start_time: at(7),
            end_time: at(9),
            whole_hours: true,
            ..Default::default()
        }),
        ..Default::default()
    };
    change(&mut spec);
    let created = s
        .coupon
        .create_batch(req(
            &merchant(shop),
            coupon_pb::CreateBatchRequest {
                request_id: rid("batch"),
                batch: Some(spec),
            },
        ))
        .await?
        .into_inner();
    Ok(s.coupon
        .submit_batch(req(
            &merchant(shop),
            coupon_pb::SubmitBatchRequest {
                request_id: rid("submit"),
                batch_id: created.batch_id.clone(),
                shop_id: shop.into(),
            },
        ))
        .await?
        .into_inner())
}

async fn join(
    s: &mut Suite,
    plan_id: &str,
    shop: &str,
    batch_key: &str,
    quantity: i64,
) -> Result<pb::SprintPlanShop, tonic::Status> {
    s.campaign
        .join_sprint_plan(req(
            &merchant(shop),
            pb::JoinSprintPlanRequest {
                request_id: rid("join"),
                plan_id: plan_id.into(),
                shop_id: shop.into(),
                spend_threshold_fen: 20_000,
                distribution_quantity: quantity,
                batch_key: batch_key.into(),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn invite_with(
    s: &mut Suite,
    plan_id: &str,
    shop: &str,
    min_member_count: i64,
) -> anyhow::Result<()> {
    s.campaign
        .invite_sprint_plan_shop(req(
            &Actor::Operator,
            pb::InviteSprintPlanShopRequest {
                request_id: rid("invite"),
                plan_id: plan_id.into(),
                shop_id: shop.into(),
                thresholds: Some(pb::SprintThresholds {
                    min_member_count,
                    min_sales_fen: 0,
                }),
            },
        ))
        .await?;
    Ok(())
}

#[tokio::test]
async fn sp3_a_shop_joins_with_a_batch_meeting_every_rule_once() -> TestResult {
    let mut s = Suite::start().await?;
    let created = create(&mut s, plan("p")).await?;
    let shop = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    invite_with(&mut s, &created.plan_id, &shop, 0).await?;
    let good = reward_batch(&mut s, &shop, |_| {}).await?;

    // D below R (400), one broken batch rule, and a batch key of no batch
    let short = expect_err(join(&mut s, &created.plan_id, &shop, &good.batch_key, 399).await)?;
    assert_invalid(&short, "distribution_quantity");
    let one_per_issue = reward_batch(&mut s, &shop, |b| b.per_issue_count = 1).await?;
    let refused = expect_err(
        join(
            &mut s,
            &created.plan_id,
            &shop,
            &one_per_issue.batch_key,
            400,
        )
        .await,
    )?;
    assert_invalid(&refused, "batch.per_issue_count");
    let general = reward_batch(&mut s, &shop, |b| {
        b.channel = CouponChannel::General.into();
        b.giftable = true;
        b.total_quantity = 400;
    })
    .await?;
    let refused = expect_err(join(&mut s, &created.plan_id, &shop, &general.batch_key, 400).await)?;
    for field in ["batch.channel", "batch.giftable", "batch.total_quantity"] {
        assert_invalid(&refused, field);
    }
    let ghost = expect_err(join(&mut s, &created.plan_id, &shop, "BA_aaaaaaa", 400).await)?;
    assert_invalid(&ghost, "batch_key");

    let joined = join(&mut s, &created.plan_id, &shop, &good.batch_key, 400).await?;
    assert_eq!(joined.state(), pb::SprintShopState::Joined);
    assert_eq!(joined.batch_key, good.batch_key);
    assert_eq!(joined.distribution_quantity, 400);
    let again = expect_err(join(&mut s, &created.plan_id, &shop, &good.batch_key, 400).await)?;
    assert_precondition(&again, "SPRINT_PLAN_JOINED");

    // SP-7 after joining, before registration: the shop leaves and its batch ends (CP-7)
    let out = withdraw(&mut s, &created.plan_id, &shop, "w-joined").await?;
    assert_eq!(out.state(), pb::SprintShopState::Withdrawn);
    let batch = s
        .coupon
        .get_batch(req(
            &merchant(&shop),
            coupon_pb::GetBatchRequest {
                shop_id: shop.clone(),
                batch: good.batch_id.clone(),
            },
        ))
        .await?
        .into_inner();
    assert_eq!(batch.status(), coupon_pb::BatchStatus::Ended, "{batch:?}");
    Ok(())
}

#[tokio::test]
async fn sp2_sp3_a_shop_below_a_threshold_or_late_cannot_join() -> TestResult {
    let mut s = Suite::start().await?;
    let created = create(&mut s, plan("p")).await?;
    let small = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let late = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    // one member required; the shop has none
    invite_with(&mut s, &created.plan_id, &small, 1).await?;
    invite_with(&mut s, &created.plan_id, &late, 0).await?;
    let small_batch = reward_batch(&mut s, &small, |_| {}).await?;
    let below = expect_err(
        join(
            &mut s,
            &created.plan_id,
            &small,
            &small_batch.batch_key,
            400,
        )
        .await,
    )?;
    assert_precondition(&below, "SPRINT_THRESHOLD_NOT_MET");
    assert!(below.message().contains("min_member_count"), "{below:?}");
    // a shop not invited is NOT_FOUND
    let stranger = s
        .shop(ShopType::Pop, membership_pb::JoinPolicy::Card, false)
        .await?;
    let stranger_batch = reward_batch(&mut s, &stranger, |_| {}).await?;
    let uninvited = expect_err(
        join(
            &mut s,
            &created.plan_id,
            &stranger,
            &stranger_batch.batch_key,
            400,
        )
        .await,
    )?;
    assert_eq!(uninvited.code(), tonic::Code::NotFound);
    // once registration has started nobody joins
    let late_batch = reward_batch(&mut s, &late, |_| {}).await?;
    s.clock.set(t0() + Duration::days(1));
    let closed =
        expect_err(join(&mut s, &created.plan_id, &late, &late_batch.batch_key, 400).await)?;
    assert_precondition(&closed, "SPRINT_PLAN_PHASE");
    Ok(())
}

// ------------------------------------------------- SP-4..SP-8: registration to award

/// A plan with R = `required` whose shop (with `policy`) joined with D = `distribution`
/// and a reward batch of `quantity` units: (plan id, shop id, batch id).
async fn participating(
    s: &mut Suite,
    policy: membership_pb::JoinPolicy,
    required: i64,
    distribution: i64,
) -> anyhow::Result<(String, String, String)> {
    let mut terms = plan("sprint");
    terms.required_distribution = required;
    let created = create(s, terms).await?;
    let shop = s.shop(ShopType::Pop, policy, false).await?;
    invite_with(s, &created.plan_id, &shop, 0).await?;
    let batch = reward_batch(s, &shop, |b| b.total_quantity = distribution + 1).await?;
    join(s, &created.plan_id, &shop, &batch.batch_key, distribution).await?;
    Ok((created.plan_id, shop, batch.batch_id))
}

async fn register(
    s: &mut Suite,
    plan_id: &str,
    shop: &str,
    user: &str,
    phone: &str,
) -> Result<pb::SprintRegistration, tonic::Status> {
    s.campaign
        .register_sprint_plan(req(
            &support::shopper(user),
            pb::RegisterSprintPlanRequest {
                request_id: rid("register"),
                plan_id: plan_id.into(),
                shop_id: shop.into(),
                user_id: user.into(),
                card: (!phone.is_empty()).then(|| pb::SprintCard {
                    phone: phone.into(),
                    sms_code: String::new(),
                }),
            },
        ))
        .await
        .map(tonic::Response::into_inner)
}

async fn registration(
    s: &mut Suite,
    plan_id: &str,
    shop: &str,
    user: &str,
) -> anyhow::Result<pb::SprintRegistration> {
    Ok(s.campaign
        .get_sprint_registration(req(
            &support::shopper(user),
            pb::GetSprintRegistrationRequest {
                plan_id: plan_id.into(),
                shop_id: shop.into(),
                user_id: user.into(),
            },
        ))
        .await?
        .into_inner())
}

fn order_event(
    kind: membership_pb::OrderEventType,
    shop: &str,
    user: &str,
    order: &str,
    amount_fen: i64,
    at: DateTime<Utc>,
) -> membership_pb::OrderEvent {
    membership_pb::OrderEvent {
        r#type: kind.into(),
        order_id: order.into(),
        shop_id: shop.into(),
        user_id: user.into(),
        amount_fen,
        refund_id: if kind == membership_pb::OrderEventType::Refunded {
            format!("{order}-r{amount_fen}")
        } else {
            String::new()
        },
        lines: Vec::new(),
        occur_time: ts(at),
    }
}

/// The order system reports `events` (OR-1).
async fn report(s: &mut Suite, events: Vec<membership_pb::OrderEvent>) -> anyhow::Result<()> {
    s.membership
        .batch_report_order_events(req(
            &Actor::Service {
                name: "order-system".into(),
            },
            membership_pb::BatchReportOrderEventsRequest {
                request_id: rid("orders"),
                events,
            },
        ))
        .await?;
    Ok(())
}

/// Paid and receipt-confirmed at `at`.
fn bought(
    shop: &str,
    user: &str,
    order: &str,
    fen: i64,
    at: DateTime<Utc>,
) -> [membership_pb::OrderEvent; 2] {
    [
        order_event(
            membership_pb::OrderEventType::Paid,
            shop,
            user,
            order,
            fen,
            at,
        ),
        order_event(
            membership_pb::OrderEventType::ReceiptConfirmed,
            shop,
            user,
            order,
            fen,
            at,
        ),
    ]
}

/// Polls the shopper's registration until `done` holds (the consumer applies events
/// asynchronously).
async fn wait_for(
    s: &mut Suite,
    (plan_id, shop, user): (&str, &str, &str),
    done: impl Fn(&pb::SprintRegistration) -> bool,
) -> anyhow::Result<pb::SprintRegistration> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let seen = registration(s, plan_id, shop, user).await?;
        if done(&seen) {
            return Ok(seen);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "registration never reached the expected state: {seen:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn statistics(
    s: &mut Suite,
    plan_id: &str,
    shop: &str,
) -> anyhow::Result<pb::SprintPlanShopStatistics> {
    Ok(s.campaign
        .get_sprint_plan_shop_statistics(req(
            &merchant(shop),
            pb::GetSprintPlanShopStatisticsRequest {
                plan_id: plan_id.into(),
                shop_id: shop.into(),
            },
        ))
        .await?
        .into_inner())
}

/// Waits for the shop's award to finish.
async fn award_finished(
    s: &mut Suite,
    plan_id: &str,
    shop: &str,
) -> anyhow::Result<pb::SprintPlanShopStatistics> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stats = statistics(s, plan_id, shop).await?;
        if stats.award_finish_time.is_some() {
            return Ok(stats);
        }
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the award never finished: {stats:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Coupons of `batch` per shopper, as coupon-svc's table holds them.
async fn coupons_per_user(
    s: &Suite,
    batch_id: &str,
) -> anyhow::Result<std::collections::HashMap<String, i64>> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT user_id, count(*) FROM coupon.coupons WHERE batch_id = $1::uuid GROUP BY user_id",
    )
    .bind(batch_id)
    .fetch_all(&s.pool)
    .await?;
    Ok(rows.into_iter().collect())
}

fn day(days: i64) -> DateTime<Utc> {
    t0() + Duration::days(days)
}

#[tokio::test]
async fn sp4_non_members_register_by_opening_the_card_where_the_join_policy_allows() -> TestResult {
    let mut s = Suite::start().await?;
    use membership_pb::JoinPolicy;
    for (policy, joins) in [
        (JoinPolicy::Card, true),
        (JoinPolicy::OrderOrCard, true),
        (JoinPolicy::Order, false),
        (JoinPolicy::OrderAndCard, false),
    ] {
        s.clock.set(t0());
        let (plan_id, shop, _) = participating(&mut s, policy, 400, 400).await?;
        // before the registration phase: refused, naming the phase
        let early = expect_err(register(&mut s, &plan_id, &shop, "u1", "13800000001").await)?;
        assert_precondition(&early, "SPRINT_PLAN_PHASE");
        s.clock.set(day(1));
        let answer = register(&mut s, &plan_id, &shop, "u1", "13800000001").await;
        if joins {
            let registered = answer?;
            assert_eq!(registered.award_state(), pb::SprintAwardState::Pending);
            assert_eq!(registered.spend_threshold_fen, 20_000);
            let member = s
                .membership
                .get_membership(req(
                    &merchant(&shop),
                    membership_pb::GetMembershipRequest {
                        shop_id: shop.clone(),
                        user_id: "u1".into(),
                    },
                ))
                .await?
                .into_inner();
            assert_eq!(
                member.state(),
                membership_pb::MembershipState::Active,
                "{policy:?}: registering opened the card (MB-2)"
            );
            // registering twice answers the first registration
            let again = register(&mut s, &plan_id, &shop, "u1", "").await?;
            assert_eq!(again.register_time, registered.register_time);
            // a non-member without a phone is told which field is missing
            let bare = expect_err(register(&mut s, &plan_id, &shop, "u2", "").await)?;
            assert_invalid(&bare, "card.phone");
        } else {
            let refused = expect_err(answer)?;
            assert_precondition(&refused, "NOT_A_MEMBER");
        }
        // a member already (by a paid order under ORDER) registers without a card
        if policy == JoinPolicy::Order {
            report(
                &mut s,
                vec![order_event(
                    membership_pb::OrderEventType::Paid,
                    &shop,
                    "u3",
                    "o-u3",
                    1_000,
                    day(1),
                )],
            )
            .await?;
            let member = register(&mut s, &plan_id, &shop, "u3", "").await?;
            assert_eq!(member.user_id, "u3");
        }
        // another shopper cannot register someone else
        let foreign = s
            .campaign
            .register_sprint_plan(req(
                &support::shopper("intruder"),
                pb::RegisterSprintPlanRequest {
                    request_id: rid("register"),
                    plan_id: plan_id.clone(),
                    shop_id: shop.clone(),
                    user_id: "u1".into(),
                    card: None,
                },
            ))
            .await;
        assert_eq!(expect_err(foreign)?.code(), tonic::Code::PermissionDenied);
        // the sprint phase closes registration
        s.clock.set(day(3));
        let late = expect_err(register(&mut s, &plan_id, &shop, "u9", "13800000009").await)?;
        assert_precondition(&late, "SPRINT_PLAN_PHASE");
    }
    Ok(())
}

#[tokio::test]
async fn sp5_spend_counts_each_confirmation_in_the_sprint_once_net_of_refunds() -> TestResult {
    let mut s = Suite::start().await?;
    let (plan_id, shop, _) =
        participating(&mut s, membership_pb::JoinPolicy::Card, 400, 400).await?;
    s.clock.set(day(1));
    register(&mut s, &plan_id, &shop, "u1", "13800000001").await?;
    s.clock.set(day(3) + Duration::hours(12));
    let h = |hours: i64| day(3) + Duration::hours(hours);
    use membership_pb::OrderEventType::{ReceiptConfirmed, Refunded};
    // confirmed before the sprint: not counted; a stranger's order: nobody's spend
    let mut events = bought(&shop, "u1", "before", 50_000, day(2)).to_vec();
    events.extend(bought(&shop, "stranger", "s1", 50_000, h(1)));
    // 150 yuan in the sprint, delivered twice
    events.extend(bought(&shop, "u1", "o2", 15_000, h(2)));
    report(&mut s, events).await?;
    report(&mut s, bought(&shop, "u1", "o2", 15_000, h(2)).to_vec()).await?;
    let seen = wait_for(&mut s, (&plan_id, &shop, "u1"), |r| r.spend_fen > 0).await?;
    assert_eq!(seen.spend_fen, 15_000, "{seen:?}");
    assert!(seen.qualify_time.is_none());

    // reordered: o3's refund of 50 yuan arrives before its confirmation of 100 yuan
    report(
        &mut s,
        vec![order_event(Refunded, &shop, "u1", "o3", 5_000, h(4))],
    )
    .await?;
    report(
        &mut s,
        vec![order_event(
            ReceiptConfirmed,
            &shop,
            "u1",
            "o3",
            10_000,
            h(3),
        )],
    )
    .await?;
    let seen = wait_for(&mut s, (&plan_id, &shop, "u1"), |r| r.spend_fen == 20_000).await?;
    assert_eq!(
        seen.qualify_time,
        ts(h(3)),
        "SP-5: qualified when o3's confirmation took the net spend to 200 yuan"
    );

    // a refund after qualifying takes the spend under the threshold: no longer qualified
    report(
        &mut s,
        vec![order_event(Refunded, &shop, "u1", "o2", 1_000, h(5))],
    )
    .await?;
    let seen = wait_for(&mut s, (&plan_id, &shop, "u1"), |r| r.spend_fen == 19_000).await?;
    assert!(seen.qualify_time.is_none(), "{seen:?}");
    // crossing again qualifies anew, at the new time
    report(&mut s, bought(&shop, "u1", "o4", 5_000, h(6)).to_vec()).await?;
    let seen = wait_for(&mut s, (&plan_id, &shop, "u1"), |r| r.spend_fen == 24_000).await?;
    assert_eq!(seen.qualify_time, ts(h(6)));
    // the same refund delivered again changes nothing; an order confirmed in the award
    // phase is not sprint spend
    report(
        &mut s,
        vec![order_event(Refunded, &shop, "u1", "o2", 1_000, h(5))],
    )
    .await?;
    report(
        &mut s,
        bought(&shop, "u1", "o5", 90_000, day(5) + Duration::hours(1)).to_vec(),
    )
    .await?;
    report(&mut s, bought(&shop, "u1", "o6", 100, h(7)).to_vec()).await?;
    let seen = wait_for(&mut s, (&plan_id, &shop, "u1"), |r| r.spend_fen != 24_000).await?;
    assert_eq!(seen.spend_fen, 24_100, "only o6 moved it: {seen:?}");
    Ok(())
}

/// Registers `users` and makes each qualify at its own hour of the sprint, in the order
/// given (`qualifying`), leaving the rest below the threshold.
async fn sprint(
    s: &mut Suite,
    (plan_id, shop): (&str, &str),
    users: &[String],
    qualifying: &[String],
) -> anyhow::Result<()> {
    s.clock.set(day(1));
    for (i, user) in users.iter().enumerate() {
        register(s, plan_id, shop, user, &format!("1390000{i:04}")).await?;
    }
    s.clock.set(day(3) + Duration::hours(1));
    let mut events = Vec::new();
    for (i, user) in qualifying.iter().enumerate() {
        let at = day(3) + Duration::minutes(i as i64);
        events.extend(bought(shop, user, &format!("q-{user}"), 20_000, at));
    }
    for user in users.iter().filter(|u| !qualifying.contains(u)) {
        events.extend(bought(shop, user, &format!("low-{user}"), 19_999, day(3)));
    }
    for chunk in events.chunks(500) {
        report(s, chunk.to_vec()).await?;
    }
    let last = qualifying.last().map_or(users[0].as_str(), String::as_str);
    wait_for(s, (plan_id, shop, last), |r| r.spend_fen >= 19_999).await?;
    Ok(())
}

#[tokio::test]
async fn sp6_awards_in_qualification_order_while_the_distribution_quantity_lasts() -> TestResult {
    let mut s = Suite::start().await?;
    let (plan_id, shop, batch_id) =
        participating(&mut s, membership_pb::JoinPolicy::Card, 2, 3).await?;
    let users: Vec<String> = ["u1", "u2", "u3", "u4", "u5"].map(String::from).to_vec();
    // qualification order u3, u1, u4, u2; u5 stays below the threshold
    let order: Vec<String> = ["u3", "u1", "u4", "u2"].map(String::from).to_vec();
    sprint(&mut s, (&plan_id, &shop), &users, &order).await?;
    let before = statistics(&mut s, &plan_id, &shop).await?;
    assert_eq!(
        (before.registered, before.qualified, before.awarded),
        (5, 4, 0)
    );

    // a second before the award phase nothing is issued; at its first second the run starts
    s.clock.set(day(5) - Duration::seconds(1));
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    assert!(
        statistics(&mut s, &plan_id, &shop)
            .await?
            .award_start_time
            .is_none()
    );
    s.clock.set(day(5));
    let stats = award_finished(&mut s, &plan_id, &shop).await?;
    assert_eq!(
        (
            stats.registered,
            stats.qualified,
            stats.awarded,
            stats.not_awarded
        ),
        (5, 4, 3, 1)
    );
    assert_eq!(stats.coupons_issued, 6);
    assert_eq!(stats.used, 0);
    let held = coupons_per_user(&s, &batch_id).await?;
    for user in ["u3", "u1", "u4"] {
        assert_eq!(held.get(user), Some(&2), "{user}: one issue of 2 coupons");
        let mine = registration(&mut s, &plan_id, &shop, user).await?;
        assert_eq!(mine.award_state(), pb::SprintAwardState::Awarded);
        assert_eq!(mine.coupon_ids.len(), 2);
    }
    assert_eq!(held.get("u2"), None);
    assert_eq!(held.get("u5"), None);
    let u2 = registration(&mut s, &plan_id, &shop, "u2").await?;
    assert_eq!(u2.award_state(), pb::SprintAwardState::NotAwardedOutOfStock);
    let u5 = registration(&mut s, &plan_id, &shop, "u5").await?;
    assert_eq!(u5.award_state(), pb::SprintAwardState::NotQualified);
    // spend no longer moves once the award decided
    report(
        &mut s,
        vec![order_event(
            membership_pb::OrderEventType::Refunded,
            &shop,
            "u3",
            "q-u3",
            20_000,
            day(4),
        )],
    )
    .await?;
    // Time is the point: the consumer would have applied the refund by now.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        registration(&mut s, &plan_id, &shop, "u3").await?.spend_fen,
        20_000
    );
    // SP-7: from now on neither the plan nor its batch closes
    let close = s
        .coupon
        .close_batch(req(
            &merchant(&shop),
            coupon_pb::CloseBatchRequest {
                request_id: rid("close"),
                batch_id: batch_id.clone(),
                shop_id: shop.clone(),
            },
        ))
        .await;
    assert_precondition(&expect_err(close)?, "SPRINT_PLAN_BATCH_CANNOT_CLOSE");
    let leave = expect_err(withdraw(&mut s, &plan_id, &shop, "w-late").await)?;
    assert_precondition(&leave, "SPRINT_PLAN_PHASE");
    Ok(())
}

/// SP-6 invariants after an award: every qualified shopper holds 0 or 2 coupons of the
/// batch, exactly min(D, qualified) hold 2, and they are the first by qualification.
async fn assert_awarded_once(
    s: &Suite,
    batch_id: &str,
    order: &[String],
    distribution: usize,
) -> anyhow::Result<()> {
    let held = coupons_per_user(s, batch_id).await?;
    for (rank, user) in order.iter().enumerate() {
        let expected = if rank < distribution { Some(&2) } else { None };
        assert_eq!(held.get(user), expected, "{user} at rank {rank}");
    }
    assert_eq!(held.len(), distribution.min(order.len()));
    Ok(())
}

#[tokio::test]
async fn sp6_an_award_run_killed_at_any_point_resumes_without_a_second_issue() -> TestResult {
    use campaign_svc::config::{FaultPoint, Faults};
    for point in [FaultPoint::BeforeAwardIssue, FaultPoint::AfterAwardIssue] {
        let mut s = Suite::start().await?;
        let (plan_id, shop, batch_id) =
            participating(&mut s, membership_pb::JoinPolicy::Card, 2, 30).await?;
        let users: Vec<String> = (0..40).map(|i| format!("k{i:02}")).collect();
        let order: Vec<String> = users.iter().rev().take(35).cloned().collect();
        sprint(&mut s, (&plan_id, &shop), &users, &order).await?;
        let (hit, mut stopped) = tokio::sync::mpsc::unbounded_channel();
        let hook = move |reached: FaultPoint| reached == point && hit.send(()).is_ok();
        s.start_campaign_with(
            support::fast_saga(),
            Faults(Some(std::sync::Arc::new(hook))),
        )
        .await?;
        s.clock.set(day(5));
        tokio::time::timeout(std::time::Duration::from_secs(20), stopped.recv()).await?;
        s.kill_campaign();
        s.start_campaign(support::fast_saga()).await?;
        // the dead run's lease runs out on the clock
        s.clock.set(day(5) + Duration::minutes(5));
        let stats = award_finished(&mut s, &plan_id, &shop).await?;
        assert_eq!((stats.awarded, stats.not_awarded), (30, 5), "{point:?}");
        assert_awarded_once(&s, &batch_id, &order, 30).await?;
    }
    Ok(())
}

#[tokio::test]
async fn sp6_two_replicas_racing_the_award_issue_each_award_once() -> TestResult {
    let mut s = Suite::start().await?;
    let (plan_id, shop, batch_id) =
        participating(&mut s, membership_pb::JoinPolicy::Card, 2, 150).await?;
    let users: Vec<String> = (0..200).map(|i| format!("r{i:03}")).collect();
    let order: Vec<String> = users.iter().skip(10).cloned().collect();
    sprint(&mut s, (&plan_id, &shop), &users, &order).await?;
    let _replica = s.replica(support::fast_saga()).await?;
    let _third = s.replica(support::fast_saga()).await?;
    s.clock.set(day(5));
    let stats = award_finished(&mut s, &plan_id, &shop).await?;
    assert_eq!((stats.awarded, stats.not_awarded), (150, 40));
    assert_eq!(stats.coupons_issued, 300);
    assert_awarded_once(&s, &batch_id, &order, 150).await?;
    Ok(())
}
