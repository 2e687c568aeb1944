//! casbin, with its model here and its rules in the database (`casbin_rule`, through sea-orm on both backends),
//! and the per-request [`Access`] derived from it. A change to the rules reloads this process's enforcer at once
//! and, through Redis, every other replica's.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use casbin::{Adapter, CoreApi, DefaultModel, Enforcer, Filter, MgmtApi, Model};
use entity::casbin_rule;
use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use tokio::sync::RwLock;
use uuid::Uuid;

use super::catalog::{OWNER, Perm};
use crate::auth::Caller;
use crate::fanout::Fanout;

/// RBAC with domains: a user holds a role in a location (its id) or everywhere (`*`); roles hold permissions
/// (`resource`, `action`) everywhere.
pub const MODEL: &str = r#"
[request_definition]
r = sub, dom, obj, act

[policy_definition]
p = sub, dom, obj, act

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow))

[matchers]
m = (g(r.sub, p.sub, r.dom) || g(r.sub, p.sub, "*")) && (p.dom == "*" || p.dom == r.dom) && r.obj == p.obj && r.act == p.act
"#;

/// Every location.
pub const EVERYWHERE: &str = "*";

/// casbin's adapter over sea-orm: the standard `casbin_rule` table on PostgreSQL or SQLite.
pub struct SeaOrmAdapter {
    conn: DatabaseConnection,
}

impl SeaOrmAdapter {
    pub fn new(conn: DatabaseConnection) -> Self {
        Self { conn }
    }
}

fn adapter_error(e: impl std::error::Error + Send + Sync + 'static) -> casbin::Error {
    casbin::Error::AdapterError(casbin::error::AdapterError(Box::new(e)))
}

/// A rule as stored: ptype and up to six values, unused ones empty.
fn row(ptype: &str, rule: &[String]) -> casbin_rule::ActiveModel {
    let v = |i: usize| Set(rule.get(i).cloned().unwrap_or_default());
    casbin_rule::ActiveModel {
        ptype: Set(ptype.to_owned()),
        v0: v(0),
        v1: v(1),
        v2: v(2),
        v3: v(3),
        v4: v(4),
        v5: v(5),
        ..Default::default()
    }
}

fn values(r: &casbin_rule::Model) -> Vec<String> {
    let mut v = vec![
        r.v0.clone(),
        r.v1.clone(),
        r.v2.clone(),
        r.v3.clone(),
        r.v4.clone(),
        r.v5.clone(),
    ];
    while v.last().is_some_and(String::is_empty) {
        v.pop();
    }
    v
}

fn matches(r: &casbin_rule::Model, field_index: usize, field_values: &[String]) -> bool {
    let all = [&r.v0, &r.v1, &r.v2, &r.v3, &r.v4, &r.v5];
    field_values.iter().enumerate().all(|(i, want)| {
        want.is_empty() || all.get(field_index + i).is_some_and(|have| *have == want)
    })
}

impl SeaOrmAdapter {
    async fn rules(&self) -> casbin::Result<Vec<casbin_rule::Model>> {
        casbin_rule::Entity::find()
            .all(&self.conn)
            .await
            .map_err(adapter_error)
    }

    async fn delete(
        &self,
        ptype: &str,
        keep: impl Fn(&casbin_rule::Model) -> bool,
    ) -> casbin::Result<bool> {
        let doomed: Vec<i32> = self
            .rules()
            .await?
            .into_iter()
            .filter(|r| r.ptype == ptype && !keep(r))
            .map(|r| r.id)
            .collect();
        if doomed.is_empty() {
            return Ok(false);
        }
        casbin_rule::Entity::delete_many()
            .filter(casbin_rule::Column::Id.is_in(doomed))
            .exec(&self.conn)
            .await
            .map_err(adapter_error)?;
        Ok(true)
    }
}

