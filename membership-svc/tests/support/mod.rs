//! Starts membership-svc on 127.0.0.1:0 over a fresh database, with a settable clock.
#![allow(dead_code)]

use chrono::{TimeZone, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::ManualClock;
use memberhub_kit::testing::{TestDb, as_actor, bind_loopback, wait_until_serving};
use memberhub_proto::common::ShopType;
use memberhub_proto::membership as pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

pub(crate) struct Harness {
    pub client: MembershipServiceClient<Channel>,
    pub clock: ManualClock,
    pub db: TestDb,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub(crate) async fn start() -> anyhow::Result<Harness> {
    start_sweeping(membership_svc::EXPIRY_SWEEP).await
}

/// [`start`] with the service's PT-5 expiry sweep running every `sweep_every`.
pub(crate) async fn start_sweeping(sweep_every: std::time::Duration) -> anyhow::Result<Harness> {
    memberhub_kit::telemetry::init_for_tests();
    let db = TestDb::new(&[&membership_svc::MIGRATOR]).await?;
    let pool = db.pool(4).await?;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
            .single()
            .ok_or_else(|| anyhow::anyhow!("time"))?,
    );
    let (listener, address) = bind_loopback().await?;
    let config = membership_svc::config::from_env(Some(db.url.clone()))?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shared = std::sync::Arc::new(clock.clone());
    tokio::spawn(async move {
        let _ = membership_svc::serve_migrated_sweeping(
            &config,
            pool,
            shared,
            sweep_every,
            listener,
            async {
                let _ = stopped.await;
            },
        )
        .await;
    });
    let channel = wait_until_serving(address)
        .await
        .map_err(anyhow::Error::msg)?;
    Ok(Harness {
        client: MembershipServiceClient::new(channel),
        clock,
        db,
        _shutdown: stop,
    })
}

pub(crate) fn operator() -> Actor {
    Actor::Operator
}

pub(crate) fn merchant(shop_id: &str) -> Actor {
    Actor::Merchant {
        shop_id: shop_id.into(),
    }
}

pub(crate) fn shopper(user_id: &str) -> Actor {
    Actor::Shopper {
        user_id: user_id.into(),
    }
}

pub(crate) fn req<T>(actor: &Actor, message: T) -> tonic::Request<T> {
    as_actor(actor, message)
}

/// Registers a shop of `shop_type` and returns it.
pub(crate) async fn register_shop(
    h: &mut Harness,
    name: &str,
    shop_type: ShopType,
) -> anyhow::Result<pb::Shop> {
    let request = pb::CreateShopRequest {
        request_id: format!("create-{}", uuid::Uuid::now_v7()),
        name: name.into(),
        r#type: shop_type.into(),
        logo_url: "https://img.example.com/logo.png".into(),
        time_zone: String::new(),
        gift_items: false,
    };
    Ok(h.client
        .create_shop(req(&operator(), request))
        .await?
        .into_inner())
}

/// The `ErrorInfo.reason` of a status, if any.
pub(crate) fn reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
}

/// The fields named by a status's `BadRequest` details.
pub(crate) fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// A fresh idempotency key.
pub(crate) fn rid(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::now_v7())
}

/// A valid `CreateShopRequest` with a fresh key.
pub(crate) fn create_shop_request(name: &str, shop_type: ShopType) -> pb::CreateShopRequest {
    pb::CreateShopRequest {
        request_id: rid("create"),
        name: name.into(),
        r#type: shop_type.into(),
        logo_url: "https://img.example.com/logo.png".into(),
        time_zone: String::new(),
        gift_items: false,
    }
}

/// The error of a call that must fail; an error (not a panic) when it succeeded.
pub(crate) fn expect_err<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> anyhow::Result<tonic::Status> {
    match result {
        Ok(response) => anyhow::bail!("expected an error, got {:?}", response.get_ref()),
        Err(status) => Ok(status),
    }
}

