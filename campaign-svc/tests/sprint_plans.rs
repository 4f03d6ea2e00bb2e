//! Member sprint plans over gRPC (SP-1, SP-2, SP-3, SP-7), with the clock moved rather than
//! slept: operators create plans and invite shops; an invited shop reads its thresholds
//! before registration, joins with a reward batch meeting every SP-3 rule, and may withdraw
//! only until registration starts.

mod support;

use chrono::{DateTime, Duration, Utc};
use memberhub_kit::actor::Actor;
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
async fn sp1_a_plans_phase_follows_the_clock_to_the_second() -> anyhow::Result<()> {
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
async fn sp1_bad_plans_name_each_field_and_only_operators_create() -> anyhow::Result<()> {
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
-> anyhow::Result<()> {
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
async fn sp7_a_shop_withdraws_only_before_registration_starts() -> anyhow::Result<()> {
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
async fn sp3_a_shop_joins_with_a_batch_meeting_every_rule_once() -> anyhow::Result<()> {
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
async fn sp2_sp3_a_shop_below_a_threshold_or_late_cannot_join() -> anyhow::Result<()> {
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
