//! coupon-svc as its own process: production settings only. `memberhub dev` runs it
//! in-process with development keys instead.

use memberhub_kit::config::Required;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    memberhub_kit::config::require(
        |name| std::env::var(name).ok(),
        &[
            Required::Setting("DATABASE_URL"),
            Required::Setting(memberhub_kit::config::TRUSTED_KEYS),
            Required::Secret(memberhub_kit::config::SIGNING_KEY),
            Required::Setting(coupon_svc::config::MEMBERSHIP_URL_VAR),
        ],
    )?;
    let _telemetry = memberhub_kit::telemetry::init("coupon-svc")?;
    let config = coupon_svc::config::from_env(None)?;
    let listener = tokio::net::TcpListener::bind(config.process.listen).await?;
    coupon_svc::serve(config, listener, memberhub_kit::server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
