//! Files: the browser uploads straight to the object store through a presigned PUT that signs exactly what
//! was declared, the server confirms what arrived, and downloads are presigned GETs for those who see the parent.

use serde_json::{Value, json};

use crate::helpers::{TestApp, TestDb, settings_with, uuid_of, within_a_moment};

/// A PNG as far as any sniffer can tell: its signature and the start of its header.
pub fn png(len: usize) -> Vec<u8> {
    let mut b = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    b.resize(len, 7);
    b
}

const REQUEST: &str = "mutation($input: RequestUploadInput!) { requestUpload(input: $input) {
    file { id status originalName contentType sizeBytes downloadUrl }
    upload { url method expiresAt headers { name value } }
    errors { field code message } } }";

const CONFIRM: &str = "mutation($id: ID!) { confirmUpload(input: { fileId: $id }) {
    file { id status version downloadUrl } errors { field code message } } }";

async fn a_customer(app: &TestApp) -> Value {
    let d = app
        .ok(
            "mutation { createCustomer(input: { name: \"Ada Driver\" }) { customer { id } errors { code } } }",
            json!({}),
        )
        .await;
    d["createCustomer"]["customer"]["id"].clone()
}

async fn request(
    app: &TestApp,
    token: Option<&str>,
    parent: &Value,
    name: &str,
    content_type: &str,
    size: usize,
) -> Value {
    let input =
        json!({ "parentId": parent, "fileName": name, "contentType": content_type, "size": size });
    let token = token.unwrap_or(&app.owner_token);
    app.gql_as(Some(token), REQUEST, json!({ "input": input }))
        .await
}

/// Sends `body` as the presigned request says, with its headers changed by `tweak`; returns the HTTP status.
async fn put(
    app: &TestApp,
    upload: &Value,
    body: Vec<u8>,
    tweak: impl FnOnce(&mut Vec<(String, String)>, &mut String),
) -> u16 {
    let mut url = upload["url"].as_str().expect("url").to_owned();
    let mut headers: Vec<(String, String)> = upload["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| {
            (
                h["name"].as_str().expect("name").to_owned(),
                h["value"].as_str().expect("value").to_owned(),
            )
        })
        .collect();
    tweak(&mut headers, &mut url);
    let mut req = app.client.put(&url).body(body);
    for (k, v) in headers {
        // reqwest sets the length from the body.
        if !k.eq_ignore_ascii_case("content-length") {
            req = req.header(k, v);
        }
    }
    req.send()
        .await
        .expect("the store answers")
        .status()
        .as_u16()
}

/// Requests, uploads and confirms a PNG on `parent`; returns the confirmed file.
async fn uploaded(app: &TestApp, parent: &Value, name: &str) -> Value {
    let body = request(app, None, parent, name, "image/png", 300).await;
    let r = &body["data"]["requestUpload"];
    assert_eq!(r["errors"], json!([]), "{body}");
    assert_eq!(
        put(app, &r["upload"], png(300), |_, _| {}).await,
        200,
        "{r}"
    );
    let c = app.ok(CONFIRM, json!({ "id": r["file"]["id"] })).await;
    assert_eq!(c["confirmUpload"]["errors"], json!([]), "{c}");
    c["confirmUpload"]["file"].clone()
}

async fn object_key(app: &TestApp, file: &Value) -> autoshop::domain::ObjectKey {
    let id = uuid_of(&file["id"]);
    let row = app
        .sql_one(&format!(
            "SELECT object_key FROM files WHERE id = {}",
            if crate::helpers::is_postgres() {
                format!("'{id}'")
            } else {
                format!("x'{}'", id.simple())
            }
        ))
        .await;
    let k: String = row.try_get("", "object_key").expect("key");
    autoshop::domain::ObjectKey::parse(&k).expect("a key")
}

