//! Gateway configuration from the environment.
//!
//! | variable | default |
//! | --- | --- |
//! | `MEMBERHUB_GATEWAY_LISTEN` | `127.0.0.1:8080` |
//! | `MEMBERHUB_MEMBERSHIP_URL` / `_COUPON_URL` / `_CAMPAIGN_URL` | `http://127.0.0.1:50051` / `50052` / `50053` |
//! | `MEMBERHUB_JWT_SECRET` | a development secret (a warning is logged) |
//! | `MEMBERHUB_JWT_ISSUER` / `MEMBERHUB_JWT_AUDIENCE` | `memberhub` / `memberhub-api` |
//! | `MEMBERHUB_BACKOFFICE_ORIGIN` | `http://localhost:3000` (CORS, comma-separated) |
//! | `MEMBERHUB_REQUEST_TIMEOUT_MS` | 10000 |
//! | `MEMBERHUB_COMPOSE_DEADLINE_MS` | 300: each optional section of a composed page (MP-5) |
//! | `MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS` | 2000: the section a composed page cannot do without |
//!
//! Both compose deadlines must be below the request timeout, the optional one at most the
//! critical one.

use std::net::SocketAddr;
use std::time::Duration;

use memberhub_kit::config::{ConfigError, ServiceConfig, parse};

use crate::auth::JwtConfig;

/// The development-only signing secret; `memberhub dev` prints tokens made with it.
pub const DEV_JWT_SECRET: &str = "memberhub-dev-secret-not-for-production";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub membership_url: String,
    pub coupon_url: String,
    pub campaign_url: String,
    pub jwt: JwtConfig,
    pub backoffice_origins: Vec<http::HeaderValue>,
    pub request_timeout: Duration,
    /// MP-5: the deadline of each optional upstream call of a composed page; a section that
    /// misses it is left out and listed as degraded.
    pub compose_deadline: Duration,
    /// MP-5: the deadline of the upstream call a composed page cannot do without.
    pub compose_critical_deadline: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        let lookup = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let service = ServiceConfig::from_env()?;
        let secret = lookup("MEMBERHUB_JWT_SECRET").unwrap_or_else(|| {
            tracing::warn!("MEMBERHUB_JWT_SECRET is not set: using the development secret");
            DEV_JWT_SECRET.to_string()
        });
        let origins =
            lookup("MEMBERHUB_BACKOFFICE_ORIGIN").unwrap_or_else(|| "http://localhost:3000".into());
        let backoffice_origins = origins
            .split(',')
            .map(|o| {
                http::HeaderValue::from_str(o.trim()).map_err(|e| ConfigError {
                    name: "MEMBERHUB_BACKOFFICE_ORIGIN".into(),
                    value: o.into(),
                    reason: e.to_string(),
                })
            })
            .collect::<Result<_, _>>()?;
        let request_timeout = service.request_timeout;
        let timeout_ms = u64::try_from(request_timeout.as_millis()).unwrap_or(u64::MAX);
        let compose_critical_deadline = Duration::from_millis(parse(
            &lookup,
            "MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS",
            2000.min(timeout_ms.saturating_sub(1)).max(1),
            |v| (1..timeout_ms).contains(v),
        )?);
        let critical_ms = u64::try_from(compose_critical_deadline.as_millis()).unwrap_or(u64::MAX);
        let compose_deadline = Duration::from_millis(parse(
            &lookup,
            "MEMBERHUB_COMPOSE_DEADLINE_MS",
            300.min(critical_ms),
            |v| (1..=critical_ms).contains(v),
        )?);
        Ok(Self {
            listen: parse(
                &lookup,
                "MEMBERHUB_GATEWAY_LISTEN",
                SocketAddr::from(([127, 0, 0, 1], 8080)),
                |_| true,
            )?,
            membership_url: lookup("MEMBERHUB_MEMBERSHIP_URL")
                .unwrap_or_else(|| "http://127.0.0.1:50051".into()),
            coupon_url: lookup("MEMBERHUB_COUPON_URL")
                .unwrap_or_else(|| "http://127.0.0.1:50052".into()),
            campaign_url: lookup("MEMBERHUB_CAMPAIGN_URL")
                .unwrap_or_else(|| "http://127.0.0.1:50053".into()),
            jwt: JwtConfig {
                secret,
                issuer: lookup("MEMBERHUB_JWT_ISSUER").unwrap_or_else(|| "memberhub".into()),
                audience: lookup("MEMBERHUB_JWT_AUDIENCE")
                    .unwrap_or_else(|| "memberhub-api".into()),
            },
            backoffice_origins,
            request_timeout,
            compose_deadline,
            compose_critical_deadline,
        })
    }
}
