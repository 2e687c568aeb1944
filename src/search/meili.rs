//! Search through Meilisearch (meilisearch-sdk): one index of every kind of record, its settings declared here
//! and applied at start, the caller's scope as a filter the server builds, and a rebuild into a fresh index
//! swapped in when complete.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use anyhow::Context as _;
use meilisearch_sdk::client::{Client, SwapIndexes};
use meilisearch_sdk::search::{FederationOptions, MatchingStrategies, MergeFacets};
use meilisearch_sdk::settings::{MinWordSizeForTypos, Settings, TypoToleranceSettings};
use uuid::Uuid;

use super::{Document, Hit, Hits, Kind, Query, SearchIndex, normalize};
use crate::auth::visibility::SearchFilter;

/// How long a search may take before it is reported unavailable.
const SEARCH_TIMEOUT: Duration = Duration::from_millis(800);
/// How long a write waits for the engine to apply it.
const TASK_TIMEOUT: Duration = Duration::from_secs(30);

/// A document as stored: the record's fields, keyed by kind and id (`uid`).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Stored {
    uid: String,
    kind: Kind,
    id: Uuid,
    #[serde(skip_serializing_if = "Option::is_none")]
    location_id: Option<Uuid>,
    assigned_to: Vec<Uuid>,
    title: String,
    words: String,
    keys: Vec<String>,
}

fn uid(kind: Kind, id: Uuid) -> String {
    format!("{}-{id}", kind.as_str())
}

impl From<Document> for Stored {
    fn from(d: Document) -> Self {
        Stored {
            uid: uid(d.kind, d.id),
            kind: d.kind,
            id: d.id,
            location_id: d.location_id,
            assigned_to: d.assigned_to,
            title: d.title,
            words: d.words,
            keys: d.keys,
        }
    }
}

#[derive(Debug)]
pub struct Meilisearch {
    client: Client,
    index: String,
    /// Whether the index exists with its settings: applied on first use, and tried again while the engine is
    /// down, so the server starts (and takes writes, which wait in the outbox) without it.
    prepared: tokio::sync::OnceCell<()>,
}

/// What the index needs to answer the shop's searches, applied at every start.
fn settings() -> Settings {
    // The same tolerance as the built-in engine (`normalize::typos`): one typo from four letters, two from
    // eight. Shop keys are not searched as words but compared exactly, as a filter.
    let typos = TypoToleranceSettings {
        enabled: Some(true),
        disable_on_attributes: None,
        disable_on_words: None,
        min_word_size_for_typos: Some(MinWordSizeForTypos {
            one_typo: Some(4),
            two_typos: Some(8),
        }),
        disable_on_numbers: Some(true),
    };
    Settings::new()
        .with_searchable_attributes(["title", "words"])
        .with_filterable_attributes(["kind", "location_id", "assigned_to", "keys"])
        .with_sortable_attributes(Vec::<String>::new())
        .with_typo_tolerance(typos)
}

impl Meilisearch {
    /// The engine at `url`; the index and its settings are applied on first use (see `ready`).
    pub fn connect(url: &str, key: Option<&str>, index: &str) -> anyhow::Result<Self> {
        let client = Client::new(url, key).context("the Meilisearch client")?;
        Ok(Self {
            client,
            index: index.to_owned(),
            prepared: tokio::sync::OnceCell::new(),
        })
    }

    /// Makes sure the index exists with its settings, waiting for the engine to apply them.
    async fn ready(&self) -> anyhow::Result<()> {
        self.prepared
            .get_or_try_init(|| self.prepare(&self.index))
            .await?;
        Ok(())
    }

    async fn prepare(&self, index: &str) -> anyhow::Result<()> {
        self.client
            .create_index(index, Some("uid"))
            .await?
            .wait_for_completion(&self.client, None, Some(TASK_TIMEOUT))
            .await?;
        self.client
            .index(index)
            .set_settings(&settings())
            .await?
            .wait_for_completion(&self.client, None, Some(TASK_TIMEOUT))
            .await
            .with_context(|| format!("applying the settings of the index `{index}`"))?;
        Ok(())
    }

    async fn wait(&self, task: meilisearch_sdk::task_info::TaskInfo) -> anyhow::Result<()> {
        let done = task
            .wait_for_completion(&self.client, None, Some(TASK_TIMEOUT))
            .await?;
        anyhow::ensure!(!done.is_failure(), "Meilisearch failed a task: {done:?}");
        Ok(())
    }
}

/// The filter for one kind within the caller's scope, or none when they see nothing of it.
fn kind_filter(kind: Kind, filter: SearchFilter) -> Option<String> {
    let k = format!("kind = \"{}\"", kind.as_str());
    match filter {
        SearchFilter::Everything => Some(k),
        SearchFilter::Nothing => None,
        SearchFilter::Only(f) => Some(format!("({k} AND ({f}))")),
    }
}

