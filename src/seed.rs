//! `seed-demo`: a living demo shop (branches, staff, customers, vehicles, work orders in every status, invoices
//! and payments), deterministic for a given scale so benchmarks compare like with like.

use std::fmt;

use chrono::{DateTime, Duration, Utc};
use entity::{
    customers, invoice_lines, invoices, location_counters, locations, payments, system_settings,
    users, vehicle_ownerships, vehicles, work_order_lines, work_order_mechanics,
    work_order_status_changes, work_orders,
};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, TransactionTrait};
use serde_json::json;
use uuid::Uuid;

use crate::db::Db;
use crate::domain::{LineKind, Money, Quantity, TaxRate, WorkOrderStatus, check_digit};

/// What was created.
#[derive(Debug, Default)]
pub struct Summary {
    pub locations: usize,
    pub users: usize,
    pub customers: usize,
    pub vehicles: usize,
    pub work_orders: usize,
    pub lines: usize,
    pub invoices: usize,
    pub payments: usize,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "seeded {} locations, {} users, {} customers, {} vehicles, {} work orders ({} lines), {} invoices, {} payments",
            self.locations,
            self.users,
            self.customers,
            self.vehicles,
            self.work_orders,
            self.lines,
            self.invoices,
            self.payments
        )
    }
}

const FIRST: &[&str] = &[
    "Anna", "Ben", "Carla", "Dmitri", "Elena", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kira",
    "Luca", "Mara", "Nils", "Olga", "Paul", "Rosa", "Sven", "Tara", "Umar",
];
const LAST: &[&str] = &[
    "Novak",
    "Schmidt",
    "Garcia",
    "Okafor",
    "Lindqvist",
    "Rossi",
    "Kowalski",
    "Dubois",
    "Tanaka",
    "Moreau",
    "Fischer",
    "Silva",
    "Jensen",
    "Ivanova",
    "Murphy",
];
const COMPANIES: &[&str] = &[
    "Metro Taxi",
    "GreenFleet Logistics",
    "City Plumbing",
    "Northwind Couriers",
    "Sunrise Bakery",
];
const CARS: &[(&str, &str, &str)] = &[
    ("1HG", "Honda", "Civic"),
    ("2T1", "Toyota", "Corolla"),
    ("3VW", "Volkswagen", "Jetta"),
    ("JHM", "Honda", "Accord"),
    ("WBA", "BMW", "320i"),
    ("WVW", "Volkswagen", "Golf"),
    ("KMH", "Hyundai", "i30"),
    ("VF1", "Renault", "Clio"),
];
const COLOURS: &[&str] = &["black", "white", "silver", "blue", "red", "grey", "green"];
const COMPLAINTS: &[&str] = &[
    "Brakes squeal when stopping",
    "Check engine light on",
    "Annual service",
    "Rattle from the front suspension",
    "Air conditioning blows warm",
    "Battery drains overnight",
    "Oil leak under the engine",
    "Tyre change and alignment",
];
const LABOUR: &[&str] = &[
    "Diagnosis",
    "Brake pad replacement",
    "Oil and filter change",
    "Suspension inspection",
    "AC recharge",
    "Wheel alignment",
];
const PARTS: &[(&str, &str, i64)] = &[
    ("BP-2231", "Brake pads, front", 6450),
    ("OF-118", "Oil filter", 1290),
    ("OIL-5W30", "Engine oil 5W-30, litre", 990),
    ("BAT-70", "Battery 70Ah", 13900),
    ("SP-44", "Spark plug", 890),
    ("CAB-09", "Cabin filter", 2150),
];
const METHODS: &[&str] = &["cash", "card", "bank_transfer"];

struct Gen {
    rng: fastrand::Rng,
    now: DateTime<Utc>,
}

