//! campaign-svc configuration: the kit's process settings, where its peers listen, and the
//! saga's timings.

use std::sync::Arc;
use std::time::Duration;

use memberhub_kit::auth::Signer;
use memberhub_kit::config::{ConfigError, ProcessConfig, parse};

/// The default gRPC port.
pub const DEFAULT_PORT: u16 = 50053;
/// Where to listen, e.g. `127.0.0.1:50053`.
pub const LISTEN_VAR: &str = "MEMBERHUB_CAMPAIGN_LISTEN";

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
            lease: Duration::from_secs(30),
            reconcile_every: Duration::from_secs(2),
            concurrency: 64,
            consumer_lag_limit: Duration::from_secs(60),
            award_every: Duration::from_secs(1),
        }
    }
}

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

/// Reads the configuration; `discovered_database_url` applies when `DATABASE_URL` is unset
/// (`None`: it is required).
pub fn from_env(discovered_database_url: Option<String>) -> Result<Config, ConfigError> {
    let process = ProcessConfig::from_env(LISTEN_VAR, DEFAULT_PORT, discovered_database_url)?;
    let lookup = |name: &str| std::env::var(name).ok();
    let defaults = SagaConfig::default();
    let millis = |name: &str, default: Duration| -> Result<Duration, ConfigError> {
        let ms: u64 = parse(&lookup, name, default.as_millis() as u64, |v| *v > 0)?;
        Ok(Duration::from_millis(ms))
    };
    Ok(Config {
        process,
        membership_url: lookup("MEMBERHUB_MEMBERSHIP_URL")
            .unwrap_or_else(|| "http://127.0.0.1:50051".to_string()),
        coupon_url: lookup("MEMBERHUB_COUPON_URL")
            .unwrap_or_else(|| "http://127.0.0.1:50052".to_string()),
        signer: memberhub_kit::config::signer(lookup, memberhub_kit::auth::CAMPAIGN_SVC)?,
        faults: Faults::default(),
        saga: SagaConfig {
            lease: millis("MEMBERHUB_CLAIM_LEASE_MS", defaults.lease)?,
            reconcile_every: millis("MEMBERHUB_RECONCILE_EVERY_MS", defaults.reconcile_every)?,
            concurrency: parse(
                &lookup,
                "MEMBERHUB_CLAIM_CONCURRENCY",
                defaults.concurrency,
                |v| *v > 0,
            )?,
            consumer_lag_limit: millis(
                "MEMBERHUB_CONSUMER_LAG_LIMIT_MS",
                defaults.consumer_lag_limit,
            )?,
            award_every: millis("MEMBERHUB_SPRINT_AWARD_EVERY_MS", defaults.award_every)?,
        },
    })
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
