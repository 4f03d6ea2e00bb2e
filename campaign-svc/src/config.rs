//! campaign-svc configuration: the kit's process settings, where its peers listen, and the
//! saga's timings.

use std::sync::Arc;
use std::time::Duration;

use memberhub_kit::auth::Signer;
use memberhub_kit::config::{ConfigError, ProcessConfig, Required, ServerArgs, ServiceArgs};

/// Where to listen, e.g. `127.0.0.1:50053`.
pub const LISTEN_VAR: &str = "MEMBERHUB_CAMPAIGN_LISTEN";

/// campaign-svc's settings, from its command line and environment.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "campaign-svc",
    about = "memberhub campaign-svc: open-card gifts, gift packs, points exchanges, sprint plans"
)]
pub struct Args {
    #[command(flatten)]
    pub server: ServerArgs,
    #[command(flatten)]
    pub service: ServiceArgs,
    #[command(flatten)]
    pub process: memberhub_kit::config::ProcessArgs,
    /// Where to listen (gRPC).
    #[arg(long, env = LISTEN_VAR, default_value = "127.0.0.1:50053")]
    pub listen: std::net::SocketAddr,
    /// membership-svc (comma-separated: balanced): budget, points, members, events.
    #[arg(
        long,
        env = "MEMBERHUB_MEMBERSHIP_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub membership_url: String,
    /// coupon-svc (comma-separated: balanced): batches, allocations, issuing.
    #[arg(
        long,
        env = "MEMBERHUB_COUPON_URL",
        default_value = "http://127.0.0.1:50052"
    )]
    pub coupon_url: String,
    /// this process's Ed25519 seed (64 hex digits), signing its calls to peers.
    /// Required by the production binary; the development key otherwise.
    #[arg(long, env = memberhub_kit::config::SIGNING_KEY, hide_env_values = true)]
    pub internal_signing_key: Option<String>,
    /// How long a runner holds a claim before the reconciler may take it over, in ms.
    #[arg(long, env = "MEMBERHUB_CLAIM_LEASE_MS", default_value_t = DEFAULT_LEASE_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub claim_lease_ms: u64,
    /// How often the reconciler looks for unfinished claims and unsettled campaigns, in ms.
    #[arg(long, env = "MEMBERHUB_RECONCILE_EVERY_MS", default_value_t = DEFAULT_RECONCILE_EVERY_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub reconcile_every_ms: u64,
    /// Claims granted at the same time.
    #[arg(long, env = "MEMBERHUB_CLAIM_CONCURRENCY", default_value_t = DEFAULT_CLAIM_CONCURRENCY,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub claim_concurrency: u64,
    /// Health turns NOT_SERVING when the event consumer has been down, or behind the event
    /// stream, for longer than this, in ms.
    #[arg(long, env = "MEMBERHUB_CONSUMER_LAG_LIMIT_MS", default_value_t = DEFAULT_CONSUMER_LAG_LIMIT_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub consumer_lag_limit_ms: u64,
    /// How often due sprint awards are looked for, in ms.
    #[arg(long, env = "MEMBERHUB_SPRINT_AWARD_EVERY_MS", default_value_t = DEFAULT_AWARD_EVERY_MS,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub sprint_award_every_ms: u64,
}

impl Args {
    /// what the production binary cannot start without.
    pub fn require_production(&self) -> Result<(), ConfigError> {
        self.service.require_production(&[Required::Secret(
            memberhub_kit::config::SIGNING_KEY,
            self.internal_signing_key.as_deref(),
        )])
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
            membership_url: self.membership_url.clone(),
            coupon_url: self.coupon_url.clone(),
            signer: memberhub_kit::config::signer(
                self.internal_signing_key.as_deref(),
                memberhub_kit::auth::CAMPAIGN_SVC,
            )?,
            faults: Faults::default(),
            saga: SagaConfig {
                lease: Duration::from_millis(self.claim_lease_ms),
                reconcile_every: Duration::from_millis(self.reconcile_every_ms),
                concurrency: usize::try_from(self.claim_concurrency).unwrap_or(usize::MAX),
                consumer_lag_limit: Duration::from_millis(self.consumer_lag_limit_ms),
                award_every: Duration::from_millis(self.sprint_award_every_ms),
            },
        })
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub process: ProcessConfig,
    /// membership-svc (`MEMBERHUB_MEMBERSHIP_URL`): budget, points, members, events.
    pub membership_url: String,
    /// coupon-svc (`MEMBERHUB_COUPON_URL`): batches, allocations, issuing.
    pub coupon_url: String,
    pub saga: SagaConfig,
    /// campaign-svc's own key, signing its calls to peers (`MEMBERHUB_INTERNAL_SIGNING_KEY`;
    /// the development key when unset outside production).
    pub signer: Arc<Signer>,
    /// Fault injection, for tests only (none from the environment).
    pub faults: Faults,
}

