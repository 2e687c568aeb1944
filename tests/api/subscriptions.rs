//! The live board and the caller's live access over GraphQL-over-WebSocket: events reach those who may see the
//! order, nobody else, as the rules stand when the event comes; only subscriptions run there; signing in is
//! required.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::helpers::{TestApp, is_postgres};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a graphql-transport-ws connection and sends `connection_init` with `token`.
async fn connect(app: &TestApp, token: Option<&str>) -> Socket {
    let mut req = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("upgrade");
    let payload = token.map_or(
        json!({}),
        |t| json!({ "authorization": format!("Bearer {t}") }),
    );
    send(
        &mut ws,
        json!({ "type": "connection_init", "payload": payload }),
    )
    .await;
    ws
}

async fn send(ws: &mut Socket, v: Value) {
    ws.send(Message::text(v.to_string())).await.expect("send");
}

/// The next JSON message, or None when the socket is closed or stays silent for `wait`.
async fn next(ws: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(&t).expect("json");
                if v["type"] == "ping" || v["type"] == "ka" {
                    continue;
                }
                return Some(v);
            }
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            _ => return None,
        }
    }
}

/// A contract document, as the SPA sends it.
fn contract(file: &str) -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("frontend-contract")
            .join(file),
    )
    .expect(file)
}

fn board() -> String {
    contract("board-live.graphql")
}

/// A connection signed in with `token`, acknowledged, running `query` with `variables` as subscription "1".
async fn subscribed(app: &TestApp, token: &str, query: &str, variables: Value) -> Socket {
    let mut ws = connect(app, Some(token)).await;
    assert_eq!(
        next(&mut ws, Duration::from_secs(5))
            .await
            .map(|m| m["type"].clone()),
        Some(json!("connection_ack"))
    );
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
    // Let the subscription start before whatever the test changes next.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws
}

/// A new work order's input: a customer with a car, at the shop's first location.
async fn order_input(app: &TestApp, complaint: &str) -> Value {
    let (customer, vehicle, location) = crate::workflow::car(app).await;
    json!({ "input": { "customerId": customer, "vehicleId": vehicle, "locationId": location, "complaint": complaint } })
}

/// A service advisor (everywhere) of a seeded shop, watching the live board; returns their id and socket.
async fn an_advisor_on_the_board(app: &TestApp) -> (Value, Socket) {
    app.seed(4, 0).await;
    let (user, token) = app
        .staff_with_role("adv@shop.test", "service_advisor", None)
        .await;
    (user, subscribed(app, &token, &board(), json!({})).await)
}

const CREATE_ORDER: &str = "mutation($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) { workOrder { id } errors { code } } }";

