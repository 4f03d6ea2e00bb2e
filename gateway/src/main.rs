//! The gateway as its own process: production settings only. `memberhub dev` runs it
//! in-process with development keys instead.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: memberhub_gateway::Args = memberhub_kit::config::from_cli();
    let config = args.config()?;
    args.require_production()?;
    let _telemetry = memberhub_kit::telemetry::init("gateway", args.process.log_format)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    memberhub_gateway::serve(config, listener, memberhub_kit::server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
