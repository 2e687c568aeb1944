//! Vehicles through the API: VIN and plate rules, unique VINs, odometer rules, ownership moves.

use serde_json::{Value, json};

use crate::customers::create_customer;
use crate::helpers::TestApp;

const CREATE: &str = r#"
mutation($input: CreateVehicleInput!) {
  createVehicle(input: $input) {
    vehicle { id vin plateNumber odometerKm version customer { id } }
    errors { field code message }
  }
}"#;

const UPDATE: &str = r#"
mutation($input: UpdateVehicleInput!) {
  updateVehicle(input: $input) {
    vehicle { id odometerKm version customer { id name } }
    errors { field code }
  }
}"#;

async fn create(app: &TestApp, input: Value) -> Value {
    app.ok(CREATE, json!({ "input": input })).await["createVehicle"].clone()
}

#[tokio::test]
async fn a_vehicle_is_registered_with_its_vin_upper_cased_and_plate_normalised() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let p = create(&app, json!({ "customerId": c["id"], "vin": "1m8gdm9axkp042788", "plateNumber": "ab-123 c", "odometerKm": 1000 })).await;
    assert_eq!(p["errors"], json!([]));
    assert_eq!(p["vehicle"]["vin"], "1M8GDM9AXKP042788");
    assert_eq!(p["vehicle"]["plateNumber"], "AB123C");
    assert_eq!(p["vehicle"]["customer"]["id"], c["id"]);
    let card = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on Customer { vehicles { vin } } } }",
            json!({ "id": c["id"] }),
        )
        .await;
    assert_eq!(
        card["node"]["vehicles"],
        json!([{ "vin": "1M8GDM9AXKP042788" }])
    );
}

#[tokio::test]
async fn a_vin_with_a_wrong_check_digit_is_refused_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let p = create(
        &app,
        json!({ "customerId": c["id"], "vin": "1M8GDM9A1KP042788" }),
    )
    .await;
    assert_eq!(p["vehicle"], Value::Null);
    assert_eq!(p["errors"][0]["code"], "invalid_vin");
    assert_eq!(p["errors"][0]["field"], json!(["input", "vin"]));
    assert_eq!(app.count("vehicles").await, 0);
}

#[tokio::test]
async fn a_second_live_vehicle_with_the_same_vin_is_refused_by_the_unique_index() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let first = create(
        &app,
        json!({ "customerId": c["id"], "vin": "WVWZZZ1JZXW000001" }),
    )
    .await;
    let dup = create(
        &app,
        json!({ "customerId": c["id"], "vin": "wvwzzz1jzxw000001" }),
    )
    .await;
    assert_eq!(dup["errors"][0]["code"], "vin_taken");
    assert_eq!(dup["errors"][0]["field"], json!(["input", "vin"]));
    assert_eq!(app.count("vehicles").await, 1);
    // Once the first is deleted, the VIN is free again: the index ignores soft-deleted rows.
    app.ok(
        "mutation($i: RecordVersionInput!) { deleteVehicle(input: $i) { errors { code } } }",
        json!({ "i": { "id": first["vehicle"]["id"], "version": 1 } }),
    )
    .await;
    let again = create(
        &app,
        json!({ "customerId": c["id"], "vin": "WVWZZZ1JZXW000001" }),
    )
    .await;
    assert_eq!(again["errors"], json!([]));
}

#[tokio::test]
async fn the_odometer_never_goes_back_without_an_explicit_correction() {
    let app = TestApp::spawn().await;
    let c = create_customer(&app, "Ann").await;
    let v = create(&app, json!({ "customerId": c["id"], "odometerKm": 50000 })).await["vehicle"]
        .clone();
    let back = app
        .ok(
            UPDATE,
            json!({ "input": { "id": v["id"], "version": 1, "odometerKm": 40000 } }),
        )
        .await;
    assert_eq!(
        back["updateVehicle"]["errors"][0]["code"],
        "odometer_decreased"
    );
    let fixed = app.ok(UPDATE, json!({ "input": { "id": v["id"], "version": 1, "odometerKm": 40000, "odometerCorrection": true } })).await;
    assert_eq!(fixed["updateVehicle"]["vehicle"]["odometerKm"], 40000);
    assert_eq!(app.count("odometer_readings").await, 2);
}

#[tokio::test]
async fn moving_a_vehicle_to_another_customer_keeps_the_ownership_history() {
    let app = TestApp::spawn().await;
    let ann = create_customer(&app, "Ann").await;
    let ben = create_customer(&app, "Ben").await;
    let v = create(&app, json!({ "customerId": ann["id"] })).await["vehicle"].clone();
    let moved = app
        .ok(
            UPDATE,
            json!({ "input": { "id": v["id"], "version": 1, "customerId": ben["id"] } }),
        )
        .await;
    assert_eq!(moved["updateVehicle"]["vehicle"]["customer"]["name"], "Ben");
    assert_eq!(app.count("vehicle_ownerships").await, 2);
    let ended = app
        .sql_one("SELECT COUNT(*) AS n FROM vehicle_ownerships WHERE ended_at IS NOT NULL")
        .await;
    assert_eq!(ended.try_get::<i64>("", "n").expect("n"), 1);
}

#[tokio::test]
async fn a_vehicle_for_an_unknown_customer_is_refused() {
    let app = TestApp::spawn().await;
    let fake = autoshop::schema::ids::encode("Customer", uuid::Uuid::now_v7());
    let p = create(&app, json!({ "customerId": fake.as_str() })).await;
    assert_eq!(p["errors"][0]["code"], "not_found");
    assert_eq!(p["errors"][0]["field"], json!(["input", "customerId"]));
    let wrong_type = autoshop::schema::ids::encode("Vehicle", uuid::Uuid::now_v7());
    let p = create(&app, json!({ "customerId": wrong_type.as_str() })).await;
    assert_eq!(p["errors"][0]["code"], "invalid_id");
}
