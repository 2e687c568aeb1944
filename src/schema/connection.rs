//! Relay connections built from keyset pages, with a `totalCount` that costs work only when selected.

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Object, OutputType, Result};

use crate::db::keyset::CountQuery;
use crate::services::reads::Listed;

/// Extra fields on every connection.
pub struct ConnectionExtras {
    count: CountQuery,
}

#[Object]
impl ConnectionExtras {
    /// How many records match the filter, ignoring paging. Counting costs the database a pass over the list,
    /// so ask only when shown.
    async fn total_count(&self) -> Result<i64> {
        Ok(self.count.run().await?)
    }
}

pub type Conn<N> = Connection<String, N, ConnectionExtras, EmptyFields>;

pub fn connection<M, N: OutputType>(listed: Listed<M>, mut node: impl FnMut(M) -> N) -> Conn<N> {
    let Listed { page, count } = listed;
    let mut c = Connection::with_additional_fields(
        page.has_previous_page,
        page.has_next_page,
        ConnectionExtras { count },
    );
    c.edges.extend(
        page.rows
            .into_iter()
            .map(|(cursor, m)| Edge::new(cursor, node(m))),
    );
    c
}
