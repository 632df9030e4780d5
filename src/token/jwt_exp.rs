//! The expiry of a JWT-based access token, read without checking its signature: it only
//! schedules a refresh ahead of time, and Salesforce still judges the token. Anything that is not
//! a well-formed JWT with a numeric `exp` is an opaque token (no known expiry).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A JWT this large is not worth decoding (Salesforce's are a few kilobytes).
const MAX_JWT_LEN: usize = 16 * 1024;

/// When a JWT access token should be refreshed: `refresh_ahead_ms` before its `exp`, but never in
/// the first half of its life (`iat` to `exp`), so a token issued with a lifetime shorter than the
/// margin is not refreshed on every call. None for an opaque or malformed token.
pub fn refresh_due_at_ms(token: &str, refresh_ahead_ms: i64) -> Option<i64> {
    let (exp, iat) = claims_ms(token)?;
    let ahead = match iat {
        Some(iat) if iat < exp => refresh_ahead_ms.min((exp - iat) / 2),
        _ => refresh_ahead_ms,
    };
    Some(exp - ahead)
}

/// `exp` in milliseconds since the epoch, or None for an opaque or malformed token.
pub fn expires_at_ms(token: &str) -> Option<i64> {
    claims_ms(token).map(|(exp, _)| exp)
}

/// `(exp, iat)` in milliseconds.
fn claims_ms(token: &str) -> Option<(i64, Option<i64>)> {
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
    let secs = |k: &str| {
        claims
            .get(k)
            .and_then(serde_json::Value::as_f64)
            .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e11)
            .map(|v| (v * 1000.0) as i64)
    };
    Some((secs("exp")?, secs("iat")))
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
    fn refresh_is_due_ahead_of_exp_but_not_in_the_first_half_of_life() {
        let long = jwt(r#"{"alg":"RS256"}"#, r#"{"iat":1000,"exp":8200}"#);
        assert_eq!(refresh_due_at_ms(&long, 60_000), Some(8_200_000 - 60_000));
        let short = jwt(r#"{"alg":"RS256"}"#, r#"{"iat":1000,"exp":1030}"#);
        assert_eq!(refresh_due_at_ms(&short, 60_000), Some(1_015_000));
        let no_iat = jwt(r#"{"alg":"RS256"}"#, r#"{"exp":1030}"#);
        assert_eq!(refresh_due_at_ms(&no_iat, 60_000), Some(970_000));
        assert_eq!(refresh_due_at_ms("opaque!token", 60_000), None);
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
