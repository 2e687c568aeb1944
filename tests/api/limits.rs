//! Request limits: depth, complexity, aliases, batching, body size, content type, production lock-down.

use serde_json::{Value, json};

use crate::helpers::{AUTH_STATEMENTS, TestApp, error_code};

fn refused_as_too_complex(body: &Value) -> bool {
    body["errors"][0]["message"]
        .as_str()
        .unwrap_or("")
        .contains("too complex")
}

#[tokio::test]
async fn a_query_deeper_than_the_limit_is_refused_before_it_runs() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_MAX_QUERY_DEPTH", "5")]).await;
    let before = app.statements();
    let body = app
        .gql(
            "{ workOrders { edges { node { customer { vehicles { customer { name } } } } } } }",
            json!({}),
        )
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nested too deep"),
        "{body}"
    );
    assert!(
        app.statements() <= before + AUTH_STATEMENTS,
        "nothing ran but the caller's session check"
    );
}

#[tokio::test]
async fn a_query_more_complex_than_the_limit_is_refused() {
    let app = TestApp::spawn().await;
    let body = app
        .gql("{ customers(first: 100) { edges { node { recentWorkOrders(limit: 50) { lines { description total } mechanics { name } } } } } }", json!({}))
        .await;
    assert!(refused_as_too_complex(&body), "{body}");
}

#[tokio::test]
async fn nodes_cost_what_they_fetch_for_every_id() {
    let app = TestApp::spawn().await;
    let ids: Vec<String> = (0..100)
        .map(|_| autoshop::schema::ids::encode("Customer", uuid::Uuid::now_v7()).0)
        .collect();
    let body = app
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { recentWorkOrders(limit: 50) { lines { description total } mechanics { name } } } } }",
            json!({ "ids": ids }),
        )
        .await;
    assert!(refused_as_too_complex(&body), "{body}");
}

#[tokio::test]
async fn too_many_aliases_are_refused_with_a_code() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_MAX_ALIASES", "3")]).await;
    let body = app.gql("{ a: locations { totalCount } b: locations { totalCount } c: locations { totalCount } d: locations { totalCount } }", json!({})).await;
    assert_eq!(error_code(&body), "too_many_aliases");
    let ok = app
        .gql(
            "{ a: locations { totalCount } b: locations { totalCount } }",
            json!({}),
        )
        .await;
    assert!(ok.get("errors").is_none(), "{ok}");
}

#[tokio::test]
async fn a_caller_is_charged_what_the_query_costs_and_over_budget_gets_429_with_retry_after() {
    // Six units a minute at most; `{ locations { totalCount } }` costs two.
    let app = TestApp::spawn_with(&[
        ("AUTOSHOP_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTOSHOP_RATE_LIMIT_BURST", "6"),
    ])
    .await;
    let query = json!({ "query": "{ locations { totalCount } }" });
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let res = app.post(&query).await;
        assert_eq!(res.status(), 200);
        let header = |n: &str| {
            res.headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(header("ratelimit-limit").as_deref(), Some("6"));
        remaining.push(header("ratelimit-remaining").unwrap_or_default());
    }
    assert_eq!(remaining, ["4", "2", "0"], "each request paid its cost");
    let res = app.post(&query).await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("120"),
        "two units come back in two minutes"
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(error_code(&body), "rate_limited");
    let cheap = app.post(&json!({ "query": "{ __typename }" })).await;
    assert_eq!(
        cheap.status(),
        429,
        "nothing is left, not even for the cheapest query"
    );
    let health = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200, "probes are not rate limited");
    let metrics = autoshop::telemetry::metrics().render();
    assert!(
        metrics.contains("autoshop_rate_limited_total{budget=\"caller\"}"),
        "refusals are counted"
    );
}

#[tokio::test]
async fn a_large_page_costs_more_than_a_small_one() {
    let app = TestApp::spawn_with(&[
        ("AUTOSHOP_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTOSHOP_RATE_LIMIT_BURST", "1000"),
    ])
    .await;
    let remaining = |res: &reqwest::Response| -> u32 {
        res.headers()
            .get("ratelimit-remaining")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("remaining")
    };
    let small = app
        .post(&json!({ "query": "{ customers(first: 2) { edges { node { name } } } }" }))
        .await;
    let after_small = remaining(&small);
    let large = app
        .post(&json!({ "query": "{ customers(first: 100) { edges { node { name } } } }" }))
        .await;
    assert_eq!(1000 - after_small, 1 + 2 * 3);
    assert_eq!(after_small - remaining(&large), 1 + 100 * 3);
}

#[tokio::test]
async fn sign_in_attempts_have_a_tight_budget_of_their_own_per_address() {
    let app = TestApp::spawn_with(&[
        ("AUTOSHOP_SIGN_IN_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTOSHOP_SIGN_IN_RATE_LIMIT_BURST", "2"),
    ])
    .await;
    let login = json!({
        "query": "mutation($input: LoginInput!) { login(input: $input) { errors { code } } }",
        "variables": { "input": { "email": "nobody@shop.test", "password": "wrong-password-1" } },
    });
    for _ in 0..2 {
        assert_eq!(app.post_as(None, &login).await.status(), 200);
    }
    let refused = app.post_as(None, &login).await;
    assert_eq!(refused.status(), 429);
    let body: Value = refused.json().await.expect("json");
    assert_eq!(error_code(&body), "rate_limited");
    let other = app
        .post(&json!({ "query": "{ locations { totalCount } }" }))
        .await;
    assert_eq!(
        other.status(),
        200,
        "other requests from the address still run"
    );
}

