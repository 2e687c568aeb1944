//! `files`: An object in the bucket attached to a record.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "files")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub parent_type: String,
        pub parent_id: Uuid,
        pub object_key: String,
        pub original_name: String,
        pub content_type: String,
        pub size_bytes: i64,
        pub checksum_sha256: Option<String>,
        pub uploaded_by: Option<Uuid>,
        pub status: String,
        pub deleted_at: Option<DateTimeUtc>,
        pub version: i32,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
