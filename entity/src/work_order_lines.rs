//! `work_order_lines`: A labour, part, fee or discount line of a work order.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "work_order_lines")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub version: i32,
        pub work_order_id: Uuid,
        pub position: i32,
        pub kind: String,
        pub description: String,
        pub quantity_milli: i64,
        pub unit_price_minor: i64,
        pub tax_rate_bp: i32,
        pub mechanic_id: Option<Uuid>,
        pub part_number: Option<String>,
        pub net_minor: i64,
        pub tax_minor: i64,
        pub total_minor: i64,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
