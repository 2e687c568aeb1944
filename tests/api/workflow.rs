//! The shop's day through the contract: a car taken in, estimated, approved, repaired, invoiced and paid, with
//! exact money on both backends, workflow rules, row versions, gapless numbers, idempotent payments, settings
//! and directories that hold at once, and one audit entry per mutation.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::helpers::{TestApp, error_code};

/// Runs the named operation of frontend-contract/ as the SPA would.
pub(crate) async fn op(app: &TestApp, token: &str, name: &str, vars: Value) -> Value {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend-contract");
    let text = std::fs::read_dir(dir)
        .expect("contract")
        .filter_map(Result::ok)
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .find(|t| t.contains(&format!("mutation {name}(")) || t.contains(&format!("query {name}(")))
        .unwrap_or_else(|| panic!("no contract operation {name}"));
    app.post_as(
        Some(token),
        &json!({ "query": text, "operationName": name, "variables": vars }),
    )
    .await
    .json()
    .await
    .expect("json")
}

/// The payload of a mutation that must succeed.
fn done<'a>(body: &'a Value, field: &str) -> &'a Value {
    assert!(body.get("errors").is_none(), "{field}: {body:#}");
    assert_eq!(
        body["data"][field]["errors"],
        json!([]),
        "{field}: {body:#}"
    );
    &body["data"][field]
}

/// A customer with a vehicle, at the shop's first location.
pub async fn car(app: &TestApp) -> (Value, Value, Value) {
    let d = app
        .ok(
            "{ customers(first: 20) { edges { node { id vehicles { id } } } } locations { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let c = d["customers"]["edges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["node"])
        .find(|c| c["vehicles"][0].is_object())
        .expect("a customer with a car");
    (
        c["id"].clone(),
        c["vehicles"][0]["id"].clone(),
        d["locations"]["edges"][0]["node"]["id"].clone(),
    )
}

async fn new_order(app: &TestApp, token: &str) -> Value {
    let (customer, vehicle, location) = car(app).await;
    let body = op(
        app,
        token,
        "CreateWorkOrder",
        json!({ "input": { "customerId": customer, "vehicleId": vehicle, "locationId": location, "complaint": "Noise" } }),
    )
    .await;
    done(&body, "createWorkOrder")["workOrder"].clone()
}

const TRANSITION: &str = "TransitionWorkOrder";

async fn move_to(app: &TestApp, token: &str, wo: &Value, to: &str) -> Value {
    let mut input = json!({ "id": wo["id"], "version": wo["version"], "to": to });
    if to == "APPROVED" {
        input["approval"] = json!({ "approvedBy": "Dana Customer", "method": "PHONE" });
    }
    op(app, token, TRANSITION, json!({ "input": input })).await
}

async fn audit_count(app: &TestApp) -> i64 {
    app.audit_entries().await
}

