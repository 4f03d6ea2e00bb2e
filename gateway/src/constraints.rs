//! X-3: the patterns the OpenAPI document publishes for request fields, so that a client
//! (or schemathesis) knows what the services accept before it sends it.
//!
//! utoipa takes only literals in `#[schema(pattern = ...)]` and `#[param(...)]`, so the
//! attributes repeat these strings; `openapi::tests` checks that every pattern in the
//! document is one of them, and the tests here check them against the validators they
//! stand for (the kit's text rules, chrono's calendar) or against examples. Lengths are literals too, each beside a comment naming the service constant
//! it copies (the end-to-end tests compare them).
//!
//! JSON Schema counts `maxLength` in characters, as `memberhub_kit::input` does, but it
//! cannot trim: the services trim surrounding spaces before they count, so the published
//! limit is slightly stricter than the service for text padded with spaces.

/// `memberhub_kit::input::optional_text`: no control character (Unicode `Cc`); may be
/// empty or blank.
pub const TEXT: &str = r"^[^\u0000-\u001f\u007f-\u009f]*$";

/// `memberhub_kit::input::text`: no control character, and at least one character that is
/// neither a control nor white space (Rust's `char::is_whitespace`, which `str::trim` cuts).
pub const REQUIRED_TEXT: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u001f\u007f-\u009f]*$";

/// `memberhub_kit::input::text` with a limit of 30, exactly: 1 to 30 characters once
/// surrounding white space is trimmed. For the one field a service stores as sent (an
/// exchange item's title), where a `maxLength` on the untrimmed text would not hold for
/// what the service later returns.
pub const REQUIRED_TEXT_30_TRIMMED: &str = r"^[\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:[^\u0000-\u001f\u007f-\u009f]{0,28}[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\u0020\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// A user or order id: printable ASCII without spaces (membership-svc `UserId`,
/// `OrderEvent::check_order_id`, coupon-svc's opaque ids); the length is a `maxLength`.
pub const ASCII_ID: &str = r"^[!-~]+$";

/// membership-svc `text::image_url`: an absolute http(s) URL with a host and no white space
/// or control character. The service counts its 2048 limit in bytes; the published
/// `maxLength` counts characters, which is the same for the usual ASCII (percent-encoded) URL.
pub const IMAGE_URL: &str = r"^https?://[^/?#\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$";

/// [`IMAGE_URL`], or empty: a level card image's "restore the platform default".
pub const IMAGE_URL_OR_EMPTY: &str = r"^(?:https?://[^/?#\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000][^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*)?$";

/// membership-svc `sms::Phone`: an 11-digit mainland mobile number starting with 1,
/// optionally after `+86`, with spaces or hyphens anywhere between the digits.
pub const PHONE: &str = r"^(?:\+86)?[- ]*1(?:[- ]*[0-9]){10}[- ]*$";

/// membership-svc `sms::parse_code`: the 6-digit code, or empty when the shop does not
/// verify by SMS (MP-4).
pub const SMS_CODE_OR_EMPTY: &str = r"^(?:[0-9]{6})?$";

/// A profile birthday: empty, or a calendar date `YYYY-MM-DD` (leap days included). The
/// service's date parser also takes unpadded forms such as `2025-6-1`; this is the form
/// the API documents.
pub const DATE_OR_EMPTY: &str = r"^(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)?$";

/// A coupon batch key as coupon-svc makes them (CP-1): `BA_` and 7 lower-case base32
/// characters (campaign-svc `BatchKey::parse`).
pub const BATCH_KEY: &str = r"^BA_[a-z2-7]{7}$";

/// [`BATCH_KEY`], or empty for "none".
pub const BATCH_KEY_OR_EMPTY: &str = r"^(?:BA_[a-z2-7]{7})?$";

/// A points-for-coupon item's target as membership-svc checks it (LV-6): `BA_` and 7 more
/// bytes; published as 7 printable ASCII characters, the last not a space (the service
/// trims).
pub const EXCHANGE_BATCH_KEY: &str = r"^BA_[ -~]{6}[!-~]$";

/// A batch named in a path: its id (a UUID) or its key (coupon-svc `BatchRef::parse`).
pub const BATCH_ID_OR_KEY: &str = r"^(?:[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}|BA_[a-z2-7]{7})$";

