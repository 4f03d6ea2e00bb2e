//! Identifiers, keys and codes: built only by parsing at the edge (or minted here).

use std::fmt;

use memberhub_kit::error::FieldViolation;

memberhub_kit::uuid_id!(
    /// A shop's id (owned by membership-svc; coupon-svc only refers to it).
    pub(crate) ShopId,
    "a shop id"
);
memberhub_kit::uuid_id!(
    /// A coupon batch's id.
    pub(crate) BatchId,
    "a batch id"
);
memberhub_kit::uuid_id!(
    /// An allocation's id (CP-4).
    pub(crate) AllocationId,
    "an allocation id"
);
memberhub_kit::uuid_id!(
    /// An issued coupon's id.
    pub(crate) CouponId,
    "a coupon id"
);
memberhub_kit::uuid_id!(
    /// One issue: the per_issue_count coupons granted by one claim.
    pub(crate) IssueId,
    "an issue id"
);

/// An opaque text id of 1..=max printable ASCII characters.
fn opaque(field: &str, raw: &str, what: &str, max: usize) -> Result<String, FieldViolation> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > max || !raw.chars().all(|c| c.is_ascii_graphic()) {
        return Err(FieldViolation::new(
            field,
            format!("must be {what} of 1 to {max} printable ASCII characters"),
        ));
    }
    Ok(raw.to_string())
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub(crate) struct $name(String);

        impl $name {
            pub(crate) fn parse(field: &str, raw: &str) -> Result<Self, FieldViolation> {
                opaque(field, raw, $what, $max).map(Self)
            }

            pub(crate) fn as_str(&self) -> &str {
                &self.0
            }

            /// A value read back from our own table (already valid when written).
            #[allow(dead_code, reason = "not every id is read back from a table")]
            pub(crate) fn from_db(raw: String) -> Self {
                Self(raw)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

text_id!(
    /// A shopper's marketplace account id.
    UserId,
    "a user id",
    64
);
text_id!(
    /// The commerce platform's order id.
    OrderId,
    "an order id",
    64
);
text_id!(
    /// A campaign claim (campaign-svc's saga), for GP-2's one issue per claim.
    ClaimId,
    "a claim id",
    128
);
text_id!(
    /// Who holds an allocation, e.g. a campaign id.
    Holder,
    "a holder",
    128
);

/// RFC 4648 base32 alphabet in lower case.
const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// `n` base32 characters of `bits` (low bits first).
fn base32(mut bits: u64, n: usize) -> String {
    (0..n)
        .map(|_| {
            let c = BASE32[(bits & 31) as usize] as char;
            bits >>= 5;
            c
        })
        .collect()
}

/// A batch's copyable key: `BA_` + 7 lowercase base32 characters, e.g. `BA_zv2bmpn`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BatchKey(String);

impl BatchKey {
    /// A random key; the store retries on the (rare) collision.
    pub(crate) fn random() -> Self {
        Self(format!("BA_{}", base32(memberhub_kit::random::u64(), 7)))
    }

    /// A key as a caller typed it; `None` when it is not shaped like one.
    pub(crate) fn parse(raw: &str) -> Option<Self> {
        let raw = raw.trim();
        let body = raw.strip_prefix("BA_")?;
        let valid = body.len() == 7 && body.bytes().all(|b| BASE32.contains(&b));
        valid.then(|| Self(raw.to_string()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    pub(crate) fn from_db(raw: String) -> Self {
        Self(raw)
    }
}

impl fmt::Display for BatchKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A batch named by id or by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BatchRef {
    Id(BatchId),
    Key(BatchKey),
}

impl BatchRef {
    pub(crate) fn parse(field: &str, raw: &str) -> Result<Self, FieldViolation> {
        if let Some(key) = BatchKey::parse(raw) {
            return Ok(BatchRef::Key(key));
        }
        BatchId::parse(field, raw).map(BatchRef::Id).map_err(|_| {
            FieldViolation::new(field, "must be a batch id (UUID) or key (BA_xxxxxxx)")
        })
    }
}

/// A coupon's own code: 16 upper-case base32 characters (60 random bits from the OS plus
/// 16 bits of the coupon's id), unique by constraint.
pub(crate) fn coupon_code(coupon: CouponId) -> String {
    let id = coupon.as_uuid().into_bytes();
    let extra = u64::from(u16::from_le_bytes([id[14], id[15]]));
    let text = format!(
        "{}{}",
        base32(memberhub_kit::random::u64(), 12),
        base32(extra, 4)
    );
    text.to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cp1_batch_keys_are_ba_and_seven_lowercase_base32() {
        for _ in 0..1000 {
            let key = BatchKey::random();
            assert_eq!(key.as_str().len(), 10, "{key}");
            assert_eq!(BatchKey::parse(key.as_str()), Some(key.clone()));
        }
        assert_eq!(
            BatchKey::parse("BA_zv2bmpn").map(|k| k.0),
            Some("BA_zv2bmpn".into())
        );
        assert!(BatchKey::parse("BA_zv2bmp").is_none());
        assert!(BatchKey::parse("BA_ZV2BMPN").is_none());
        assert!(BatchKey::parse("BA_zv2bmp1").is_none());
        assert!(BatchKey::parse("XX_zv2bmpn").is_none());
    }

    #[test]
    fn cp3_coupon_codes_differ() {
        let codes: std::collections::HashSet<String> =
            (0..10_000).map(|_| coupon_code(CouponId::new())).collect();
        assert_eq!(codes.len(), 10_000);
        assert!(codes.iter().all(|c| c.len() == 16));
    }

    #[test]
    fn batch_ref_accepts_an_id_or_a_key() {
        let id = BatchId::new();
        assert_eq!(
            BatchRef::parse("batch", &id.to_string()),
            Ok(BatchRef::Id(id))
        );
        assert!(matches!(
            BatchRef::parse("batch", "BA_abcdefg"),
            Ok(BatchRef::Key(_))
        ));
        assert!(BatchRef::parse("batch", "nope").is_err());
    }
}
