//! the production binary refuses development defaults: it exits at start naming each
//! missing setting, and each secret shorter than 32 bytes.

const SEED: &str = "0000000000000000000000000000000000000000000000000000000000000001";
const TRUSTED: &str = "gateway=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

#[test]
fn x1_the_binary_exits_naming_each_missing_setting() -> Result<(), String> {
    memberhub_kit::testing::assert_refuses_development_defaults(
        env!("CARGO_BIN_EXE_coupon-svc"),
        &[
            ("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none"),
            ("MEMBERHUB_INTERNAL_TRUSTED_KEYS", TRUSTED),
            ("MEMBERHUB_INTERNAL_SIGNING_KEY", SEED),
            ("MEMBERHUB_MEMBERSHIP_URL", "http://127.0.0.1:1"),
        ],
        &["MEMBERHUB_INTERNAL_SIGNING_KEY"],
    )
}