#[tokio::test]
async fn an_advisor_takes_a_car_in_and_the_cashier_is_paid_with_every_step_audited() {
    let app = TestApp::spawn().await;
    app.seed(5, 5).await;
    let (_, advisor) = app
        .staff_with_role("advisor@shop.test", "service_advisor", None)
        .await;
    let (mech_id, mechanic) = app
        .staff_with_role("mech@shop.test", "mechanic", None)
        .await;
    let (_, cashier) = app.staff_with_role("cash@shop.test", "cashier", None).await;
    let before = audit_count(&app).await;
    let mut mutations = 0;

    let mut wo = new_order(&app, &advisor).await;
    mutations += 1;
    assert_eq!(wo["status"], "DRAFT");
    for (kind, desc, qty, price) in [
        ("LABOUR", "Replace pads", "1.5", "120.00"),
        ("PART", "Brake pads", "2", "45.99"),
        ("DISCOUNT", "Loyalty", "1", "10.00"),
    ] {
        let body = op(
            &app,
            &advisor,
            "AddWorkOrderLine",
            json!({ "input": { "workOrderId": wo["id"], "version": wo["version"], "kind": kind, "description": desc, "quantity": qty, "unitPrice": price, "taxRate": "10" } }),
        )
        .await;
        wo = done(&body, "addWorkOrderLine")["workOrder"].clone();
        mutations += 1;
    }
    // 1.5 × 120.00 = 180.00; 2 × 45.99 = 91.98; -10.00; tax 10 % of each: 18.00 + 9.20 - 1.00.
    assert_eq!(
        (
            wo["subtotal"].as_str(),
            wo["discount"].as_str(),
            wo["tax"].as_str(),
            wo["total"].as_str()
        ),
        (Some("271.98"), Some("10.00"), Some("26.20"), Some("288.18"))
    );
    let body = op(&app, &advisor, "AssignMechanic", json!({ "input": { "workOrderId": wo["id"], "version": wo["version"], "userId": mech_id } })).await;
    wo = done(&body, "assignMechanic")["workOrder"].clone();
    mutations += 1;
    for to in ["ESTIMATE", "AWAITING_APPROVAL", "APPROVED"] {
        wo = done(
            &move_to(&app, &advisor, &wo, to).await,
            "transitionWorkOrder",
        )["workOrder"]
            .clone();
        mutations += 1;
    }
    // The mechanic starts and finishes the job on their own order; they cannot close it.
    for to in ["IN_PROGRESS", "READY"] {
        let body = move_to(&app, &mechanic, &wo, to).await;
        // Prices in the answer are hidden from mechanics: null, with `forbidden` on their paths only.
        assert!(
            body["errors"]
                .as_array()
                .into_iter()
                .flatten()
                .all(|e| e["extensions"]["code"] == "forbidden"),
            "{body}"
        );
        assert_eq!(
            body["data"]["transitionWorkOrder"]["errors"],
            json!([]),
            "{body}"
        );
        wo = body["data"]["transitionWorkOrder"]["workOrder"].clone();
        assert!(wo["total"].is_null());
        mutations += 1;
    }
    assert_eq!(
        error_code(&move_to(&app, &mechanic, &wo, "CLOSED").await),
        "forbidden"
    );
    wo = done(
        &move_to(&app, &cashier, &wo, "CLOSED").await,
        "transitionWorkOrder",
    )["workOrder"]
        .clone();
    mutations += 1;
    assert_eq!(wo["status"], "CLOSED");

    let body = op(
        &app,
        &cashier,
        "IssueInvoice",
        json!({ "input": { "workOrderId": wo["id"] } }),
    )
    .await;
    let invoice = done(&body, "issueInvoice")["invoice"].clone();
    mutations += 1;
    assert_eq!(
        (
            invoice["total"].as_str(),
            invoice["balance"].as_str(),
            invoice["status"].as_str()
        ),
        (Some("288.18"), Some("288.18"), Some("ISSUED"))
    );
    let pay = |amount: &str, key: &str| json!({ "input": { "invoiceId": invoice["id"], "amount": amount, "method": "card", "idempotencyKey": key } });
    let first = op(
        &app,
        &cashier,
        "RecordPayment",
        pay("100.00", "scenario-pay-1"),
    )
    .await;
    let first = done(&first, "recordPayment")["payment"].clone();
    assert_eq!(first["invoice"]["status"], "PARTIALLY_PAID");
    let second = op(
        &app,
        &cashier,
        "RecordPayment",
        pay("188.18", "scenario-pay-2"),
    )
    .await;
    assert_eq!(
        done(&second, "recordPayment")["payment"]["invoice"]["status"],
        "PAID"
    );
    let refund = op(&app, &cashier, "RefundPayment", json!({ "input": { "paymentId": first["id"], "amount": "40.00", "idempotencyKey": "scenario-refund-1" } })).await;
    let refund = done(&refund, "refundPayment")["payment"].clone();
    mutations += 3;
    assert_eq!(refund["amount"], "-40.00");
    assert_eq!(
        (
            refund["invoice"]["paid"].as_str(),
            refund["invoice"]["balance"].as_str(),
            refund["invoice"]["status"].as_str()
        ),
        (Some("248.18"), Some("40.00"), Some("PARTIALLY_PAID"))
    );

    let page = op(
        &app,
        &cashier,
        "InvoicePage",
        json!({ "id": invoice["id"] }),
    )
    .await;
    assert!(page.get("errors").is_none(), "{page}");
    assert_eq!(
        page["data"]["node"]["lines"].as_array().map(Vec::len),
        Some(3),
        "lines frozen on the invoice"
    );
    assert_eq!(
        page["data"]["node"]["payments"].as_array().map(Vec::len),
        Some(3)
    );
    assert_eq!(
        audit_count(&app).await - before,
        mutations,
        "one audit entry per mutation"
    );
    let history = app
        .ok("query($id: ID!) { node(id: $id) { ... on WorkOrder { statusHistory { toStatus } history(limit: 50) { action } } } }", json!({ "id": wo["id"] }))
        .await;
    let statuses: Vec<&str> = history["node"]["statusHistory"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|h| h["toStatus"].as_str())
        .collect();
    assert_eq!(
        statuses,
        [
            "DRAFT",
            "ESTIMATE",
            "AWAITING_APPROVAL",
            "APPROVED",
            "IN_PROGRESS",
            "READY",
            "CLOSED"
        ]
    );
    assert!(
        history["node"]["history"]
            .as_array()
            .is_some_and(|h| h.len() >= 10)
    );
}

