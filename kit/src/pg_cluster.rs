//! A private Postgres cluster under `target/`, for machines with the server binaries
//! installed but no server answering. Created with `initdb`, run with `pg_ctl`.
//! `initdb` refuses to run as root: as root we run the binaries as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The cluster could not be created or started.
#[derive(Debug, thiserror::Error)]
#[error("private Postgres cluster at {dir}: {message}")]
pub struct ClusterError {
    pub dir: PathBuf,
    pub message: String,
}

/// A cluster in `dir`, listening on 127.0.0.1:`port`.
#[derive(Debug, Clone)]
pub struct PrivateCluster {
    pub dir: PathBuf,
    pub port: u16,
    bin_dir: PathBuf,
}

impl PrivateCluster {
    /// The directory holding `initdb` and `pg_ctl`: on PATH, else the newest
    /// `/usr/lib/postgresql/*/bin`.
    pub fn find_binaries() -> Option<PathBuf> {
        let on_path = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .find(|dir| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file())
        });
        on_path.or_else(|| {
            let mut candidates: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
                .ok()?
                .filter_map(|entry| {
                    let entry = entry.ok()?;
                    let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                    let bin = entry.path().join("bin");
                    bin.join("initdb").is_file().then_some((version, bin))
                })
                .collect();
            candidates.sort();
            candidates.pop().map(|(_, bin)| bin)
        })
    }

    /// A cluster in `dir`, or, when running as root and `postgres` could not reach `dir`
    /// (a clone in a home directory only its owner may enter, such as root's `0700` one), in
    /// a directory of the same name under the system's temporary directory, which it can.
    pub fn new(dir: impl Into<PathBuf>, port: u16, bin_dir: PathBuf) -> Self {
        Self {
            dir: reachable_by_postgres(dir.into()),
            port,
            bin_dir,
        }
    }

    /// The connection URL of the cluster's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Creates the cluster if needed and starts it if it is not running.
    pub fn ensure_started(&self) -> Result<String, ClusterError> {
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| self.error(format!("cannot create directory: {e}")))?;
        if !self.data_dir().join("PG_VERSION").is_file() {
            self.init()?;
        }
        if !self.is_running() {
            self.start()?;
        }
        Ok(self.url())
    }

    fn init(&self) -> Result<(), ClusterError> {
        self.hand_to_postgres_user(&self.dir)?;
        let data = self.data_dir();
        self.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        )
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) -> Result<(), ClusterError> {
        let data = self.data_dir();
        let log = self.dir.join("postgres.log");
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300",
            // fsync=off: a crash of postgres (not of the OS) loses nothing; commits stay synchronous
            self.port,
            path_str(&self.dir)?
        );
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&log)?,
                "-o",
                &options,
                "-w",
                "start",
            ],
        )
    }

    /// Stops the server at once, as a crash would (used by fault tests).
    pub fn stop_immediately(&self) -> Result<(), ClusterError> {
        let data = self.data_dir();
        self.run(
            "pg_ctl",
            &["-D", path_str(&data)?, "-m", "immediate", "-w", "stop"],
        )
    }

    /// Is a postmaster running for this data directory?
    pub fn is_running(&self) -> bool {
        let data = self.data_dir();
        path_str(&data).is_ok_and(|data| self.run("pg_ctl", &["-D", data, "status"]).is_ok())
    }

    fn run(&self, program: &str, args: &[&str]) -> Result<(), ClusterError> {
        let binary = self.bin_dir.join(program);
        let mut command = if running_as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| self.error(format!("cannot run {program}: {e}")))?;
        if output.status.success() {
            Ok(())
        } else {
            let stderr = String::from_utf8_lossy(&output.stderr);
            Err(self.error(format!("{program} failed: {}", stderr.trim())))
        }
    }

    /// As root, the cluster's files must belong to `postgres`.
    fn hand_to_postgres_user(&self, dir: &Path) -> Result<(), ClusterError> {
        if !running_as_root() {
            return Ok(());
        }
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir)
            .status()
            .map_err(|e| self.error(format!("cannot run chown: {e}")))?;
        if status.success() {
            Ok(())
        } else {
            Err(self.error("chown to postgres failed".into()))
        }
    }

    fn error(&self, message: String) -> ClusterError {
        ClusterError {
            dir: self.dir.clone(),
            message,
        }
    }
}

fn path_str(path: &Path) -> Result<&str, ClusterError> {
    path.to_str().ok_or_else(|| ClusterError {
        dir: path.into(),
        message: "path is not UTF-8".into(),
    })
}

/// `dir` if every existing ancestor lets others through (mode `o+x`) or we are not root;
/// else `<tmp>/memberhub-pg-<hash of dir>/<last component>`.
fn reachable_by_postgres(dir: PathBuf) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let blocked = dir.ancestors().skip(1).any(|ancestor| {
        std::fs::metadata(ancestor).is_ok_and(|m| m.permissions().mode() & 0o001 == 0)
    });
    if !blocked || !running_as_root() {
        return dir;
    }
    use sha2::Digest;
    let hash = hex::encode(&sha2::Sha256::digest(dir.to_string_lossy().as_bytes())[..6]);
    let name = dir
        .file_name()
        .map_or_else(|| "cluster".into(), |n| n.to_string_lossy().into_owned());
    std::env::temp_dir()
        .join(format!("memberhub-pg-{hash}"))
        .join(name)
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}