#[tokio::test]
async fn a_photo_goes_straight_to_the_store_and_is_ready_once_confirmed() {
    let app = TestApp::spawn().await;
    let customer = a_customer(&app).await;
    let audits = app.audit_entries().await;
    let r = request(
        &app,
        None,
        &customer,
        "C:\\photos\\dent.png",
        "image/png",
        300,
    )
    .await;
    let r = &r["data"]["requestUpload"];
    assert_eq!(r["errors"], json!([]), "{r}");
    assert_eq!(r["file"]["status"], "PENDING");
    assert_eq!(r["file"]["originalName"], "dent.png");
    assert_eq!(r["file"]["downloadUrl"], Value::Null);
    assert_eq!(r["upload"]["method"], "PUT");
    let url = r["upload"]["url"].as_str().expect("url");
    let signed = url
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("X-Amz-SignedHeaders="))
        .expect("signed headers");
    for h in ["content-length", "content-type", "content-disposition"] {
        assert!(signed.contains(h), "{h} is signed: {signed}");
    }
    // The key is the server's, not the file's name.
    let path = url.split('?').next().expect("path");
    assert!(!path.contains("dent"), "{url}");

    assert_eq!(put(&app, &r["upload"], png(300), |_, _| {}).await, 200);
    let c = app.ok(CONFIRM, json!({ "id": r["file"]["id"] })).await;
    let file = &c["confirmUpload"]["file"];
    assert_eq!(file["status"], "READY", "{c}");
    assert_eq!(
        app.audit_entries().await,
        audits + 1,
        "the confirmation is audited"
    );

    // Confirming again changes nothing.
    let again = app.ok(CONFIRM, json!({ "id": r["file"]["id"] })).await;
    assert_eq!(again["confirmUpload"]["file"]["version"], file["version"]);
    assert_eq!(app.audit_entries().await, audits + 1);

    let listed = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Customer { files(first: 10) { totalCount nodes { id downloadUrl } } } } }",
            json!({ "id": customer }),
        )
        .await;
    let files = &listed["node"]["files"];
    assert_eq!(files["totalCount"], 1);
    let download = files["nodes"][0]["downloadUrl"].as_str().expect("a link");
    let got = app.client.get(download).send().await.expect("download");
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "image/png");
    let disposition = got.headers()["content-disposition"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        disposition.starts_with("inline; filename=\"dent.png\""),
        "{disposition}"
    );
    assert_eq!(got.bytes().await.expect("bytes").to_vec(), png(300));
}

#[tokio::test]
async fn the_store_refuses_a_put_that_is_not_exactly_what_was_signed() {
    let app = TestApp::spawn_with(&[("AUTOSHOP_S3_URL_TTL_SECS", "2")]).await;
    let customer = a_customer(&app).await;
    let r = request(&app, None, &customer, "a.png", "image/png", 300).await;
    let upload = r["data"]["requestUpload"]["upload"].clone();

    assert_eq!(
        put(&app, &upload, png(299), |_, _| {}).await,
        403,
        "another length"
    );
    assert_eq!(
        put(&app, &upload, png(301), |_, _| {}).await,
        403,
        "another length"
    );
    let retyped = |h: &mut Vec<(String, String)>, _: &mut String| {
        for (k, v) in h.iter_mut() {
            if k.eq_ignore_ascii_case("content-type") {
                *v = "text/html".into();
            }
        }
    };
    assert_eq!(
        put(&app, &upload, png(300), retyped).await,
        403,
        "another type"
    );
    let elsewhere = |_: &mut Vec<(String, String)>, u: &mut String| {
        *u = u.replacen("/customer/", "/customer/x", 1);
    };
    assert_eq!(
        put(&app, &upload, png(300), elsewhere).await,
        403,
        "another key"
    );
    let forged = |_: &mut Vec<(String, String)>, u: &mut String| {
        let at = u.find("X-Amz-Signature=").expect("signature") + 16;
        let c = if &u[at..=at] == "0" { "1" } else { "0" };
        u.replace_range(at..=at, c);
    };
    assert_eq!(
        put(&app, &upload, png(300), forged).await,
        403,
        "a changed signature"
    );
    // Nothing arrived.
    let file = &r["data"]["requestUpload"]["file"];
    assert_eq!(
        app.store
            .stat(&object_key(&app, file).await)
            .await
            .expect("stat"),
        None
    );

    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        put(&app, &upload, png(300), |_, _| {}).await,
        403,
        "after expiry"
    );
}

#[tokio::test]
async fn bytes_that_are_not_the_declared_type_are_removed_on_confirmation() {
    let app = TestApp::spawn().await;
    let customer = a_customer(&app).await;
    let r = request(&app, None, &customer, "photo.png", "image/png", 64).await;
    let r = &r["data"]["requestUpload"];
    let key = object_key(&app, &r["file"]).await;
    let html = b"<html><script>alert(document.cookie)</script></html>".to_vec();
    let mut body = html.clone();
    body.resize(64, b' ');
    assert_eq!(put(&app, &r["upload"], body, |_, _| {}).await, 200);
    let c = app.gql(CONFIRM, json!({ "id": r["file"]["id"] })).await;
    let errors = &c["data"]["confirmUpload"]["errors"];
    assert_eq!(errors[0]["code"], "upload_rejected", "{c}");
    assert_eq!(
        app.store.stat(&key).await.expect("stat"),
        None,
        "the object is gone"
    );
    let node = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": r["file"]["id"] }),
        )
        .await;
    assert_eq!(node["node"], Value::Null, "the file is gone");
}

