//! `invoices`: An invoice issued from a work order.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "invoices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub location_id: Uuid,
        pub work_order_id: Uuid,
        pub customer_id: Uuid,
        pub seq: i64,
        pub number: String,
        pub status: String,
        pub currency: String,
        pub subtotal_minor: i64,
        pub discount_minor: i64,
        pub tax_minor: i64,
        pub total_minor: i64,
        pub paid_minor: i64,
        pub issued_at: Option<DateTimeUtc>,
        pub due_at: Option<DateTimeUtc>,
        pub voided_at: Option<DateTimeUtc>,
        pub void_reason: Option<String>,
        pub replaces_invoice_id: Option<Uuid>,
        pub deleted_at: Option<DateTimeUtc>,
        pub version: i32,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
