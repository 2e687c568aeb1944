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

/// Parsing costs grow with a document's size and tokens: both are bounded before the parser runs, cheaply.
#[derive(Debug)]
pub struct DocumentCache {
    parsed: Mutex<Cached>,
    max_bytes: usize,
    max_tokens: usize,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self::bounded(16 * 1024, 2000)
    }
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
    pub fn bounded(max_bytes: usize, max_tokens: usize) -> Self {
        Self {
            parsed: Mutex::default(),
            max_bytes,
            max_tokens,
        }
    }

    /// The parsed document for `query`, from the cache or freshly parsed (not remembered yet: see [`Self::remember`]).
    /// A document over the size or token bound is refused (`query_too_large`) before any parsing.
    pub fn parse(&self, query: &str) -> Result<Parsed, ServerError> {
        if query.len() > self.max_bytes {
            return Err(too_large(format!(
                "the document has more than {} bytes",
                self.max_bytes
            )));
        }
        let hit = self.lock().docs.get(query).cloned();
        // The copy is made after the lock is released: a large document must not hold up other requests.
        match hit {
            Some(doc) => Ok(Parsed {
                doc: (*doc).clone(),
                cached: true,
            }),
            None if count_tokens(query, self.max_tokens) > self.max_tokens => Err(too_large(
                format!("the document has more than {} tokens", self.max_tokens),
            )),
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

fn too_large(message: String) -> ServerError {
    crate::error::coded(&message, "query_too_large")
}

/// Counts a document's lexical tokens (punctuators, names, numbers, strings), skipping white space, commas and
/// comments, without parsing it; it stops counting past `max`. An approximation that errs low (a name run into
/// a spread counts once): a bound, not a parser.
fn count_tokens(doc: &str, max: usize) -> usize {
    let b = doc.as_bytes();
    let (mut i, mut n) = (0, 0);
    let skip_while = |mut i: usize, ok: &dyn Fn(u8) -> bool| {
        while i < b.len() && ok(b[i]) {
            i += 1;
        }
        i
    };
    while i < b.len() && n <= max {
        let c = b[i];
        i = match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i + 1,
            b'#' => skip_while(i, &|c| c != b'\n' && c != b'\r'),
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                n += 1;
                let rest = &doc[i + 3..];
                rest.find("\"\"\"").map_or(b.len(), |end| i + 3 + end + 3)
            }
            b'"' => {
                n += 1;
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' && b[j] != b'\n' {
                    j += if b[j] == b'\\' { 2 } else { 1 };
                }
                j + 1
            }
            b'.' if b[i..].starts_with(b"...") => {
                n += 1;
                i + 3
            }
            c if c.is_ascii_digit() || c == b'-' => {
                n += 1;
                skip_while(i + 1, &|c| {
                    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-')
                })
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                n += 1;
                skip_while(i + 1, &|c| c.is_ascii_alphanumeric() || c == b'_')
            }
            _ => {
                n += 1;
                i + 1
            }
        };
    }
    n
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
    fn tokens_are_counted_as_the_grammar_has_them() {
        let q = r#"query Q($id: ID!) { node(id: $id) { ... on Customer { name } } } # ignored, all of it
            mutation { a(s: "x, y \" z", n: -1.5e3, b: """block "quoted" text""") }"#;
        // query Q ( $ id : ID ! ) { node ( id : $ id ) { ... on Customer { name } } }: 26
        // mutation { a ( s : "…" n : -1.5e3 b : """…""" ) }: 15 (commas are not tokens)
        assert_eq!(count_tokens(q, 1000), 26 + 15);
        assert_eq!(
            count_tokens(&"a ".repeat(5000), 100),
            101,
            "counting stops past the bound"
        );
    }

    #[test]
    fn documents_over_the_bounds_are_refused_before_parsing() {
        let cache = DocumentCache::bounded(1000, 50);
        let long = format!("{{ {} }}", "a".repeat(1000));
        let e = cache.parse(&long).expect_err("too long");
        assert_eq!(
            e.extensions.and_then(|x| x.get("code").cloned()),
            Some(async_graphql::Value::from("query_too_large"))
        );
        assert!(cache.parse(&format!("{{ {} }}", "a ".repeat(60))).is_err());
        assert!(cache.parse(&format!("{{ {} }}", "a ".repeat(40))).is_ok());
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
