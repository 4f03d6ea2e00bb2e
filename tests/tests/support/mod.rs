//! The whole suite in-process on port 0 over a fresh database, plus HTTP helpers.
#![allow(dead_code)]

pub(crate) mod processes;
pub(crate) mod shop;

use std::net::SocketAddr;

use memberhub::{Suite, SuiteOptions};
use memberhub_gateway::{JwtConfig, Role};
use memberhub_kit::testing::TestDb;
use serde_json::Value;

pub(crate) struct World {
    pub api: Api,
    pub suite: Suite,
    pub db: TestDb,
}

/// A client of one gateway: tokens signed with its secret, calls to its base URL.
#[derive(Clone)]
pub(crate) struct Api {
    pub http: reqwest::Client,
    pub jwt: JwtConfig,
    pub base: String,
}

impl std::ops::Deref for World {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

pub(crate) const SECRET: &str = "e2e-test-secret";

pub(crate) async fn start() -> anyhow::Result<World> {
    start_with_clock(memberhub_kit::clock::system()).await
}

/// The suite with the services reading `clock` (a test moves it instead of sleeping).
pub(crate) async fn start_with_clock(
    clock: memberhub_kit::clock::SharedClock,
) -> anyhow::Result<World> {
    let db = migrated_db().await?;
    let databases = memberhub::Databases::shared(&db.url);
    start_on(db, databases, clock).await
}

/// A fresh database with every service's schema migrated.
pub(crate) async fn migrated_db() -> anyhow::Result<TestDb> {
    memberhub_kit::telemetry::init_for_tests();
    Ok(TestDb::new(&[
        &membership_svc::MIGRATOR,
        &coupon_svc::MIGRATOR,
        &campaign_svc::MIGRATOR,
    ])
    .await?)
}

/// The suite over `db`, each service connecting with its URL in `databases`.
pub(crate) async fn start_on(
    db: TestDb,
    databases: memberhub::Databases,
    clock: memberhub_kit::clock::SharedClock,
) -> anyhow::Result<World> {
    let mut gateway_config = memberhub_gateway::Config::from_env()?;
    gateway_config.jwt.secret = SECRET.into();
    let jwt = gateway_config.jwt.clone();
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut service = memberhub_kit::config::ServiceConfig::from_env()?;
    service.pool_size = 4;
    let suite = Suite::start(SuiteOptions {
        databases,
        membership: any,
        coupon: any,
        campaign: any,
        gateway: any,
        service,
        gateway_config,
        sandbox: clock.sandbox().map(|_| any),
        clock,
    })
    .await
    .map_err(|e| anyhow::anyhow!(e))?;
    let base = format!("http://{}", suite.gateway);
    Ok(World {
        api: Api {
            http: reqwest::Client::new(),
            jwt,
            base,
        },
        suite,
        db,
    })
}

impl Api {
    /// One PAID and one RECEIPT_CONFIRMED event of `order_id` (one line of `amount_fen`) at
    /// `at`, reported by the order system: the shopper becomes a member where the join
    /// policy allows, and earns points at confirmation (OR-1..OR-4).
    pub(crate) async fn paid_and_received(
        &self,
        shop: &str,
        user_id: &str,
        order_id: &str,
        amount_fen: i64,
        at: chrono::DateTime<chrono::Utc>,
    ) -> anyhow::Result<()> {
        let order_system = self.service(memberhub_kit::auth::ORDER_SYSTEM)?;
        for kind in ["PAID", "RECEIPT_CONFIRMED"] {
            let event = serde_json::json!({
                "type": kind, "order_id": order_id, "shop_id": shop, "user_id": user_id,
                "amount_fen": amount_fen, "refund_id": "", "occur_time": at.to_rfc3339(),
                "lines": [{"sku": "tea-1", "category": "tea", "quantity": 1, "unit_price_fen": amount_fen}],
            });
            let (status, body) = self
                .call(
                    reqwest::Method::POST,
                    "/api/internal/v1/order-events",
                    Some(&order_system),
                    Some(&uuid::Uuid::now_v7().to_string()),
                    Some(event),
                )
                .await?;
            anyhow::ensure!(status == 200, "order event {kind}: {status} {body}");
        }
        Ok(())
    }

