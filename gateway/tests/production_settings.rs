//! the production binary refuses development defaults: it exits at start naming each
//! missing setting, and each secret shorter than 32 bytes.

const SEED: &str = "0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn x1_the_binary_exits_naming_each_missing_setting() -> Result<(), String> {
    memberhub_kit::testing::assert_refuses_development_defaults(
        env!("CARGO_BIN_EXE_gateway"),
        &[
            (
                "MEMBERHUB_JWT_SECRET",
                "a-jwt-secret-of-at-least-32-bytes!!",
            ),
            ("MEMBERHUB_INTERNAL_SIGNING_KEY", SEED),
        ],
        &["MEMBERHUB_JWT_SECRET", "MEMBERHUB_INTERNAL_SIGNING_KEY"],
    )
}
