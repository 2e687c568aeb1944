//! `customers`: A person or company the shop serves.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "customers")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub kind: String,
        pub name: String,
        pub name_folded: String,
        #[sea_orm(column_type = "Json")]
        pub phones: Json,
        #[sea_orm(column_type = "Json")]
        pub emails: Json,
        pub notes: Option<String>,
        pub marketing_consent: bool,
        pub home_location_id: Option<Uuid>,
        pub deleted_at: Option<DateTimeUtc>,
        pub version: i32,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
