//! Every relation goes through this request-scoped DataLoader: keys collected in one tick become one statement.

use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, HashMapCache, Loader};
use entity::{
    audit_log, files, invoice_lines, invoices, payments, users, vehicles, work_order_lines,
    work_order_status_changes, work_orders,
};
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait};
use uuid::Uuid;

use crate::db::Db;
use crate::db::batch;
use crate::db::live::{Staff, StaffCard};
use crate::db::reads::Reads;
use crate::error::AppError;

/// Loads rows for one request; its cache lives as long as the request.
pub struct DbLoader {
    conn: Reads,
    staff: Arc<Staff>,
}

pub type Loaders = DataLoader<DbLoader, HashMapCache>;

impl DbLoader {
    /// Customers by id with their home branch and balance beside them ([`batch::customers_with`]); the caller
    /// feeds them to the request's loaders.
    pub async fn customers_with(
        &self,
        ids: &[Uuid],
    ) -> Result<Vec<batch::CustomerWith>, LoadError> {
        batch::customers_with(&self.conn, ids)
            .await
            .map_err(Arc::new)
    }

    /// What the screens show of the users with these ids, from what this replica remembers of the staff
    /// ([`Staff`]) and, for those it does not, from one statement; soft-deleted users included (the caller
    /// decides).
    pub async fn staff(&self, ids: &[Uuid]) -> Result<HashMap<Uuid, StaffCard>, LoadError> {
        let epoch = self.staff.epoch();
        // A board names a few mechanics many times over: each is looked up (and copied) once.
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for id in ids {
            match self.staff.get(&id) {
                Some(u) => drop(found.insert(id, u)),
                None => missing.push(id),
            }
        }
        if !missing.is_empty() {
            let read = batch::by_ids::<users::Entity>(&self.conn, &missing)
                .await
                .map_err(Arc::new)?;
            for (id, u) in read {
                let card = StaffCard::from(&u);
                self.staff.remember(id, card.clone(), epoch);
                found.insert(id, card);
            }
        }
        Ok(found)
    }
}

/// A user as a relation delivers it: the whole row, or only what the staff cache keeps (the rest is read when
/// a client asks for more).
#[derive(Debug, Clone)]
pub enum UserRow {
    Full(users::Model),
    Card(StaffCard),
}

impl UserRow {
    pub fn id(&self) -> Uuid {
        match self {
            Self::Full(u) => u.id,
            Self::Card(c) => c.id,
        }
    }

    pub fn deleted(&self) -> bool {
        match self {
            Self::Full(u) => u.deleted_at.is_some(),
            Self::Card(c) => c.deleted,
        }
    }
}

/// A loader for one request. Queries cache what they load, so a list can prime the relations its rows will
/// ask for; mutations do not, so a payload never shows what was read before the write.
pub fn for_request(db: &Db, delay: std::time::Duration, cache: bool) -> Loaders {
    let loader = DbLoader {
        conn: db.reads.clone(),
        staff: Arc::clone(&db.staff),
    };
    let loaders =
        DataLoader::with_cache(loader, tokio::spawn, HashMapCache::default()).delay(delay);
    loaders.enable_all_cache(cache);
    loaders
}

pub type LoadError = Arc<DbErr>;

impl From<LoadError> for AppError {
    fn from(e: LoadError) -> Self {
        if crate::error::is_outage(&e) {
            AppError::Unavailable(e.into())
        } else {
            AppError::internal(e)
        }
    }
}

/// Declares a key type carrying a UUID (and maybe a page size) and a marker type, with the trait impls
/// that `derive` would over-constrain by requiring the marker to implement them too.
macro_rules! marker_key {
    ($name:ident($($field:ident: $ty:ty),+)) => {
        pub struct $name<T>($(pub $ty,)+ PhantomData<fn() -> T>);

        impl<T> $name<T> {
            pub fn new($($field: $ty),+) -> Self {
                Self($($field,)+ PhantomData)
            }

            fn parts(&self) -> ($($ty,)+) {
                let Self($($field,)+ _) = self;
                ($(*$field,)+)
            }
        }

        impl<T> Clone for $name<T> {
            fn clone(&self) -> Self {
                *self
            }
        }
        impl<T> Copy for $name<T> {}
        impl<T> PartialEq for $name<T> {
            fn eq(&self, o: &Self) -> bool {
                self.parts() == o.parts()
            }
        }
        impl<T> Eq for $name<T> {}
        impl<T> Hash for $name<T> {
            fn hash<H: Hasher>(&self, h: &mut H) {
                self.parts().hash(h);
            }
        }
        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{:?}", stringify!($name), self.parts())
            }
        }
    };
}

