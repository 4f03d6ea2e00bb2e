//! Gateway configuration: [`Args`], from the command line and the environment (`gateway
//! --help` lists every variable with its default). Both compose deadlines must be below the
//! request timeout, the optional one at most the critical one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use memberhub_kit::auth::Signer;
use memberhub_kit::config::{ConfigError, Required, SIGNING_KEY, ServerArgs};

use crate::auth::JwtConfig;

/// The development-only signing secret; `memberhub dev` prints tokens made with it.
pub(crate) const DEV_JWT_SECRET: &str = "memberhub-dev-secret-not-for-production";

/// The gateway's settings, from its command line and environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "gateway",
    about = "memberhub gateway: the HTTP API for storefront, back office, platform and order system"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    /// Where to listen (HTTP).
    #[arg(
        long,
        env = "MEMBERHUB_GATEWAY_LISTEN",
        default_value = "127.0.0.1:8080"
    )]
    pub listen: SocketAddr,
    /// membership-svc (comma-separated: balanced).
    #[arg(
        long,
        env = "MEMBERHUB_MEMBERSHIP_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub membership_url: String,
    /// coupon-svc (comma-separated: balanced).
    #[arg(
        long,
        env = "MEMBERHUB_COUPON_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub coupon_url: String,
    /// campaign-svc (comma-separated: balanced).
    #[arg(
        long,
        env = "MEMBERHUB_CAMPAIGN_URL",
        default_value = "http://127.0.0.1:50053"
    )]
    pub campaign_url: String,
    #[command(flatten)]
    pub gateway: GatewayArgs,
    #[command(flatten)]
    pub process: memberhub_kit::config::ProcessArgs,
}

/// The gateway's own settings, apart from where it listens and where the services are
/// (`memberhub dev` flattens these into its command).
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// The secret of the public (HS256) tokens, at least 32 bytes. Required by the production
    /// binary; a public development secret otherwise.
    #[arg(long, env = "MEMBERHUB_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// the gateway's Ed25519 seed (64 hex digits), signing the actor it passes on.
    /// Required by the production binary; the development key otherwise.
    #[arg(long, env = SIGNING_KEY, hide_env_values = true)]
    pub internal_signing_key: Option<String>,
    /// The `iss` public tokens must carry.
    #[arg(long, env = "MEMBERHUB_JWT_ISSUER", default_value = "memberhub")]
    pub jwt_issuer: String,
    /// The `aud` public tokens must carry.
    #[arg(long, env = "MEMBERHUB_JWT_AUDIENCE", default_value = "memberhub-api")]
    pub jwt_audience: String,
    /// Origins the back office is served from (CORS), comma-separated.
    #[arg(long, env = "MEMBERHUB_BACKOFFICE_ORIGIN", default_value = "http://localhost:3000",
          value_delimiter = ',', value_parser = origin)]
    pub backoffice_origin: Vec<http::HeaderValue>,
    /// How long a client may take to send its request headers, in ms.
    #[arg(long, env = "MEMBERHUB_HEADER_READ_TIMEOUT_MS", default_value_t = 5_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_ms: u64,
    /// MP-5: the deadline of each optional section of a composed page, in ms (default 300, at
    /// most the critical deadline).
    #[arg(long, env = "MEMBERHUB_COMPOSE_DEADLINE_MS")]
    pub compose_deadline_ms: Option<u64>,
    /// MP-5: the deadline of the section a composed page cannot do without, in ms (default
    /// 2000, below the request timeout).
    #[arg(long, env = "MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS")]
    pub compose_critical_deadline_ms: Option<u64>,
}

fn origin(raw: &str) -> Result<http::HeaderValue, String> {
    http::HeaderValue::from_str(raw.trim()).map_err(|e| e.to_string())
}

impl Args {
    /// what the production binary cannot start without.
    pub fn require_production(&self) -> Result<(), ConfigError> {
        memberhub_kit::config::require(&[
            Required::Secret("MEMBERHUB_JWT_SECRET", self.gateway.jwt_secret.as_deref()),
            Required::Secret(SIGNING_KEY, self.gateway.internal_signing_key.as_deref()),
        ])
    }

    /// The configuration, with the deadlines checked against each other.
    pub fn config(&self) -> Result<Config, ConfigError> {
        self.gateway.config(
            &self.server,
            self.listen,
            [&self.membership_url, &self.coupon_url, &self.campaign_url],
        )
    }
}

