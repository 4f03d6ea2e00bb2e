//! Gateway configuration from the environment.
//!
//! | variable | default |
//! | --- | --- |
//! | `MEMBERHUB_GATEWAY_LISTEN` | `127.0.0.1:8080` |
//! | `MEMBERHUB_MEMBERSHIP_URL` / `_COUPON_URL` / `_CAMPAIGN_URL` | `http://127.0.0.1:50051` / `50052` / `50053` |
//! | `MEMBERHUB_JWT_SECRET` | required by the `gateway` binary (at least 32 bytes); a development secret in `memberhub dev` |
//! | `MEMBERHUB_INTERNAL_SIGNING_KEY` | required by the `gateway` binary: its Ed25519 seed (64 hex digits); a development key in `memberhub dev` |
//! | `MEMBERHUB_JWT_ISSUER` / `MEMBERHUB_JWT_AUDIENCE` | `memberhub` / `memberhub-api` |
//! | `MEMBERHUB_BACKOFFICE_ORIGIN` | `http://localhost:3000` (CORS, comma-separated) |
//! | `MEMBERHUB_REQUEST_TIMEOUT_MS` | 10000 |
//! | `MEMBERHUB_CONCURRENCY_LIMIT` | 1024: requests in flight; past it 503 with `Retry-After` |
//! | `MEMBERHUB_HEADER_READ_TIMEOUT_MS` | 5000: a client must send its request headers within this |
//! | `MEMBERHUB_DRAIN_TIMEOUT_MS` | 10000: after shutdown is asked, how long open requests may finish |
//! | `MEMBERHUB_COMPOSE_DEADLINE_MS` | 300: each optional section of a composed page (MP-5) |
//! | `MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS` | 2000: the section a composed page cannot do without |
//!
//! Both compose deadlines must be below the request timeout, the optional one at most the
//! critical one.

use std::net::SocketAddr;
use std::time::Duration;

use std::sync::Arc;

use memberhub_kit::auth::Signer;
use memberhub_kit::config::{ConfigError, SIGNING_KEY, ServiceConfig, parse};

use crate::auth::JwtConfig;

/// The development-only signing secret; `memberhub dev` prints tokens made with it.
pub(crate) const DEV_JWT_SECRET: &str = "memberhub-dev-secret-not-for-production";

#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub membership_url: String,
    pub coupon_url: String,
    pub campaign_url: String,
    pub jwt: JwtConfig,
    /// the gateway's internal signing key.
    pub signer: Arc<Signer>,
    pub backoffice_origins: Vec<http::HeaderValue>,
    pub request_timeout: Duration,
    /// Requests in flight before the gateway sheds (503).
    pub concurrency_limit: usize,
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// After shutdown is asked, how long open requests may finish.
    pub drain_timeout: Duration,
    /// MP-5: the deadline of each optional upstream call of a composed page; a section that
    /// misses it is left out and listed as degraded.
    pub compose_deadline: Duration,
    /// MP-5: the deadline of the upstream call a composed page cannot do without.
    pub compose_critical_deadline: Duration,
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (tests pass a map).
    pub fn from_lookup(raw: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let lookup = |name: &str| raw(name).filter(|v| !v.is_empty());
        let service = ServiceConfig::from_lookup(lookup)?;
        // The `gateway` binary refuses to start without these (`config::require`); only
        // `memberhub dev` and tests reach the development defaults.
        let secret = lookup("MEMBERHUB_JWT_SECRET").unwrap_or_else(|| DEV_JWT_SECRET.to_string());
        let signer = match lookup(SIGNING_KEY) {
            Some(seed) => {
                Signer::from_hex_seed(memberhub_kit::auth::GATEWAY, &seed).map_err(|e| {
                    ConfigError {
                        name: SIGNING_KEY.into(),
                        value: "<hidden>".into(),
                        reason: e.to_string(),
                    }
                })?
            }
            None => Signer::development(memberhub_kit::auth::GATEWAY),
        };
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
            signer: Arc::new(signer),
            backoffice_origins,
            request_timeout,
            concurrency_limit: service.concurrency_limit,
            header_read_timeout: Duration::from_millis(parse(
                &lookup,
                "MEMBERHUB_HEADER_READ_TIMEOUT_MS",
                5000,
                |v| *v >= 1,
            )?),
            drain_timeout: service.drain_timeout,
            compose_deadline,
            compose_critical_deadline,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.to_string())
        })
    }

    #[test]
    fn mp5_compose_deadlines_default_below_the_request_timeout() -> Result<(), ConfigError> {
        let c = config(&[])?;
        assert_eq!(c.compose_deadline, Duration::from_millis(300));
        assert_eq!(c.compose_critical_deadline, Duration::from_millis(2000));
        assert!(c.compose_critical_deadline < c.request_timeout);
        let c = config(&[("MEMBERHUB_REQUEST_TIMEOUT_MS", "250")])?;
        assert!(c.compose_critical_deadline < c.request_timeout, "{c:?}");
        assert!(c.compose_deadline <= c.compose_critical_deadline, "{c:?}");
        Ok(())
    }

    #[test]
    fn mp5_a_compose_deadline_beyond_its_bound_names_the_variable() {
        let too_long = config(&[("MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS", "10000")]);
        assert!(too_long.is_err_and(|e| e.name == "MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS"));
        let above_critical = config(&[
            ("MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS", "500"),
            ("MEMBERHUB_COMPOSE_DEADLINE_MS", "600"),
        ]);
        assert!(above_critical.is_err_and(|e| e.name == "MEMBERHUB_COMPOSE_DEADLINE_MS"));
        let set = config(&[("MEMBERHUB_COMPOSE_DEADLINE_MS", "150")]);
        assert!(set.is_ok_and(|c| c.compose_deadline == Duration::from_millis(150)));
    }
}
