// GraphiQL, bundled with the console so the explorer works on a shop's box without internet and cannot change
// under us. Served by the binary at GET /graphql in development only. It is handed the checked-in schema rather
// than introspecting: the introspection query is deeper than the server's depth limit allows anyone.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import { createGraphiQLFetcher } from '@graphiql/toolkit';
import { buildSchema } from 'graphql';
import sdl from '../../schema.graphql?raw';
import 'graphiql/style.css';

const url = new URL('/graphql', window.location.href);
const fetcher = createGraphiQLFetcher({
  url: url.toString(),
  subscriptionUrl: url.toString().replace(/^http/, 'ws') + '/ws',
});

const root = document.getElementById('explorer');
if (root) {
  createRoot(root).render(createElement(GraphiQL, { fetcher, schema: buildSchema(sdl) }));
}