impl GatewayArgs {
    /// The configuration of a gateway listening on `listen` and calling the services at
    /// `[membership, coupon, campaign]`.
    pub fn config(
        &self,
        server: &ServerArgs,
        listen: SocketAddr,
        [membership_url, coupon_url, campaign_url]: [&String; 3],
    ) -> Result<Config, ConfigError> {
        let request_timeout = Duration::from_millis(server.request_timeout_ms);
        let timeout_ms = server.request_timeout_ms;
        let critical_ms = bounded(
            "MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS",
            self.compose_critical_deadline_ms,
            2000.min(timeout_ms.saturating_sub(1)).max(1),
            1..timeout_ms,
        )?;
        let compose_ms = bounded(
            "MEMBERHUB_COMPOSE_DEADLINE_MS",
            self.compose_deadline_ms,
            300.min(critical_ms),
            1..critical_ms.saturating_add(1),
        )?;
        Ok(Config {
            listen,
            membership_url: membership_url.clone(),
            coupon_url: coupon_url.clone(),
            campaign_url: campaign_url.clone(),
            jwt: JwtConfig {
                secret: self
                    .jwt_secret
                    .clone()
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| DEV_JWT_SECRET.to_string()),
                issuer: self.jwt_issuer.clone(),
                audience: self.jwt_audience.clone(),
            },
            signer: memberhub_kit::config::signer(
                self.internal_signing_key.as_deref(),
                memberhub_kit::auth::GATEWAY,
            )?,
            backoffice_origins: self.backoffice_origin.clone(),
            request_timeout,
            concurrency_limit: usize::try_from(server.concurrency_limit).unwrap_or(usize::MAX),
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            drain_timeout: Duration::from_millis(server.drain_timeout_ms),
            compose_deadline: Duration::from_millis(compose_ms),
            compose_critical_deadline: Duration::from_millis(critical_ms),
            sandbox_url: None,
        })
    }
}

/// `value` (or `default`) when inside `range`; else an error naming `name`.
fn bounded(
    name: &str,
    value: Option<u64>,
    default: u64,
    range: std::ops::Range<u64>,
) -> Result<u64, ConfigError> {
    let value = value.unwrap_or(default);
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(ConfigError {
            name: name.into(),
            value: value.to_string(),
            reason: format!("must be in {}..{}", range.start, range.end),
        })
    }
}

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
    /// the sandbox clock's gRPC service; set only by `memberhub dev --test-clock` (the
    /// `gateway` binary has no such setting), which mounts `/api/platform/v1/sandbox`.
    pub sandbox_url: Option<String>,
}

impl Config {
    /// Reads the configuration from the environment (in-process use: `memberhub dev`, tests).
    pub fn from_env() -> Result<Self, ConfigError> {
        memberhub_kit::config::from_env::<Args>()?.config()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use clap::Parser as _;

    fn config(flags: &[(&str, &str)]) -> Result<Config, Box<dyn std::error::Error>> {
        let mut args = vec!["gateway".to_string()];
        for (flag, value) in flags {
            args.push(format!("--{flag}={value}"));
        }
        Ok(Args::try_parse_from(args)?.config()?)
    }

    fn names(result: Result<Config, Box<dyn std::error::Error>>, variable: &str) -> bool {
        result.is_err_and(|e| {
            e.downcast_ref::<ConfigError>()
                .is_some_and(|e| e.name == variable)
        })
    }

    #[test]
    fn mp5_compose_deadlines_default_below_the_request_timeout()
    -> Result<(), Box<dyn std::error::Error>> {
        let c = config(&[])?;
        assert_eq!(c.compose_deadline, Duration::from_millis(300));
        assert_eq!(c.compose_critical_deadline, Duration::from_millis(2000));
        assert!(c.compose_critical_deadline < c.request_timeout);
        let c = config(&[("request-timeout-ms", "250")])?;
        assert!(c.compose_critical_deadline < c.request_timeout, "{c:?}");
        assert!(c.compose_deadline <= c.compose_critical_deadline, "{c:?}");
        Ok(())
    }

    #[test]
    fn mp5_a_compose_deadline_beyond_its_bound_names_the_variable() {
        let too_long = config(&[("compose-critical-deadline-ms", "10000")]);
        assert!(names(too_long, "MEMBERHUB_COMPOSE_CRITICAL_DEADLINE_MS"));
        let above_critical = config(&[
            ("compose-critical-deadline-ms", "500"),
            ("compose-deadline-ms", "600"),
        ]);
        assert!(names(above_critical, "MEMBERHUB_COMPOSE_DEADLINE_MS"));
        let set = config(&[("compose-deadline-ms", "150")]);
        assert!(set.is_ok_and(|c| c.compose_deadline == Duration::from_millis(150)));
    }
}
