//! The HTTP application: `App::build` connects, migrates, binds and reports its port; tests start it exactly as `main` does.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::policy::{Access, Policy};
use crate::auth::{self, Auth, Rejected};
use crate::config::{GraphqlLimits, Settings};
use crate::db::{self, Db};
use crate::error::{UNAVAILABLE, coded};
use crate::ratelimit::{Budget, Draw, RateLimiter, Verdict};
use crate::resolvers::{self as schema, AppSchema};
use crate::schema::documents::DocumentCache;
use crate::schema::trusted::TrustedDocuments;
use crate::schema::{limits, loaders};

/// What every request shares.
#[derive(Clone, Debug)]
pub struct AppState {
    pub db: Db,
    pub auth: Arc<Auth>,
    pub policy: Arc<Policy>,
    pub events: Arc<crate::events::Events>,
    pub store: Arc<dyn crate::storage::ObjectStore>,
    pub search: Arc<dyn crate::search::SearchIndex>,
    pub limits: GraphqlLimits,
    pub settings: Arc<Settings>,
    /// Every request's budgets, shared by the replicas through Redis when it is configured.
    pub limiter: Arc<RateLimiter>,
    /// The documents the SPA may send.
    pub trusted: Arc<TrustedDocuments>,
}

/// Shared by every request behind one `Arc`: axum hands each handler and middleware its own copy of the state.
struct HttpState {
    app: AppState,
    schema: AppSchema,
    /// For documents from the cache, which passed every static rule when they first ran.
    validated: AppSchema,
    documents: Arc<DocumentCache>,
}

pub struct App {
    listener: TcpListener,
    router: Router,
    /// `/metrics` on a listener of its own, when configured.
    metrics: Option<(TcpListener, Router)>,
    state: AppState,
}

