//! Parsed documents of the queries clients send again and again: the SPA has a fixed set of operations, and
//! parsing one costs about as much as resolving a small page, so each distinct text is parsed once.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::ServerError;
use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;

/// Documents longer than this are parsed every time: the cache is for an application's own operations.
const MAX_CACHED_LEN: usize = 16 * 1024;
/// Distinct documents kept; when full, the cache starts over (the SPA's working set refills it at once).
const MAX_ENTRIES: usize = 512;

#[derive(Debug, Default)]
pub struct DocumentCache {
    parsed: Mutex<HashMap<String, ExecutableDocument>>,
}

impl DocumentCache {
    /// The parsed document for `query`, from the cache or freshly parsed.
    pub fn parse(&self, query: &str) -> Result<ExecutableDocument, ServerError> {
        if let Some(doc) = self.lock().get(query) {
            return Ok(doc.clone());
        }
        let doc = parse_query(query).map_err(ServerError::from)?;
        if query.len() <= MAX_CACHED_LEN {
            let mut parsed = self.lock();
            if parsed.len() >= MAX_ENTRIES {
                parsed.clear();
            }
            parsed.insert(query.to_owned(), doc.clone());
        }
        Ok(doc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ExecutableDocument>> {
        self.parsed.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_is_parsed_once_and_bad_ones_are_not_kept() {
        let cache = DocumentCache::default();
        assert!(cache.parse("{ a }").is_ok());
        assert!(cache.parse("{ a }").is_ok());
        assert_eq!(cache.lock().len(), 1);
        assert!(cache.parse("{ a ").is_err());
        assert_eq!(cache.lock().len(), 1);
    }
}
