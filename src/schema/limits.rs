//! Request-level guards and telemetry kept out of async-graphql's extension chain: any extension there wraps
//! every field resolution in boxed futures, which costs more than the rest of a large query put together.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_graphql::Name;
use async_graphql::ServerError;
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};

type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// Aliases a selection runs, with each fragment counted once for every place it is spread. Fragment totals are
/// memoised, so nested spreads cannot make the count itself expensive; a cycle (invalid anyway) counts as none.
fn count_aliases(
    set: &SelectionSet,
    fragments: &Fragments,
    memo: &mut HashMap<Name, usize>,
    visiting: &mut HashSet<Name>,
) -> usize {
    set.items.iter().fold(0usize, |sum, s| {
        let n = match &s.node {
            Selection::Field(f) => usize::from(f.node.alias.is_some()).saturating_add(
                count_aliases(&f.node.selection_set.node, fragments, memo, visiting),
            ),
            Selection::InlineFragment(f) => {
                count_aliases(&f.node.selection_set.node, fragments, memo, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if let Some(n) = memo.get(name) {
                    *n
                } else if let (Some(def), true) =
                    (fragments.get(name), visiting.insert(name.clone()))
                {
                    let n = count_aliases(&def.node.selection_set.node, fragments, memo, visiting);
                    visiting.remove(name);
                    memo.insert(name.clone(), n);
                    n
                } else {
                    0
                }
            }
        };
        sum.saturating_add(n)
    })
}

/// Root fields anyone may call: they are how a caller gets credentials (and, in development, what GraphiQL
/// asks to draw the schema; introspection is off in production). Everything else needs a signed-in caller.
pub const PUBLIC_FIELDS: &[&str] = &[
    "login",
    "loginSecondFactor",
    "refreshSession",
    "logout",
    "requestPasswordReset",
    "resetPassword",
    "confirmEmailChange",
    "__typename",
    "__schema",
    "__type",
];

/// Whether every root field the selection runs is public, looking through fragments (a cycle is not public).
fn all_public(set: &SelectionSet, fragments: &Fragments, depth: usize) -> bool {
    depth < 8
        && set.items.iter().all(|s| match &s.node {
            Selection::Field(f) => PUBLIC_FIELDS.contains(&f.node.name.node.as_str()),
            Selection::InlineFragment(f) => {
                all_public(&f.node.selection_set.node, fragments, depth + 1)
            }
            Selection::FragmentSpread(spread) => fragments
                .get(&spread.node.fragment_name.node)
                .is_some_and(|d| all_public(&d.node.selection_set.node, fragments, depth + 1)),
        })
}

/// What the handler needs to know about a document before running it.
#[derive(Debug, Clone, Copy)]
pub struct Inspection<'a> {
    /// Some operation in the document writes; reads then bypass the loader cache.
    pub writes: bool,
    /// The operation only calls [`PUBLIC_FIELDS`]: it may run without credentials.
    pub public: bool,
    /// The operation's name for metrics: the one the request named, or the document's only one.
    pub operation: Option<&'a str>,
}

/// Refuses documents with more than `max` aliases (aliases multiply work without adding depth), tells whether
/// the document writes and names its operation.
pub fn inspect<'a>(
    doc: &ExecutableDocument,
    operation: Option<&'a str>,
    max: usize,
) -> Result<Inspection<'a>, ServerError> {
    let mut all = doc.operations.iter();
    // The operation that will run: the one named, or the document's only one.
    let selected = match operation {
        Some(wanted) => doc
            .operations
            .iter()
            .find(|(name, _)| name.is_some_and(|n| n.as_str() == wanted)),
        None => match (all.next(), all.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        },
    };
    let operation = operation.or_else(|| {
        selected
            .and_then(|(name, _)| name)
            .map(|n| label(Some(n.as_str())))
    });
    let writes = match selected {
        Some((_, op)) => op.node.ty != OperationType::Query,
        None => doc
            .operations
            .iter()
            .any(|(_, op)| op.node.ty != OperationType::Query),
    };
    let aliases = selected.map_or(0, |(_, op)| {
        count_aliases(
            &op.node.selection_set.node,
            &doc.fragments,
            &mut HashMap::new(),
            &mut HashSet::new(),
        )
    });
    let public =
        selected.is_some_and(|(_, op)| all_public(&op.node.selection_set.node, &doc.fragments, 0));
    if aliases <= max {
        return Ok(Inspection {
            writes,
            public,
            operation,
        });
    }
    Err(crate::error::coded(
        &format!("the query uses {aliases} aliases; at most {max} are allowed"),
        "too_many_aliases",
    ))
}