#[async_trait::async_trait]
impl Adapter for SeaOrmAdapter {
    async fn load_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        for r in self.rules().await? {
            let sec = r.ptype.chars().next().map(String::from).unwrap_or_default();
            m.add_policy(&sec, &r.ptype, values(&r));
        }
        Ok(())
    }

    async fn load_filtered_policy<'a>(
        &mut self,
        m: &mut dyn Model,
        f: Filter<'a>,
    ) -> casbin::Result<()> {
        for r in self.rules().await? {
            let sec = r.ptype.chars().next().map(String::from).unwrap_or_default();
            let filter: Vec<String> = match sec.as_str() {
                "p" => f.p.iter().map(|s| (*s).to_owned()).collect(),
                _ => f.g.iter().map(|s| (*s).to_owned()).collect(),
            };
            if matches(&r, 0, &filter) {
                m.add_policy(&sec, &r.ptype, values(&r));
            }
        }
        Ok(())
    }

    async fn save_policy(&mut self, m: &mut dyn Model) -> casbin::Result<()> {
        self.clear_policy().await?;
        for sec in ["p", "g"] {
            let Some(map) = m.get_model().get(sec) else {
                continue;
            };
            for (ptype, assertion) in map {
                for rule in assertion.get_policy() {
                    row(ptype, rule)
                        .insert(&self.conn)
                        .await
                        .map_err(adapter_error)?;
                }
            }
        }
        Ok(())
    }

    async fn clear_policy(&mut self) -> casbin::Result<()> {
        casbin_rule::Entity::delete_many()
            .exec(&self.conn)
            .await
            .map_err(adapter_error)?;
        Ok(())
    }

    fn is_filtered(&self) -> bool {
        false
    }

    async fn add_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        row(ptype, &rule)
            .insert(&self.conn)
            .await
            .map_err(adapter_error)?;
        Ok(true)
    }

    async fn add_policies(
        &mut self,
        sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        for rule in rules {
            self.add_policy(sec, ptype, rule).await?;
        }
        Ok(true)
    }

    async fn remove_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        rule: Vec<String>,
    ) -> casbin::Result<bool> {
        self.delete(ptype, |r| values(r) != rule).await
    }

    async fn remove_policies(
        &mut self,
        _sec: &str,
        ptype: &str,
        rules: Vec<Vec<String>>,
    ) -> casbin::Result<bool> {
        self.delete(ptype, |r| !rules.contains(&values(r))).await
    }

    async fn remove_filtered_policy(
        &mut self,
        _sec: &str,
        ptype: &str,
        field_index: usize,
        field_values: Vec<String>,
    ) -> casbin::Result<bool> {
        self.delete(ptype, |r| !matches(r, field_index, &field_values))
            .await
    }
}

/// Where a permission holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Everywhere,
    Locations(BTreeSet<Uuid>),
}

/// A role a subject holds, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub role: String,
    pub domain: String,
}

/// What one caller may do, worked out once per request from the enforcer's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Access {
    pub user_id: Option<Uuid>,
    grants: HashMap<Perm, Scope>,
    pub holdings: Vec<Holding>,
}

impl Access {
    /// Somewhere, at least.
    pub fn can(&self, p: Perm) -> bool {
        self.grants.contains_key(&p)
    }

    /// At `location`; a record with no location needs the permission anywhere.
    pub fn can_at(&self, p: Perm, location: Option<Uuid>) -> bool {
        match (self.grants.get(&p), location) {
            (None, _) => false,
            (Some(Scope::Everywhere), _) | (Some(_), None) => true,
            (Some(Scope::Locations(set)), Some(l)) => set.contains(&l),
        }
    }

    pub fn scope(&self, p: Perm) -> Option<&Scope> {
        self.grants.get(&p)
    }

    pub fn everywhere(&self, p: Perm) -> bool {
        matches!(self.grants.get(&p), Some(Scope::Everywhere))
    }

    pub fn permissions(&self) -> impl Iterator<Item = (Perm, &Scope)> {
        self.grants.iter().map(|(p, s)| (*p, s))
    }

    /// Access made of these grants, for tests of the rules that read it.
    #[cfg(test)]
    pub(crate) fn with_grants(
        user_id: Option<Uuid>,
        grants: impl IntoIterator<Item = (Perm, Scope)>,
    ) -> Access {
        Access {
            user_id,
            grants: grants.into_iter().collect(),
            holdings: Vec::new(),
        }
    }

