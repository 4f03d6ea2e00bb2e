//! Query strings and path segments: an extractor whose rejections use the API's error
//! shape, and field parsers that name the field they refuse, so that one reply lists every
//! bad field.

use axum::extract::{FromRequestParts, Query};
use chrono::{DateTime, Utc};
use http::request::Parts;
use serde::de::{DeserializeOwned, IntoDeserializer};

use crate::error::{ApiError, FieldViolation};

/// Like `axum::extract::Query`, but a malformed query is INVALID_ARGUMENT with field `query`.
#[derive(Debug, Clone)]
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::invalid_field("query", &rejection.body_text()))
    }
}

/// Gathers the violations of a request's fields; [`FieldCheck::finish`] reports them all.
#[derive(Debug, Default)]
pub(crate) struct FieldCheck {
    violations: Vec<FieldViolation>,
}

impl FieldCheck {
    /// The parsed value, or the type's default once the violation is recorded.
    pub(crate) fn take<T: Default>(&mut self, parsed: Result<T, FieldViolation>) -> T {
        parsed.unwrap_or_else(|violation| {
            self.violations.push(violation);
            T::default()
        })
    }

    /// `value` when every field was good, else INVALID_ARGUMENT naming each bad one.
    pub(crate) fn finish<T>(self, value: T) -> Result<T, ApiError> {
        if self.violations.is_empty() {
            Ok(value)
        } else {
            Err(ApiError::invalid_fields(self.violations))
        }
    }
}

fn violation(field: &str, description: impl Into<String>) -> FieldViolation {
    FieldViolation {
        field: field.into(),
        description: description.into(),
    }
}

/// A present, non-blank value.
fn given(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|r| !r.is_empty())
}

/// An RFC 3339 instant (any offset, converted to UTC); absent or blank is `None`.
pub(crate) fn timestamp(
    field: &str,
    raw: Option<&str>,
) -> Result<Option<prost_types::Timestamp>, FieldViolation> {
    given(raw)
        .map(|r| {
            DateTime::parse_from_rfc3339(r)
                .map(|t| memberhub_kit::clock::to_timestamp(t.with_timezone(&Utc)))
                .map_err(|_| {
                    violation(
                        field,
                        "must be an RFC 3339 time such as 2025-06-01T00:00:00Z",
                    )
                })
        })
        .transpose()
}

/// One of an enum's short names (`CARD`, `STOREFRONT` ...); absent or blank is `None`.
pub(crate) fn enum_name<T: DeserializeOwned>(
    field: &str,
    raw: Option<&str>,
) -> Result<Option<T>, FieldViolation> {
    given(raw)
        .map(|r| {
            T::deserialize(r.into_deserializer())
                .map_err(|e: serde::de::value::Error| violation(field, e.to_string()))
        })
        .transpose()
}

/// A decimal `i32`; absent or blank is `None`.
pub(crate) fn integer(field: &str, raw: Option<&str>) -> Result<Option<i32>, FieldViolation> {
    given(raw)
        .map(|r| {
            r.parse::<i32>()
                .map_err(|_| violation(field, "must be a whole number"))
        })
        .transpose()
}

/// A required decimal `i32` path segment such as a level number.
pub(crate) fn path_integer(field: &str, raw: &str) -> Result<i32, ApiError> {
    integer(field, Some(raw))
        .and_then(|n| n.ok_or_else(|| violation(field, "required")))
        .map_err(|v| ApiError::invalid_fields(vec![v]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::views::JoinChannel;

    #[test]
    fn timestamps_accept_any_offset_and_name_the_field() {
        let parsed = timestamp("join_time_from", Some("2025-06-01T08:00:00+08:00"));
        assert_eq!(
            parsed.ok().flatten().map(|t| t.seconds),
            Some(1_748_736_000),
            "08:00 in Shanghai is midnight UTC"
        );
        assert_eq!(timestamp("t", Some("  ")).ok(), Some(None));
        let refused = timestamp("join_time_to", Some("yesterday")).err();
        assert_eq!(refused.map(|v| v.field), Some("join_time_to".to_string()));
    }

    #[test]
    fn enum_names_parse_short_upper_snake_names_only() {
        assert_eq!(
            enum_name::<JoinChannel>("join_channel", Some("CARD")).ok(),
            Some(Some(JoinChannel::Card))
        );
        let refused = enum_name::<JoinChannel>("join_channel", Some("JOIN_CHANNEL_CARD")).err();
        assert!(
            refused.is_some_and(|v| v.field == "join_channel" && v.description.contains("CARD")),
            "the proto name is not accepted and the error lists the names that are"
        );
    }

    #[test]
    fn field_check_reports_every_bad_field() {
        let mut check = FieldCheck::default();
        let page_size = check.take(integer("page_size", Some("ten")));
        let level = check.take(integer("level", Some("2")));
        let from = check.take(timestamp("join_time_from", Some("soon")));
        assert_eq!((page_size, level, from), (None, Some(2), None));
        let error = check.finish(()).err();
        let fields: Vec<String> = error
            .map(|e| {
                e.body
                    .field_violations
                    .into_iter()
                    .map(|v| v.field)
                    .collect()
            })
            .unwrap_or_default();
        assert_eq!(fields, ["page_size", "join_time_from"]);
    }

    #[test]
    fn path_integers_are_required_whole_numbers() {
        assert_eq!(path_integer("level", "3").ok(), Some(3));
        let error = path_integer("level", "three").err();
        assert_eq!(
            error.map(|e| e.body.field_violations[0].field.clone()),
            Some("level".to_string())
        );
    }
}
