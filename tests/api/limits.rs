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
async fn a_client_over_its_request_rate_gets_429_with_retry_after() {
    let app = TestApp::spawn_with(&[
        ("AUTOSHOP_RATE_LIMIT_PER_MINUTE", "1"),
        ("AUTOSHOP_RATE_LIMIT_BURST", "3"),
    ])
    .await;
    for _ in 0..3 {
        app.ok("{ locations { totalCount } }", json!({})).await;
    }
    let res = app
        .post(&json!({ "query": "{ locations { totalCount } }" }))
        .await;
    assert_eq!(res.status(), 429);
    assert_eq!(
        res.headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok()),
        Some("60")
    );
    let body: Value = res.json().await.expect("json");
    assert_eq!(error_code(&body), "rate_limited");
    let health = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), 200, "probes are not rate limited");
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
async fn development_mode_serves_graphiql_on_get() {
    let app = TestApp::spawn().await;
    let res = app
        .client
        .get(app.url("/graphql"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("text").contains("graphiql"));
}
