//! `invoice_lines`: A line frozen on an invoice at issue.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "invoice_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub invoice_id: Uuid,
        pub position: i32,
        pub kind: String,
        pub description: String,
        pub quantity_milli: i64,
        pub unit_price_minor: i64,
        pub tax_rate_bp: i32,
        pub part_number: Option<String>,
        pub net_minor: i64,
        pub tax_minor: i64,
        pub total_minor: i64,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
