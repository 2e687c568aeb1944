//! Roles and permissions, as the owner edits them: roles (create, rename, describe, delete when unused), their
//! grants, and who holds which role where. Nobody grants more than they hold, and the shop always keeps an owner.
//! Every edit is audited with its before and after, and reaches every replica's enforcer at once.

use std::collections::BTreeSet;

use chrono::Utc;
use entity::{casbin_rule, roles, users};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde_json::json;
use uuid::Uuid;

use super::{Liveness, audit, edit, lock_versioned};
use crate::auth::Caller;
use crate::auth::catalog::{BUILT_IN_ROLES, OWNER, Perm};
use crate::auth::policy::{Access, EVERYWHERE, Policy};
use crate::db::Db;
use crate::domain::NonEmpty;
use crate::error::{AppError, AppResult};

fn p_rule(role: &str, perm: Perm) -> casbin_rule::ActiveModel {
    let i = perm.info();
    rule("p", [role, EVERYWHERE, i.resource, i.action])
}

/// The rule that `user` holds `role` at `domain` (a location id or [`EVERYWHERE`]).
pub fn holding(user: Uuid, role: &str, domain: &str) -> casbin_rule::ActiveModel {
    rule("g", [user.to_string().as_str(), role, domain])
}

fn rule<const N: usize>(ptype: &str, v: [&str; N]) -> casbin_rule::ActiveModel {
    let get = |i: usize| Set(v.get(i).map(|s| (*s).to_owned()).unwrap_or_default());
    casbin_rule::ActiveModel {
        ptype: Set(ptype.to_owned()),
        v0: get(0),
        v1: get(1),
        v2: get(2),
        v3: get(3),
        v4: get(4),
        v5: get(5),
        ..Default::default()
    }
}

async fn existing_rules<C: ConnectionTrait>(conn: &C) -> AppResult<Vec<casbin_rule::Model>> {
    Ok(casbin_rule::Entity::find().all(conn).await?)
}

