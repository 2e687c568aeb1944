//! Test harness: a migrated template database per run (a file on SQLite, a `TEMPLATE` on PostgreSQL),
//! one copy per test, dropped when the test ends, and an HTTP client for the app.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use autoshop::db::{Db, DbStats};
use autoshop::{App, Settings};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use tokio::sync::Mutex;

/// The backend under test: `DATABASE_URL=postgres://…` selects PostgreSQL, anything else SQLite.
fn postgres_base() -> Option<String> {
    std::env::var("DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{}", now_secs(), uuid::Uuid::new_v4().simple())
}

/// The per-run template, shared by the tests alive at once and dropped after the last of them.
struct Template {
    name: Option<String>,
    users: usize,
}

static TEMPLATE: Mutex<Template> = Mutex::const_new(Template {
    name: None,
    users: 0,
});

fn with_database(base: &str, db: &str) -> String {
    match base.rfind('/') {
        Some(i) => format!("{}/{db}", &base[..i]),
        None => format!("{base}/{db}"),
    }
}

/// The shop owner every test database starts with.
pub const OWNER_EMAIL: &str = "owner@shop.test";
pub const OWNER_PASSWORD: &str = "owner-password-1";
/// The password of every member of staff the tests create.
pub const STAFF_PASSWORD: &str = "staff-password-1";

/// One RS256 key and one sealing key per run, made before any app starts, so apps never race to create them.
fn key_material() -> &'static (PathBuf, String) {
    static KEYS: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("autoshop-test-keys-{}", std::process::id()));
        if autoshop::auth::keys::read_key_dir(&dir).map_or(true, |k| k.is_empty()) {
            autoshop::auth::keys::add_key_file(&dir).expect("signing key");
        }
        (dir, autoshop::auth::crypto::Sealer::generate_base64())
    })
}

pub fn keys_dir() -> PathBuf {
    key_material().0.clone()
}

/// The variables every test app starts with, on top of the test's own.
fn base_env(database_url: &str) -> HashMap<String, String> {
    let (dir, sealing) = key_material();
    let mut env: HashMap<String, String> = HashMap::from([
        ("AUTOSHOP_LISTEN".into(), "127.0.0.1:0".into()),
        ("DATABASE_URL".into(), database_url.to_owned()),
        ("AUTOSHOP_AUTO_MIGRATE".into(), "false".into()),
        ("AUTOSHOP_KEYS_DIR".into(), dir.display().to_string()),
        ("AUTOSHOP_ENCRYPTION_KEY".into(), sealing.clone()),
        // Replicas here hear every change; the tests of the time bound set their own. A periodic reload of the
        // access rules would otherwise land in the statement counts of the N+1 tests.
        ("AUTOSHOP_CACHE_TTL_SECS".into(), "3600".into()),
        // Each app's built-in object store listens on a port of its own, under a folder of its own: s3s-fs names
        // its part files by a counter per store and sweeps them at start, so two stores on one folder clobber
        // each other's uploads (seen as a 500 on a PUT in a full run). Replicas beside an app share its folder.
        ("AUTOSHOP_S3_EMBEDDED_LISTEN".into(), "127.0.0.1:0".into()),
        (
            "AUTOSHOP_DATA_DIR".into(),
            sqlite_dir().join(unique("data")).display().to_string(),
        ),
        // The search relay looks for work once at start and then rarely, so that no statement of its lands in
        // the statement counts of the N+1 tests; the search tests ask for it often.
        ("AUTOSHOP_SEARCH_RELAY_MS".into(), "3600000".into()),
        // Budgets no test meets unless it sets its own: the suite signs in and uploads far more than a person.
        ("AUTOSHOP_RATE_LIMIT_PER_MINUTE".into(), "10000000".into()),
        ("AUTOSHOP_RATE_LIMIT_BURST".into(), "10000000".into()),
        (
            "AUTOSHOP_SIGN_IN_RATE_LIMIT_PER_MINUTE".into(),
            "1000000".into(),
        ),
        ("AUTOSHOP_SIGN_IN_RATE_LIMIT_BURST".into(), "1000000".into()),
        (
            "AUTOSHOP_UPLOAD_RATE_LIMIT_PER_MINUTE".into(),
            "1000000".into(),
        ),
        ("AUTOSHOP_UPLOAD_RATE_LIMIT_BURST".into(), "1000000".into()),
    ]);
    // The production suite uses the S3-compatible server CI started (one that checks signatures).
    if let Ok(endpoint) = std::env::var("TEST_S3_ENDPOINT") {
        env.insert("AUTOSHOP_S3_ENDPOINT".into(), endpoint);
        for (from, to) in [
            ("TEST_S3_BUCKET", "AUTOSHOP_S3_BUCKET"),
            ("TEST_S3_ACCESS_KEY_ID", "AUTOSHOP_S3_ACCESS_KEY_ID"),
            ("TEST_S3_SECRET_ACCESS_KEY", "AUTOSHOP_S3_SECRET_ACCESS_KEY"),
        ] {
            if let Ok(v) = std::env::var(from) {
                env.insert(to.into(), v);
            }
        }
    }
    // The production suite throttles sign-ins in the real Redis, each app under a prefix of its own.
    if postgres_base().is_some() {
        env.insert("REDIS_URL".into(), redis_url());
        env.insert(
            "AUTOSHOP_REDIS_PREFIX".into(),
            format!("{}:", unique("autoshop_test")),
        );
    }
    env
}

