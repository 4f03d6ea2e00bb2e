//! The gateway as its own process: production settings only. `memberhub dev` runs it
//! in-process with development keys instead.

use memberhub_kit::config::Required;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    memberhub_kit::config::require(
        |name| std::env::var(name).ok(),
        &[
            Required::Secret("MEMBERHUB_JWT_SECRET"),
            Required::Secret(memberhub_kit::config::SIGNING_KEY),
        ],
    )?;
    let _telemetry = memberhub_kit::telemetry::init("gateway")?;
    let config = memberhub_gateway::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    memberhub_gateway::serve(config, listener, memberhub_kit::server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
