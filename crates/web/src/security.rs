//! Response hardening, access control and cross-site request checks.
//!
//! * Every response carries a strict Content-Security-Policy (scripts and styles only from
//!   our own hashed files; no inline script, no inline style, no framing), `nosniff` and
//!   `no-referrer`.
//! * Without a token the server only listens on loopback; then it also requires a loopback
//!   `Host` header, so a web page cannot reach it through DNS rebinding.
//! * With a token every request except the login form and static files must carry it, as
//!   `Authorization: Bearer …` or as the session cookie the login form sets. Comparisons
//!   are constant-time.
//! * State-changing requests (POST) coming from another site are refused.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; font-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub const COOKIE: &str = "quarry_session";

/// What the server requires of each request.
#[derive(Clone)]
pub struct Access {
    /// The session value a valid cookie holds (derived from the token, so the token itself
    /// never sits in the browser), and the token.
    token: Option<(String, String)>,
    /// Without a token: the loopback host names accepted in `Host`.
    loopback_only: bool,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .field("loopback_only", &self.loopback_only)
            .finish()
    }
}

fn session_value(token: &str) -> String {
    let d = Sha256::digest(format!("quarry-session-v1\0{token}").as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn ct_eq(a: &str, b: &str) -> bool {
    // Lengths are not secret (the token's length is fixed by its owner); contents are.
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

impl Access {
    pub fn new(token: Option<String>) -> Access {
        Access {
            loopback_only: token.is_none(),
            token: token.map(|t| (session_value(&t), t)),
        }
    }

    pub fn requires_token(&self) -> bool {
        self.token.is_some()
    }

    pub fn check_token(&self, given: &str) -> bool {
        self.token.as_ref().is_some_and(|(_, t)| ct_eq(t, given))
    }

    /// The cookie value for a correct token.
    pub fn session_cookie(&self) -> Option<String> {
        self.token
            .as_ref()
            .map(|(s, _)| format!("{COOKIE}={s}; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200"))
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some((session, token)) = &self.token else {
            return true;
        };
        if let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok())
            && let Some(given) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer "))
            && ct_eq(token, given.trim())
        {
            return true;
        }
        cookie(headers, COOKIE).is_some_and(|c| ct_eq(session, &c))
    }
}

/// A cookie's value from the `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether a `Host` header names this machine's loopback interface.
fn loopback_host(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':').map_or(host, |(h, _)| h)
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Whether a POST came from a page of another site. Browsers send `Sec-Fetch-Site`, which
/// decides; without it, a foreign `Origin` does. (`Origin: null` alone is not proof: with
/// `Referrer-Policy: no-referrer` Chromium sends it on our own form posts.)
fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return !matches!(site, "same-origin" | "none");
    }
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()), host) {
        (Some("null"), _) => true,
        (Some(origin), Some(host)) => {
            let origin_host = origin.split_once("://").map_or(origin, |(_, h)| h);
            !origin_host.eq_ignore_ascii_case(host)
        }
        _ => false,
    }
}

fn wants_json(req: &Request) -> bool {
    req.uri().path().starts_with("/api/")
}

fn error(req: &Request, status: StatusCode, message: &str) -> Response {
    if wants_json(req) {
        crate::api::ApiError::new(status, message).into_response()
    } else {
        (status, crate::pages::error_page(status, message)).into_response()
    }
}

/// Access control (runs before the handlers).
pub async fn guard(State(access): State<Arc<Access>>, req: Request, next: Next) -> Response {
    let headers = req.headers();
    if access.loopback_only {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !loopback_host(host) {
            return error(
                &req,
                StatusCode::MISDIRECTED_REQUEST,
                "this server only answers requests addressed to localhost",
            );
        }
    }
    if req.method() == Method::POST && cross_site(headers) {
        return error(&req, StatusCode::FORBIDDEN, "cross-site request refused");
    }
    let path = req.uri().path();
    let open = path == "/login" || path.starts_with("/static/") || path == "/favicon.ico";
    if !open && !access.authorized(headers) {
        if wants_json(&req) {
            let mut resp = crate::api::ApiError::new(
                StatusCode::UNAUTHORIZED,
                "an access token is required (Authorization: Bearer <token>)",
            )
            .into_response();
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"quarry\""),
            );
            return resp;
        }
        let next_path = req.uri().path_and_query().map(|p| p.as_str()).unwrap_or("/");
        return Redirect::to(&format!("/login?next={}", crate::feed::encode(next_path))).into_response();
    }
    next.run(req).await
}

/// Security headers on every response.
pub async fn headers(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    h.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=(), interest-cohort=()"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// Only same-site relative paths may be a login's `next` (no `//host`, no scheme).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.starts_with("/\\") && !n.contains(['\r', '\n']) => {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_origins() {
        assert!(loopback_host("127.0.0.1:8080"));
        assert!(loopback_host("localhost"));
        assert!(loopback_host("[::1]:9000"));
        assert!(loopback_host("127.1.2.3:1"));
        assert!(!loopback_host("evil.example:8080"));
        assert!(!loopback_host("10.0.0.1"));
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(!cross_site(&h));
        h.insert(header::ORIGIN, HeaderValue::from_static("http://evil.example"));
        assert!(cross_site(&h));
        h.remove(header::ORIGIN);
        h.insert("sec-fetch-site", HeaderValue::from_static("cross-site"));
        assert!(cross_site(&h));
        // A same-origin form post under no-referrer: Origin null, Sec-Fetch-Site decides.
        h.insert("sec-fetch-site", HeaderValue::from_static("same-origin"));
        h.insert(header::ORIGIN, HeaderValue::from_static("null"));
        assert!(!cross_site(&h));
    }

    #[test]
    fn tokens_and_cookies() {
        let a = Access::new(Some("s3cret".into()));
        assert!(a.check_token("s3cret"));
        assert!(!a.check_token("s3cre"));
        assert!(!a.check_token(""));
        let cookie_line = a.session_cookie().unwrap();
        assert!(!cookie_line.contains("s3cret"));
        let value = cookie_line.split(';').next().unwrap().to_string();
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_str(&format!("a=b; {value}")).unwrap());
        assert!(a.authorized(&h));
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        assert!(a.authorized(&h));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer wrong"));
        assert!(!a.authorized(&h));
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(Some("/rules/x?a=1")), "/rules/x?a=1");
    }
}
