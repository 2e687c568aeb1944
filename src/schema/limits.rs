//! Request-level guards and telemetry kept out of async-graphql's extension chain: any extension there wraps
//! every field resolution in boxed futures, which costs more than the rest of a large query put together.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::Duration;

use async_graphql::Name;
use async_graphql::ServerError;
use async_graphql::Variables;
use async_graphql::parser::Positioned;
use async_graphql::parser::types::{
    ExecutableDocument, Field, FragmentDefinition, OperationType, Selection, SelectionSet,
    VariableDefinition,
};
use async_graphql_value::{ConstValue, Value};

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
    /// What running it is charged against the caller's budget (see [`cost`]).
    pub cost: u32,
    /// The tighter budget its root fields also draw on: sign-in or upload requests.
    pub budget: Option<crate::ratelimit::Budget>,
}

/// Refuses documents with more than `max` aliases (aliases multiply work without adding depth), tells whether
/// the document writes and names its operation.
pub fn inspect<'a>(
    doc: &ExecutableDocument,
    operation: Option<&'a str>,
    variables: &Variables,
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
        let (cost, budget) = selected.map_or((1, None), |(_, op)| {
            let args = Arguments {
                variables,
                defaults: &op.node.variable_definitions,
            };
            let set = &op.node.selection_set.node;
            let cost = cost(
                set,
                &doc.fragments,
                &args,
                &mut HashMap::new(),
                &mut HashSet::new(),
            );
            (
                u32::try_from(cost).unwrap_or(u32::MAX),
                tight_budget(set, &doc.fragments, 0),
            )
        });
        return Ok(Inspection {
            writes,
            public,
            operation,
            cost,
            budget,
        });
    }
    Err(crate::error::coded(
        &format!("the query uses {aliases} aliases; at most {max} are allowed"),
        "too_many_aliases",
    ))
}

/// Root fields that sign in, renew a session or reset a password: their own tight budget per address, since
/// each one is a guess at a secret or a message sent.
const SIGN_IN_FIELDS: &[&str] = &[
    "login",
    "loginSecondFactor",
    "refreshSession",
    "requestPasswordReset",
    "resetPassword",
    "confirmEmailChange",
];
/// Root fields that hand out upload URLs: their own tight budget per caller.
const UPLOAD_FIELDS: &[&str] = &["requestUpload"];

/// The tight budget the operation's root fields draw on, looking through fragments; sign-in wins over upload.
fn tight_budget(
    set: &SelectionSet,
    fragments: &Fragments,
    depth: usize,
) -> Option<crate::ratelimit::Budget> {
    use crate::ratelimit::Budget;
    if depth >= 8 {
        return None;
    }
    set.items
        .iter()
        .filter_map(|s| match &s.node {
            Selection::Field(f) => {
                let name = f.node.name.node.as_str();
                if SIGN_IN_FIELDS.contains(&name) {
                    Some(Budget::SignIn)
                } else {
                    UPLOAD_FIELDS.contains(&name).then_some(Budget::Upload)
                }
            }
            Selection::InlineFragment(f) => {
                tight_budget(&f.node.selection_set.node, fragments, depth + 1)
            }
            Selection::FragmentSpread(spread) => fragments
                .get(&spread.node.fragment_name.node)
                .and_then(|d| tight_budget(&d.node.selection_set.node, fragments, depth + 1)),
        })
        .min_by_key(|b| *b != Budget::SignIn)
}

/// The page a connection returns when asked without `first` or `last`.
const DEFAULT_PAGE: u64 = 20;

/// The request's variables, and the operation's defaults for those it left out.
struct Arguments<'a> {
    variables: &'a Variables,
    defaults: &'a [Positioned<VariableDefinition>],
}

