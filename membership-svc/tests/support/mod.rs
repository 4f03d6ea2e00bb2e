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
    let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).single().ok_or_else(|| anyhow::anyhow!("time"))?);
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
    let channel = wait_until_serving(address).await.map_err(anyhow::Error::msg)?;
    Ok(Harness { client: MembershipServiceClient::new(channel), clock, db, _shutdown: stop })
}

pub fn operator() -> Actor {
    Actor::Operator
}

pub fn merchant(shop_id: &str) -> Actor {
    Actor::Merchant { shop_id: shop_id.into() }
}

pub fn shopper(user_id: &str) -> Actor {
    Actor::Shopper { user_id: user_id.into() }
}

pub fn req<T>(actor: &Actor, message: T) -> tonic::Request<T> {
    as_actor(actor, message)
}

/// Registers a shop of `shop_type` and returns it.
pub async fn register_shop(h: &mut Harness, name: &str, shop_type: ShopType) -> anyhow::Result<pb::Shop> {
    let request = pb::CreateShopRequest {
        request_id: format!("create-{}", uuid::Uuid::now_v7()),
        name: name.into(),
        r#type: shop_type.into(),
        logo_url: "https://img.example.com/logo.png".into(),
        time_zone: String::new(),
        gift_items: false,
    };
    Ok(h.client.create_shop(req(&operator(), request)).await?.into_inner())
}

/// The `ErrorInfo.reason` of a status, if any.
pub fn reason(status: &tonic::Status) -> Option<String> {
    use tonic_types::StatusExt;
    status.get_error_details().error_info().map(|i| i.reason.clone())
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
