//! `nextRecordsUrl`: only Salesforce's own query-locator shape, checked on the raw text before any
//! URL parser sees it. A parser resolves `%2e%2e` or `..` segments, so a looser check would let a
//! caller (or a hostile response) steer the user's token to any other resource.

use crate::error::{Error, Result};

/// `/services/data/vNN.N/query/<locator>` (or `queryAll`), where a locator is Salesforce's
/// cursor id with an optional `-<offset>`, e.g. `01gD0000002HU6KIAW-2000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextRecordsUrl(String);

const MAX_LOCATOR: usize = 128;

/// Why a string is not a locator URL, or `None` when it is one.
pub fn problem(s: &str) -> Option<&'static str> {
    let Some(rest) = s.strip_prefix("/services/data/v") else {
        return Some("must start with /services/data/v");
    };
    let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let version_ok = version.split_once('.').is_some_and(|(maj, min)| {
        (1..=3).contains(&maj.len())
            && maj.bytes().all(|b| b.is_ascii_digit())
            && (1..=2).contains(&min.len())
            && min.bytes().all(|b| b.is_ascii_digit())
    });
    if !version_ok {
        return Some("must name an API version such as v62.0");
    }
    let locator = match rest.split_once('/') {
        Some(("query" | "queryAll", l)) => l,
        _ => return Some("must be a query locator (/query/<locator>)"),
    };
    let chars_ok = !locator.is_empty()
        && locator.len() <= MAX_LOCATOR
        && locator
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !locator.starts_with('-')
        && !locator.ends_with('-');
    if !chars_ok {
        return Some("the locator may hold only letters, digits and '-'");
    }
    None
}

impl NextRecordsUrl {
    /// A caller's `queryMore` argument: a bad one is the caller's mistake.
    pub fn from_caller(s: &str) -> Result<Self> {
        match problem(s) {
            None => Ok(Self(s.to_string())),
            Some(why) => Err(Error::input("nextRecordsUrl", why)),
        }
    }

    /// One Salesforce returned: a bad one is an upstream fault, and is not followed.
    pub fn from_salesforce(s: &str) -> Result<Self> {
        match problem(s) {
            None => Ok(Self(s.to_string())),
            Some(_) => Err(Error::Salesforce {
                http_status: 502,
                salesforce_code: "INVALID_NEXT_RECORDS_URL".into(),
                message: "Salesforce returned a nextRecordsUrl that is not a query locator; it was not followed".into(),
                fields: vec![],
            }),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_salesforce_locators() {
        for ok in [
            "/services/data/v62.0/query/01gD0000002HU6KIAW-2000",
            "/services/data/v58.0/queryAll/01gRO0000016PIAYA2-500",
            "/services/data/v9.0/query/01gxx0000000001",
        ] {
            assert!(problem(ok).is_none(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        for bad in [
            "/services/data/v62.0/query/%2e%2e/sobjects/Contact/describe",
            "/services/data/v62.0/query/../sobjects/Contact/describe",
            "/services/data/v62.0/query/01g-2000/../../sobjects",
            "/services/data/v62.0/query/01g%2F2000",
            "/services/data/v62.0/query/01g-2000?q=SELECT+Id+FROM+User",
            "/services/data/v62.0/query/01g-2000#x",
            "/services/data/v62.0/query/",
            "/services/data/v62.0/query",
            "/services/data/v62.0/sobjects/Contact/describe",
            "/services/data/v62.0/query/01g.2000",
            "/services/data/v62.0/query/01g\\2000",
            "/services/data/v62.0/query/01g-2000/",
            "/services/data/v62.x/query/01g-2000",
            "/services/data/vNN.N/query/01g-2000",
            "/services/data//query/01g-2000",
            "https://evil.example/services/data/v62.0/query/01g-2000",
            "//evil.example/services/data/v62.0/query/01g-2000",
            "/services/data/v62.0/query/01g 2000",
            "/services/data/v62.0/query/01g\n2000",
            "/Services/data/v62.0/query/01g-2000",
            "",
        ] {
            assert!(problem(bad).is_some(), "{bad:?} accepted");
            assert!(matches!(
                NextRecordsUrl::from_caller(bad),
                Err(Error::InvalidInput { .. })
            ));
            assert_eq!(
                NextRecordsUrl::from_salesforce(bad).unwrap_err().code(),
                "SALESFORCE_ERROR"
            );
        }
    }

    /// Ways to write `.`, `/`, `?`, `#` and `\` in a URL: raw, percent-encoded in either case,
    /// double-encoded and as overlong UTF-8.
    fn hostile_piece() -> impl Strategy<Value = String> {
        prop::sample::select(vec![
            ".", "..", "/", "?", "#", "\\", "%2e", "%2E", "%2f", "%2F", "%5c", "%5C", "%3f", "%3F",
            "%23", "%252e", "%252f", "%c0%ae", "%c0%af", "%u002e", "\u{ff0e}", "\u{2215}", "%00",
            "\u{0}",
        ])
        .prop_map(String::from)
    }

    proptest! {
        /// Any locator with an encoded or raw separator spliced in is refused.
        #[test]
        fn encodings_never_pass(
            pre in "[A-Za-z0-9]{0,12}",
            piece in hostile_piece(),
            post in "[A-Za-z0-9-]{0,12}",
            tail in prop::sample::select(vec!["", "sobjects/Contact/describe", "/sobjects/User"]),
        ) {
            let url = format!("/services/data/v62.0/query/{pre}{piece}{post}{tail}");
            prop_assert!(problem(&url).is_some(), "{url:?} accepted");
        }

        /// Every well-formed locator passes.
        #[test]
        fn locators_pass(id in "[A-Za-z0-9]{15,18}", n in 0u32..10_000_000, v in 20u32..99) {
            let url = format!("/services/data/v{v}.0/query/{id}-{n}");
            prop_assert!(problem(&url).is_none());
        }

        /// Arbitrary text passes only if it has the grammar's characters.
        #[test]
        fn arbitrary_suffixes(s in ".{0,40}") {
            let url = format!("/services/data/v62.0/query/{s}");
            if problem(&url).is_none() {
                prop_assert!(s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
            }
        }
    }
}