/// Asserts INVALID_ARGUMENT whose `BadRequest` names `field`.
#[track_caller]
pub(crate) fn assert_invalid(status: &tonic::Status, field: &str) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let named = fields(status);
    assert!(
        named.iter().any(|f| f == field),
        "expected a violation of {field}, got {named:?} ({status:?})"
    );
}

/// Asserts FAILED_PRECONDITION with `ErrorInfo.reason` = `expected`.
#[track_caller]
pub(crate) fn assert_precondition(status: &tonic::Status, expected: &str) {
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
}

/// Asserts a bare status code.
#[track_caller]
pub(crate) fn assert_code(status: &tonic::Status, code: tonic::Code) {
    assert_eq!(status.code(), code, "{status:?}");
}

/// The program of `shop_id` as the operator sees it.
pub(crate) async fn program(h: &mut Harness, shop_id: &str) -> anyhow::Result<pb::Program> {
    let request = pb::GetProgramRequest {
        shop_id: shop_id.into(),
    };
    Ok(h.client
        .get_program(req(&operator(), request))
        .await?
        .into_inner())
}

/// The card face of a program (an error when absent).
pub(crate) fn face(program: &pb::Program) -> anyhow::Result<pb::CardFace> {
    program
        .card_face
        .clone()
        .ok_or_else(|| anyhow::anyhow!("program without a card face"))
}

/// The image url of `level` on a card face.
pub(crate) fn level_image(face: &pb::CardFace, level: i32) -> anyhow::Result<String> {
    face.level_images
        .iter()
        .find(|i| i.level == level)
        .map(|i| i.image_url.clone())
        .ok_or_else(|| anyhow::anyhow!("no image for level {level}"))
}

/// An `UpdateCardFaceRequest` for `shop_id` changing nothing yet.
pub(crate) fn card_face_request(shop_id: &str) -> pb::UpdateCardFaceRequest {
    pb::UpdateCardFaceRequest {
        request_id: rid("face"),
        shop_id: shop_id.into(),
        ..Default::default()
    }
}

/// Sets the join policy as the shop's merchant.
pub(crate) async fn set_policy(
    h: &mut Harness,
    shop_id: &str,
    policy: pb::JoinPolicy,
) -> anyhow::Result<pb::Program> {
    let request = pb::SetJoinPolicyRequest {
        request_id: rid("policy"),
        shop_id: shop_id.into(),
        join_policy: policy.into(),
    };
    Ok(h.client
        .set_join_policy(req(&merchant(shop_id), request))
        .await?
        .into_inner())
}

/// Activates the shop's card-verification SMS service as `actor`.
pub(crate) async fn activate_sms(
    h: &mut Harness,
    actor: &Actor,
    shop_id: &str,
) -> anyhow::Result<pb::Program> {
    let request = pb::ActivateSmsServiceRequest {
        request_id: rid("activate"),
        shop_id: shop_id.into(),
    };
    Ok(h.client
        .activate_sms_service(req(actor, request))
        .await?
        .into_inner())
}

/// Turns SMS verification on or off as the shop's merchant.
pub(crate) async fn set_sms(
    h: &mut Harness,
    shop_id: &str,
    enabled: bool,
) -> Result<pb::Program, tonic::Status> {
    let request = pb::SetSmsVerificationRequest {
        request_id: rid("sms"),
        shop_id: shop_id.into(),
        enabled,
    };
    Ok(h.client
        .set_sms_verification(req(&merchant(shop_id), request))
        .await?
        .into_inner())
}

/// The number of shops in the database (to prove "no second effect").
pub(crate) async fn shop_count(h: &Harness) -> anyhow::Result<i64> {
    let pool = h.db.pool(1).await?;
    let count = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM membership.shops")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(count)
}

// ------------------------------------------------------------ levels, members, orders, ledger

/// The commerce platform's order system (the only caller of order events).
pub(crate) fn order_system() -> Actor {
    Actor::Service {
        name: "order-system".into(),
    }
}

