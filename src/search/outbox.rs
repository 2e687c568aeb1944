//! The search index follows the database through a transactional outbox: every write to a searchable record adds
//! a row in the write's own transaction ([`enqueue`], called where the write is audited), and a relay on each
//! replica sends the rows' records to the engine, marks them done, and retries with backoff while the engine is
//! down. On PostgreSQL a row is claimed by one relay at a time (`FOR UPDATE SKIP LOCKED`); SQLite has one
//! process.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use entity::{customers, invoices, outbox, vehicles, work_order_mechanics, work_orders};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use uuid::Uuid;

use super::{Document, Kind, SearchIndex, normalize};
use crate::config::Backend;
use crate::db::Db;
use crate::error::AppResult;

const TOPIC: &str = "search";
const BATCH: u64 = 200;

/// Records that a searchable record changed, in the caller's transaction: the relay will send it.
pub async fn enqueue<C: ConnectionTrait>(conn: &C, kind: &str, id: Uuid) -> AppResult<()> {
    if Kind::parse(kind).is_none() {
        return Ok(());
    }
    crate::db::outbox_row(TOPIC, kind, id, serde_json::json!({}))
        .insert(conn)
        .await?;
    Ok(())
}

/// How far behind the index is: rows waiting, and the age of the oldest.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    pub rows: u64,
    pub oldest_secs: f64,
}

pub async fn backlog(db: &Db) -> AppResult<Backlog> {
    let waiting = outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(TOPIC))
        .filter(outbox::Column::ProcessedAt.is_null());
    let rows = waiting.clone().count(&db.conn).await?;
    let oldest = waiting
        .order_by_asc(outbox::Column::CreatedAt)
        .one(&db.conn)
        .await?
        .map_or(0.0, |r| {
            Ord::max((Utc::now() - r.created_at).num_milliseconds(), 0) as f64 / 1000.0
        });
    Ok(Backlog {
        rows,
        oldest_secs: oldest,
    })
}

/// Sends waiting rows to the engine, every `every`, for as long as the process runs.
pub async fn relay(db: Db, index: Arc<dyn SearchIndex>, every: Duration) {
    // Whether the index must be built first, decided at start when the engine answers at once (an empty index
    // beside an empty database needs nothing); otherwise the relay finds out before its first round.
    let needs_building = async {
        anyhow::Ok(
            index.count().await? == 0 && customers::Entity::find().one(&db.conn).await?.is_some(),
        )
    };
    let mut filled = matches!(
        tokio::time::timeout(Duration::from_secs(2), needs_building).await,
        Ok(Ok(false))
    );
    tokio::spawn(async move {
        let mut failures = 0u32;
        let mut pruned = std::time::Instant::now();
        let mut busy = false;
        loop {
            // A full batch is followed at once by the next; otherwise the relay rests first.
            if !busy {
                tokio::time::sleep(every).await;
            }
            // An index found empty (a first start, a new engine) is built before changes are sent to it.
            let round = async {
                if !filled {
                    fill_if_empty(&db, index.as_ref()).await?;
                    filled = true;
                }
                relay_once(&db, index.as_ref()).await
            };
            let result = round.await;
            busy = matches!(result, Ok(n) if n > 0);
            match result {
                Ok(0) => {
                    failures = 0;
                    if pruned.elapsed() > PRUNE_EVERY {
                        pruned = std::time::Instant::now();
                        if let Err(e) = prune(&db).await {
                            tracing::warn!(error = ?e, "pruning sent search changes failed");
                        }
                    }
                }
                Ok(_) => failures = 0,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    // Backoff while the engine (or the database) is down: up to half a minute.
                    let wait = every.saturating_mul(2u32.saturating_pow(Ord::min(failures, 7)));
                    tracing::warn!(error = ?e, retry_in = ?wait, "the search index could not be updated");
                    tokio::time::sleep(wait.min(Duration::from_secs(30))).await;
                }
            }
            if let Ok(b) = backlog(&db).await {
                metrics::gauge!("autoshop_search_outbox_rows").set(b.rows as f64);
                metrics::gauge!("autoshop_search_outbox_oldest_seconds").set(b.oldest_secs);
            }
        }
    });
}

/// How often rows already sent are pruned, and how long they are kept (to see what was sent, and to send again
/// what a rebuild may have missed).
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
const KEEP_SENT: chrono::TimeDelta = chrono::TimeDelta::days(7);

async fn prune(db: &Db) -> AppResult<()> {
    outbox::Entity::delete_many()
        .filter(outbox::Column::Topic.eq(TOPIC))
        .filter(outbox::Column::ProcessedAt.lt(Utc::now() - KEEP_SENT))
        .exec(&db.conn)
        .await?;
    Ok(())
}

/// Sends one batch; returns how many rows it took (0: nothing waited).
pub async fn relay_once(db: &Db, index: &dyn SearchIndex) -> anyhow::Result<usize> {
    if db.backend == Backend::Postgres {
        // The claimed rows stay locked until they are marked: another replica's relay skips them.
        let tx = db.conn.begin().await?;
        let n = send_batch(&tx, index, true).await;
        tx.commit().await?;
        n
    } else {
        // One process, one relay: no claim needed, and no read transaction held across the engine's answer
        // (SQLite could not upgrade it to write afterwards if another write landed meanwhile).
        send_batch(&db.conn, index, false).await
    }
}