#[tokio::test]
async fn the_board_hears_of_a_change_at_once_and_another_locations_staff_do_not() {
    let app = TestApp::spawn().await;
    app.seed(6, 0).await;
    let d = app
        .ok("{ customers(first: 20) { edges { node { id homeLocation { id } vehicles { id } } } } locations { edges { node { id } } } }", json!({}))
        .await;
    let c = d["customers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["node"])
        .find(|c| c["vehicles"][0].is_object() && c["homeLocation"].is_object())
        .expect("a customer with a car");
    let here = c["homeLocation"]["id"].clone();
    let elsewhere = d["locations"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["node"]["id"].clone())
        .find(|l| *l != here)
        .expect("another location");
    let (_, other_staff) = app
        .staff_with_role("far@shop.test", "service_advisor", Some(&elsewhere))
        .await;

    let mut owner = subscribed(
        &app,
        &app.owner_token,
        &board(),
        json!({ "locationId": here }),
    )
    .await;
    let mut far = subscribed(&app, &other_staff, &board(), json!({})).await;

    let made = app
        .ok(
            "mutation($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) { workOrder { id number } errors { code } } }",
            json!({ "input": { "customerId": c["id"], "vehicleId": c["vehicles"][0]["id"], "locationId": here, "complaint": "Live" } }),
        )
        .await;
    let wo = made["createWorkOrder"]["workOrder"].clone();
    let event = next(&mut owner, Duration::from_secs(5))
        .await
        .expect("an event");
    assert_eq!(event["type"], "next", "{event}");
    assert_eq!(event["payload"]["data"]["workOrderChanged"]["id"], wo["id"]);
    assert_eq!(
        event["payload"]["data"]["workOrderChanged"]["status"],
        "DRAFT"
    );
    assert_eq!(
        next(&mut far, Duration::from_millis(500)).await,
        None,
        "another location's staff hear nothing"
    );
}

#[tokio::test]
async fn only_signed_in_subscriptions_run_over_the_websocket() {
    let app = TestApp::spawn().await;
    let mut anonymous = connect(&app, None).await;
    let refused = next(&mut anonymous, Duration::from_secs(5)).await;
    assert_ne!(
        refused.map(|m| m["type"].clone()),
        Some(json!("connection_ack")),
        "no ack without credentials"
    );

    let mut ws = connect(&app, Some(&app.owner_token)).await;
    assert_eq!(
        next(&mut ws, Duration::from_secs(5))
            .await
            .map(|m| m["type"].clone()),
        Some(json!("connection_ack"))
    );
    send(&mut ws, json!({ "id": "q", "type": "subscribe", "payload": { "query": "{ customers { totalCount } }" } })).await;
    let answer = next(&mut ws, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(
        answer.to_string().contains("subscriptions_only"),
        "{answer}"
    );
    assert_eq!(
        next(&mut ws, Duration::from_secs(5))
            .await
            .map(|m| m["type"].clone()),
        Some(json!("complete"))
    );
    send(&mut ws, json!({ "id": "m", "type": "subscribe", "payload": { "query": "mutation { createCustomer(input: { name: \"X\" }) { errors { code } } }" } })).await;
    let answer = next(&mut ws, Duration::from_secs(5))
        .await
        .expect("an answer");
    assert!(
        answer.to_string().contains("subscriptions_only"),
        "{answer}"
    );
    assert_eq!(app.count("customers").await, 0, "the mutation did not run");

    // A cross-site page cannot open one with the SPA's cookies.
    let mut req = format!("ws://{}/graphql/ws", app.addr)
        .into_client_request()
        .expect("request");
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().expect("header"));
    req.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    assert!(
        tokio_tungstenite::connect_async(req).await.is_err(),
        "foreign origin refused"
    );
}

#[tokio::test]
async fn a_subscriber_whose_session_ends_hears_nothing_more() {
    let app = TestApp::spawn().await;
    let (user, mut ws) = an_advisor_on_the_board(&app).await;
    app.ok(
        "mutation($input: UserIdInput!) { revokeUserSessions(input: $input) { ok } }",
        json!({ "input": { "id": user } }),
    )
    .await;
    app.ok(CREATE_ORDER, order_input(&app, "After").await).await;
    let msg = next(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(
        msg.map(|m| m["type"].clone()),
        Some(json!("complete")),
        "the stream ends instead of delivering"
    );
}

/// How the connection ends within `wait`: its close code (`Some(None)`: closed without one), or `None` while
/// it stays open. Messages before the end are passed over.
async fn close_code(ws: &mut Socket, wait: Duration) -> Option<Option<u16>> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::time::timeout_at(deadline, ws.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return Some(frame.map(|f| u16::from(f.code))),
            Ok(None | Some(Err(_))) => return Some(None),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// The next access `myAccessChanged` pushes, within five seconds.
async fn pushed_access(ws: &mut Socket) -> Value {
    let event = next(ws, Duration::from_secs(5)).await.expect("an event");
    assert_eq!(event["type"], "next", "{event}");
    event["payload"]["data"]["myAccessChanged"].clone()
}

/// The keys of the permissions an access payload lists.
fn permission_keys(access: &Value) -> Vec<String> {
    access["permissions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| p["permission"].as_str().expect("key").to_owned())
        .collect()
}

#[tokio::test]
async fn a_connection_ends_when_the_owner_changes_what_its_user_may_do_and_only_then() {
    let app = TestApp::spawn().await;
    let (_, token) = app
        .staff_with_role("mech@shop.test", "mechanic", None)
        .await;
    let mut ws = subscribed(&app, &token, &contract("access-live.graphql"), json!({})).await;
    let now = pushed_access(&mut ws).await;
    assert!(
        permission_keys(&now).contains(&"work_order:transition:ready".to_owned()),
        "first what they may do now: {now}"
    );
    const GRANT: &str = "mutation($input: RolePermissionsInput!) { grantPermissions(input: $input) { errors { code } } }";
    const REVOKE: &str = "mutation($input: RolePermissionsInput!) { revokePermissions(input: $input) { errors { code } } }";

    // Another role's change is not theirs to hear.
    let cashier = app.role_id("cashier").await;
    app.ok(
        GRANT,
        json!({ "input": { "roleId": cashier, "permissions": ["vehicle:create"] } }),
    )
    .await;
    assert_eq!(next(&mut ws, Duration::from_millis(500)).await, None);

    let mechanic = app.role_id("mechanic").await;
    app.ok(
        REVOKE,
        json!({ "input": { "roleId": mechanic, "permissions": ["work_order:transition:ready"] } }),
    )
    .await;
    // Everything on the connection was checked against the old access: it ends, and the client connects again.
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(5)).await,
        Some(Some(1012))
    );
    let mut ws = subscribed(&app, &token, &contract("access-live.graphql"), json!({})).await;
    let pushed = pushed_access(&mut ws).await;
    let keys = permission_keys(&pushed);
    assert!(
        !keys.contains(&"work_order:transition:ready".to_owned()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"work_order:transition:in_progress".to_owned()),
        "{keys:?}"
    );
    let asked = app
        .gql_as(
            Some(&token),
            "{ myAccess { roles { role locationId } permissions { permission everywhere locationIds } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        pushed, asked["data"]["myAccess"],
        "what was pushed is what they would read"
    );
}

#[tokio::test]
async fn a_right_taken_away_stops_the_board_events_it_allowed() {
    let app = TestApp::spawn().await;
    let (user, mut ws) = an_advisor_on_the_board(&app).await;
    app.ok(CREATE_ORDER, order_input(&app, "Before").await)
        .await;
    let heard = next(&mut ws, Duration::from_secs(5))
        .await
        .expect("an event");
    assert_eq!(heard["type"], "next", "{heard}");

    let advisor = app.role_id("service_advisor").await;
    let taken = app
        .ok(
            "mutation($input: RoleAssignmentInput!) { unassignRole(input: $input) { errors { code } } }",
            json!({ "input": { "userId": user, "roleId": advisor } }),
        )
        .await;
    assert_eq!(taken["unassignRole"]["errors"], json!([]), "{taken}");
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(5)).await,
        Some(Some(1012)),
        "the board's connection ends: nothing more reaches it under the access it had"
    );
}

