//! Starts membership-svc, coupon-svc and campaign-svc over one fresh database, with one
//! settable clock. campaign-svc runs on its own runtime so a test can kill it abruptly
//! (`shutdown_background`: every task, connection and background loop dies at once) and
//! start it again.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use memberhub_kit::actor::Actor;
use memberhub_kit::clock::{ManualClock, to_timestamp};
use memberhub_kit::testing::{TestDb, as_actor, bind_loopback, wait_until_serving};
use memberhub_proto::campaign as pb;
use memberhub_proto::campaign::campaign_service_client::CampaignServiceClient;
use memberhub_proto::common::{Asset, CouponChannel, ShopType};
use memberhub_proto::coupon as coupon_pb;
use memberhub_proto::coupon::coupon_service_client::CouponServiceClient;
use memberhub_proto::membership as membership_pb;
use memberhub_proto::membership::membership_service_client::MembershipServiceClient;
use tonic::transport::Channel;

pub(crate) struct Suite {
    pub db: TestDb,
    pub clock: ManualClock,
    pub membership: MembershipServiceClient<Channel>,
    pub coupon: CouponServiceClient<Channel>,
    pub campaign: CampaignServiceClient<Channel>,
    pub membership_address: SocketAddr,
    pub coupon_address: SocketAddr,
    pub campaign_process: Option<CampaignProcess>,
    /// Where campaign-svc reaches coupon-svc (a latency proxy in fault tests).
    pub campaign_coupon_address: SocketAddr,
    /// For reading other services' tables in assertions.
    pub pool: sqlx::PgPool,
    _stops: Vec<tokio::sync::oneshot::Sender<()>>,
}

/// The suite's starting time: 2026-11-01 08:00 UTC.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0)
        .single()
        .unwrap_or_default()
}

/// campaign-svc on its own runtime.
pub(crate) struct CampaignProcess {
    runtime: Option<tokio::runtime::Runtime>,
    pub address: SocketAddr,
}