    /// A client of the gateway at `base` whose tokens are signed with `secret`.
    pub(crate) fn new(base: String, secret: &str) -> anyhow::Result<Self> {
        let mut jwt = memberhub_gateway::Config::from_env()?.jwt;
        jwt.secret = secret.into();
        Ok(Self {
            http: reqwest::Client::new(),
            jwt,
            base,
        })
    }

    pub(crate) fn token(
        &self,
        role: Role,
        sub: &str,
        shop_id: Option<&str>,
    ) -> anyhow::Result<String> {
        Ok(self
            .jwt
            .issue(role, sub, shop_id, chrono::Duration::hours(1))?)
    }

    pub(crate) fn operator(&self) -> anyhow::Result<String> {
        self.token(Role::Operator, "op-1", None)
    }

    pub(crate) fn merchant(&self, shop_id: &str) -> anyhow::Result<String> {
        self.token(Role::Merchant, "merchant-1", Some(shop_id))
    }

    pub(crate) fn shopper(&self, user_id: &str) -> anyhow::Result<String> {
        self.token(Role::Shopper, user_id, None)
    }

    /// A trusted service's token (internal surface), e.g. the commerce platform's `order-system`.
    pub(crate) fn service(&self, name: &str) -> anyhow::Result<String> {
        self.token(Role::Service, name, None)
    }

    /// Sends a request and returns (status, JSON body).
    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        self.call_at(&self.base, method, path, token, idempotency_key, body)
            .await
    }

    /// A call on one shop's surface (`/api/<surface>/v1/shops/<shop><path>`) as `token`;
    /// mutations get a fresh idempotency key.
    pub(crate) async fn shop_call(
        &self,
        surface: &str,
        shop: &str,
        token: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let idempotency_key =
            (method != reqwest::Method::GET).then(|| uuid::Uuid::now_v7().to_string());
        let path = format!("/api/{surface}/v1/shops/{shop}{path}");
        self.call(method, &path, Some(token), idempotency_key.as_deref(), body)
            .await
    }

    /// Registers a shop as operator and returns its id.
    pub(crate) async fn register_shop(
        &self,
        name: &str,
        shop_type: &str,
    ) -> anyhow::Result<String> {
        let body = serde_json::json!({"name": name, "type": shop_type, "logo_url": "https://img.example.com/l.png"});
        let key = uuid::Uuid::now_v7().to_string();
        let (status, shop) = self
            .call(
                reqwest::Method::POST,
                "/api/platform/v1/shops",
                Some(&self.operator()?),
                Some(&key),
                Some(body),
            )
            .await?;
        anyhow::ensure!(status == 200, "register shop: {status} {shop}");
        shop["shop_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("no shop_id in {shop}"))
    }

    /// Like [`Api::call`], against another gateway's `base`.
    pub(crate) async fn call_at(
        &self,
        base: &str,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let mut request = self.http.request(method, format!("{base}{path}"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let text = response.text().await?;
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, json))
    }
}

/// An address that accepts TCP connections and never answers a byte: a hung upstream.
pub(crate) async fn silent_upstream() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    Ok(address)
}

/// An address nothing listens on (bound once, then released): an unreachable upstream, or
/// the port a child process is told to listen on.
pub(crate) async fn closed_port() -> anyhow::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    Ok(listener.local_addr()?)
}

impl World {
    /// Serves a second gateway in front of this suite's services (same token secret), with
    /// `adjust` applied to its configuration (e.g. an upstream pointing elsewhere); returns
    /// its base URL.
    pub(crate) async fn extra_gateway(
        &self,
        adjust: impl FnOnce(&mut memberhub_gateway::Config),
    ) -> anyhow::Result<String> {
        let mut config = memberhub_gateway::Config::from_env()?;
        config.jwt.secret = SECRET.into();
        config.membership_url = format!("http://{}", self.suite.membership);
        config.coupon_url = format!("http://{}", self.suite.coupon);
        config.campaign_url = format!("http://{}", self.suite.campaign);
        adjust(&mut config);
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let base = format!("http://{}", listener.local_addr()?);
        tokio::spawn(memberhub_gateway::serve(
            config,
            listener,
            std::future::pending(),
        ));
        Ok(base)
    }
}
