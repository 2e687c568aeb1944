//! Typed settings read from the environment: nothing set means the embedded default under ./data.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(v: T) -> Self {
        Self(v)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// GraphiQL, introspection, readable logs.
    Development,
    /// No GraphiQL, no introspection, no field suggestions, JSON logs.
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: Secret<String>,
    pub max_connections: u32,
    /// Run pending migrations when serving. On by default for the embedded SQLite file; off for
    /// PostgreSQL, where many replicas start at once and `autoshop migrate` is a deploy step.
    pub auto_migrate: bool,
    /// How long a replica trusts what it remembers (live sessions, the staff, the access rules) without
    /// asking the database again: the bound on staleness when a change message is lost or a write is made
    /// outside the server.
    pub remember_for: Duration,
}

impl DatabaseSettings {
    pub fn backend(&self) -> Backend {
        if self.url.expose().starts_with("sqlite:") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }
}

/// Bounds on what one GraphQL request may ask for.
#[derive(Debug, Clone, Copy)]
pub struct GraphqlLimits {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_page_size: usize,
    pub max_body_bytes: usize,
    /// How long the DataLoader gathers keys before it runs one batched statement.
    pub loader_delay: Duration,
    /// A query document's largest size and token count, checked before it is parsed.
    pub max_query_bytes: usize,
    pub max_query_tokens: usize,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseSettings,
    pub log_format: LogFormat,
    pub graphql: GraphqlLimits,
    /// Load balancers whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<crate::ratelimit::Cidr>,
    /// What each caller, address, sign-in and upload may spend.
    pub rate_limits: crate::ratelimit::Quotas,
    /// Which documents callers other than integrations may run.
    pub trusted_documents: crate::schema::trusted::Mode,
    pub auth: AuthSettings,
    /// Redis, shared by every replica; without it the embedded in-process stores serve.
    pub redis: Option<RedisSettings>,
    pub metrics: MetricsSettings,
    pub storage: StorageSettings,
    pub search: SearchSettings,
}

/// The search engine.
#[derive(Debug, Clone)]
pub struct SearchSettings {
    /// Meilisearch; none: the index built in, under `dir`.
    pub meili_url: Option<String>,
    pub meili_key: Option<Secret<String>>,
    /// The Meilisearch index (several deployments may share one engine).
    pub index: String,
    pub dir: PathBuf,
    /// How often the relay looks for changes to send when it found none last time.
    pub relay_every: Duration,
}

/// The object store files live in.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// An S3-compatible endpoint; none: the store built into this binary, under `<data dir>/objects`.
    pub endpoint: Option<String>,
    /// Where browsers reach the store, when not at `endpoint` (presigned URLs are signed for their host).
    pub public_endpoint: Option<String>,
    pub bucket: String,
    pub region: String,
    pub path_style: bool,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret<String>>,
    /// The embedded store's listener.
    pub embedded_listen: SocketAddr,
    /// How long a presigned upload or download URL works.
    pub url_ttl: Duration,
    /// How long an upload may stay unconfirmed before the sweep removes it.
    pub pending_ttl: Duration,
    /// How often the sweep of abandoned uploads and long-deleted files runs.
    pub sweep_every: Duration,
}

/// Where Prometheus scrapes `/metrics`: never openly on the public listener.
#[derive(Debug, Clone, Default)]
pub struct MetricsSettings {
    /// A listener of its own (an internal address), open to whoever reaches it.
    pub listen: Option<SocketAddr>,
    /// On the main listener, for `Authorization: Bearer <token>` only.
    pub token: Option<Secret<String>>,
}

#[derive(Debug, Clone)]
pub struct RedisSettings {
    pub url: Secret<String>,
    /// Prefix of every key, so several deployments (or test runs) can share one Redis.
    pub prefix: String,
}