/// Creates the built-in roles the first time, and gives the owner role every permission in the catalog (new
/// permissions included). Idempotent; safe when several replicas start at once.
pub async fn seed_built_in(db: &Db) -> AppResult<()> {
    let tx = db.write_tx().await?;
    let have: BTreeSet<String> = roles::Entity::find()
        .all(&tx)
        .await?
        .into_iter()
        .map(|r| r.key)
        .collect();
    let rules = existing_rules(&tx).await?;
    let has_p = |role: &str, p: Perm| {
        let i = p.info();
        rules
            .iter()
            .any(|r| r.ptype == "p" && r.v0 == role && r.v2 == i.resource && r.v3 == i.action)
    };
    let now = Utc::now();
    for b in BUILT_IN_ROLES {
        let fresh = !have.contains(b.key);
        if fresh {
            roles::ActiveModel {
                id: Set(Uuid::now_v7()),
                created_at: Set(now),
                updated_at: Set(now),
                key: Set(b.key.to_owned()),
                name: Set(b.name.to_owned()),
                description: Set(Some(b.description.to_owned())),
                built_in: Set(true),
                version: Set(1),
            }
            .insert(&tx)
            .await?;
        }
        let grants: Vec<Perm> = if b.key == OWNER {
            Perm::all().collect()
        } else if fresh {
            b.grants.to_vec()
        } else {
            Vec::new()
        };
        for p in grants {
            if !has_p(b.key, p) {
                p_rule(b.key, p).insert(&tx).await?;
            }
        }
    }
    match tx.commit().await {
        Ok(()) => Ok(()),
        // Another replica seeded at the same moment: its rows stand.
        Err(e) if AppError::from(e.clone()).is_user_error() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

pub async fn list(db: &Db) -> AppResult<Vec<roles::Model>> {
    Ok(roles::Entity::find()
        .order_by_asc(roles::Column::Name)
        .all(&db.conn)
        .await?)
}

pub async fn find_by_key<C: ConnectionTrait>(
    conn: &C,
    key: &str,
) -> AppResult<Option<roles::Model>> {
    Ok(roles::Entity::find()
        .filter(roles::Column::Key.eq(key))
        .one(conn)
        .await?)
}

async fn role_by_id<C: ConnectionTrait>(conn: &C, id: Uuid) -> AppResult<roles::Model> {
    roles::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

fn no_escalation(access: &Access, p: Perm, domain: &str) -> AppResult<()> {
    let held = if domain == EVERYWHERE {
        access.everywhere(p)
    } else {
        access.can_at(p, domain.parse().ok())
    };
    if held {
        Ok(())
    } else {
        Err(AppError::invalid(
            "",
            "escalation",
            format!(
                "you cannot hand out `{}`: you do not hold it there yourself",
                p.key()
            ),
        ))
    }
}

pub async fn create(
    db: &Db,
    policy: &Policy,
    caller: &Caller,
    name: NonEmpty,
    description: Option<String>,
) -> AppResult<roles::Model> {
    let tx = db.write_tx().await?;
    let now = Utc::now();
    let id = Uuid::now_v7();
    let role = roles::ActiveModel {
        id: Set(id),
        created_at: Set(now),
        updated_at: Set(now),
        key: Set(format!("role_{}", id.simple())),
        name: Set(name.into_inner()),
        description: Set(description),
        built_in: Set(false),
        version: Set(1),
    }
    .insert(&tx)
    .await?;
    audit::record(&tx, caller, "role", role.id, "create", None, Some(&role)).await?;
    tx.commit().await?;
    policy.changed().await;
    Ok(role)
}

pub async fn update(
    db: &Db,
    caller: &Caller,
    id: Uuid,
    version: i32,
    name: Option<NonEmpty>,
    description: Option<Option<String>>,
) -> AppResult<roles::Model> {
    edit::<roles::ActiveModel>(
        db,
        caller,
        "role",
        id,
        version,
        "update",
        async |_, _, a| {
            if let Some(n) = name {
                a.name = Set(n.into_inner());
            }
            if let Some(d) = description {
                a.description = Set(d);
            }
            Ok(())
        },
    )
    .await
}

/// Deletes a role nobody holds; the owner role stays.
pub async fn delete(
    db: &Db,
    policy: &Policy,
    caller: &Caller,
    id: Uuid,
    version: i32,
) -> AppResult<roles::Model> {
    let tx = db.write_tx().await?;
    let role = lock_versioned::<roles::Entity, _>(&tx, id, version, Liveness::Live).await?;
    if role.key == OWNER {
        return Err(AppError::invalid(
            "id",
            "owner_role_fixed",
            "the owner role cannot be deleted",
        ));
    }
    let holders = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("g"))
        .filter(casbin_rule::Column::V1.eq(&role.key))
        .all(&tx)
        .await?;
    if !holders.is_empty() {
        return Err(AppError::invalid(
            "id",
            "role_in_use",
            format!(
                "{} user(s) hold this role; unassign them first",
                holders.len()
            ),
        ));
    }
    let keys = {
        use sea_orm::PaginatorTrait;
        entity::api_keys::Entity::find()
            .filter(entity::api_keys::Column::Role.eq(&role.key))
            .filter(entity::api_keys::Column::RevokedAt.is_null())
            .count(&tx)
            .await?
    };
    if keys > 0 {
        return Err(AppError::invalid(
            "id",
            "role_in_use",
            format!("{keys} API key(s) act with this role; revoke them first"),
        ));
    }
    casbin_rule::Entity::delete_many()
        .filter(casbin_rule::Column::Ptype.eq("p"))
        .filter(casbin_rule::Column::V0.eq(&role.key))
        .exec(&tx)
        .await?;
    roles::Entity::delete_by_id(id).exec(&tx).await?;
    audit::record(&tx, caller, "role", id, "delete", Some(&role), None).await?;
    tx.commit().await?;
    policy.changed().await;
    Ok(role)
}

/// Grants (or revokes) permissions on a role. Nobody grants or revokes what they do not hold everywhere; the
/// owner role always holds everything.
pub async fn set_grants(
    db: &Db,
    policy: &Policy,
    caller: &Caller,
    access: &Access,
    id: Uuid,
    perms: &[Perm],
    grant: bool,
) -> AppResult<roles::Model> {
    let tx = db.write_tx().await?;
    let role = role_by_id(&tx, id).await?;
    if role.key == OWNER {
        return Err(AppError::invalid(
            "roleId",
            "owner_role_fixed",
            "the owner role always holds every permission",
        ));
    }
    // Taking a right away from a role is as much a use of it as handing it out: otherwise one could strip the
    // roles of those above them until they could act on them.
    for p in perms {
        no_escalation(access, *p, EVERYWHERE)?;
    }
    let before: BTreeSet<String> = grants_in(&tx, &role.key).await?;
    for p in perms {
        let i = p.info();
        let has = before.contains(&p.key());
        if grant && !has {
            p_rule(&role.key, *p).insert(&tx).await?;
        } else if !grant && has {
            casbin_rule::Entity::delete_many()
                .filter(casbin_rule::Column::Ptype.eq("p"))
                .filter(casbin_rule::Column::V0.eq(&role.key))
                .filter(casbin_rule::Column::V2.eq(i.resource))
                .filter(casbin_rule::Column::V3.eq(i.action))
                .exec(&tx)
                .await?;
        }
    }
    let after = grants_in(&tx, &role.key).await?;
    let action = if grant { "grant" } else { "revoke" };
    audit::event(
        &tx,
        caller,
        "role",
        Some(role.id),
        action,
        json!({ "before": before, "after": after }),
    )
    .await?;
    tx.commit().await?;
    policy.changed().await;
    Ok(role)
}

async fn grants_in<C: ConnectionTrait>(conn: &C, role: &str) -> AppResult<BTreeSet<String>> {
    Ok(casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("p"))
        .filter(casbin_rule::Column::V0.eq(role))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| format!("{}:{}", r.v2, r.v3))
        .collect())
}

