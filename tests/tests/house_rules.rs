//! The house rules, checked over the workspace's sources (as rust-analyzer's `tidy`): each
//! failure names the file and line. Which RPCs need a route is checked by the gateway's
//! `every_rpc_is_routed_or_listed_as_grpc_only`; that each has a handler, by the compiler
//! (tonic's generated service traits have no default methods).

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
        "memberhub/tests",
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

/// The string literals of a Rust source that hold SQL, with the line each starts on.
fn sql_literals(text: &str) -> Vec<(usize, String)> {
    let literal = regex::Regex::new(r#"(?s)r#"(.*?)"\#|"((?:[^"\\]|\\.)*)""#).expect("valid regex");
    let statement = regex::Regex::new(r"\b(SELECT|INSERT|UPDATE|DELETE)\b").expect("valid regex");
    literal
        .captures_iter(text)
        .filter_map(|c| {
            let whole = c.get(0)?;
            let body = c.get(1).or_else(|| c.get(2))?.as_str();
            statement.is_match(body).then(|| {
                let line = text[..whole.start()].matches('\n').count() + 1;
                (line, body.to_string())
            })
        })
        .collect()
}

/// The tables `sql` names without a schema after FROM/JOIN/INTO/UPDATE (not its own CTEs,
/// functions such as `unnest(..)`, or the column of `EXTRACT(EPOCH FROM x)`).
fn unqualified_tables(sql: &str) -> Vec<String> {
    let table =
        regex::Regex::new(r"(?i:\b(?:FROM|JOIN|INTO|UPDATE))\s+([a-z_][a-z0-9_]*)(\s*\.|\()?")
            .expect("valid regex");
    let cte = regex::Regex::new(
        r"(?i)(?:\bWITH|,)\s+([a-z_][a-z0-9_]*)\s+AS\s+(?:MATERIALIZED\s+|NOT\s+MATERIALIZED\s+)?\(",
    )
    .expect("valid regex");
    let column_after =
        regex::Regex::new(r"(?i)\b(?:EPOCH|DISTINCT|YEAR|MONTH|DAY|HOUR)\s+FROM\s+$")
            .expect("valid regex");
    let own: Vec<String> = cte
        .captures_iter(sql)
        .map(|c| c[1].to_lowercase())
        .collect();
    let mut found = Vec::new();
    for c in table.captures_iter(sql) {
        let word = c[1].to_lowercase();
        let qualified_or_call = c.get(2).is_some();
        let keyword = ["set", "select", "lateral", "only"].contains(&word.as_str());
        let before = &sql[..c.get(1).map_or(0, |m| m.start())];
        if !(qualified_or_call || keyword || own.contains(&word) || column_after.is_match(before)) {
            found.push(word);
        }
    }
    found
}

#[test]
fn the_schema_check_finds_a_bare_table_and_passes_a_qualified_one() {
    assert_eq!(
        unqualified_tables("SELECT a FROM claims WHERE x"),
        ["claims"]
    );
    assert_eq!(
        unqualified_tables("INSERT INTO coupons (a) SELECT 1 FROM coupon.batches"),
        ["coupons"]
    );
    assert_eq!(unqualified_tables("UPDATE members SET a = 1"), ["members"]);
    assert_eq!(
        unqualified_tables("SELECT 1 FROM a.b JOIN c.d ON true"),
        Vec::<String>::new()
    );
    assert!(
        unqualified_tables(
            "WITH due AS (SELECT 1 FROM campaign.claims) \
             SELECT EXTRACT(EPOCH FROM t) FROM due, unnest($1::text[]) \
             ON CONFLICT (k) DO UPDATE SET a = 1"
        )
        .is_empty()
    );
}

#[test]
fn sql_names_the_schema_of_every_table() -> std::io::Result<()> {
    // An unqualified table is resolved by the search path: each service shares one
    // database with the others and owns one schema (X-4), so every statement names it.
    let mut found = Vec::new();
    for (name, text) in sources()? {
        if !name.contains("/src/store/") {
            continue;
        }
        for (line, sql) in sql_literals(&text) {
            for table in unqualified_tables(&sql) {
                found.push(format!("{name}:{line}: `{table}` in {}", sql.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "tables named without their schema:\n{}",
        found.join("\n")
    );
    Ok(())
}

/// Whether line `at` (0-based) sits inside a `loop`/`while`/`for` block: the lines that
/// open its enclosing blocks are found by their smaller indentation.
fn inside_a_loop(lines: &[&str], at: usize) -> bool {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut level = indent(lines[at]);
    for line in lines[..at].iter().rev() {
        if line.trim().is_empty() || indent(line) >= level {
            continue;
        }
        level = indent(line);
        let opener = line.trim();
        if opener.contains("loop {") || opener.starts_with("while ") || opener.starts_with("for ") {
            return true;
        }
        if opener.contains("fn ") || level == 0 {
            return false;
        }
    }
    false
}

/// The integration tests' sources.
fn test_sources() -> std::io::Result<Vec<(String, String)>> {
    Ok(sources()?
        .into_iter()
        .filter(|(name, _)| name.contains("/tests/") || name.starts_with("tests/"))
        .collect())
}

#[test]
fn tests_wait_for_conditions_not_for_time() -> std::io::Result<()> {
    // A sleep inside a loop paces a poll (which has its deadline). Anywhere else it is a
    // bet on timing, allowed only where time itself is the point (proving that something
    // does NOT happen): the comment right above says so.
    let mut found = Vec::new();
    for (name, text) in test_sources()? {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !line.contains("sleep(") || line.trim_start().starts_with("//") {
                continue;
            }
            let explained = lines[i.saturating_sub(2)..i]
                .iter()
                .any(|l| l.trim_start().starts_with("//"));
            if !inside_a_loop(&lines, i) && !explained {
                found.push(format!("{name}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "sleeps used as readiness (poll a condition with a deadline instead, or say above \
         why time is the point):\n{}",
        found.join("\n")
    );
    Ok(())
}

#[test]
fn integration_tests_keep_their_database_when_they_fail_by_an_error() -> std::io::Result<()> {
    // A test returning `anyhow::Result` drops its database before the harness reports the
    // `Err`; `TestResult` panics at the `?`, so the database is kept (kit::testing).
    let mut found = Vec::new();
    for (name, text) in test_sources()? {
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !(line.trim_start().starts_with("#[test]")
                || line.trim_start().starts_with("#[tokio::test"))
            {
                continue;
            }
            let signature: String = lines[i + 1..]
                .iter()
                .take_while(|l| !l.contains('{'))
                .chain(lines[i + 1..].iter().find(|l| l.contains('{')))
                .copied()
                .collect();
            if signature.contains("anyhow::Result") || signature.contains("-> Result<()>") {
                found.push(format!("{name}:{}: {}", i + 2, lines[i + 1].trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "integration tests return memberhub_kit::testing::TestResult:\n{}",
        found.join("\n")
    );
    Ok(())
}