marker_key!(ById(id: Uuid));
marker_key!(ChildrenOf(id: Uuid));
marker_key!(NewestOf(id: Uuid, limit: u64));

/// Which field a by-id lookup serves. Each field batches on its own: a request's statement count then
/// follows the shape of the query, never the timing of its resolvers (two fields asking for the same
/// type merge or not depending on which finishes first).
pub mod via {
    macro_rules! fields {
        ($($name:ident),+ $(,)?) => {
            $(#[derive(Debug)] pub enum $name {})+
        };
    }
    fields!(
        Node,
        CustomerHomeLocation,
        VehicleCustomer,
        WorkOrderCustomer,
        WorkOrderVehicle,
        WorkOrderLocation,
        LineMechanic,
        ChangedBy,
        InvoiceWorkOrder,
        InvoiceCustomer,
        InvoiceLocation,
        RefundOf,
        PaymentInvoice,
        RecordedBy,
        UploadedBy,
    );
}

impl<E, V> Loader<ById<(E, V)>> for DbLoader
where
    E: EntityTrait + Send + Sync,
    E::Model: Clone + Send + Sync + entity::Positional,
    V: Send + Sync + 'static,
{
    type Value = E::Model;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ById<(E, V)>],
    ) -> Result<HashMap<ById<(E, V)>, E::Model>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = batch::by_ids::<E>(&self.conn, &ids).await?;
        Ok(rows.into_iter().map(|(id, m)| (ById::new(id), m)).collect())
    }
}

/// A one-to-many relation: which column points at the parent, how children are ordered, which are visible.
pub trait HasMany: Send + Sync + 'static {
    type Child: EntityTrait<Model: Clone + Send + Sync + entity::Positional> + Send + Sync;
    fn parent() -> <Self::Child as EntityTrait>::Column;
    fn order() -> <Self::Child as EntityTrait>::Column;
    fn visible() -> Condition {
        Condition::all()
    }
}

impl<R: HasMany> Loader<ChildrenOf<R>> for DbLoader {
    type Value = Vec<<R::Child as EntityTrait>::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[ChildrenOf<R>],
    ) -> Result<HashMap<ChildrenOf<R>, Self::Value>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows =
            batch::children::<R::Child>(&self.conn, R::parent(), R::order(), R::visible(), &ids)
                .await?;
        Ok(rows
            .into_iter()
            .map(|(id, v)| (ChildrenOf::new(id), v))
            .collect())
    }
}

impl<R: HasMany> Loader<NewestOf<R>> for DbLoader {
    type Value = Vec<<R::Child as EntityTrait>::Model>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[NewestOf<R>],
    ) -> Result<HashMap<NewestOf<R>, Self::Value>, LoadError> {
        // Keys asking for different page sizes are rare; each size is one statement.
        let mut by_limit: HashMap<u64, Vec<Uuid>> = HashMap::new();
        for k in keys {
            by_limit.entry(k.1).or_default().push(k.0);
        }
        let mut out = HashMap::new();
        for (limit, ids) in by_limit {
            let rows = batch::newest_children::<R::Child>(
                &self.conn,
                R::parent(),
                R::order(),
                R::visible(),
                &ids,
                limit,
            )
            .await?;
            out.extend(
                rows.into_iter()
                    .map(|(id, v)| (NewestOf::new(id, limit), v)),
            );
        }
        Ok(out)
    }
}

/// The users assigned to a work order, in the order they were assigned (soft-deleted users included: the
/// caller decides), read with their assignments in one statement.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct MechanicsOf(pub Uuid);