#[tokio::test]
async fn every_transition_outside_the_workflow_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.seed(3, 3).await;
    let token = app.owner_token.clone();
    let path = [
        "DRAFT",
        "ESTIMATE",
        "AWAITING_APPROVAL",
        "APPROVED",
        "IN_PROGRESS",
        "READY",
        "CLOSED",
    ];
    let all = [
        "DRAFT",
        "ESTIMATE",
        "AWAITING_APPROVAL",
        "APPROVED",
        "IN_PROGRESS",
        "READY",
        "CLOSED",
        "CANCELLED",
    ];
    let legal: HashSet<(&str, &str)> = path
        .windows(2)
        .map(|w| (w[0], w[1]))
        .chain(path[..6].iter().map(|s| (*s, "CANCELLED")))
        .collect();
    for (i, from) in all.iter().enumerate() {
        let mut wo = new_order(&app, &token).await;
        if *from == "CANCELLED" {
            wo = done(
                &move_to(&app, &token, &wo, "CANCELLED").await,
                "transitionWorkOrder",
            )["workOrder"]
                .clone();
        } else {
            for to in &path[1..=i] {
                wo =
                    done(&move_to(&app, &token, &wo, to).await, "transitionWorkOrder")["workOrder"]
                        .clone();
            }
        }
        assert_eq!(wo["status"], *from);
        for to in all {
            if legal.contains(&(*from, to)) {
                continue;
            }
            let body = move_to(&app, &token, &wo, to).await;
            let code = body["data"]["transitionWorkOrder"]["errors"][0]["code"]
                .as_str()
                .unwrap_or_else(|| error_code(&body));
            assert_eq!(code, "illegal_transition", "{from} → {to}: {body}");
        }
        let after = app
            .ok(
                "query($id: ID!) { node(id: $id) { ... on WorkOrder { status version } } }",
                json!({ "id": wo["id"] }),
            )
            .await;
        assert_eq!(
            (&after["node"]["status"], &after["node"]["version"]),
            (&wo["status"], &wo["version"]),
            "nothing changed"
        );
    }
    let wo = new_order(&app, &token).await;
    let mut input = json!({ "id": wo["id"], "version": wo["version"], "to": "ESTIMATE" });
    approving_needs_who_and_how(&app, &token, &mut input).await;
}

/// Approving without saying who and how is refused.
async fn approving_needs_who_and_how(app: &TestApp, token: &str, input: &mut Value) {
    let mut wo = done(
        &op(app, token, TRANSITION, json!({ "input": input })).await,
        "transitionWorkOrder",
    )["workOrder"]
        .clone();
    wo = done(
        &move_to(app, token, &wo, "AWAITING_APPROVAL").await,
        "transitionWorkOrder",
    )["workOrder"]
        .clone();
    let bare = op(
        app,
        token,
        TRANSITION,
        json!({ "input": { "id": wo["id"], "version": wo["version"], "to": "APPROVED" } }),
    )
    .await;
    assert_eq!(
        bare["data"]["transitionWorkOrder"]["errors"][0]["code"],
        "approval_required"
    );
}

