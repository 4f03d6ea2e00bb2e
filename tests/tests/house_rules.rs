//! The house rules, checked over the workspace's sources (as rust-analyzer's `tidy`): each
//! failure names the file and line. Which RPCs need a route is checked by the gateway's
//! `every_rpc_is_routed_or_listed_as_grpc_only`.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// The sources of the crates the rules cover: the services, the gateway and kit (not the
/// generated protobuf code, not `target/`).
fn sources() -> std::io::Result<Vec<(String, String)>> {
    let root = workspace();
    let mut files = Vec::new();
    for dir in [
        "kit/src",
        "membership-svc/src",
        "coupon-svc/src",
        "campaign-svc/src",
        "gateway/src",
        "memberhub/src",
        "kit/tests",
        "membership-svc/tests",
        "coupon-svc/tests",
        "campaign-svc/tests",
        "gateway/tests",
        "tests/tests",
    ] {
        rust_files(&root.join(dir), &mut files)?;
    }
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)?;
            let name = path
                .strip_prefix(&root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            Ok((name, text))
        })
        .collect()
}

/// The lines before a file's `#[cfg(test)]` module (unit tests keep their own rules).
fn non_test_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.lines()
        .enumerate()
        .take_while(|(_, line)| line.trim() != "#[cfg(test)]")
        .map(|(i, line)| (i + 1, line))
}

#[test]
fn sql_lives_in_store_modules_only() -> std::io::Result<()> {
    let mut found = Vec::new();
    for (name, text) in sources()? {
        // kit runs the administrator's DDL and the idempotency runner's statements; the
        // load generator seeds and measures its baselines; tests read tables to check.
        let exempt = name.starts_with("kit/")
            || name.starts_with("memberhub/src/loadgen/")
            || name.contains("/tests/")
            || name.contains("/store/");
        if exempt {
            continue;
        }
        for (n, line) in non_test_lines(&text) {
            if line.contains("sqlx::query") || line.contains("sqlx::raw_sql") {
                found.push(format!("{name}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "SQL outside store/:\n{}",
        found.join("\n")
    );
    Ok(())
}

#[test]
fn domain_and_store_read_time_from_the_clock_they_are_given() -> std::io::Result<()> {
    let mut found = Vec::new();
    for (name, text) in sources()? {
        if !(name.contains("/src/domain/") || name.contains("/src/store/")) {
            continue;
        }
        for (n, line) in non_test_lines(&text) {
            if line.contains("Utc::now()") || line.contains("SystemTime::now()") {
                found.push(format!("{name}:{n}: {}", line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "X-6: domain/ and store/ take the time as a parameter:\n{}",
        found.join("\n")
    );
    Ok(())
}

#[test]
fn comments_describe_the_code_not_its_history() -> std::io::Result<()> {
    const HISTORY: [&str; 7] = [
        "used to ",
        "previously",
        "this session",
        "no longer needed",
        "was changed",
        "we changed",
        "issue #",
    ];
    let mut found = Vec::new();
    for (name, text) in sources()? {
        for (i, line) in text.lines().enumerate() {
            let Some(comment) = line.split_once("//").map(|(_, c)| c.to_lowercase()) else {
                continue;
            };
            let numbered_issue = comment
                .split("issue ")
                .skip(1)
                .any(|rest| rest.starts_with(|c: char| c.is_ascii_digit()));
            if numbered_issue || HISTORY.iter().any(|h| comment.contains(h)) {
                found.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "comments that speak of issues or history:\n{}",
        found.join("\n")
    );
    Ok(())
}
