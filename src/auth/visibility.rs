//! Who may see a record: one rule per kind of record, declared once here and rendered three ways, so the three
//! cannot drift apart: the SQL condition that lists and counts filter with ([`Rule::condition`]), the check of
//! one loaded record for `node`, relations and subscriptions ([`Rule::admits`]), and the filter a search
//! engine applies to its hits ([`Rule::search_filter`]).
//!
//! A record sits at a location (a customer at its home branch, a vehicle at its owner's, a payment at its
//! invoice's) and may be assigned to users (a work order's mechanics). A rule names the permissions that see
//! every record where they are held, and optionally one that sees only records assigned to the caller.

use std::collections::BTreeSet;

use sea_orm::ColumnTrait;
use sea_orm::sea_query::{Condition, Expr, ExprTrait, SimpleExpr};
use uuid::Uuid;

use super::catalog::Perm;
use super::policy::{Access, Scope};

/// Where a loaded record sits, as far as seeing it goes.
#[derive(Debug, Clone, Copy)]
pub struct Placement<'a> {
    pub location: Option<Uuid>,
    /// The users the record is assigned to (a work order's mechanics).
    pub assigned: &'a [Uuid],
}

impl Placement<'_> {
    pub fn at(location: Option<Uuid>) -> Self {
        Placement {
            location,
            assigned: &[],
        }
    }
}

/// Who may see records of one kind.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Held together at a record's location, these see it.
    pub reads: &'static [Perm],
    /// Held at a record's location, this sees it when it is assigned to the caller.
    pub own: Option<Perm>,
    /// A record with no location is seen by whoever holds `reads` somewhere (a customer with no home branch,
    /// whom every branch serves).
    pub open_when_unlocated: bool,
    /// Held at a record's location too, whichever way it is seen (files need `file:read` beside their parent's
    /// rule).
    pub also: Option<Perm>,
    /// Who may ask for soft-deleted records besides live ones: those who may delete and restore them.
    pub deleted: Option<Perm>,
}

pub const CUSTOMER: Rule = Rule {
    reads: &[Perm::CustomerRead],
    own: None,
    open_when_unlocated: true,
    also: None,
    deleted: Some(Perm::CustomerDelete),
};

/// At the owner's home location.
pub const VEHICLE: Rule = Rule {
    reads: &[Perm::VehicleRead],
    own: None,
    open_when_unlocated: true,
    also: None,
    deleted: Some(Perm::VehicleDelete),
};

pub const WORK_ORDER: Rule = Rule {
    reads: &[Perm::WorkOrderRead],
    own: Some(Perm::WorkOrderReadAssigned),
    open_when_unlocated: false,
    also: None,
    deleted: Some(Perm::WorkOrderDelete),
};

pub const INVOICE: Rule = Rule {
    reads: &[Perm::InvoiceRead],
    own: None,
    open_when_unlocated: false,
    also: None,
    deleted: None,
};

/// At its invoice's location, by whoever may see the invoice and read payments there.
pub const PAYMENT: Rule = Rule {
    reads: &[Perm::InvoiceRead],
    own: None,
    open_when_unlocated: false,
    also: Some(Perm::PaymentRead),
    deleted: None,
};

/// A file is seen exactly when its parent is, by whoever may read files where the parent sits. Deleted files
/// are never listed: they wait only for the cleanup.
pub const fn file_of(parent: Rule) -> Rule {
    Rule {
        also: Some(Perm::FileRead),
        deleted: None,
        ..parent
    }
}

/// The rules of the kinds of record search finds.
pub const SEARCHABLE: [Rule; 4] = [CUSTOMER, VEHICLE, WORK_ORDER, INVOICE];

impl Rule {
    /// Whether the caller sees records of this kind anywhere (all of them, or their own).
    pub fn sees_some(&self, access: &Access) -> bool {
        self.reads.iter().all(|p| access.can(*p)) || self.own.is_some_and(|p| access.can(p))
    }
}

/// The kinds of record files attach to, as stored in `files.parent_type`, with the rule that sees them.
pub const FILE_PARENTS: [(&str, Rule); 4] = [
    ("customer", CUSTOMER),
    ("vehicle", VEHICLE),
    ("work_order", WORK_ORDER),
    ("invoice", INVOICE),
];

/// Where a set of permissions is held together: everywhere, at some locations, or nowhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Where {
    Everywhere,
    At(BTreeSet<Uuid>),
}

