//! No N+1: the number of SQL statements per request does not grow with the number of rows returned.

use serde_json::json;

use crate::helpers::{AUTH_STATEMENTS, TestApp, is_postgres, within_a_moment};

const EVERYTHING: &str = r#"
query($first: Int!) {
  workOrders(first: $first, sort: CREATED_AT_ASC) {
    edges { node {
      number total
      customer { name balanceDue homeLocation { name } vehicles { vin } recentWorkOrders(limit: 3) { number } recentInvoices(limit: 2) { number } }
      vehicle { plateNumber customer { name } recentWorkOrders(limit: 2) { number } files { nodes { id } } }
      location { name }
      lines { kind total mechanic { name } }
      mechanics { name }
      statusHistory { toStatus changedBy { name } }
      invoice { number balance lines { total } payments { amount recordedBy { name } refundOf { id } } customer { name } workOrder { number } }
      files { nodes { id } }
    } }
  }
}"#;

async fn statements_for(
    app: &TestApp,
    query: &str,
    vars: serde_json::Value,
) -> (u64, serde_json::Value) {
    let before = app.statements();
    tracing::info!("--- {vars}");
    let data = app.ok(query, vars).await;
    (app.statements() - before, data)
}

#[tokio::test]
async fn five_or_fifty_work_orders_with_every_relation_cost_the_same_statements() {
    // A wider batching window than the default 1 ms: a debug build on two busy cores can take longer than
    // that to resolve 50 rows, and this test is about the statements the design needs, not about timing.
    let app = TestApp::spawn_with(&[("AUTOSHOP_LOADER_DELAY_MS", "100")]).await;
    app.seed(20, 120).await;
    // Warm the pool first: a batch that waits for a new connection shifts every later batch in time.
    statements_for(&app, EVERYTHING, json!({ "first": 50 })).await;
    let (few, small) = statements_for(&app, EVERYTHING, json!({ "first": 5 })).await;
    let (many, large) = statements_for(&app, EVERYTHING, json!({ "first": 50 })).await;
    assert_eq!(
        small["workOrders"]["edges"].as_array().map(Vec::len),
        Some(5)
    );
    assert_eq!(
        large["workOrders"]["edges"].as_array().map(Vec::len),
        Some(50)
    );
    // The relations really were resolved, not skipped.
    let invoiced = large["workOrders"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["node"]["invoice"].is_object())
        .count();
    assert!(invoiced > 0);
    assert_eq!(
        few, many,
        "statements grew with rows: {few} for 5, {many} for 50"
    );
    assert!(
        many <= 25 + AUTH_STATEMENTS,
        "{many} statements for one request"
    );
}

#[tokio::test]
async fn nodes_of_many_ids_cost_one_statement_per_type() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_LOADER_DELAY_MS", "100")]).await;
    app.seed(30, 30).await;
    let ids = app.ok("{ customers(first: 30) { edges { node { id } } } workOrders(first: 30) { edges { node { id } } } }", json!({})).await;
    let mut all: Vec<serde_json::Value> = Vec::new();
    for list in ["customers", "workOrders"] {
        all.extend(
            ids[list]["edges"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|e| e["node"]["id"].clone()),
        );
    }
    let q = "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on Customer { name } ... on WorkOrder { number customer { name } } } }";
    let (n, data) = statements_for(&app, q, json!({ "ids": all })).await;
    assert_eq!(data["nodes"].as_array().map(Vec::len), Some(60));
    assert!(
        data["nodes"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|n| n.is_object())
    );
    assert!(
        n <= 3 + AUTH_STATEMENTS,
        "{n} statements for 60 nodes of two types"
    );
}

#[tokio::test]
async fn each_customers_newest_work_orders_are_the_newest_of_their_own_in_one_batch() {
    let app = TestApp::spawn().await;
    app.seed(8, 120).await;
    let batched = app
        .ok(
            "{ customers(first: 8) { edges { node { id recentWorkOrders(limit: 3) { id } } } } }",
            json!({}),
        )
        .await;
    let edges = batched["customers"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 8);
    let mut with_orders = 0;
    for edge in edges {
        let customer = &edge["node"];
        // The same list through another path: the keyset-paginated list, newest first.
        let alone = app
            .ok(
                "query($c: ID!) { workOrders(first: 3, sort: CREATED_AT_DESC, filter: { customerId: $c }) { edges { node { id } } } }",
                json!({ "c": customer["id"] }),
            )
            .await;
        let expected: Vec<_> = alone["workOrders"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|e| e["node"]["id"].clone())
            .collect();
        let recent: Vec<_> = customer["recentWorkOrders"]
            .as_array()
            .expect("orders")
            .iter()
            .map(|w| w["id"].clone())
            .collect();
        assert_eq!(recent, expected, "customer {}", customer["id"]);
        with_orders += usize::from(!recent.is_empty());
    }
    assert!(with_orders > 1, "the seed gave several customers orders");
}

