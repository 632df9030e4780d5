//! `Accept-Encoding: gzip`: bodies are compressed as they stream (a Bulk results page
//! never sits whole in memory), as Salesforce does for REST and Bulk answers.

use std::io::Write;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use flate2::write::GzEncoder;
use flate2::Compression;
use futures_core::Stream;

/// True when the request's `Accept-Encoding` lists gzip (without `q=0`).
pub fn accepts(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.split(',').any(|item| {
                let mut parts = item.split(';').map(str::trim);
                let name = parts.next().unwrap_or("");
                let zero_q =
                    parts.any(|p| p.replace(' ', "") == "q=0" || p.replace(' ', "") == "q=0.0");
                (name.eq_ignore_ascii_case("gzip") || name == "*") && !zero_q
            })
        })
}

/// Re-encodes `r`'s body with gzip (skips bodies already encoded and empty ones).
pub fn compress(r: Response) -> Response {
    if r.headers().contains_key(header::CONTENT_ENCODING) {
        return r;
    }
    let (mut parts, body) = r.into_parts();
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    let stream = GzStream {
        inner: Box::pin(body.into_data_stream()),
        enc: Some(GzEncoder::new(Vec::new(), Compression::fast())),
    };
    Response::from_parts(parts, Body::from_stream(stream))
}

type Inner = Pin<Box<dyn Stream<Item = Result<Bytes, axum::Error>> + Send>>;

struct GzStream {
    inner: Inner,
    enc: Option<GzEncoder<Vec<u8>>>,
}

impl Stream for GzStream {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(enc) = this.enc.as_mut() else {
                return Poll::Ready(None);
            };
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => {
                    this.enc = None;
                    return Poll::Ready(Some(Err(std::io::Error::other(e))));
                }
                Poll::Ready(Some(Ok(chunk))) => {
                    if let Err(e) = enc.write_all(&chunk) {
                        this.enc = None;
                        return Poll::Ready(Some(Err(e)));
                    }
                    let out = std::mem::take(enc.get_mut());
                    if !out.is_empty() {
                        return Poll::Ready(Some(Ok(Bytes::from(out))));
                    }
                }
                Poll::Ready(None) => {
                    let Some(enc) = this.enc.take() else {
                        return Poll::Ready(None);
                    };
                    return Poll::Ready(Some(enc.finish().map(Bytes::from)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderMap;

    #[test]
    fn accept_encoding() {
        let h = |v: &str| {
            let mut m = HeaderMap::new();
            m.insert("accept-encoding", v.parse().unwrap());
            super::accepts(&m)
        };
        assert!(h("gzip"));
        assert!(h("deflate, gzip;q=0.5"));
        assert!(!h("gzip;q=0"));
        assert!(!h("identity"));
        assert!(!super::accepts(&HeaderMap::new()));
    }
}
