//! membership-svc as its own process: production settings only. `memberhub dev` runs it
//! in-process with development keys instead.

use memberhub_kit::config::Required;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    memberhub_kit::config::require(
        |name| std::env::var(name).ok(),
        &[
            Required::Setting("DATABASE_URL"),
            Required::Setting(memberhub_kit::config::TRUSTED_KEYS),
            Required::Secret(membership_svc::config::PHONE_HASH_KEY),
        ],
    )?;
    let _telemetry = memberhub_kit::telemetry::init("membership-svc")?;
    let config = membership_svc::config::from_env(None)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    membership_svc::serve(config, listener, memberhub_kit::server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