/// campaign-svc, a platform service that grants from reservations.
pub(crate) fn campaign_service() -> Actor {
    Actor::Service {
        name: "campaign-svc".into(),
    }
}

/// The clock's start: 2026-11-01T08:00Z.
pub(crate) fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

/// A UTC instant for readable tests.
pub(crate) fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, s)
        .single()
        .unwrap_or_default()
}

/// A protobuf timestamp as a UTC instant (an error when absent or out of range).
pub(crate) fn time_of(
    at: Option<&prost_types::Timestamp>,
) -> anyhow::Result<chrono::DateTime<Utc>> {
    at.and_then(memberhub_kit::clock::from_timestamp)
        .ok_or_else(|| anyhow::anyhow!("missing or bad timestamp: {at:?}"))
}

/// The `ErrorInfo.metadata` entry `key` of a status, if any.
pub(crate) fn error_metadata(status: &tonic::Status, key: &str) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .and_then(|i| i.metadata.get(key).cloned())
}

/// Asserts RESOURCE_EXHAUSTED with `ErrorInfo.reason` = `expected`.
#[track_caller]
pub(crate) fn assert_exhausted(status: &tonic::Status, expected: &str) {
    assert_eq!(status.code(), tonic::Code::ResourceExhausted, "{status:?}");
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
}

/// a refusal of a user's mistake is never INTERNAL (nor UNKNOWN, a crashed handler).
#[track_caller]
pub(crate) fn assert_not_internal(status: &tonic::Status) {
    assert!(
        !matches!(status.code(), tonic::Code::Internal | tonic::Code::Unknown),
        "a user's mistake came back {:?}: {status:?}",
        status.code()
    );
}

/// Registers a POP shop with `policy` and returns its id.
pub(crate) async fn shop_with_policy(
    h: &mut Harness,
    policy: pb::JoinPolicy,
) -> anyhow::Result<String> {
    let shop = register_shop(h, "Tea House", ShopType::Pop).await?.shop_id;
    if policy != pb::JoinPolicy::Order {
        set_policy(h, &shop, policy).await?;
    }
    Ok(shop)
}

/// An `OpenCardRequest` of `user` with `phone` and a fresh key.
pub(crate) fn open_card_request(shop: &str, user: &str, phone: &str) -> pb::OpenCardRequest {
    pb::OpenCardRequest {
        request_id: rid("open"),
        shop_id: shop.into(),
        user_id: user.into(),
        phone: phone.into(),
        ..Default::default()
    }
}

/// The shopper opens the shop's card with `phone` (no SMS code).
pub(crate) async fn open_card(
    h: &Harness,
    shop: &str,
    user: &str,
    phone: &str,
) -> Result<pb::Membership, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .open_card(req(&shopper(user), open_card_request(shop, user, phone)))
        .await?
        .into_inner())
}

/// The shopper's membership as the operator reads it.
pub(crate) async fn membership(
    h: &Harness,
    shop: &str,
    user: &str,
) -> Result<pb::Membership, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .get_membership(req(
            &operator(),
            pb::GetMembershipRequest {
                shop_id: shop.into(),
                user_id: user.into(),
            },
        ))
        .await?
        .into_inner())
}

/// The shopper quits the shop.
pub(crate) async fn quit(
    h: &Harness,
    shop: &str,
    user: &str,
) -> Result<pb::Membership, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .quit_membership(req(
            &shopper(user),
            pb::QuitMembershipRequest {
                request_id: rid("quit"),
                shop_id: shop.into(),
                user_id: user.into(),
            },
        ))
        .await?
        .into_inner())
}

