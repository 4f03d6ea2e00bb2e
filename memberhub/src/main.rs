//! `memberhub`: run the whole suite (`dev`) and other tools for people.

mod dev;
mod loadgen;
mod probe;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "memberhub",
    about = "memberhub: membership and member marketing for marketplace shops"
)]
struct Cli {
    /// Log lines as `json` (production) or `pretty`.
    #[arg(
        long,
        global = true,
        env = "MEMBERHUB_LOG_FORMAT",
        value_enum,
        default_value_t
    )]
    log_format: memberhub_kit::telemetry::LogFormat,
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
    /// Give each service its own Postgres role and schema (with an administrator's URL),
    /// then run every service's migrations as its role: the deploy's migration step.
    Migrate(memberhub::migrate::MigrateArgs),
    /// Health check for containers: exit 0 when the target answers healthy.
    Probe {
        #[command(subcommand)]
        probe: probe::Probe,
    },
    /// print a fresh Ed25519 key pair for an internal identity: the seed goes into that
    /// process's MEMBERHUB_INTERNAL_SIGNING_KEY, the public key into the services'
    /// MEMBERHUB_INTERNAL_TRUSTED_KEYS.
    Keygen {
        /// The identity the key is for (gateway, campaign-svc, order-system).
        identity: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let _telemetry = memberhub_kit::telemetry::init("memberhub", cli.log_format)?;
    match cli.command {
        Command::Dev(args) => dev::run(args).await,
        Command::Loadgen { bench } => loadgen::run(bench).await,
        Command::Migrate(args) => Ok(memberhub::migrate::run(&args).await?),
        Command::Probe { probe } => probe::run(probe).await,
        Command::Keygen { identity } => {
            let (seed, public) = memberhub_kit::auth::Signer::generate()
                .map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            println!("MEMBERHUB_INTERNAL_SIGNING_KEY={seed}");
            println!("MEMBERHUB_INTERNAL_TRUSTED_KEYS entry: {identity}={public}");
            Ok(())
        }
    }
}
