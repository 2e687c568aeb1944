//! `outbox`: A message written with its transaction, delivered later.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub topic: String,
        pub aggregate_type: String,
        pub aggregate_id: Uuid,
        #[sea_orm(column_type = "Json")]
        pub payload: Json,
        pub available_at: DateTimeUtc,
        pub processed_at: Option<DateTimeUtc>,
        pub attempts: i32,
        pub last_error: Option<String>,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
