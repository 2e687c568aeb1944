//! Access control: every root field is guarded, each built-in role gets what the policy says from the SPA's
//! contract, nobody reaches another location's records by any path, roles cannot be used to escalate, the
//! shop keeps an owner, and a policy edited through the API holds on the very next request.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::contract::{contract_ids, run_contract};
use crate::helpers::{TestApp, error_code, is_postgres, within_a_moment};

fn gid(kind: &str, id: Uuid) -> Value {
    json!(autoshop::schema::ids::encode(kind, id).0)
}

fn key_of(id: &Value) -> Uuid {
    let id = async_graphql::ID(id.as_str().expect("id").to_owned());
    autoshop::schema::ids::decode(&id, "id")
        .expect("global id")
        .1
}

const INTROSPECT: &str = r#"{ __schema { queryType { name } mutationType { name }
  types { name kind enumValues { name }
    inputFields { name defaultValue type { ...T } }
    fields { name args { name defaultValue type { ...T } } type { ...T } } } }
}
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }"#;

/// A literal of the given type that parses: enough to reach a field's guard.
fn literal(t: &Value, types: &HashMap<String, Value>, depth: usize) -> String {
    match t["kind"].as_str().unwrap_or_default() {
        "NON_NULL" => literal(&t["ofType"], types, depth),
        "LIST" => format!("[{}]", literal(&t["ofType"], types, depth)),
        "ENUM" => types[t["name"].as_str().unwrap_or_default()]["enumValues"][0]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        "INPUT_OBJECT" if depth < 4 => {
            let def = &types[t["name"].as_str().unwrap_or_default()];
            let fields: Vec<String> = def["inputFields"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["type"]["kind"] == "NON_NULL" && f["defaultValue"].is_null())
                .map(|f| {
                    format!(
                        "{}: {}",
                        f["name"].as_str().unwrap_or_default(),
                        literal(&f["type"], types, depth + 1)
                    )
                })
                .collect();
            format!("{{ {} }}", fields.join(", "))
        }
        _ => match t["name"].as_str().unwrap_or_default() {
            "ID" => format!(
                "\"{}\"",
                autoshop::schema::ids::encode("Customer", Uuid::now_v7()).0
            ),
            "Int" => "1".into(),
            "Float" => "1.0".into(),
            "Boolean" => "false".into(),
            "DateTime" => "\"2030-01-01T00:00:00Z\"".into(),
            _ => "\"1\"".into(),
        },
    }
}

fn named(t: &Value) -> &Value {
    if t["ofType"].is_object() {
        named(&t["ofType"])
    } else {
        t
    }
}

#[tokio::test]
async fn every_root_field_but_sign_in_and_ones_own_account_is_denied_to_a_user_without_a_role() {
    let app = TestApp::spawn().await;
    app.ok(
        "mutation { createUser(input: { email: \"nobody@shop.test\", name: \"No Role\", password: \"staff-password-1\" }) { errors { code } } }",
        json!({}),
    )
    .await;
    let token = app.sign_in("nobody@shop.test", "staff-password-1").await;
    let schema = app.ok(INTROSPECT, json!({})).await;
    let types: HashMap<String, Value> = schema["__schema"]["types"]
        .as_array()
        .expect("types")
        .iter()
        .map(|t| (t["name"].as_str().unwrap_or_default().to_owned(), t.clone()))
        .collect();
    // Reachable without a permission: signing in, and what any signed-in person needs about themselves and the
    // shop. Records behind `node`/`nodes` are scoped one by one (see the location tests).
    let open: HashSet<&str> = autoshop::schema::limits::PUBLIC_FIELDS
        .iter()
        .copied()
        .chain([
            "me",
            "myAccess",
            "permissions",
            "locations",
            "node",
            "nodes",
            "changePassword",
            "enrolTwoFactor",
            "confirmTwoFactor",
            "disableTwoFactor",
            // Reference data every screen needs: the currency, the payment methods.
            "settings",
            "directories",
        ])
        .collect();
    let mut checked = 0;
    for (root, op) in [("queryType", "query"), ("mutationType", "mutation")] {
        let name = schema["__schema"][root]["name"].as_str().expect("root");
        for field in types[name]["fields"].as_array().expect("fields") {
            let fname = field["name"].as_str().unwrap_or_default();
            if open.contains(fname) {
                continue;
            }
            let args: Vec<String> = field["args"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["type"]["kind"] == "NON_NULL" && a["defaultValue"].is_null())
                .map(|a| {
                    format!(
                        "{}: {}",
                        a["name"].as_str().unwrap_or_default(),
                        literal(&a["type"], &types, 0)
                    )
                })
                .collect();
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({})", args.join(", "))
            };
            let selection = match named(&field["type"])["kind"].as_str() {
                Some("OBJECT" | "INTERFACE" | "UNION") => "{ __typename }",
                _ => "",
            };
            let doc = format!("{op} {{ {fname}{args} {selection} }}");
            let body = app.gql_as(Some(&token), &doc, json!({})).await;
            assert_eq!(
                error_code(&body),
                "forbidden",
                "{doc} was not denied: {body}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} fields walked");
}

/// Outcome of one contract operation for one role.
fn outcome(body: &Value) -> &'static str {
    let errors = body["errors"].as_array().cloned().unwrap_or_default();
    let forbidden = errors
        .iter()
        .any(|e| e["extensions"]["code"] == "forbidden");
    let other = errors
        .iter()
        .any(|e| e["extensions"]["code"] != "forbidden");
    let data_present = body["data"]
        .as_object()
        .is_some_and(|d| d.values().all(|v| !v.is_null()));
    let user_errors = body["data"]
        .as_object()
        .into_iter()
        .flat_map(|d| d.values())
        .any(|v| v["errors"].as_array().is_some_and(|e| !e.is_empty()));
    match (other || user_errors, forbidden, data_present) {
        (true, _, _) => "error",
        (false, false, true) => "ok",
        (false, false, false) => "hidden",
        (false, true, true) => "partial",
        (false, true, false) => "denied",
    }
}