#[tokio::test]
async fn confirming_before_the_upload_arrives_says_so_and_keeps_the_file_pending() {
    let app = TestApp::spawn().await;
    let customer = a_customer(&app).await;
    let r = request(&app, None, &customer, "scan.pdf", "application/pdf", 10).await;
    let id = r["data"]["requestUpload"]["file"]["id"].clone();
    let c = app.gql(CONFIRM, json!({ "id": id })).await;
    assert_eq!(
        c["data"]["confirmUpload"]["errors"][0]["code"], "upload_missing",
        "{c}"
    );
    let node = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on File { status } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(node["node"]["status"], "PENDING");
}

#[tokio::test]
async fn uploads_outside_the_shops_limits_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let customer = a_customer(&app).await;
    let before = app.count("files").await;
    for (name, ty, size, code) in [
        ("big.png", "image/png", 20_971_521, "file_too_large"),
        ("empty.png", "image/png", 0, "file_empty"),
        ("x.svg", "image/svg+xml", 100, "content_type_not_allowed"),
        ("x.html", "text/html", 100, "content_type_not_allowed"),
        ("x.png", "image/png; charset=x", 100, "invalid_content_type"),
        ("..", "image/png", 100, "invalid_file_name"),
    ] {
        let r = request(&app, None, &customer, name, ty, size).await;
        let p = &r["data"]["requestUpload"];
        assert_eq!(p["errors"][0]["code"], code, "{name}: {r}");
        assert_eq!(p["upload"], Value::Null);
    }
    let not_a_parent = autoshop::schema::ids::encode("Location", uuid::Uuid::now_v7()).0;
    let r = request(&app, None, &json!(not_a_parent), "a.png", "image/png", 10).await;
    assert_eq!(
        r["data"]["requestUpload"]["errors"][0]["code"], "invalid_parent",
        "{r}"
    );
    assert_eq!(app.count("files").await, before);

    // The owner allows bigger files: the next request may be that big.
    let set = app
        .ok(
            "mutation { updateSetting(input: { key: \"upload_max_bytes\", value: \"30000000\", version: 0 }) { errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(set["updateSetting"]["errors"], json!([]), "{set}");
    let r = request(&app, None, &customer, "big.png", "image/png", 20_971_521).await;
    assert_eq!(r["data"]["requestUpload"]["errors"], json!([]), "{r}");
}

#[tokio::test]
async fn a_file_exists_only_for_those_who_see_its_parent() {
    let app = TestApp::spawn().await;
    app.seed(4, 4).await;
    // A work order at B, with a photo; A is another branch.
    let wo = app
        .ok(
            "{ workOrders(first: 1) { nodes { id location { id } } } }",
            json!({}),
        )
        .await;
    let order = wo["workOrders"]["nodes"][0]["id"].clone();
    let b = wo["workOrders"]["nodes"][0]["location"]["id"].clone();
    let locs = app
        .ok("{ locations(first: 10) { nodes { id } } }", json!({}))
        .await;
    let a = locs["locations"]["nodes"]
        .as_array()
        .expect("locations")
        .iter()
        .map(|l| l["id"].clone())
        .find(|l| *l != b)
        .expect("another branch");
    let photo = uploaded(&app, &order, "brakes.png").await;
    let (_, advisor_a) = app
        .staff_with_role("adv-a@shop.test", "service_advisor", Some(&a))
        .await;
    let (_, advisor_b) = app
        .staff_with_role("adv-b@shop.test", "service_advisor", Some(&b))
        .await;
    let (_, mechanic_b) = app
        .staff_with_role("mech-b@shop.test", "mechanic", Some(&b))
        .await;

    let seen = |body: Value| body["data"]["node"].clone();
    let q = "query($id: ID!) { node(id: $id) { ... on File { id downloadUrl } } }";
    let v = json!({ "id": photo["id"] });
    assert!(seen(app.gql_as(Some(&advisor_b), q, v.clone()).await)["downloadUrl"].is_string());
    assert_eq!(
        seen(app.gql_as(Some(&advisor_a), q, v.clone()).await),
        Value::Null,
        "another branch"
    );
    assert_eq!(
        seen(app.gql_as(Some(&mechanic_b), q, v.clone()).await),
        Value::Null,
        "a mechanic not on the order"
    );
    // Nor can they upload to it, or confirm or delete its files: for them it does not exist.
    let r = request(&app, Some(&advisor_a), &order, "x.png", "image/png", 10).await;
    assert_eq!(
        r["data"]["requestUpload"]["errors"][0]["code"], "not_found",
        "{r}"
    );
    let r = request(&app, Some(&mechanic_b), &order, "x.png", "image/png", 10).await;
    assert_eq!(
        r["data"]["requestUpload"]["errors"][0]["code"], "not_found",
        "{r}"
    );
    let del = "mutation($id: ID!, $v: Int!) { deleteFile(input: { id: $id, version: $v }) { errors { code } } }";
    let dv = json!({ "id": photo["id"], "v": photo["version"] });
    let r = app.gql_as(Some(&advisor_a), del, dv.clone()).await;
    assert_eq!(
        r["data"]["deleteFile"]["errors"][0]["code"], "not_found",
        "{r}"
    );
    // The advisor at B may.
    let r = app.gql_as(Some(&advisor_b), del, dv).await;
    assert_eq!(r["data"]["deleteFile"]["errors"], json!([]), "{r}");
    assert_eq!(
        seen(app.gql_as(Some(&advisor_b), q, v).await),
        Value::Null,
        "deleted"
    );
}