/// How claims are run and resumed.
#[derive(Debug, Clone, Copy)]
pub struct SagaConfig {
    /// How long a runner holds a claim before the reconciler may take it over
    /// (`MEMBERHUB_CLAIM_LEASE_MS`, default 30 s).
    pub lease: Duration,
    /// How often the reconciler looks for unfinished claims and unsettled campaigns
    /// (`MEMBERHUB_RECONCILE_EVERY_MS`, default 2 s).
    pub reconcile_every: Duration,
    /// Claims granted at the same time (`MEMBERHUB_CLAIM_CONCURRENCY`, default 64).
    pub concurrency: usize,
    /// Health turns NOT_SERVING when the event consumer has been down, or behind the event
    /// stream, for longer than this (`MEMBERHUB_CONSUMER_LAG_LIMIT_MS`, default 60 s).
    pub consumer_lag_limit: Duration,
    /// How often due sprint awards are looked for (`MEMBERHUB_SPRINT_AWARD_EVERY_MS`,
    /// default 1 s).
    pub award_every: Duration,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            lease: Duration::from_millis(DEFAULT_LEASE_MS),
            reconcile_every: Duration::from_millis(DEFAULT_RECONCILE_EVERY_MS),
            concurrency: DEFAULT_CLAIM_CONCURRENCY as usize,
            consumer_lag_limit: Duration::from_millis(DEFAULT_CONSUMER_LAG_LIMIT_MS),
            award_every: Duration::from_millis(DEFAULT_AWARD_EVERY_MS),
        }
    }
}

const DEFAULT_LEASE_MS: u64 = 30_000;
const DEFAULT_RECONCILE_EVERY_MS: u64 = 2_000;
const DEFAULT_CLAIM_CONCURRENCY: u64 = 64;
const DEFAULT_CONSUMER_LAG_LIMIT_MS: u64 = 60_000;
const DEFAULT_AWARD_EVERY_MS: u64 = 1_000;

impl Config {
    /// A configuration for in-process use (tests, `memberhub dev`, loadgen).
    pub fn new(process: ProcessConfig, membership_url: String, coupon_url: String) -> Self {
        Self {
            process,
            membership_url,
            coupon_url,
            saga: SagaConfig::default(),
            signer: Arc::new(Signer::development(memberhub_kit::auth::CAMPAIGN_SVC)),
            faults: Faults::default(),
        }
    }
}

/// Reads the configuration from the environment (in-process use: tests, loadgen);
/// `discovered_database_url` applies when `DATABASE_URL` is unset (`None`: it is required).
pub fn from_env(discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
    memberhub_kit::config::from_env::<Args>()?.config(discovered_database_url)
}

/// Where a claim's run (or the sprint award) can be stopped by a fault test: before a step's
/// call, after the call answered and before the claim records it, and after the claim's
/// final record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPoint {
    BeforeCall(StepKind),
    AfterCall(StepKind),
    AfterRecord,
    /// SP-6: before a round of reward issues is sent to coupon-svc.
    BeforeAwardIssue,
    /// SP-6: after coupon-svc answered a round of reward issues, before they are recorded.
    AfterAwardIssue,
}

/// The kinds of step a claim runs, as the fault tests name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Beans,
    RedPacket,
    DataPack,
    Points,
    SpendPoints,
    Coupon,
    GiftItem,
    /// PT-3: the compensating refund of spent points.
    Refund,
}

/// Fault injection for tests: called at every [`FaultPoint`]; when it answers true the run
/// stops there for good (the test then kills the process, as a crash would). Production
/// runs have none.
#[derive(Clone, Default)]
pub struct Faults(pub Option<Arc<dyn Fn(FaultPoint) -> bool + Send + Sync>>);

impl std::fmt::Debug for Faults {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Faults(hook)"
        } else {
            "Faults(none)"
        })
    }
}
