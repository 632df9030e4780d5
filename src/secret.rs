//! Secret-bearing newtypes. Their `Debug` prints `***` so a stray `{:?}` can never leak them, and the
//! only way to the text is an explicit `expose()`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! secret_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
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
    AccessToken
);
secret_type!(
    /// A Salesforce refresh token.
    RefreshToken
);
secret_type!(
    /// The connected app's consumer secret.
    ClientSecret
);
secret_type!(
    /// The key that signs OAuth state and derives PKCE verifiers.
    StateSecret
);
secret_type!(
    /// A one-time authorization code from the callback.
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
