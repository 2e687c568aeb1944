//! The S3-compatible store the single box serves itself (s3s-fs over a folder under ./data), on a listener of its
//! own: browsers upload to it and download from it through presigned URLs exactly as they would from S3.
//!
//! It checks every signature (credentials made on first start and kept with the other keys), serves at the root
//! of its listener (mounted under a path its signature check would fail), takes no body larger than the largest
//! upload settings allow, and answers browsers from the configured origins only (it has no bucket CORS API).

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

/// Where it is served and how.
#[derive(Debug)]
pub struct Options<'a> {
    /// The objects, one folder per bucket.
    pub root: &'a Path,
    /// Where its credentials are kept.
    pub keys_dir: &'a Path,
    pub listen: SocketAddr,
    /// Where browsers reach it, when not at `listen` (behind a proxy).
    pub public_url: Option<String>,
    pub bucket: &'a str,
    pub origins: &'a [String],
}

/// The largest body it takes: the largest upload the settings allow.
const MAX_BODY: usize = 100 * 1024 * 1024;

/// Serves the objects on its listener until the process ends.
pub async fn start(o: Options<'_>) -> anyhow::Result<Embedded> {
    let (root, bucket) = (o.root, o.bucket);
    // The bucket is a folder: made here, so the single box needs no set-up.
    std::fs::create_dir_all(root.join(bucket))
        .with_context(|| format!("creating {}", root.join(bucket).display()))?;
    let fs = s3s_fs::FileSystem::new(root)
        .map_err(|e| anyhow::anyhow!("opening the object folder {}: {e:?}", root.display()))?;
    let (access, secret) = credentials(o.keys_dir)?;
    let mut b = S3ServiceBuilder::new(fs);
    b.set_auth(SimpleAuth::from_single(access.clone(), secret.clone()));
    let service = HandleError::new(b.build(), |e: s3s::HttpError| async move {
        tracing::error!(error = ?e, "the embedded object store failed a request");
        StatusCode::INTERNAL_SERVER_ERROR
    });
    let app = Router::new()
        .fallback_service(service)
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY))
        .layer(cors(o.origins));
    let listener = TcpListener::bind(o.listen)
        .await
        .with_context(|| format!("binding AUTOSHOP_S3_EMBEDDED_LISTEN {}", o.listen))?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the embedded object store stopped");
        }
    });
    Ok(Embedded {
        endpoint: Endpoint {
            url: Some(format!("http://{addr}")),
            public_url: o.public_url,
            bucket: bucket.to_owned(),
            region: "us-east-1".to_owned(),
            path_style: true,
            credentials: Some((access, secret)),
        },
        addr,
    })
}

/// The store's access key and secret: read from the keys folder, or made there on first start.
fn credentials(keys_dir: &Path) -> anyhow::Result<(String, String)> {
    let path = keys_dir.join("object-store.key");
    if !path.exists() {
        let random = || uuid::Uuid::new_v4().simple().to_string();
        std::fs::create_dir_all(keys_dir)?;
        // Written aside and linked into place: two processes starting at once agree on one file.
        let aside = keys_dir.join(format!(".object-store.key.{}", random()));
        std::fs::write(&aside, format!("{} {}{}\n", random(), random(), random()))
            .with_context(|| format!("writing {}", aside.display()))?;
        let linked = std::fs::hard_link(&aside, &path);
        std::fs::remove_file(&aside).ok();
        match linked {
            Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
                return Err(e).with_context(|| format!("writing {}", path.display()));
            }
            _ => {}
        }
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    match text.split_whitespace().collect::<Vec<_>>()[..] {
        [access, secret] => Ok((access.to_owned(), secret.to_owned())),
        _ => anyhow::bail!("{} is not `<access key> <secret>`", path.display()),
    }
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