/// The settings a test app on `database_url` would start with, with `vars` on top.
pub fn settings_with(database_url: &str, vars: &[(&str, &str)]) -> Settings {
    let mut env = base_env(database_url);
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Settings::from_vars(env).expect("settings")
}

pub fn redis_url() -> String {
    std::env::var("AUTOSHOP_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Creates the owner in a freshly migrated database, as `autoshop create-owner` does.
async fn create_owner(url: &str) {
    let settings = Settings::from_vars(base_env(url)).expect("settings");
    let db = autoshop::db::connect(&settings.database)
        .await
        .expect("connect");
    let auth = autoshop::auth::Auth::load(&settings).await.expect("auth");
    autoshop::services::users::create_owner(
        &db,
        &auth,
        OWNER_EMAIL.parse().expect("email"),
        autoshop::domain::NonEmpty::parse("name", "Olga Owner").expect("name"),
        autoshop::auth::password::Password::parse("password", OWNER_PASSWORD).expect("password"),
    )
    .await
    .expect("create owner");
    db.conn.close().await.ok();
}

fn sqlite_dir() -> PathBuf {
    std::env::temp_dir().join(format!("autoshop-tests-{}", std::process::id()))
}

/// Drops databases a killed run left behind (their names carry their birth time).
async fn sweep_stale(admin: &sea_orm::DatabaseConnection) {
    let rows = admin
        .query_all_raw(sea_orm::Statement::from_string(
            admin.get_database_backend(),
            "SELECT datname FROM pg_database WHERE datname LIKE 'autoshop\\_t%'".to_owned(),
        ))
        .await
        .unwrap_or_default();
    for r in rows {
        let Ok(name) = r.try_get::<String>("", "datname") else {
            continue;
        };
        let born: u64 = name
            .split('_')
            .nth(2)
            .and_then(|s| s.parse().ok())
            .unwrap_or(u64::MAX);
        if now_secs().saturating_sub(born) > 6 * 3600 {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                .await;
        }
    }
}

async fn make_template() -> String {
    match postgres_base() {
        Some(base) => {
            let admin = Database::connect(&base)
                .await
                .expect("connect to PostgreSQL");
            sweep_stale(&admin).await;
            let name = unique("autoshop_tpl");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create template");
            admin.close().await.ok();
            let conn = Database::connect(&with_database(&base, &name))
                .await
                .expect("connect template");
            <migration::Migrator as migration::MigratorTrait>::up(&conn, None)
                .await
                .expect("migrate template");
            conn.close().await.ok();
            create_owner(&with_database(&base, &name)).await;
            name
        }
        None => {
            let dir = sqlite_dir();
            std::fs::create_dir_all(&dir).expect("temp dir");
            let path = dir.join("template.db");
            let url = format!("sqlite://{}?mode=rwc", path.display());
            let conn = Database::connect(&url).await.expect("open template");
            <migration::Migrator as migration::MigratorTrait>::up(&conn, None)
                .await
                .expect("migrate template");
            create_owner(&url).await;
            // Fold the WAL into the main file so a plain copy carries everything.
            conn.execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
                .await
                .ok();
            conn.close().await.ok();
            path.display().to_string()
        }
    }
}

/// A database of the test's own, copied from the template. Dropped with the guard.
pub struct TestDb {
    pub url: String,
    name: String,
}

impl TestDb {
    pub async fn new() -> Self {
        let mut t = TEMPLATE.lock().await;
        if t.name.is_none() {
            t.name = Some(make_template().await);
        }
        let template = t.name.clone().unwrap_or_default();
        let name = unique("autoshop_t");
        let url = match postgres_base() {
            Some(base) => {
                let admin = Database::connect(&base)
                    .await
                    .expect("connect to PostgreSQL");
                admin
                    .execute_unprepared(&format!(
                        "CREATE DATABASE \"{name}\" TEMPLATE \"{template}\""
                    ))
                    .await
                    .expect("copy template");
                admin.close().await.ok();
                with_database(&base, &name)
            }
            None => {
                let path = sqlite_dir().join(format!("{name}.db"));
                std::fs::copy(&template, &path).expect("copy template file");
                format!("sqlite://{}?mode=rwc", path.display())
            }
        };
        t.users += 1;
        Self { url, name }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which must not block on async work: clean up on a thread of its own.
        let cleanup = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let mut t = TEMPLATE.lock().await;
                t.users = t.users.saturating_sub(1);
                let last = t.users == 0;
                match postgres_base() {
                    Some(base) => {
                        let mut doomed = vec![name];
                        if last {
                            doomed.extend(t.name.take());
                        }
                        if let Ok(admin) = Database::connect(&base).await {
                            for db in doomed {
                                let sql = format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)");
                                let _ = admin.execute_unprepared(&sql).await;
                            }
                            admin.close().await.ok();
                        }
                    }
                    None => {
                        let dir = sqlite_dir();
                        for ext in ["db", "db-wal", "db-shm"] {
                            let _ = std::fs::remove_file(dir.join(format!("{name}.{ext}")));
                        }
                        if last {
                            t.name = None;
                            let _ = std::fs::remove_dir_all(dir);
                        }
                    }
                }
            });
        });
        let _ = cleanup.join();
    }
}