/// Operation names are chosen by clients: past this many distinct ones, the rest share one label.
const MAX_OPERATION_LABELS: usize = 200;

static SEEN: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// The metric label for an operation name, interned: each label lives as long as the process, and there are
/// at most [`MAX_OPERATION_LABELS`] of them.
fn label(name: Option<&str>) -> &'static str {
    let Some(name) = name else { return "anonymous" };
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    let seen = seen.get_or_insert_with(HashSet::new);
    if let Some(known) = seen.get(name) {
        return known;
    }
    if seen.len() < MAX_OPERATION_LABELS && name.len() <= 64 {
        let interned: &'static str = Box::leak(name.to_owned().into_boxed_str());
        seen.insert(interned);
        interned
    } else {
        "other"
    }
}

/// Counts a request and records its latency under its operation name, for `/metrics`.
pub fn record(operation: Option<&str>, ok: bool, elapsed: Duration) {
    let operation = label(operation);
    let outcome = if ok { "ok" } else { "error" };
    metrics::counter!("autoshop_graphql_requests_total", "operation" => operation, "outcome" => outcome).increment(1);
    metrics::histogram!("autoshop_graphql_request_seconds", "operation" => operation)
        .record(elapsed.as_secs_f64());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect<'a>(
        q: &str,
        op: Option<&'a str>,
        max: usize,
    ) -> Result<Inspection<'a>, ServerError> {
        let doc = async_graphql::parser::parse_query(q)
            .map_err(|e| ServerError::new(e.to_string(), None))?;
        super::inspect(&doc, op, max)
    }

    #[test]
    fn aliases_in_fields_fragments_and_inline_fragments_all_count() {
        let q = "query { a: x { b: y } ...F ... on T { c: z } } fragment F on T { d: w }";
        assert!(inspect(q, None, 4).is_ok());
        assert!(inspect(q, None, 3).is_err());
    }

    #[test]
    fn a_fragment_counts_once_per_spread_and_only_the_running_operation_counts() {
        let q =
            "query A { p: x { ...F } q: y { ...F } } query B { x } fragment F on T { a: u b: v }";
        assert!(inspect(q, Some("A"), 6).is_ok());
        assert!(inspect(q, Some("A"), 5).is_err());
        assert!(inspect(q, Some("B"), 0).is_ok());
    }

    #[test]
    fn nested_spreads_are_counted_without_blowing_up() {
        let mut q = String::from("query { ...F0 } ");
        for i in 0..40 {
            q.push_str(&format!(
                "fragment F{i} on T {{ a: x ...F{n} ...F{n} }} ",
                n = i + 1
            ));
        }
        q.push_str("fragment F40 on T { a: x }");
        assert!(inspect(&q, None, 1000).is_err());
    }

    #[test]
    fn mutations_are_told_apart_from_queries() {
        assert!(
            !inspect("query A { x } query B { y }", None, 1)
                .map(|i| i.writes)
                .unwrap_or(true)
        );
        assert!(
            inspect("query A { x } mutation B { y }", None, 1)
                .map(|i| i.writes)
                .unwrap_or(false)
        );
    }

    #[test]
    fn a_lone_operation_names_itself() {
        assert_eq!(
            inspect("query Board { x }", None, 1)
                .ok()
                .and_then(|i| i.operation),
            Some("Board")
        );
        assert_eq!(
            inspect("query A { x } query B { y }", Some("B"), 1)
                .ok()
                .and_then(|i| i.operation),
            Some("B")
        );
        assert_eq!(
            inspect("query A { x } query B { y }", None, 1)
                .ok()
                .and_then(|i| i.operation),
            None
        );
    }

    #[test]
    fn only_sign_in_fields_run_without_credentials_even_through_fragments() {
        let public = |q: &str| inspect(q, None, 100).map(|i| i.public).unwrap_or(false);
        assert!(public("mutation { login(input: {}) { errors { code } } }"));
        assert!(public(
            "mutation { ...F } fragment F on MutationRoot { logout(input: {}) { ok } }"
        ));
        assert!(!public(
            "mutation { login(input: {}) { ok } createUser(input: {}) { errors { code } } }"
        ));
        assert!(!public(
            "mutation { ... on MutationRoot { createUser(input: {}) { errors { code } } } }"
        ));
        assert!(!public("query { customers { totalCount } }"));
        assert!(!public("mutation { ...F } fragment F on M { ...F }"));
    }
}
