//! Shared helpers for the HTTP-level tests: a tiny blocking HTTP/1.1 client (no client
//! crate needed) and a simulator running on its own runtime thread.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use forcelink_sim::{start, SimConfig};
use serde_json::Value;
use sha2::{Digest, Sha256};

pub struct Sim {
    pub login: String,
    pub instance: String,
    pub my_domain: String,
}

pub fn spawn(cfg: SimConfig) -> Sim {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let h = start(cfg).await.expect("start");
            tx.send((
                h.login_url.clone(),
                h.instance_url.clone(),
                h.my_domain_url.clone(),
            ))
            .expect("send");
            std::future::pending::<()>().await;
        });
    });
    let (login, instance, my_domain) = rx.recv().expect("sim started");
    Sim {
        login,
        instance,
        my_domain,
    }
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One request on a fresh connection. Err = connection closed/reset without a response.
pub fn request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Resp, String> {
    let rest = url.strip_prefix("http://").ok_or("http only")?;
    let (hostport, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut s = TcpStream::connect(hostport).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .map_err(|e| e.to_string())?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    s.write_all(body).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("empty reply")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or("status")?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(i) = b.windows(2).position(|w| w == b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..i]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if n == 0 {
            break;
        }
        out.extend_from_slice(&b[i + 2..i + 2 + n]);
        b = &b[i + 2 + n + 2..];
    }
    out
}

pub fn get(url: &str, headers: &[(&str, &str)]) -> Resp {
    request("GET", url, headers, b"").expect("response")
}

pub fn post_form(url: &str, form: &[(&str, &str)]) -> Resp {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    request(
        "POST",
        url,
        &[("Content-Type", "application/x-www-form-urlencoded")],
        body.as_bytes(),
    )
    .expect("response")
}

pub fn post_json(url: &str, v: Value) -> Resp {
    request(
        "POST",
        url,
        &[("Content-Type", "application/json")],
        v.to_string().as_bytes(),
    )
    .expect("response")
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

pub fn query_param(location: &str, key: &str) -> Option<String> {
    let u = url::Url::parse(location).ok()?;
    u.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

pub const REDIRECT: &str = "http://localhost:3000/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

pub fn authorize_url(sim: &Sim, extra: &str) -> String {
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(VERIFIER.as_bytes()));
    format!(
        "{}/services/oauth2/authorize?response_type=code&client_id=sim-client-id&redirect_uri={}&scope={}&state=xyz%2F1&code_challenge={challenge}&code_challenge_method=S256{extra}",
        sim.login,
        enc(REDIRECT),
        enc("api refresh_token")
    )
}

/// Runs authorize + token exchange; returns the token JSON.
pub fn connect(sim: &Sim) -> Value {
    let r = get(&authorize_url(sim, ""), &[]);
    assert_eq!(r.status, 302);
    let code = query_param(r.header("location").unwrap_or(""), "code").expect("code");
    let t = post_form(
        &format!("{}/services/oauth2/token", sim.login),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ],
    );
    assert_eq!(t.status, 200, "{}", t.text());
    t.json()
}

pub fn bearer(tok: &Value) -> String {
    format!("Bearer {}", tok["access_token"].as_str().unwrap_or(""))
}

/// JSON request with a bearer token (body omitted when None).
pub fn call(method: &str, url: &str, auth: &str, body: Option<&Value>) -> Resp {
    let raw = body.map(|b| b.to_string()).unwrap_or_default();
    let mut h = vec![("Authorization", auth)];
    if body.is_some() {
        h.push(("Content-Type", "application/json"));
    }
    request(method, url, &h, raw.as_bytes()).expect("response")
}

/// A bearer header from the client_credentials grant on the My Domain host.
pub fn cc_auth(sim: &Sim) -> String {
    let r = post_form(
        &format!("{}/services/oauth2/token", sim.my_domain),
        &[
            ("grant_type", "client_credentials"),
            ("client_id", "sim-client-id"),
            ("client_secret", "sim-client-secret"),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.text());
    bearer(&r.json())
}