/// A running app with its own database.
pub struct TestApp {
    pub addr: SocketAddr,
    /// `/metrics` on its own listener, when the test asked for one.
    pub metrics_addr: Option<SocketAddr>,
    /// The owner's access token: requests go as the owner unless a test says otherwise.
    pub owner_token: String,
    pub client: reqwest::Client,
    pub db: Db,
    /// The object store the app uses, to look behind its back.
    pub store: Arc<dyn autoshop::storage::ObjectStore>,
    /// The search index the app uses.
    pub search: Arc<dyn autoshop::search::SearchIndex>,
    stats: Arc<DbStats>,
    _shutdown: tokio::sync::oneshot::Sender<()>,
    /// What the app was started with, so a second replica can start beside it.
    env: HashMap<String, String>,
    // Last: the database goes after the app's pool. A replica started beside another owns none.
    _database: Option<TestDb>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Starts the app exactly as `main` does, with extra environment variables.
    pub async fn spawn_with(vars: &[(&str, &str)]) -> Self {
        Self::spawn_reaching_db(vars, str::to_owned).await
    }

    /// Starts the app with its database URL rewritten by `reach` (through a [`Proxy`], say).
    pub async fn spawn_reaching_db(
        vars: &[(&str, &str)],
        reach: impl FnOnce(&str) -> String,
    ) -> Self {
        // Logs go to the test's captured output: shown only when it fails (RUST_LOG picks what).
        autoshop::telemetry::init_logging(autoshop::config::LogFormat::Pretty);
        let database = TestDb::new().await;
        let mut env = base_env(&reach(&database.url));
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::start(env, Some(database)).await
    }