/// Active users holding the owner role for every location: the shop's owners. A branch-level owner role does
/// not count, or it could stand in while the last shop-wide owner is removed.
async fn owners<C: ConnectionTrait>(conn: &C) -> AppResult<BTreeSet<String>> {
    let holders: Vec<String> = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("g"))
        .filter(casbin_rule::Column::V1.eq(OWNER))
        .filter(casbin_rule::Column::V2.eq(EVERYWHERE))
        .all(conn)
        .await?
        .into_iter()
        .map(|r| r.v0)
        .collect();
    let ids: Vec<Uuid> = holders.iter().filter_map(|h| h.parse().ok()).collect();
    Ok(users::Entity::find()
        .filter(users::Column::Id.is_in(ids))
        .filter(users::Column::DeletedAt.is_null())
        .filter(users::Column::Status.eq("active"))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| u.id.to_string())
        .collect())
}

/// Serialises the changes that can take an owner away (unassigning the owner role, blocking, deleting), so two
/// owners removing each other at once cannot both see the other still there. On SQLite the write transaction,
/// taken up front, already does; PostgreSQL takes a transaction-scoped advisory lock.
pub async fn lock_owner_set<C: ConnectionTrait>(conn: &C) -> AppResult<()> {
    if conn.get_database_backend() == sea_orm::DbBackend::Postgres {
        conn.execute_unprepared("SELECT pg_advisory_xact_lock(7310420001)")
            .await?;
    }
    Ok(())
}

fn only_owners_handle_owners(access: &Access) -> AppResult<()> {
    if access.is_owner() {
        Ok(())
    } else {
        Err(AppError::invalid(
            "roleId",
            "escalation",
            "only the shop's owners give or take the owner role",
        ))
    }
}

