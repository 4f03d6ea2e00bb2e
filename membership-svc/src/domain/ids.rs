//! Identifiers: built only by parsing at the edge.

use std::fmt;

use memberhub_kit::error::FieldViolation;
use uuid::Uuid;

/// A shop's id (UUIDv7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ShopId(Uuid);

impl ShopId {
    pub fn new() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldViolation> {
        Uuid::parse_str(raw.trim())
            .map(Self)
            .map_err(|_| FieldViolation::new(field, "must be a shop id (UUID)"))
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl From<Uuid> for ShopId {
    fn from(id: Uuid) -> Self {
        Self(id)
    }
}

impl Default for ShopId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for ShopId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A shopper's marketplace account id: opaque, 1..64 printable characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct UserId(String);

impl UserId {
    pub(crate) fn parse(field: &str, raw: &str) -> Result<Self, FieldViolation> {
        let raw = raw.trim();
        if raw.is_empty() || raw.len() > 64 || !raw.chars().all(|c| c.is_ascii_graphic()) {
            return Err(FieldViolation::new(
                field,
                "must be a user id of 1 to 64 printable ASCII characters",
            ));
        }
        Ok(Self(raw.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}
