//! The single box's search engine: a tantivy index under the data folder, with fuzzy matching of names and
//! exact matching of shop keys.
//!
//! The index lives in a folder per generation (`gen-<n>`), named by the file `CURRENT`: a rebuild writes a new
//! generation beside the one in use and swaps the name when complete; a server notices the swap on its next
//! write or search and follows it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tantivy::collector::TopDocs;
use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{
    AllQuery, BooleanQuery, BoostQuery, FuzzyTermQuery, Occur, Query, TermQuery, TermSetQuery,
};
use tantivy::schema::{FAST, Field, IndexRecordOption, STORED, STRING, Schema, TEXT, Value};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};
use uuid::Uuid;

use super::{Document, Hit, Hits, Kind, SearchIndex, normalize};
use crate::auth::visibility::SearchScope;

/// Where a document's location is "none".
const NOWHERE: &str = "-";

#[derive(Debug, Clone, Copy)]
struct Fields {
    uid: Field,
    kind: Field,
    /// The kind as a number (its place in `Kind::ALL`), for counting hits per kind in the same pass.
    kind_code: Field,
    id: Field,
    location: Field,
    assigned: Field,
    title: Field,
    words: Field,
    keys: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let f = Fields {
        uid: b.add_text_field("uid", STRING),
        kind: b.add_text_field("kind", STRING | STORED),
        kind_code: b.add_u64_field("kind_code", FAST),
        id: b.add_text_field("id", STRING | STORED),
        location: b.add_text_field("location", STRING),
        assigned: b.add_text_field("assigned", STRING),
        title: b.add_text_field("title", TEXT | STORED),
        words: b.add_text_field("words", TEXT),
        keys: b.add_text_field("keys", STRING),
    };
    (b.build(), f)
}

struct Generation {
    name: String,
    writer: IndexWriter,
    reader: IndexReader,
}

pub struct Tantivy {
    root: PathBuf,
    fields: Fields,
    /// Opened on first use: a rebuild from the command line never takes the running server's writer lock.
    current: Arc<Mutex<Option<Generation>>>,
}

impl std::fmt::Debug for Tantivy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tantivy").field("root", &self.root).finish()
    }
}

fn current_name(root: &Path) -> Option<String> {
    std::fs::read_to_string(root.join("CURRENT"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
}

fn open_generation(root: &Path, name: &str) -> anyhow::Result<Generation> {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (schema, _) = schema();
    let index = Index::open_or_create(
        tantivy::directory::MmapDirectory::open(&dir)
            .with_context(|| format!("opening {}", dir.display()))?,
        schema,
    )?;
    let writer = index
        .writer(30_000_000)
        .with_context(|| format!("locking the search index in {}", dir.display()))?;
    let reader = index
        .reader_builder()
        .reload_policy(ReloadPolicy::Manual)
        .try_into()?;
    Ok(Generation {
        name: name.to_owned(),
        writer,
        reader,
    })
}

impl Tantivy {
    /// The index under `root`, made there on first use.
    pub fn open(root: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(root).with_context(|| format!("creating {}", root.display()))?;
        let current = current_name(root);
        let stale = current.as_ref().is_some_and(|name| {
            Index::open_in_dir(root.join(name)).is_ok_and(|i| i.schema() != schema().0)
        });
        if current.is_none() || stale {
            // A first start, or an index of an older layout: a fresh generation, which the relay fills.
            let name = format!("gen-{}", Uuid::now_v7().simple());
            std::fs::write(root.join("CURRENT"), name)?;
        }
        Ok(Self {
            root: root.to_owned(),
            fields: schema().1,
            current: Arc::new(Mutex::new(None)),
        })
    }

    /// Runs `f` on the generation `CURRENT` names, following a swap made by a rebuild elsewhere.
    async fn with<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Generation, Fields) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let (root, fields, current) = (self.root.clone(), self.fields, Arc::clone(&self.current));
        tokio::task::spawn_blocking(move || {
            let mut g = current
                .lock()
                .map_err(|_| anyhow::anyhow!("the search index lock is poisoned"))?;
            let name = current_name(&root).unwrap_or_else(|| "gen-1".to_owned());
            if g.as_ref().is_none_or(|g| g.name != name) {
                let old = g.take().map(|g| g.name);
                *g = Some(open_generation(&root, &name)?);
                // The generation a rebuild replaced is no longer read by anyone here.
                if let Some(old) = old {
                    std::fs::remove_dir_all(root.join(old)).ok();
                }
            }
            match g.as_mut() {
                Some(g) => f(g, fields),
                None => anyhow::bail!("the search index is not open"),
            }
        })
        .await?
    }
}

