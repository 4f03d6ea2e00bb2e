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

pub struct Harness {
    pub client: MembershipServiceClient<Channel>,
    pub clock: ManualClock,
    pub db: TestDb,
    _shutdown: tokio::sync::oneshot::Sender<()>,
}

pub async fn start() -> anyhow::Result<Harness> {
    memberhub_kit::telemetry::init_for_tests();
    let db = TestDb::new(&[&membership_svc::MIGRATOR]).await?;
    let pool = db.pool(4).await?;
    let clock = ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
            .single()
            .ok_or_else(|| anyhow::anyhow!("time"))?,
    );
    let (listener, address) = bind_loopback().await?;
    let config = membership_svc::config::from_env(db.url.clone())?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let shared = std::sync::Arc::new(clock.clone());
    tokio::spawn(async move {
        let _ = membership_svc::serve_migrated(&config, pool, shared, listener, async {
            let _ = stopped.await;
        })
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

pub fn operator() -> Actor {
    Actor::Operator
}

pub fn merchant(shop_id: &str) -> Actor {
    Actor::Merchant {
        shop_id: shop_id.into(),
    }
}

pub fn shopper(user_id: &str) -> Actor {
    Actor::Shopper {
        user_id: user_id.into(),
    }
}

pub fn req<T>(actor: &Actor, message: T) -> tonic::Request<T> {
    as_actor(actor, message)
}

/// Registers a shop of `shop_type` and returns it.
pub async fn register_shop(
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
pub fn reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .error_info()
        .map(|i| i.reason.clone())
}

/// The fields named by a status's `BadRequest` details.
pub fn fields(status: &tonic::Status) -> Vec<String> {
    use tonic_types::StatusExt;
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// A fresh idempotency key.
pub fn rid(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::now_v7())
}

/// A valid `CreateShopRequest` with a fresh key.
pub fn create_shop_request(name: &str, shop_type: ShopType) -> pb::CreateShopRequest {
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
pub fn expect_err<T: std::fmt::Debug>(
    result: Result<tonic::Response<T>, tonic::Status>,
) -> anyhow::Result<tonic::Status> {
    match result {
        Ok(response) => anyhow::bail!("expected an error, got {:?}", response.get_ref()),
        Err(status) => Ok(status),
    }
}

/// Asserts INVALID_ARGUMENT whose `BadRequest` names `field`.
#[track_caller]
pub fn assert_invalid(status: &tonic::Status, field: &str) {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    let named = fields(status);
    assert!(
        named.iter().any(|f| f == field),
        "expected a violation of {field}, got {named:?} ({status:?})"
    );
}

/// Asserts FAILED_PRECONDITION with `ErrorInfo.reason` = `expected`.
#[track_caller]
pub fn assert_precondition(status: &tonic::Status, expected: &str) {
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
}

/// Asserts a bare status code.
#[track_caller]
pub fn assert_code(status: &tonic::Status, code: tonic::Code) {
    assert_eq!(status.code(), code, "{status:?}");
}

/// The program of `shop_id` as the operator sees it.
pub async fn program(h: &mut Harness, shop_id: &str) -> anyhow::Result<pb::Program> {
    let request = pb::GetProgramRequest {
        shop_id: shop_id.into(),
    };
    Ok(h.client
        .get_program(req(&operator(), request))
        .await?
        .into_inner())
}

/// The card face of a program (an error when absent).
pub fn face(program: &pb::Program) -> anyhow::Result<pb::CardFace> {
    program
        .card_face
        .clone()
        .ok_or_else(|| anyhow::anyhow!("program without a card face"))
}

/// The image url of `level` on a card face.
pub fn level_image(face: &pb::CardFace, level: i32) -> anyhow::Result<String> {
    face.level_images
        .iter()
        .find(|i| i.level == level)
        .map(|i| i.image_url.clone())
        .ok_or_else(|| anyhow::anyhow!("no image for level {level}"))
}

/// An `UpdateCardFaceRequest` for `shop_id` changing nothing yet.
pub fn card_face_request(shop_id: &str) -> pb::UpdateCardFaceRequest {
    pb::UpdateCardFaceRequest {
        request_id: rid("face"),
        shop_id: shop_id.into(),
        ..Default::default()
    }
}

/// Sets the join policy as the shop's merchant.
pub async fn set_policy(
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
pub async fn activate_sms(
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
pub async fn set_sms(
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
pub async fn shop_count(h: &Harness) -> anyhow::Result<i64> {
    let pool = h.db.pool(1).await?;
    let count = sqlx::query_scalar::<_, i64>("SELECT count(*) FROM membership.shops")
        .fetch_one(&pool)
        .await?;
    pool.close().await;
    Ok(count)
}