/// An order event at the harness clock's current time.
pub(crate) fn order_event(
    h: &Harness,
    kind: pb::OrderEventType,
    shop: &str,
    order: &str,
    user: &str,
    amount_fen: i64,
) -> pb::OrderEvent {
    use memberhub_kit::clock::Clock;
    pb::OrderEvent {
        r#type: kind.into(),
        order_id: order.into(),
        shop_id: shop.into(),
        user_id: user.into(),
        amount_fen,
        refund_id: String::new(),
        lines: vec![memberhub_proto::common::OrderLine {
            sku: "sku-1".into(),
            category: "tea".into(),
            quantity: 1,
            unit_price_fen: amount_fen,
            ..Default::default()
        }],
        occur_time: Some(memberhub_kit::clock::to_timestamp(h.clock.now())),
    }
}

/// A refund event of `amount_fen` with `refund_id`.
pub(crate) fn refund_event(
    h: &Harness,
    shop: &str,
    order: &str,
    user: &str,
    amount_fen: i64,
    refund_id: &str,
) -> pb::OrderEvent {
    let mut event = order_event(
        h,
        pb::OrderEventType::Refunded,
        shop,
        order,
        user,
        amount_fen,
    );
    event.refund_id = refund_id.into();
    event.lines.clear();
    event
}

/// Reports one event as the order system; returns its outcome.
pub(crate) async fn report(
    h: &Harness,
    event: pb::OrderEvent,
) -> Result<pb::OrderEventOutcome, tonic::Status> {
    let mut client = h.client.clone();
    let response = client
        .report_order_event(req(
            &order_system(),
            pb::ReportOrderEventRequest {
                request_id: rid("event"),
                event: Some(event),
            },
        ))
        .await?
        .into_inner();
    Ok(response.outcome())
}

/// Reports events in one batch as the order system; returns the outcomes.
pub(crate) async fn report_batch(
    h: &Harness,
    events: Vec<pb::OrderEvent>,
) -> Result<Vec<pb::OrderEventOutcome>, tonic::Status> {
    let mut client = h.client.clone();
    let response = client
        .batch_report_order_events(req(
            &order_system(),
            pb::BatchReportOrderEventsRequest {
                request_id: rid("batch"),
                events,
            },
        ))
        .await?
        .into_inner();
    Ok(response.outcomes().collect())
}

/// PAID then RECEIPT_CONFIRMED for `order` of `amount_fen`.
pub(crate) async fn paid_and_confirmed(
    h: &Harness,
    shop: &str,
    user: &str,
    order: &str,
    amount_fen: i64,
) -> anyhow::Result<()> {
    for kind in [
        pb::OrderEventType::Paid,
        pb::OrderEventType::ReceiptConfirmed,
    ] {
        let outcome = report(h, order_event(h, kind, shop, order, user, amount_fen)).await?;
        anyhow::ensure!(
            outcome == pb::OrderEventOutcome::Applied,
            "{kind:?} of {order}: {outcome:?}"
        );
    }
    Ok(())
}

/// A level definition; level 1 takes no condition.
pub(crate) fn rung(
    level: i32,
    name: &str,
    spend: Option<i64>,
    count: Option<i64>,
    op: pb::ConditionOperator,
) -> pb::LevelDefinition {
    pb::LevelDefinition {
        level,
        name: name.into(),
        condition: (spend.is_some() || count.is_some()).then(|| pb::LevelCondition {
            min_spend_fen: spend,
            min_order_count: count,
            operator: op.into(),
        }),
    }
}

/// Level 1 with its default name.
pub(crate) fn level_one() -> pb::LevelDefinition {
    rung(1, "", None, None, pb::ConditionOperator::Unspecified)
}

/// An `UpdateLevelRulesRequest` with a fresh key.
pub(crate) fn ladder_request(
    shop: &str,
    levels: Vec<pb::LevelDefinition>,
) -> pb::UpdateLevelRulesRequest {
    pb::UpdateLevelRulesRequest {
        request_id: rid("levels"),
        shop_id: shop.into(),
        levels,
    }
}

