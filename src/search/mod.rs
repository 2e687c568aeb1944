//! Staff search over customers, vehicles, work orders and invoices, in the domain's words: what a record
//! looks like to the engine ([`Document`]), what the caller asks and may see ([`Query`]), and what comes back
//! ([`Hits`]). Two engines sit behind [`SearchIndex`]: Meilisearch in production ([`meili`]) and tantivy in the
//! single box ([`embedded`]). Writes reach the index through the transactional outbox ([`outbox`]).

#[cfg(feature = "embedded-search")]
pub mod embedded;
pub mod meili;
pub mod normalize;
pub mod outbox;

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::auth::visibility::SearchScope;

/// The kinds of record search finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Customer,
    Vehicle,
    WorkOrder,
    Invoice,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Customer,
        Kind::Vehicle,
        Kind::WorkOrder,
        Kind::Invoice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Customer => "customer",
            Kind::Vehicle => "vehicle",
            Kind::WorkOrder => "work_order",
            Kind::Invoice => "invoice",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Who may see records of this kind.
    pub fn rule(self) -> crate::auth::visibility::Rule {
        use crate::auth::visibility as v;
        match self {
            Kind::Customer => v::CUSTOMER,
            Kind::Vehicle => v::VEHICLE,
            Kind::WorkOrder => v::WORK_ORDER,
            Kind::Invoice => v::INVOICE,
        }
    }
}

/// A record as the engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Document {
    pub kind: Kind,
    pub id: Uuid,
    /// None: the record has no location (a customer every branch serves).
    pub location_id: Option<Uuid>,
    /// The users the record is assigned to (a work order's mechanics).
    pub assigned_to: Vec<Uuid>,
    /// What a hit shows: a name, a car, an order's number and customer.
    pub title: String,
    /// Words matched with typos allowed: names, make and model, complaint.
    pub words: String,
    /// Shop keys matched exactly, already normalised ([`normalize`]).
    pub keys: Vec<String>,
}

impl serde::Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Kind::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown kind `{s}`")))
    }
}

/// A search as the engine runs it: the text only ever as text to match, the scope only from the caller's
/// grants.
#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    /// The kinds asked for, each with what the caller may see of it; kinds the caller sees nothing of are left
    /// out before the engine is asked.
    pub scopes: BTreeMap<Kind, SearchScope>,
    pub offset: usize,
    pub limit: usize,
}

/// A document found, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub kind: Kind,
    pub id: Uuid,
    pub title: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hits {
    pub hits: Vec<Hit>,
    /// How many documents of each kind match, within the caller's scope.
    pub counts: BTreeMap<Kind, u64>,
}

#[async_trait::async_trait]
pub trait SearchIndex: Send + Sync + std::fmt::Debug {
    /// Adds or replaces documents by id.
    async fn upsert(&self, docs: Vec<Document>) -> anyhow::Result<()>;

    /// Removes documents by id; absent ones are no error.
    async fn remove(&self, ids: Vec<(Kind, Uuid)>) -> anyhow::Result<()>;

    async fn search(&self, q: &Query) -> anyhow::Result<Hits>;

    /// How many documents the index holds.
    async fn count(&self) -> anyhow::Result<u64>;

    /// Replaces everything with `docs`, building aside and swapping in when complete.
    async fn rebuild(
        &self,
        docs: Box<dyn Iterator<Item = Document> + Send>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> anyhow::Result<()>;
}

/// The engine the settings name: Meilisearch, or the index built in.
pub async fn open(
    s: &crate::config::SearchSettings,
) -> anyhow::Result<std::sync::Arc<dyn SearchIndex>> {
    match &s.meili_url {
        Some(url) => {
            let key = s.meili_key.as_ref().map(|k| k.expose().clone());
            let m = meili::Meilisearch::connect(url, key.as_deref(), &s.index)
                .map_err(|e| anyhow::anyhow!("Meilisearch at {url} is not usable: {e:#}"))?;
            Ok(std::sync::Arc::new(m))
        }
        None => built_in(s),
    }
}

#[cfg(feature = "embedded-search")]
fn built_in(s: &crate::config::SearchSettings) -> anyhow::Result<std::sync::Arc<dyn SearchIndex>> {
    Ok(std::sync::Arc::new(embedded::Tantivy::open(&s.dir)?))
}

#[cfg(not(feature = "embedded-search"))]
fn built_in(_: &crate::config::SearchSettings) -> anyhow::Result<std::sync::Arc<dyn SearchIndex>> {
    anyhow::bail!("MEILI_URL is required: this build has no built-in search index")
}

/// Where a title's words match the query: byte ranges into the title, for the client to mark (never HTML).
pub fn highlights(title: &str, text: &str) -> Vec<(usize, usize)> {
    let wanted = normalize::words(text);
    let keys = normalize::query_keys(text);
    let mut ranges = Vec::new();
    let mut start = None;
    for (i, c) in title.char_indices().chain([(title.len(), ' ')]) {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                let word = title[s..i].to_lowercase();
                let hit = wanted.iter().any(|w| {
                    let typos = usize::from(normalize::typos(w));
                    word.starts_with(w.as_str()) || strsim::damerau_levenshtein(&word, w) <= typos
                }) || keys.iter().any(|k| k[1..] == normalize::plate(&word));
                if hit {
                    ranges.push((s, i));
                }
                start = None;
            }
            _ => {}
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_highlight_marks_the_words_a_typo_still_matches() {
        let t = "John Smith";
        assert_eq!(highlights(t, "jonh smit"), vec![(0, 4), (5, 10)]);
        assert_eq!(highlights("Иван Петров", "петров"), vec![(9, 21)]);
        assert_eq!(
            highlights("Toyota Corolla AB123K", "ab 123 k"),
            vec![(15, 21)]
        );
    }
}