#[tokio::test]
async fn deleting_a_customer_takes_their_files_and_restoring_brings_them_back() {
    let app = TestApp::spawn().await;
    let customer = a_customer(&app).await;
    let kept = uploaded(&app, &customer, "id-card.png").await;
    let removed_before = uploaded(&app, &customer, "old.png").await;
    let del = "mutation($id: ID!, $v: Int!) { deleteFile(input: { id: $id, version: $v }) { errors { code } } }";
    app.ok(
        del,
        json!({ "id": removed_before["id"], "v": removed_before["version"] }),
    )
    .await;
    let files = "query($id: ID!) { node(id: $id) { ... on Customer { version files { totalCount nodes { id } } } } }";
    let c = app.ok(files, json!({ "id": customer })).await;
    assert_eq!(c["node"]["files"]["totalCount"], 1);
    let d = app
        .ok(
            "mutation($id: ID!, $v: Int!) { deleteCustomer(input: { id: $id, version: $v }) { customer { version } errors { code } } }",
            json!({ "id": customer, "v": c["node"]["version"] }),
        )
        .await;
    assert_eq!(d["deleteCustomer"]["errors"], json!([]), "{d}");
    let gone = app
        .ok(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": kept["id"] }),
        )
        .await;
    assert_eq!(gone["node"], Value::Null, "the file went with its customer");
    let r = app
        .ok(
            "mutation($id: ID!, $v: Int!) { restoreCustomer(input: { id: $id, version: $v }) { errors { code } } }",
            json!({ "id": customer, "v": d["deleteCustomer"]["customer"]["version"] }),
        )
        .await;
    assert_eq!(r["restoreCustomer"]["errors"], json!([]), "{r}");
    let c = app.ok(files, json!({ "id": customer })).await;
    assert_eq!(
        c["node"]["files"]["nodes"],
        json!([{ "id": kept["id"] }]),
        "only the file deleted with it"
    );
}

