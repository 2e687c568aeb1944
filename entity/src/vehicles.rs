//! `vehicles`: A customer's vehicle.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "vehicles")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub customer_id: Uuid,
        pub vin: Option<String>,
        pub plate_number: Option<String>,
        pub make: Option<String>,
        pub model: Option<String>,
        pub year: Option<i32>,
        pub engine: Option<String>,
        pub colour: Option<String>,
        pub odometer_km: Option<i64>,
        pub deleted_at: Option<DateTimeUtc>,
        pub version: i32,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