impl Gen {
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.rng.usize(..items.len())]
    }

    fn past(&mut self, max_days: i64) -> DateTime<Utc> {
        self.now - Duration::seconds(self.rng.i64(0..max_days * 86_400))
    }

    fn vin(&mut self, wmi: &str) -> String {
        const CHARS: &[u8] = b"ABCDEFGHJKLMNPRSTUVWXYZ0123456789";
        let mut v: Vec<u8> = wmi.bytes().collect();
        while v.len() < 17 {
            v.push(CHARS[self.rng.usize(..CHARS.len())]);
        }
        let mut arr: [u8; 17] = v.try_into().unwrap_or([b'0'; 17]);
        if arr[0].is_ascii_digit() && (b'1'..=b'5').contains(&arr[0]) {
            arr[8] = b'0';
            arr[8] = check_digit(&arr).unwrap_or(b'0');
        }
        String::from_utf8_lossy(&arr).into_owned()
    }

    fn plate(&mut self) -> String {
        let l = |g: &mut Self| char::from(b'A' + g.rng.u8(0..26));
        format!(
            "{}{}{}{:04}",
            l(self),
            l(self),
            l(self),
            self.rng.u16(0..10_000)
        )
    }
}

/// A line as the server computes it.
fn line_amounts(kind: LineKind, qty: Quantity, price: Money, rate: TaxRate) -> (i64, i64) {
    crate::domain::line_amounts(kind == LineKind::Discount, qty, price, rate)
        .map_or((0, 0), |(net, tax)| (net.minor(), tax.minor()))
}

