//! Who is calling and from where: a signed-in user (with their session) or an integration's key, stamped on
//! every audit entry.

use uuid::Uuid;

/// Who is acting and from where: stamped on audit entries.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The signed-in user, if a user (not an integration) is calling.
    pub user_id: Option<Uuid>,
    /// The session the user's access token belongs to.
    pub session_id: Option<Uuid>,
    /// The integration's API key, if one is calling.
    pub api_key: Option<ApiKeyCaller>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ApiKeyCaller {
    pub id: Uuid,
    pub role: String,
}

impl Caller {
    pub fn is_authenticated(&self) -> bool {
        self.user_id.is_some() || self.api_key.is_some()
    }

    /// Whose name goes on the audit entry: the user, or the API key an integration used.
    pub fn actor_id(&self) -> Option<Uuid> {
        self.user_id.or(self.api_key.as_ref().map(|k| k.id))
    }
}