#[tokio::test]
async fn batched_requests_are_refused() {
    let app = TestApp::spawn().await;
    let res = app.post(&json!([{ "query": "{ locations { totalCount } }" }, { "query": "{ locations { totalCount } }" }])).await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn cross_site_text_plain_and_form_posts_cannot_run_a_mutation() {
    let app = TestApp::spawn().await;
    let mutation = r#"{"query":"mutation { createCustomer(input: { name: \"Mallory\" }) { customer { id } } }"}"#;
    for ct in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let res = app
            .client
            .post(app.url("/graphql"))
            .header("content-type", ct)
            .body(mutation)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 415, "{ct}");
        let body: Value = res.json().await.expect("json");
        assert_eq!(error_code(&body), "unsupported_media_type");
    }
    assert_eq!(app.count("customers").await, 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_MAX_BODY_BYTES", "1024")]).await;
    let big = "x".repeat(4096);
    let res = app
        .post(&json!({ "query": "{ locations { totalCount } }", "variables": { "pad": big } }))
        .await;
    assert_eq!(res.status(), 413);
}

#[tokio::test]
async fn production_mode_hides_graphiql_introspection_and_suggestions() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_ENV", "production")]).await;
    let res = app
        .client
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 405);
    let body = app.gql("{ __schema { types { name } } }", json!({})).await;
    assert_eq!(body["data"]["__schema"], Value::Null, "{body}");
    let body = app.gql("{ customerz { totalCount } }", json!({})).await;
    assert!(
        !body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Did you mean"),
        "{body}"
    );
}

#[tokio::test]
async fn development_mode_serves_the_bundled_explorer_on_get_with_nothing_from_a_cdn() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("text");
    assert!(page.contains("API explorer"), "{page}");
    for outside in ["unpkg", "jsdelivr", "cdn", "https://"] {
        assert!(
            !page.contains(outside),
            "the explorer loads nothing from {outside}: {page}"
        );
    }
    let (_, js) = first_script(&app, &page).await;
    assert_eq!(js.status(), 200);
    assert!(js.text().await.expect("js").contains("graphiql"));
}

#[tokio::test]
async fn the_console_is_served_at_the_root_with_a_strict_content_security_policy() {
    let app = TestApp::spawn().await;
    let res = app.client.get(app.url("/")).send().await.expect("get /");
    assert_eq!(res.status(), 200);
    let header = |res: &reqwest::Response, name: &str| {
        res.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(header(&res, "content-type").starts_with("text/html"));
    let csp = header(&res, "content-security-policy");
    assert!(
        csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    let page = res.text().await.expect("html");
    let (script, js) = first_script(&app, &page).await;
    assert!(script.starts_with("/assets/"), "{script}");
    assert_eq!(js.status(), 200);
    assert!(header(&js, "content-type").contains("javascript"));
    assert!(header(&js, "cache-control").contains("immutable"));
    let missing = app
        .client
        .get(app.url("/assets/nothing.js"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), 404);
}

/// Sends `n` anonymous `{ __typename }` (one unit each), in turn to each of `apps`; how many were let through.
async fn let_through(apps: &[&TestApp], n: usize) -> usize {
    let mut allowed = 0;
    for i in 0..n {
        let res = apps[i % apps.len()]
            .post_as(None, &json!({ "query": "{ __typename }" }))
            .await;
        match res.status().as_u16() {
            200 => allowed += 1,
            429 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    allowed
}

/// Two replicas on one Redis (reached at `redis`) under one prefix, each address allowed 10 units at once and
/// almost nothing more.
async fn two_replicas(redis: &str) -> (TestApp, TestApp) {
    let prefix = format!("autoshop_test_{}:", uuid::Uuid::new_v4().simple());
    let a = TestApp::spawn_with(&[
        ("REDIS_URL", redis),
        ("AUTOSHOP_REDIS_PREFIX", prefix.as_str()),
        ("AUTOSHOP_ADDRESS_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTOSHOP_ADDRESS_RATE_LIMIT_BURST", "10"),
    ])
    .await;
    let b = a.spawn_beside().await;
    (a, b)
}

#[tokio::test]
async fn a_client_hammering_two_replicas_is_limited_as_if_there_were_one() {
    let (a, b) = two_replicas(&crate::helpers::redis_url()).await;
    assert_eq!(
        let_through(&[&a, &b], 30).await,
        10,
        "one budget between them"
    );
}

#[tokio::test]
async fn with_redis_down_each_replica_limits_on_its_own_and_keeps_serving() {
    let url = crate::helpers::redis_url();
    let target = url.trim_start_matches("redis://").trim_end_matches('/');
    let proxy = crate::helpers::Proxy::start(target).await;
    let (a, b) = two_replicas(&crate::helpers::via(&url, proxy.addr)).await;
    assert_eq!(let_through(&[&a, &b], 4).await, 4);
    proxy.cut();
    assert_eq!(
        let_through(&[&a], 15).await,
        10,
        "a keeps a budget of its own"
    );
    assert_eq!(let_through(&[&b], 15).await, 10, "and so does b");
    let health = a
        .client
        .get(a.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200);
}

/// The first script a page names, and the app's answer for it.
async fn first_script(app: &TestApp, page: &str) -> (String, reqwest::Response) {
    let script = page
        .split("src=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page names a script")
        .to_owned();
    let res = app
        .client
        .get(app.url(&script))
        .send()
        .await
        .expect("script");
    (script, res)
}