/// Every pattern above: the only ones the document may publish.
pub const ALL: [&str; 13] = [
    TEXT,
    REQUIRED_TEXT,
    REQUIRED_TEXT_30_TRIMMED,
    ASCII_ID,
    IMAGE_URL,
    IMAGE_URL_OR_EMPTY,
    PHONE,
    SMS_CODE_OR_EMPTY,
    DATE_OR_EMPTY,
    BATCH_KEY,
    BATCH_KEY_OR_EMPTY,
    EXCHANGE_BATCH_KEY,
    BATCH_ID_OR_KEY,
];

#[cfg(test)]
mod tests {
    use memberhub_kit::input;
    use proptest::prelude::*;
    use regex::Regex;

    use super::*;

    fn compiled(pattern: &str) -> Regex {
        Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
    }

    /// The schema's view of a text field: `pattern` plus `maxLength` in characters.
    fn schema_accepts(pattern: &Regex, max: usize, raw: &str) -> bool {
        pattern.is_match(raw) && raw.chars().count() <= max
    }

    /// Text of every kind the validators care about: controls, every white space `trim`
    /// cuts, the BOM (not white space to Rust), CJK, emoji, combining marks.
    fn any_text() -> impl Strategy<Value = String> {
        let c = prop_oneof![
            prop::char::range('a', 'e'),
            Just(' '),
            prop::sample::select(vec![
                '\t', '\n', '\r', '\u{b}', '\u{c}', '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}',
                '\u{200a}', '\u{2028}', '\u{2029}', '\u{202f}', '\u{205f}', '\u{3000}', '\u{feff}',
                '\u{200b}', '\0', '\u{7}', '\u{1f}', '\u{7f}', '\u{9f}', '会', '😀', '\u{301}',
                'é',
            ]),
        ];
        prop::collection::vec(c, 0..40).prop_map(|cs| cs.into_iter().collect())
    }

    #[test]
    fn every_pattern_compiles() {
        for pattern in ALL {
            compiled(pattern);
        }
    }

    proptest! {
        /// What the schema calls valid, the service accepts; and what the service keeps
        /// (the trimmed text) the schema calls valid, so replies echoing it conform.
        #[test]
        fn x3_required_text_agrees_with_the_kit(raw in any_text(), max in 1usize..12) {
            let pattern = compiled(REQUIRED_TEXT);
            let kept = input::text("f", &raw, max);
            if schema_accepts(&pattern, max, &raw) {
                prop_assert!(kept.is_ok(), "schema accepts {raw:?} (max {max}), kit refuses");
            }
            if let Ok(kept) = kept {
                prop_assert!(schema_accepts(&pattern, max, &kept), "kit keeps {kept:?}");
            }
        }

        #[test]
        fn x3_optional_text_agrees_with_the_kit(raw in any_text(), max in 1usize..12) {
            let pattern = compiled(TEXT);
            let kept = input::optional_text("f", &raw, max);
            if schema_accepts(&pattern, max, &raw) {
                prop_assert!(kept.is_ok(), "schema accepts {raw:?} (max {max}), kit refuses");
            }
            if let Ok(kept) = kept {
                let kept = kept.unwrap_or_default();
                prop_assert!(schema_accepts(&pattern, max, &kept), "kit keeps {kept:?}");
            }
        }

        /// The trimmed-length pattern is the kit's rule exactly, untrimmed text included.
        #[test]
        fn x3_the_trimmed_title_pattern_is_the_kit_rule(raw in any_text(), pad in 0usize..4) {
            let pattern = compiled(REQUIRED_TEXT_30_TRIMMED);
            prop_assert_eq!(pattern.is_match(&raw), input::text("f", &raw, 30).is_ok(), "{:?}", raw);
            // Long enough to reach the limit, padded with spaces the kit trims.
            let long = format!("{}{raw}{raw}{}", " ".repeat(pad), "\u{3000}".repeat(pad));
            prop_assert_eq!(pattern.is_match(&long), input::text("f", &long, 30).is_ok(), "{:?}", long);
        }
    }