/// Sign-in, tokens and sessions.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// PEM files of the RS256 keys (the newest by name signs) and, unless given in the environment, the key that
    /// seals TOTP secrets. Generated on first start in development.
    pub keys_dir: PathBuf,
    pub keys_dir_set: bool,
    pub jwt_private_key: Option<Secret<String>>,
    pub encryption_key: Option<Secret<String>>,
    pub issuer: String,
    pub audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub session_ttl: Duration,
    pub throttle: crate::auth::throttle::Policy,
    /// How long a just-replaced refresh token is answered with an error without revoking its session: two
    /// tabs refreshing at once are not a theft (RFC 9700 allows this).
    pub refresh_reuse_grace: Duration,
    pub hash_concurrency: usize,
    /// Exact origins the browser may call from with credentials (CORS).
    pub cors_origins: Vec<String>,
    /// Where the SPA lives: links in e-mails point there.
    pub public_url: String,
}

/// A setting that could not be used, naming the variable so the operator knows what to fix.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

/// Every variable Autoshop reads; any other `AUTOSHOP_*` is a typo and stops the start.
pub const VARIABLES: &[(&str, &str)] = &[
    ("AUTOSHOP_ENV", "development (default) or production"),
    (
        "AUTOSHOP_LISTEN",
        "address to listen on (default 127.0.0.1:8080; port 0 picks a free one)",
    ),
    (
        "AUTOSHOP_DATA_DIR",
        "where the embedded backends keep their files (default ./data)",
    ),
    (
        "DATABASE_URL",
        "postgres://… for PostgreSQL; default sqlite://<data dir>/autoshop.db",
    ),
    (
        "AUTOSHOP_DB_MAX_CONNECTIONS",
        "connection pool size (default 10)",
    ),
    (
        "AUTOSHOP_AUTO_MIGRATE",
        "true/false: migrate on start (default true on SQLite, false on PostgreSQL)",
    ),
    (
        "AUTOSHOP_LOG_FORMAT",
        "pretty or json (default pretty in development, json in production)",
    ),
    (
        "AUTOSHOP_MAX_QUERY_DEPTH",
        "deepest selection a query may nest (default 12)",
    ),
    (
        "AUTOSHOP_MAX_QUERY_COMPLEXITY",
        "cost ceiling of one query (default 20000)",
    ),
    (
        "AUTOSHOP_MAX_ALIASES",
        "field aliases one query may use (default 30)",
    ),
    (
        "AUTOSHOP_MAX_PAGE_SIZE",
        "largest `first`/`last` of a connection (default 100)",
    ),
    (
        "AUTOSHOP_MAX_BODY_BYTES",
        "largest request body (default 262144)",
    ),
    (
        "AUTOSHOP_LOADER_DELAY_MS",
        "how long the DataLoader gathers keys into one batch (default 1)",
    ),
    (
        "AUTOSHOP_RATE_LIMIT_PER_MINUTE",
        "query cost a user or API key may spend per minute (default 30000)",
    ),
    (
        "AUTOSHOP_RATE_LIMIT_BURST",
        "query cost a user or API key may spend at once (default 20000)",
    ),
    (
        "AUTOSHOP_ADDRESS_RATE_LIMIT_PER_MINUTE",
        "query cost one client address may spend per minute, whoever signs in there (default 4 times a user's)",
    ),
    (
        "AUTOSHOP_ADDRESS_RATE_LIMIT_BURST",
        "query cost one client address may spend at once (default 4 times a user's)",
    ),
    (
        "AUTOSHOP_SIGN_IN_RATE_LIMIT_PER_MINUTE",
        "sign-in, refresh and password-reset requests per minute per address (default 20)",
    ),
    (
        "AUTOSHOP_SIGN_IN_RATE_LIMIT_BURST",
        "sign-in, refresh and password-reset requests at once per address (default 10)",
    ),
    (
        "AUTOSHOP_UPLOAD_RATE_LIMIT_PER_MINUTE",
        "upload requests per minute per user or API key (default 60)",
    ),
    (
        "AUTOSHOP_UPLOAD_RATE_LIMIT_BURST",
        "upload requests at once per user or API key (default 20)",
    ),
    (
        "AUTOSHOP_TRUSTED_DOCUMENTS",
        "enforce, log or off: whether callers other than API keys may run only the SPA's persisted documents (default enforce in production, off in development)",
    ),
    (
        "AUTOSHOP_TRUSTED_PROXIES",
        "comma-separated proxy addresses or ranges whose X-Forwarded-For names the client (default none)",
    ),
    (
        "AUTOSHOP_KEYS_DIR",
        "directory of RS256 private keys in PEM, newest name signs (default <data dir>/keys, generated in development)",
    ),
    (
        "AUTOSHOP_JWT_PRIVATE_KEY",
        "an RS256 private key in PEM that signs tokens (keys in AUTOSHOP_KEYS_DIR still verify)",
    ),
    (
        "AUTOSHOP_ENCRYPTION_KEY",
        "base64 of 32 bytes sealing TOTP secrets (default <keys dir>/encryption.key, generated in development)",
    ),
    (
        "AUTOSHOP_JWT_ISSUER",
        "`iss` of access tokens (default autoshop)",
    ),
    (
        "AUTOSHOP_JWT_AUDIENCE",
        "`aud` of access tokens (default autoshop-api)",
    ),
    (
        "AUTOSHOP_ACCESS_TOKEN_TTL_SECS",
        "lifetime of an access token, 30 to 3600 (default 900)",
    ),
    (
        "AUTOSHOP_REFRESH_TOKEN_TTL_HOURS",
        "lifetime of an unused refresh token (default 336)",
    ),
    (
        "AUTOSHOP_SESSION_TTL_HOURS",
        "longest a session lasts however often it refreshes (default 720)",
    ),
    (
        "AUTOSHOP_CACHE_TTL_SECS",
        "longest a replica trusts remembered sessions, staff and access rules without asking the database (default 5; 0: never remember)",
    ),
    (
        "AUTOSHOP_REFRESH_REUSE_GRACE_MS",
        "how long a just-replaced refresh token gets an error without revoking its session (default 10000; 0: never)",
    ),
    (
        "AUTOSHOP_METRICS_LISTEN",
        "address of a separate listener serving /metrics (default: none)",
    ),
    (
        "AUTOSHOP_METRICS_TOKEN",
        "bearer token that opens /metrics on the main listener (default: none, /metrics is not served there)",
    ),
    (
        "AUTOSHOP_MAX_QUERY_BYTES",
        "largest GraphQL document, checked before parsing (default 16384)",
    ),
    (
        "AUTOSHOP_MAX_QUERY_TOKENS",
        "most tokens in a GraphQL document, counted before parsing (default 2000)",
    ),
    (
        "AUTOSHOP_AUTH_MAX_FAILURES",
        "failed sign-ins per account before backoff; an address gets four times as many (default 5)",
    ),
    (
        "AUTOSHOP_AUTH_BACKOFF_MS",
        "first wait after too many failures, doubling up to 15 minutes (default 1000)",
    ),
    (
        "AUTOSHOP_PASSWORD_HASH_CONCURRENCY",
        "password hashes computed at once (default: the number of cores)",
    ),
    (
        "AUTOSHOP_CORS_ORIGINS",
        "comma-separated exact origins allowed to call with credentials (default none)",
    ),
    (
        "AUTOSHOP_PUBLIC_URL",
        "the address of the console and the SPA, for links in messages; its origin may upload to the built-in store (default http://127.0.0.1:8080)",
    ),
    (
        "AUTOSHOP_S3_ENDPOINT",
        "an S3-compatible endpoint, e.g. https://s3.eu-central-1.amazonaws.com (default: the store built in, under <data dir>/objects)",
    ),
    (
        "AUTOSHOP_S3_PUBLIC_ENDPOINT",
        "where browsers reach the store, when not at AUTOSHOP_S3_ENDPOINT (default: the same)",
    ),
    (
        "AUTOSHOP_S3_BUCKET",
        "the bucket files go to (default autoshop)",
    ),
    (
        "AUTOSHOP_S3_REGION",
        "the store's region (default us-east-1)",
    ),
    (
        "AUTOSHOP_S3_PATH_STYLE",
        "address the bucket in the path rather than the host name (default true)",
    ),
    (
        "AUTOSHOP_S3_ACCESS_KEY_ID",
        "the store's access key (default: AWS's credential chain: environment, profile, instance role)",
    ),
    (
        "AUTOSHOP_S3_SECRET_ACCESS_KEY",
        "the secret of AUTOSHOP_S3_ACCESS_KEY_ID",
    ),
    (
        "AUTOSHOP_S3_EMBEDDED_LISTEN",
        "where the built-in store listens, for browsers too (default 127.0.0.1:9000)",
    ),
    (
        "AUTOSHOP_S3_URL_TTL_SECS",
        "how long a presigned upload or download URL works, up to 3600 (default 300)",
    ),
    (
        "AUTOSHOP_UPLOAD_PENDING_TTL_SECS",
        "how long an upload may stay unconfirmed before it is removed (default 86400)",
    ),
    (
        "AUTOSHOP_FILE_SWEEP_SECS",
        "how often abandoned uploads and files deleted past their retention are removed (default 300)",
    ),
    (
        "MEILI_URL",
        "Meilisearch, e.g. http://meili.internal:7700 (default: the search index built in, under <data dir>/search)",
    ),
    ("MEILI_MASTER_KEY", "Meilisearch's key"),
    (
        "AUTOSHOP_SEARCH_INDEX",
        "the Meilisearch index (default autoshop)",
    ),
    (
        "AUTOSHOP_SEARCH_DIR",
        "where the built-in search index lives (default <data dir>/search)",
    ),
    (
        "AUTOSHOP_SEARCH_RELAY_MS",
        "how often changes waiting for the search index are looked for (default 200)",
    ),
    (
        "REDIS_URL",
        "redis://… shared by replicas for throttling and policy updates (default: in process)",
    ),
    (
        "AUTOSHOP_REDIS_PREFIX",
        "prefix of every Redis key (default autoshop:)",
    ),
];

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().collect())
    }

    /// Reads settings from the given variables; tests pass their own.
    pub fn from_vars(vars: HashMap<String, String>) -> Result<Self, ConfigError> {
        if let Some(unknown) = vars
            .keys()
            .filter(|k| k.starts_with("AUTOSHOP_") && !VARIABLES.iter().any(|(n, _)| n == k))
            .min()
        {
            return Err(ConfigError {
                variable: unknown.clone(),
                problem: "unknown variable (see `autoshop --help` for the list)".into(),
            });
        }
        let get = |name: &str| vars.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());

        let environment = match get("AUTOSHOP_ENV") {
            None | Some("development") => Environment::Development,
            Some("production") => Environment::Production,
            Some(other) => return Err(bad("AUTOSHOP_ENV", other, "development or production")),
        };
        let listen = parse(
            get("AUTOSHOP_LISTEN"),
            "AUTOSHOP_LISTEN",
            "127.0.0.1:8080".parse().ok(),
            "host:port",
        )?;
        let data_dir = PathBuf::from(get("AUTOSHOP_DATA_DIR").unwrap_or("./data"));
        let url = match get("DATABASE_URL") {
            None => format!("sqlite://{}/autoshop.db?mode=rwc", data_dir.display()),
            Some(u)
                if u.starts_with("sqlite:")
                    || u.starts_with("postgres://")
                    || u.starts_with("postgresql://") =>
            {
                u.to_owned()
            }
            Some(_) => {
                return Err(ConfigError {
                    variable: "DATABASE_URL".into(),
                    problem: "must start with postgres:// or sqlite:".into(),
                });
            }
        };
        let is_sqlite = url.starts_with("sqlite:");
        let database = DatabaseSettings {
            url: Secret::new(url),
            max_connections: parse(
                get("AUTOSHOP_DB_MAX_CONNECTIONS"),
                "AUTOSHOP_DB_MAX_CONNECTIONS",
                Some(10),
                "a positive number",
            )?,
            auto_migrate: parse_bool(
                get("AUTOSHOP_AUTO_MIGRATE"),
                "AUTOSHOP_AUTO_MIGRATE",
                is_sqlite,
            )?,
            remember_for: Duration::from_secs(parse(
                get("AUTOSHOP_CACHE_TTL_SECS"),
                "AUTOSHOP_CACHE_TTL_SECS",
                Some(5),
                "a number of seconds",
            )?),
        };
        if database.max_connections == 0 {
            return Err(bad("AUTOSHOP_DB_MAX_CONNECTIONS", "0", "a positive number"));
        }
        let log_format = match get("AUTOSHOP_LOG_FORMAT") {
            None if environment == Environment::Production => LogFormat::Json,
            None => LogFormat::Pretty,
            Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(other) => return Err(bad("AUTOSHOP_LOG_FORMAT", other, "pretty or json")),
        };
        let graphql = GraphqlLimits {
            max_depth: positive(
                get("AUTOSHOP_MAX_QUERY_DEPTH"),
                "AUTOSHOP_MAX_QUERY_DEPTH",
                12,
            )?,
            max_complexity: positive(
                get("AUTOSHOP_MAX_QUERY_COMPLEXITY"),
                "AUTOSHOP_MAX_QUERY_COMPLEXITY",
                20_000,
            )?,
            max_aliases: positive(get("AUTOSHOP_MAX_ALIASES"), "AUTOSHOP_MAX_ALIASES", 30)?,
            max_page_size: positive(get("AUTOSHOP_MAX_PAGE_SIZE"), "AUTOSHOP_MAX_PAGE_SIZE", 100)?,
            max_body_bytes: positive(
                get("AUTOSHOP_MAX_BODY_BYTES"),
                "AUTOSHOP_MAX_BODY_BYTES",
                256 * 1024,
            )?,
            loader_delay: Duration::from_millis(parse(
                get("AUTOSHOP_LOADER_DELAY_MS"),
                "AUTOSHOP_LOADER_DELAY_MS",
                Some(1),
                "a number of milliseconds",
            )?),
            max_query_bytes: positive(
                get("AUTOSHOP_MAX_QUERY_BYTES"),
                "AUTOSHOP_MAX_QUERY_BYTES",
                16 * 1024,
            )?,
            max_query_tokens: positive(
                get("AUTOSHOP_MAX_QUERY_TOKENS"),
                "AUTOSHOP_MAX_QUERY_TOKENS",
                2000,
            )?,
        };
        let trusted_proxies = get("AUTOSHOP_TRUSTED_PROXIES")
            .map(|v| {
                v.split(',')
                    .map(|c| c.trim().parse())
                    .collect::<Result<Vec<_>, String>>()
            })
            .transpose()
            .map_err(|problem| ConfigError {
                variable: "AUTOSHOP_TRUSTED_PROXIES".into(),
                problem,
            })?
            .unwrap_or_default();
        let rate_limits = rate_limits(&get)?;
        let trusted_documents = match get("AUTOSHOP_TRUSTED_DOCUMENTS") {
            None if environment == Environment::Production => crate::schema::trusted::Mode::Enforce,
            None => crate::schema::trusted::Mode::Off,
            Some(v) => v
                .parse()
                .map_err(|_| bad("AUTOSHOP_TRUSTED_DOCUMENTS", v, "enforce, log or off"))?,
        };
        let auth = auth_settings(&get, &data_dir)?;
        let redis = match get("REDIS_URL") {
            None => None,
            Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {
                Some(RedisSettings {
                    url: Secret::new(u.to_owned()),
                    prefix: get("AUTOSHOP_REDIS_PREFIX")
                        .unwrap_or("autoshop:")
                        .to_owned(),
                })
            }
            Some(_) => return Err(bad("REDIS_URL", "that", "a redis:// or rediss:// URL")),
        };
        let metrics = MetricsSettings {
            listen: get("AUTOSHOP_METRICS_LISTEN")
                .map(|v| {
                    v.parse().map_err(|_| {
                        bad(
                            "AUTOSHOP_METRICS_LISTEN",
                            v,
                            "an address like 127.0.0.1:9100",
                        )
                    })
                })
                .transpose()?,
            token: get("AUTOSHOP_METRICS_TOKEN").map(|t| Secret::new(t.to_owned())),
        };
        let storage = storage_settings(&get)?;
        let search = SearchSettings {
            meili_url: match get("MEILI_URL") {
                Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                    Some(u.trim_end_matches('/').to_owned())
                }
                Some(u) => return Err(bad("MEILI_URL", u, "an http:// or https:// URL")),
                None => None,
            },
            meili_key: get("MEILI_MASTER_KEY").map(|k| Secret::new(k.to_owned())),
            index: get("AUTOSHOP_SEARCH_INDEX")
                .unwrap_or("autoshop")
                .to_owned(),
            dir: get("AUTOSHOP_SEARCH_DIR").map_or_else(|| data_dir.join("search"), PathBuf::from),
            relay_every: Duration::from_millis(positive(
                get("AUTOSHOP_SEARCH_RELAY_MS"),
                "AUTOSHOP_SEARCH_RELAY_MS",
                200,
            )? as u64),
        };
        Ok(Self {
            search,
            storage,
            environment,
            listen,
            data_dir,
            database,
            log_format,
            graphql,
            trusted_proxies,
            auth,
            redis,
            rate_limits,
            trusted_documents,
            metrics,
        })
    }

    pub fn is_development(&self) -> bool {
        self.environment == Environment::Development
    }
}

