//! HTML pages on the login host: the "Allow Access?" consent screen and the error page
//! shown when there is no trustworthy redirect_uri to send an error to.

use axum::http::StatusCode;
use axum::response::Response;

use crate::http::{self, Params};

fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = "\
body{margin:0;background:#f3f3f3;font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#181818}\
.top{background:#0176d3;height:6px}\
.card{max-width:420px;margin:64px auto;background:#fff;border:1px solid #dddbda;border-radius:6px;padding:28px 32px;box-shadow:0 2px 4px rgba(0,0,0,.07)}\
.logo{font-weight:700;color:#0176d3;font-size:22px;margin-bottom:18px}\
h1{font-size:20px;margin:0 0 12px}\
p{line-height:1.45;margin:8px 0}\
ul{padding-left:20px;margin:8px 0 20px}li{margin:4px 0}\
.actions{display:flex;gap:10px;justify-content:flex-end}\
button{font-size:14px;padding:8px 18px;border-radius:4px;cursor:pointer}\
.deny{background:#fff;border:1px solid #c9c9c9;color:#0176d3}\
.allow{background:#0176d3;border:1px solid #0176d3;color:#fff}\
.err{color:#ba0517;font-family:monospace}\
.foot{text-align:center;color:#706e6b;font-size:12px;margin-top:-48px}";

fn page(title: &str, inner: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>{}</title><style>{STYLE}</style></head><body><div class=\"top\"></div><div class=\"card\"><div class=\"logo\">Forcelink Simulator</div>{inner}</div><p class=\"foot\">Local Salesforce simulator &middot; not a real Salesforce login</p></body></html>",
        esc(title)
    )
}

fn scope_label(s: &str) -> &str {
    match s {
        "api" => "Manage user data via APIs (api)",
        "id" => "Access the identity URL service (id, profile, email, address, phone)",
        "refresh_token" | "offline_access" => {
            "Perform requests at any time (refresh_token, offline_access)"
        }
        "web" => "Manage user data via Web browsers (web)",
        "full" => "Full access (full)",
        "openid" => "Access unique user identifiers (openid)",
        other => other,
    }
}

/// The consent screen. Allow/Deny POST the original authorize parameters back to
/// `/services/oauth2/authorize/decision`.
pub fn consent_page(params: &Params, scope: &str) -> Response {
    let hidden: String = params
        .iter()
        .filter(|(k, _)| k != "action" && k != "sim_action")
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                esc(k),
                esc(v)
            )
        })
        .collect();
    let mut labels: Vec<&str> = scope.split_whitespace().map(scope_label).collect();
    labels.dedup();
    let items: String = labels
        .iter()
        .map(|l| format!("<li>{}</li>", esc(l)))
        .collect();
    let inner = format!(
        "<h1>Allow Access?</h1><p><b>Forcelink Simulator</b> is asking to:</p><ul>{items}</ul>\
<p>Do you want to allow access for <b>sim.user@forcelink-sim.example</b>?</p>\
<form method=\"POST\" action=\"/services/oauth2/authorize/decision\">{hidden}\
<div class=\"actions\"><button class=\"deny\" type=\"submit\" name=\"action\" value=\"deny\">Deny</button>\
<button class=\"allow\" type=\"submit\" name=\"action\" value=\"allow\">Allow</button></div></form>"
    );
    let mut r = http::with_body(
        StatusCode::OK,
        "text/html;charset=UTF-8",
        page("Allow Access?", &inner),
    );
    http::oauth_headers(&mut r);
    r
}

/// 400 page used when the error cannot be redirected (bad/unregistered redirect_uri).
pub fn error_page(error: &str, description: &str) -> Response {
    let inner = format!(
        "<h1>Error</h1><p class=\"err\">error={}</p><p>{}</p>",
        esc(error),
        esc(description)
    );
    let mut r = http::with_body(
        StatusCode::BAD_REQUEST,
        "text/html;charset=UTF-8",
        page("Error", &inner),
    );
    http::oauth_headers(&mut r);
    r
}
