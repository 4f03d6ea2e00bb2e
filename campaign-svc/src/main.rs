//! campaign-svc as its own process.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = memberhub_kit::telemetry::init("campaign-svc")?;
    let database = memberhub_kit::db::discover().await?;
    let config = campaign_svc::config::from_env(database.url)?;
    let listener = tokio::net::TcpListener::bind(config.process.listen).await?;
    campaign_svc::serve(config, listener, memberhub_kit::server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
