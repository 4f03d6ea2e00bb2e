//! URLs a merchant enters (plain text goes through `memberhub_kit::input::text`).

use memberhub_kit::error::FieldViolation;

/// An absolute http(s) URL of at most 2048 bytes.
pub(crate) fn image_url(field: &str, raw: &str) -> Result<String, FieldViolation> {
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
    fn urls_must_be_absolute_http() {
        assert!(image_url("logo_url", "https://img.example.com/a.png").is_ok());
        assert!(image_url("logo_url", "ftp://x/a.png").is_err());
        assert!(image_url("logo_url", "https:///a.png").is_err());
        assert!(image_url("logo_url", "https://x/a b.png").is_err());
        assert!(image_url("logo_url", "").is_err());
    }
}
