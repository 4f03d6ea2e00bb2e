//! The shapes every service repeats: enums stored as text and UUID identifiers.

#[doc(hidden)]
pub use uuid::Uuid;

/// Gives a fieldless enum its database text: `as_db` (what is written) and `from_db` (what
/// is read back; `None` for text this service never writes, which the caller reports as
/// malformed stored data).
///
/// ```ignore
/// memberhub_kit::db_enum!(pub(crate) Phase { Open => "OPEN", Closed => "CLOSED" });
/// ```
#[macro_export]
macro_rules! db_enum {
    ($vis:vis $ty:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        impl $ty {
            /// The text stored for this value.
            #[allow(dead_code, reason = "a type stored by one side only uses one direction")]
            $vis fn as_db(self) -> &'static str {
                match self { $($ty::$variant => $text),+ }
            }

            /// The value stored as `raw`; `None` for text this service never writes.
            #[allow(dead_code, reason = "a type stored by one side only uses one direction")]
            $vis fn from_db(raw: &str) -> Option<Self> {
                match raw { $($text => Some($ty::$variant),)+ _ => None }
            }
        }
    };
}

/// Declares a UUID identifier: minted as UUIDv7 (time-ordered, so index-friendly), parsed
/// at the edge with a violation naming the field.
#[macro_export]
macro_rules! uuid_id {
    ($(#[$doc:meta])* $vis:vis $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis struct $name($crate::macros::Uuid);

        impl $name {
            /// A new time-ordered id (UUIDv7).
            $vis fn new() -> Self {
                Self($crate::macros::Uuid::now_v7())
            }

            /// `raw` as this id; INVALID_ARGUMENT naming `field` otherwise.
            $vis fn parse(field: &str, raw: &str) -> Result<Self, $crate::error::FieldViolation> {
                $crate::macros::Uuid::parse_str(raw.trim()).map(Self).map_err(|_| {
                    $crate::error::FieldViolation::new(field, concat!("must be ", $what, " (UUID)"))
                })
            }

            #[allow(dead_code, reason = "not every id is read back as a UUID")]
            $vis fn as_uuid(&self) -> $crate::macros::Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl From<$crate::macros::Uuid> for $name {
            fn from(id: $crate::macros::Uuid) -> Self {
                Self(id)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}
