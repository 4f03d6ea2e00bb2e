//! `memberhub dev` as a person runs it: its help lists every setting it passes on to the
//! services and the gateway, and `--test-clock` starts the suite on the sandbox clock and
//! prints the 30-day walk-through.

use memberhub_kit::testing::{TestDb, TestResult};

fn memberhub() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_memberhub"))
}

#[test]
fn memberhub_dev_help_lists_the_services_and_gateway_settings_it_passes_on() -> TestResult {
    let output = memberhub().args(["dev", "--help"]).output()?;
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{help}");
    for variable in [
        "DATABASE_URL",
        "MEMBERHUB_DB_POOL_SIZE",
        "MEMBERHUB_REQUEST_TIMEOUT_MS",
        "MEMBERHUB_JWT_SECRET",
        "MEMBERHUB_COMPOSE_DEADLINE_MS",
        "MEMBERHUB_TEST_CLOCK",
        "MEMBERHUB_SANDBOX_PORT",
    ] {
        assert!(
            help.contains(variable),
            "memberhub dev --help: {variable}\n{help}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn x6_memberhub_dev_with_test_clock_prints_the_30_day_walk_through() -> TestResult {
    memberhub_kit::telemetry::init_for_tests();
    let db = TestDb::new(&[
        &membership_svc::MIGRATOR,
        &coupon_svc::MIGRATOR,
        &campaign_svc::MIGRATOR,
    ])
    .await?;
    let mut dev = memberhub();
    dev.args(["dev", "--test-clock", "--exit-after-start"]);
    for port in [
        "--membership-port",
        "--coupon-port",
        "--campaign-port",
        "--gateway-port",
        "--sandbox-port",
    ] {
        dev.args([port, "0"]);
    }
    let output = dev.env("DATABASE_URL", &db.url).output()?;
    let guide = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{guide}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        guide.contains("Sandbox clock (X-6, --test-clock)"),
        "{guide}"
    );
    assert!(guide.contains("SandboxService/GetClock"), "{guide}");
    assert!(
        guide.contains("/api/platform/v1/sandbox/clock/advance"),
        "{guide}"
    );
    Ok(())
}
