// The search box's results: customers, vehicles, orders and invoices the caller may see, with the matched parts
// of each title marked (the server sends character ranges, never HTML).
import { html, type TemplateResult } from 'lit';
import { GlobalSearchDocument, type GlobalSearchQuery } from '../../../frontend-contract/client/src/index';
import { call } from '../api';
import { describe } from '../errors';
import type { Screen, Shell } from '../main';

type Hit = GlobalSearchQuery['search']['edges'][number]['node'];

function marked(title: string, ranges: ReadonlyArray<{ start: number; end: number }>): TemplateResult {
  const chars = Array.from(title);
  const parts: TemplateResult[] = [];
  let at = 0;
  for (const r of [...ranges].sort((a, b) => a.start - b.start)) {
    if (r.start < at) continue;
    parts.push(html`${chars.slice(at, r.start).join('')}<mark>${chars.slice(r.start, r.end).join('')}</mark>`);
    at = r.end;
  }
  parts.push(html`${chars.slice(at).join('')}`);
  return html`${parts}`;
}

function link(hit: Hit): string {
  const r = hit.record;
  switch (r.__typename) {
    case 'Customer':
      return `#/customers/${encodeURIComponent(r.id)}`;
    case 'WorkOrder':
      return `#/work-orders/${encodeURIComponent(r.id)}`;
    case 'Invoice':
      return `#/invoices/${encodeURIComponent(r.id)}`;
    default:
      return '#/search';
  }
}

export function searchScreen(shell: Shell, q: string): Screen {
  let hits: Hit[] | null = null;
  let counts: GlobalSearchQuery['search']['counts'] = [];
  if (q.trim()) {
    void (async () => {
      try {
        const r = await call(GlobalSearchDocument, { query: q });
        hits = r.search.edges.map((e) => e.node);
        counts = r.search.counts;
      } catch (e) {
        hits = [];
        shell.flash(describe(e));
      }
      shell.redraw();
    })();
  } else {
    hits = [];
  }
  return {
    view: () => html`
      <h1>Search: “${q}”</h1>
      <p class="muted">${counts.map((c) => `${c.count} ${c.type.toLowerCase().replace('_', ' ')}`).join(' · ')}</p>
      ${hits == null
        ? html`<p class="muted">Searching…</p>`
        : hits.length === 0
          ? html`<p>Nothing found.</p>`
          : html`<ul class="hits">${hits.map(
              (h) => html`<li class="hit"><span class="badge">${h.record.__typename}</span>
                <a href=${link(h)}>${marked(h.title, h.highlights)}</a></li>`,
            )}</ul>`}
    `,
  };
}