    /// A user holding the owner role for every location (a branch-level owner is not the shop's owner, and
    /// an integration's key is nobody's owner).
    pub fn is_owner(&self) -> bool {
        self.user_id.is_some()
            && self
                .holdings
                .iter()
                .any(|h| h.role == OWNER && h.domain == EVERYWHERE)
    }

    /// Whether this caller may do everything `other` may, wherever `other` may do it.
    pub fn covers(&self, other: &Access) -> bool {
        other.permissions().all(|(p, scope)| match scope {
            Scope::Everywhere => self.everywhere(p),
            Scope::Locations(set) => set.iter().all(|l| self.can_at(p, Some(*l))),
        })
    }
}

/// The enforcer, shared by the requests of one process.
pub struct Policy {
    enforcer: RwLock<Enforcer>,
    fanout: Arc<Fanout>,
    /// Bumped by every reload: what was worked out from older rules is worked out again.
    generation: AtomicU64,
    /// Each subject's access under the rules of a generation: the same caller asks again and again, and
    /// the rules change only when the owner edits them.
    worked_out: Mutex<HashMap<String, (u64, Arc<Access>)>>,
    /// The generation, for those who follow the rules as they change (`myAccessChanged`, and every WebSocket
    /// connection, which ends when its user's access changes).
    reloaded: tokio::sync::watch::Sender<u64>,
}

/// Subjects whose access is remembered at most; past this the memory starts over.
const MAX_REMEMBERED: usize = 10_000;

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Policy")
    }
}

fn add(grants: &mut HashMap<Perm, Scope>, perm: Perm, domain: &str) {
    if domain == EVERYWHERE {
        grants.insert(perm, Scope::Everywhere);
        return;
    }
    let Ok(location) = domain.parse::<Uuid>() else {
        return;
    };
    match grants
        .entry(perm)
        .or_insert_with(|| Scope::Locations(BTreeSet::new()))
    {
        Scope::Everywhere => {}
        Scope::Locations(set) => {
            set.insert(location);
        }
    }
}

