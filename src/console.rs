//! The reference console and the API explorer, built from console/ into console/dist (committed) and embedded
//! in the binary: `cargo run` serves them with nothing but Rust. They call the API like any SPA: same origin,
//! cookies and trusted documents, no way around the API's rules.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(rust_embed::Embed)]
#[folder = "console/dist/"]
struct Built;

/// Scripts only from here (no inline script can run), nothing framed, nothing plugged in. Uploads and
/// downloads go to the object store, wherever it is, so connections and images may go out.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data: blob: http: https:; font-src 'self' data:; connect-src 'self' ws: wss: http: https:; \
object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// The console's page.
pub async fn index() -> Response {
    serve("index.html", "no-cache")
}

/// The API explorer (GraphiQL, bundled): development only.
pub async fn explorer() -> Response {
    serve("explorer.html", "no-cache")
}

/// A built asset: its name carries its hash, so it never changes under that name.
pub async fn asset(Path(path): Path<String>) -> Response {
    serve(
        &format!("assets/{path}"),
        "public, max-age=31536000, immutable",
    )
}

fn serve(path: &str, cache: &'static str) -> Response {
    let Some(file) = Built::get(path) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let mime = file.metadata.mimetype();
    let mut response = file.data.into_owned().into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