fn code(kind: Kind) -> u64 {
    Kind::ALL.iter().position(|k| *k == kind).unwrap_or(0) as u64
}

/// Counts the documents found of each kind, in the pass that ranks them.
struct KindCounts;

struct SegmentKindCounts {
    kinds: tantivy::columnar::Column<u64>,
    counts: [u64; 4],
}

impl Collector for KindCounts {
    type Fruit = [u64; 4];
    type Child = SegmentKindCounts;

    fn for_segment(
        &self,
        _: tantivy::SegmentOrdinal,
        segment: &tantivy::SegmentReader,
    ) -> tantivy::Result<SegmentKindCounts> {
        Ok(SegmentKindCounts {
            kinds: segment.fast_fields().u64("kind_code")?,
            counts: [0; 4],
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<[u64; 4]>) -> tantivy::Result<[u64; 4]> {
        let mut all = [0; 4];
        for f in fruits {
            for (a, n) in all.iter_mut().zip(f) {
                *a += n;
            }
        }
        Ok(all)
    }
}

impl SegmentCollector for SegmentKindCounts {
    type Fruit = [u64; 4];

    fn collect(&mut self, doc: tantivy::DocId, _: tantivy::Score) {
        if let Some(slot) = self
            .kinds
            .first(doc)
            .and_then(|k| self.counts.get_mut(k as usize))
        {
            *slot += 1;
        }
    }

    fn harvest(self) -> [u64; 4] {
        self.counts
    }
}

fn uid(kind: Kind, id: Uuid) -> String {
    format!("{}:{id}", kind.as_str())
}

fn to_doc(f: Fields, d: &Document) -> TantivyDocument {
    let mut t = TantivyDocument::default();
    t.add_text(f.uid, uid(d.kind, d.id));
    t.add_text(f.kind, d.kind.as_str());
    t.add_u64(f.kind_code, code(d.kind));
    t.add_text(f.id, d.id.to_string());
    t.add_text(
        f.location,
        d.location_id.map_or(NOWHERE.to_owned(), |l| l.to_string()),
    );
    for a in &d.assigned_to {
        t.add_text(f.assigned, a.to_string());
    }
    t.add_text(f.title, &d.title);
    t.add_text(f.words, &d.words);
    for k in &d.keys {
        t.add_text(f.keys, k);
    }
    t
}

fn term(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        Term::from_field_text(field, text),
        IndexRecordOption::Basic,
    ))
}

fn any_of(field: Field, values: impl IntoIterator<Item = String>) -> Box<dyn Query> {
    Box::new(TermSetQuery::new(
        values.into_iter().map(|v| Term::from_field_text(field, &v)),
    ))
}

/// What the caller may see of one kind, as a query over the documents' location and assignments.
fn scope_query(f: Fields, scope: &SearchScope) -> Option<Box<dyn Query>> {
    let SearchScope::Only {
        locations,
        unlocated,
        own,
    } = scope
    else {
        return matches!(scope, SearchScope::Everything)
            .then(|| Box::new(AllQuery) as Box<dyn Query>);
    };
    let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
    if !locations.is_empty() {
        any.push((
            Occur::Should,
            any_of(f.location, locations.iter().map(Uuid::to_string)),
        ));
    }
    if *unlocated {
        any.push((Occur::Should, term(f.location, NOWHERE)));
    }
    if let Some((me, at)) = own {
        let mut mine = vec![(Occur::Must, term(f.assigned, &me.to_string()))];
        if let Some(ls) = at {
            mine.push((
                Occur::Must,
                any_of(f.location, ls.iter().map(Uuid::to_string)),
            ));
        }
        any.push((Occur::Should, Box::new(BooleanQuery::new(mine))));
    }
    Some(Box::new(BooleanQuery::new(any)))
}

/// The text as the engine matches it: every word, each with the typos its length allows (the last also as the
/// start of a word still being typed), or any shop key the text could mean.
fn text_query(f: Fields, text: &str) -> Box<dyn Query> {
    let words = normalize::words(text);
    let last = words.len().saturating_sub(1);
    let every_word: Vec<(Occur, Box<dyn Query>)> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let t = Term::from_field_text(f.words, w);
            let mut alternatives: Vec<(Occur, Box<dyn Query>)> = vec![(
                Occur::Should,
                Box::new(FuzzyTermQuery::new(t.clone(), normalize::typos(w), true)),
            )];
            if i == last && w.chars().count() >= 2 {
                alternatives.push((
                    Occur::Should,
                    Box::new(FuzzyTermQuery::new_prefix(t, 0, true)),
                ));
            }
            (
                Occur::Must,
                Box::new(BooleanQuery::new(alternatives)) as Box<dyn Query>,
            )
        })
        .collect();
    let mut either: Vec<(Occur, Box<dyn Query>)> =
        vec![(Occur::Should, any_of(f.keys, normalize::query_keys(text)))];
    if !every_word.is_empty() {
        either.push((Occur::Should, Box::new(BooleanQuery::new(every_word))));
    }
    Box::new(BooleanQuery::new(either))
}