#[tokio::test]
async fn two_edits_with_one_version_let_exactly_one_win() {
    let app = TestApp::spawn().await;
    app.seed(3, 3).await;
    let wo = new_order(&app, &app.owner_token).await;
    let q = "mutation($input: UpdateWorkOrderInput!) { updateWorkOrder(input: $input) { workOrder { version } errors { code } } }";
    let edit = |notes: &'static str| {
        app.gql(
            q,
            json!({ "input": { "id": wo["id"], "version": wo["version"], "notes": notes } }),
        )
    };
    let (a, b) = tokio::join!(edit("first"), edit("second"));
    let codes: Vec<Value> = [a, b]
        .iter()
        .map(|r| r["data"]["updateWorkOrder"]["errors"][0]["code"].clone())
        .collect();
    assert_eq!(codes.iter().filter(|c| c.is_null()).count(), 1, "{codes:?}");
    assert!(codes.contains(&json!("conflict")));
}

#[tokio::test]
async fn work_orders_created_at_once_get_unique_numbers_without_gaps() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let (customer, vehicle, location) = car(&app).await;
    let q = "mutation($input: CreateWorkOrderInput!) { createWorkOrder(input: $input) { workOrder { number } errors { code } } }";
    let make = || {
        app.gql(q, json!({ "input": { "customerId": customer, "vehicleId": vehicle, "locationId": location, "complaint": "Check" } }))
    };
    let results = futures_util::future::join_all((0..12).map(|_| make())).await;
    let mut seqs: Vec<u64> = results
        .iter()
        .map(|r| {
            let n = r["data"]["createWorkOrder"]["workOrder"]["number"]
                .as_str()
                .unwrap_or_else(|| panic!("{r}"));
            n.trim_start_matches("WO-").parse().expect("number")
        })
        .collect();
    seqs.sort_unstable();
    let first = seqs[0];
    assert_eq!(
        seqs,
        (first..first + 12).collect::<Vec<_>>(),
        "unique and consecutive"
    );
}

/// A ready order's invoice, issued by the owner.
pub(crate) async fn invoice(app: &TestApp) -> Value {
    let (customer, vehicle, location) = car(app).await;
    let key = |v: &Value| {
        let id = async_graphql::ID(v.as_str().expect("id").to_owned());
        autoshop::schema::ids::decode(&id, "id").expect("id").1
    };
    let ready =
        crate::helpers::ready_work_order(app, key(&customer), key(&vehicle), key(&location)).await;
    let id = autoshop::schema::ids::encode("WorkOrder", ready).0;
    let body = op(
        app,
        &app.owner_token,
        "IssueInvoice",
        json!({ "input": { "workOrderId": id } }),
    )
    .await;
    done(&body, "issueInvoice")["invoice"].clone()
}

#[tokio::test]
async fn one_idempotency_key_records_one_payment_however_many_times_it_is_sent() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let inv = invoice(&app).await;
    let body = json!({ "input": { "invoiceId": inv["id"], "amount": "5.00", "method": "cash", "idempotencyKey": "same-key-0001" } });
    let results = futures_util::future::join_all(
        (0..20).map(|_| op(&app, &app.owner_token, "RecordPayment", body.clone())),
    )
    .await;
    let ids: HashSet<String> = results
        .iter()
        .map(|r| {
            done(r, "recordPayment")["payment"]["id"]
                .as_str()
                .expect("id")
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1, "every retry answers with the first payment");
    let page = op(
        &app,
        &app.owner_token,
        "InvoicePage",
        json!({ "id": inv["id"] }),
    )
    .await;
    assert_eq!(page["data"]["node"]["paid"], "5.00");
    assert_eq!(
        page["data"]["node"]["payments"].as_array().map(Vec::len),
        Some(1)
    );
    let other = json!({ "input": { "invoiceId": inv["id"], "amount": "6.00", "method": "cash", "idempotencyKey": "same-key-0001" } });
    let reused = op(&app, &app.owner_token, "RecordPayment", other).await;
    assert_eq!(
        reused["data"]["recordPayment"]["errors"][0]["code"],
        "idempotency_key_reused"
    );
}

