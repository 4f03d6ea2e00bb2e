//! coupon-svc configuration: the kit's process settings, and membership-svc, which prices a
//! cart for a member (LV-6).

use std::sync::Arc;

use memberhub_kit::auth::Signer;
use memberhub_kit::config::{ConfigError, ProcessConfig, Required, ServerArgs, ServiceArgs};

/// Where to listen, e.g. `127.0.0.1:50052`.
pub const LISTEN_VAR: &str = "MEMBERHUB_COUPON_LISTEN";
/// Where membership-svc listens, e.g. `http://127.0.0.1:50051`.
pub const MEMBERSHIP_URL_VAR: &str = "MEMBERHUB_MEMBERSHIP_URL";

/// coupon-svc's settings, from its command line and environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "coupon-svc",
    about = "memberhub coupon-svc: coupon batches, issuing, redemption, cart evaluation"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub process: memberhub_kit::config::ProcessArgs,
    /// Where to listen (gRPC).
    #[arg(long, env = LISTEN_VAR, default_value = "127.0.0.1:50052")]
    pub listen: std::net::SocketAddr,
    /// membership-svc (comma-separated: balanced), which prices a cart for a member (LV-6).
    /// Required by the production binary; unset: every shopper is priced as a non-member.
    #[arg(long, env = MEMBERSHIP_URL_VAR)]
    pub membership_url: Option<String>,
    /// this process's Ed25519 seed (64 hex digits), signing its calls to peers.
    /// Required by the production binary; the development key otherwise.
    #[arg(long, env = memberhub_kit::config::SIGNING_KEY, hide_env_values = true)]
    pub internal_signing_key: Option<String>,
}

impl Args {
    /// what the production binary cannot start without.
    pub fn require_production(&self) -> Result<(), ConfigError> {
        self.service.require_production(&[
            Required::Secret(
                memberhub_kit::config::SIGNING_KEY,
                self.internal_signing_key.as_deref(),
            ),
            Required::Setting(MEMBERSHIP_URL_VAR, self.membership_url.as_deref()),
        ])
    }

    /// The configuration; `discovered_database_url` applies when no database URL is set.
    pub fn config(&self, discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
        Ok(Config {
            process: ProcessConfig::new(
                &self.server,
                &self.service,
                self.listen,
                discovered_database_url,
            )?,
            membership_url: self.membership_url.clone().filter(|v| !v.is_empty()),
            signer: memberhub_kit::config::signer(
                self.internal_signing_key.as_deref(),
                memberhub_kit::auth::COUPON_SVC,
            )?,
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub process: ProcessConfig,
    /// membership-svc (`MEMBERHUB_MEMBERSHIP_URL`): the shopper's level and its benefits,
    /// which price a cart (LV-6). Required by the `coupon-svc` binary; when unset (coupon-svc
    /// alone, in its own tests) every shopper is priced as a non-member.
    pub membership_url: Option<String>,
    /// coupon-svc's own key, signing its calls to membership-svc
    /// (`MEMBERHUB_INTERNAL_SIGNING_KEY`; the development key when unset outside production).
    pub signer: Arc<Signer>,
}

/// Reads the configuration from the environment (in-process use: tests, loadgen);
/// `discovered_database_url` applies when `DATABASE_URL` is unset.
pub fn from_env(discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
    memberhub_kit::config::from_env::<Args>()?.config(discovered_database_url)
}

impl Config {
    /// A configuration for in-process use (tests, `memberhub dev`, loadgen): development key,
    /// and no membership-svc until [`Config::with_membership`].
    pub fn new(process: ProcessConfig) -> Self {
        Self {
            process,
            membership_url: None,
            signer: Arc::new(Signer::development(memberhub_kit::auth::COUPON_SVC)),
        }
    }

    /// Prices carts with membership-svc at `url`.
    pub fn with_membership(mut self, url: String) -> Self {
        self.membership_url = Some(url);
        self
    }
}
