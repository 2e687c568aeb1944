//! Customers through the API: create, read back, edit with versions, soft delete, restore, audit.

use serde_json::{Value, json};

use crate::helpers::TestApp;

const CREATE: &str = r#"
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id name kind phones emails version marketingConsent }
    errors { field message code }
  }
}"#;

const UPDATE: &str = r#"
mutation Update($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id name notes version }
    errors { field code }
  }
}"#;

pub async fn create_customer(app: &TestApp, name: &str) -> Value {
    let data = app.ok(CREATE, json!({ "input": { "name": name, "phones": ["+1 (555) 010-2030"], "emails": ["Ann@Example.com"] } })).await;
    assert_eq!(data["createCustomer"]["errors"], json!([]));
    data["createCustomer"]["customer"].clone()
}

#[tokio::test]
async fn a_created_customer_can_be_read_back_by_its_id_with_normalised_contacts() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "  Ann Novak ").await;
    assert_eq!(c["name"], "Ann Novak");
    assert_eq!(c["phones"], json!(["+15550102030"]));
    assert_eq!(c["emails"], json!(["ann@example.com"]));
    assert_eq!(c["version"], 1);
    let data = app
        .ok(
            "query($id: ID!) { node(id: $id) { id ... on Customer { name kind } } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(data["node"]["name"], "Ann Novak");
    assert_eq!(data["node"]["kind"], "PERSON");
}

#[tokio::test]
async fn invalid_contacts_are_user_errors_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let data = app
        .ok(
            CREATE,
            json!({ "input": { "name": "Ann", "emails": ["ok@example.com", "not-an-email"] } }),
        )
        .await;
    let p = &data["createCustomer"];
    assert_eq!(p["customer"], Value::Null);
    assert_eq!(p["errors"][0]["code"], "invalid_email");
    assert_eq!(p["errors"][0]["field"], json!(["input", "emails", "1"]));
    let data = app.ok(CREATE, json!({ "input": { "name": "   " } })).await;
    assert_eq!(data["createCustomer"]["errors"][0]["code"], "required");
    assert_eq!(app.count("customers").await, 0);
    assert_eq!(app.audit_entries().await, 0);
}

#[tokio::test]
async fn an_update_with_a_stale_version_is_a_conflict_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let first = app
        .ok(
            UPDATE,
            json!({ "input": { "id": c["id"], "version": 1, "name": "Ann B." } }),
        )
        .await;
    assert_eq!(first["updateCustomer"]["customer"]["version"], 2);
    let stale = app
        .ok(
            UPDATE,
            json!({ "input": { "id": c["id"], "version": 1, "name": "Ann C." } }),
        )
        .await;
    assert_eq!(stale["updateCustomer"]["customer"], Value::Null);
    assert_eq!(stale["updateCustomer"]["errors"][0]["code"], "conflict");
    let now = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Customer { name version } } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(now["node"], json!({ "name": "Ann B.", "version": 2 }));
}

#[tokio::test]
async fn two_concurrent_edits_of_one_version_let_exactly_one_win() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let edits = (0..8).map(|i| {
        app.gql(
            UPDATE,
            json!({ "input": { "id": c["id"], "version": 1, "name": format!("Ann {i}") } }),
        )
    });
    let results = futures_util::future::join_all(edits).await;
    let wins = results
        .iter()
        .filter(|r| r["data"]["updateCustomer"]["customer"].is_object())
        .count();
    let conflicts = results
        .iter()
        .filter(|r| r["data"]["updateCustomer"]["errors"][0]["code"] == "conflict")
        .count();
    assert_eq!((wins, conflicts), (1, 7), "{results:#?}");
}

#[tokio::test]
async fn null_clears_an_optional_field_and_absent_fields_stay() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let set = app
        .ok(
            UPDATE,
            json!({ "input": { "id": c["id"], "version": 1, "notes": "prefers mornings" } }),
        )
        .await;
    assert_eq!(
        set["updateCustomer"]["customer"]["notes"],
        "prefers mornings"
    );
    let cleared = app
        .ok(
            UPDATE,
            json!({ "input": { "id": c["id"], "version": 2, "notes": null } }),
        )
        .await;
    assert_eq!(cleared["updateCustomer"]["customer"]["notes"], Value::Null);
    assert_eq!(cleared["updateCustomer"]["customer"]["name"], "Ann");
}

#[tokio::test]
async fn a_deleted_customer_disappears_from_lists_and_node_until_restored() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let del = app
        .ok("mutation($i: RecordVersionInput!) { deleteCustomer(input: $i) { customer { version deletedAt } errors { code } } }", json!({ "i": { "id": c["id"], "version": 1 } }))
        .await;
    assert_eq!(del["deleteCustomer"]["customer"]["version"], 2);
    let list = app
        .ok(
            "{ customers { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(list["customers"]["totalCount"], 0);
    let node = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(node["node"], Value::Null);
    let restored = app
        .ok("mutation($i: RecordVersionInput!) { restoreCustomer(input: $i) { customer { version deletedAt } } }", json!({ "i": { "id": c["id"], "version": 2 } }))
        .await;
    assert_eq!(
        restored["restoreCustomer"]["customer"],
        json!({ "version": 3, "deletedAt": null })
    );
    let list = app.ok("{ customers { totalCount } }", json!({})).await;
    assert_eq!(list["customers"]["totalCount"], 1);
}

