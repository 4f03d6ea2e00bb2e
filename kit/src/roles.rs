//! One schema, one role: in production each service connects as its own Postgres role,
//! which owns the service's schema and has no privilege on any other service's schema.
//! [`bootstrap`] is what a database administrator (or the deploy's migration step, with
//! the administrator's URL) runs once per database and again after adding a service; it is
//! idempotent. The service's migrations then run as the role itself.
//!
//! The role may also create schemas in the database: sqlx's migrator issues `CREATE SCHEMA
//! IF NOT EXISTS` for the service's schema before every run, and Postgres checks that
//! privilege before it checks whether the schema exists. A new schema of its own gives a
//! role nothing on another service's data.

use sqlx::postgres::PgPool;

use crate::db::DbError;

/// A service's role and schema, taken from the URL the service connects with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceRole {
    pub role: String,
    pub password: Option<String>,
    pub schema: String,
}

/// A service URL without the role a [`ServiceRole`] needs.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct RoleUrlError {
    pub name: String,
    pub reason: String,
}

impl ServiceRole {
    /// The role named by the user (and password) of `url`, owning `schema`. `name` names
    /// the setting the URL came from, for the error.
    pub fn from_url(name: &str, url: &str, schema: &str) -> Result<Self, RoleUrlError> {
        let error = |reason: &str| RoleUrlError {
            name: name.to_string(),
            reason: reason.to_string(),
        };
        let parsed = url::Url::parse(url).map_err(|e| error(&e.to_string()))?;
        let role = percent_decode(parsed.username()).ok_or_else(|| error("user is not UTF-8"))?;
        if role.is_empty() {
            return Err(error(
                "names no user: the service's own role must be in the URL",
            ));
        }
        if role == "postgres" {
            return Err(error(
                "names the superuser: each service connects as its own role",
            ));
        }
        let password = parsed
            .password()
            .map(|p| percent_decode(p).ok_or_else(|| error("password is not UTF-8")))
            .transpose()?;
        Ok(Self {
            role,
            password,
            schema: schema.to_string(),
        })
    }
}

fn percent_decode(raw: &str) -> Option<String> {
    percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

/// Creates (or updates) each role with its password and `LOGIN`, gives it its schema
/// (created if missing; an existing schema and everything in it change owner to the
/// role), lets it connect to and create schemas in `database`, and takes away every
/// privilege it may have had on the other roles' schemas. `admin` must be a superuser or
/// hold `CREATEROLE` and own the database. Extensions a service's migrations create are
/// created here first (a role without superuser cannot create them all).
pub async fn bootstrap(
    admin: &PgPool,
    database: &str,
    roles: &[ServiceRole],
    extensions: &[&str],
) -> Result<(), DbError> {
    for extension in extensions {
        run(
            admin,
            "SELECT format('CREATE EXTENSION IF NOT EXISTS %I', $1::text)",
            &[extension],
        )
        .await?;
    }
    for r in roles {
        // CREATE ROLE has no IF NOT EXISTS; another bootstrap may create it meanwhile.
        let exists: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)")
                .bind(&r.role)
                .fetch_one(admin)
                .await?;
        if !exists {
            match run(
                admin,
                "SELECT format('CREATE ROLE %I LOGIN', $1::text)",
                &[&r.role],
            )
            .await
            {
                // 42710 duplicate_object, 23505: created meanwhile
                Err(DbError::Sql(e))
                    if matches!(crate::db::sqlstate(&e).as_deref(), Some("42710" | "23505")) => {}
                other => other?,
            }
        }
        match &r.password {
            Some(password) => {
                run(
                    admin,
                    "SELECT format('ALTER ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)",
                    &[&r.role, password],
                )
                .await?
            }
            None => {
                run(
                    admin,
                    "SELECT format('ALTER ROLE %I LOGIN', $1::text)",
                    &[&r.role],
                )
                .await?
            }
        }
        run(
            admin,
            "SELECT format('GRANT CONNECT, CREATE ON DATABASE %I TO %I', $1::text, $2::text)",
            &[database, &r.role],
        )
        .await?;
        run(
            admin,
            "SELECT format('CREATE SCHEMA IF NOT EXISTS %I AUTHORIZATION %I', $1::text, $2::text)",
            &[&r.schema, &r.role],
        )
        .await?;
        adopt_schema(admin, r).await?;
    }
    for r in roles {
        for other in roles.iter().filter(|o| o.schema != r.schema) {
            run(
                admin,
                "SELECT format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', $1::text, $2::text)",
                &[&other.schema, &r.role],
            )
            .await?;
            run(
                admin,
                "SELECT format('REVOKE ALL ON SCHEMA %I FROM %I', $1::text, $2::text)",
                &[&other.schema, &r.role],
            )
            .await?;
        }
    }
    Ok(())
}

/// A schema made before its role existed (the suite ran as one superuser) changes owner,
/// with every table and sequence in it, so the role can migrate it further.
async fn adopt_schema(admin: &PgPool, r: &ServiceRole) -> Result<(), DbError> {
    run(
        admin,
        "SELECT format('ALTER SCHEMA %I OWNER TO %I', $1::text, $2::text)",
        &[&r.schema, &r.role],
    )
    .await?;
    let statements: Vec<String> = sqlx::query_scalar(
        "SELECT format('ALTER %s %I.%I OWNER TO %I',
                       CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                       n.nspname, c.relname, $2::text)
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = $1 AND c.relkind IN ('r', 'p', 'S')
           AND pg_get_userbyid(c.relowner) <> $2
           AND NOT EXISTS (SELECT 1 FROM pg_depend d
                           WHERE d.objid = c.oid AND d.deptype IN ('a', 'i') AND c.relkind = 'S')",
    )
    .bind(&r.schema)
    .bind(&r.role)
    .fetch_all(admin)
    .await?;
    for statement in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(admin)
            .await?;
    }
    Ok(())
}

/// Runs the statement that `format_query` (a `SELECT format(...)` quoting every
/// identifier with `%I` and literal with `%L`) builds from `args`.
async fn run(admin: &PgPool, format_query: &'static str, args: &[&str]) -> Result<(), DbError> {
    let mut query = sqlx::query_scalar::<_, String>(format_query);
    for arg in args {
        query = query.bind(*arg);
    }
    let statement = query.fetch_one(admin).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(admin)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_service_role_comes_from_its_url() {
        let role = ServiceRole::from_url(
            "MEMBERHUB_COUPON_DATABASE_URL",
            "postgres://memberhub_coupon:s%40cret@db:5432/memberhub",
            "coupon",
        )
        .expect("a role URL");
        assert_eq!(role.role, "memberhub_coupon");
        assert_eq!(role.password.as_deref(), Some("s@cret"));
        assert_eq!(role.schema, "coupon");
    }

    #[test]
    fn a_url_without_its_own_role_is_refused_by_name() {
        for url in [
            "postgres://db/memberhub",
            "postgres://postgres@db/memberhub",
        ] {
            let refused = ServiceRole::from_url("X_URL", url, "coupon");
            assert!(refused.is_err_and(|e| e.name == "X_URL"), "{url}");
        }
    }
}