#[tokio::test]
async fn the_customer_card_reads_each_of_its_tables_once() {
    let app = TestApp::spawn().await;
    app.seed(6, 60).await;
    let busiest = app
        .ok(
            "{ customers(first: 6) { edges { node { id recentWorkOrders(limit: 50) { id } } } } }",
            json!({}),
        )
        .await["customers"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .max_by_key(|e| e["node"]["recentWorkOrders"].as_array().map_or(0, Vec::len))
        .map(|e| e["node"]["id"].clone())
        .expect("a customer");
    app.remember_session().await;
    let card = include_str!("../../frontend-contract/customer-card.graphql");
    let (n, data) = statements_for(&app, card, json!({ "id": busiest })).await;
    let recent = data["node"]["recentWorkOrders"].as_array().expect("orders");
    assert!(!recent.is_empty());
    assert!(
        recent
            .iter()
            .all(|w| w["vehicle"]["plateNumber"].is_string())
    );
    // The customer with their home branch and balance, their vehicles (which also serve the recent orders'
    // vehicles), the recent orders and the recent invoices.
    assert!(n <= 4, "{n} statements for the customer card");
}

#[tokio::test]
async fn customers_found_by_id_show_the_home_branch_and_balance_their_list_rows_show() {
    let app = TestApp::spawn().await;
    app.seed(8, 80).await;
    // A customer without a home branch: the branch is joined in, and the join must keep them.
    app.sql_all(
        "UPDATE customers SET home_location_id = NULL WHERE id = (SELECT id FROM customers ORDER BY id LIMIT 1)",
    )
    .await;
    let fields = "id balanceDue homeLocation { id name }";
    let listed = app
        .ok(
            &format!("{{ customers(first: 50) {{ edges {{ node {{ {fields} }} }} }} }}"),
            json!({}),
        )
        .await;
    let rows: Vec<_> = listed["customers"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect();
    let ids: Vec<_> = rows.iter().map(|c| c["id"].clone()).collect();
    let found = app
        .ok(
            &format!(
                "query($ids: [ID!]!) {{ nodes(ids: $ids) {{ ... on Customer {{ {fields} }} }} }}"
            ),
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(found["nodes"].as_array().expect("nodes"), &rows);
    assert!(rows.iter().any(|c| c["homeLocation"].is_null()));
    assert!(rows.iter().any(|c| c["homeLocation"]["name"].is_string()));

    // The balance is what the customer's issued, partly paid and not deleted invoices leave unpaid.
    let mut due = std::collections::HashMap::<uuid::Uuid, i64>::new();
    for r in app
        .sql_all("SELECT customer_id, total_minor, paid_minor FROM invoices WHERE status IN ('issued', 'partially_paid') AND deleted_at IS NULL")
        .await
    {
        let customer: uuid::Uuid = r.try_get("", "customer_id").expect("customer");
        let left = r.try_get::<i64>("", "total_minor").expect("total")
            - r.try_get::<i64>("", "paid_minor").expect("paid");
        *due.entry(customer).or_default() += left;
    }
    for c in &rows {
        let id = crate::helpers::uuid_of(&c["id"]);
        let minor = due.get(&id).copied().unwrap_or(0);
        let shown = format!("{}.{:02}", minor / 100, minor % 100);
        assert_eq!(c["balanceDue"], json!(shown), "balance of {id}");
    }
    assert!(rows.iter().any(|c| c["balanceDue"] != json!("0.00")));

    // The list reads them in its page's statement too, with its count.
    app.remember_session().await;
    let (n, _) = statements_for(
        &app,
        &format!("{{ customers(first: 50) {{ totalCount edges {{ node {{ {fields} }} }} }} }}"),
        json!({}),
    )
    .await;
    assert_eq!(
        n, 1,
        "statements for a page of customers with their branches and balances"
    );
}

#[tokio::test]
async fn the_board_reads_each_orders_mechanics_with_their_names_in_one_statement() {
    let app = TestApp::spawn().await;
    app.seed(6, 60).await;
    let expected: std::collections::HashMap<uuid::Uuid, Vec<String>> = app
        .sql_all(
            "SELECT m.work_order_id AS wo, u.name FROM work_order_mechanics m \
             JOIN users u ON u.id = m.user_id ORDER BY m.work_order_id, m.created_at, m.id",
        )
        .await
        .iter()
        .fold(Default::default(), |mut acc, row| {
            let wo: uuid::Uuid = row.try_get("", "wo").expect("wo");
            let name: String = row.try_get("", "name").expect("name");
            acc.entry(wo).or_default().push(name);
            acc
        });
    assert!(!expected.is_empty(), "the seed assigns mechanics");
    app.remember_session().await;
    let board = include_str!("../../frontend-contract/work-order-board.graphql");
    let (n, data) = statements_for(&app, board, json!({})).await;
    let edges = data["workOrders"]["edges"].as_array().expect("edges");
    assert!(!edges.is_empty());
    let mut assigned = 0;
    for edge in edges {
        let node = &edge["node"];
        let id = async_graphql::ID(node["id"].as_str().expect("id").to_owned());
        let (_, id) = autoshop::schema::ids::decode(&id, "id").expect("global id");
        let names: Vec<String> = node["mechanics"]
            .as_array()
            .expect("mechanics")
            .iter()
            .map(|m| m["name"].as_str().expect("name").to_owned())
            .collect();
        assigned += usize::from(!names.is_empty());
        assert_eq!(
            names,
            expected.get(&id).cloned().unwrap_or_default(),
            "order {id}"
        );
    }
    assert!(assigned > 0, "some order on the board has mechanics");
    // The page with its customers, vehicles and count; the mechanics with their users.
    assert!(n <= 2, "{n} statements for the board");
    // On PostgreSQL the mechanics' ids ride on the page, and their users come from what the replica remembers
    // of the staff once it has read them (as soon as it hears the other replicas' changes through Redis).
    let once = if is_postgres() { 1 } else { 2 };
    let settled =
        within_a_moment(async || statements_for(&app, board, json!({})).await.0 == once).await;
    assert!(settled, "the board never came down to {once} statement(s)");
}

#[tokio::test]
async fn the_staff_stays_remembered_through_mutations_that_write_no_user() {
    if !is_postgres() {
        // Only PostgreSQL's board reads its mechanics from what the replica remembers.
        return;
    }
    let app = TestApp::spawn().await;
    app.seed(6, 60).await;
    app.remember_session().await;
    let board = include_str!("../../frontend-contract/work-order-board.graphql");
    let settled =
        within_a_moment(async || statements_for(&app, board, json!({})).await.0 == 1).await;
    assert!(settled, "the board never came down to one statement");
    let created = app
        .ok(
            "mutation { createCustomer(input: { name: \"Walk-in\" }) { errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(created["createCustomer"]["errors"], json!([]));
    let (n, _) = statements_for(&app, board, json!({})).await;
    assert_eq!(
        n, 1,
        "a mutation that wrote no user made the replica forget the staff"
    );
}

/// The names of the mechanic `id` wherever the board shows them.
fn names_of(board: &serde_json::Value, id: &serde_json::Value) -> Vec<String> {
    board["workOrders"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .flat_map(|e| e["node"]["mechanics"].as_array().expect("mechanics").iter())
        .filter(|m| &m["id"] == id)
        .map(|m| m["name"].as_str().expect("name").to_owned())
        .collect()
}

#[tokio::test]
async fn a_renamed_mechanic_shows_on_the_board_at_once_here_and_in_a_moment_on_other_replicas() {
    let app = TestApp::spawn().await;
    app.seed(6, 60).await;
    // Replicas share PostgreSQL and Redis; the embedded backend is one process.
    let other = match is_postgres() {
        true => Some(app.spawn_beside().await),
        false => None,
    };
    let board = include_str!("../../frontend-contract/work-order-board.graphql");
    let first = app.ok(board, json!({})).await;
    let mechanic = first["workOrders"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .find_map(|e| e["node"]["mechanics"].get(0))
        .expect("a card with a mechanic")["id"]
        .clone();
    // Both replicas have read the staff, and remember them.
    for _ in 0..3 {
        app.ok(board, json!({})).await;
        if let Some(other) = &other {
            other.ok(board, json!({})).await;
        }
    }
    let version = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on User { version } } }",
            json!({ "id": mechanic }),
        )
        .await["node"]["version"]
        .clone();
    let renamed = app
        .ok(
            "mutation($input: UpdateUserInput!) { updateUser(input: $input) { user { name } errors { code } } }",
            json!({ "input": { "id": mechanic, "version": version, "name": "Renata Renamed" } }),
        )
        .await;
    assert_eq!(renamed["updateUser"]["errors"], json!([]));
    let here = names_of(&app.ok(board, json!({})).await, &mechanic);
    assert!(
        !here.is_empty() && here.iter().all(|n| n == "Renata Renamed"),
        "{here:?}"
    );
    if let Some(other) = &other {
        let seen = within_a_moment(async || {
            let there = names_of(&other.ok(board, json!({})).await, &mechanic);
            !there.is_empty() && there.iter().all(|n| n == "Renata Renamed")
        })
        .await;
        assert!(seen, "the other replica still shows the old name");
    }
}

#[tokio::test]
async fn the_boards_cards_show_each_orders_own_customer_and_vehicle() {
    let app = TestApp::spawn().await;
    app.seed(6, 60).await;
    let expected: std::collections::HashMap<uuid::Uuid, (String, String)> = app
        .sql_all(
            "SELECT w.id AS wo, c.name, v.plate_number FROM work_orders w \
             JOIN customers c ON c.id = w.customer_id JOIN vehicles v ON v.id = w.vehicle_id",
        )
        .await
        .iter()
        .map(|row| {
            let wo: uuid::Uuid = row.try_get("", "wo").expect("wo");
            let name: String = row.try_get("", "name").expect("name");
            let plate: String = row.try_get("", "plate_number").expect("plate");
            (wo, (name, plate))
        })
        .collect();
    let board = include_str!("../../frontend-contract/work-order-board.graphql");
    let data = app.ok(board, json!({})).await;
    let edges = data["workOrders"]["edges"].as_array().expect("edges");
    assert!(edges.len() > 10, "a full board");
    for edge in edges {
        let node = &edge["node"];
        let id = async_graphql::ID(node["id"].as_str().expect("id").to_owned());
        let (_, id) = autoshop::schema::ids::decode(&id, "id").expect("global id");
        let (name, plate) = &expected[&id];
        assert_eq!(node["customer"]["name"], json!(name), "order {id}");
        assert_eq!(node["vehicle"]["plateNumber"], json!(plate), "order {id}");
        assert!(node["vehicle"]["make"].is_string(), "order {id}");
    }
}

#[tokio::test]
async fn on_postgres_each_statement_is_planned_once_per_connection_not_on_every_execution() {
    let app = TestApp::spawn().await;
    if !is_postgres() {
        return; // SQLite has no plan cache to steer.
    }
    let mode: String = app
        .sql_one("SHOW plan_cache_mode")
        .await
        .try_get("", "plan_cache_mode")
        .expect("plan_cache_mode");
    assert_eq!(mode, "force_generic_plan");
}

/// The data layer reads rows by column position (through its read pool on PostgreSQL); sea-orm reads them by
/// name. Both must give the same records, NULLs, JSON, money and times included.
#[tokio::test]
async fn rows_read_by_position_are_the_records_sea_orm_reads_by_name() {
    use entity::*;
    use sea_orm::{EntityTrait, QueryOrder};
    let app = TestApp::spawn().await;
    app.seed(6, 24).await;
    let conn = &app.db.conn;
    macro_rules! same {
        ($($e:ident),* $(,)?) => {$(
            let by_name = $e::Entity::find().order_by_asc($e::Column::Id).all(conn).await.expect("by name");
            let by_position =
                autoshop::db::rows::all($e::Entity::find().order_by_asc($e::Column::Id), &app.db.reads).await.expect("by position");
            assert!(!by_name.is_empty(), "the demo shop has {}", stringify!($e));
            assert_eq!(by_position, by_name, "{}", stringify!($e));
        )*};
    }
    same!(
        locations,
        users,
        customers,
        vehicles,
        work_orders,
        work_order_lines,
        work_order_mechanics,
        work_order_status_changes,
        invoices,
        invoice_lines,
        payments,
        audit_log,
        roles,
        casbin_rule,
    );
}