fn storage_settings<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<StorageSettings, ConfigError> {
    let url = |name: &str| -> Result<Option<String>, ConfigError> {
        match get(name) {
            Some(u) if u.starts_with("http://") || u.starts_with("https://") => {
                Ok(Some(u.trim_end_matches('/').to_owned()))
            }
            Some(u) => Err(bad(name, u, "an http:// or https:// URL")),
            None => Ok(None),
        }
    };
    let secs = |name: &str, default: u64| -> Result<Duration, ConfigError> {
        Ok(Duration::from_secs(
            positive(get(name), name, default as usize)? as u64,
        ))
    };
    let access_key_id = get("AUTOSHOP_S3_ACCESS_KEY_ID").map(str::to_owned);
    let secret_access_key = get("AUTOSHOP_S3_SECRET_ACCESS_KEY").map(|k| Secret::new(k.to_owned()));
    if access_key_id.is_some() != secret_access_key.is_some() {
        return Err(ConfigError {
            variable: "AUTOSHOP_S3_ACCESS_KEY_ID".into(),
            problem: "is given with AUTOSHOP_S3_SECRET_ACCESS_KEY or not at all".into(),
        });
    }
    let url_ttl = secs("AUTOSHOP_S3_URL_TTL_SECS", 300)?;
    if url_ttl > Duration::from_secs(3600) {
        return Err(bad(
            "AUTOSHOP_S3_URL_TTL_SECS",
            "that",
            "at most 3600 seconds",
        ));
    }
    Ok(StorageSettings {
        endpoint: url("AUTOSHOP_S3_ENDPOINT")?,
        public_endpoint: url("AUTOSHOP_S3_PUBLIC_ENDPOINT")?,
        bucket: get("AUTOSHOP_S3_BUCKET").unwrap_or("autoshop").to_owned(),
        region: get("AUTOSHOP_S3_REGION").unwrap_or("us-east-1").to_owned(),
        path_style: parse(
            get("AUTOSHOP_S3_PATH_STYLE"),
            "AUTOSHOP_S3_PATH_STYLE",
            Some(true),
            "true or false",
        )?,
        access_key_id,
        secret_access_key,
        embedded_listen: parse(
            get("AUTOSHOP_S3_EMBEDDED_LISTEN"),
            "AUTOSHOP_S3_EMBEDDED_LISTEN",
            "127.0.0.1:9000".parse().ok(),
            "host:port",
        )?,
        url_ttl,
        pending_ttl: secs("AUTOSHOP_UPLOAD_PENDING_TTL_SECS", 24 * 3600)?,
        sweep_every: secs("AUTOSHOP_FILE_SWEEP_SECS", 300)?,
    })
}