#[tokio::test]
async fn abandoned_uploads_and_files_deleted_past_their_retention_are_swept_from_the_store() {
    let app = TestApp::spawn_with(&[
        ("AUTOSHOP_FILE_SWEEP_SECS", "1"),
        ("AUTOSHOP_UPLOAD_PENDING_TTL_SECS", "1"),
    ])
    .await;
    let customer = a_customer(&app).await;
    let set = app
        .ok(
            "mutation { updateSetting(input: { key: \"file_retention_days\", value: \"0\", version: 0 }) { errors { code } } }",
            json!({}),
        )
        .await;
    assert_eq!(set["updateSetting"]["errors"], json!([]), "{set}");
    // Uploaded but never confirmed.
    let r = request(&app, None, &customer, "left.png", "image/png", 300).await;
    let r = &r["data"]["requestUpload"];
    let abandoned = object_key(&app, &r["file"]).await;
    assert_eq!(put(&app, &r["upload"], png(300), |_, _| {}).await, 200);
    // Confirmed, then deleted.
    let file = uploaded(&app, &customer, "gone.png").await;
    let deleted = object_key(&app, &file).await;
    app.ok(
        "mutation($id: ID!, $v: Int!) { deleteFile(input: { id: $id, version: $v }) { errors { code } } }",
        json!({ "id": file["id"], "v": file["version"] }),
    )
    .await;
    // A file in use stays.
    let kept = uploaded(&app, &customer, "kept.png").await;
    let kept_key = object_key(&app, &kept).await;

    let mut swept = false;
    for _ in 0..40 {
        if app.count("files").await == 1 {
            swept = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
    assert!(swept, "the sweep removed both rows");
    for key in [&abandoned, &deleted] {
        assert_eq!(
            app.store.stat(key).await.expect("stat"),
            None,
            "{}",
            key.as_str()
        );
    }
    assert!(app.store.stat(&kept_key).await.expect("stat").is_some());
    assert!(within_a_moment(async || app.count("files").await == 1).await);
}

#[tokio::test]
async fn files_of_a_page_of_customers_cost_one_statement_however_many_there_are() {
    let app = TestApp::spawn().await;
    let q = "{ customers(first: 50) { nodes { id files(first: 5) { totalCount nodes { id originalName } } } } }";
    let mut costs = Vec::new();
    for n in [2, 6] {
        while app.count("customers").await < n {
            let c = a_customer(&app).await;
            uploaded(&app, &c, "p.png").await;
        }
        let before = app.statements();
        let d = app.ok(q, json!({})).await;
        costs.push(app.statements() - before);
        let with_files = d["customers"]["nodes"]
            .as_array()
            .expect("nodes")
            .iter()
            .filter(|c| c["files"]["totalCount"] == 1)
            .count();
        assert_eq!(with_files as i64, n);
    }
    assert_eq!(
        costs[0], costs[1],
        "statements for 2 and 6 customers: {costs:?}"
    );
}

#[tokio::test]
async fn a_store_that_cannot_be_used_stops_the_start_and_says_why() {
    let db = TestDb::new().await;
    let unreachable = settings_with(
        &db.url,
        &[
            ("AUTOSHOP_S3_ENDPOINT", "http://127.0.0.1:1"),
            ("AUTOSHOP_S3_ACCESS_KEY_ID", "k"),
            ("AUTOSHOP_S3_SECRET_ACCESS_KEY", "s"),
        ],
    );
    let err = autoshop::App::build(unreachable)
        .await
        .err()
        .expect("refused");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("http://127.0.0.1:1") && msg.contains("could not be reached"),
        "{msg}"
    );

    // Something that answers HTTP, but has no such bucket.
    let app = TestApp::spawn().await;
    let endpoint = format!("http://{}", app.addr);
    let missing = settings_with(
        &db.url,
        &[
            ("AUTOSHOP_S3_ENDPOINT", endpoint.as_str()),
            ("AUTOSHOP_S3_BUCKET", "no-such-bucket"),
            ("AUTOSHOP_S3_ACCESS_KEY_ID", "k"),
            ("AUTOSHOP_S3_SECRET_ACCESS_KEY", "s"),
        ],
    );
    let err = autoshop::App::build(missing).await.err().expect("refused");
    let msg = format!("{err:#}");
    assert!(msg.contains("`no-such-bucket`"), "{msg}");
}

#[tokio::test]
async fn the_built_in_store_lets_the_spas_origin_upload_and_no_other() {
    if std::env::var("TEST_S3_ENDPOINT").is_ok() {
        // An external store's CORS is its own configuration (README: the bucket's CORS rule).
        return;
    }
    let app = TestApp::spawn_with(&[("AUTOSHOP_CORS_ORIGINS", "https://shop.example")]).await;
    let customer = a_customer(&app).await;
    let r = request(&app, None, &customer, "a.png", "image/png", 10).await;
    let url = r["data"]["requestUpload"]["upload"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, &url)
            .header("origin", origin)
            .header("access-control-request-method", "PUT")
            .header(
                "access-control-request-headers",
                "content-type,content-disposition",
            )
            .send()
    };
    let ok = preflight("https://shop.example").await.expect("preflight");
    assert_eq!(
        ok.headers()
            .get("access-control-allow-origin")
            .map(|v| v.as_bytes()),
        Some(&b"https://shop.example"[..])
    );
    let other = preflight("https://evil.example").await.expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
