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
    /// Benchmarks: drive real RPCs, measure a baseline in the same run, check invariants.
    Loadgen {
        #[command(subcommand)]
        bench: loadgen::Loadgen,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _telemetry = memberhub_kit::telemetry::init("memberhub")?;
    match Cli::parse().command {
        Command::Dev(args) => dev::run(args).await,
        Command::Loadgen { bench } => loadgen::run(bench).await,
    }
}