/// Each budget's quota: `<NAME>_PER_MINUTE` and `<NAME>_BURST`.
fn rate_limits<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
) -> Result<crate::ratelimit::Quotas, ConfigError> {
    use crate::ratelimit::Quota;
    let quota = |name: &str, per_minute: u32, burst: u32| -> Result<Quota, ConfigError> {
        let read = |suffix: &str, default: u32| {
            let variable = format!("{name}_{suffix}");
            let n = positive(get(&variable), &variable, default as usize)?;
            u32::try_from(n).map_err(|_| bad(&variable, "too large", "a number up to 4294967295"))
        };
        Ok(Quota {
            per_minute: read("PER_MINUTE", per_minute)?,
            burst: read("BURST", burst)?,
        })
    };
    let caller = quota("AUTOSHOP_RATE_LIMIT", 30_000, 20_000)?;
    Ok(crate::ratelimit::Quotas {
        caller,
        address: quota(
            "AUTOSHOP_ADDRESS_RATE_LIMIT",
            caller.per_minute.saturating_mul(4),
            caller.burst.saturating_mul(4),
        )?,
        sign_in: quota("AUTOSHOP_SIGN_IN_RATE_LIMIT", 20, 10)?,
        upload: quota("AUTOSHOP_UPLOAD_RATE_LIMIT", 60, 20)?,
    })
}

