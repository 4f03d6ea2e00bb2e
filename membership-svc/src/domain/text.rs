//! Shared checks for user-entered text and URLs.

use memberhub_kit::error::FieldViolation;

/// A display name of `min..=max` characters (characters, not bytes), trimmed, with no
/// control characters.
pub fn display_name(
    field: &str,
    raw: &str,
    min: usize,
    max: usize,
) -> Result<String, FieldViolation> {
    let name = raw.trim();
    let count = name.chars().count();
    if count < min || count > max {
        return Err(FieldViolation::new(
            field,
            format!("must be {min} to {max} characters, got {count}"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldViolation::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(name.to_string())
}

/// An absolute http(s) URL of at most 2048 bytes.
pub fn image_url(field: &str, raw: &str) -> Result<String, FieldViolation> {
    let raw = raw.trim();
    let valid = raw.len() <= 2048
        && (raw.starts_with("https://") || raw.starts_with("http://"))
        && raw.split_once("://").is_some_and(|(_, rest)| {
            let host = rest.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !rest.chars().any(|c| c.is_whitespace() || c.is_control())
        });
    if valid {
        Ok(raw.to_string())
    } else {
        Err(FieldViolation::new(
            field,
            "must be an absolute http(s) URL",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mp3_names_count_characters_not_bytes() {
        // 20 Chinese characters are 60 bytes and still a valid card name.
        let twenty = "会".repeat(20);
        assert_eq!(display_name("card_name", &twenty, 1, 20).ok(), Some(twenty));
        assert!(display_name("card_name", &"会".repeat(21), 1, 20).is_err());
        assert!(display_name("card_name", "   ", 1, 20).is_err());
        assert!(display_name("card_name", "a\u{7}b", 1, 20).is_err());
    }

    #[test]
    fn urls_must_be_absolute_http() {
        assert!(image_url("logo_url", "https://img.example.com/a.png").is_ok());
        assert!(image_url("logo_url", "ftp://x/a.png").is_err());
        assert!(image_url("logo_url", "https:///a.png").is_err());
        assert!(image_url("logo_url", "https://x/a b.png").is_err());
        assert!(image_url("logo_url", "").is_err());
    }
}
