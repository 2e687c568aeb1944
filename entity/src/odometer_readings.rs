//! `odometer_readings`: A vehicle's odometer at a point in time.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "odometer_readings")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub vehicle_id: Uuid,
        pub work_order_id: Option<Uuid>,
        pub reading_km: i64,
        pub recorded_at: DateTimeUtc,
        pub is_correction: bool,
        pub recorded_by: Option<Uuid>,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
