//! Staff search: the text goes to the engine only as text to match; what the caller may see of each kind goes
//! as the scope their grants render to (`visibility::Rule::search_scope`), never from the client.

use std::time::Duration;

use crate::auth::policy::Access;
use crate::auth::visibility::SearchScope;
use crate::error::{AppError, AppResult};
use crate::search::{Hits, Kind, Query, SearchIndex};

/// Longest a search waits for the engine before saying it is unavailable.
const PATIENCE: Duration = Duration::from_secs(1);

/// Longest text searched for.
const MAX_TEXT: usize = 200;

/// What was asked: the text, the kinds (all when none), and the window of hits.
#[derive(Debug, Clone)]
pub struct Asked {
    pub text: String,
    pub kinds: Vec<Kind>,
    pub offset: usize,
    pub limit: usize,
}

pub async fn search(index: &dyn SearchIndex, access: &Access, asked: Asked) -> AppResult<Hits> {
    let text = asked.text.trim();
    if text.chars().count() > MAX_TEXT {
        return Err(AppError::invalid(
            "query",
            "too_long",
            format!("search for at most {MAX_TEXT} characters"),
        ));
    }
    let kinds = if asked.kinds.is_empty() {
        Kind::ALL.to_vec()
    } else {
        asked.kinds
    };
    let scopes = kinds
        .into_iter()
        .map(|k| (k, k.rule().search_scope(access)))
        .collect::<std::collections::BTreeMap<_, _>>();
    let nothing = text.is_empty() || scopes.values().all(|s| *s == SearchScope::Nothing);
    if nothing {
        return Ok(Hits {
            hits: Vec::new(),
            counts: scopes.keys().map(|k| (*k, 0)).collect(),
        });
    }
    let q = Query {
        text: text.to_owned(),
        scopes,
        offset: asked.offset,
        limit: asked.limit,
    };
    match tokio::time::timeout(PATIENCE, index.search(&q)).await {
        Ok(Ok(hits)) => Ok(hits),
        Ok(Err(e)) => Err(AppError::SearchUnavailable(e)),
        Err(_) => Err(AppError::SearchUnavailable(anyhow::anyhow!(
            "the search engine did not answer within {PATIENCE:?}"
        ))),
    }
}