#[tokio::test]
async fn each_built_in_role_gets_what_the_policy_says_from_every_contract_operation() {
    // The roles screen is the owner's: others see the catalogue and staff list but not roles or access.
    let not_the_owner = [
        ("RolesScreen", "partial"),
        ("UserAccess", "denied"),
        ("ExplainAccess", "denied"),
        ("GrantPermissions", "denied"),
        ("RevokePermissions", "denied"),
        ("AssignRole", "denied"),
        ("UnassignRole", "denied"),
    ];
    // What differs from "ok" (everything runs, nothing is refused) for each role, assigned everywhere.
    let mut expected: BTreeMap<&str, BTreeMap<&str, &str>> = BTreeMap::from([
        ("owner", BTreeMap::new()),
        (
            "service_advisor",
            BTreeMap::from([("RecordPayment", "denied"), ("RefundPayment", "denied")]),
        ),
        (
            "mechanic",
            BTreeMap::from([
                ("CustomerCard", "partial"),
                ("CustomerList", "partial"),
                ("WorkOrderPage", "partial"),
                ("WorkOrderBoard", "partial"),
                ("CreateCustomer", "denied"),
                ("UpdateCustomer", "denied"),
                ("DeleteCustomer", "denied"),
                ("CreateVehicle", "denied"),
                ("DeleteVehicle", "denied"),
                ("CreateWorkOrder", "denied"),
                // Their own new order: lines and mechanics change, the money in the answer stays hidden.
                ("AddWorkOrderLine", "partial"),
                ("AssignMechanic", "partial"),
                ("TransitionWorkOrder", "denied"),
                ("IssueInvoice", "denied"),
                ("RecordPayment", "denied"),
                ("RefundPayment", "denied"),
                ("InvoicePage", "hidden"),
                ("DeleteFile", "denied"),
            ]),
        ),
        (
            "cashier",
            BTreeMap::from([
                ("CreateCustomer", "denied"),
                ("UpdateCustomer", "denied"),
                ("DeleteCustomer", "denied"),
                ("CreateVehicle", "denied"),
                ("UpdateVehicle", "denied"),
                ("DeleteVehicle", "denied"),
                ("CreateWorkOrder", "denied"),
                ("AddWorkOrderLine", "denied"),
                ("AssignMechanic", "denied"),
                ("TransitionWorkOrder", "denied"),
                ("DeleteFile", "denied"),
            ]),
        ),
    ]);
    for (role, exceptions) in &mut expected {
        if *role != "owner" {
            exceptions.extend(not_the_owner);
        }
    }
    for (role, exceptions) in &expected {
        let app = TestApp::spawn().await;
        app.seed(10, 60).await;
        let mut known = contract_ids(&app).await;
        let (user, token) = if *role == "owner" {
            (json!(null), app.owner_token.clone())
        } else {
            app.staff_with_role(&format!("{role}@shop.test"), role, None)
                .await
        };
        if *role == "mechanic" {
            // A mechanic sees the orders they work on: put them on the page's order and on an open one of the
            // board's location.
            let wo = key_of(&known["@workOrder"]);
            let loc = key_of(&known["@location"]);
            use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
            let open = entity::work_orders::Entity::find()
                .filter(entity::work_orders::Column::LocationId.eq(loc))
                .filter(entity::work_orders::Column::Status.is_in([
                    "draft",
                    "estimate",
                    "approved",
                    "in_progress",
                    "ready",
                ]))
                .filter(entity::work_orders::Column::DeletedAt.is_null())
                .one(&app.db.conn)
                .await
                .expect("query")
                .expect("an open work order at the board's location");
            let draft = autoshop::services::work_orders::create(
                &app.db,
                &autoshop::auth::Caller::default(),
                autoshop::services::work_orders::NewWorkOrder {
                    customer_id: key_of(&known["@otherCustomer"]),
                    vehicle_id: key_of(&known["@otherVehicle"]),
                    location_id: loc,
                    complaint: autoshop::domain::NonEmpty::parse("c", "Rattle").expect("text"),
                    promised_at: None,
                    odometer_in_km: None,
                },
            )
            .await
            .expect("draft");
            known.insert("@newWorkOrder", gid("WorkOrder", draft.id));
            for w in [wo, open.id, draft.id] {
                let now = chrono::Utc::now();
                entity::work_order_mechanics::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    created_at: Set(now),
                    updated_at: Set(now),
                    work_order_id: Set(w),
                    user_id: Set(key_of(&user)),
                    assigned_by: Set(None),
                }
                .insert(&app.db.conn)
                .await
                .expect("assign");
            }
        }
        let results = run_contract(&app, &token, &mut known).await;
        assert!(results.len() >= 13);
        // Those that cannot succeed where the test runs them answer the same to every role.
        let unreachable = crate::contract::expected_user_errors();
        let wrong: Vec<String> = results
            .iter()
            .filter(|(n, _)| !unreachable.contains_key(n))
            .filter_map(|(name, body)| {
                let want = exceptions.get(name.as_str()).copied().unwrap_or("ok");
                let got = outcome(body);
                (got != want).then(|| format!("{role} / {name}: {got}, not {want}: {body}"))
            })
            .collect();
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }
}