impl CampaignProcess {
    /// Kills it: no graceful shutdown, in-flight work just stops.
    pub(crate) fn kill(mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Drop for CampaignProcess {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The saga timings tests use: short leases and a fast reconciler.
pub(crate) fn fast_saga() -> campaign_svc::config::SagaConfig {
    campaign_svc::config::SagaConfig {
        lease: Duration::from_millis(1_500),
        reconcile_every: Duration::from_millis(200),
        award_every: Duration::from_millis(200),
        concurrency: 64,
        ..Default::default()
    }
}

impl Suite {
    pub(crate) async fn start() -> anyhow::Result<Suite> {
        memberhub_kit::telemetry::init_for_tests();
        let db = TestDb::new(&[
            &membership_svc::MIGRATOR,
            &coupon_svc::MIGRATOR,
            &campaign_svc::MIGRATOR,
        ])
        .await?;
        let clock = ManualClock::new(t0());
        let mut stops = Vec::new();

        let (listener, membership_address) = bind_loopback().await?;
        let config = membership_svc::config::from_env(Some(db.url.clone()))?;
        let pool = db.pool(8).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        let shared = Arc::new(clock.clone());
        tokio::spawn(async move {
            let _ = membership_svc::serve_migrated(&config, pool, shared, listener, async {
                let _ = stopped.await;
            })
            .await;
        });

        let (listener, coupon_address) = bind_loopback().await?;
        let config = coupon_svc::config::from_env(Some(db.url.clone()))?;
        let pool = db.pool(8).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        stops.push(stop);
        let shared = Arc::new(clock.clone());
        tokio::spawn(async move {
            let _ = coupon_svc::serve_migrated(&config, pool, shared, listener, async {
                let _ = stopped.await;
            })
            .await;
        });

        let membership = MembershipServiceClient::new(
            wait_until_serving(membership_address)
                .await
                .map_err(anyhow::Error::msg)?,
        );
        let coupon = CouponServiceClient::new(
            wait_until_serving(coupon_address)
                .await
                .map_err(anyhow::Error::msg)?,
        );
        let mut suite = Suite {
            pool: db.pool(4).await?,
            db,
            clock,
            membership,
            coupon,
            // Replaced by start_campaign below.
            campaign: CampaignServiceClient::new(
                tonic::transport::Endpoint::from_static("http://127.0.0.1:9").connect_lazy(),
            ),
            membership_address,
            coupon_address,
            campaign_coupon_address: coupon_address,
            campaign_process: None,
            _stops: stops,
        };
        suite.start_campaign(fast_saga()).await?;
        Ok(suite)
    }

    /// Starts (or restarts) campaign-svc on a fresh runtime and points `campaign` at it.
    pub(crate) async fn start_campaign(
        &mut self,
        saga: campaign_svc::config::SagaConfig,
    ) -> anyhow::Result<()> {
        self.start_campaign_with(saga, Default::default()).await
    }

    /// Starts (or restarts) campaign-svc with a fault hook (see `config::Faults`).
    pub(crate) async fn start_campaign_with(
        &mut self,
        saga: campaign_svc::config::SagaConfig,
        faults: campaign_svc::config::Faults,
    ) -> anyhow::Result<()> {
        let process = self.spawn_campaign(saga, faults)?;
        self.campaign = CampaignServiceClient::new(
            wait_until_serving(process.address)
                .await
                .map_err(anyhow::Error::msg)?,
        );
        self.campaign_process = Some(process);
        Ok(())
    }

    /// Another campaign-svc process over the same database (a replica), kept apart from
    /// `campaign`: it runs until the returned handle is dropped or killed.
    pub(crate) async fn replica(
        &self,
        saga: campaign_svc::config::SagaConfig,
    ) -> anyhow::Result<CampaignProcess> {
        let process = self.spawn_campaign(saga, Default::default())?;
        wait_until_serving(process.address)
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(process)
    }

    /// A campaign-svc replica reaching membership-svc at `membership_urls` (a list is
    /// balanced, see `memberhub_kit::peer`).
    pub(crate) async fn replica_calling(
        &self,
        saga: campaign_svc::config::SagaConfig,
        membership_urls: &str,
    ) -> anyhow::Result<CampaignProcess> {
        let process =
            self.spawn_campaign_calling(saga, Default::default(), membership_urls.to_string())?;
        wait_until_serving(process.address)
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(process)
    }

    /// Another membership-svc over the same database and clock (a replica, with its own
    /// pool and background sweep); it serves until the test ends.
    pub(crate) async fn membership_replica(&mut self) -> anyhow::Result<SocketAddr> {
        let (listener, address) = bind_loopback().await?;
        let config = membership_svc::config::from_env(Some(self.db.url.clone()))?;
        let pool = self.db.pool(8).await?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self._stops.push(stop);
        let clock = Arc::new(self.clock.clone());
        tokio::spawn(async move {
            let _ = membership_svc::serve_migrated(&config, pool, clock, listener, async {
                let _ = stopped.await;
            })
            .await;
        });
        wait_until_serving(address)
            .await
            .map_err(anyhow::Error::msg)?;
        Ok(address)
    }

    fn spawn_campaign(
        &self,
        saga: campaign_svc::config::SagaConfig,
        faults: campaign_svc::config::Faults,
    ) -> anyhow::Result<CampaignProcess> {
        self.spawn_campaign_calling(saga, faults, format!("http://{}", self.membership_address))
    }

    fn spawn_campaign_calling(
        &self,
        saga: campaign_svc::config::SagaConfig,
        faults: campaign_svc::config::Faults,
        membership_urls: String,
    ) -> anyhow::Result<CampaignProcess> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let address = std_listener.local_addr()?;
        let mut config = campaign_svc::Config::new(
            campaign_svc::config::from_env(Some(self.db.url.clone()))?.process,
            membership_urls,
            format!("http://{}", self.campaign_coupon_address),
        );
        config.saga = saga;
        config.faults = faults;
        let url = self.db.url.clone();
        let clock: memberhub_kit::clock::SharedClock = Arc::new(self.clock.clone());
        runtime.spawn(async move {
            let Ok(listener) = tokio::net::TcpListener::from_std(std_listener) else {
                return;
            };
            let Ok(pool) = memberhub_kit::db::connect(&url, 16, "campaign-svc").await else {
                return;
            };
            let _ = campaign_svc::serve_migrated(
                &config,
                pool,
                clock,
                listener,
                std::future::pending::<()>(),
            )
            .await;
        });
        Ok(CampaignProcess {
            runtime: Some(runtime),
            address,
        })
    }

    /// Kills campaign-svc abruptly.
    pub(crate) fn kill_campaign(&mut self) {
        if let Some(process) = self.campaign_process.take() {
            process.kill();
        }
    }

    /// Registers a shop with `policy` and returns its id.
    pub(crate) async fn shop(
        &mut self,
        shop_type: ShopType,
        policy: membership_pb::JoinPolicy,
        gift_items: bool,
    ) -> anyhow::Result<String> {
        let shop = self
            .membership
            .create_shop(req(
                &Actor::Operator,
                membership_pb::CreateShopRequest {
                    request_id: rid("shop"),
                    name: "Tea House".into(),
                    r#type: shop_type.into(),
                    logo_url: "https://img.example.com/logo.png".into(),
                    time_zone: String::new(),
                    gift_items,
                },
            ))
            .await?
            .into_inner();
        if policy != membership_pb::JoinPolicy::Order {
            self.membership
                .set_join_policy(req(
                    &merchant(&shop.shop_id),
                    membership_pb::SetJoinPolicyRequest {
                        request_id: rid("policy"),
                        shop_id: shop.shop_id.clone(),
                        join_policy: policy.into(),
                    },
                ))
                .await?;
        }
        Ok(shop.shop_id)
    }

    /// PT-2: pays `amount` of `asset` into the shop's budget.
    pub(crate) async fn recharge(
        &mut self,
        shop_id: &str,
        asset: Asset,
        amount: i64,
    ) -> anyhow::Result<()> {
        self.membership
            .recharge_budget(req(
                &merchant(shop_id),
                membership_pb::RechargeBudgetRequest {
                    request_id: rid("recharge"),
                    shop_id: shop_id.into(),
                    asset: asset.into(),
                    amount,
                },
            ))
            .await?;
        Ok(())
    }

    /// An ACTIVE batch of `channel` (RELATIVE validity, claimable from t0 - 1 day for 30
    /// days), `total` issues of one coupon each.
    pub(crate) async fn batch(
        &mut self,
        shop_id: &str,
        kind: coupon_pb::CouponKind,
        channel: CouponChannel,
        total: i64,
    ) -> anyhow::Result<coupon_pb::Batch> {
        let (face, threshold) = match kind {
            coupon_pb::CouponKind::Threshold => (2_000, 10_000),
            _ => (500, 0),
        };
        let spec = coupon_pb::Batch {
            shop_id: shop_id.into(),
            shop_type: ShopType::Pop.into(),
            internal_name: "campaign test batch".into(),
            kind: kind.into(),
            face_value_fen: face,
            threshold_fen: threshold,
            channel: channel.into(),
            total_quantity: total,
            per_user_limit: 1,
            per_issue_count: 1,
            claim_start_time: ts(t0() - chrono::Duration::days(1)),
            claim_end_time: ts(t0() + chrono::Duration::days(30)),
            validity: Some(coupon_pb::Validity {
                kind: coupon_pb::ValidityKind::Relative.into(),
                relative_days: 7,
                ..Default::default()
            }),
            ..Default::default()
        };
        let created = self
            .coupon
            .create_batch(req(
                &merchant(shop_id),
                coupon_pb::CreateBatchRequest {
                    request_id: rid("batch"),
                    batch: Some(spec),
                },
            ))
            .await?
            .into_inner();
        let submitted = self
            .coupon
            .submit_batch(req(
                &merchant(shop_id),
                coupon_pb::SubmitBatchRequest {
                    request_id: rid("submit"),
                    batch_id: created.batch_id.clone(),
                    shop_id: shop_id.into(),
                },
            ))
            .await?
            .into_inner();
        anyhow::ensure!(
            submitted.status() == coupon_pb::BatchStatus::Active,
            "{submitted:?}"
        );
        Ok(submitted)
    }

    /// OC: creates an open-card gift as the shop's merchant.
    pub(crate) async fn create_gift(
        &mut self,
        gift: pb::OpenCardGift,
    ) -> Result<pb::OpenCardGift, tonic::Status> {
        let shop = gift.shop_id.clone();
        Ok(self
            .campaign
            .create_open_card_gift(req(
                &merchant(&shop),
                pb::CreateOpenCardGiftRequest {
                    request_id: rid("gift"),
                    gift: Some(gift),
                },
            ))
            .await?
            .into_inner())
    }

    /// MB-2: `user` opens the shop's card.
    pub(crate) async fn open_card(
        &mut self,
        shop_id: &str,
        user: &str,
    ) -> Result<membership_pb::Membership, tonic::Status> {
        Ok(self
            .membership
            .open_card(req(
                &shopper(user),
                membership_pb::OpenCardRequest {
                    request_id: rid("open"),
                    shop_id: shop_id.into(),
                    user_id: user.into(),
                    phone: phone_of(user),
                    ..Default::default()
                },
            ))
            .await?
            .into_inner())
    }

    /// The shop's claims as its merchant sees them (all pages).
    pub(crate) async fn claims(
        &mut self,
        shop_id: &str,
        source_id: &str,
    ) -> anyhow::Result<Vec<pb::Claim>> {
        let mut all = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .campaign
                .list_claims(req(
                    &merchant(shop_id),
                    pb::ListClaimsRequest {
                        shop_id: shop_id.into(),
                        source_id: source_id.into(),
                        page_size: 200,
                        page_token: page_token.clone(),
                        ..Default::default()
                    },
                ))
                .await?
                .into_inner();
            all.extend(page.claims);
            if page.next_page_token.is_empty() {
                return Ok(all);
            }
            page_token = page.next_page_token;
        }
    }

    /// Waits until `done` holds for the shop's claims of `source_id` (polling).
    pub(crate) async fn wait_for_claims(
        &mut self,
        shop_id: &str,
        source_id: &str,
        timeout: Duration,
        done: impl Fn(&[pb::Claim]) -> bool,
    ) -> anyhow::Result<Vec<pb::Claim>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let claims = self.claims(shop_id, source_id).await?;
            if done(&claims) {
                return Ok(claims);
            }
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "claims did not settle in {timeout:?}: {} claims, states {:?}",
                    claims.len(),
                    claims.iter().map(|c| c.state).collect::<Vec<_>>()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The shop's budget of `asset`: (available, reserved), as membership-svc reports it.
    pub(crate) async fn budget(
        &mut self,
        shop_id: &str,
        asset: Asset,
    ) -> anyhow::Result<(i64, i64)> {
        let balances = self
            .membership
            .list_budget_balances(req(
                &merchant(shop_id),
                membership_pb::ListBudgetBalancesRequest {
                    shop_id: shop_id.into(),
                },
            ))
            .await?
            .into_inner();
        Ok(balances
            .balances
            .iter()
            .find(|b| b.asset == asset as i32)
            .map(|b| (b.available, b.reserved))
            .unwrap_or_default())
    }
}

/// A TCP proxy to `target` that holds every chunk from the client for `delay`: slows the
/// calls through it so that a kill lands while they are in flight.
pub(crate) async fn latency_proxy(
    target: SocketAddr,
    delay: Duration,
) -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((inbound, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(outbound) = tokio::net::TcpStream::connect(target).await else {
                    return;
                };
                let _ = inbound.set_nodelay(true);
                let _ = outbound.set_nodelay(true);
                let (mut client_read, mut client_write) = inbound.into_split();
                let (mut server_read, mut server_write) = outbound.into_split();
                let upstream = async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buffer = vec![0u8; 64 * 1024];
                    loop {
                        let n = match client_read.read(&mut buffer).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        tokio::time::sleep(delay).await;
                        if server_write.write_all(&buffer[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let downstream = async move {
                    let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                };
                tokio::join!(upstream, downstream);
            });
        }
    });
    Ok(address)
}