#[async_trait::async_trait]
impl SearchIndex for Meilisearch {
    async fn upsert(&self, docs: Vec<Document>) -> anyhow::Result<()> {
        self.ready().await?;
        let docs: Vec<Stored> = docs.into_iter().map(Stored::from).collect();
        let task = self
            .client
            .index(&self.index)
            .add_or_replace(&docs, Some("uid"))
            .await?;
        self.wait(task).await
    }

    async fn remove(&self, ids: Vec<(Kind, Uuid)>) -> anyhow::Result<()> {
        self.ready().await?;
        let uids: Vec<String> = ids.into_iter().map(|(k, id)| uid(k, id)).collect();
        let task = self
            .client
            .index(&self.index)
            .delete_documents(&uids)
            .await?;
        self.wait(task).await
    }

    async fn search(&self, q: &Query) -> anyhow::Result<Hits> {
        let filters: Vec<String> = q
            .scopes
            .iter()
            .filter_map(|(k, s)| kind_filter(*k, s.meilisearch()))
            .collect();
        let mut counts: BTreeMap<Kind, u64> = q.scopes.keys().map(|k| (*k, 0)).collect();
        if filters.is_empty() {
            return Ok(Hits {
                hits: Vec::new(),
                counts,
            });
        }
        tokio::time::timeout(SEARCH_TIMEOUT, self.ready())
            .await
            .context("Meilisearch did not answer in time")??;
        let filter = filters.join(" OR ");
        let index = self.client.index(&self.index);
        // Two queries merged by the engine: the words (every one must match, typos allowed) in names and titles,
        // and the shop keys the text could mean (exactly) in the keys.
        let mut multi = self.client.multi_search();
        if !normalize::words(&q.text).is_empty() {
            let mut words = index.search();
            words
                .with_query(&q.text)
                .with_filter(&filter)
                .with_attributes_to_search_on(&["title", "words"])
                .with_matching_strategy(MatchingStrategies::ALL);
            multi.with_search_query(words);
        }
        // The shop keys match exactly, so they are compared as values, not words (Meilisearch's tokenizer splits
        // letters from digits and matches prefixes): the keys the text could mean, normalised to letters and
        // digits (nothing that could be filter syntax), each quoted.
        let keys: Vec<String> = normalize::query_keys(&q.text)
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect();
        let by_key = format!("({filter}) AND keys IN [{}]", keys.join(", "));
        if !keys.is_empty() {
            let mut exact = index.search();
            exact.with_query("").with_filter(&by_key);
            multi.with_search_query(exact);
        }
        let federated = multi.with_federation(FederationOptions {
            offset: Some(q.offset),
            limit: Some(q.limit),
            facets_by_index: Some(HashMap::from([(
                self.index.clone(),
                vec!["kind".to_owned()],
            )])),
            merge_facets: Some(MergeFacets::default()),
            show_performance_details: None,
        });
        let found = tokio::time::timeout(SEARCH_TIMEOUT, federated.execute::<Stored>())
            .await
            .context("Meilisearch did not answer in time")??;
        let facets: HashMap<String, usize> = found
            .facet_distribution
            .and_then(|mut f| f.remove("kind"))
            .unwrap_or_default();
        for (k, n) in facets {
            if let Some(kind) = Kind::parse(&k) {
                counts.insert(kind, n as u64);
            }
        }
        let hits = found
            .hits
            .into_iter()
            .map(|h| Hit {
                kind: h.result.kind,
                id: h.result.id,
                title: h.result.title,
            })
            .collect();
        Ok(Hits { hits, counts })
    }

    async fn count(&self) -> anyhow::Result<u64> {
        self.ready().await?;
        let stats = self.client.index(&self.index).get_stats().await?;
        Ok(stats.number_of_documents as u64)
    }

    async fn rebuild(
        &self,
        docs: Box<dyn Iterator<Item = Document> + Send>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()> {
        // A name of its own: two rebuilds at once (a replica's first start beside `autoshop reindex`) do not
        // write into each other's index; the last to finish is swapped in last, and both are complete.
        let next = format!("{}_next_{}", self.index, Uuid::now_v7().simple());
        self.prepare(&next).await?;
        let index = self.client.index(&next);
        let mut batch = Vec::with_capacity(1000);
        let mut n = 0u64;
        for d in docs {
            batch.push(Stored::from(d));
            if batch.len() == 1000 {
                n += batch.len() as u64;
                self.wait(index.add_or_replace(&batch, Some("uid")).await?)
                    .await?;
                batch.clear();
                progress(n);
            }
        }
        if !batch.is_empty() {
            n += batch.len() as u64;
            self.wait(index.add_or_replace(&batch, Some("uid")).await?)
                .await?;
        }
        progress(n);
        let swap = SwapIndexes {
            indexes: (self.index.clone(), next.clone()),
            rename: None,
        };
        self.wait(self.client.swap_indexes([&swap]).await?).await?;
        self.wait(self.client.delete_index(&next).await?).await
    }
}