#[tokio::test]
async fn deleting_a_deleted_customer_is_a_not_found_user_error() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let q = "mutation($i: RecordVersionInput!) { deleteCustomer(input: $i) { customer { id } errors { field code } } }";
    app.ok(q, json!({ "i": { "id": c["id"], "version": 1 } }))
        .await;
    let again = app
        .ok(q, json!({ "i": { "id": c["id"], "version": 2 } }))
        .await;
    assert_eq!(again["deleteCustomer"]["customer"], Value::Null);
    assert_eq!(
        again["deleteCustomer"]["errors"],
        json!([{ "field": ["input", "id"], "code": "not_found" }])
    );
}

#[tokio::test]
async fn deleting_a_customer_takes_their_vehicles_along_and_hides_them_everywhere() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let v = app
        .ok(
            "mutation($i: CreateVehicleInput!) { createVehicle(input: $i) { vehicle { id version } } }",
            json!({ "i": { "customerId": c["id"], "plateNumber": "AB 123" } }),
        )
        .await["createVehicle"]["vehicle"]
        .clone();
    app.ok(
        "mutation($i: RecordVersionInput!) { deleteCustomer(input: $i) { errors { code } } }",
        json!({ "i": { "id": c["id"], "version": 1 } }),
    )
    .await;
    let list = app.ok("{ vehicles { totalCount } }", json!({})).await;
    assert_eq!(list["vehicles"]["totalCount"], 0);
    let node = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": v["id"] }),
        )
        .await;
    assert_eq!(node["node"], Value::Null);
    // A vehicle cannot come back while its owner is deleted.
    let restore = app
        .ok(
            "mutation($i: RecordVersionInput!) { restoreVehicle(input: $i) { vehicle { id } errors { field code } } }",
            json!({ "i": { "id": v["id"], "version": 2 } }),
        )
        .await;
    assert_eq!(restore["restoreVehicle"]["errors"][0]["code"], "not_found");
    assert_eq!(
        restore["restoreVehicle"]["errors"][0]["field"],
        json!(["input", "customerId"])
    );
    assert_eq!(
        app.audit_entries().await,
        4,
        "create ×2, delete customer, delete vehicle"
    );
}

#[tokio::test]
async fn a_relation_to_a_deleted_record_reads_as_null() {
    let app = TestApp::spawn().await;
    app.seed(3, 10).await;
    let wo = app
        .ok(
            "{ workOrders(first: 1) { edges { node { id vehicle { id version } } } } }",
            json!({}),
        )
        .await;
    let node = &wo["workOrders"]["edges"][0]["node"];
    let vehicle = &node["vehicle"];
    app.ok(
        "mutation($i: RecordVersionInput!) { deleteVehicle(input: $i) { errors { code } } }",
        json!({ "i": { "id": vehicle["id"], "version": vehicle["version"] } }),
    )
    .await;
    let after = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on WorkOrder { vehicle { id } } } }",
            json!({ "id": node["id"] }),
        )
        .await;
    assert_eq!(after["node"]["vehicle"], Value::Null);
}

#[tokio::test]
async fn a_customer_with_open_work_orders_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    app.seed(5, 40).await;
    let data = app
        .ok("{ workOrders(first: 1, filter: { statuses: [IN_PROGRESS, DRAFT, ESTIMATE, APPROVED, READY, AWAITING_APPROVAL] }) { edges { node { customer { id version } } } } }", json!({}))
        .await;
    let c = &data["workOrders"]["edges"][0]["node"]["customer"];
    let res = app
        .ok("mutation($i: RecordVersionInput!) { deleteCustomer(input: $i) { customer { id } errors { code } } }", json!({ "i": { "id": c["id"], "version": c["version"] } }))
        .await;
    assert_eq!(
        res["deleteCustomer"]["errors"][0]["code"],
        "customer_has_open_work_orders"
    );
}

#[tokio::test]
async fn every_customer_mutation_leaves_exactly_one_audit_entry_with_the_diff() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    app.ok(
        UPDATE,
        json!({ "input": { "id": c["id"], "version": 1, "name": "Anna" } }),
    )
    .await;
    app.ok(
        "mutation($i: RecordVersionInput!) { deleteCustomer(input: $i) { errors { code } } }",
        json!({ "i": { "id": c["id"], "version": 2 } }),
    )
    .await;
    assert_eq!(app.audit_entries().await, 3);
    let row = app
        .sql_one("SELECT action, diff FROM audit_log WHERE action = 'update'")
        .await;
    let diff: Value = row.try_get("", "diff").expect("diff");
    assert_eq!(diff["before"]["name"], "Ann");
    assert_eq!(diff["after"]["name"], "Anna");
}
