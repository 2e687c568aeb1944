//! The S3-compatible store the single box serves itself (s3s-fs over a folder under ./data), on a listener of its
//! own: browsers upload to it and download from it through presigned URLs exactly as they would from S3.
//!
//! It checks every signature (keys made at each start, known only to this process), serves at the root of its
//! listener (mounted under a path its signature check would fail), and answers browsers from the configured
//! origins only (it has no bucket CORS API of its own).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::error_handling::HandleError;
use axum::http::{HeaderName, Method, StatusCode, header};
use s3s::auth::SimpleAuth;
use s3s::service::S3ServiceBuilder;
use tokio::net::TcpListener;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::s3::Endpoint;

/// A running embedded store: where it listens and how to sign for it.
#[derive(Debug)]
pub struct Embedded {
    pub endpoint: Endpoint,
    pub addr: SocketAddr,
}

/// Serves the objects under `root` (one folder per bucket) on `listen` until the process ends.
pub async fn start(
    root: &Path,
    listen: SocketAddr,
    bucket: &str,
    origins: &[String],
) -> anyhow::Result<Embedded> {
    // The bucket is a folder: made here, so the single box needs no set-up.
    std::fs::create_dir_all(root.join(bucket))
        .with_context(|| format!("creating {}", root.join(bucket).display()))?;
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("opening the object folder {}: {e:?}", root.display()))?;
    let (access, secret) = (random_key(), random_key());
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single(access.clone(), secret.clone()));
    let service = HandleError::new(b.build(), |e: s3s::HttpError| async move {
        tracing::error!(error = ?e, "the embedded object store failed a request");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let app = Router::new().fallback_service(service).layer(cors(origins));
    let listener = TcpListener::bind(listen)
        .await
        .with_context(|| format!("binding AUTOSHOP_S3_EMBEDDED_LISTEN {listen}"))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the embedded object store stopped");
        }
    });
    Ok(Embedded {
        endpoint: Endpoint {
            url: Some(format!("http://{addr}")),
            public_url: None,
            bucket: bucket.to_owned(),
            region: "us-east-1".to_owned(),
            path_style: true,
            credentials: Some((access, secret)),
        },
        addr,
    })
}

fn random_key() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The browser's PUT of an upload and GET of a download, from the SPA's origins.
fn cors(origins: &[String]) -> CorsLayer {
    let allowed: Vec<axum::http::HeaderValue> =
        origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::GET, Method::PUT, Method::HEAD])
        .allow_headers([
            header::CONTENT_TYPE,
            header::CONTENT_DISPOSITION,
            HeaderName::from_static("x-amz-content-sha256"),
        ])
        .expose_headers([header::ETAG])
        .max_age(Duration::from_secs(600))
}
