//! Response builders in Salesforce's wire shapes, plus small request-parsing helpers that
//! never fail (bad input becomes "absent", and handlers answer with the Salesforce error).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

pub const JSON_UTF8: &str = "application/json;charset=UTF-8";
/// Cache-Control Salesforce sends on OAuth responses.
pub const NO_CACHE: &str = "no-cache,must-revalidate,max-age=0,no-store,private";

/// Response-extension marker: the server layer drops the TCP connection without
/// writing anything (fault kind "reset").
#[derive(Clone, Copy, Debug)]
pub struct ResetConnection;

pub fn reset_connection() -> Response {
    let mut r = Response::new(Body::empty());
    r.extensions_mut().insert(ResetConnection);
    r
}

pub fn with_body(status: StatusCode, content_type: &str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(header::CONTENT_TYPE, v);
    }
    r
}

pub fn json(status: StatusCode, body: Vec<u8>) -> Response {
    with_body(status, JSON_UTF8, body)
}

pub fn json_value(status: StatusCode, v: &serde_json::Value) -> Response {
    json(status, serde_json::to_vec(v).unwrap_or_default())
}

/// REST error body: `[{"message":…,"errorCode":…}]`.
pub fn rest_error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = serde_json::json!([{ "message": message, "errorCode": code }]);
    json_value(status, &body)
}

pub fn not_found() -> Response {
    rest_error(
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "The requested resource does not exist",
    )
}

pub fn invalid_session() -> Response {
    rest_error(
        StatusCode::UNAUTHORIZED,
        "INVALID_SESSION_ID",
        "Session expired or invalid",
    )
}

pub fn limit_exceeded() -> Response {
    rest_error(
        StatusCode::FORBIDDEN,
        "REQUEST_LIMIT_EXCEEDED",
        "TotalRequests Limit exceeded.",
    )
}

/// What Salesforce answers past the org's concurrent long-request limit.
pub fn concurrent_limit_exceeded() -> Response {
    rest_error(
        StatusCode::FORBIDDEN,
        "REQUEST_LIMIT_EXCEEDED",
        "ConcurrentRequests (Concurrent API Requests) Limit exceeded.",
    )
}

pub fn oauth_headers(r: &mut Response) {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    h.insert(
        header::EXPIRES,
        HeaderValue::from_static("Thu, 01 Jan 1970 00:00:00 GMT"),
    );
}

/// OAuth error body `{"error","error_description"}` (HTTP 400 unless stated).
pub fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = json_value(
        status,
        &serde_json::json!({ "error": error, "error_description": description }),
    );
    oauth_headers(&mut r);
    r
}

pub fn redirect(location: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::FOUND;
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    r
}

pub type Params = Vec<(String, String)>;

pub fn parse_form(bytes: &[u8]) -> Params {
    url::form_urlencoded::parse(bytes).into_owned().collect()
}

pub fn query_params(uri: &axum::http::Uri) -> Params {
    parse_form(uri.query().unwrap_or("").as_bytes())
}

/// First value of `key` (Salesforce ignores repeats).
pub fn param<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

pub fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub async fn read_body(body: Body, limit: usize) -> Option<axum::body::Bytes> {
    axum::body::to_bytes(body, limit).await.ok()
}

/// Minimal JSON string escaper for the hand-written record writer.
pub fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &c) in bytes.iter().enumerate() {
        let esc: &[u8] = match c {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            c if c < 0x20 => {
                out.extend_from_slice(&bytes[start..i]);
                out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaper_matches_serde() {
        for s in [
            "plain",
            "quo\"te",
            "back\\slash",
            "nl\nx\r\t\u{8}\u{c}\u{1}",
            "é — ✓",
        ] {
            let mut v = Vec::new();
            super::push_json_str(&mut v, s);
            let back: String = serde_json::from_slice(&v).expect("valid json");
            assert_eq!(back, s);
        }
    }
}
