//! `forward_url`: where the user lands after the flow. Relative paths are always fine; absolute
//! URLs only to allow-listed origins, which closes the incumbent's open redirect.

use url::Url;

use crate::config::Origin;
use crate::error::{Error, Result};

/// A forward URL that passed the allowlist; only `ForwardUrl::check` makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardUrl(String);

impl ForwardUrl {
    pub fn check(raw: Option<&str>, allowed: &[Origin]) -> Result<Self> {
        let raw = match raw.map(str::trim) {
            Some(s) if !s.is_empty() => s,
            _ => return Err(Error::ForwardUrlRequired),
        };
        if raw.len() > 4096 || raw.chars().any(|c| c.is_control()) {
            return Err(Error::ForwardUrlNotAllowed {
                origin: "(invalid URL)".into(),
            });
        }
        // A same-origin path. `//host` and `/\host` are protocol-relative to browsers: not paths.
        if raw.starts_with('/') && !raw.starts_with("//") && !raw.starts_with("/\\") {
            return Ok(Self(raw.to_string()));
        }
        let url = Url::parse(raw).map_err(|_| Error::ForwardUrlNotAllowed {
            origin: "(not an absolute URL or path)".into(),
        })?;
        let origin = url.origin().ascii_serialization();
        if matches!(url.scheme(), "http" | "https") && allowed.iter().any(|o| o.as_str() == origin)
        {
            Ok(Self(raw.to_string()))
        } else {
            Err(Error::ForwardUrlNotAllowed { origin })
        }
    }

    /// Rebuilds a forward URL that came back inside a verified state token.
    pub fn trusted(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Appends `params` (already encoded) with `?` or `&` as the URL needs, before any fragment.
    pub fn with_params(&self, params: &str) -> String {
        let (base, frag) = match self.0.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (self.0.as_str(), None),
        };
        let sep = if !base.contains('?') {
            "?"
        } else if base.ends_with('?') || base.ends_with('&') {
            ""
        } else {
            "&"
        };
        match frag {
            Some(f) => format!("{base}{sep}{params}#{f}"),
            None => format!("{base}{sep}{params}"),
        }
    }

    pub fn success(&self) -> String {
        self.with_params("status=success&integration=salesforce")
    }

    pub fn error(&self, reason: &str) -> String {
        self.with_params(&format!(
            "status=error&integration=salesforce&reason={}",
            encode_component(reason)
        ))
    }
}

/// `encodeURIComponent`.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowed() -> Vec<Origin> {
        vec![Origin::parse("o", "https://app.example.com").unwrap()]
    }

    #[test]
    fn allowlist() {
        assert!(matches!(
            ForwardUrl::check(None, &allowed()),
            Err(Error::ForwardUrlRequired)
        ));
        assert!(matches!(
            ForwardUrl::check(Some("  "), &allowed()),
            Err(Error::ForwardUrlRequired)
        ));
        assert!(ForwardUrl::check(Some("/settings"), &allowed()).is_ok());
        assert!(ForwardUrl::check(Some("https://app.example.com/x?y=1"), &allowed()).is_ok());
        for bad in [
            "https://evil.com/",
            "//evil.com",
            "/\\evil.com",
            "javascript:alert(1)",
            "https://app.example.com.evil.com/",
            "http://app.example.com/",
        ] {
            assert!(
                matches!(
                    ForwardUrl::check(Some(bad), &allowed()),
                    Err(Error::ForwardUrlNotAllowed { .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn joins_params() {
        let f = |s: &str| ForwardUrl::trusted(s.into());
        assert_eq!(
            f("/a").success(),
            "/a?status=success&integration=salesforce"
        );
        assert_eq!(
            f("/a?x=1").success(),
            "/a?x=1&status=success&integration=salesforce"
        );
        assert_eq!(
            f("/a?").success(),
            "/a?status=success&integration=salesforce"
        );
        assert_eq!(
            f("/a#top").success(),
            "/a?status=success&integration=salesforce#top"
        );
        assert_eq!(
            f("/a").error("end-user denied authorization"),
            "/a?status=error&integration=salesforce&reason=end-user%20denied%20authorization"
        );
    }
}
