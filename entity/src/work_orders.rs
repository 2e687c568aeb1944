//! `work_orders`: A repair order.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "work_orders")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub location_id: Uuid,
        pub seq: i64,
        pub number: String,
        pub customer_id: Uuid,
        pub vehicle_id: Uuid,
        pub status: String,
        pub complaint: String,
        pub diagnosis: Option<String>,
        pub notes: Option<String>,
        pub promised_at: Option<DateTimeUtc>,
        pub odometer_in_km: Option<i64>,
        pub approved_at: Option<DateTimeUtc>,
        pub approved_by_name: Option<String>,
        pub approval_method: Option<String>,
        pub subtotal_minor: i64,
        pub discount_minor: i64,
        pub tax_minor: i64,
        pub total_minor: i64,
        pub closed_at: Option<DateTimeUtc>,
        pub deleted_at: Option<DateTimeUtc>,
        pub version: i32,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