/// Assigns (or unassigns) a role to a user for one location or everywhere (`None`). Either needs every
/// permission of the role there, the owner role needs an owner, and the last shop-wide owner keeps it.
#[allow(clippy::too_many_arguments)]
pub async fn set_assignment(
    db: &Db,
    policy: &Policy,
    caller: &Caller,
    access: &Access,
    user: Uuid,
    role_id: Uuid,
    location: Option<Uuid>,
    assign: bool,
) -> AppResult<users::Model> {
    let tx = db.write_tx().await?;
    // The user's row is locked so assignments and blocking/deleting them do not interleave.
    let target = users::Entity::find_by_id(user)
        .filter(users::Column::DeletedAt.is_null())
        .lock_exclusive()
        .one(&tx)
        .await?
        .ok_or(AppError::NotFound)?;
    let role = role_by_id(&tx, role_id).await?;
    if let Some(l) = location {
        entity::locations::Entity::find_by_id(l)
            .filter(entity::locations::Column::DeletedAt.is_null())
            .one(&tx)
            .await?
            .ok_or_else(|| AppError::invalid("locationId", "not_found", "no such location"))?;
    }
    let domain = location.map_or_else(|| EVERYWHERE.to_owned(), |l| l.to_string());
    let subject = user.to_string();
    let held: Vec<casbin_rule::Model> = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("g"))
        .filter(casbin_rule::Column::V0.eq(&subject))
        .all(&tx)
        .await?;
    let before: Vec<String> = held.iter().map(|r| format!("{}@{}", r.v1, r.v2)).collect();
    let exists = held.iter().any(|r| r.v1 == role.key && r.v2 == domain);
    // Taking a role away is as much a use of its rights as handing it out: nobody does either with rights
    // they do not hold there themselves, and only owners give or take the owner role.
    if role.key == OWNER {
        only_owners_handle_owners(access)?;
    }
    for p in policy.grants_of(&role.key).await {
        no_escalation(access, p, &domain)?;
    }
    if assign {
        if !exists {
            rule("g", [subject.as_str(), role.key.as_str(), domain.as_str()])
                .insert(&tx)
                .await?;
        }
    } else if exists {
        if role.key == OWNER && domain == EVERYWHERE {
            lock_owner_set(&tx).await?;
            if is_last_owner(&tx, user).await? {
                return Err(AppError::invalid(
                    "userId",
                    "last_owner",
                    "the shop must keep at least one owner",
                ));
            }
        }
        casbin_rule::Entity::delete_many()
            .filter(casbin_rule::Column::Ptype.eq("g"))
            .filter(casbin_rule::Column::V0.eq(&subject))
            .filter(casbin_rule::Column::V1.eq(&role.key))
            .filter(casbin_rule::Column::V2.eq(&domain))
            .exec(&tx)
            .await?;
    }
    let after: Vec<String> = casbin_rule::Entity::find()
        .filter(casbin_rule::Column::Ptype.eq("g"))
        .filter(casbin_rule::Column::V0.eq(&subject))
        .all(&tx)
        .await?
        .iter()
        .map(|r| format!("{}@{}", r.v1, r.v2))
        .collect();
    let action = if assign {
        "assign_role"
    } else {
        "unassign_role"
    };
    audit::event(
        &tx,
        caller,
        "user",
        Some(user),
        action,
        json!({ "before": before, "after": after }),
    )
    .await?;
    tx.commit().await?;
    policy.changed().await;
    Ok(target)
}

/// Whether blocking or deleting `user` would leave the shop without an active owner. Call it after
/// [`lock_owner_set`], in the transaction that makes the change.
pub async fn is_last_owner<C: ConnectionTrait>(conn: &C, user: Uuid) -> AppResult<bool> {
    let o = owners(conn).await?;
    Ok(o.len() <= 1 && o.contains(&user.to_string()))
}

/// Where a record lives, for explaining access to it: a customer's home location, a vehicle's owner's, a work
/// order's or an invoice's branch. `Ok(None)` for a record that belongs to no location.
async fn record_location(db: &Db, kind: &str, id: Uuid) -> AppResult<Option<Uuid>> {
    use entity::{customers, invoices, locations, vehicles, work_orders};
    let c = &db.conn;
    Ok(match kind {
        "Customer" => {
            customers::Entity::find_by_id(id)
                .one(c)
                .await?
                .ok_or(AppError::NotFound)?
                .home_location_id
        }
        "Vehicle" => {
            let v = vehicles::Entity::find_by_id(id)
                .one(c)
                .await?
                .ok_or(AppError::NotFound)?;
            customers::Entity::find_by_id(v.customer_id)
                .one(c)
                .await?
                .ok_or(AppError::NotFound)?
                .home_location_id
        }
        "WorkOrder" => Some(
            work_orders::Entity::find_by_id(id)
                .one(c)
                .await?
                .ok_or(AppError::NotFound)?
                .location_id,
        ),
        "Invoice" => Some(
            invoices::Entity::find_by_id(id)
                .one(c)
                .await?
                .ok_or(AppError::NotFound)?
                .location_id,
        ),
        "Location" => Some(
            locations::Entity::find_by_id(id)
                .one(c)
                .await?
                .ok_or(AppError::NotFound)?
                .id,
        ),
        _ => {
            return Err(AppError::invalid(
                "recordId",
                "invalid_id",
                "access is explained for customers, vehicles, work orders, invoices and locations",
            ));
        }
    })
}

