//! The shop's domain: locations, people, vehicles, work orders, money, files, settings, audit and outbox.

use sea_orm_migration::prelude::*;

use crate::ddl::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261122_000001_core"
    }
}

const WORK_ORDER_STATUSES: &[&str] = &[
    "draft",
    "estimate",
    "awaiting_approval",
    "approved",
    "in_progress",
    "ready",
    "closed",
    "cancelled",
];
const LINE_KINDS: &[&str] = &["labour", "part", "fee", "discount"];
const INVOICE_STATUSES: &[&str] = &["draft", "issued", "partially_paid", "paid", "void"];
const FILE_PARENTS: &[&str] = &["customer", "vehicle", "work_order", "invoice"];

/// Tables in creation order; dropped in reverse.
const TABLES: &[&str] = &[
    "locations",
    "users",
    "location_counters",
    "customers",
    "vehicles",
    "vehicle_ownerships",
    "work_orders",
    "odometer_readings",
    "work_order_lines",
    "work_order_mechanics",
    "work_order_status_changes",
    "invoices",
    "invoice_lines",
    "payments",
    "files",
    "system_settings",
    "directories",
    "directory_entries",
    "audit_log",
    "outbox",
];

fn tables() -> Vec<TableCreateStatement> {
    let mut out = Vec::new();

    let mut t = business("locations");
    t.col(string("name")).col(text_null("address")).col(
        ColumnDef::new("timezone")
            .string()
            .not_null()
            .default("UTC"),
    );
    out.push(t);

    let mut t = business("users");
    t.col(string("email"))
        .col(string("name"))
        .col(string_null("phone"))
        .col(text_null("password_hash"))
        .col(one_of("status", &["active", "blocked"]))
        .col(text_null("totp_secret_enc"))
        .col(boolean("totp_enabled", false))
        .col(ts_null("last_login_at"));
    out.push(t);

    // Gapless per-location numbering: the row is locked (UPDATE … RETURNING) inside the creating transaction.
    let mut t = table("location_counters");
    t.col(uuid("location_id"))
        .col(one_of("kind", &["work_order", "invoice"]))
        .col(
            bigint("last_value")
                .default(0)
                .check(Expr::col("last_value").gte(0)),
        )
        .foreign_key(&mut fk_cascade(
            "location_counters",
            "location_id",
            "locations",
        ));
    out.push(t);

    let mut t = business("customers");
    t.col(one_of("kind", &["person", "company"]))
        .col(string("name"))
        // Lower-cased in Rust on write: SQLite's lower() folds ASCII only, so filtering on it would differ
        // between the backends.
        .col(string("name_folded"))
        .col(json("phones"))
        .col(json("emails"))
        .col(text_null("notes"))
        .col(boolean("marketing_consent", false))
        .col(uuid_null("home_location_id"))
        .check(Expr::cust("length(trim(name)) > 0"))
        .foreign_key(&mut fk("customers", "home_location_id", "locations"));
    out.push(t);

    let mut t = business("vehicles");
    t.col(uuid("customer_id"))
        .col(
            ColumnDef::new("vin")
                .string()
                .null()
                .check(Expr::cust("vin IS NULL OR length(vin) = 17")),
        )
        .col(string_null("plate_number"))
        .col(string_null("make"))
        .col(string_null("model"))
        .col(ColumnDef::new("year").integer().null().check(Expr::cust(
            "year IS NULL OR (year >= 1886 AND year <= 2100)",
        )))
        .col(string_null("engine"))
        .col(string_null("colour"))
        .col(
            ColumnDef::new("odometer_km")
                .big_integer()
                .null()
                .check(Expr::cust("odometer_km IS NULL OR odometer_km >= 0")),
        )
        .foreign_key(&mut fk("vehicles", "customer_id", "customers"));
    out.push(t);

    let mut t = table("vehicle_ownerships");
    t.col(uuid("vehicle_id"))
        .col(uuid("customer_id"))
        .col(ts("started_at"))
        .col(ts_null("ended_at"))
        .foreign_key(&mut fk_cascade(
            "vehicle_ownerships",
            "vehicle_id",
            "vehicles",
        ))
        .foreign_key(&mut fk("vehicle_ownerships", "customer_id", "customers"));
    out.push(t);

    let mut t = business("work_orders");
    t.col(uuid("location_id"))
        .col(bigint("seq").check(Expr::col("seq").gt(0)))
        .col(string("number"))
        .col(uuid("customer_id"))
        .col(uuid("vehicle_id"))
        .col(one_of("status", WORK_ORDER_STATUSES))
        .col(text("complaint"))
        .col(text_null("diagnosis"))
        .col(text_null("notes"))
        .col(ts_null("promised_at"))
        .col(
            ColumnDef::new("odometer_in_km")
                .big_integer()
                .null()
                .check(Expr::cust("odometer_in_km IS NULL OR odometer_in_km >= 0")),
        )
        .col(ts_null("approved_at"))
        .col(string_null("approved_by_name"))
        .col(one_of_null(
            "approval_method",
            &["in_person", "phone", "signature"],
        ))
        .col(money("subtotal_minor"))
        .col(money("discount_minor").check(Expr::col("discount_minor").gte(0)))
        .col(money("tax_minor").check(Expr::col("tax_minor").gte(0)))
        .col(money("total_minor"))
        .col(ts_null("closed_at"))
        .check(Expr::cust(
            "total_minor = subtotal_minor - discount_minor + tax_minor",
        ))
        .foreign_key(&mut fk("work_orders", "location_id", "locations"))
        .foreign_key(&mut fk("work_orders", "customer_id", "customers"))
        .foreign_key(&mut fk("work_orders", "vehicle_id", "vehicles"));
    out.push(t);

    let mut t = table("odometer_readings");
    t.col(uuid("vehicle_id"))
        .col(uuid_null("work_order_id"))
        .col(bigint("reading_km").check(Expr::col("reading_km").gte(0)))
        .col(ts("recorded_at"))
        .col(boolean("is_correction", false))
        .col(uuid_null("recorded_by"))
        .foreign_key(&mut fk_cascade(
            "odometer_readings",
            "vehicle_id",
            "vehicles",
        ))
        .foreign_key(&mut fk("odometer_readings", "work_order_id", "work_orders"))
        .foreign_key(&mut fk("odometer_readings", "recorded_by", "users"));
    out.push(t);

    let mut t = table("work_order_lines");
    t.col(version())
        .col(uuid("work_order_id"))
        .col(integer("position"))
        .col(one_of("kind", LINE_KINDS))
        .col(text("description"))
        .col(bigint("quantity_milli").check(Expr::col("quantity_milli").gt(0)))
        .col(bigint("unit_price_minor").check(Expr::col("unit_price_minor").gte(0)))
        .col(integer("tax_rate_bp").check(Expr::cust("tax_rate_bp >= 0 AND tax_rate_bp <= 10000")))
        .col(uuid_null("mechanic_id"))
        .col(string_null("part_number"))
        .col(bigint("net_minor"))
        .col(bigint("tax_minor"))
        .col(bigint("total_minor"))
        .check(Expr::cust(
            "(kind = 'discount' AND net_minor <= 0) OR (kind <> 'discount' AND net_minor >= 0)",
        ))
        .check(Expr::cust("total_minor = net_minor + tax_minor"))
        .foreign_key(&mut fk_cascade(
            "work_order_lines",
            "work_order_id",
            "work_orders",
        ))
        .foreign_key(&mut fk("work_order_lines", "mechanic_id", "users"));
    out.push(t);

    let mut t = table("work_order_mechanics");
    t.col(uuid("work_order_id"))
        .col(uuid("user_id"))
        .col(uuid_null("assigned_by"))
        .foreign_key(&mut fk_cascade(
            "work_order_mechanics",
            "work_order_id",
            "work_orders",
        ))
        .foreign_key(&mut fk("work_order_mechanics", "user_id", "users"));
    out.push(t);

    let mut t = table("work_order_status_changes");
    t.col(uuid("work_order_id"))
        .col(one_of_null("from_status", WORK_ORDER_STATUSES))
        .col(one_of("to_status", WORK_ORDER_STATUSES))
        .col(uuid_null("actor_id"))
        .col(text_null("note"))
        .foreign_key(&mut fk_cascade(
            "work_order_status_changes",
            "work_order_id",
            "work_orders",
        ))
        .foreign_key(&mut fk("work_order_status_changes", "actor_id", "users"));
    out.push(t);

    let mut t = business("invoices");
    t.col(uuid("location_id"))
        .col(uuid("work_order_id"))
        .col(uuid("customer_id"))
        .col(bigint("seq").check(Expr::col("seq").gt(0)))
        .col(string("number"))
        .col(one_of("status", INVOICE_STATUSES))
        .col(ColumnDef::new("currency").string_len(3).not_null())
        .col(money("subtotal_minor"))
        .col(money("discount_minor").check(Expr::col("discount_minor").gte(0)))
        .col(money("tax_minor").check(Expr::col("tax_minor").gte(0)))
        .col(money("total_minor").check(Expr::col("total_minor").gte(0)))
        .col(money("paid_minor").check(Expr::col("paid_minor").gte(0)))
        .col(ts_null("issued_at"))
        .col(ts_null("due_at"))
        .col(ts_null("voided_at"))
        .col(text_null("void_reason"))
        .col(uuid_null("replaces_invoice_id"))
        .check(Expr::cust("paid_minor <= total_minor"))
        .check(Expr::cust(
            "total_minor = subtotal_minor - discount_minor + tax_minor",
        ))
        .check(Expr::cust("(status = 'void') = (voided_at IS NOT NULL)"))
        .foreign_key(&mut fk("invoices", "location_id", "locations"))
        .foreign_key(&mut fk("invoices", "work_order_id", "work_orders"))
        .foreign_key(&mut fk("invoices", "customer_id", "customers"))
        .foreign_key(&mut fk("invoices", "replaces_invoice_id", "invoices"));
    out.push(t);

    let mut t = table("invoice_lines");
    t.col(uuid("invoice_id"))
        .col(integer("position"))
        .col(one_of("kind", LINE_KINDS))
        .col(text("description"))
        .col(bigint("quantity_milli").check(Expr::col("quantity_milli").gt(0)))
        .col(bigint("unit_price_minor").check(Expr::col("unit_price_minor").gte(0)))
        .col(integer("tax_rate_bp").check(Expr::cust("tax_rate_bp >= 0 AND tax_rate_bp <= 10000")))
        .col(string_null("part_number"))
        .col(bigint("net_minor"))
        .col(bigint("tax_minor"))
        .col(bigint("total_minor"))
        .check(Expr::cust("total_minor = net_minor + tax_minor"))
        .foreign_key(&mut fk_cascade("invoice_lines", "invoice_id", "invoices"));
    out.push(t);

    // An append-only ledger: refunds are negative rows pointing at the payment they reverse.
    let mut t = table("payments");
    t.col(uuid("invoice_id"))
        .col(bigint("amount_minor"))
        .col(string("method_code"))
        .col(ts("received_at"))
        .col(string_null("reference"))
        .col(uuid_null("refund_of_id"))
        .col(string_null("idempotency_key"))
        .col(string_null("request_hash"))
        .col(uuid_null("recorded_by"))
        .check(Expr::cust(
            "(refund_of_id IS NULL AND amount_minor > 0) OR (refund_of_id IS NOT NULL AND amount_minor < 0)",
        ))
        .foreign_key(&mut fk("payments", "invoice_id", "invoices"))
        .foreign_key(&mut fk("payments", "refund_of_id", "payments"))
        .foreign_key(&mut fk("payments", "recorded_by", "users"));
    out.push(t);

    let mut t = business("files");
    t.col(one_of("parent_type", FILE_PARENTS))
        .col(uuid("parent_id"))
        .col(string("object_key"))
        .col(string("original_name"))
        .col(string("content_type"))
        .col(bigint("size_bytes").check(Expr::col("size_bytes").gt(0)))
        .col(string_null("checksum_sha256"))
        .col(uuid_null("uploaded_by"))
        .col(one_of("status", &["pending", "ready"]))
        .foreign_key(&mut fk("files", "uploaded_by", "users"));
    out.push(t);

    let mut t = table("system_settings");
    t.col(version())
        .col(string("key"))
        .col(json("value"))
        .col(uuid_null("updated_by"));
    out.push(t);

    let mut t = table("directories");
    t.col(string("code"))
        .col(string("name"))
        .col(text_null("description"));
    out.push(t);

    let mut t = table("directory_entries");
    t.col(version())
        .col(uuid("directory_id"))
        .col(string("code"))
        .col(string("label"))
        .col(ColumnDef::new("sort_order").integer().not_null().default(0))
        .col(boolean("active", true))
        .foreign_key(&mut fk_cascade(
            "directory_entries",
            "directory_id",
            "directories",
        ));
    out.push(t);

    // No foreign key on the actor: entries outlive users, API keys and system jobs alike.
    let mut t = table("audit_log");
    t.col(uuid_null("actor_id"))
        .col(string_null("actor_ip"))
        .col(string_null("request_id"))
        .col(string("entity_type"))
        .col(uuid_null("entity_id"))
        .col(string("action"))
        .col(json_null("diff"));
    out.push(t);

    let mut t = table("outbox");
    t.col(string("topic"))
        .col(string("aggregate_type"))
        .col(uuid("aggregate_id"))
        .col(json("payload"))
        .col(ts("available_at"))
        .col(ts_null("processed_at"))
        .col(ColumnDef::new("attempts").integer().not_null().default(0))
        .col(text_null("last_error"));
    out.push(t);

    out
}