/// A mobile number per user (11 digits starting with 1).
pub(crate) fn phone_of(user: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    user.hash(&mut hasher);
    format!("138{:08}", hasher.finish() % 100_000_000)
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

pub(crate) fn rid(label: &str) -> String {
    format!("{label}-{}", uuid::Uuid::now_v7())
}

pub(crate) fn ts(at: DateTime<Utc>) -> Option<prost_types::Timestamp> {
    Some(to_timestamp(at))
}

/// A valid three-day gift from t0 - 1 h of `prizes`, quantity `quantity`.
pub(crate) fn gift(shop_id: &str, prizes: Vec<pb::Prize>, quantity: i64) -> pb::OpenCardGift {
    pb::OpenCardGift {
        shop_id: shop_id.into(),
        name: "开卡有礼".into(),
        start_time: ts(t0() - chrono::Duration::hours(1)),
        end_time: ts(t0() + chrono::Duration::days(3)),
        prizes,
        gift_quantity: quantity,
        ..Default::default()
    }
}

pub(crate) fn asset_prize(prize_type: pb::PrizeType, amount: i64) -> pb::Prize {
    pb::Prize {
        r#type: prize_type.into(),
        amount,
        batch_key: String::new(),
    }
}

pub(crate) fn coupon_prize(prize_type: pb::PrizeType, batch: &coupon_pb::Batch) -> pb::Prize {
    pb::Prize {
        r#type: prize_type.into(),
        amount: 0,
        batch_key: batch.batch_key.clone(),
    }
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

/// Asserts FAILED_PRECONDITION with `ErrorInfo.reason` = `expected`.
#[track_caller]
pub(crate) fn assert_precondition(status: &tonic::Status, expected: &str) {
    assert_eq!(status.code(), tonic::Code::FailedPrecondition, "{status:?}");
    assert_eq!(reason(status).as_deref(), Some(expected), "{status:?}");
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

/// The error of a call that must fail.
pub(crate) fn expect_err<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
) -> anyhow::Result<tonic::Status> {
    match result {
        Ok(value) => anyhow::bail!("expected an error, got {value:?}"),
        Err(status) => Ok(status),
    }
}
