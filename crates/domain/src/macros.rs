//! Crate-internal macros that keep the identifier types free of boilerplate.

/// Implements an inherent `code()` (stable snake_case message key), an
/// associated `CODES` list and the [`crate::ErrorCode`] trait for an error
/// enum, from one `pattern => "key"` table.
macro_rules! error_codes {
    ($ty:ty { $($pat:pat => $code:literal),+ $(,)? }) => {
        impl $ty {
            /// Every message key this error can return, e.g. for a test that
            /// checks each key has a translation.
            pub const CODES: &'static [&'static str] = &[$($code),+];

            /// The stable message key of this error, for localisation.
            pub fn code(&self) -> &'static str {
                match self {
                    $($pat => $code),+
                }
            }
        }

        impl $crate::ErrorCode for $ty {
            fn code(&self) -> &'static str {
                <$ty>::code(self)
            }
        }
    };
}

/// Implements `FromStr`, `TryFrom<String>`, `From<T> for String` and
/// `AsRef<str>` for a type with `parse(&str) -> Result<Self, E>` and
/// `as_str(&self) -> &str`. Together with
/// `#[serde(try_from = "String", into = "String")]` this makes serde use the
/// canonical form and re-validate on the way in.
macro_rules! string_conversions {
    ($ty:ident, $err:ty) => {
        impl ::std::str::FromStr for $ty {
            type Err = $err;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl ::std::convert::TryFrom<String> for $ty {
            type Error = $err;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::parse(&s)
            }
        }

        impl ::std::convert::From<$ty> for String {
            fn from(value: $ty) -> String {
                value.as_str().to_owned()
            }
        }

        impl ::std::convert::AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                self.as_str()
            }
        }
    };
}