    /// A second replica on the same database (and Redis), as behind a load balancer.
    pub async fn spawn_beside(&self) -> Self {
        self.spawn_beside_with(&[]).await
    }

    /// A second replica on the same database, with some variables of its own.
    pub async fn spawn_beside_with(&self, vars: &[(&str, &str)]) -> Self {
        let mut env = self.env.clone();
        env.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::start(env, None).await
    }

    async fn start(mut env: HashMap<String, String>, database: Option<TestDb>) -> Self {
        // The built-in search index is one process's: each app (a replica beside another too) gets its own.
        env.insert(
            "AUTOSHOP_SEARCH_DIR".into(),
            sqlite_dir().join(unique("search")).display().to_string(),
        );
        // With a Meilisearch to test against, the same suite runs on it, each app on an index of its own.
        if let Ok(url) = std::env::var("TEST_MEILI_URL") {
            env.entry("MEILI_URL".into()).or_insert(url);
            if let Ok(key) = std::env::var("TEST_MEILI_MASTER_KEY") {
                env.insert("MEILI_MASTER_KEY".into(), key);
            }
            env.insert("AUTOSHOP_SEARCH_INDEX".into(), unique("autoshop_test"));
        }
        let settings = Settings::from_vars(env.clone()).expect("settings");
        let app = App::build(settings).await.expect("app builds");
        let addr = app.local_addr();
        let metrics_addr = app.metrics_addr();
        let db = app.state().db.clone();
        let store = Arc::clone(&app.state().store);
        let search = Arc::clone(&app.state().search);
        let stats = Arc::clone(&db.stats);
        // Signed in through the service rather than over HTTP, so no test's rate limit pays for it.
        let signed = autoshop::services::sessions::login(
            &db,
            &app.state().auth,
            &autoshop::auth::Caller::default(),
            OWNER_EMAIL,
            OWNER_PASSWORD,
        )
        .await
        .expect("owner signs in");
        let autoshop::services::sessions::LoginOutcome::Signed(issued) = signed else {
            panic!("the owner has no second factor");
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(app.serve(async move {
            let _ = rx.await;
        }));
        Self {
            addr,
            metrics_addr,
            owner_token: issued.access_token,
            client: reqwest::Client::new(),
            db,
            store,
            search,
            stats,
            _shutdown: tx,
            env,
            _database: database,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// SQL statements run so far by this app's pool.
    pub fn statements(&self) -> u64 {
        self.stats.statements()
    }

    /// Waits until the server remembers the owner's session as live, so that no statement checks it: at once
    /// on the embedded backend; with Redis, once the replica hears the other replicas' revocations.
    pub async fn remember_session(&self) {
        for _ in 0..100 {
            let before = self.statements();
            self.ok("{ __typename }", json!({})).await;
            if self.statements() == before {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("the server never remembered the owner's session");
    }

    /// Posts a JSON body to `/graphql` as the owner, and returns the raw response.
    pub async fn post(&self, body: &Value) -> reqwest::Response {
        self.post_as(Some(&self.owner_token), body).await
    }

    /// Posts a JSON body with the given bearer token (or none), and returns the raw response.
    pub async fn post_as(&self, token: Option<&str>, body: &Value) -> reqwest::Response {
        let mut req = self.client.post(self.url("/graphql")).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.expect("request")
    }

    /// Posts a GraphQL request as the owner and returns the whole JSON response.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(Some(&self.owner_token), query, variables).await
    }

    /// Posts a GraphQL request with the given bearer token (or none) and returns the whole JSON response.
    pub async fn gql_as(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let res = self
            .post_as(token, &json!({ "query": query, "variables": variables }))
            .await;
        assert_eq!(res.status(), 200, "GraphQL answers 200 even for errors");
        res.json().await.expect("json body")
    }

    /// Posts a GraphQL request that must succeed, and returns its `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    /// Signs in over HTTP, as the SPA does, and returns the access token.
    pub async fn sign_in(&self, email: &str, password: &str) -> String {
        let q = "mutation($input: LoginInput!) { login(input: $input) { session { accessToken } errors { code } } }";
        let body = self
            .gql_as(
                None,
                q,
                json!({ "input": { "email": email, "password": password } }),
            )
            .await;
        body["data"]["login"]["session"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{email} could not sign in: {body}"))
            .to_owned()
    }

    /// The id of a role, by its key.
    pub async fn role_id(&self, key: &str) -> Value {
        let roles = self.ok("{ roles { id key } }", json!({})).await;
        roles["roles"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["key"] == key)
            .map(|r| r["id"].clone())
            .unwrap_or_else(|| panic!("no role {key}"))
    }

    /// A member of staff the owner created, holding `role` at `location` (a global id) or everywhere; returns
    /// their id and a fresh access token.
    pub async fn staff_with_role(
        &self,
        email: &str,
        role: &str,
        location: Option<&Value>,
    ) -> (Value, String) {
        let made = self
            .ok(
                "mutation($input: CreateUserInput!) { createUser(input: $input) { user { id } errors { code } } }",
                json!({ "input": { "email": email, "name": "Staff Member", "password": STAFF_PASSWORD } }),
            )
            .await;
        let id = made["createUser"]["user"]["id"].clone();
        assert!(id.is_string(), "{made}");
        let role_id = self.role_id(role).await;
        let assigned = self
            .ok(
                "mutation($input: RoleAssignmentInput!) { assignRole(input: $input) { errors { code message } } }",
                json!({ "input": { "userId": id, "roleId": role_id, "locationId": location } }),
            )
            .await;
        assert_eq!(assigned["assignRole"]["errors"], json!([]), "{assigned}");
        let token = self.sign_in(email, STAFF_PASSWORD).await;
        (id, token)
    }

    /// Seeds a small demo shop through the same code as `autoshop seed-demo`.
    pub async fn seed(&self, customers: usize, work_orders: usize) {
        autoshop::seed::demo(
            &self.db,
            autoshop::seed::Volume {
                customers,
                work_orders,
            },
            false,
        )
        .await
        .expect("seed");
    }

    /// Every row of a query run straight against the app's database.
    pub async fn sql_all(&self, sql: &str) -> Vec<sea_orm::QueryResult> {
        let stmt =
            sea_orm::Statement::from_string(self.db.conn.get_database_backend(), sql.to_owned());
        self.db.conn.query_all_raw(stmt).await.expect("query")
    }

    /// Runs SQL straight against the app's database: for checking what the API did (or did not) write.
    pub async fn sql_one(&self, sql: &str) -> sea_orm::QueryResult {
        let stmt =
            sea_orm::Statement::from_string(self.db.conn.get_database_backend(), sql.to_owned());
        self.db
            .conn
            .query_one_raw(stmt)
            .await
            .expect("query")
            .expect("a row")
    }

    /// Audit entries written since the app started, leaving out the owner's creation and the harness's sign-in.
    pub async fn audit_entries(&self) -> i64 {
        self.sql_one(
            "SELECT COUNT(*) AS n FROM audit_log WHERE action NOT IN ('create_owner', 'login')",
        )
        .await
        .try_get::<i64>("", "n")
        .expect("n")
    }

    /// Counts rows of a table: proves what a refused request did not write.
    pub async fn count(&self, table: &str) -> i64 {
        self.sql_one(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await
            .try_get::<i64>("", "n")
            .expect("n")
    }
}

/// Checking the caller's session costs at most one statement per request, whatever the request asks: one the
/// first time the server sees the session, none while it remembers it live.
pub const AUTH_STATEMENTS: u64 = 1;

/// Whether `check` holds within a moment (a second, asked every 20 ms): for what reaches other replicas through
/// Redis pub/sub, which is asynchronous.
pub async fn within_a_moment(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..50 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// The first error's `extensions.code`.
pub fn error_code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

pub fn is_postgres() -> bool {
    postgres_base().is_some()
}

/// A work order with one line, taken through the whole workflow to READY through the services, as the shop
/// would over a day: ready to invoice.
pub async fn ready_work_order(
    app: &TestApp,
    customer: uuid::Uuid,
    vehicle: uuid::Uuid,
    location: uuid::Uuid,
) -> uuid::Uuid {
    use autoshop::domain::{ApprovalMethod, LineKind, NonEmpty, WorkOrderStatus as S};
    use autoshop::services::work_orders::{self, Approval, NewLine, NewWorkOrder};
    let caller = autoshop::auth::Caller::default();
    let text = |t: &str| NonEmpty::parse("x", t).expect("text");
    let wo = work_orders::create(
        &app.db,
        &caller,
        NewWorkOrder {
            customer_id: customer,
            vehicle_id: vehicle,
            location_id: location,
            complaint: text("Service"),
            promised_at: None,
            odometer_in_km: None,
        },
    )
    .await
    .expect("work order");
    let line = NewLine {
        kind: LineKind::Part,
        description: text("Oil filter"),
        quantity: "2".parse().expect("qty"),
        unit_price: Some("12.50".parse().expect("price")),
        tax_rate: Some("10".parse().expect("rate")),
        mechanic_id: None,
        part_number: Some("OF-1".into()),
    };
    let mut w = work_orders::add_line(&app.db, &caller, wo.id, wo.version, line)
        .await
        .expect("line");
    for to in [
        S::Estimate,
        S::AwaitingApproval,
        S::Approved,
        S::InProgress,
        S::Ready,
    ] {
        let approval = (to == S::Approved).then(|| Approval {
            approved_by: text("Customer"),
            method: ApprovalMethod::Phone,
        });
        w = work_orders::transition(&app.db, &caller, w.id, w.version, to, None, approval)
            .await
            .expect("transition");
    }
    w.id
}

/// The UUID behind a global id the API returned.
pub fn uuid_of(id: &Value) -> uuid::Uuid {
    let id = async_graphql::ID(id.as_str().expect("an id").to_owned());
    autoshop::schema::ids::decode(&id, "id")
        .expect("a global id")
        .1
}

/// A TCP proxy on loopback in front of a real server (PostgreSQL, Redis) that a test can cut and restore: an
/// outage of the real thing, as its clients see it (every connection closed, new ones refused at once), without
/// stopping it for the tests running beside.
pub struct Proxy {
    pub addr: SocketAddr,
    up: Arc<std::sync::atomic::AtomicBool>,
    cuts: tokio::sync::watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(target: &str) -> Self {
        use std::sync::atomic::Ordering;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let (cuts, _) = tokio::sync::watch::channel(0u64);
        let (target, flag, watch) = (target.to_owned(), Arc::clone(&up), cuts.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !flag.load(Ordering::SeqCst) {
                    continue; // dropped at once: the server is "down"
                }
                let mut cut = watch.subscribe();
                let target = target.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = cut.changed() => {}
                    }
                });
            }
        });
        Self { addr, up, cuts }
    }

    /// Closes every connection through the proxy and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.up.store(false, std::sync::atomic::Ordering::SeqCst);
        self.cuts.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.up.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// `url` with its host and port replaced by `addr` (a `scheme://[user@]host:port/…` URL).
pub fn via(url: &str, addr: SocketAddr) -> String {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, rest) = match rest.split_once('@') {
        Some((u, r)) => (format!("{u}@"), r),
        None => (String::new(), rest),
    };
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    format!("{scheme}://{user}{addr}{path}")
}
