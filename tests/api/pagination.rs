//! Connections: keyset cursors forward and backward, sorts, filters, page-size caps and malformed input.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

const PAGE: &str = r#"
query($first: Int, $after: String, $last: Int, $before: String, $sort: CustomerSort = NAME_ASC) {
  customers(first: $first, after: $after, last: $last, before: $before, sort: $sort) {
    edges { cursor node { id name } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"#;

fn names(page: &Value) -> Vec<String> {
    page["customers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"]["name"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn ids(page: &Value) -> Vec<String> {
    page["customers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"]["id"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[tokio::test]
async fn walking_forward_page_by_page_visits_every_customer_once_in_name_order() {
    let app = TestApp::spawn().await;
    app.seed(45, 0).await;
    let total = app.ok("{ customers { totalCount } }", json!({})).await["customers"]["totalCount"]
        .as_i64()
        .unwrap_or(0);
    assert!(total >= 45);
    let (mut seen, mut all_names, mut after) = (Vec::new(), Vec::new(), Value::Null);
    loop {
        let page = app.ok(PAGE, json!({ "first": 10, "after": after })).await;
        seen.extend(ids(&page));
        all_names.extend(names(&page));
        let info = &page["customers"]["pageInfo"];
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].clone();
    }
    assert_eq!(seen.len() as i64, total);
    assert_eq!(
        seen.iter().collect::<HashSet<_>>().len(),
        seen.len(),
        "no customer twice"
    );
    let mut sorted = all_names.clone();
    sorted.sort();
    assert_eq!(all_names, sorted);
}

#[tokio::test]
async fn rows_with_equal_sort_keys_are_neither_skipped_nor_repeated_across_pages() {
    let app = TestApp::spawn().await;
    for _ in 0..7 {
        crate::customers::create_customer(&app, "Same Name").await;
    }
    let (mut seen, mut after, mut pages) = (Vec::new(), Value::Null, 0);
    loop {
        let page = app.ok(PAGE, json!({ "first": 2, "after": after })).await;
        pages += 1;
        seen.extend(ids(&page));
        let info = &page["customers"]["pageInfo"];
        assert_eq!(info["hasPreviousPage"], pages > 1, "page {pages}");
        if info["hasNextPage"] != true {
            break;
        }
        after = info["endCursor"].clone();
    }
    assert_eq!((seen.len(), pages), (7, 4));
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 7);
}

#[tokio::test]
async fn walking_backward_with_last_and_before_mirrors_the_forward_walk() {
    let app = TestApp::spawn().await;
    app.seed(23, 0).await;
    let forward = app
        .ok(PAGE, json!({ "first": 100, "sort": "CREATED_AT_DESC" }))
        .await;
    let all = ids(&forward);
    let (mut back, mut before) = (Vec::new(), Value::Null);
    loop {
        let page = app
            .ok(
                PAGE,
                json!({ "last": 7, "before": before, "sort": "CREATED_AT_DESC" }),
            )
            .await;
        let mut chunk = ids(&page);
        chunk.extend(back);
        back = chunk;
        let info = &page["customers"]["pageInfo"];
        if info["hasPreviousPage"] != true {
            break;
        }
        before = info["startCursor"].clone();
    }
    assert_eq!(back, all);
}

#[tokio::test]
async fn a_cursor_from_another_sort_order_is_refused() {
    let app = TestApp::spawn().await;
    app.seed(5, 0).await;
    let page = app.ok(PAGE, json!({ "first": 2 })).await;
    let cursor = page["customers"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(
            PAGE,
            json!({ "first": 2, "after": cursor, "sort": "CREATED_AT_ASC" }),
        )
        .await;
    assert_eq!(error_code(&body), "invalid_cursor");
    assert_eq!(body["data"], Value::Null);
}

#[tokio::test]
async fn a_cursor_from_another_list_is_refused_naming_the_argument() {
    let app = TestApp::spawn().await;
    app.seed(3, 5).await;
    let page = app
        .ok(
            "{ customers(first: 1, sort: CREATED_AT_DESC) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let cursor = page["customers"]["pageInfo"]["endCursor"].clone();
    let body = app
        .gql(
            "query($c: String) { workOrders(last: 1, before: $c) { totalCount } }",
            json!({ "c": cursor }),
        )
        .await;
    assert_eq!(error_code(&body), "invalid_cursor");
    assert_eq!(body["errors"][0]["extensions"]["field"], json!(["before"]));
}

#[tokio::test]
async fn malformed_cursors_ids_and_page_sizes_get_typed_errors() {
    let app = TestApp::spawn().await;
    for (vars, code) in [
        (
            json!({ "first": 2, "after": "not-a-cursor" }),
            "invalid_cursor",
        ),
        (json!({ "first": 2, "after": "WyJ4Il0" }), "invalid_cursor"),
        (json!({ "first": 101 }), "page_size_exceeded"),
        (json!({ "first": -1 }), "invalid_page_args"),
        (json!({ "first": 1, "last": 1 }), "invalid_page_args"),
    ] {
        let body = app.gql(PAGE, vars.clone()).await;
        assert_eq!(error_code(&body), code, "{vars} -> {body}");
    }
    let body = app.gql("{ node(id: \"garbage\") { id } }", json!({})).await;
    assert_eq!(error_code(&body), "invalid_id");
    let vehicle_id = autoshop::schema::ids::encode("Vehicle", uuid::Uuid::now_v7());
    let body = app
        .gql(
            "query($c: ID) { workOrders(filter: { customerId: $c }) { totalCount } }",
            json!({ "c": vehicle_id.as_str() }),
        )
        .await;
    assert_eq!(error_code(&body), "invalid_id");
    let body = app
        .gql("{ customers(first: \"ten\") { totalCount } }", json!({}))
        .await;
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("Int"),
        "{body}"
    );
}

#[tokio::test]
async fn total_count_rides_on_the_pages_statement_and_counts_alone_only_past_the_end() {
    let app = TestApp::spawn().await;
    app.seed(5, 0).await;
    let all = app.count("customers").await;
    assert!(all >= 5);
    app.remember_session().await;
    let q = "query($after: String) { customers(first: 2, after: $after) { totalCount edges { cursor node { id } } pageInfo { endCursor } } }";
    let run = async |query: &str, after: Value| {
        let before = app.statements();
        let data = app.ok(query, json!({ "after": after })).await;
        (app.statements() - before, data)
    };
    let (without, _) = run(
        "{ customers(first: 2) { edges { node { id } } } }",
        Value::Null,
    )
    .await;
    assert_eq!(without, 1, "the page alone");
    let (first, data) = run(q, Value::Null).await;
    assert_eq!(
        (first, &data["customers"]["totalCount"]),
        (1, &json!(all)),
        "counted by the page's statement"
    );
    let (second, data) = run(q, data["customers"]["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(data["customers"]["edges"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (second, &data["customers"]["totalCount"]),
        (1, &json!(all)),
        "the count ignores the cursor"
    );
    let everything = app
        .ok(
            "{ customers(first: 100) { pageInfo { endCursor } } }",
            json!({}),
        )
        .await;
    let (past, data) = run(q, everything["customers"]["pageInfo"]["endCursor"].clone()).await;
    assert_eq!(data["customers"]["edges"], json!([]));
    assert_eq!(
        (past, &data["customers"]["totalCount"]),
        (2, &json!(all)),
        "no row to carry it: counted alone"
    );
}

#[tokio::test]
async fn work_orders_filter_by_status_and_customer() {
    let app = TestApp::spawn().await;
    app.seed(10, 80).await;
    let data = app
        .ok("{ workOrders(first: 100, filter: { statuses: [CLOSED] }) { totalCount edges { node { status customer { id } } } } }", json!({}))
        .await;
    let edges = data["workOrders"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!edges.is_empty());
    assert!(edges.iter().all(|e| e["node"]["status"] == "CLOSED"));
    let customer = edges[0]["node"]["customer"]["id"].clone();
    let mine = app
        .ok("query($c: ID) { workOrders(first: 100, filter: { customerId: $c }) { edges { node { customer { id } } } } }", json!({ "c": customer }))
        .await;
    let mine = mine["workOrders"]["edges"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(!mine.is_empty());
    assert!(mine.iter().all(|e| e["node"]["customer"]["id"] == customer));
}

#[tokio::test]
async fn name_filters_match_case_insensitively_in_any_alphabet_and_treat_wildcards_literally() {
    let app = TestApp::spawn().await;
    crate::customers::create_customer(&app, "Anna Novak").await;
    crate::customers::create_customer(&app, "100% Motors").await;
    crate::customers::create_customer(&app, "Ben Ross").await;
    let q =
        "query($n: String) { customers(filter: { nameContains: $n }) { edges { node { name } } } }";
    let found = app.ok(q, json!({ "n": "NOVAK" })).await;
    assert_eq!(
        found["customers"]["edges"],
        json!([{ "node": { "name": "Anna Novak" } }])
    );
    let found = app.ok(q, json!({ "n": "%" })).await;
    assert_eq!(
        found["customers"]["edges"],
        json!([{ "node": { "name": "100% Motors" } }])
    );
    crate::customers::create_customer(&app, "Şule Öztürk").await;
    let found = app.ok(q, json!({ "n": "ÖZTÜRK" })).await;
    let beyond_ascii = json!([{ "node": { "name": "Şule Öztürk" } }]);
    assert_eq!(found["customers"]["edges"], beyond_ascii);
}
