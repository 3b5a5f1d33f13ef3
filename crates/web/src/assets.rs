//! Static assets compiled into the binary and served under content-hashed names
//! (`/static/app.3f2a…css`), so browsers may cache them forever and a new build is picked
//! up at once. Nothing is loaded from elsewhere: the UI works offline.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

pub struct Asset {
    /// The name pages link to, with the content hash.
    pub path: String,
    pub content_type: &'static str,
    pub body: &'static [u8],
}

struct Assets {
    css: Asset,
    js: Asset,
    icon: Asset,
}

fn hashed(stem: &str, ext: &str, body: &'static [u8], content_type: &'static str) -> Asset {
    let digest = Sha256::digest(body);
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    Asset {
        path: format!("/static/{stem}.{hex}.{ext}"),
        content_type,
        body,
    }
}

fn assets() -> &'static Assets {
    static ASSETS: OnceLock<Assets> = OnceLock::new();
    ASSETS.get_or_init(|| Assets {
        css: hashed(
            "app",
            "css",
            include_bytes!("../static/app.css"),
            "text/css; charset=utf-8",
        ),
        js: hashed(
            "app",
            "js",
            include_bytes!("../static/app.js"),
            "text/javascript; charset=utf-8",
        ),
        icon: hashed("icon", "svg", include_bytes!("../static/icon.svg"), "image/svg+xml"),
    })
}

pub fn css_path() -> &'static str {
    &assets().css.path
}

pub fn js_path() -> &'static str {
    &assets().js.path
}

pub fn icon_path() -> &'static str {
    &assets().icon.path
}

/// `GET /static/{name}`: only the current hashed names exist.
pub async fn serve(axum::extract::Path(name): axum::extract::Path<String>) -> Response {
    let a = assets();
    let wanted = format!("/static/{name}");
    let Some(asset) = [&a.css, &a.js, &a.icon].into_iter().find(|x| x.path == wanted) else {
        return (StatusCode::NOT_FOUND, "no such asset").into_response();
    };
    let mut resp = asset.body.into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    resp
}
