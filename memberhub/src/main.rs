//! `memberhub`: run the whole suite (`dev`) and other tools for people.

mod dev;
mod loadgen;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "memberhub",
    about = "memberhub: membership and member marketing for marketplace shops"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Find Postgres, migrate, start every service and the gateway, load demo data.
    Dev(dev::DevArgs),
    /// Benchmarks: drive real RPCs over loopback, print figures and a JSON last line.
    #[command(subcommand)]
    Loadgen(Loadgen),
}

#[derive(Subcommand)]
enum Loadgen {
    /// Order events/s (OR-1..OR-4) against pgbench -b tpcb-like.
    Orders(loadgen::orders::OrdersArgs),
    /// LV-5: the bulk level recompute after a rule change.
    Levels(loadgen::levels::LevelsArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = memberhub_kit::telemetry::init("memberhub")?;
    match Cli::parse().command {
        Command::Dev(args) => dev::run(args).await,
        Command::Loadgen(Loadgen::Orders(args)) => loadgen::orders::run(args).await,
        Command::Loadgen(Loadgen::Levels(args)) => loadgen::levels::run(args).await,
    }
}
