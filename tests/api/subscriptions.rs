//! The live board over GraphQL-over-WebSocket: events reach those who may see the order, nobody else; only
//! subscriptions run there; signing in is required.

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::helpers::TestApp;

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

/// The contract's live board, as the SPA sends it.
fn board() -> String {
    std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("frontend-contract/board-live.graphql"),
    )
    .expect("board-live.graphql")
}

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

    let mut owner = connect(&app, Some(&app.owner_token)).await;
    assert_eq!(
        next(&mut owner, Duration::from_secs(5))
            .await
            .map(|m| m["type"].clone()),
        Some(json!("connection_ack"))
    );
    send(&mut owner, json!({ "id": "1", "type": "subscribe", "payload": { "query": board(), "variables": { "locationId": here } } })).await;
    let mut far = connect(&app, Some(&other_staff)).await;
    assert_eq!(
        next(&mut far, Duration::from_secs(5))
            .await
            .map(|m| m["type"].clone()),
        Some(json!("connection_ack"))
    );
    send(
        &mut far,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": board() } }),
    )
    .await;
    // Let both subscriptions start before the change.
    tokio::time::sleep(Duration::from_millis(200)).await;

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
    app.seed(4, 0).await;
    let (user, token) = app
        .staff_with_role("adv@shop.test", "service_advisor", None)
        .await;
    let mut ws = connect(&app, Some(&token)).await;
    assert_eq!(
        next(&mut ws, Duration::from_secs(5))
            .await
            .map(|m| m["type"].clone()),
        Some(json!("connection_ack"))
    );
    send(
        &mut ws,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": board() } }),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    app.ok(
        "mutation($input: UserIdInput!) { revokeUserSessions(input: $input) { ok } }",
        json!({ "input": { "id": user } }),
    )
    .await;
    let d = app
        .ok("{ customers(first: 20) { edges { node { id vehicles { id } } } } locations { edges { node { id } } } }", json!({}))
        .await;
    let c = d["customers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["node"])
        .find(|c| c["vehicles"][0].is_object())
        .expect("a customer with a car");
    app.ok(
        "mutation($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) { errors { code } } }",
        json!({ "input": { "customerId": c["id"], "vehicleId": c["vehicles"][0]["id"], "locationId": d["locations"]["edges"][0]["node"]["id"], "complaint": "After" } }),
    )
    .await;
    let msg = next(&mut ws, Duration::from_secs(5)).await;
    assert_eq!(
        msg.map(|m| m["type"].clone()),
        Some(json!("complete")),
        "the stream ends instead of delivering"
    );
}