impl Policy {
    /// Loads the rules, reloads them whenever another replica announces a change (or may have), and, since an
    /// announcement can be lost and rules can be written outside the server, at least every `refresh`.
    pub async fn load(
        conn: DatabaseConnection,
        fanout: Arc<Fanout>,
        refresh: std::time::Duration,
    ) -> anyhow::Result<Arc<Self>> {
        let model = DefaultModel::from_str(MODEL).await?;
        let mut enforcer = Enforcer::new(model, SeaOrmAdapter::new(conn)).await?;
        // Rules are written by the services, inside their audited transactions; casbin only reads them.
        enforcer.enable_auto_save(false);
        let me = Arc::new(Self {
            enforcer: RwLock::new(enforcer),
            fanout: Arc::clone(&fanout),
            generation: AtomicU64::new(0),
            worked_out: Mutex::default(),
            reloaded: tokio::sync::watch::Sender::new(0),
        });
        let weak = Arc::downgrade(&me);
        fanout.on("policy", move |_| {
            if let Some(policy) = weak.upgrade() {
                tokio::spawn(async move { policy.reload_logged().await });
            }
        });
        let weak = Arc::downgrade(&me);
        let every = refresh.max(std::time::Duration::from_secs(1));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let Some(policy) = weak.upgrade() else {
                    return;
                };
                policy.reload_logged().await;
            }
        });
        Ok(me)
    }

    /// Re-reads the rules from the database.
    pub async fn reload(&self) -> anyhow::Result<()> {
        let mut enforcer = self.enforcer.write().await;
        let loaded = enforcer.load_policy().await;
        // Even a failed load may have changed the rules half way: nothing worked out before it stands.
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        drop(enforcer);
        self.reloaded.send_replace(generation);
        loaded?;
        Ok(())
    }

    async fn reload_logged(&self) {
        if let Err(e) = self.reload().await {
            tracing::error!(error = format!("{e:#}"), "reloading the access policy");
        }
    }

    /// Marked changed by every reload from now on (a periodic one too, which may change nothing).
    pub fn reloads(&self) -> tokio::sync::watch::Receiver<u64> {
        self.reloaded.subscribe()
    }

    /// Reloads here and tells the other replicas to do the same. Call it after the change has committed.
    pub async fn changed(&self) {
        self.reload_logged().await;
        self.fanout.announce("policy", String::new());
    }

    /// Whether casbin allows `subject` the permission at `location`: the decision `explainAccess` reports.
    pub async fn enforce(&self, subject: &str, location: &str, perm: Perm) -> bool {
        let i = perm.info();
        self.enforcer
            .read()
            .await
            .enforce((subject, location, i.resource, i.action))
            .unwrap_or(false)
    }

    /// The roles `subject` holds and where, in order: the rules come from the database in no set order, and
    /// the same holdings must compare equal after a reload.
    pub async fn holdings(&self, subject: &str) -> Vec<Holding> {
        let mut holdings: Vec<Holding> = self
            .enforcer
            .read()
            .await
            .get_filtered_grouping_policy(0, vec![subject.to_owned()])
            .into_iter()
            .filter_map(|g| {
                Some(Holding {
                    role: g.get(1)?.clone(),
                    domain: g.get(2)?.clone(),
                })
            })
            .collect();
        holdings.sort_by(|a, b| (&a.role, &a.domain).cmp(&(&b.role, &b.domain)));
        holdings
    }

    /// The permissions granted to a role.
    pub async fn grants_of(&self, role: &str) -> BTreeSet<Perm> {
        self.enforcer
            .read()
            .await
            .get_filtered_policy(0, vec![role.to_owned()])
            .into_iter()
            .filter_map(|p| Perm::from_parts(p.get(2)?, p.get(3)?))
            .collect()
    }

    /// Every (user, role, domain) assignment.
    pub async fn assignments(&self) -> Vec<Vec<String>> {
        self.enforcer.read().await.get_grouping_policy()
    }

    pub async fn access_for_holdings(
        &self,
        user_id: Option<Uuid>,
        holdings: Vec<Holding>,
    ) -> Access {
        let e = self.enforcer.read().await;
        let mut grants = HashMap::new();
        for h in &holdings {
            for p in e.get_filtered_policy(0, vec![h.role.clone()]) {
                if let (Some(res), Some(act)) = (p.get(2), p.get(3))
                    && let Some(perm) = Perm::from_parts(res, act)
                {
                    add(&mut grants, perm, &h.domain);
                }
            }
        }
        Access {
            user_id,
            grants,
            holdings,
        }
    }

    /// What a user may do under the current rules, worked out afresh (for checks on another account).
    pub async fn access_of_user(&self, user: Uuid) -> Access {
        let holdings = self.holdings(&user.to_string()).await;
        self.access_for_holdings(Some(user), holdings).await
    }

    /// What the caller may do: a user through the roles they hold, an API key through its role everywhere.
    /// Worked out once per subject and rules generation.
    pub async fn access(&self, caller: &Caller) -> Arc<Access> {
        let subject = match (&caller.api_key, caller.user_id) {
            (Some(key), _) => format!("key:{}", key.role),
            (None, Some(user)) => user.to_string(),
            (None, None) => return Arc::default(),
        };
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((g, access)) = self.remembered().get(&subject)
            && *g == generation
        {
            return Arc::clone(access);
        }
        let access = Arc::new(match &caller.api_key {
            Some(key) => {
                let holdings = vec![Holding {
                    role: key.role.clone(),
                    domain: EVERYWHERE.to_owned(),
                }];
                self.access_for_holdings(None, holdings).await
            }
            None => {
                let holdings = self.holdings(&subject).await;
                self.access_for_holdings(caller.user_id, holdings).await
            }
        });
        let mut remembered = self.remembered();
        // Worked out from rules that have since been reloaded: good for this request, not for the next.
        if self.generation.load(Ordering::SeqCst) == generation {
            if remembered.len() >= MAX_REMEMBERED {
                remembered.clear();
            }
            remembered.insert(subject, (generation, Arc::clone(&access)));
        }
        access
    }

    fn remembered(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, Arc<Access>)>> {
        self.worked_out.lock().unwrap_or_else(|p| p.into_inner())
    }
}