impl Where {
    fn of<'a>(access: &Access, perms: impl IntoIterator<Item = &'a Perm>) -> Where {
        let mut acc = Where::Everywhere;
        for p in perms {
            let here = match access.scope(*p) {
                None => Where::At(BTreeSet::new()),
                Some(Scope::Everywhere) => Where::Everywhere,
                Some(Scope::Locations(ls)) => Where::At(ls.clone()),
            };
            acc = match (acc, here) {
                (Where::Everywhere, w) | (w, Where::Everywhere) => w,
                (Where::At(a), Where::At(b)) => Where::At(a.intersection(&b).copied().collect()),
            };
        }
        acc
    }

    fn is_nowhere(&self) -> bool {
        matches!(self, Where::At(ls) if ls.is_empty())
    }
}

/// How a kind of record reaches its location and its assignments in SQL.
#[derive(Debug, Clone)]
pub struct Columns {
    /// The record's location: a column of its own, or one reached through a parent.
    pub location: Located,
    /// The record's id, and the table and columns listing who it is assigned to, if it can be.
    pub assignments: Option<Assignments>,
}

#[derive(Debug, Clone)]
pub enum Located {
    Column(SimpleExpr),
    /// `fk` names a row of `parent` (by its `id`), which is placed as `located` says.
    Through {
        fk: SimpleExpr,
        parent: &'static str,
        located: Box<Located>,
    },
}

#[derive(Debug, Clone)]
pub struct Assignments {
    pub id: SimpleExpr,
    pub table: &'static str,
    pub record: &'static str,
    pub user: &'static str,
}

/// A condition no row meets.
pub fn nothing() -> Condition {
    Condition::all().add(Expr::val(1).eq(0))
}

/// What a search engine is told to keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchFilter {
    Everything,
    Nothing,
    /// An expression in Meilisearch's filter syntax over `location_id` and `assigned_to`.
    Only(String),
}

impl Rule {
    /// What seeing a record needs at its location, beside being assigned to it.
    fn needs(&self) -> impl Iterator<Item = &Perm> {
        self.reads.iter().chain(&self.also)
    }

    fn seen(&self, access: &Access) -> Where {
        Where::of(access, self.needs())
    }

    /// Whether the caller sees every record of this kind, wherever it is: nothing about a record need be
    /// loaded to check it.
    pub fn sees_everything(&self, access: &Access) -> bool {
        self.needs().all(|p| access.everywhere(*p))
    }

    /// Whether the caller may ask for soft-deleted records besides live ones.
    pub fn may_include_deleted(&self, access: &Access) -> bool {
        self.deleted.is_some_and(|p| access.can(p))
    }

    fn unlocated_seen(&self, access: &Access) -> bool {
        self.open_when_unlocated && self.needs().all(|p| access.can(*p))
    }

    /// Whether a record at `location` could be seen only by being assigned to the caller: worth loading
    /// its assignments for [`Self::admits`].
    pub fn needs_assignments(&self, access: &Access, location: Uuid) -> bool {
        !self.seen_at(access, location) && self.own_at(access, location)
    }

    /// Where the own-records permission holds, for the caller it applies to (the renderings of whole sets).
    fn own(&self, access: &Access) -> Option<(Uuid, Where)> {
        let (user, p) = (access.user_id?, self.own?);
        let w = Where::of(access, std::iter::once(&p).chain(&self.also));
        (!w.is_nowhere()).then_some((user, w))
    }

    // The row check asks about one location, so it needs no sets: it runs for every record loaded.
    fn seen_at(&self, access: &Access, location: Uuid) -> bool {
        self.needs().all(|p| access.can_at(*p, Some(location)))
    }

    fn own_at(&self, access: &Access, location: Uuid) -> bool {
        access.user_id.is_some()
            && self.own.is_some_and(|p| access.can_at(p, Some(location)))
            && self.also.is_none_or(|p| access.can_at(p, Some(location)))
    }

    /// Whether the caller sees a record placed so: the check of one loaded row.
    pub fn admits(&self, access: &Access, at: Placement<'_>) -> bool {
        match at.location {
            None => self.unlocated_seen(access),
            Some(l) => {
                self.seen_at(access, l)
                    || (self.own_at(access, l)
                        && access.user_id.is_some_and(|me| at.assigned.contains(&me)))
            }
        }
    }

