//! `payments`: A payment or refund: an append-only ledger entry.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "payments")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub invoice_id: Uuid,
        pub amount_minor: i64,
        pub method_code: String,
        pub received_at: DateTimeUtc,
        pub reference: Option<String>,
        pub refund_of_id: Option<Uuid>,
        pub idempotency_key: Option<String>,
        pub request_hash: Option<String>,
        pub recorded_by: Option<Uuid>,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
