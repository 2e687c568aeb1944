//! Connections to Redis that give up quickly: every caller has an in-process fallback, and a request must not
//! wait seconds on a Redis that has gone away.

use std::time::Duration;

use anyhow::Context as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// The longest one Redis command may take before its caller falls back.
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// A client and a multiplexed connection to it, with short connection and response timeouts and one quick
/// retry: while Redis is unreachable, commands fail within [`COMMAND_TIMEOUT`] instead of hanging.
pub async fn connect(url: &str) -> anyhow::Result<(redis::Client, ConnectionManager)> {
    let client = redis::Client::open(url).context("reading REDIS_URL")?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(COMMAND_TIMEOUT))
        .set_response_timeout(Some(COMMAND_TIMEOUT))
        .set_number_of_retries(1)
        .set_max_delay(Duration::from_millis(200));
    let conn = client
        .get_connection_manager_with_config(config)
        .await
        .context("connecting to Redis")?;
    Ok((client, conn))
}

/// Runs one Redis command (or pipeline) within [`COMMAND_TIMEOUT`]; a timeout is an error like any other.
pub async fn bounded<T>(
    command: impl Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
        Ok(r) => r,
        Err(_) => Err(redis::RedisError::from((
            redis::ErrorKind::Io,
            "Redis did not answer in time",
        ))),
    }
}
