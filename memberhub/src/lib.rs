//! The whole suite in one process: used by `memberhub dev` and by the end-to-end tests.
//! Each service gets its own pool and its own schema; each listens on its own port.

pub mod demo;
pub mod demo_campaigns;
pub mod demo_coupons;
pub mod demo_sprint;
pub mod migrate;
pub mod sandbox;

use std::net::SocketAddr;

use memberhub_kit::clock::SharedClock;
use memberhub_kit::config::ServiceConfig;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The database URL each service connects with: one URL for all (development, tests), or
/// each service as its own role ([`memberhub_kit::roles`], production-like).
#[derive(Debug, Clone)]
pub struct Databases {
    pub membership: String,
    pub coupon: String,
    pub campaign: String,
}

impl Databases {
    /// Every service on `url`, as the same user.
    pub fn shared(url: &str) -> Self {
        Self {
            membership: url.to_string(),
            coupon: url.to_string(),
            campaign: url.to_string(),
        }
    }
}

/// Where each part listens; port 0 picks a free port.
#[derive(Debug, Clone)]
pub struct SuiteOptions {
    pub databases: Databases,
    pub membership: SocketAddr,
    pub coupon: SocketAddr,
    pub campaign: SocketAddr,
    pub gateway: SocketAddr,
    pub service: ServiceConfig,
    pub gateway_config: memberhub_gateway::Config,
    pub clock: SharedClock,
    /// where the sandbox clock's service listens; `Some` only with a movable clock
    /// (`memberhub dev --test-clock`, tests), which the gateway then exposes to operators.
    pub sandbox: Option<SocketAddr>,
}

/// The running suite.
#[derive(Debug)]
pub struct Suite {
    pub membership: SocketAddr,
    pub coupon: SocketAddr,
    pub campaign: SocketAddr,
    pub gateway: SocketAddr,
    /// Where the sandbox clock's service listens, when the suite runs on one.
    pub sandbox: Option<SocketAddr>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<Result<(), String>>,
}

impl Suite {
    /// Migrates every schema, then starts the three services and the gateway.
    pub async fn start(options: SuiteOptions) -> Result<Self, memberhub_kit::BoxError> {
        let pool_size = options.service.pool_size;
        let urls = &options.databases;
        let membership_pool =
            memberhub_kit::db::connect(&urls.membership, pool_size, "membership-svc").await?;
        let coupon_pool = memberhub_kit::db::connect(&urls.coupon, pool_size, "coupon-svc").await?;
        let campaign_pool =
            memberhub_kit::db::connect(&urls.campaign, pool_size, "campaign-svc").await?;
        memberhub_kit::db::migrate(&membership_pool, &membership_svc::MIGRATOR).await?;
        memberhub_kit::db::migrate(&coupon_pool, &coupon_svc::MIGRATOR).await?;
        memberhub_kit::db::migrate(&campaign_pool, &campaign_svc::MIGRATOR).await?;

        let membership_listener = TcpListener::bind(options.membership).await?;
        let coupon_listener = TcpListener::bind(options.coupon).await?;
        let campaign_listener = TcpListener::bind(options.campaign).await?;
        let gateway_listener = TcpListener::bind(options.gateway).await?;
        let membership = membership_listener.local_addr()?;
        let coupon = coupon_listener.local_addr()?;
        let campaign = campaign_listener.local_addr()?;
        let gateway = gateway_listener.local_addr()?;

        let process = |listen, database_url: &String| memberhub_kit::config::ProcessConfig {
            service: options.service.clone(),
            database_url: database_url.clone(),
            listen,
        };
        let (stop, stopped) = watch::channel(false);
        let until_stopped = move || {
            let mut stopped = stopped.clone();
            async move {
                let _ = stopped.wait_for(|s| *s).await;
            }
        };
        let mut tasks = JoinSet::new();
        let (config, clock, shutdown) = (
            membership_svc::Config::new(process(membership, &urls.membership)),
            options.clock.clone(),
            until_stopped(),
        );
        tasks.spawn(async move {
            membership_svc::serve_migrated(
                &config,
                membership_pool,
                clock,
                membership_listener,
                shutdown,
            )
            .await
            .map_err(|e| format!("membership-svc: {e}"))
        });
        let (config, clock, shutdown) = (
            coupon_svc::Config::new(process(coupon, &urls.coupon))
                .with_membership(format!("http://{membership}")),
            options.clock.clone(),
            until_stopped(),
        );
        tasks.spawn(async move {
            coupon_svc::serve_migrated(&config, coupon_pool, clock, coupon_listener, shutdown)
                .await
                .map_err(|e| format!("coupon-svc: {e}"))
        });
        let config = campaign_svc::Config::new(
            process(campaign, &urls.campaign),
            format!("http://{membership}"),
            format!("http://{coupon}"),
        );
        let (clock, shutdown) = (options.clock.clone(), until_stopped());
        tasks.spawn(async move {
            campaign_svc::serve_migrated(&config, campaign_pool, clock, campaign_listener, shutdown)
                .await
                .map_err(|e| format!("campaign-svc: {e}"))
        });
        let sandbox = match options.sandbox {
            Some(address) => {
                let clock = options
                    .clock
                    .sandbox()
                    .ok_or("a sandbox needs a sandbox clock")?
                    .clone();
                let listener = TcpListener::bind(address).await?;
                let address = listener.local_addr()?;
                let server = memberhub_kit::server::GrpcServer::new("sandbox", &options.service)?
                    .add_service(
                        memberhub_proto::sandbox::sandbox_service_server::SandboxServiceServer::new(
                            sandbox::Sandbox::new(clock),
                        ),
                    );
                let shutdown = until_stopped();
                tasks.spawn(async move {
                    server
                        .serve(listener, shutdown)
                        .await
                        .map_err(|e| format!("sandbox: {e}"))
                });
                Some(address)
            }
            None => None,
        };
        let mut gateway_config = options.gateway_config.clone();
        gateway_config.sandbox_url = sandbox.map(|address| format!("http://{address}"));
        gateway_config.membership_url = format!("http://{membership}");
        gateway_config.coupon_url = format!("http://{coupon}");
        gateway_config.campaign_url = format!("http://{campaign}");
        let shutdown = until_stopped();
        tasks.spawn(async move {
            memberhub_gateway::serve(gateway_config, gateway_listener, shutdown)
                .await
                .map_err(|e| format!("gateway: {e}"))
        });
        for address in [membership, coupon, campaign].into_iter().chain(sandbox) {
            memberhub_kit::testing::wait_until_serving(address).await?;
        }
        Ok(Self {
            membership,
            coupon,
            campaign,
            gateway,
            sandbox,
            stop,
            tasks,
        })
    }

    /// Stops every part gracefully and reports the first failure.
    pub async fn shutdown(mut self) -> Result<(), String> {
        let _ = self.stop.send(true);
        let mut first_error = Ok(());
        while let Some(joined) = self.tasks.join_next().await {
            let result = joined.map_err(|e| e.to_string()).and_then(|r| r);
            if first_error.is_ok() {
                first_error = result;
            }
        }
        first_error
    }

    /// Completes when any part stops by itself (an error), with its result.
    pub async fn wait_for_failure(&mut self) -> Result<(), String> {
        match self.tasks.join_next().await {
            Some(joined) => joined.map_err(|e| e.to_string()).and_then(|r| r),
            None => Ok(()),
        }
    }
}