#[tokio::test]
async fn money_stays_exact_and_consistent_under_random_lines_payments_and_refunds() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let token = app.owner_token.clone();
    let mut rng = fastrand::Rng::with_seed(7);
    for case in 0..6 {
        let mut wo = new_order(&app, &token).await;
        let (mut net_sum, mut disc_sum, mut tax_sum) = (0i128, 0i128, 0i128);
        for _ in 0..rng.usize(1..6) {
            let discount = rng.u8(0..5) == 0 && net_sum > 100_000;
            let qty_milli = rng.i64(1..5000);
            let price = rng.i64(0..50_000);
            let rate_bp = rng.i64(0..2500);
            // Independent arithmetic: round half away from zero, in i128.
            let round = |n: i128, d: i128| {
                let q = n / d;
                let r = n % d;
                if r.abs() * 2 >= d { q + n.signum() } else { q }
            };
            let gross = round(i128::from(qty_milli) * i128::from(price), 1000);
            let net = if discount {
                -gross.min(net_sum - disc_sum)
            } else {
                gross
            };
            let price = if discount {
                (-net * 1000 / i128::from(qty_milli)).max(0) as i64
            } else {
                price
            };
            let net = if discount {
                -round(i128::from(qty_milli) * i128::from(price), 1000)
            } else {
                net
            };
            let body = op(
                &app,
                &token,
                "AddWorkOrderLine",
                json!({ "input": { "workOrderId": wo["id"], "version": wo["version"], "kind": if discount { "DISCOUNT" } else { "PART" },
                    "description": "x", "quantity": format!("{}.{:03}", qty_milli / 1000, qty_milli % 1000),
                    "unitPrice": format!("{}.{:02}", price / 100, price % 100), "taxRate": format!("{}.{:02}", rate_bp / 100, rate_bp % 100) } }),
            )
            .await;
            let Some(next) = body["data"]["addWorkOrderLine"]["workOrder"].as_object() else {
                assert_eq!(
                    body["data"]["addWorkOrderLine"]["errors"][0]["code"], "negative_total",
                    "{body}"
                );
                continue;
            };
            wo = Value::Object(next.clone());
            if net < 0 {
                disc_sum -= net
            } else {
                net_sum += net
            }
            tax_sum += round(net * i128::from(rate_bp), 10_000);
        }
        let money = |m: i128| {
            format!(
                "{}{}.{:02}",
                if m < 0 { "-" } else { "" },
                m.abs() / 100,
                m.abs() % 100
            )
        };
        assert_eq!(wo["subtotal"], money(net_sum), "case {case}");
        assert_eq!(wo["discount"], money(disc_sum));
        assert_eq!(wo["tax"], money(tax_sum));
        assert_eq!(wo["total"], money(net_sum - disc_sum + tax_sum));
    }

    // Payments and refunds on one invoice: paid + balance = total, never negative, refunds never above paid.
    let inv = invoice(&app).await;
    let total = parse_money(&inv["total"]);
    let mut paid = 0i64;
    let mut payments: Vec<(String, i64)> = Vec::new();
    for step in 0..30 {
        let refund = rng.bool() && !payments.is_empty();
        if refund {
            let (id, left) = payments[rng.usize(0..payments.len())].clone();
            let amount = rng.i64(1..=left.max(1) + 200);
            let body = op(&app, &app.owner_token, "RefundPayment", json!({ "input": { "paymentId": id, "amount": fmt(amount), "idempotencyKey": format!("prop-refund-{step}") } })).await;
            if amount <= left {
                done(&body, "refundPayment");
                paid -= amount;
                for p in payments.iter_mut().filter(|p| p.0 == id) {
                    p.1 -= amount;
                }
            } else {
                assert_eq!(
                    body["data"]["refundPayment"]["errors"][0]["code"],
                    "refund_exceeds_payment"
                );
            }
        } else {
            let amount = rng.i64(1..=(total - paid).max(1) + 300);
            let body = op(&app, &app.owner_token, "RecordPayment", json!({ "input": { "invoiceId": inv["id"], "amount": fmt(amount), "method": "cash", "idempotencyKey": format!("prop-pay-{step}") } })).await;
            if paid + amount <= total {
                let p = done(&body, "recordPayment")["payment"]["id"]
                    .as_str()
                    .expect("id")
                    .to_owned();
                paid += amount;
                payments.push((p, amount));
            } else {
                assert_eq!(
                    body["data"]["recordPayment"]["errors"][0]["code"],
                    "overpayment"
                );
            }
        }
        let page = op(
            &app,
            &app.owner_token,
            "InvoicePage",
            json!({ "id": inv["id"] }),
        )
        .await;
        let n = &page["data"]["node"];
        let (p, b) = (parse_money(&n["paid"]), parse_money(&n["balance"]));
        assert_eq!((p, p + b), (paid, total), "step {step}");
        assert!(b >= 0 && p >= 0);
        let ledger: i64 = n["payments"]
            .as_array()
            .expect("payments")
            .iter()
            .map(|x| parse_money(&x["amount"]))
            .sum();
        assert_eq!(ledger, paid, "the ledger sums to what is paid");
    }
}