    /// The records the caller sees, as a SQL condition: what lists and counts filter with.
    pub fn condition(&self, access: &Access, cols: &Columns) -> Condition {
        let mut any = Condition::any();
        match self.seen(access) {
            Where::Everywhere => return Condition::all(),
            Where::At(ls) if !ls.is_empty() => any = any.add(located_in(&cols.location, &ls)),
            Where::At(_) => {}
        }
        if self.unlocated_seen(access) {
            any = any.add(located_nowhere(&cols.location));
        }
        if let (Some((me, w)), Some(a)) = (self.own(access), &cols.assignments) {
            let mine = sea_orm::sea_query::Query::select()
                .column(a.record)
                .from(a.table)
                .and_where(Expr::col(a.user).eq(me))
                .to_owned();
            let assigned = Condition::all().add(a.id.clone().in_subquery(mine));
            any = any.add(match w {
                Where::Everywhere => assigned,
                Where::At(ls) => assigned.add(located_in(&cols.location, &ls)),
            });
        }
        if any.is_empty() { nothing() } else { any }
    }

    /// The records the caller sees, in terms any search engine can apply: its documents carry their location
    /// (none when the record has none) and the users they are assigned to.
    pub fn search_scope(&self, access: &Access) -> SearchScope {
        let locations = match self.seen(access) {
            Where::Everywhere => return SearchScope::Everything,
            Where::At(ls) => ls,
        };
        let unlocated = self.unlocated_seen(access);
        let own = self.own(access).map(|(me, w)| match w {
            Where::Everywhere => (me, None),
            Where::At(ls) => (me, Some(ls)),
        });
        if locations.is_empty() && !unlocated && own.is_none() {
            return SearchScope::Nothing;
        }
        SearchScope::Only {
            locations,
            unlocated,
            own,
        }
    }

    /// The records the caller sees, in Meilisearch's filter syntax over `location_id` (absent when the record
    /// has none) and `assigned_to` (user ids).
    pub fn search_filter(&self, access: &Access) -> SearchFilter {
        self.search_scope(access).meilisearch()
    }
}

/// What a search engine is told to keep, from [`Rule::search_scope`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchScope {
    Everything,
    Nothing,
    Only {
        /// Records at these locations.
        locations: BTreeSet<Uuid>,
        /// Records with no location.
        unlocated: bool,
        /// Records assigned to this user (at these locations only, when given).
        own: Option<(Uuid, Option<BTreeSet<Uuid>>)>,
    },
}

