//! What a search returns: typed hits, each resolving to its record through the usual loaders, with the places
//! its title matched as ranges (never HTML), and how many of each type match.

use async_graphql::{Enum, SimpleObject, Union};

use super::types::{Customer, Invoice, Vehicle, WorkOrder};
use crate::search::Kind;

#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum SearchType {
    Customer,
    Vehicle,
    WorkOrder,
    Invoice,
}

impl SearchType {
    pub fn kind(self) -> Kind {
        match self {
            Self::Customer => Kind::Customer,
            Self::Vehicle => Kind::Vehicle,
            Self::WorkOrder => Kind::WorkOrder,
            Self::Invoice => Kind::Invoice,
        }
    }

    pub fn of(kind: Kind) -> Self {
        match kind {
            Kind::Customer => Self::Customer,
            Kind::Vehicle => Self::Vehicle,
            Kind::WorkOrder => Self::WorkOrder,
            Kind::Invoice => Self::Invoice,
        }
    }
}

/// The record a hit is.
#[derive(Union)]
pub enum SearchRecord {
    Customer(Customer),
    Vehicle(Vehicle),
    WorkOrder(WorkOrder),
    Invoice(Invoice),
}

/// A part of a text, by character offsets: `[start, end)`.
#[derive(SimpleObject, Debug, PartialEq, Eq)]
pub struct TextRange {
    pub start: i32,
    pub end: i32,
}

#[derive(SimpleObject)]
pub struct SearchHit {
    pub record: SearchRecord,
    /// What to show for the hit: a name, a car and its plate, a number and its customer.
    pub title: String,
    /// Where `title` matched what was typed, to mark.
    pub highlights: Vec<TextRange>,
}

/// How many records of a type match, within what the caller may see.
#[derive(SimpleObject)]
pub struct SearchCount {
    #[graphql(name = "type")]
    pub kind: SearchType,
    pub count: i32,
}

/// The extra field of a search's connection.
#[derive(SimpleObject)]
pub struct SearchExtras {
    pub counts: Vec<SearchCount>,
}

/// Byte ranges of `title` as character offsets (what JavaScript's strings index by, near enough for the
/// alphabets a shop types).
pub fn ranges(title: &str, bytes: &[(usize, usize)]) -> Vec<TextRange> {
    let at = |b: usize| i32::try_from(title[..b].chars().count()).unwrap_or(i32::MAX);
    bytes
        .iter()
        .map(|(s, e)| TextRange {
            start: at(*s),
            end: at(*e),
        })
        .collect()
}