/// The text within one kind and what the caller sees of it.
fn within(f: Fields, text: &str, kind: Kind, scope: &SearchScope) -> Option<Box<dyn Query>> {
    let scope = scope_query(f, scope)?;
    let q = BooleanQuery::new(vec![
        (Occur::Must, text_query(f, text)),
        (Occur::Must, term(f.kind, kind.as_str())),
        (Occur::Must, scope),
    ]);
    // Typo matches all score alike: people come first, then their cars, orders and invoices.
    let weight = match kind {
        Kind::Customer => 4.0,
        Kind::Vehicle => 3.0,
        Kind::WorkOrder => 2.0,
        Kind::Invoice => 1.0,
    };
    Some(Box::new(BoostQuery::new(Box::new(q), weight)))
}

#[async_trait::async_trait]
impl SearchIndex for Tantivy {
    async fn upsert(&self, docs: Vec<Document>) -> anyhow::Result<()> {
        self.with(move |g, f| {
            for d in &docs {
                g.writer
                    .delete_term(Term::from_field_text(f.uid, &uid(d.kind, d.id)));
                g.writer.add_document(to_doc(f, d))?;
            }
            g.writer.commit()?;
            g.reader.reload()?;
            Ok(())
        })
        .await
    }

    async fn remove(&self, ids: Vec<(Kind, Uuid)>) -> anyhow::Result<()> {
        self.with(move |g, f| {
            for (k, id) in &ids {
                g.writer
                    .delete_term(Term::from_field_text(f.uid, &uid(*k, *id)));
            }
            g.writer.commit()?;
            g.reader.reload()?;
            Ok(())
        })
        .await
    }

    async fn search(&self, q: &super::Query) -> anyhow::Result<Hits> {
        let q = q.clone();
        // The lock only hands out a searcher (a snapshot): searches run beside each other and beside writes.
        let searcher = self.with(|g, _| Ok(g.reader.searcher())).await?;
        let f = self.fields;
        tokio::task::spawn_blocking(move || {
            let mut all: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            for (kind, scope) in &q.scopes {
                if let Some(query) = within(f, &q.text, *kind, scope) {
                    all.push((Occur::Should, query));
                }
            }
            let mut counts: std::collections::BTreeMap<Kind, u64> =
                q.scopes.keys().map(|k| (*k, 0)).collect();
            let mut hits = Vec::new();
            if !all.is_empty() {
                // One pass ranks the page and counts every kind.
                let top = TopDocs::with_limit(q.limit.max(1))
                    .and_offset(q.offset)
                    .order_by_score();
                let (page, per_kind) =
                    searcher.search(&BooleanQuery::new(all), &(top, KindCounts))?;
                for (kind, n) in Kind::ALL.iter().zip(per_kind) {
                    if let Some(c) = counts.get_mut(kind) {
                        *c = n;
                    }
                }
                for (_, addr) in page.into_iter().take(q.limit) {
                    let d: TantivyDocument = searcher.doc(addr)?;
                    let text = |field| {
                        d.get_first(field)
                            .and_then(|v| v.as_str().map(str::to_owned))
                            .unwrap_or_default()
                    };
                    let (Some(kind), Ok(id)) = (Kind::parse(&text(f.kind)), text(f.id).parse())
                    else {
                        continue;
                    };
                    hits.push(Hit {
                        kind,
                        id,
                        title: text(f.title),
                    });
                }
            }
            Ok(Hits { hits, counts })
        })
        .await?
    }

    async fn count(&self) -> anyhow::Result<u64> {
        self.with(|g, _| Ok(g.reader.searcher().num_docs())).await
    }

    async fn rebuild(
        &self,
        docs: Box<dyn Iterator<Item = Document> + Send>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        let root = self.root.clone();
        let next = format!("gen-{}", Uuid::now_v7().simple());
        let mut g = open_generation(&root, &next)?;
        let f = self.fields;
        let mut n = 0;
        for d in docs {
            g.writer.add_document(to_doc(f, &d))?;
            n += 1;
            if n % 1000 == 0 {
                progress(n);
            }
        }
        g.writer.commit()?;
        progress(n);
        drop(g);
        // Named in place: a reader of `CURRENT` sees the old name or the new, never half of one.
        let tmp = root.join("CURRENT.next");
        std::fs::write(&tmp, &next)?;
        std::fs::rename(&tmp, root.join("CURRENT"))?;
        Ok(())
    }
}