fn parse_money(v: &Value) -> i64 {
    let s = v.as_str().unwrap_or_else(|| panic!("money: {v}"));
    let neg = s.starts_with('-');
    let (u, c) = s
        .trim_start_matches('-')
        .split_once('.')
        .expect("two decimals");
    let m = u.parse::<i64>().expect("units") * 100 + c.parse::<i64>().expect("cents");
    if neg { -m } else { m }
}

fn fmt(minor: i64) -> String {
    format!("{}.{:02}", minor / 100, minor % 100)
}

#[tokio::test]
async fn an_invoice_is_voided_only_when_nothing_is_paid_and_reissued_with_a_new_number() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let inv = invoice(&app).await;
    let void = "mutation($input: VoidInvoiceInput!) { voidInvoice(input: $input) { invoice { status version } errors { code } } }";
    let paid = op(&app, &app.owner_token, "RecordPayment", json!({ "input": { "invoiceId": inv["id"], "amount": "1.00", "method": "cash", "idempotencyKey": "void-test-pay" } })).await;
    let payment = done(&paid, "recordPayment")["payment"].clone();
    let page = op(
        &app,
        &app.owner_token,
        "InvoicePage",
        json!({ "id": inv["id"] }),
    )
    .await;
    let version = page["data"]["node"]["version"].clone();
    let refused = app
        .ok(
            void,
            json!({ "input": { "id": inv["id"], "version": version, "reason": "typo" } }),
        )
        .await;
    assert_eq!(
        refused["voidInvoice"]["errors"][0]["code"],
        "invoice_has_payments"
    );
    done(&op(&app, &app.owner_token, "RefundPayment", json!({ "input": { "paymentId": payment["id"], "amount": "1.00", "idempotencyKey": "void-test-refund" } })).await, "refundPayment");
    let page = op(
        &app,
        &app.owner_token,
        "InvoicePage",
        json!({ "id": inv["id"] }),
    )
    .await;
    let voided = app.ok(void, json!({ "input": { "id": inv["id"], "version": page["data"]["node"]["version"], "reason": "wrong customer" } })).await;
    assert_eq!(voided["voidInvoice"]["invoice"]["status"], "VOID");
    let wo = page["data"]["node"]["workOrder"]["id"].clone();
    let again = op(
        &app,
        &app.owner_token,
        "IssueInvoice",
        json!({ "input": { "workOrderId": wo } }),
    )
    .await;
    let reissued = done(&again, "issueInvoice")["invoice"].clone();
    assert_ne!(reissued["number"], inv["number"]);
    let twice = op(
        &app,
        &app.owner_token,
        "IssueInvoice",
        json!({ "input": { "workOrderId": wo } }),
    )
    .await;
    assert_eq!(
        twice["data"]["issueInvoice"]["errors"][0]["code"],
        "invoice_exists"
    );
}