/// Replaces the ladder as the shop's merchant.
pub(crate) async fn set_ladder(
    h: &Harness,
    shop: &str,
    levels: Vec<pb::LevelDefinition>,
) -> Result<pb::UpdateLevelRulesResponse, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .update_level_rules(req(&merchant(shop), ladder_request(shop, levels)))
        .await?
        .into_inner())
}

/// The shop's level rules as its merchant reads them.
pub(crate) async fn level_rules(h: &Harness, shop: &str) -> Result<pb::LevelRules, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .get_level_rules(req(
            &merchant(shop),
            pb::GetLevelRulesRequest {
                shop_id: shop.into(),
            },
        ))
        .await?
        .into_inner())
}

/// Replaces one level's benefits as the shop's merchant.
pub(crate) async fn set_benefits(
    h: &Harness,
    shop: &str,
    level: i32,
    benefits: pb::LevelBenefits,
) -> Result<pb::UpdateLevelBenefitsResponse, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .update_level_benefits(req(
            &merchant(shop),
            pb::UpdateLevelBenefitsRequest {
                request_id: rid("benefits"),
                shop_id: shop.into(),
                level,
                benefits: Some(benefits),
            },
        ))
        .await?
        .into_inner())
}

/// Applies program settings as the shop's merchant.
pub(crate) async fn update_settings(
    h: &Harness,
    shop: &str,
    points_per_yuan: Option<i32>,
    points_expiry_enabled: Option<bool>,
    member_tab_position: Option<i32>,
) -> Result<pb::UpdateProgramSettingsResponse, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .update_program_settings(req(
            &merchant(shop),
            pb::UpdateProgramSettingsRequest {
                request_id: rid("settings"),
                shop_id: shop.into(),
                points_per_yuan,
                points_expiry_enabled,
                member_tab_position,
            },
        ))
        .await?
        .into_inner())
}

/// A member's points balance from their membership.
pub(crate) async fn points(h: &Harness, shop: &str, user: &str) -> anyhow::Result<i64> {
    Ok(membership(h, shop, user).await?.points_balance)
}

/// An account in a transfer.
pub(crate) fn account(kind: pb::AccountKind, shop: &str, owner: &str) -> pb::Account {
    pb::Account {
        kind: kind.into(),
        shop_id: shop.into(),
        owner_id: owner.into(),
    }
}

/// A `CreateTransferRequest` with a fresh key.
pub(crate) fn transfer_request(
    from: pb::Account,
    to: pb::Account,
    asset: memberhub_proto::common::Asset,
    amount: i64,
    reason: &str,
) -> pb::CreateTransferRequest {
    pb::CreateTransferRequest {
        request_id: rid("transfer"),
        from: Some(from),
        to: Some(to),
        asset: asset.into(),
        amount,
        reason: reason.into(),
    }
}

/// Makes a transfer as campaign-svc.
pub(crate) async fn transfer(
    h: &Harness,
    request: pb::CreateTransferRequest,
) -> Result<pb::Transfer, tonic::Status> {
    let mut client = h.client.clone();
    Ok(client
        .create_transfer(req(&campaign_service(), request))
        .await?
        .into_inner())
}

/// Gives a member `amount` points from the issuance account (as campaign-svc).
pub(crate) async fn grant_points(
    h: &Harness,
    shop: &str,
    user: &str,
    amount: i64,
) -> anyhow::Result<()> {
    transfer(
        h,
        transfer_request(
            account(pb::AccountKind::SystemIssuance, shop, ""),
            account(pb::AccountKind::Member, shop, user),
            memberhub_proto::common::Asset::Points,
            amount,
            "test grant",
        ),
    )
    .await?;
    Ok(())
}

/// A member spends `amount` points (back to the issuance account, as campaign-svc).
pub(crate) async fn spend_points(
    h: &Harness,
    shop: &str,
    user: &str,
    amount: i64,
) -> anyhow::Result<()> {
    transfer(
        h,
        transfer_request(
            account(pb::AccountKind::Member, shop, user),
            account(pb::AccountKind::SystemIssuance, shop, ""),
            memberhub_proto::common::Asset::Points,
            amount,
            "points exchange",
        ),
    )
    .await?;
    Ok(())
}

