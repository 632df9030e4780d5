//! The expiry of a JWT-based access token, read without checking its signature: it only
//! schedules a refresh ahead of time, and Salesforce still judges the token. Anything that is not
//! a well-formed JWT with a numeric `exp` is an opaque token (no known expiry).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A JWT this large is not worth decoding (Salesforce's are a few kilobytes).
const MAX_JWT_LEN: usize = 16 * 1024;

/// `exp` in milliseconds since the epoch, or None for an opaque or malformed token.
pub fn expires_at_ms(token: &str) -> Option<i64> {
    if token.len() > MAX_JWT_LEN {
        return None;
    }
    let mut parts = token.split('.');
    let (header, payload, _sig) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header.trim_end_matches('=')).ok()?).ok()?;
    header.get("alg")?.as_str()?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?)
            .ok()?;
    let exp = claims.get("exp")?.as_f64()?;
    if !exp.is_finite() || exp <= 0.0 || exp > 1e11 {
        return None;
    }
    Some((exp * 1000.0) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(header: &str, claims: &str) -> String {
        format!(
            "{}.{}.c2ln",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        )
    }

    #[test]
    fn reads_exp_of_a_jwt() {
        let t = jwt(
            r#"{"alg":"RS256","typ":"JWT"}"#,
            r#"{"exp":1700000000,"sub":"x"}"#,
        );
        assert_eq!(expires_at_ms(&t), Some(1_700_000_000_000));
    }

    #[test]
    fn opaque_and_malformed_tokens_have_no_expiry() {
        assert_eq!(expires_at_ms("00D5g000004XYZa!AQ.abc_def"), None);
        assert_eq!(expires_at_ms("a.b.c"), None);
        assert_eq!(
            expires_at_ms(&jwt(r#"{"alg":"RS256"}"#, r#"{"sub":"x"}"#)),
            None
        );
        assert_eq!(
            expires_at_ms(&jwt(r#"{"alg":"RS256"}"#, r#"{"exp":"soon"}"#)),
            None
        );
        assert_eq!(
            expires_at_ms(&jwt(r#"{"typ":"JWT"}"#, r#"{"exp":1}"#)),
            None
        );
        assert_eq!(expires_at_ms(&jwt("not json", r#"{"exp":1}"#)), None);
        assert_eq!(
            expires_at_ms(&format!("{}.x", jwt(r#"{"alg":"RS256"}"#, r#"{"exp":1}"#))),
            None
        );
    }
}
