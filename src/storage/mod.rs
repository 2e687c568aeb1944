//! The object store files live in, in the domain's words: where a browser may put or get an object (a presigned
//! request), what is stored under a key, and removing it. One implementation speaks S3 ([`s3`]); the single box
//! serves an S3-compatible store itself ([`embedded`]), so both modes run the same presigning code.

#[cfg(feature = "embedded-store")]
pub mod embedded;
pub mod s3;

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::domain::{ContentType, FileName, ObjectKey};

/// A request a browser makes straight to the store: the URL, its method, and the headers it must send as they
/// are (they are part of the signature).
#[derive(Debug, Clone)]
pub struct Presigned {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub expires_at: DateTime<Utc>,
}

/// What the store holds under a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    pub size: u64,
    pub content_type: Option<String>,
}

/// What an upload must be, exactly: anything else is refused by the store.
#[derive(Debug, Clone)]
pub struct Upload<'a> {
    pub key: &'a ObjectKey,
    pub content_type: &'a ContentType,
    pub size: u64,
    pub name: &'a FileName,
}

#[async_trait::async_trait]
pub trait ObjectStore: Send + Sync + std::fmt::Debug {
    /// A PUT of exactly this object (type, length, download name), valid for `ttl`.
    async fn upload_url(&self, upload: Upload<'_>, ttl: Duration) -> anyhow::Result<Presigned>;

    /// A GET of the object, valid for `ttl`.
    async fn download_url(&self, key: &ObjectKey, ttl: Duration) -> anyhow::Result<Presigned>;

    /// What is stored under `key`, if anything.
    async fn stat(&self, key: &ObjectKey) -> anyhow::Result<Option<Stored>>;

    /// Up to `n` bytes from the start of the object.
    async fn head_bytes(&self, key: &ObjectKey, n: u64) -> anyhow::Result<Vec<u8>>;

    /// Removes the object; removing one that is not there is not an error.
    async fn remove(&self, key: &ObjectKey) -> anyhow::Result<()>;

    /// Whether the bucket can be reached with these credentials: checked at start and by `/readyz`.
    async fn check(&self) -> anyhow::Result<()>;
}

/// The store named in the settings, or the one built in when none is: checked reachable before the server
/// starts, with a message that says what is wrong.
pub async fn open(settings: &crate::Settings) -> anyhow::Result<std::sync::Arc<dyn ObjectStore>> {
    let s = &settings.storage;
    let endpoint = match &s.endpoint {
        Some(_) => s3::Endpoint::from_settings(s),
        None => built_in(settings).await?,
    };
    let store = s3::S3Store::connect(&endpoint).await;
    store.check().await.map_err(|e| {
        anyhow::anyhow!(
            "the object store at {} is not usable: {e:#}",
            endpoint.url.as_deref().unwrap_or("AWS S3")
        )
    })?;
    Ok(std::sync::Arc::new(store))
}

#[cfg(feature = "embedded-store")]
async fn built_in(settings: &crate::Settings) -> anyhow::Result<s3::Endpoint> {
    let s = &settings.storage;
    let root = settings.data_dir.join("objects");
    // Browsers upload from the console the binary serves (its public address) and from the SPA's origins.
    let mut origins = settings.auth.cors_origins.clone();
    let public = &settings.auth.public_url;
    if let Some((scheme, rest)) = public.split_once("://") {
        origins.push(format!(
            "{scheme}://{}",
            rest.split('/').next().unwrap_or(rest)
        ));
    }
    let e = embedded::start(embedded::Options {
        root: &root,
        keys_dir: &settings.auth.keys_dir,
        listen: s.embedded_listen,
        public_url: s.public_endpoint.clone(),
        bucket: &s.bucket,
        origins: &origins,
    })
    .await?;
    tracing::info!(addr = %e.addr, root = %root.display(), "serving the built-in object store");
    Ok(e.endpoint)
}

#[cfg(not(feature = "embedded-store"))]
async fn built_in(_: &crate::Settings) -> anyhow::Result<s3::Endpoint> {
    anyhow::bail!("AUTOSHOP_S3_ENDPOINT is required: this build has no built-in object store")
}
