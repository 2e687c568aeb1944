//! The object store over S3's protocol (aws-sdk-s3): any S3-compatible endpoint, or the one built into the
//! single box.

use std::time::Duration;

use anyhow::Context as _;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
    timeout::TimeoutConfig,
};
use aws_sdk_s3::presigning::{PresignedRequest, PresigningConfig};
use chrono::Utc;

use super::{ObjectStore, Presigned, Stored, Upload};
use crate::config::StorageSettings;
use crate::domain::ObjectKey;

/// Where the store is and how to sign for it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Where this server reaches the store; none: AWS's own, by region.
    pub url: Option<String>,
    /// Where browsers reach it, when elsewhere (the host is part of a presigned URL's signature).
    pub public_url: Option<String>,
    pub bucket: String,
    pub region: String,
    pub path_style: bool,
    /// None: AWS's default credential chain (environment, profile, instance role).
    pub credentials: Option<(String, String)>,
}

impl Endpoint {
    pub fn from_settings(s: &StorageSettings) -> Self {
        Self {
            url: s.endpoint.clone(),
            public_url: s.public_endpoint.clone(),
            bucket: s.bucket.clone(),
            region: s.region.clone(),
            path_style: s.path_style,
            credentials: s
                .access_key_id
                .clone()
                .zip(s.secret_access_key.as_ref().map(|k| k.expose().clone())),
        }
    }
}

#[derive(Debug)]
pub struct S3Store {
    /// For what this server asks itself: HEAD, the first bytes, DELETE.
    client: Client,
    /// For what browsers are sent to: presigned with the address they reach.
    public: Client,
    bucket: String,
}

impl S3Store {
    pub async fn connect(e: &Endpoint) -> Self {
        let mut base = match &e.credentials {
            Some((id, secret)) => aws_sdk_s3::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .credentials_provider(Credentials::new(id, secret, None, None, "autoshop")),
            None => {
                let shared = aws_config::defaults(BehaviorVersion::latest())
                    .region(Region::new(e.region.clone()))
                    .load()
                    .await;
                aws_sdk_s3::config::Builder::from(&shared)
            }
        };
        base = base
            .region(Region::new(e.region.clone()))
            .force_path_style(e.path_style)
            // A presigned PUT carries no checksum of a body the server never sees; the browser could not add one.
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_timeout(Duration::from_secs(15))
                    .build(),
            );
        let at = |url: Option<&String>| {
            let mut b = base.clone();
            if let Some(u) = url {
                b = b.endpoint_url(u);
            }
            Client::from_conf(b.build())
        };
        Self {
            client: at(e.url.as_ref()),
            public: at(e.public_url.as_ref().or(e.url.as_ref())),
            bucket: e.bucket.clone(),
        }
    }
}

fn presigned(r: PresignedRequest, ttl: Duration) -> Presigned {
    Presigned {
        url: r.uri().to_owned(),
        method: r.method().to_owned(),
        headers: r
            .headers()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect(),
        expires_at: Utc::now() + ttl,
    }
}

#[async_trait::async_trait]
impl ObjectStore for S3Store {
    async fn upload_url(&self, u: Upload<'_>, ttl: Duration) -> anyhow::Result<Presigned> {
        let r = self
            .public
            .put_object()
            .bucket(&self.bucket)
            .key(u.key.as_str())
            .content_type(u.content_type.as_str())
            .content_length(i64::try_from(u.size)?)
            .content_disposition(u.content_type.disposition(u.name))
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await
            .context("presigning an upload")?;
        Ok(presigned(r, ttl))
    }

    async fn download_url(&self, key: &ObjectKey, ttl: Duration) -> anyhow::Result<Presigned> {
        let r = self
            .public
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .presigned(PresigningConfig::expires_in(ttl)?)
            .await
            .context("presigning a download")?;
        Ok(presigned(r, ttl))
    }

    async fn stat(&self, key: &ObjectKey) -> anyhow::Result<Option<Stored>> {
        let r = self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await;
        match r {
            Ok(o) => Ok(Some(Stored {
                size: u64::try_from(o.content_length().unwrap_or(0)).unwrap_or(0),
                content_type: o.content_type().map(str::to_owned),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) => Err(anyhow::Error::new(e).context("reading an object's metadata")),
        }
    }

    async fn head_bytes(&self, key: &ObjectKey, n: u64) -> anyhow::Result<Vec<u8>> {
        let o = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .range(format!("bytes=0-{}", n.saturating_sub(1)))
            .send()
            .await
            .context("reading an object's first bytes")?;
        Ok(o.body.collect().await?.into_bytes().to_vec())
    }

    async fn remove(&self, key: &ObjectKey) -> anyhow::Result<()> {
        self.client
            .delete_object()
            .bucket(&self.bucket)
            .key(key.as_str())
            .send()
            .await
            .context("removing an object")?;
        Ok(())
    }

    async fn check(&self) -> anyhow::Result<()> {
        self.client
            .head_bucket()
            .bucket(&self.bucket)
            .send()
            .await
            .map_err(|e| {
                let why = match e.raw_response().map(|r| r.status().as_u16()) {
                    Some(404) => "it does not exist".to_owned(),
                    Some(403) => "these credentials may not use it".to_owned(),
                    Some(s) => format!("the store answered HTTP {s}"),
                    None => format!("the store could not be reached ({e})"),
                };
                anyhow::anyhow!("the bucket `{}` cannot be used: {why}", self.bucket)
            })?;
        Ok(())
    }
}
