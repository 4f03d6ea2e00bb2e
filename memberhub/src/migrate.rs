//! `memberhub migrate`: the deploy's one-shot migration step. With the administrator's URL
//! it first gives each service its own role and schema ([`memberhub_kit::roles`]); then it
//! runs each service's migrations connected as that service's role, so every table is
//! owned by the role that uses it.

use memberhub_kit::db::{self, DbError};
use memberhub_kit::roles::{self, RoleUrlError, ServiceRole};

/// Where each service's database is, as the URL the service itself connects with.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// A superuser (or CREATEROLE owner of the database) URL. When set, roles and schemas
    /// are created or brought up to date first; unset, they must already exist.
    #[arg(long, env = "MEMBERHUB_ADMIN_DATABASE_URL", hide_env_values = true)]
    pub admin_url: Option<String>,
    /// membership-svc's URL, its own role as the user.
    #[arg(
        long,
        env = "MEMBERHUB_MEMBERSHIP_DATABASE_URL",
        hide_env_values = true
    )]
    pub membership_url: String,
    /// coupon-svc's URL, its own role as the user.
    #[arg(long, env = "MEMBERHUB_COUPON_DATABASE_URL", hide_env_values = true)]
    pub coupon_url: String,
    /// campaign-svc's URL, its own role as the user.
    #[arg(long, env = "MEMBERHUB_CAMPAIGN_DATABASE_URL", hide_env_values = true)]
    pub campaign_url: String,
}

/// A migration step that could not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error(transparent)]
    Role(#[from] RoleUrlError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{0}: the URL names no database")]
    NoDatabase(&'static str),
}

struct Service {
    setting: &'static str,
    url: String,
    schema: &'static str,
    migrator: &'static sqlx::migrate::Migrator,
}

/// Extensions a service's migrations create, which a role without superuser may not.
const EXTENSIONS: &[&str] = &["btree_gist"];

/// Bootstraps (with an administrator's URL) and migrates every service as its own role.
pub async fn run(args: &MigrateArgs) -> Result<(), MigrateError> {
    let services = [
        Service {
            setting: "MEMBERHUB_MEMBERSHIP_DATABASE_URL",
            url: args.membership_url.clone(),
            schema: "membership",
            migrator: &membership_svc::MIGRATOR,
        },
        Service {
            setting: "MEMBERHUB_COUPON_DATABASE_URL",
            url: args.coupon_url.clone(),
            schema: "coupon",
            migrator: &coupon_svc::MIGRATOR,
        },
        Service {
            setting: "MEMBERHUB_CAMPAIGN_DATABASE_URL",
            url: args.campaign_url.clone(),
            schema: "campaign",
            migrator: &campaign_svc::MIGRATOR,
        },
    ];
    let roles = services
        .iter()
        .map(|s| ServiceRole::from_url(s.setting, &s.url, s.schema))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(admin_url) = &args.admin_url {
        let database =
            database_name(&services[0].url).ok_or(MigrateError::NoDatabase(services[0].setting))?;
        let admin = db::connect(
            &db::with_database(admin_url, &database),
            2,
            "memberhub-migrate",
        )
        .await?;
        roles::bootstrap(&admin, &database, &roles, EXTENSIONS).await?;
        admin.close().await;
        tracing::info!(database, roles = roles.len(), "service roles ready");
    }
    for service in &services {
        let pool = db::connect(&service.url, 1, "memberhub-migrate").await?;
        db::migrate(&pool, service.migrator).await?;
        pool.close().await;
        tracing::info!(schema = service.schema, "migrated");
    }
    Ok(())
}

fn database_name(url: &str) -> Option<String> {
    url::Url::parse(url)
        .ok()
        .map(|u| u.path().trim_start_matches('/').to_string())
        .filter(|name| !name.is_empty())
}