fn indexes() -> Vec<IndexCreateStatement> {
    let mut partial_vin = unique_live("vehicles", "vin", &["vin"]);
    partial_vin.and_where(Expr::col("vin").is_not_null());
    let mut live_invoice = unique_live("invoices", "work_order", &["work_order_id"]);
    live_invoice.and_where(Expr::col("status").ne("void"));
    let mut idem = unique("payments", "idempotency_key", &["idempotency_key"]);
    idem.and_where(Expr::col("idempotency_key").is_not_null());
    let mut pending = index("outbox", "pending", &["available_at"]);
    pending.and_where(Expr::col("processed_at").is_null());

    vec![
        index("locations", "name", &["name", "id"]),
        unique_live("users", "email", &["email"]),
        unique(
            "location_counters",
            "location_kind",
            &["location_id", "kind"],
        ),
        index("customers", "name", &["name", "id"]),
        index("customers", "created", &["created_at", "id"]),
        index("customers", "home_location", &["home_location_id"]),
        partial_vin,
        index("vehicles", "customer", &["customer_id", "created_at"]),
        index("vehicles", "plate", &["plate_number"]),
        index("vehicles", "created", &["created_at", "id"]),
        index(
            "vehicle_ownerships",
            "vehicle",
            &["vehicle_id", "started_at"],
        ),
        index(
            "odometer_readings",
            "vehicle",
            &["vehicle_id", "recorded_at"],
        ),
        unique("work_orders", "number", &["location_id", "seq"]),
        index(
            "work_orders",
            "board",
            &["location_id", "status", "updated_at"],
        ),
        index("work_orders", "customer", &["customer_id", "created_at"]),
        index("work_orders", "vehicle", &["vehicle_id", "created_at"]),
        index("work_orders", "created", &["created_at", "id"]),
        index("work_orders", "updated", &["updated_at", "id"]),
        index(
            "work_order_lines",
            "work_order",
            &["work_order_id", "position"],
        ),
        unique(
            "work_order_mechanics",
            "assignment",
            &["work_order_id", "user_id"],
        ),
        index("work_order_mechanics", "user", &["user_id"]),
        index(
            "work_order_status_changes",
            "work_order",
            &["work_order_id", "created_at"],
        ),
        unique("invoices", "number", &["location_id", "seq"]),
        live_invoice,
        index("invoices", "customer", &["customer_id", "created_at"]),
        index("invoices", "status", &["status", "created_at"]),
        index("invoices", "created", &["created_at", "id"]),
        index("invoice_lines", "invoice", &["invoice_id", "position"]),
        index("payments", "invoice", &["invoice_id", "received_at"]),
        index("payments", "refund_of", &["refund_of_id"]),
        idem,
        unique("files", "object_key", &["object_key"]),
        index(
            "files",
            "parent",
            &["parent_type", "parent_id", "created_at"],
        ),
        index("files", "status", &["status", "created_at"]),
        unique("system_settings", "key", &["key"]),
        unique("directories", "code", &["code"]),
        unique("directory_entries", "code", &["directory_id", "code"]),
        index(
            "audit_log",
            "entity",
            &["entity_type", "entity_id", "created_at"],
        ),
        index("audit_log", "created", &["created_at", "id"]),
        index("audit_log", "actor", &["actor_id", "created_at"]),
        pending,
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in tables() {
            manager.create_table(t).await?;
        }
        for i in indexes() {
            manager.create_index(i).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in TABLES.iter().rev() {
            manager
                .drop_table(Table::drop().table(*name).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_created_table_is_dropped() {
        let created = created_names(&tables());
        let listed: Vec<String> = TABLES.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(created, listed);
    }
}
