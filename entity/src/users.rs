//! `users`: A staff account.

use sea_orm::entity::prelude::*;

crate::model! {
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: Uuid,
        pub created_at: DateTimeUtc,
        pub updated_at: DateTimeUtc,
        pub email: String,
        pub name: String,
        pub phone: Option<String>,
        pub password_hash: Option<String>,
        pub status: String,
        pub totp_secret_enc: Option<String>,
        pub totp_enabled: bool,
        pub last_login_at: Option<DateTimeUtc>,
        pub totp_last_step: Option<i64>,
        pub password_changed_at: Option<DateTimeUtc>,
        pub deleted_at: Option<DateTimeUtc>,
        pub version: i32,
        /// A new address waiting for its owner to confirm it; sign-in and resets use `email` until then.
        pub pending_email: Option<String>,
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