/// Why a user may or may not use a permission (at a location, or anywhere).
#[derive(Debug)]
pub struct Explanation {
    pub allowed: bool,
    /// The roles (and where they are held) that grant it.
    pub granted_by: Vec<(String, String)>,
    pub reason: String,
}

/// Why `user` may or may not use `perm`, anywhere, or on the record (its kind and id) when one is named.
pub async fn explain(
    db: &Db,
    policy: &Policy,
    user: Uuid,
    perm: Perm,
    record: Option<(String, Uuid)>,
) -> AppResult<Explanation> {
    let location = match record {
        Some((kind, id)) => Some(record_location(db, &kind, id).await?),
        None => None,
    };
    let u = users::Entity::find_by_id(user)
        .filter(users::Column::DeletedAt.is_null())
        .one(&db.conn)
        .await?
        .ok_or(AppError::NotFound)?;
    let holdings = policy.holdings(&user.to_string()).await;
    let mut granted_by = Vec::new();
    for h in &holdings {
        if policy.grants_of(&h.role).await.contains(&perm) {
            granted_by.push((h.role.clone(), h.domain.clone()));
        }
    }
    let key = perm.key();
    let (allowed, mut reason) = match location {
        Some(Some(l)) => {
            let allowed = policy
                .enforce(&user.to_string(), &l.to_string(), perm)
                .await;
            granted_by.retain(|(_, d)| d == EVERYWHERE || *d == l.to_string());
            let reason = if allowed {
                format!(
                    "`{key}` is granted at location {l} by {}",
                    describe(&granted_by)
                )
            } else if holdings
                .iter()
                .any(|h| h.domain == l.to_string() || h.domain == EVERYWHERE)
            {
                format!("no role the user holds at location {l} grants `{key}`")
            } else {
                format!("the user holds no role at location {l}")
            };
            (allowed, reason)
        }
        _ => {
            let allowed = !granted_by.is_empty();
            let reason = if allowed {
                format!("`{key}` is granted by {}", describe(&granted_by))
            } else if holdings.is_empty() {
                "the user holds no role".to_owned()
            } else {
                format!("no role the user holds grants `{key}`")
            };
            (allowed, reason)
        }
    };
    if u.status != "active" {
        reason.push_str("; but the account is blocked, so nothing is allowed now");
        return Ok(Explanation {
            allowed: false,
            granted_by,
            reason,
        });
    }
    Ok(Explanation {
        allowed,
        granted_by,
        reason,
    })
}

fn describe(granted: &[(String, String)]) -> String {
    granted
        .iter()
        .map(|(r, d)| {
            if d == EVERYWHERE {
                format!("role `{r}` (everywhere)")
            } else {
                format!("role `{r}` (at {d})")
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The caller's access now, then each time a change of the rules changes it, until their session or key stops
/// being valid. Starting with the present state leaves no gap between what the subscriber last read and the
/// first change, also after a reconnection. Every replica reloads its rules on every change, so this follows
/// changes made through any of them, and those written outside the server at the next periodic reload.
pub fn access_changes(
    db: Db,
    policy: std::sync::Arc<Policy>,
    caller: Caller,
) -> impl futures_util::Stream<Item = std::sync::Arc<Access>> + use<> {
    // Watching before the first reading: a reload between the two is still seen.
    let reloads = policy.reloads();
    futures_util::stream::unfold(
        (reloads, db, policy, caller, None),
        |(mut reloads, db, policy, caller, last)| async move {
            loop {
                if last.is_some() {
                    reloads.changed().await.ok()?;
                }
                // A subscriber signed out, blocked or revoked since hears nothing more.
                if !crate::auth::still_valid(&db, &caller).await {
                    return None;
                }
                let now = policy.access(&caller).await;
                if last.as_ref() != Some(&now) {
                    return Some((now.clone(), (reloads, db, policy, caller, Some(now))));
                }
            }
        },
    )
}