impl Arguments<'_> {
    fn value(&self, value: &Value) -> Option<ConstValue> {
        match value {
            Value::Variable(name) => self.variables.get(name).cloned().or_else(|| {
                self.defaults
                    .iter()
                    .find(|d| d.node.name.node == *name)
                    .and_then(|d| d.node.default_value.as_ref())
                    .map(|v| v.node.clone())
            }),
            other => other.clone().into_const(),
        }
    }

    /// How many items `field` can return: the `first`, `last` or `limit` asked for, the number of `ids`, or a
    /// default page for a connection (a field selecting `edges` or `nodes`) asked without a size.
    fn items(&self, field: &Field) -> u64 {
        let arg = |name: &str| {
            field
                .arguments
                .iter()
                .find(|(n, _)| n.node == name)
                .and_then(|(_, v)| self.value(&v.node))
        };
        let number = |v: ConstValue| match v {
            ConstValue::Number(n) => n.as_u64(),
            _ => None,
        };
        if let Some(n) = ["first", "last", "limit"]
            .into_iter()
            .find_map(|a| arg(a).and_then(number))
        {
            return n;
        }
        if let Some(ConstValue::List(ids)) = arg("ids") {
            return ids.len() as u64;
        }
        let is_connection = field.selection_set.node.items.iter().any(|s| {
            matches!(&s.node, Selection::Field(f) if matches!(f.node.name.node.as_str(), "edges" | "nodes"))
        });
        if is_connection { DEFAULT_PAGE } else { 1 }
    }
}

/// What a selection costs: one for each field, and a field's own selection once for every item it can return
/// (the same rule as the schema's complexity annotations, so a document's charge grows with what it fetches).
/// A fragment costs the same wherever it is spread, so its cost is memoised (nested spreads cannot make the
/// costing itself expensive); a cycle (invalid anyway) costs nothing more.
fn cost(
    set: &SelectionSet,
    fragments: &Fragments,
    args: &Arguments<'_>,
    memo: &mut HashMap<Name, u64>,
    visiting: &mut HashSet<Name>,
) -> u64 {
    set.items.iter().fold(0u64, |sum, s| {
        let n = match &s.node {
            Selection::Field(f) => {
                let inner = cost(&f.node.selection_set.node, fragments, args, memo, visiting);
                1u64.saturating_add(args.items(&f.node).saturating_mul(inner))
            }
            Selection::InlineFragment(f) => {
                cost(&f.node.selection_set.node, fragments, args, memo, visiting)
            }
            Selection::FragmentSpread(spread) => {
                let name = &spread.node.fragment_name.node;
                if let Some(n) = memo.get(name) {
                    *n
                } else if let (Some(def), true) =
                    (fragments.get(name), visiting.insert(name.clone()))
                {
                    let n = cost(
                        &def.node.selection_set.node,
                        fragments,
                        args,
                        memo,
                        visiting,
                    );
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
        super::inspect(&doc, op, &Variables::default(), max)
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

    fn cost_of(q: &str, variables: serde_json::Value) -> u32 {
        let doc = async_graphql::parser::parse_query(q).expect("parse");
        let vars = Variables::from_json(variables);
        super::inspect(&doc, None, &vars, 100)
            .expect("inspect")
            .cost
    }

    #[test]
    fn a_page_costs_its_fields_once_for_every_item_it_can_return() {
        assert_eq!(cost_of("{ __typename }", serde_json::json!({})), 1);
        // customers (1) + 5 × (edges (1) + node (1) + name (1))
        let page = "query($n: Int) { customers(first: $n) { edges { node { name } } } }";
        assert_eq!(cost_of(page, serde_json::json!({ "n": 5 })), 16);
        assert_eq!(
            cost_of(page, serde_json::json!({})),
            1 + 20 * 3,
            "a default page"
        );
        let defaulted = "query($n: Int = 2) { customers(first: $n) { edges { node { name } } } }";
        assert_eq!(cost_of(defaulted, serde_json::json!({})), 7);
        let nodes =
            "query($ids: [ID!]!) { nodes(ids: $ids) { id ...F } } fragment F on Node { id }";
        assert_eq!(
            cost_of(nodes, serde_json::json!({ "ids": ["a", "b", "c"] })),
            1 + 3 * 2
        );
        assert_eq!(
            cost_of(
                "{ customer { history(limit: 4) { action } } }",
                serde_json::json!({})
            ),
            1 + 1 + 4
        );
    }

    #[test]
    fn sign_in_and_upload_fields_draw_on_their_own_budgets() {
        use crate::ratelimit::Budget;
        let budget = |q: &str| inspect(q, None, 100).ok().and_then(|i| i.budget);
        assert_eq!(
            budget("mutation { login(input: {}) { ok } }"),
            Some(Budget::SignIn)
        );
        assert_eq!(
            budget("mutation { ...F } fragment F on M { refreshSession { ok } }"),
            Some(Budget::SignIn)
        );
        assert_eq!(
            budget("mutation { requestUpload(input: {}) { ok } }"),
            Some(Budget::Upload)
        );
        assert_eq!(budget("{ customers { totalCount } }"), None);
    }
}
