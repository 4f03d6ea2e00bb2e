//! the production binary refuses development defaults: it exits at start naming each
//! missing setting, and each secret shorter than 32 bytes.

const TRUSTED: &str = "gateway=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[test]
fn x1_the_binary_exits_naming_each_missing_setting() -> Result<(), String> {
    memberhub_kit::testing::assert_refuses_development_defaults(
        env!("CARGO_BIN_EXE_coupon-svc"),
        &[
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
            ("MEMBERHUB_INTERNAL_TRUSTED_KEYS", TRUSTED),
        ],
        &[],
    )
}