fn auth_settings<'a>(
    get: &impl Fn(&str) -> Option<&'a str>,
    data_dir: &std::path::Path,
) -> Result<AuthSettings, ConfigError> {
    let keys_dir_set = get("AUTOSHOP_KEYS_DIR").is_some();
    let access_secs = positive(
        get("AUTOSHOP_ACCESS_TOKEN_TTL_SECS"),
        "AUTOSHOP_ACCESS_TOKEN_TTL_SECS",
        900,
    )?;
    if !(30..=3600).contains(&access_secs) {
        return Err(bad(
            "AUTOSHOP_ACCESS_TOKEN_TTL_SECS",
            &access_secs.to_string(),
            "between 30 and 3600",
        ));
    }
    let hours = |name: &str, default: usize| -> Result<Duration, ConfigError> {
        let h = positive(get(name), name, default)?;
        Ok(Duration::from_secs(
            u64::try_from(h).unwrap_or(u64::MAX).saturating_mul(3600),
        ))
    };
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    Ok(AuthSettings {
        keys_dir: get("AUTOSHOP_KEYS_DIR").map_or_else(|| data_dir.join("keys"), PathBuf::from),
        keys_dir_set,
        jwt_private_key: get("AUTOSHOP_JWT_PRIVATE_KEY").map(|k| Secret::new(k.to_owned())),
        encryption_key: get("AUTOSHOP_ENCRYPTION_KEY").map(|k| Secret::new(k.to_owned())),
        issuer: get("AUTOSHOP_JWT_ISSUER").unwrap_or("autoshop").to_owned(),
        audience: get("AUTOSHOP_JWT_AUDIENCE")
            .unwrap_or("autoshop-api")
            .to_owned(),
        access_ttl: Duration::from_secs(access_secs as u64),
        refresh_ttl: hours("AUTOSHOP_REFRESH_TOKEN_TTL_HOURS", 336)?,
        session_ttl: hours("AUTOSHOP_SESSION_TTL_HOURS", 720)?,
        throttle: crate::auth::throttle::Policy {
            max_failures: u32::try_from(positive(
                get("AUTOSHOP_AUTH_MAX_FAILURES"),
                "AUTOSHOP_AUTH_MAX_FAILURES",
                5,
            )?)
            .unwrap_or(u32::MAX),
            base: Duration::from_millis(positive(
                get("AUTOSHOP_AUTH_BACKOFF_MS"),
                "AUTOSHOP_AUTH_BACKOFF_MS",
                1000,
            )? as u64),
            cap: Duration::from_secs(15 * 60),
            window: Duration::from_secs(15 * 60),
        },
        refresh_reuse_grace: Duration::from_millis(parse(
            get("AUTOSHOP_REFRESH_REUSE_GRACE_MS"),
            "AUTOSHOP_REFRESH_REUSE_GRACE_MS",
            Some(10_000),
            "a number of milliseconds",
        )?),
        hash_concurrency: positive(
            get("AUTOSHOP_PASSWORD_HASH_CONCURRENCY"),
            "AUTOSHOP_PASSWORD_HASH_CONCURRENCY",
            cores,
        )?,
        cors_origins: get("AUTOSHOP_CORS_ORIGINS")
            .map(|v| {
                v.split(',')
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .filter(|o| !o.is_empty())
                    .map(|o| {
                        if o.starts_with("https://") || o.starts_with("http://") {
                            Ok(o)
                        } else {
                            Err(bad(
                                "AUTOSHOP_CORS_ORIGINS",
                                &o,
                                "an origin like https://shop.example",
                            ))
                        }
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?
            .unwrap_or_default(),
        public_url: get("AUTOSHOP_PUBLIC_URL")
            .unwrap_or("http://127.0.0.1:8080")
            .trim_end_matches('/')
            .to_owned(),
    })
}

fn bad(variable: &str, value: &str, expected: &str) -> ConfigError {
    ConfigError {
        variable: variable.into(),
        problem: format!("`{value}` is not {expected}"),
    }
}

fn parse<T: FromStr>(
    raw: Option<&str>,
    variable: &str,
    default: Option<T>,
    expected: &str,
) -> Result<T, ConfigError> {
    match raw {
        Some(v) => v.parse().map_err(|_| bad(variable, v, expected)),
        None => default.ok_or_else(|| ConfigError {
            variable: variable.into(),
            problem: "is required".into(),
        }),
    }
}

fn positive(raw: Option<&str>, variable: &str, default: usize) -> Result<usize, ConfigError> {
    let v: usize = parse(raw, variable, Some(default), "a positive number")?;
    if v == 0 {
        Err(bad(variable, "0", "a positive number"))
    } else {
        Ok(v)
    }
}

fn parse_bool(raw: Option<&str>, variable: &str, default: bool) -> Result<bool, ConfigError> {
    match raw {
        None => Ok(default),
        Some("true" | "1" | "yes") => Ok(true),
        Some("false" | "0" | "no") => Ok(false),
        Some(other) => Err(bad(variable, other, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn nothing_set_means_the_embedded_default() {
        let s = Settings::from_vars(vars(&[])).expect("defaults");
        assert_eq!(s.database.backend(), Backend::Sqlite);
        assert!(s.database.url.expose().contains("data/autoshop.db"));
        assert!(s.database.auto_migrate);
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
    }

    #[test]
    fn postgres_does_not_migrate_on_start_unless_asked() {
        let s =
            Settings::from_vars(vars(&[("DATABASE_URL", "postgres://u:pw@db/shop")])).expect("pg");
        assert_eq!(s.database.backend(), Backend::Postgres);
        assert!(!s.database.auto_migrate);
    }

    #[test]
    fn unknown_values_and_variables_fail_naming_the_variable() {
        let e = Settings::from_vars(vars(&[("AUTOSHOP_ENV", "prod")])).expect_err("bad env");
        assert_eq!(e.variable, "AUTOSHOP_ENV");
        let e = Settings::from_vars(vars(&[("AUTOSHOP_LISTN", "x")])).expect_err("typo");
        assert_eq!(e.variable, "AUTOSHOP_LISTN");
        let e = Settings::from_vars(vars(&[("AUTOSHOP_MAX_PAGE_SIZE", "0")])).expect_err("zero");
        assert_eq!(e.variable, "AUTOSHOP_MAX_PAGE_SIZE");
        let e = Settings::from_vars(vars(&[("DATABASE_URL", "mysql://x")])).expect_err("mysql");
        assert_eq!(e.variable, "DATABASE_URL");
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = Settings::from_vars(vars(&[("DATABASE_URL", "postgres://u:hunter2@db/shop")]))
            .expect("pg");
        assert!(!format!("{s:?}").contains("hunter2"));
    }
}