async fn insert_chunks<A, C>(conn: &C, rows: Vec<A>) -> anyhow::Result<()>
where
    A: ActiveModelTrait + Send,
    C: sea_orm::ConnectionTrait,
{
    // Well under SQLite's and PostgreSQL's bound-parameter limits for our widest table.
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(400).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

fn set<M, A>(m: M) -> A
where
    M: IntoActiveModel<A>,
    A: ActiveModelTrait,
{
    m.into_active_model().reset_all()
}

/// How much to seed.
#[derive(Debug, Clone, Copy)]
pub struct Volume {
    pub customers: usize,
    pub work_orders: usize,
}

impl Volume {
    /// `scale` × 300 customers and 3000 work orders.
    pub fn scale(scale: u32) -> Self {
        let n = scale as usize;
        Self {
            customers: 300 * n,
            work_orders: 3000 * n,
        }
    }
}

/// Seeds a demo shop of the given volume into an empty database.
pub async fn demo(db: &Db, volume: Volume, progress: bool) -> anyhow::Result<Summary> {
    let conn = &db.conn;
    anyhow::ensure!(
        customers::Entity::find().count(conn).await? == 0,
        "the database already has customers; seed-demo fills an empty one"
    );
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(42),
        now: Utc::now(),
    };
    let mut s = Summary::default();
    let now = g.now;
    let tax_rate: TaxRate =
        TaxRate::from_basis_points(825).map_err(|e| anyhow::anyhow!(e.message))?;

    // The standard directories (payment methods and the rest), as every app start makes them.
    crate::services::reference::seed_directories(db)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tx = conn.begin().await?;
    let locs: Vec<locations::Model> = [
        ("Downtown", "America/New_York"),
        ("Northside", "America/New_York"),
        ("Airport", "America/Chicago"),
    ]
    .iter()
    .map(|(name, tz)| locations::Model {
        id: Uuid::now_v7(),
        created_at: now,
        updated_at: now,
        name: (*name).into(),
        address: Some(format!("{} Main Street", g.rng.u16(1..999))),
        timezone: (*tz).into(),
        deleted_at: None,
        version: 1,
    })
    .collect();
    insert_chunks(
        &tx,
        locs.iter()
            .cloned()
            .map(set::<_, locations::ActiveModel>)
            .collect(),
    )
    .await?;
    s.locations = locs.len();

    let staff: Vec<users::Model> = (0..8)
        .map(|i| {
            let name = format!("{} {}", g.pick(FIRST), g.pick(LAST));
            staff_member(format!("staff{i}@demo.autoshop.test"), name, now)
        })
        .collect();
    insert_chunks(
        &tx,
        staff
            .iter()
            .cloned()
            .map(set::<_, users::ActiveModel>)
            .collect(),
    )
    .await?;
    s.users = staff.len();
    let mechanics = &staff[2..];

    let settings = [
        ("currency", json!("USD")),
        ("tax_rate", json!("8.25")),
        ("labour_rate", json!("120.00")),
        ("work_order_prefix", json!("WO-")),
        ("invoice_prefix", json!("INV-")),
        ("upload_max_bytes", json!(20_971_520)),
        (
            "upload_content_types",
            json!(["image/jpeg", "image/png", "application/pdf"]),
        ),
    ];
    let settings: Vec<system_settings::ActiveModel> = settings
        .into_iter()
        .map(|(k, v)| {
            set(system_settings::Model {
                id: Uuid::now_v7(),
                created_at: now,
                updated_at: now,
                version: 1,
                key: k.into(),
                value: v,
                updated_by: None,
            })
        })
        .collect();
    insert_chunks(&tx, settings).await?;
    // Customers and their vehicles.
    let mut custs = Vec::new();
    let mut cars = Vec::new();
    let mut owners = Vec::new();
    for _ in 0..volume.customers {
        let company = g.rng.u8(0..10) == 0;
        let name = if company {
            (*g.pick(COMPANIES)).to_owned()
        } else {
            format!("{} {}", g.pick(FIRST), g.pick(LAST))
        };
        let created = g.past(730);
        let c = customers::Model {
            id: Uuid::now_v7(),
            created_at: created,
            updated_at: created,
            kind: if company { "company" } else { "person" }.into(),
            name_folded: name.to_lowercase(),
            name: name.clone(),
            phones: json!([format!("+1555{:07}", g.rng.u32(0..10_000_000))]),
            emails: json!([format!(
                "{}{}@mail.example",
                name.to_lowercase().replace(' ', "."),
                g.rng.u16(..)
            )]),
            notes: None,
            marketing_consent: g.rng.bool(),
            home_location_id: Some(g.pick(&locs).id),
            deleted_at: None,
            version: 1,
        };
        for _ in 0..if company {
            4
        } else {
            1 + usize::from(g.rng.u8(0..3) == 0)
        } {
            let (wmi, make, model) = *g.pick(CARS);
            let v = vehicles::Model {
                id: Uuid::now_v7(),
                created_at: created,
                updated_at: created,
                customer_id: c.id,
                vin: Some(g.vin(wmi)),
                plate_number: Some(g.plate()),
                make: Some(make.into()),
                model: Some(model.into()),
                year: Some(g.rng.i32(2005..2026)),
                engine: None,
                colour: Some((*g.pick(COLOURS)).into()),
                odometer_km: Some(g.rng.i64(5_000..250_000)),
                deleted_at: None,
                version: 1,
            };
            owners.push(set::<_, vehicle_ownerships::ActiveModel>(
                vehicle_ownerships::Model {
                    id: Uuid::now_v7(),
                    created_at: created,
                    updated_at: created,
                    vehicle_id: v.id,
                    customer_id: c.id,
                    started_at: created,
                    ended_at: None,
                },
            ));
            cars.push(v);
        }
        custs.push(c);
    }
    insert_chunks(
        &tx,
        custs
            .iter()
            .cloned()
            .map(set::<_, customers::ActiveModel>)
            .collect(),
    )
    .await?;
    insert_chunks(
        &tx,
        cars.iter()
            .cloned()
            .map(set::<_, vehicles::ActiveModel>)
            .collect(),
    )
    .await?;
    insert_chunks(&tx, owners).await?;
    s.customers = custs.len();
    s.vehicles = cars.len();
    tx.commit().await?;

    // Work orders, in batches so memory stays flat at large scales.
    let total = volume.work_orders;
    let bar = if progress {
        indicatif::ProgressBar::new(total as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} work orders ({eta})")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    bar.set_message("seeding");
    let mut seq = vec![0i64; locs.len()];
    let mut inv_seq = vec![0i64; locs.len()];
    let statuses = WorkOrderStatus::ALL;
    let mut done = 0;
    while done < total {
        let batch = (total - done).min(500);
        let (mut wos, mut lines, mut mechs, mut changes, mut invs, mut ilines, mut pays) = (
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
        );
        for _ in 0..batch {
            let car = g.pick(&cars).clone();
            let li = g.rng.usize(..locs.len());
            seq[li] += 1;
            // Most history is closed; the board has a healthy number of open orders in every column.
            let status = if g.rng.u8(0..10) < 6 {
                WorkOrderStatus::Closed
            } else {
                *g.pick(statuses)
            };
            let created = g.past(700).max(car.created_at);
            let wo_id = Uuid::now_v7();
            let (mut sub, mut disc, mut tax) = (0i64, 0i64, 0i64);
            let mech = g.pick(mechanics).id;
            for pos in 0..g.rng.i32(2..6) {
                let (kind, desc, qty, price, part) = match g.rng.u8(0..10) {
                    0..=3 => (
                        LineKind::Labour,
                        (*g.pick(LABOUR)).to_owned(),
                        g.rng.i64(1..8) * 500,
                        12_000,
                        None,
                    ),
                    4..=7 => {
                        let (pn, d, p) = *g.pick(PARTS);
                        (
                            LineKind::Part,
                            d.to_owned(),
                            g.rng.i64(1..5) * 1000,
                            p,
                            Some(pn.to_owned()),
                        )
                    }
                    8 => (LineKind::Fee, "Shop supplies".to_owned(), 1000, 1500, None),
                    _ => (
                        LineKind::Discount,
                        "Loyalty discount".to_owned(),
                        1000,
                        1000,
                        None,
                    ),
                };
                let qty = Quantity::from_milli(qty).map_err(|e| anyhow::anyhow!(e.message))?;
                let (net, t) = line_amounts(kind, qty, Money::from_minor(price), tax_rate);
                if net < 0 {
                    disc -= net
                } else {
                    sub += net
                }
                tax += t;
                lines.push(set::<_, work_order_lines::ActiveModel>(
                    work_order_lines::Model {
                        id: Uuid::now_v7(),
                        created_at: created,
                        updated_at: created,
                        version: 1,
                        work_order_id: wo_id,
                        position: pos,
                        kind: kind.as_str().into(),
                        description: desc,
                        quantity_milli: qty.milli(),
                        unit_price_minor: price,
                        tax_rate_bp: tax_rate.basis_points(),
                        mechanic_id: (kind == LineKind::Labour).then_some(mech),
                        part_number: part,
                        net_minor: net,
                        tax_minor: t,
                        total_minor: net + t,
                    },
                ));
            }
            // Discounts may not push tax below zero: clamp like the service does.
            let tax = tax.max(0);
            let total_minor = sub - disc + tax;
            let (sub, disc) = if total_minor < 0 {
                (sub, sub + tax)
            } else {
                (sub, disc)
            };
            let total_minor = sub - disc + tax;
            mechs.push(set::<_, work_order_mechanics::ActiveModel>(
                work_order_mechanics::Model {
                    id: Uuid::now_v7(),
                    created_at: created,
                    updated_at: created,
                    work_order_id: wo_id,
                    user_id: mech,
                    assigned_by: Some(staff[0].id),
                },
            ));
            let path: Vec<WorkOrderStatus> = match status {
                WorkOrderStatus::Cancelled => vec![
                    WorkOrderStatus::Draft,
                    WorkOrderStatus::Estimate,
                    WorkOrderStatus::Cancelled,
                ],
                s => statuses
                    .iter()
                    .copied()
                    .take_while(|x| *x != s)
                    .chain([s])
                    .filter(|x| *x != WorkOrderStatus::Cancelled)
                    .collect(),
            };
            let mut from = None;
            for (i, to) in path.iter().enumerate() {
                let at = created + Duration::hours(i as i64 * 3);
                changes.push(set::<_, work_order_status_changes::ActiveModel>(
                    work_order_status_changes::Model {
                        id: Uuid::now_v7(),
                        created_at: at,
                        updated_at: at,
                        work_order_id: wo_id,
                        from_status: from.map(|f: WorkOrderStatus| f.as_str().to_owned()),
                        to_status: to.as_str().into(),
                        actor_id: Some(staff[0].id),
                        note: None,
                    },
                ));
                from = Some(*to);
            }
            let updated = created + Duration::hours(path.len() as i64 * 3);
            let approved = statuses.iter().position(|x| *x == status)
                >= statuses
                    .iter()
                    .position(|x| *x == WorkOrderStatus::Approved)
                && status != WorkOrderStatus::Cancelled;
            let wo = work_orders::Model {
                id: wo_id,
                created_at: created,
                updated_at: updated,
                location_id: locs[li].id,
                seq: seq[li],
                number: format!("WO-{:06}", seq[li]),
                customer_id: car.customer_id,
                vehicle_id: car.id,
                status: status.as_str().into(),
                complaint: (*g.pick(COMPLAINTS)).into(),
                diagnosis: None,
                notes: None,
                promised_at: Some(created + Duration::days(2)),
                odometer_in_km: car.odometer_km,
                approved_at: approved.then_some(created + Duration::hours(6)),
                approved_by_name: approved.then(|| "Customer".to_owned()),
                approval_method: approved.then(|| "phone".to_owned()),
                subtotal_minor: sub,
                discount_minor: disc,
                tax_minor: tax,
                total_minor,
                closed_at: (status == WorkOrderStatus::Closed).then_some(updated),
                deleted_at: None,
                version: 1,
            };
            if status == WorkOrderStatus::Closed {
                inv_seq[li] += 1;
                let inv_id = Uuid::now_v7();
                let paid_kind = g.rng.u8(0..10);
                let paid = match paid_kind {
                    0..=6 => total_minor,
                    7..=8 => total_minor / 2,
                    _ => 0,
                };
                let inv_status = if paid == total_minor {
                    "paid"
                } else if paid > 0 {
                    "partially_paid"
                } else {
                    "issued"
                };
                let own: Vec<&work_order_lines::ActiveModel> = lines
                    .iter()
                    .rev()
                    .take_while(|l| l.work_order_id.as_ref() == &wo_id)
                    .collect();
                for (i, l) in own.into_iter().rev().enumerate() {
                    ilines.push(set::<_, invoice_lines::ActiveModel>(invoice_lines::Model {
                        id: Uuid::now_v7(),
                        created_at: updated,
                        updated_at: updated,
                        invoice_id: inv_id,
                        position: i as i32,
                        kind: l.kind.as_ref().clone(),
                        description: l.description.as_ref().clone(),
                        quantity_milli: *l.quantity_milli.as_ref(),
                        unit_price_minor: *l.unit_price_minor.as_ref(),
                        tax_rate_bp: *l.tax_rate_bp.as_ref(),
                        part_number: l.part_number.as_ref().clone(),
                        net_minor: *l.net_minor.as_ref(),
                        tax_minor: *l.tax_minor.as_ref(),
                        total_minor: *l.total_minor.as_ref(),
                    }));
                }
                invs.push(set::<_, invoices::ActiveModel>(invoices::Model {
                    id: inv_id,
                    created_at: updated,
                    updated_at: updated,
                    location_id: locs[li].id,
                    work_order_id: wo_id,
                    customer_id: car.customer_id,
                    seq: inv_seq[li],
                    number: format!("INV-{:06}", inv_seq[li]),
                    status: inv_status.into(),
                    currency: "USD".into(),
                    subtotal_minor: sub,
                    discount_minor: disc,
                    tax_minor: tax,
                    total_minor,
                    paid_minor: paid,
                    issued_at: Some(updated),
                    due_at: Some(updated + Duration::days(14)),
                    voided_at: None,
                    void_reason: None,
                    replaces_invoice_id: None,
                    deleted_at: None,
                    version: 1,
                }));
                // Paid in full by one or two payments; half-paid by one.
                let parts: Vec<i64> = match (paid, paid_kind) {
                    (0, _) => vec![],
                    (p, 0..=2) if p > 1 => vec![p / 2, p - p / 2],
                    (p, _) => vec![p],
                };
                for (i, amount) in parts.into_iter().enumerate() {
                    let at = updated + Duration::hours(i as i64 + 1);
                    pays.push(set::<_, payments::ActiveModel>(payments::Model {
                        id: Uuid::now_v7(),
                        created_at: at,
                        updated_at: at,
                        invoice_id: inv_id,
                        amount_minor: amount,
                        method_code: (*g.pick(METHODS)).into(),
                        received_at: at,
                        reference: None,
                        refund_of_id: None,
                        idempotency_key: None,
                        request_hash: None,
                        recorded_by: Some(staff[1].id),
                    }));
                }
            }
            wos.push(set::<_, work_orders::ActiveModel>(wo));
        }
        s.work_orders += wos.len();
        s.lines += lines.len();
        s.invoices += invs.len();
        s.payments += pays.len();
        let tx = conn.begin().await?;
        insert_chunks(&tx, wos).await?;
        insert_chunks(&tx, lines).await?;
        insert_chunks(&tx, mechs).await?;
        insert_chunks(&tx, changes).await?;
        insert_chunks(&tx, invs).await?;
        insert_chunks(&tx, ilines).await?;
        insert_chunks(&tx, pays).await?;
        tx.commit().await?;
        done += batch;
        bar.set_position(done as u64);
    }
    bar.finish_and_clear();

    let mut counters = Vec::new();
    for (i, l) in locs.iter().enumerate() {
        for (kind, last) in [("work_order", seq[i]), ("invoice", inv_seq[i])] {
            counters.push(set::<_, location_counters::ActiveModel>(
                location_counters::Model {
                    id: Uuid::now_v7(),
                    created_at: now,
                    updated_at: now,
                    location_id: l.id,
                    kind: kind.into(),
                    last_value: last,
                },
            ));
        }
    }
    insert_chunks(conn, counters).await?;
    Ok(s)
}

/// A member of the demo staff, active, without a password (nobody can sign in as them until one is set).
fn staff_member(email: String, name: String, now: DateTime<Utc>) -> users::Model {
    users::Model {
        id: Uuid::now_v7(),
        created_at: now,
        updated_at: now,
        email,
        name,
        phone: None,
        password_hash: None,
        status: "active".into(),
        totp_secret_enc: None,
        totp_enabled: false,
        last_login_at: None,
        totp_last_step: None,
        password_changed_at: None,
        deleted_at: None,
        version: 1,
        pending_email: None,
    }
}

/// Someone who can sign in to the demo shop.
#[derive(Debug)]
pub struct DemoLogin {
    pub email: String,
    pub role: &'static str,
    pub branch: String,
}

/// Lets one member of the demo staff per built-in role sign in, all with `password_hash`: a demo owner (made
/// here) everywhere, and at the first branch a service advisor, a cashier and a mechanic who works on orders
/// there. For development only: the caller shows the password once.
pub async fn demo_logins(db: &Db, password_hash: &str) -> anyhow::Result<Vec<DemoLogin>> {
    use sea_orm::{ActiveModelTrait, ColumnTrait, QueryFilter, QueryOrder};
    let conn = &db.conn;
    let branch = locations::Entity::find()
        .filter(locations::Column::DeletedAt.is_null())
        .order_by_asc(locations::Column::CreatedAt)
        .one(conn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("seed the demo shop first"))?;
    let tx = conn.begin().await?;
    let now = Utc::now();
    let owner_email = "owner@demo.autoshop.test";
    if users::Entity::find()
        .filter(users::Column::Email.eq(owner_email))
        .one(&tx)
        .await?
        .is_none()
    {
        set::<_, users::ActiveModel>(staff_member(owner_email.into(), "Demo Owner".into(), now))
            .insert(&tx)
            .await?;
    }
    let everywhere = crate::auth::policy::EVERYWHERE.to_owned();
    let logins = [
        (owner_email.to_owned(), crate::auth::catalog::OWNER, None),
        (
            "staff0@demo.autoshop.test".to_owned(),
            "service_advisor",
            Some(branch.id),
        ),
        (
            "staff1@demo.autoshop.test".to_owned(),
            "cashier",
            Some(branch.id),
        ),
        (
            "staff2@demo.autoshop.test".to_owned(),
            "mechanic",
            Some(branch.id),
        ),
    ];
    let mut out = Vec::new();
    for (email, role, at) in logins {
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(&tx)
            .await?
            .ok_or_else(|| anyhow::anyhow!("{email} is not in the demo shop"))?;
        let id = user.id;
        let mut active: users::ActiveModel = user.into();
        active.password_hash = sea_orm::Set(Some(password_hash.to_owned()));
        active.password_changed_at = sea_orm::Set(Some(now));
        active.update(&tx).await?;
        let domain = at.map_or_else(|| everywhere.clone(), |l| l.to_string());
        entity::casbin_rule::Entity::delete_many()
            .filter(entity::casbin_rule::Column::Ptype.eq("g"))
            .filter(entity::casbin_rule::Column::V0.eq(id.to_string()))
            .exec(&tx)
            .await?;
        crate::services::roles::holding(id, role, &domain)
            .insert(&tx)
            .await?;
        out.push(DemoLogin {
            email,
            role,
            branch: at.map_or_else(|| "every branch".to_owned(), |_| branch.name.clone()),
        });
    }
    tx.commit().await?;
    Ok(out)
}