/// PT-1: per asset all ledger entries sum to zero; every kept balance equals the sum of
/// its entries and is never negative; a member's points balance equals their open lots.
pub(crate) async fn assert_ledger_balanced(h: &Harness) -> anyhow::Result<()> {
    let pool = h.db.pool(1).await?;
    let unbalanced: Vec<(String, i64)> = sqlx::query_as(
        "SELECT asset, sum(delta)::bigint FROM membership.ledger_entries
         GROUP BY asset HAVING sum(delta) <> 0",
    )
    .fetch_all(&pool)
    .await?;
    anyhow::ensure!(unbalanced.is_empty(), "unbalanced assets: {unbalanced:?}");
    let drifted: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT a.kind, a.owner, a.asset, a.balance FROM membership.accounts a
         WHERE a.balance < 0 OR a.balance <> (
             SELECT COALESCE(sum(e.delta), 0) FROM membership.ledger_entries e
             WHERE e.shop_id = a.shop_id AND e.kind = a.kind AND e.owner = a.owner AND e.asset = a.asset)
           OR (a.kind = 'MEMBER' AND a.asset = 'POINTS' AND a.balance <> (
             SELECT COALESCE(sum(l.remaining), 0) FROM membership.points_lots l
             WHERE l.shop_id = a.shop_id AND l.user_id = a.owner))",
    )
    .fetch_all(&pool)
    .await?;
    anyhow::ensure!(
        drifted.is_empty(),
        "balances differ from entries or lots: {drifted:?}"
    );
    let orphans: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM membership.transfers t
         WHERE (SELECT count(*) FROM membership.ledger_entries e WHERE e.transfer_id = t.transfer_id) <> 2",
    )
    .fetch_one(&pool)
    .await?;
    anyhow::ensure!(
        orphans == 0,
        "{orphans} transfers without exactly two entries"
    );
    pool.close().await;
    Ok(())
}

/// What the recording sender sent to `phone` for this harness's shops, newest first. The
/// record is per process and tests may share a process and a phone, so it is narrowed to the
/// shops of this test's own database.
async fn recorded_here(
    h: &Harness,
    phone: &str,
) -> anyhow::Result<Vec<membership_svc::sms::RecordedSms>> {
    let pool = h.db.pool(1).await?;
    let shops: Vec<uuid::Uuid> = sqlx::query_scalar("SELECT shop_id FROM membership.shops")
        .fetch_all(&pool)
        .await?;
    pool.close().await;
    Ok(membership_svc::sms::recorded_messages(phone)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .into_iter()
        .filter(|m| shops.contains(&m.shop_id))
        .collect())
}

/// The latest 6-digit SMS code sent to `phone` (from the recording sender).
pub(crate) async fn latest_code(h: &Harness, phone: &str) -> anyhow::Result<String> {
    let messages = recorded_here(h, phone).await?;
    let body = messages
        .first()
        .map(|m| m.body.clone())
        .ok_or_else(|| anyhow::anyhow!("no message sent to {phone}"))?;
    let digits: String = body
        .split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .unwrap_or_default()
        .to_string();
    anyhow::ensure!(digits.len() == 6, "no 6-digit code in {body:?}");
    Ok(digits)
}

/// How many messages were sent to `phone`.
pub(crate) async fn messages_sent(h: &Harness, phone: &str) -> anyhow::Result<usize> {
    Ok(recorded_here(h, phone).await?.len())
}

/// The status of a call (through a helper) that must fail; an error when it succeeded.
pub(crate) fn refused<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
) -> anyhow::Result<tonic::Status> {
    match result {
        Ok(value) => anyhow::bail!("expected an error, got {value:?}"),
        Err(status) => Ok(status),
    }
}
