//! The checked-in schema and the SPA's contract: schema.graphql is current, the persisted-documents manifest
//! holds every contract operation as written, every contract operation runs by its hash where only trusted
//! documents may, and every error code the code base can return is documented.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use async_graphql::parser::parse_query;
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection, SelectionSet};
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

/// The generated persisted-documents manifest: sha256 (hex) → document.
fn manifest() -> HashMap<String, String> {
    let path = root().join("frontend-contract/client/src/generated/persisted-documents.json");
    let raw: HashMap<String, String> =
        serde_json::from_str(&std::fs::read_to_string(path).expect("the manifest is checked in"))
            .expect("the manifest is JSON");
    raw.into_iter()
        .map(|(k, v)| (k.trim_start_matches("sha256:").to_owned(), v))
        .collect()
}

/// Each contract operation's name → its hash in the manifest.
fn hashes_by_operation() -> HashMap<String, String> {
    manifest()
        .into_iter()
        .flat_map(|(hash, text)| {
            let doc = parse_query(&text).expect("manifest documents parse");
            doc.operations
                .iter()
                .filter_map(|(name, _)| name.map(|n| (n.to_string(), hash.clone())))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// A selection in a form that ignores order, layout and commas: the generator prints documents its own way.
fn canonical_selection(set: &SelectionSet, doc: &ExecutableDocument) -> String {
    let mut items: Vec<String> = set
        .items
        .iter()
        .map(|s| match &s.node {
            Selection::Field(f) => {
                let mut args: Vec<String> = f
                    .node
                    .arguments
                    .iter()
                    .map(|(n, v)| format!("{}:{}", n.node, canonical_value(&v.node)))
                    .collect();
                args.sort();
                format!(
                    "{}{}({}){{{}}}",
                    f.node
                        .alias
                        .as_ref()
                        .map(|a| format!("{}:", a.node))
                        .unwrap_or_default(),
                    f.node.name.node,
                    args.join(","),
                    canonical_selection(&f.node.selection_set.node, doc)
                )
            }
            Selection::InlineFragment(f) => format!(
                "...on {}{{{}}}",
                f.node
                    .type_condition
                    .as_ref()
                    .map(|t| t.node.on.node.to_string())
                    .unwrap_or_default(),
                canonical_selection(&f.node.selection_set.node, doc)
            ),
            Selection::FragmentSpread(spread) => {
                let def = &doc.fragments[&spread.node.fragment_name.node];
                format!(
                    "...{} on {}{{{}}}",
                    spread.node.fragment_name.node,
                    def.node.type_condition.node.on.node,
                    canonical_selection(&def.node.selection_set.node, doc)
                )
            }
        })
        .collect();
    items.sort();
    items.join(" ")
}

/// A value without the generator's spacing: objects' fields sorted.
fn canonical_value(v: &async_graphql_value::Value) -> String {
    use async_graphql_value::Value as V;
    match v {
        V::Object(fields) => {
            let mut f: Vec<String> = fields
                .iter()
                .map(|(k, v)| format!("{k}:{}", canonical_value(v)))
                .collect();
            f.sort();
            format!("{{{}}}", f.join(","))
        }
        V::List(items) => format!(
            "[{}]",
            items
                .iter()
                .map(canonical_value)
                .collect::<Vec<_>>()
                .join(",")
        ),
        other => other.to_string(),
    }
}

/// Every named operation of `doc`, in canonical form: its type, variables and selection.
fn canonical_operations(doc: &ExecutableDocument) -> HashMap<String, String> {
    doc.operations
        .iter()
        .filter_map(|(name, op)| {
            let mut vars: Vec<String> = op
                .node
                .variable_definitions
                .iter()
                .map(|d| {
                    format!(
                        "${}:{}={}",
                        d.node.name.node,
                        d.node.var_type.node,
                        d.node
                            .default_value
                            .as_ref()
                            .map(|v| v.node.to_string())
                            .unwrap_or_default()
                    )
                })
                .collect();
            vars.sort();
            let form = format!(
                "{} ({}) {}",
                op.node.ty,
                vars.join(","),
                canonical_selection(&op.node.selection_set.node, doc)
            );
            name.map(|n| (n.to_string(), form))
        })
        .collect()
}

fn contract_files() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(root().join("frontend-contract"))
        .expect("contract dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "graphql"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_persisted_documents_manifest_holds_every_contract_operation_as_written() {
    let mut in_manifest = HashMap::new();
    for text in manifest().values() {
        in_manifest.extend(canonical_operations(&parse_query(text).expect("parse")));
    }
    let mut in_contract = HashMap::new();
    for file in contract_files() {
        let text = std::fs::read_to_string(&file).expect("read");
        in_contract.extend(canonical_operations(&parse_query(&text).expect("parse")));
    }
    let stale =
        "the manifest is stale: run `npm run generate` in frontend-contract/client and commit it";
    assert_eq!(
        in_contract.keys().collect::<BTreeSet<_>>(),
        in_manifest.keys().collect::<BTreeSet<_>>(),
        "{stale}"
    );
    for (name, form) in &in_contract {
        assert_eq!(Some(form), in_manifest.get(name), "{name}: {stale}");
    }
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
        ("@role", app.role_id("mechanic").await),
        ("@invoice", invoice["id"].clone()),
        ("@newInvoice", invoice["id"].clone()),
        ("@newPayment", invoice["payments"][0]["id"].clone()),
        (
            "@readyWorkOrder",
            json!(autoshop::schema::ids::encode("WorkOrder", ready).0),
        ),
    ])
}

/// The operation that ends the caller's session.
const ENDS_SESSION: &str = "SignOut";

/// Operations that cannot succeed where the tests run them (no refresh cookie, no second-factor challenge),
/// each with the user error it must answer: `_userErrors` in examples.json.
pub fn expected_user_errors() -> HashMap<String, String> {
    let examples: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("frontend-contract/examples.json")).expect("examples"),
    )
    .expect("examples.json is JSON");
    examples["_userErrors"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| *k != "_")
        .map(|(k, v)| (k.clone(), v.as_str().expect("a code").to_owned()))
        .collect()
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
    let hashes = hashes_by_operation();
    // Queries first, then mutations, each in file order; signing out ends the session the run uses, so last.
    let mut order = Vec::new();
    for pass in [OperationType::Query, OperationType::Mutation] {
        for file in contract_files() {
            let text = std::fs::read_to_string(&file).expect("read");
            let doc = parse_query(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let mut ops: Vec<_> = doc
                .operations
                .iter()
                .filter(|(_, op)| op.node.ty == pass)
                .map(|(name, op)| {
                    let name = name.unwrap_or_else(|| {
                        panic!("{}: every contract operation is named", file.display())
                    });
                    ((op.pos.line, op.pos.column), name.to_string())
                })
                .collect();
            ops.sort();
            order.extend(ops.into_iter().map(|(_, name)| name));
        }
    }
    order.sort_by_key(|name| name == ENDS_SESSION);
    let mut results = Vec::new();
    for name in order {
        let vars = examples
            .get(&name)
            .unwrap_or_else(|| panic!("add example variables for {name} to examples.json"));
        let vars = substitute(vars, known);
        // As the generated client sends it: by hash, without the text.
        let hash = hashes
            .get(&name)
            .unwrap_or_else(|| panic!("{name} is not in the manifest"));
        let body = app
            .post_as(
                Some(token),
                &json!({
                    "operationName": name,
                    "variables": vars,
                    "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } },
                }),
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
            let put = put.send().await.expect("PUT");
            let status = put.status();
            assert_eq!(
                status,
                200,
                "the store refused the PUT: {}",
                put.text().await.unwrap_or_default()
            );
        }
        results.push((name, body));
    }
    results
}

