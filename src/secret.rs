//! Secret-bearing newtypes. Their `Debug` prints `***` so a stray `{:?}` can never leak them, and the
//! only way to the text is an explicit `expose()`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A secret newtype. Derives (`Clone`, `PartialEq`) are opt-in, given with the doc comment: a
/// single-use secret has neither.
macro_rules! secret_type {
    ($(#[$attr:meta])* $name:ident) => {
        $(#[$attr])*
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }
            /// The secret text, for the one place that must send it.
            pub fn expose(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(concat!(stringify!($name), "(***)"))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d).map(Self)
            }
        }
    };
}

secret_type!(
    /// A Salesforce access token (session id).
    #[derive(Clone, PartialEq, Eq)]
    AccessToken
);
secret_type!(
    /// A Salesforce refresh token.
    #[derive(Clone, PartialEq, Eq)]
    RefreshToken
);
secret_type!(
    /// The connected app's consumer secret.
    #[derive(Clone, PartialEq, Eq)]
    ClientSecret
);
secret_type!(
    /// The key that signs OAuth state and derives PKCE verifiers.
    #[derive(Clone, PartialEq, Eq)]
    StateSecret
);
secret_type!(
    /// A one-time authorization code from the callback. Deliberately neither `Clone` nor
    /// `PartialEq` (as oauth2-rs does for single-use secrets): it is exchanged once, by value
    /// of the one copy, and never compared.
    ///
    /// ```compile_fail
    /// let code = forcelink::secret::AuthCode::new("aPrx");
    /// let again = code.clone();
    /// ```
    ///
    /// ```compile_fail
    /// let a = forcelink::secret::AuthCode::new("aPrx");
    /// let b = forcelink::secret::AuthCode::new("aPrx");
    /// let _ = a == b;
    /// ```
    AuthCode
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let t = AccessToken::new("00Dxx!supersecret");
        assert_eq!(format!("{t:?}"), "AccessToken(***)");
        assert_eq!(t.expose(), "00Dxx!supersecret");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"00Dxx!supersecret\"");
    }
}
