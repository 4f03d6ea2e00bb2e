//! The gateway as its own process.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = memberhub_kit::telemetry::init("gateway")?;
    let config = memberhub_gateway::Config::from_env()?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    memberhub_gateway::serve(config, listener, memberhub_kit::server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