impl App {
    /// Connects to the database, brings its schema up to date (or refuses to start if it is behind and
    /// migrating on start is off), and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        // Installed before anything records, so no early sample is lost.
        crate::telemetry::metrics();
        // Two TLS crypto providers are linked (the AWS SDK's and sqlx's); one must be chosen for the process.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let db = db::connect(&settings.database).await?;
        if settings.database.auto_migrate {
            db.migrate_up().await?;
        } else {
            let pending = db.pending_migrations().await?;
            anyhow::ensure!(
                pending == 0,
                "the database is {pending} migration(s) behind: run `autoshop migrate` first"
            );
        }
        let auth = Arc::new(Auth::load(&settings).await?);
        crate::services::roles::seed_built_in(&db).await?;
        crate::services::reference::seed_directories(&db).await?;
        // Sessions ended, staff and policy changes and board events reach the other replicas through Redis;
        // alone, there is nobody to tell.
        // The same multiplexed connection carries the replicas' budgets.
        let limiter = Arc::new(match &settings.redis {
            Some(r) => {
                let (client, conn) = crate::redis_conn::connect(r.url.expose()).await?;
                db.fanout
                    .share(client, conn.clone(), format!("{}changes", r.prefix))
                    .await;
                RateLimiter::shared(settings.rate_limits, conn, &r.prefix)
            }
            None => RateLimiter::in_process(settings.rate_limits),
        });
        let remember_for = settings.database.remember_for;
        let policy = Policy::load(db.conn.clone(), Arc::clone(&db.fanout), remember_for).await?;
        let events = crate::events::Events::new(Arc::clone(&db.fanout));
        if crate::services::users::count_users(&db).await? == 0 {
            tracing::warn!(
                "no users yet: create the owner with `autoshop create-owner --email you@example.com`"
            );
        }
        let store = crate::storage::open(&settings).await?;
        crate::services::files::sweep_every(db.clone(), Arc::clone(&store), &settings.storage);
        let search = crate::search::open(&settings.search).await?;
        crate::search::outbox::relay(db.clone(), Arc::clone(&search), settings.search.relay_every)
            .await;
        let trusted = Arc::new(TrustedDocuments::compiled_in(settings.trusted_documents)?);
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let metrics_listener = match settings.metrics.listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("binding AUTOSHOP_METRICS_LISTEN {addr}"))?,
            ),
            None => None,
        };
        let state = AppState {
            db,
            auth,
            policy,
            events,
            store,
            search,
            limits: settings.graphql,
            settings: Arc::new(settings),
            limiter,
            trusted,
        };
        let router = router(state.clone());
        let metrics = metrics_listener.map(|l| {
            let open = Router::new()
                .route("/metrics", get(metrics))
                .with_state(state.db.clone());
            (l, open)
        });
        Ok(Self {
            listener,
            router,
            metrics,
            state,
        })
    }

    /// Where `/metrics` is served openly, if on a listener of its own.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().and_then(|(l, _)| l.local_addr().ok())
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.settings.listen)
    }

    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` completes, then lets requests in flight finish.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if let Some((listener, router)) = self.metrics {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, router).await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
        }
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

fn router(app: AppState) -> Router {
    let development = app.settings.is_development();
    let schema = schema::build(Some(app.clone()), app.limits, development);
    let validated = schema::build_for_validated(Some(app.clone()), app.limits, development);
    let max_body = app.limits.max_body_bytes;
    let cors = cors(&app.settings.auth.cors_origins);
    let documents = Arc::new(DocumentCache::bounded(
        app.limits.max_query_bytes,
        app.limits.max_query_tokens,
    ));
    let state = Arc::new(HttpState {
        app,
        schema,
        validated,
        documents,
    });

    let mut graphql = post(graphql).layer(middleware::from_fn(json_only));
    if development {
        graphql = graphql.get(crate::console::explorer);
    }
    // Subscriptions only: queries and mutations go through POST /graphql and its checks.
    let ws = get(graphql_ws).layer(middleware::from_fn_with_state(state.clone(), rate_limit));
    let mut routes = Router::new()
        .route("/", get(crate::console::index))
        .route("/assets/{*path}", get(crate::console::asset))
        .route("/graphql", graphql)
        .route("/graphql/ws", ws)
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/.well-known/jwks.json", get(jwks));
    // On the public listener only behind its bearer token; otherwise not at all (see AUTOSHOP_METRICS_LISTEN).
    if state.app.settings.metrics.token.is_some() {
        routes = routes.route("/metrics", get(metrics_with_token));
    }
    routes
        .with_state(state)
        .layer(cors)
        .layer(RequestBodyLimitLayer::new(max_body))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(30)))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

async fn graphql(
    State(s): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> Response {
    let started = Instant::now();
    let mut req = req.into_inner();
    let ip = client_ip(&s, peer, &headers);
    let integration = auth::presents_api_key(&headers);
    // Which documents may run is decided first: a refused one costs a lookup, never a parse.
    let inspected = s.app.trusted.admit(&mut req, integration).and_then(|()| {
        let parsed = s.documents.parse(&req.query)?;
        let limits::Inspection {
            writes,
            public,
            operation,
            cost,
            budget,
        } = limits::inspect(
            &parsed.doc,
            req.operation_name.as_deref(),
            &req.variables,
            s.app.limits.max_aliases,
        )?;
        let operation = operation.map(str::to_owned);
        // A document new to the cache is remembered only once it has run cleanly.
        let fresh = (!parsed.cached).then(|| (req.query.clone(), parsed.doc.clone()));
        req.set_parsed_query(parsed.doc);
        Ok((writes, public, cost, budget, operation, fresh))
    });
    let (writes, public, cost, budget, operation, fresh) = match inspected {
        Ok(inspected) => inspected,
        Err(e) => {
            // Refused before it could be costed: one unit of the address's budget.
            let verdict = s
                .app
                .limiter
                .charge(&[Draw::address(Budget::Address, ip, 1)])
                .await;
            limits::record(None, false, started.elapsed());
            return respond(&s, async_graphql::Response::from_errors(vec![e]), verdict);
        }
    };
    let (caller, rejected) = auth::authenticate(&s.app.db, &s.app.auth, &headers, Some(ip)).await;
    let verdict = s
        .app
        .limiter
        .charge(&draws(&caller, ip, cost, budget))
        .await;
    // Over budget, nothing runs (429); without credentials, only public fields and never an unproven API key.
    let unauthenticated = (!public || integration) && !caller.is_authenticated();
    if !verdict.allowed || unauthenticated {
        limits::record(operation.as_deref(), false, started.elapsed());
        let errors = if verdict.allowed {
            vec![unauthenticated_error(rejected)]
        } else {
            Vec::new()
        };
        return respond(&s, async_graphql::Response::from_errors(errors), verdict);
    }
    let schema = if fresh.is_some() {
        &s.schema
    } else {
        &s.validated
    };
    let presented = crate::resolvers::auth::PresentedCookies {
        refresh: auth::cookies::get(&headers, auth::cookies::REFRESH),
    };
    let loaders = loaders::for_request(&s.app.db, s.app.limits.loader_delay, !writes);
    let access = s.app.policy.access(&caller).await;
    let response = schema
        .execute(req.data(caller).data(access).data(presented).data(loaders))
        .await;
    if let (true, Some((query, doc))) = (response.errors.is_empty(), fresh) {
        s.documents.remember(&query, doc);
    }
    limits::record(
        operation.as_deref(),
        response.errors.is_empty(),
        started.elapsed(),
    );
    respond(&s, response, verdict)
}

/// The buckets a request draws on: its address's and its caller's, charged its cost, and one unit of the tight
/// budget its root fields name (sign-in per address, uploads per caller).
fn draws(
    caller: &auth::Caller,
    ip: std::net::IpAddr,
    cost: u32,
    tight: Option<Budget>,
) -> Vec<Draw> {
    let mut draws = vec![Draw::address(Budget::Address, ip, cost)];
    let whose = match (caller.user_id, &caller.api_key) {
        (Some(user), _) => Some(format!("user:{user}")),
        (None, Some(key)) => Some(format!("key:{}", key.id)),
        (None, None) => None,
    };
    if let Some(whose) = &whose {
        draws.push(Draw::new(Budget::Caller, whose, cost));
    }
    match (tight, whose) {
        (Some(Budget::Upload), Some(whose)) => draws.push(Draw::new(Budget::Upload, whose, 1)),
        (Some(Budget::Upload), None) => draws.push(Draw::address(Budget::Upload, ip, 1)),
        (Some(budget), _) => draws.push(Draw::address(budget, ip, 1)),
        (None, _) => {}
    }
    draws
}

/// The error for a request whose credentials did not hold, by why.
fn unauthenticated_error(rejected: Option<Rejected>) -> async_graphql::ServerError {
    let (message, code) = match rejected {
        Some(Rejected::Token) => (
            "the access token is invalid or has expired",
            "unauthenticated",
        ),
        Some(Rejected::ApiKey) => (
            "the API key is invalid, revoked or expired",
            "unauthenticated",
        ),
        Some(Rejected::Unavailable) => (
            "the service is temporarily unavailable; retry shortly",
            UNAVAILABLE,
        ),
        Some(Rejected::Failed) => ("internal error", "internal"),
        None => ("sign in first", "unauthenticated"),
    };
    coded(message, code)
}

/// The budget left, on every response: the limit, what remains, and the seconds until the bucket is full.
const RATE_LIMIT_HEADERS: [&str; 3] = ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"];

/// The HTTP answer: 429 with `Retry-After` when the budget refused (nothing ran), otherwise the GraphQL
/// response; either way the budget left, in the `RateLimit-*` headers.
fn respond(s: &HttpState, response: async_graphql::Response, verdict: Verdict) -> Response {
    let mut http = if verdict.allowed {
        http_response(response, &s.app.db)
    } else {
        let body = transport_error("too many requests; slow down", "rate_limited");
        let retry = (verdict.retry_after.as_secs_f64().ceil() as u64).max(1);
        (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry.to_string())],
            body,
        )
            .into_response()
    };
    let reset = verdict.reset(s.app.limiter.quotas()).as_secs_f64().ceil() as u64;
    let headers = http.headers_mut();
    let [limit, remaining, reset_at] = RATE_LIMIT_HEADERS;
    for (name, value) in [
        (limit, u64::from(verdict.limit)),
        (remaining, u64::from(verdict.remaining)),
        (reset_at, reset),
    ] {
        headers.insert(name, value.into());
    }
    http
}

/// How long clients are told to wait before retrying during an outage.
const RETRY_AFTER_OUTAGE_SECS: &str = "2";

/// The HTTP answer to a GraphQL response: 503 with `Retry-After` when something the request needed was
/// unreachable and nothing of it was done (a document some of whose fields ran is answered 200, so a client
/// does not retry what already happened; the body says which fields failed). An outage also has the pools drop
/// the connections they can no longer trust.
fn http_response(response: async_graphql::Response, db: &Db) -> Response {
    let outage = response.errors.iter().any(|e| {
        e.extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .is_some_and(|c| *c == async_graphql::Value::from(UNAVAILABLE))
    });
    let nothing_done = match &response.data {
        async_graphql::Value::Object(fields) => {
            fields.values().all(|v| *v == async_graphql::Value::Null)
        }
        _ => true,
    };
    if outage {
        db.suspect();
    }
    let mut http = GraphQLResponse::from(response).into_response();
    if outage && nothing_done {
        *http.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        http.headers_mut().insert(
            header::RETRY_AFTER,
            axum::http::HeaderValue::from_static(RETRY_AFTER_OUTAGE_SECS),
        );
    }
    http
}

/// Runs subscriptions only, within the request limits; a query or mutation sent over the WebSocket is refused,
/// so nothing bypasses `POST /graphql`.
#[derive(Clone)]
struct SubscriptionsOnly {
    schema: AppSchema,
    documents: Arc<DocumentCache>,
    trusted: Arc<TrustedDocuments>,
    /// Set when the connection is initialised: whether an integration's API key opened it.
    integration: Arc<std::sync::OnceLock<bool>>,
    max_aliases: usize,
}

impl async_graphql::Executor for SubscriptionsOnly {
    async fn execute(&self, _: async_graphql::Request) -> async_graphql::Response {
        async_graphql::Response::from_errors(vec![coded(
            "only subscriptions run over the WebSocket",
            "subscriptions_only",
        )])
    }

    fn execute_stream(
        &self,
        mut request: async_graphql::Request,
        session: Option<Arc<async_graphql::Data>>,
    ) -> futures_util::stream::BoxStream<'static, async_graphql::Response> {
        use async_graphql::parser::types::OperationType;
        use futures_util::StreamExt as _;
        let integration = self.integration.get().copied().unwrap_or(false);
        let checked = self
            .trusted
            .admit(&mut request, integration)
            .and_then(|()| {
                let parsed = self.documents.parse(&request.query)?;
                if parsed
                    .doc
                    .operations
                    .iter()
                    .any(|(_, op)| op.node.ty != OperationType::Subscription)
                {
                    return Err(coded(
                        "only subscriptions run over the WebSocket",
                        "subscriptions_only",
                    ));
                }
                limits::inspect(
                    &parsed.doc,
                    request.operation_name.as_deref(),
                    &request.variables,
                    self.max_aliases,
                )?;
                Ok(parsed.doc)
            });
        match checked {
            Ok(doc) => {
                request.set_parsed_query(doc);
                self.schema
                    .execute_stream_with_session_data(request, session.unwrap_or_default())
            }
            Err(e) => {
                futures_util::stream::once(
                    async move { async_graphql::Response::from_errors(vec![e]) },
                )
                .boxed()
            }
        }
    }
}

/// Upgrades to GraphQL over WebSocket (graphql-transport-ws or the older graphql-ws). The caller signs in with
/// the SPA's cookie or a bearer token on the upgrade, or a token in `connection_init`'s payload.
async fn graphql_ws(
    State(s): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    protocol: async_graphql_axum::GraphQLProtocol,
    headers: HeaderMap,
    upgrade: axum::extract::ws::WebSocketUpgrade,
) -> Response {
    // A browser sends cookies with a WebSocket opened from any page: only the shop's own pages may open one.
    if let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let same_host = origin.split_once("://").is_some_and(|(_, h)| h == host);
        let allowed = s.app.settings.auth.cors_origins.iter().any(|o| o == origin);
        if !same_host && !allowed {
            let body = transport_error("this origin may not open a WebSocket", "forbidden");
            return (StatusCode::FORBIDDEN, body).into_response();
        }
    }
    let ip = client_ip(&s, peer, &headers);
    let (on_upgrade, _) = auth::authenticate(&s.app.db, &s.app.auth, &headers, Some(ip)).await;
    let app = s.app.clone();
    let integration = Arc::new(std::sync::OnceLock::new());
    let executor = SubscriptionsOnly {
        schema: s.schema.clone(),
        documents: Arc::clone(&s.documents),
        trusted: Arc::clone(&s.app.trusted),
        integration: Arc::clone(&integration),
        max_aliases: s.app.limits.max_aliases,
    };
    // The connection's access is worked out once, at `connection_init`, and every field of every event is
    // checked against it: when a change of the rules changes it, the connection ends (close code 1012, "service
    // restart": connect again) and the client's next `connection_init` works it out afresh.
    let (signed_in, access_known) = tokio::sync::oneshot::channel::<(auth::Caller, Arc<Access>)>();
    let access_changed = access_differs(s.app.db.clone(), Arc::clone(&s.app.policy), access_known);
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| async move {
            use futures_util::{SinkExt as _, StreamExt as _};
            let (mut sink, input) = socket.split();
            let changed = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let noted = Arc::clone(&changed);
            let input = input.take_until(async move {
                access_changed.await;
                noted.store(true, std::sync::atomic::Ordering::SeqCst);
            });
            async_graphql_axum::GraphQLWebSocket::new_with_pair(
                &mut sink, input, executor, protocol,
            )
            .on_connection_init(move |payload| async move {
                let token = payload
                    .get("authorization")
                    .or_else(|| payload.get("Authorization"))
                    .and_then(|v| v.as_str())
                    .map(|t| t.trim_start_matches("Bearer ").to_owned())
                    .or_else(|| {
                        payload
                            .get("accessToken")
                            .and_then(|v| v.as_str())
                            .map(str::to_owned)
                    });
                let caller = match token {
                    Some(t) => {
                        let mut h = HeaderMap::new();
                        if let Ok(v) = format!("Bearer {t}").parse() {
                            h.insert(header::AUTHORIZATION, v);
                        }
                        auth::authenticate(&app.db, &app.auth, &h, Some(ip)).await.0
                    }
                    None => on_upgrade,
                };
                if !caller.is_authenticated() {
                    return Err(crate::error::AppError::Unauthenticated.into());
                }
                let _ = integration.set(caller.api_key.is_some());
                let access = app.policy.access(&caller).await;
                let _ = signed_in.send((caller.clone(), Arc::clone(&access)));
                // No cache: a subscription lives long, and every event must see the records as they are.
                let loaders = loaders::for_request(&app.db, app.limits.loader_delay, false);
                let mut data = async_graphql::Data::default();
                data.insert(caller);
                data.insert(access);
                data.insert(loaders);
                Ok(data)
            })
            .serve()
            .await;
            if changed.load(std::sync::atomic::Ordering::SeqCst) {
                let close = axum::extract::ws::CloseFrame {
                    code: 1012,
                    reason: "your access changed: connect again".into(),
                };
                let _ = sink
                    .send(axum::extract::ws::Message::Close(Some(close)))
                    .await;
            }
        })
}

/// Resolves once the rules give the connection's caller other access than it was given at `connection_init`:
/// the first access the caller's stream of changes reports that differs. Never, if they never sign in, or once
/// their session ends (its subscriptions end on their own then).
async fn access_differs(
    db: Db,
    policy: Arc<Policy>,
    known: tokio::sync::oneshot::Receiver<(auth::Caller, Arc<Access>)>,
) {
    use futures_util::StreamExt as _;
    let Ok((caller, given)) = known.await else {
        return std::future::pending().await;
    };
    // It starts with the access as it is now, so a change between `connection_init` and here is seen.
    let accesses = crate::services::roles::access_changes(db, policy, caller);
    futures_util::pin_mut!(accesses);
    while let Some(now) = accesses.next().await {
        if now != given {
            return;
        }
    }
    std::future::pending().await
}

/// The public keys that verify our access tokens, for services that accept them.
async fn jwks(State(s): State<Arc<HttpState>>) -> impl IntoResponse {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(s.app.auth.keys.jwks()),
    )
}

/// Browsers may call with credentials only from the configured origins, exactly as written.
fn cors(origins: &[String]) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let allowed: Vec<axum::http::HeaderValue> =
        origins.iter().filter_map(|o| o.parse().ok()).collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(allowed))
        .allow_methods([Method::POST])
        .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
        .expose_headers(
            std::iter::once(header::RETRY_AFTER)
                .chain(RATE_LIMIT_HEADERS.map(header::HeaderName::from_static))
                .collect::<Vec<_>>(),
        )
        .allow_credentials(true)
        .max_age(Duration::from_secs(600))
}

/// A GraphQL-shaped error body for requests refused before they reach the engine.
fn transport_error(message: &str, code: &str) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "errors": [{ "message": message, "extensions": { "code": code } }] }))
}

/// The client's address, looking through trusted load balancers.
fn client_ip(s: &HttpState, peer: SocketAddr, headers: &HeaderMap) -> std::net::IpAddr {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    crate::ratelimit::client_ip(peer.ip(), forwarded, &s.app.settings.trusted_proxies)
}

/// Charges a WebSocket upgrade one unit of its address's budget; over it, 429 with a `Retry-After`.
async fn rate_limit(
    State(s): State<Arc<HttpState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
    next: Next,
) -> Response {
    let ip = client_ip(&s, peer, req.headers());
    let verdict = s
        .app
        .limiter
        .charge(&[Draw::address(Budget::Address, ip, 1)])
        .await;
    if verdict.allowed {
        next.run(req).await
    } else {
        respond(&s, async_graphql::Response::default(), verdict)
    }
}

/// `POST /graphql` takes JSON only: a cross-site form or `text/plain` POST cannot run a mutation.
async fn json_only(req: Request, next: Next) -> Response {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if req.method() == Method::POST && !is_json {
        let body = transport_error("send GraphQL as application/json", "unsupported_media_type");
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, body).into_response();
    }
    next.run(req).await
}

/// Ready when the database answers within a second: a load balancer's probe must not hang on an outage.
/// Ready when the database answers; the detail says how far the search index is behind (a search backlog
/// does not make a replica unready: everything but search works, and search answers what is indexed).
async fn readyz(State(s): State<Arc<HttpState>>) -> Response {
    let answered = tokio::time::timeout(Duration::from_secs(1), s.app.db.ping()).await;
    if answered != Ok(true) {
        s.app.db.suspect();
        return (StatusCode::SERVICE_UNAVAILABLE, "database unreachable").into_response();
    }
    let backlog = tokio::time::timeout(
        Duration::from_secs(1),
        crate::search::outbox::backlog(&s.app.db),
    )
    .await;
    let detail = match backlog {
        Ok(Ok(b)) => format!(
            "ready\nsearch backlog: {} change(s), oldest {:.1} s\n",
            b.rows, b.oldest_secs
        ),
        _ => "ready\nsearch backlog: unknown\n".to_owned(),
    };
    (StatusCode::OK, detail).into_response()
}

async fn metrics(State(db): State<Db>) -> Response {
    let mut body = crate::telemetry::metrics().render();
    // Per-app statement count: handy when several apps share a process, as the tests do.
    body.push_str(&format!(
        "# TYPE autoshop_app_db_statements gauge\nautoshop_app_db_statements {}\n",
        db.stats.statements()
    ));
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// `/metrics` on the public listener, for the scraper that presents the configured bearer token.
async fn metrics_with_token(State(s): State<Arc<HttpState>>, headers: HeaderMap) -> Response {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = s
        .app
        .settings
        .metrics
        .token
        .as_ref()
        .map(|t| t.expose().as_bytes());
    match expected {
        Some(t) if auth::crypto::constant_time_eq(presented.as_bytes(), t) => {
            metrics(State(s.app.db.clone())).await
        }
        _ => (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need their bearer token",
        )
            .into_response(),
    }
}