#[tokio::test]
async fn every_contract_operation_runs_by_hash_against_the_demo_shop_where_only_trusted_documents_may()
 {
    // The shop is set up in development, where the test's own documents run; the SPA's then run beside it.
    let dev = TestApp::spawn().await;
    dev.seed(10, 60).await;
    let mut known = contract_ids(&dev).await;
    let app = dev
        .spawn_beside_with(&[("AUTOSHOP_TRUSTED_DOCUMENTS", "enforce")])
        .await;
    let results = run_contract(&app, &dev.owner_token, &mut known).await;
    let expected = expected_user_errors();
    for (name, body) in &results {
        assert!(body.get("errors").is_none(), "{name} failed: {body:#}");
        let data = body["data"].as_object().expect("data");
        for (_, field) in data {
            if let Some(errors) = field.get("errors") {
                match expected.get(name) {
                    Some(code) => assert_eq!(errors[0]["code"], json!(code), "{name}: {body:#}"),
                    None => assert_eq!(errors, &json!([]), "{name} returned user errors: {body:#}"),
                }
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
            ("coded(", 1),
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

#[tokio::test]
async fn where_only_trusted_documents_may_run_an_unknown_document_or_hash_is_refused_before_it_runs()
 {
    let app = TestApp::spawn_with(&[("AUTOSHOP_TRUSTED_DOCUMENTS", "enforce")]).await;
    let before = app.statements();
    let own = app.gql("{ customers { totalCount } }", json!({})).await;
    assert_eq!(
        crate::helpers::error_code(&own),
        "operation_not_allowed",
        "{own}"
    );
    let unknown = app
        .post(&json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "ab".repeat(32) } } }))
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert_eq!(
        crate::helpers::error_code(&unknown),
        "persisted_query_not_found",
        "{unknown}"
    );
    let anonymous = app
        .gql_as(None, "mutation { logout(input: {}) { ok } }", json!({}))
        .await;
    assert_eq!(
        crate::helpers::error_code(&anonymous),
        "operation_not_allowed",
        "signed out or in, the SPA's callers send only its documents"
    );
    assert_eq!(
        app.statements(),
        before,
        "nothing was looked up for a refused document"
    );
    let (hash, text) = manifest()
        .into_iter()
        .find(|(_, text)| text.starts_with("query Locations"))
        .expect("the Locations operation");
    let by_hash = app
        .post(&json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": hash } } }))
        .await
        .json::<Value>()
        .await
        .expect("json");
    assert!(
        by_hash["data"]["locations"]["edges"].is_array(),
        "{by_hash}"
    );
    let by_text = app.gql(&text, json!({})).await;
    assert_eq!(
        by_text, by_hash,
        "the exact text of a trusted document runs too"
    );
    let changed = app
        .gql(&text.replace("timezone", "timezone id"), json!({}))
        .await;
    assert_eq!(
        crate::helpers::error_code(&changed),
        "operation_not_allowed"
    );
}

#[tokio::test]
async fn an_integration_with_an_api_key_runs_its_own_documents_where_only_trusted_ones_may() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_TRUSTED_DOCUMENTS", "enforce")]).await;
    // The owner makes the key in development; the same database then serves in enforcement.
    let dev = app
        .spawn_beside_with(&[("AUTOSHOP_TRUSTED_DOCUMENTS", "off")])
        .await;
    let made = dev
        .ok(
            "mutation { createApiKey(input: { name: \"Accounting sync\", role: \"owner\" }) { secret errors { code } } }",
            json!({}),
        )
        .await;
    let secret = made["createApiKey"]["secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    let own = app
        .gql_as(
            Some(&secret),
            "{ customers(first: 1) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(own.get("errors").is_none(), "{own}");
    assert!(own["data"]["customers"]["totalCount"].is_number());
    let forged = app
        .gql_as(
            Some("ask_not-a-real-key"),
            "mutation { logout(input: {}) { ok } }",
            json!({}),
        )
        .await;
    assert_eq!(
        crate::helpers::error_code(&forged),
        "unauthenticated",
        "claiming to be an integration does not open the door to other documents"
    );
}