impl SearchScope {
    /// The scope in Meilisearch's filter syntax. Only ids the server made go into it, never client text.
    pub fn meilisearch(&self) -> SearchFilter {
        let quoted = |ls: &BTreeSet<Uuid>| {
            ls.iter()
                .map(|l| format!("\"{l}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let SearchScope::Only {
            locations,
            unlocated,
            own,
        } = self
        else {
            return match self {
                SearchScope::Everything => SearchFilter::Everything,
                _ => SearchFilter::Nothing,
            };
        };
        let mut any = Vec::new();
        if !locations.is_empty() {
            any.push(format!("location_id IN [{}]", quoted(locations)));
        }
        if *unlocated {
            any.push("location_id NOT EXISTS".to_owned());
        }
        match own {
            Some((me, None)) => any.push(format!("assigned_to = \"{me}\"")),
            Some((me, Some(ls))) => any.push(format!(
                "(assigned_to = \"{me}\" AND location_id IN [{}])",
                quoted(ls)
            )),
            None => {}
        }
        SearchFilter::Only(any.join(" OR "))
    }
}

/// Records whose location meets `test`: by their own column, or through their parent's.
fn located(l: &Located, test: &dyn Fn(Expr) -> SimpleExpr) -> Condition {
    match l {
        Located::Column(c) => Condition::all().add(test(Expr::expr(c.clone()))),
        Located::Through {
            fk,
            parent,
            located: inner,
        } => Condition::all().add(
            fk.clone().in_subquery(
                sea_orm::sea_query::Query::select()
                    .column((*parent, "id"))
                    .from(*parent)
                    .cond_where(located(inner, test))
                    .to_owned(),
            ),
        ),
    }
}

fn located_in(l: &Located, ls: &BTreeSet<Uuid>) -> Condition {
    located(l, &|e| e.is_in(ls.iter().copied()))
}

fn located_nowhere(l: &Located) -> Condition {
    located(l, &|e| e.is_null())
}

/// A column of entity `E` as an expression, qualified by its table (it may sit inside subqueries).
pub fn column<C: ColumnTrait>(c: C) -> SimpleExpr {
    Expr::col((c.entity_name(), c))
}

/// The files the caller sees, whatever they are attached to: those of each kind of parent, by that parent's rule
/// through [`file_of`].
pub fn files_condition(access: &Access) -> Condition {
    let mut any = Condition::any();
    for (kind, parent) in FILE_PARENTS {
        let of_kind = Condition::all()
            .add(column(entity::files::Column::ParentType).eq(kind))
            .add(file_of(parent).condition(access, &columns::files_of(kind)));
        any = any.add(of_kind);
    }
    any
}

/// Where each kind of record sits, in SQL.
pub mod columns {
    use entity::{customers, files, invoices, payments, vehicles, work_orders};

    use super::{Assignments, Columns, Located, column};

    /// Placed through `fk`, a row of `parent` placed as `located`.
    fn through(
        fk: sea_orm::sea_query::SimpleExpr,
        parent: &'static str,
        located: Located,
    ) -> Located {
        Located::Through {
            fk,
            parent,
            located: Box::new(located),
        }
    }

    pub fn customers() -> Columns {
        Columns {
            location: Located::Column(column(customers::Column::HomeLocationId)),
            assignments: None,
        }
    }

    pub fn vehicles() -> Columns {
        let home = Located::Column(column(customers::Column::HomeLocationId));
        Columns {
            location: through(column(vehicles::Column::CustomerId), "customers", home),
            assignments: None,
        }
    }

    pub fn work_orders() -> Columns {
        Columns {
            location: Located::Column(column(work_orders::Column::LocationId)),
            assignments: Some(Assignments {
                id: column(work_orders::Column::Id),
                table: "work_order_mechanics",
                record: "work_order_id",
                user: "user_id",
            }),
        }
    }

    pub fn invoices() -> Columns {
        Columns {
            location: Located::Column(column(invoices::Column::LocationId)),
            assignments: None,
        }
    }

    pub fn payments() -> Columns {
        let at = Located::Column(column(invoices::Column::LocationId));
        Columns {
            location: through(column(payments::Column::InvoiceId), "invoices", at),
            assignments: None,
        }
    }

    /// Files attached to records of `kind` (as `files.parent_type` names it), placed where their parent is.
    pub fn files_of(kind: &str) -> Columns {
        let (table, parent) = match kind {
            "customer" => ("customers", customers()),
            "vehicle" => ("vehicles", vehicles()),
            "work_order" => ("work_orders", work_orders()),
            _ => ("invoices", invoices()),
        };
        let fk = column(files::Column::ParentId);
        Columns {
            location: through(fk.clone(), table, parent.location),
            assignments: parent.assignments.map(|a| Assignments { id: fk, ..a }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use entity::{
        customers, files, invoices, locations, payments, users, vehicles, work_order_mechanics,
        work_orders,
    };
    use sea_orm::{
        ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set,
    };
    use uuid::Uuid;

    use super::*;
    use crate::config::{DatabaseSettings, Secret};

    /// A caller holding each permission that places records nowhere, everywhere or at some locations.
    fn random_access(rng: &mut fastrand::Rng, staff: &[Uuid], locations: &[Uuid]) -> Access {
        let perms = [
            Perm::CustomerRead,
            Perm::VehicleRead,
            Perm::WorkOrderRead,
            Perm::WorkOrderReadAssigned,
            Perm::InvoiceRead,
            Perm::PaymentRead,
            Perm::FileRead,
        ];
        let mut grants = Vec::new();
        for p in perms {
            match rng.u8(0..4) {
                0 => {}
                1 => grants.push((p, Scope::Everywhere)),
                _ => {
                    let some = locations.iter().copied().filter(|_| rng.bool()).collect();
                    grants.push((p, Scope::Locations(some)));
                }
            }
        }
        let user =
            (!staff.is_empty() && rng.u8(0..5) > 0).then(|| staff[rng.usize(0..staff.len())]);
        Access::with_grants(user, grants)
    }

    /// Every row of `E`, as `f` maps it.
    async fn every<E: EntityTrait, T>(
        c: &impl ConnectionTrait,
        f: impl Fn(E::Model) -> T,
    ) -> Vec<T> {
        E::find()
            .all(c)
            .await
            .expect("rows")
            .into_iter()
            .map(f)
            .collect()
    }

    async fn ids<E: EntityTrait>(conn: &impl ConnectionTrait, cond: Condition) -> BTreeSet<Uuid>
    where
        E::Column: ColumnTrait,
    {
        let id = <E::Column as std::str::FromStr>::from_str("id")
            .ok()
            .expect("an id column");
        E::find()
            .select_only()
            .column(id)
            .filter(cond)
            .into_tuple::<Uuid>()
            .all(conn)
            .await
            .expect("ids")
            .into_iter()
            .collect()
    }

    #[tokio::test]
    async fn for_random_callers_a_record_is_listed_exactly_when_its_row_check_passes() {
        let settings = DatabaseSettings {
            url: Secret::new("sqlite::memory:".to_owned()),
            max_connections: 1,
            auto_migrate: true,
            remember_for: std::time::Duration::from_secs(5),
        };
        let db = crate::db::connect(&settings).await.expect("connect");
        db.migrate_up().await.expect("migrate");
        let volume = crate::seed::Volume {
            customers: 40,
            work_orders: 150,
        };
        crate::seed::demo(&db, volume, false).await.expect("seed");
        let c = &db.conn;
        // Some customers belong to no branch: every branch serves them.
        c.execute_unprepared("UPDATE customers SET home_location_id = NULL WHERE rowid % 4 = 0")
            .await
            .expect("unhome");
        let locations = every::<locations::Entity, _>(c, |l| l.id).await;
        let staff = every::<users::Entity, _>(c, |u| u.id).await;
        let homes: HashMap<Uuid, Option<Uuid>> =
            every::<customers::Entity, _>(c, |r| (r.id, r.home_location_id))
                .await
                .into_iter()
                .collect();
        let vehicles = every::<vehicles::Entity, _>(c, |v| (v.id, v.customer_id)).await;
        let orders = every::<work_orders::Entity, _>(c, |w| (w.id, w.location_id)).await;
        let mut mechanics: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
        for (order, user) in
            every::<work_order_mechanics::Entity, _>(c, |m| (m.work_order_id, m.user_id)).await
        {
            mechanics.entry(order).or_default().push(user);
        }
        let invoice_at: HashMap<Uuid, Uuid> =
            every::<invoices::Entity, _>(c, |i| (i.id, i.location_id))
                .await
                .into_iter()
                .collect();
        let pays = every::<payments::Entity, _>(c, |p| (p.id, p.invoice_id)).await;
        let mut rng = fastrand::Rng::with_seed(20261204);
        // Files on every kind of parent: (file, parent kind, parent).
        let parents: Vec<(&str, Uuid)> = (homes.keys().map(|id| ("customer", *id)))
            .chain(vehicles.iter().map(|(id, _)| ("vehicle", *id)))
            .chain(orders.iter().map(|(id, _)| ("work_order", *id)))
            .chain(invoice_at.keys().map(|id| ("invoice", *id)))
            .collect();
        let mut attached = Vec::new();
        for n in 0..300 {
            let (kind, parent) = parents[rng.usize(0..parents.len())];
            let id = Uuid::now_v7();
            let at = chrono::Utc::now();
            files::ActiveModel {
                id: Set(id),
                created_at: Set(at),
                updated_at: Set(at),
                parent_type: Set(kind.to_owned()),
                parent_id: Set(parent),
                object_key: Set(format!("k/{n}")),
                original_name: Set("f".to_owned()),
                content_type: Set("image/png".to_owned()),
                size_bytes: Set(1),
                checksum_sha256: Set(None),
                uploaded_by: Set(None),
                status: Set("ready".to_owned()),
                deleted_at: Set(None),
                version: Set(1),
            }
            .insert(c)
            .await
            .expect("file");
            attached.push((id, kind, parent));
        }
        assert!(!mechanics.is_empty() && !pays.is_empty() && homes.values().any(Option::is_none));

        let vehicle_owner: HashMap<Uuid, Uuid> = vehicles.iter().copied().collect();
        let order_at: HashMap<Uuid, Uuid> = orders.iter().copied().collect();
        let none = Vec::new();
        let mut files_seen = 0;
        for round in 0..150 {
            let a = random_access(&mut rng, &staff, &locations);
            let checked = |rule: &Rule,
                           rows: &mut dyn Iterator<Item = (Uuid, Placement<'_>)>|
             -> BTreeSet<Uuid> {
                rows.filter(|(_, at)| rule.admits(&a, *at))
                    .map(|(id, _)| id)
                    .collect()
            };
            let listed =
                ids::<customers::Entity>(c, CUSTOMER.condition(&a, &columns::customers())).await;
            let expected = checked(
                &CUSTOMER,
                &mut homes.iter().map(|(id, h)| (*id, Placement::at(*h))),
            );
            assert_eq!(listed, expected, "customers, round {round}: {a:?}");

            let listed =
                ids::<vehicles::Entity>(c, VEHICLE.condition(&a, &columns::vehicles())).await;
            let expected = checked(
                &VEHICLE,
                &mut vehicles
                    .iter()
                    .map(|(id, owner)| (*id, Placement::at(homes[owner]))),
            );
            assert_eq!(listed, expected, "vehicles, round {round}: {a:?}");

            let listed =
                ids::<work_orders::Entity>(c, WORK_ORDER.condition(&a, &columns::work_orders()))
                    .await;
            let expected = checked(
                &WORK_ORDER,
                &mut orders.iter().map(|(id, l)| {
                    let assigned = mechanics.get(id).unwrap_or(&none);
                    (
                        *id,
                        Placement {
                            location: Some(*l),
                            assigned,
                        },
                    )
                }),
            );
            assert_eq!(listed, expected, "work orders, round {round}: {a:?}");

            let listed =
                ids::<invoices::Entity>(c, INVOICE.condition(&a, &columns::invoices())).await;
            let expected = checked(
                &INVOICE,
                &mut invoice_at
                    .iter()
                    .map(|(id, l)| (*id, Placement::at(Some(*l)))),
            );
            assert_eq!(listed, expected, "invoices, round {round}: {a:?}");

            let listed =
                ids::<payments::Entity>(c, PAYMENT.condition(&a, &columns::payments())).await;
            let expected = checked(
                &PAYMENT,
                &mut pays
                    .iter()
                    .map(|(id, inv)| (*id, Placement::at(Some(invoice_at[inv])))),
            );
            assert_eq!(listed, expected, "payments, round {round}: {a:?}");

            let listed = ids::<files::Entity>(c, files_condition(&a)).await;
            let expected: BTreeSet<Uuid> = attached
                .iter()
                .filter(|(_, kind, parent)| {
                    let (rule, at) = match *kind {
                        "customer" => (CUSTOMER, Placement::at(homes[parent])),
                        "vehicle" => (VEHICLE, Placement::at(homes[&vehicle_owner[parent]])),
                        "work_order" => (
                            WORK_ORDER,
                            Placement {
                                location: Some(order_at[parent]),
                                assigned: mechanics.get(parent).unwrap_or(&none),
                            },
                        ),
                        _ => (INVOICE, Placement::at(Some(invoice_at[parent]))),
                    };
                    file_of(rule).admits(&a, at)
                })
                .map(|(id, _, _)| *id)
                .collect();
            files_seen += expected.len();
            let kinds: HashMap<Uuid, &str> = attached.iter().map(|(f, k, _)| (*f, *k)).collect();
            let extra: Vec<_> = listed.difference(&expected).map(|f| kinds[f]).collect();
            let missing: Vec<_> = expected.difference(&listed).map(|f| kinds[f]).collect();
            assert_eq!(
                listed, expected,
                "files, round {round}: listed but not checked {extra:?}, checked but not listed {missing:?}: {a:?}"
            );
        }
        // The callers drawn saw some files and missed others: the comparison had both kinds of case.
        assert!(files_seen > 0 && files_seen < 150 * attached.len());
    }

    #[test]
    fn the_search_filter_names_the_callers_locations_and_own_records_only() {
        let (a, b, me) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
        let mechanic = Access::with_grants(
            Some(me),
            [(Perm::WorkOrderReadAssigned, Scope::Locations([a].into()))],
        );
        assert_eq!(
            WORK_ORDER.search_filter(&mechanic),
            SearchFilter::Only(format!(
                "(assigned_to = \"{me}\" AND location_id IN [\"{a}\"])"
            ))
        );
        let advisor = Access::with_grants(
            None,
            [(Perm::CustomerRead, Scope::Locations([a, b].into()))],
        );
        let SearchFilter::Only(f) = CUSTOMER.search_filter(&advisor) else {
            panic!("a filter");
        };
        assert!(
            f.contains(&a.to_string())
                && f.contains(&b.to_string())
                && f.ends_with("OR location_id NOT EXISTS"),
            "{f}"
        );
        let owner = Access::with_grants(None, [(Perm::InvoiceRead, Scope::Everywhere)]);
        assert_eq!(INVOICE.search_filter(&owner), SearchFilter::Everything);
        assert_eq!(
            PAYMENT.search_filter(&owner),
            SearchFilter::Nothing,
            "payments need their own right too"
        );
    }
}