impl Loader<MechanicsOf> for DbLoader {
    type Value = Vec<UserRow>;
    type Error = LoadError;

    async fn load(
        &self,
        keys: &[MechanicsOf],
    ) -> Result<HashMap<MechanicsOf, Self::Value>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = batch::mechanics_of(&self.conn, &ids).await?;
        Ok(rows
            .into_iter()
            .map(|(id, v)| (MechanicsOf(id), v.into_iter().map(UserRow::Full).collect()))
            .collect())
    }
}

/// What a customer owes on issued invoices.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct BalanceDue(pub Uuid);

impl Loader<BalanceDue> for DbLoader {
    type Value = i64;
    type Error = LoadError;

    async fn load(&self, keys: &[BalanceDue]) -> Result<HashMap<BalanceDue, i64>, LoadError> {
        let ids: Vec<Uuid> = keys.iter().map(|k| k.0).collect();
        let rows = batch::balances_due(&self.conn, &ids).await?;
        Ok(ids
            .iter()
            .map(|id| (BalanceDue(*id), rows.get(id).copied().unwrap_or(0)))
            .collect())
    }
}

macro_rules! has_many {
    ($(#[$m:meta])* $name:ident: $child:ident by $parent:ident ordered $order:ident $(where $visible:expr)?) => {
        $(#[$m])*
        pub struct $name;

        impl HasMany for $name {
            type Child = $child::Entity;
            fn parent() -> $child::Column {
                $child::Column::$parent
            }
            fn order() -> $child::Column {
                $child::Column::$order
            }
            $(fn visible() -> Condition {
                $visible
            })?
        }
    };
}

has_many!(
    /// A customer's vehicles that are not deleted.
    VehiclesOfCustomer: vehicles by CustomerId ordered CreatedAt
        where Condition::all().add(vehicles::Column::DeletedAt.is_null())
);
has_many!(
    /// A customer's work orders, newest first through [`NewestOf`].
    WorkOrdersOfCustomer: work_orders by CustomerId ordered CreatedAt
        where Condition::all().add(work_orders::Column::DeletedAt.is_null())
);
has_many!(
    WorkOrdersOfVehicle: work_orders by VehicleId ordered CreatedAt
        where Condition::all().add(work_orders::Column::DeletedAt.is_null())
);
has_many!(
    InvoicesOfCustomer: invoices by CustomerId ordered CreatedAt
        where Condition::all().add(invoices::Column::DeletedAt.is_null())
);
has_many!(LinesOfWorkOrder: work_order_lines by WorkOrderId ordered Position);
has_many!(StatusChangesOfWorkOrder: work_order_status_changes by WorkOrderId ordered CreatedAt);
has_many!(
    /// The invoices of a work order that are not void: at most one, by a unique index.
    LiveInvoiceOfWorkOrder: invoices by WorkOrderId ordered CreatedAt
        where Condition::all().add(invoices::Column::DeletedAt.is_null()).add(invoices::Column::Status.ne("void"))
);
has_many!(LinesOfInvoice: invoice_lines by InvoiceId ordered Position);
has_many!(
    /// A record's audit entries, newest first through [`NewestOf`].
    HistoryOf: audit_log by EntityId ordered CreatedAt
);
has_many!(PaymentsOfInvoice: payments by InvoiceId ordered ReceivedAt);
/// Files attached to one kind of record: ready and not deleted.
fn ready_files_of(parent_type: &str) -> Condition {
    Condition::all()
        .add(files::Column::ParentType.eq(parent_type))
        .add(files::Column::DeletedAt.is_null())
        .add(files::Column::Status.eq("ready"))
}

has_many!(FilesOfCustomer: files by ParentId ordered CreatedAt where ready_files_of("customer"));
has_many!(FilesOfVehicle: files by ParentId ordered CreatedAt where ready_files_of("vehicle"));
has_many!(FilesOfWorkOrder: files by ParentId ordered CreatedAt where ready_files_of("work_order"));
has_many!(FilesOfInvoice: files by ParentId ordered CreatedAt where ready_files_of("invoice"));
