//! coupon-svc as its own process: production settings only. `memberhub dev` runs it
//! in-process with development keys instead.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: coupon_svc::config::Args = memberhub_kit::config::from_cli();
    args.require_production()?;
    let _telemetry = memberhub_kit::telemetry::init("coupon-svc", args.process.log_format)?;
    let config = args.config(None)?;
    let listener = tokio::net::TcpListener::bind(config.process.listen).await?;
    coupon_svc::serve(config, listener, memberhub_kit::server::shutdown_signal())
        .await
        .map_err(|e| anyhow::anyhow!(e))
}
