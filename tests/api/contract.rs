//! The checked-in schema and the SPA's contract: schema.graphql is current, every contract operation runs,
//! and every error code the code base can return is documented.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use async_graphql::parser::parse_query;
use async_graphql::parser::types::OperationType;
use serde_json::{Value, json};

use crate::helpers::TestApp;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn the_checked_in_schema_is_current() {
    let on_disk =
        std::fs::read_to_string(root().join("schema.graphql")).expect("schema.graphql exists");
    assert!(
        on_disk == autoshop::resolvers::sdl(),
        "schema.graphql is stale: run `cargo run -- export-schema` and commit it"
    );
}

fn substitute(v: &Value, ids: &HashMap<&str, Value>) -> Value {
    match v {
        Value::String(s) if s.starts_with('@') => {
            ids.get(s.as_str()).cloned().unwrap_or(Value::Null)
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, ids)).collect()),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| (k.clone(), substitute(x, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Ids of the demo shop the contract's example variables name (`@customer`, …), looked up as the owner, and a
/// work order made ready for invoicing through the services.
pub async fn contract_ids(app: &TestApp) -> HashMap<&'static str, Value> {
    let ids = app
        .ok(
            "{ customers(first: 10) { edges { node { id vehicles { id } } } }
               workOrders(first: 1, filter: { statuses: [CLOSED] }) { edges { node { id } } }
               locations(first: 1) { edges { node { id } } }
               users(first: 5) { edges { node { id email } } }
               invoices(first: 1, filter: { statuses: [ISSUED, PARTIALLY_PAID] }) { edges { node { id payments { id isRefund } } } } }",
            json!({}),
        )
        .await;
    let customer = &ids["customers"]["edges"][0]["node"];
    // The workflow uses another customer's car: the customer mutations delete the first one's.
    let other = ids["customers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .skip(1)
        .map(|e| &e["node"])
        .find(|c| c["vehicles"][0].is_object())
        .expect("a second customer with a vehicle");
    let staff = ids["users"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["node"]["email"] != crate::helpers::OWNER_EMAIL)
        .map(|e| e["node"]["id"].clone())
        .expect("a member of staff");
    let invoice = &ids["invoices"]["edges"][0]["node"];
    let key = |v: &Value| {
        let id = async_graphql::ID(v.as_str().expect("id").to_owned());
        autoshop::schema::ids::decode(&id, "id").expect("id").1
    };
    let location = ids["locations"]["edges"][0]["node"]["id"].clone();
    let ready = crate::helpers::ready_work_order(
        app,
        key(&other["id"]),
        key(&other["vehicles"][0]["id"]),
        key(&location),
    )
    .await;
    let work_order = ids["workOrders"]["edges"][0]["node"]["id"].clone();
    HashMap::from([
        ("@customer", customer["id"].clone()),
        // Replaced by CreateCustomer's result when the caller may create; a real id either way.
        ("@newCustomer", customer["id"].clone()),
        ("@vehicle", customer["vehicles"][0]["id"].clone()),
        ("@otherCustomer", other["id"].clone()),
        ("@otherVehicle", other["vehicles"][0]["id"].clone()),
        ("@workOrder", work_order.clone()),
        ("@newWorkOrder", work_order),
        ("@location", location),
        ("@staff", staff),
        ("@invoice", invoice["id"].clone()),
        ("@newInvoice", invoice["id"].clone()),
        ("@newPayment", invoice["payments"][0]["id"].clone()),
        (
            "@readyWorkOrder",
            json!(autoshop::schema::ids::encode("WorkOrder", ready).0),
        ),
    ])
}

/// Runs every contract operation with `token` (queries first, then mutations in file order: UpdateCustomer
/// needs CreateCustomer's result) and returns each operation's name and whole response.
pub async fn run_contract(
    app: &TestApp,
    token: &str,
    known: &mut HashMap<&'static str, Value>,
) -> Vec<(String, Value)> {
    let examples: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("frontend-contract/examples.json")).expect("examples"),
    )
    .expect("examples.json is JSON");
    let mut files: Vec<_> = std::fs::read_dir(root().join("frontend-contract"))
        .expect("contract dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    let mut results = Vec::new();
    for pass in [OperationType::Query, OperationType::Mutation] {
        for file in &files {
            let text = std::fs::read_to_string(file).expect("read");
            let doc = parse_query(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let mut ops: Vec<_> = doc.operations.iter().collect();
            ops.sort_by_key(|(_, op)| (op.pos.line, op.pos.column));
            for (name, op) in ops {
                if op.node.ty != pass {
                    continue;
                }
                let name = name
                    .unwrap_or_else(|| {
                        panic!("{}: every contract operation is named", file.display())
                    })
                    .to_string();
                let vars = examples
                    .get(&name)
                    .unwrap_or_else(|| panic!("add example variables for {name} to examples.json"));
                let vars = substitute(vars, known);
                let body = app
                    .post_as(
                        Some(token),
                        &json!({ "query": text, "operationName": name, "variables": vars }),
                    )
                    .await
                    .json::<Value>()
                    .await
                    .expect("json");
                // What an operation made, for the operations after it.
                for (op, field, record, placeholder) in [
                    (
                        "CreateCustomer",
                        "createCustomer",
                        "customer",
                        "@newCustomer",
                    ),
                    (
                        "CreateWorkOrder",
                        "createWorkOrder",
                        "workOrder",
                        "@newWorkOrder",
                    ),
                    ("IssueInvoice", "issueInvoice", "invoice", "@newInvoice"),
                    ("RecordPayment", "recordPayment", "payment", "@newPayment"),
                    ("RequestUpload", "requestUpload", "file", "@newFile"),
                ] {
                    if name == op && body["data"][field][record].is_object() {
                        known.insert(placeholder, body["data"][field][record]["id"].clone());
                    }
                }
                // The browser's part of an upload: the bytes go straight to the store.
                let upload = &body["data"]["requestUpload"]["upload"];
                if name == "RequestUpload" && upload.is_object() {
                    let mut put = app
                        .client
                        .put(upload["url"].as_str().expect("url"))
                        .body(crate::files::png(300));
                    for h in upload["headers"].as_array().expect("headers") {
                        let (k, v) = (
                            h["name"].as_str().expect("k"),
                            h["value"].as_str().expect("v"),
                        );
                        if k != "content-length" {
                            put = put.header(k, v);
                        }
                    }
                    assert_eq!(put.send().await.expect("PUT").status(), 200);
                }
                results.push((name, body));
            }
        }
    }
    results
}

#[tokio::test]
async fn every_contract_operation_runs_against_the_demo_shop_without_errors() {
    let app = TestApp::spawn().await;
    app.seed(10, 60).await;
    let mut known = contract_ids(&app).await;
    let results = run_contract(&app, &app.owner_token, &mut known).await;
    for (name, body) in &results {
        assert!(body.get("errors").is_none(), "{name} failed: {body:#}");
        let data = body["data"].as_object().expect("data");
        for (_, field) in data {
            if let Some(errors) = field.get("errors") {
                assert_eq!(errors, &json!([]), "{name} returned user errors: {body:#}");
            }
        }
    }
    assert!(
        results.len() >= 10,
        "only {} contract operations ran",
        results.len()
    );
}

/// Splits a call's argument list at top-level commas.
fn arguments(src: &str) -> Vec<String> {
    let (mut depth, mut in_str, mut cur, mut out) = (0i32, false, String::new(), Vec::new());
    let mut chars = src.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_str = !in_str,
            '\\' if in_str => {
                cur.push(c);
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
                continue;
            }
            '(' | '[' | '{' if !in_str => depth += 1,
            ')' | ']' | '}' if !in_str => {
                if depth == 0 {
                    out.push(cur.trim().to_owned());
                    return out;
                }
                depth -= 1;
            }
            ',' if !in_str && depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_owned());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).expect("dir").filter_map(Result::ok) {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn every_error_code_in_the_code_base_is_documented() {
    let doc = std::fs::read_to_string(root().join("frontend-contract/error-codes.md"))
        .expect("error-codes.md");
    let documented: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut used = BTreeSet::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        for (call, code_arg) in [
            ("AppError::invalid(", 1),
            ("ParseError::new(", 0),
            ("ext.set(\"code\", ", 0),
        ] {
            for (i, _) in text.match_indices(call) {
                let args = arguments(&text[i + call.len()..]);
                if let Some(code) = args
                    .get(code_arg)
                    .and_then(|a| a.strip_prefix('"'))
                    .and_then(|a| a.strip_suffix('"'))
                {
                    used.insert(code.to_owned());
                }
            }
        }
    }
    for code in [
        "conflict",
        "not_found",
        "unauthenticated",
        "forbidden",
        "rate_limited",
        "internal",
    ] {
        used.insert(code.to_owned());
    }
    assert!(used.len() > 20, "the scan found too few codes: {used:?}");
    let missing: Vec<_> = used.difference(&documented).collect();
    assert!(missing.is_empty(), "undocumented error codes: {missing:?}");
}
