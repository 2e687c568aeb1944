//! `audit_log`: One append-only audit entry.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "audit_log")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub actor_id: Option<Uuid>,
        pub actor_ip: Option<String>,
        pub request_id: Option<String>,
        pub entity_type: String,
        pub entity_id: Option<Uuid>,
        pub action: String,
        #[sea_orm(column_type = "Json", nullable)]
        pub diff: Option<Json>,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
