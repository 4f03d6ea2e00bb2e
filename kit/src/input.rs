//! the checks every service applies to what a caller sends, so that bad input is
//! INVALID_ARGUMENT naming the field, never a database error (Postgres refuses a NUL in
//! text) and never silently stored (a bell character in a name) or silently ignored (an
//! enum number this build does not know).

use crate::error::FieldViolation;

/// A required single-line text of 1 to `max_chars` characters, trimmed.
///
/// Length counts characters (`char`s), not bytes: a CJK character or an emoji is one. No
/// control character (Unicode `Cc`, NUL included) is allowed anywhere, before or after
/// trimming, so a trailing newline is refused rather than quietly cut off.
pub fn text(field: &str, raw: &str, max_chars: usize) -> Result<String, FieldViolation> {
    match optional_text(field, raw, max_chars)? {
        Some(text) => Ok(text),
        None => Err(FieldViolation::new(field, "is required")),
    }
}

/// Like [`text`], but empty (or only spaces) means "not given": `Ok(None)`.
pub fn optional_text(
    field: &str,
    raw: &str,
    max_chars: usize,
) -> Result<Option<String>, FieldViolation> {
    if raw.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    // Counting stops one past the limit, so a huge input costs no more than the limit.
    if trimmed.chars().take(max_chars + 1).count() > max_chars {
        return Err(FieldViolation::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(Some(trimmed.to_string()))
}

/// A caller-set protobuf enum field. prost keeps a number it does not know as the raw
/// `i32` (and its accessor silently reads it as the default), so every enum a caller sets
/// goes through here: an unknown number is a violation naming the field. The zero value
/// (`..._UNSPECIFIED`) is returned as is; whether it means "no filter", "the default" or
/// "missing" is the caller's rule.
pub fn enumeration<E: TryFrom<i32>>(field: &str, raw: i32) -> Result<E, FieldViolation> {
    E::try_from(raw).map_err(|_| FieldViolation::new(field, format!("{raw} is not a known value")))
}

/// The default page size of every List RPC (`page_size` 0).
pub const DEFAULT_PAGE_SIZE: i32 = 50;
/// The largest page size of every List RPC.
pub const MAX_PAGE_SIZE: i32 = 200;

/// A List RPC's `page_size`: 0 means [`DEFAULT_PAGE_SIZE`], else 1 to [`MAX_PAGE_SIZE`].
pub fn page_size(field: &str, raw: i32) -> Result<i64, FieldViolation> {
    match raw {
        0 => Ok(i64::from(DEFAULT_PAGE_SIZE)),
        1..=MAX_PAGE_SIZE => Ok(i64::from(raw)),
        _ => Err(FieldViolation::new(
            field,
            format!("must be 1 to {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"),
        )),
    }
}

/// A repeated field of at most `max` entries.
pub fn at_most<T>(field: &str, items: &[T], max: usize) -> Result<(), FieldViolation> {
    if items.len() > max {
        return Err(FieldViolation::new(
            field,
            format!("must have at most {max} entries, got {}", items.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn x3_a_nul_or_a_bell_anywhere_is_refused_naming_the_field() {
        for raw in [
            "a\0b",
            "\0",
            "gift\u{7}",
            " \u{7} x",
            "x\n",
            "\u{85}x",
            "a\u{7f}",
        ] {
            let refused = text("gift.name", raw, 10).err();
            assert_eq!(
                refused.map(|v| v.field),
                Some("gift.name".to_string()),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn x3_required_text_is_trimmed_and_empty_is_missing() {
        assert_eq!(text("f", "  会员  ", 2).ok(), Some("会员".to_string()));
        assert!(text("f", "   ", 2).is_err());
        assert_eq!(optional_text("f", "  ", 2).ok(), Some(None));
    }

    #[test]
    fn x3_an_unknown_enum_number_is_refused_naming_the_field() {
        #[derive(Debug, PartialEq)]
        struct Known(i32);
        impl TryFrom<i32> for Known {
            type Error = ();
            fn try_from(raw: i32) -> Result<Self, ()> {
                (0..=2).contains(&raw).then_some(Known(raw)).ok_or(())
            }
        }
        assert_eq!(enumeration::<Known>("state", 2).ok(), Some(Known(2)));
        let refused = enumeration::<Known>("state", 99).err();
        assert_eq!(refused.map(|v| v.field), Some("state".to_string()));
    }

    #[test]
    fn x3_page_sizes_are_bounded_and_zero_is_the_default() {
        assert_eq!(page_size("page_size", 0).ok(), Some(50));
        assert_eq!(page_size("page_size", 200).ok(), Some(200));
        assert!(page_size("page_size", 201).is_err());
        assert!(page_size("page_size", -1).is_err());
    }

    /// Printable text: letters of many scripts, combining marks, emoji, CJK, spaces.
    fn printable() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 \u{300}-\u{36f}\u{4e00}-\u{9fff}\u{1f600}-\u{1f64f}\u{e9}\u{5d0}-\u{5ea}]{0,40}"
    }

    proptest! {
        #[test]
        fn x3_a_control_character_anywhere_is_refused(
            before in printable(),
            after in printable(),
            control in prop_oneof![
                prop::char::range('\0', '\u{1f}'),
                prop::char::range('\u{7f}', '\u{9f}'),
            ],
        ) {
            let raw = format!("{before}{control}{after}");
            prop_assert!(text("f", &raw, 10_000).is_err());
            prop_assert!(optional_text("f", &raw, 10_000).is_err());
        }

        #[test]
        fn x3_printable_text_is_accepted_and_counted_in_characters(raw in printable()) {
            let trimmed = raw.trim();
            let chars = trimmed.chars().count();
            match optional_text("f", &raw, chars.max(1)) {
                Ok(Some(kept)) => prop_assert_eq!(kept.as_str(), trimmed),
                Ok(None) => prop_assert!(trimmed.is_empty()),
                Err(v) => prop_assert!(false, "refused {:?}: {:?}", raw, v),
            }
            if chars > 1 {
                prop_assert!(optional_text("f", &raw, chars - 1).is_err());
            }
        }

        #[test]
        fn x3_ten_thousand_characters_are_bounded_by_the_limit(
            c in prop::sample::select(vec!['a', '会', '😀', 'é']),
        ) {
            let raw: String = std::iter::repeat_n(c, 10_000).collect();
            prop_assert!(text("f", &raw, 9_999).is_err());
            prop_assert!(text("f", &raw, 200).is_err());
            prop_assert_eq!(text("f", &raw, 10_000).map(|t| t.chars().count()).ok(), Some(10_000));
            prop_assert!(text("f", &raw, 20_000).is_ok());
        }

        #[test]
        fn x3_combining_marks_count_as_their_own_characters(n in 1usize..20) {
            // "e" followed by n combining acute accents: n + 1 characters.
            let raw: String = std::iter::once('e').chain(std::iter::repeat_n('\u{301}', n)).collect();
            prop_assert!(text("f", &raw, n + 1).is_ok());
            prop_assert!(text("f", &raw, n).is_err());
        }

        #[test]
        fn x3_the_validator_never_panics(raw in any::<String>(), max in 0usize..64) {
            let _ = text("f", &raw, max);
            let _ = optional_text("f", &raw, max);
        }
    }
}