#[tokio::test]
async fn settings_and_directories_changed_by_the_owner_hold_on_the_next_request() {
    let app = TestApp::spawn().await;
    app.seed(3, 0).await;
    let settings = app
        .ok("{ settings { key value version type } }", json!({}))
        .await;
    let prefix = settings["settings"]
        .as_array()
        .expect("settings")
        .iter()
        .find(|s| s["key"] == "work_order_prefix")
        .expect("prefix")
        .clone();
    let update = "mutation($input: UpdateSettingInput!) { updateSetting(input: $input) { setting { value version } errors { code } } }";
    let bad = app.ok(update, json!({ "input": { "key": "work_order_prefix", "value": "RO 1!", "version": prefix["version"] } })).await;
    assert_eq!(bad["updateSetting"]["errors"][0]["code"], "invalid_setting");
    let bad_rate = app
        .ok(
            update,
            json!({ "input": { "key": "tax_rate", "value": "150", "version": 0 } }),
        )
        .await;
    assert_eq!(
        bad_rate["updateSetting"]["errors"][0]["code"],
        "invalid_tax_rate"
    );
    let ok = app.ok(update, json!({ "input": { "key": "work_order_prefix", "value": "RO-", "version": prefix["version"] } })).await;
    assert_eq!(ok["updateSetting"]["setting"]["value"], "RO-");
    let stale = app.ok(update, json!({ "input": { "key": "work_order_prefix", "value": "XX-", "version": prefix["version"] } })).await;
    assert_eq!(stale["updateSetting"]["errors"][0]["code"], "conflict");
    let wo = new_order(&app, &app.owner_token).await;
    assert!(
        wo["number"].as_str().is_some_and(|n| n.starts_with("RO-")),
        "{wo}"
    );

    let made = app
        .ok("mutation { createDirectoryEntry(input: { directory: \"payment_methods\", code: \"voucher\", label: \"Gift voucher\" }) { entry { id version } errors { code } } }", json!({}))
        .await;
    let entry = made["createDirectoryEntry"]["entry"].clone();
    let inv = invoice(&app).await;
    let pay = |key: &str| json!({ "input": { "invoiceId": inv["id"], "amount": "1.00", "method": "voucher", "idempotencyKey": key } });
    done(
        &op(
            &app,
            &app.owner_token,
            "RecordPayment",
            pay("voucher-pay-1"),
        )
        .await,
        "recordPayment",
    );
    app.ok(
        "mutation($input: UpdateDirectoryEntryInput!) { updateDirectoryEntry(input: $input) { errors { code } } }",
        json!({ "input": { "id": entry["id"], "version": entry["version"], "active": false } }),
    )
    .await;
    let refused = op(
        &app,
        &app.owner_token,
        "RecordPayment",
        pay("voucher-pay-2"),
    )
    .await;
    assert_eq!(
        refused["data"]["recordPayment"]["errors"][0]["code"],
        "unknown_payment_method"
    );
}

#[tokio::test]
async fn the_owner_reads_the_audit_log_and_deleted_orders_only_with_the_right() {
    let app = TestApp::spawn().await;
    app.seed(3, 3).await;
    let wo = new_order(&app, &app.owner_token).await;
    let del = app
        .ok("mutation($input: RecordVersionInput!) { deleteWorkOrder(input: $input) { workOrder { id } errors { code } } }", json!({ "input": { "id": wo["id"], "version": wo["version"] } }))
        .await;
    assert_eq!(del["deleteWorkOrder"]["errors"], json!([]));
    let listed = app
        .ok(
            "{ workOrders(first: 100, includeDeleted: true) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(listed.to_string().contains(wo["id"].as_str().expect("id")));
    let log = app
        .ok("{ auditLog(first: 5, filter: { entityType: \"work_order\", action: \"delete\" }) { totalCount edges { node { action entityType diff } } } }", json!({}))
        .await;
    assert_eq!(log["auditLog"]["totalCount"], 1);
    assert!(log["auditLog"]["edges"][0]["node"]["diff"]["after"]["deleted_at"].is_string());
    let (_, advisor) = app
        .staff_with_role("adv@shop.test", "service_advisor", None)
        .await;
    let (_, cashier) = app.staff_with_role("cash@shop.test", "cashier", None).await;
    assert_eq!(
        error_code(
            &app.gql_as(Some(&advisor), "{ auditLog { totalCount } }", json!({}))
                .await
        ),
        "forbidden"
    );
    let deleted = app
        .gql_as(
            Some(&cashier),
            "{ workOrders(includeDeleted: true) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&deleted),
        "forbidden",
        "cashiers do not restore orders"
    );
}