async fn send_batch<C: ConnectionTrait>(
    conn: &C,
    index: &dyn SearchIndex,
    lock: bool,
) -> anyhow::Result<usize> {
    let mut claim = outbox::Entity::find()
        .filter(outbox::Column::Topic.eq(TOPIC))
        .filter(outbox::Column::ProcessedAt.is_null())
        .filter(outbox::Column::AvailableAt.lte(Utc::now()))
        .order_by_asc(outbox::Column::CreatedAt)
        .limit(BATCH);
    if lock {
        claim = claim.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = claim.all(conn).await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let targets: BTreeSet<(Kind, Uuid)> = rows
        .iter()
        .filter_map(|r| Some((Kind::parse(&r.aggregate_type)?, r.aggregate_id)))
        .collect();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let sent = async {
        let targets = with_dependants(conn, targets).await?;
        let docs = documents(conn, Some(&targets)).await?;
        let found: BTreeSet<(Kind, Uuid)> = docs.iter().map(|d| (d.kind, d.id)).collect();
        let gone: Vec<(Kind, Uuid)> = targets.difference(&found).copied().collect();
        if !docs.is_empty() {
            index.upsert(docs).await?;
        }
        if !gone.is_empty() {
            index.remove(gone).await?;
        }
        anyhow::Ok(())
    }
    .await;
    let now = Utc::now();
    let mut mark = outbox::Entity::update_many()
        .col_expr(outbox::Column::UpdatedAt, Expr::value(now))
        .filter(outbox::Column::Id.is_in(ids));
    mark = match &sent {
        Ok(()) => mark.col_expr(outbox::Column::ProcessedAt, Expr::value(Some(now))),
        Err(e) => mark
            .col_expr(
                outbox::Column::Attempts,
                Expr::col(outbox::Column::Attempts).add(1),
            )
            .col_expr(
                outbox::Column::LastError,
                Expr::value(Some(format!("{e:#}"))),
            ),
    };
    mark.exec(conn).await?;
    sent.map(|()| rows.len())
}

/// Rebuilds the index from the database into a fresh one, swapped in when complete, while the server keeps
/// serving; then sends again what the relay sent to the old index meanwhile. Returns how many documents it
/// wrote.
pub async fn reindex(
    db: &Db,
    index: &dyn SearchIndex,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> anyhow::Result<u64> {
    let started = Utc::now();
    let docs = documents(&db.conn, None).await?;
    let total = docs.len() as u64;
    progress(0, total);
    index
        .rebuild(Box::new(docs.into_iter()), &|n| progress(n, total))
        .await?;
    outbox::Entity::update_many()
        .col_expr(
            outbox::Column::ProcessedAt,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .filter(outbox::Column::Topic.eq(TOPIC))
        .filter(outbox::Column::ProcessedAt.gte(started))
        .exec(&db.conn)
        .await?;
    Ok(total)
}

/// Builds the index when it is empty while the database is not (a first start, or an index folder removed).
pub async fn fill_if_empty(db: &Db, index: &dyn SearchIndex) -> anyhow::Result<()> {
    if index.count().await? > 0 {
        return Ok(());
    }
    let any = customers::Entity::find().one(&db.conn).await?.is_some();
    if any {
        let n = reindex(db, index, &|_, _| {}).await?;
        tracing::info!(documents = n, "built the search index");
    }
    Ok(())
}

/// The records a change reaches: a customer's name shows on their vehicles, orders and invoices, and their home
/// branch places their vehicles; a vehicle's plate shows on its orders.
async fn with_dependants<C: ConnectionTrait>(
    conn: &C,
    mut targets: BTreeSet<(Kind, Uuid)>,
) -> AppResult<BTreeSet<(Kind, Uuid)>> {
    let of = |k: Kind| -> Vec<Uuid> {
        targets
            .iter()
            .filter(|(t, _)| *t == k)
            .map(|(_, id)| *id)
            .collect()
    };
    let (people, cars) = (of(Kind::Customer), of(Kind::Vehicle));
    if !people.is_empty() {
        for v in vehicles::Entity::find()
            .filter(vehicles::Column::CustomerId.is_in(people.clone()))
            .all(conn)
            .await?
        {
            targets.insert((Kind::Vehicle, v.id));
        }
        for i in invoices::Entity::find()
            .filter(invoices::Column::CustomerId.is_in(people.clone()))
            .all(conn)
            .await?
        {
            targets.insert((Kind::Invoice, i.id));
        }
    }
    if !people.is_empty() || !cars.is_empty() {
        for w in work_orders::Entity::find()
            .filter(
                sea_orm::Condition::any()
                    .add(work_orders::Column::CustomerId.is_in(people))
                    .add(work_orders::Column::VehicleId.is_in(cars)),
            )
            .all(conn)
            .await?
        {
            targets.insert((Kind::WorkOrder, w.id));
        }
    }
    Ok(targets)
}

fn phones(c: &customers::Model) -> Vec<String> {
    c.phones
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p.as_str())
        .flat_map(normalize::phone)
        .collect()
}

/// The live records among `only` (every live record when none), as documents.
pub async fn documents<C: ConnectionTrait>(
    conn: &C,
    only: Option<&BTreeSet<(Kind, Uuid)>>,
) -> AppResult<Vec<Document>> {
    let ids = |k: Kind| -> Option<Vec<Uuid>> {
        only.map(|o| {
            o.iter()
                .filter(|(t, _)| *t == k)
                .map(|(_, id)| *id)
                .collect()
        })
    };
    macro_rules! live {
        ($e:ident, $kind:expr) => {{
            let mut q = $e::Entity::find().filter($e::Column::DeletedAt.is_null());
            if let Some(ids) = ids($kind) {
                if ids.is_empty() {
                    Vec::new()
                } else {
                    q = q.filter($e::Column::Id.is_in(ids));
                    q.all(conn).await?
                }
            } else {
                q.all(conn).await?
            }
        }};
    }
    let cars = live!(vehicles, Kind::Vehicle);
    let orders = live!(work_orders, Kind::WorkOrder);
    let bills = live!(invoices, Kind::Invoice);
    let mut people = live!(customers, Kind::Customer);
    // The customers the others name, beside those asked for.
    let named: BTreeSet<Uuid> = cars
        .iter()
        .map(|v| v.customer_id)
        .chain(orders.iter().map(|w| w.customer_id))
        .chain(bills.iter().map(|i| i.customer_id))
        .filter(|id| !people.iter().any(|c| c.id == *id))
        .collect();
    let mut owners: HashMap<Uuid, customers::Model> = if named.is_empty() {
        HashMap::new()
    } else {
        customers::Entity::find()
            .filter(customers::Column::Id.is_in(named))
            .all(conn)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect()
    };
    for c in &people {
        owners.insert(c.id, c.clone());
    }
    let plates: HashMap<Uuid, vehicles::Model> = {
        let wanted: BTreeSet<Uuid> = orders.iter().map(|w| w.vehicle_id).collect();
        if wanted.is_empty() {
            HashMap::new()
        } else {
            vehicles::Entity::find()
                .filter(vehicles::Column::Id.is_in(wanted))
                .all(conn)
                .await?
                .into_iter()
                .map(|v| (v.id, v))
                .collect()
        }
    };
    let mut mechanics: BTreeMap<Uuid, Vec<Uuid>> = BTreeMap::new();
    if !orders.is_empty() {
        let q = work_order_mechanics::Entity::find();
        let q = if only.is_some() {
            q.filter(work_order_mechanics::Column::WorkOrderId.is_in(orders.iter().map(|w| w.id)))
        } else {
            q
        };
        for m in q.all(conn).await? {
            mechanics
                .entry(m.work_order_id)
                .or_default()
                .push(m.user_id);
        }
    }
    let name = |id: Uuid| owners.get(&id).map(|c| c.name.clone()).unwrap_or_default();
    let home = |id: Uuid| owners.get(&id).and_then(|c| c.home_location_id);
    let mut docs = Vec::new();
    for c in people.drain(..) {
        docs.push(Document {
            kind: Kind::Customer,
            id: c.id,
            location_id: c.home_location_id,
            assigned_to: Vec::new(),
            title: c.name.clone(),
            words: c.name.clone(),
            keys: phones(&c),
        });
    }
    for v in cars {
        let car = [
            v.year.map(|y| y.to_string()),
            v.make.clone(),
            v.model.clone(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
        let plate = v.plate_number.clone().unwrap_or_default();
        let mut keys: Vec<String> = v.vin.as_deref().map(normalize::vin).unwrap_or_default();
        if !plate.is_empty() {
            keys.push(normalize::plate_key(&plate));
        }
        docs.push(Document {
            kind: Kind::Vehicle,
            id: v.id,
            location_id: home(v.customer_id),
            assigned_to: Vec::new(),
            title: format!("{car} {plate}").trim().to_owned(),
            words: format!("{car} {}", name(v.customer_id)),
            keys,
        });
    }
    for w in orders {
        let mut keys = normalize::number(&w.number);
        if let Some(p) = plates
            .get(&w.vehicle_id)
            .and_then(|v| v.plate_number.as_deref())
        {
            keys.push(normalize::plate_key(p));
        }
        docs.push(Document {
            kind: Kind::WorkOrder,
            id: w.id,
            location_id: Some(w.location_id),
            assigned_to: mechanics.remove(&w.id).unwrap_or_default(),
            title: format!("{} {}", w.number, name(w.customer_id)),
            words: format!("{} {}", name(w.customer_id), w.complaint),
            keys,
        });
    }
    for i in bills {
        docs.push(Document {
            kind: Kind::Invoice,
            id: i.id,
            location_id: Some(i.location_id),
            assigned_to: Vec::new(),
            title: format!("{} {}", i.number, name(i.customer_id)),
            words: name(i.customer_id),
            keys: normalize::number(&i.number),
        });
    }
    Ok(docs)
}