#[tokio::test]
async fn a_connection_on_one_replica_ends_on_a_change_made_through_another() {
    if !is_postgres() {
        // The embedded backend is one process; replicas share PostgreSQL and Redis.
        return;
    }
    let app = TestApp::spawn().await;
    let other = app.spawn_beside().await;
    let (_, token) = app
        .staff_with_role("mech@shop.test", "mechanic", None)
        .await;
    let mut ws = subscribed(&other, &token, &contract("access-live.graphql"), json!({})).await;
    assert!(!permission_keys(&pushed_access(&mut ws).await).contains(&"vehicle:create".to_owned()));
    let mechanic = app.role_id("mechanic").await;
    app.ok(
        "mutation($input: RolePermissionsInput!) { grantPermissions(input: $input) { errors { code } } }",
        json!({ "input": { "roleId": mechanic, "permissions": ["vehicle:create"] } }),
    )
    .await;
    assert_eq!(
        close_code(&mut ws, Duration::from_secs(5)).await,
        Some(Some(1012))
    );
    let mut ws = subscribed(&other, &token, &contract("access-live.graphql"), json!({})).await;
    let keys = permission_keys(&pushed_access(&mut ws).await);
    assert!(keys.contains(&"vehicle:create".to_owned()), "{keys:?}");
}