/// Two locations of the demo shop: the one an advisor works at, and another.
async fn two_locations(app: &TestApp) -> (Uuid, Uuid) {
    let locs = app
        .ok("{ locations { edges { node { id } } } }", json!({}))
        .await;
    let ids: Vec<Uuid> = locs["locations"]["edges"]
        .as_array()
        .expect("locations")
        .iter()
        .map(|e| key_of(&e["node"]["id"]))
        .collect();
    (ids[0], ids[1])
}

fn node_ids(conn: &Value) -> Vec<Uuid> {
    conn["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| key_of(&e["node"]["id"]))
        .collect()
}

#[tokio::test]
async fn a_user_of_one_location_cannot_reach_another_locations_records_by_any_path() {
    use entity::{customers, invoices, vehicles, work_orders};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = TestApp::spawn().await;
    app.seed(24, 80).await;
    let (a, b) = two_locations(&app).await;
    let (_, advisor) = app
        .staff_with_role(
            "advisor@shop.test",
            "service_advisor",
            Some(&gid("Location", a)),
        )
        .await;
    let conn = &app.db.conn;
    let all_customers = customers::Entity::find()
        .all(conn)
        .await
        .expect("customers");
    let home: HashMap<Uuid, Option<Uuid>> = all_customers
        .iter()
        .map(|c| (c.id, c.home_location_id))
        .collect();

    // Lists.
    let lists = app
        .gql_as(
            Some(&advisor),
            "{ customers(first: 100) { totalCount edges { node { id } } }
               vehicles(first: 100) { edges { node { id } } }
               workOrders(first: 100) { totalCount edges { node { id } } }
               invoices(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(lists.get("errors").is_none(), "{lists}");
    let seen_customers = node_ids(&lists["data"]["customers"]);
    assert!(!seen_customers.is_empty());
    assert!(
        seen_customers
            .iter()
            .all(|c| home[c].is_none_or(|l| l == a))
    );
    let expected = all_customers
        .iter()
        .filter(|c| c.home_location_id.is_none_or(|l| l == a) && c.deleted_at.is_none())
        .count();
    assert_eq!(lists["data"]["customers"]["totalCount"], json!(expected));
    for v in node_ids(&lists["data"]["vehicles"]) {
        let owner = vehicles::Entity::find_by_id(v)
            .one(conn)
            .await
            .expect("q")
            .expect("vehicle")
            .customer_id;
        assert!(
            home[&owner].is_none_or(|l| l == a),
            "vehicle {v} of another location"
        );
    }
    let wo_in_b = work_orders::Entity::find()
        .filter(work_orders::Column::LocationId.eq(b))
        .all(conn)
        .await
        .expect("q");
    let seen_wo: HashSet<Uuid> = node_ids(&lists["data"]["workOrders"]).into_iter().collect();
    assert!(!seen_wo.is_empty());
    assert!(wo_in_b.iter().all(|w| !seen_wo.contains(&w.id)));
    let inv_in_b = invoices::Entity::find()
        .filter(invoices::Column::LocationId.eq(b))
        .all(conn)
        .await
        .expect("q");
    let seen_inv: HashSet<Uuid> = node_ids(&lists["data"]["invoices"]).into_iter().collect();
    assert!(inv_in_b.iter().all(|i| !seen_inv.contains(&i.id)));

    // node and nodes.
    let b_customer = all_customers
        .iter()
        .find(|c| c.home_location_id == Some(b))
        .expect("a customer of B");
    let b_vehicle = vehicles::Entity::find()
        .filter(vehicles::Column::CustomerId.eq(b_customer.id))
        .one(conn)
        .await
        .expect("q");
    let mut foreign = vec![
        gid("Customer", b_customer.id),
        gid("WorkOrder", wo_in_b[0].id),
    ];
    if let Some(i) = inv_in_b.first() {
        foreign.push(gid("Invoice", i.id));
    }
    if let Some(v) = &b_vehicle {
        foreign.push(gid("Vehicle", v.id));
    }
    for id in &foreign {
        let one = app
            .gql_as(
                Some(&advisor),
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert_eq!(one["data"]["node"], Value::Null, "node {id} leaked: {one}");
        let as_owner = app
            .ok(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": id }),
            )
            .await;
        assert!(as_owner["node"].is_object(), "the owner sees {id}");
    }
    let many = app
        .gql_as(
            Some(&advisor),
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": foreign }),
        )
        .await;
    assert!(
        many["data"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .all(Value::is_null),
        "{many}"
    );

    // Nested edges: an A customer's orders and invoices never include B's, and B's records behind A's do not show.
    let a_customers: Vec<Value> = seen_customers.iter().map(|c| gid("Customer", *c)).collect();
    let nested = app
        .gql_as(
            Some(&advisor),
            "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Customer { recentWorkOrders(limit: 50) { id } recentInvoices(limit: 50) { id } vehicles { id recentWorkOrders(limit: 50) { id } } } } }",
            json!({ "ids": a_customers }),
        )
        .await;
    assert!(nested.get("errors").is_none(), "{nested}");
    let text = nested["data"].to_string();
    for w in &wo_in_b {
        assert!(
            !text.contains(gid("WorkOrder", w.id).as_str().unwrap_or_default()),
            "B's order {} leaked",
            w.id
        );
    }
    for i in &inv_in_b {
        assert!(
            !text.contains(gid("Invoice", i.id).as_str().unwrap_or_default()),
            "B's invoice leaked"
        );
    }

    // Mutations: B's records look missing, and nothing changes.
    let upd = app
        .gql_as(
            Some(&advisor),
            "mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { errors { code } } }",
            json!({ "input": { "id": gid("Customer", b_customer.id), "version": b_customer.version, "notes": "pwned" } }),
        )
        .await;
    assert_eq!(
        upd["data"]["updateCustomer"]["errors"][0]["code"], "not_found",
        "{upd}"
    );
    let del = app
        .gql_as(
            Some(&advisor),
            "mutation($input: RecordVersionInput!) { deleteCustomer(input: $input) { errors { code } } }",
            json!({ "input": { "id": gid("Customer", b_customer.id), "version": b_customer.version } }),
        )
        .await;
    assert_eq!(
        del["data"]["deleteCustomer"]["errors"][0]["code"],
        "not_found"
    );
    if let Some(v) = &b_vehicle {
        let upd = app
            .gql_as(
                Some(&advisor),
                "mutation($input: UpdateVehicleInput!) { updateVehicle(input: $input) { errors { code } } }",
                json!({ "input": { "id": gid("Vehicle", v.id), "version": v.version, "colour": "pink" } }),
            )
            .await;
        assert_eq!(
            upd["data"]["updateVehicle"]["errors"][0]["code"],
            "not_found"
        );
    }
    let create = app
        .gql_as(
            Some(&advisor),
            "mutation($input: CreateVehicleInput!) { createVehicle(input: $input) { errors { code field } } }",
            json!({ "input": { "customerId": gid("Customer", b_customer.id), "plateNumber": "B-1" } }),
        )
        .await;
    assert_eq!(
        create["data"]["createVehicle"]["errors"][0]["code"],
        "not_found"
    );
    let moved = app
        .gql_as(
            Some(&advisor),
            "mutation($input: CreateCustomerInput!) { createCustomer(input: $input) { errors { code } } }",
            json!({ "input": { "name": "Elsewhere", "homeLocationId": gid("Location", b) } }),
        )
        .await;
    assert_eq!(
        error_code(&moved),
        "forbidden",
        "no creating customers in another location: {moved}"
    );
    let after = customers::Entity::find_by_id(b_customer.id)
        .one(conn)
        .await
        .expect("q")
        .expect("still there");
    assert_eq!(
        (after.version, after.deleted_at, after.notes.clone()),
        (b_customer.version, None, b_customer.notes.clone())
    );
}

#[tokio::test]
async fn contact_details_and_money_are_null_with_forbidden_for_roles_without_them() {
    let app = TestApp::spawn().await;
    app.seed(5, 10).await;
    let (_, mechanic) = app
        .staff_with_role("mech@shop.test", "mechanic", None)
        .await;
    let body = app
        .gql_as(
            Some(&mechanic),
            "{ customers(first: 1) { edges { node { name phones balanceDue } } } }",
            json!({}),
        )
        .await;
    let node = &body["data"]["customers"]["edges"][0]["node"];
    assert!(node["name"].is_string(), "{body}");
    assert!(node["phones"].is_null() && node["balanceDue"].is_null());
    let paths: Vec<String> = body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            assert_eq!(e["extensions"]["code"], "forbidden");
            e["path"]
                .as_array()
                .and_then(|p| p.last())
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(paths, ["phones", "balanceDue"]);
}

#[tokio::test]
async fn a_role_made_through_the_api_is_enforced_on_the_next_request_and_every_edit_is_audited() {
    let app = TestApp::spawn().await;
    app.seed(12, 20).await;
    let (a, _) = two_locations(&app).await;
    app.ok(
        "mutation { createUser(input: { email: \"desk@shop.test\", name: \"Front Desk\", password: \"staff-password-1\" }) { errors { code } } }",
        json!({}),
    )
    .await;
    let users = app
        .ok(
            "{ users(search: \"desk\") { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let desk = users["users"]["edges"][0]["node"]["id"].clone();
    let token = app.sign_in("desk@shop.test", "staff-password-1").await;
    let q = "{ customers(first: 100) { edges { node { id } } } }";
    assert_eq!(
        error_code(&app.gql_as(Some(&token), q, json!({})).await),
        "forbidden"
    );

    let made = app
        .ok("mutation { createRole(input: { name: \"Front desk\", description: \"Greets people\" }) { role { id key } errors { code } } }", json!({}))
        .await;
    let role = made["createRole"]["role"]["id"].clone();
    let granted = app
        .ok(
            "mutation($input: RolePermissionsInput!) { grantPermissions(input: $input) { role { permissions { key } } errors { code } } }",
            json!({ "input": { "roleId": role, "permissions": ["customer:read"] } }),
        )
        .await;
    assert_eq!(
        granted["grantPermissions"]["role"]["permissions"],
        json!([{ "key": "customer:read" }])
    );
    app.ok(
        "mutation($input: RoleAssignmentInput!) { assignRole(input: $input) { errors { code } } }",
        json!({ "input": { "userId": desk, "roleId": role, "locationId": gid("Location", a) } }),
    )
    .await;

    let seen = app.gql_as(Some(&token), q, json!({})).await;
    assert!(
        seen.get("errors").is_none(),
        "the same token works at once: {seen}"
    );
    let ids = node_ids(&seen["data"]["customers"]);
    assert!(!ids.is_empty());
    let access = app
        .gql_as(
            Some(&token),
            "{ myAccess { permissions { permission everywhere locationIds } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        access["data"]["myAccess"]["permissions"],
        json!([{ "permission": "customer:read", "everywhere": false, "locationIds": [gid("Location", a)] }])
    );

    let revoked = app
        .ok(
            "mutation($input: RolePermissionsInput!) { revokePermissions(input: $input) { errors { code } } }",
            json!({ "input": { "roleId": role, "permissions": ["customer:read"] } }),
        )
        .await;
    assert_eq!(revoked["revokePermissions"]["errors"], json!([]));
    assert_eq!(
        error_code(&app.gql_as(Some(&token), q, json!({})).await),
        "forbidden"
    );

    let actions: Vec<String> = app
        .sql_all("SELECT action FROM audit_log WHERE entity_type IN ('role', 'user') ORDER BY created_at")
        .await
        .iter()
        .filter_map(|r| r.try_get::<String>("", "action").ok())
        .collect();
    for a in ["create", "grant", "assign_role", "revoke"] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
    let diff = app
        .sql_one("SELECT diff FROM audit_log WHERE action = 'grant'")
        .await;
    let diff: Value = diff.try_get("", "diff").expect("diff");
    assert_eq!(diff, json!({ "before": [], "after": ["customer:read"] }));
}

#[tokio::test]
async fn nobody_hands_out_rights_they_do_not_hold_and_the_shop_keeps_an_owner() {
    let app = TestApp::spawn().await;
    let made = app
        .ok(
            "mutation { createRole(input: { name: \"Manager\" }) { role { id key } } }",
            json!({}),
        )
        .await;
    let manager = made["createRole"]["role"]["id"].clone();
    app.ok(
        "mutation($input: RolePermissionsInput!) { grantPermissions(input: $input) { errors { code } } }",
        json!({ "input": { "roleId": manager, "permissions": ["role:manage", "customer:read"] } }),
    )
    .await;
    let (mgr_id, mgr) = app
        .staff_with_role("manager@shop.test", "owner", None)
        .await;
    // Demote to the manager role: only role:manage and customer:read.
    let owner_role = app.role_id("owner").await;
    app.ok(
        "mutation($input: RoleAssignmentInput!) { unassignRole(input: $input) { errors { code } } }",
        json!({ "input": { "userId": mgr_id, "roleId": owner_role } }),
    )
    .await;
    app.ok(
        "mutation($input: RoleAssignmentInput!) { assignRole(input: $input) { errors { code } } }",
        json!({ "input": { "userId": mgr_id, "roleId": manager } }),
    )
    .await;

    let grant = "mutation($input: RolePermissionsInput!) { grantPermissions(input: $input) { errors { code } } }";
    let up = app
        .gql_as(
            Some(&mgr),
            grant,
            json!({ "input": { "roleId": manager, "permissions": ["invoice:read"] } }),
        )
        .await;
    assert_eq!(
        up["data"]["grantPermissions"]["errors"][0]["code"], "escalation",
        "{up}"
    );
    let assign =
        "mutation($input: RoleAssignmentInput!) { assignRole(input: $input) { errors { code } } }";
    let me = app
        .gql_as(
            Some(&mgr),
            assign,
            json!({ "input": { "userId": mgr_id, "roleId": owner_role } }),
        )
        .await;
    assert_eq!(me["data"]["assignRole"]["errors"][0]["code"], "escalation");
    let cashier = app.role_id("cashier").await;
    let other = app
        .gql_as(
            Some(&mgr),
            assign,
            json!({ "input": { "userId": mgr_id, "roleId": cashier } }),
        )
        .await;
    assert_eq!(
        other["data"]["assignRole"]["errors"][0]["code"],
        "escalation"
    );
    let key = app
        .gql_as(Some(&mgr), "mutation { createApiKey(input: { name: \"x\", role: \"owner\" }) { errors { code } } }", json!({}))
        .await;
    assert_eq!(error_code(&key), "forbidden", "no api_key:manage");
    let fine = app
        .gql_as(
            Some(&mgr),
            grant,
            json!({ "input": { "roleId": manager, "permissions": ["customer:read"] } }),
        )
        .await;
    assert_eq!(fine["data"]["grantPermissions"]["errors"], json!([]));

    // The last owner keeps the owner role, and it keeps every permission.
    let owner_id = app.ok("{ me { id } }", json!({})).await["me"]["id"].clone();
    let last = app
        .ok(
            "mutation($input: RoleAssignmentInput!) { unassignRole(input: $input) { errors { code } } }",
            json!({ "input": { "userId": owner_id, "roleId": owner_role } }),
        )
        .await;
    assert_eq!(last["unassignRole"]["errors"][0]["code"], "last_owner");
    let fixed = app
        .ok(
            "mutation($input: RolePermissionsInput!) { revokePermissions(input: $input) { errors { code } } }",
            json!({ "input": { "roleId": owner_role, "permissions": ["role:manage"] } }),
        )
        .await;
    assert_eq!(
        fixed["revokePermissions"]["errors"][0]["code"],
        "owner_role_fixed"
    );
    let in_use = app
        .ok(
            "mutation($input: DeleteRoleInput!) { deleteRole(input: $input) { errors { code } } }",
            json!({ "input": { "id": manager, "version": 1 } }),
        )
        .await;
    assert_eq!(in_use["deleteRole"]["errors"][0]["code"], "role_in_use");
    assert!(
        app.ok("{ me { id } }", json!({})).await["me"].is_object(),
        "the owner is still in"
    );
}

#[tokio::test]
async fn explain_access_names_the_granting_role_or_what_is_missing() {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let app = TestApp::spawn().await;
    app.seed(12, 10).await;
    let (a, b) = two_locations(&app).await;
    let (cashier, _) = app
        .staff_with_role("cash@shop.test", "cashier", Some(&gid("Location", a)))
        .await;
    let in_a = entity::customers::Entity::find()
        .filter(entity::customers::Column::HomeLocationId.eq(a))
        .one(&app.db.conn)
        .await
        .expect("q")
        .expect("customer");
    let in_b = entity::customers::Entity::find()
        .filter(entity::customers::Column::HomeLocationId.eq(b))
        .one(&app.db.conn)
        .await
        .expect("q")
        .expect("customer");
    let q = "query($u: ID!, $p: String!, $r: ID) { explainAccess(userId: $u, permission: $p, recordId: $r) { allowed reason grantedBy { role locationId } } }";
    let yes = app
        .ok(
            q,
            json!({ "u": cashier, "p": "customer:read", "r": gid("Customer", in_a.id) }),
        )
        .await;
    assert_eq!(yes["explainAccess"]["allowed"], true);
    assert_eq!(
        yes["explainAccess"]["grantedBy"],
        json!([{ "role": "cashier", "locationId": gid("Location", a) }])
    );
    let no = app
        .ok(
            q,
            json!({ "u": cashier, "p": "customer:read", "r": gid("Customer", in_b.id) }),
        )
        .await;
    assert_eq!(no["explainAccess"]["allowed"], false);
    assert!(
        no["explainAccess"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("holds no role at location")),
        "{no}"
    );
    let missing = app
        .ok(
            q,
            json!({ "u": cashier, "p": "customer:update", "r": null }),
        )
        .await;
    assert_eq!(missing["explainAccess"]["allowed"], false);
    assert!(
        missing["explainAccess"]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("customer:update"))
    );
}

#[tokio::test]
async fn a_policy_change_on_one_replica_holds_on_the_others_at_once() {
    if !is_postgres() {
        // The embedded backend is one process; replicas share PostgreSQL and Redis.
        return;
    }
    let app = TestApp::spawn().await;
    let other = app.spawn_beside().await;
    app.seed(5, 5).await;
    let (user, token) = app
        .staff_with_role("mech@shop.test", "mechanic", None)
        .await;
    let q = "{ invoices(first: 1) { totalCount } }";
    assert_eq!(
        error_code(&other.gql_as(Some(&token), q, json!({})).await),
        "forbidden"
    );
    let cashier = app.role_id("cashier").await;
    app.ok(
        "mutation($input: RoleAssignmentInput!) { assignRole(input: $input) { errors { code } } }",
        json!({ "input": { "userId": user, "roleId": cashier } }),
    )
    .await;
    let allowed = within_a_moment(async || {
        other
            .gql_as(Some(&token), q, json!({}))
            .await
            .get("errors")
            .is_none()
    })
    .await;
    assert!(allowed, "the other replica never heard of the change");
}
