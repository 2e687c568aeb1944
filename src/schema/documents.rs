//! Parsed documents of the queries clients send again and again: the SPA has a fixed set of operations, and
//! parsing one costs about as much as resolving a small page, so each distinct text is parsed once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_graphql::ServerError;
use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;

/// Documents longer than this are parsed every time: the cache is for an application's own operations.
const MAX_CACHED_LEN: usize = 8 * 1024;
/// Query text kept, in bytes; when full, the cache starts over (the SPA's working set refills it at once).
const MAX_CACHED_BYTES: usize = 512 * 1024;

#[derive(Debug, Default)]
pub struct DocumentCache {
    parsed: Mutex<Cached>,
}

#[derive(Debug, Default)]
struct Cached {
    docs: HashMap<String, Arc<ExecutableDocument>>,
    bytes: usize,
}

/// A parsed document, and whether it came from the cache.
#[derive(Debug)]
pub struct Parsed {
    pub doc: ExecutableDocument,
    pub cached: bool,
}

impl DocumentCache {
    /// The parsed document for `query`, from the cache or freshly parsed (not remembered yet: see [`Self::remember`]).
    pub fn parse(&self, query: &str) -> Result<Parsed, ServerError> {
        let hit = self.lock().docs.get(query).cloned();
        // The copy is made after the lock is released: a large document must not hold up other requests.
        match hit {
            Some(doc) => Ok(Parsed {
                doc: (*doc).clone(),
                cached: true,
            }),
            None => Ok(Parsed {
                doc: parse_query(query).map_err(ServerError::from)?,
                cached: false,
            }),
        }
    }

    /// Keeps a document that ran without errors: refused or failing documents never take room here.
    pub fn remember(&self, query: &str, doc: ExecutableDocument) {
        if query.len() > MAX_CACHED_LEN {
            return;
        }
        let mut cached = self.lock();
        if cached.bytes + query.len() > MAX_CACHED_BYTES {
            cached.docs.clear();
            cached.bytes = 0;
        }
        if cached
            .docs
            .insert(query.to_owned(), Arc::new(doc))
            .is_none()
        {
            cached.bytes += query.len();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cached> {
        self.parsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_document_comes_from_the_cache() {
        let cache = DocumentCache::default();
        let first = cache.parse("{ a }").expect("parses");
        assert!(!first.cached);
        assert!(
            !cache.parse("{ a }").expect("parses").cached,
            "not remembered until it ran"
        );
        cache.remember("{ a }", first.doc);
        assert!(cache.parse("{ a }").expect("parses").cached);
        assert!(cache.parse("{ a ").is_err());
    }

    #[test]
    fn the_cache_is_bounded_by_the_text_it_keeps() {
        let cache = DocumentCache::default();
        for i in 0..20_000 {
            let q = format!("{{ field{i} }}");
            let doc = cache.parse(&q).expect("parses").doc;
            cache.remember(&q, doc);
        }
        assert!(cache.lock().bytes <= MAX_CACHED_BYTES);
    }
}