    #[test]
    fn x3_the_trimmed_title_pattern_counts_30_characters_inside_the_padding() {
        let pattern = compiled(REQUIRED_TEXT_30_TRIMMED);
        assert!(pattern.is_match(&format!("  {}  ", "会".repeat(30))));
        assert!(!pattern.is_match(&"a".repeat(31)));
        assert!(!pattern.is_match("   "));
    }

    #[test]
    fn x3_phones_and_codes_take_the_forms_membership_accepts() {
        let phone = compiled(PHONE);
        for ok in [
            "13800138000",
            "+86 138-0013-8000",
            "+8613800138000",
            "138 0013 8000",
        ] {
            assert!(phone.is_match(ok), "{ok}");
        }
        for bad in [
            "23800138000",
            "1380013800",
            "138001380000",
            "+1 13800138000",
            "１3800138000",
        ] {
            assert!(!phone.is_match(bad), "{bad}");
        }
        let code = compiled(SMS_CODE_OR_EMPTY);
        assert!(code.is_match("") && code.is_match("012345"));
        assert!(!code.is_match("12345") && !code.is_match("1234567") && !code.is_match("12345a"));
    }

    #[test]
    fn x3_birthdays_are_calendar_dates() {
        let date = compiled(DATE_OR_EMPTY);
        for ok in [
            "",
            "2025-06-01",
            "2024-02-29",
            "2000-02-29",
            "1999-12-31",
            "2025-04-30",
        ] {
            assert!(date.is_match(ok), "{ok}");
            assert!(
                ok.is_empty() || chrono::NaiveDate::parse_from_str(ok, "%Y-%m-%d").is_ok(),
                "{ok}"
            );
        }
        for bad in [
            "2023-02-29",
            "1900-02-29",
            "2025-04-31",
            "2025-13-01",
            "2025-6-1",
            "x",
        ] {
            assert!(!date.is_match(bad), "{bad}");
        }
    }

    /// Every date the pattern accepts in four years around a century is one the service's
    /// parser accepts, and the other way round for padded dates.
    #[test]
    fn x3_the_date_pattern_is_the_calendar() {
        let date = compiled(DATE_OR_EMPTY);
        for year in [1899, 1900, 1999, 2000, 2023, 2024] {
            for month in 1..=12 {
                for day in 1..=31 {
                    let raw = format!("{year:04}-{month:02}-{day:02}");
                    let parsed = chrono::NaiveDate::parse_from_str(&raw, "%Y-%m-%d").is_ok();
                    assert_eq!(date.is_match(&raw), parsed, "{raw}");
                }
            }
        }
    }

    #[test]
    fn x3_urls_take_the_form_membership_accepts() {
        let url = compiled(IMAGE_URL);
        for ok in [
            "https://img.example.com/a.png",
            "http://x",
            "https://x/a?b#c",
        ] {
            assert!(url.is_match(ok), "{ok}");
        }
        for bad in [
            "",
            "ftp://x/a.png",
            "https:///a.png",
            "https://x/a b.png",
            "https://x/\u{3000}",
        ] {
            assert!(!url.is_match(bad), "{bad}");
        }
        let or_empty = compiled(IMAGE_URL_OR_EMPTY);
        assert!(or_empty.is_match("") && or_empty.is_match("https://x/a.png"));
    }

    #[test]
    fn x3_batch_keys_and_ids() {
        let key = compiled(BATCH_KEY);
        assert!(key.is_match("BA_zv2bmpn"));
        for bad in ["BA_zv2bmp", "BA_ZV2BMPN", "BA_zv2bmp1", "ba_zv2bmpn"] {
            assert!(!key.is_match(bad), "{bad}");
        }
        let reference = compiled(BATCH_ID_OR_KEY);
        assert!(reference.is_match("BA_zv2bmpn"));
        assert!(reference.is_match("0197a5b0-0000-7000-8000-000000000001"));
        assert!(!reference.is_match("batch-1"));
        let target = compiled(EXCHANGE_BATCH_KEY);
        assert!(target.is_match("BA_zv2bmpn") && !target.is_match("BA_zv2bmp "));
        assert!(compiled(ASCII_ID).is_match("u-1") && !compiled(ASCII_ID).is_match("u 1"));
    }
}
