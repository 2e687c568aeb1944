// The work-order board of one branch, live: every change anywhere (another tab, another replica) arrives through
// the workOrderChanged subscription and the board reloads. Each card offers the moves the signed-in role may make.
import { html } from 'lit';
import {
  BoardLiveDocument,
  TransitionWorkOrderDocument,
  WorkOrderBoardDocument,
  type WorkOrderBoardQuery,
  type WorkOrderStatus,
} from '../../../frontend-contract/client/src/index';
import { call, may } from '../api';
import { describe, userErrors } from '../errors';
import { subscribe } from '../live';
import type { Screen, Shell } from '../main';

const COLUMNS: WorkOrderStatus[] = ['DRAFT', 'ESTIMATE', 'AWAITING_APPROVAL', 'APPROVED', 'IN_PROGRESS', 'READY'];
const NEXT: Partial<Record<WorkOrderStatus, WorkOrderStatus>> = {
  DRAFT: 'ESTIMATE',
  ESTIMATE: 'AWAITING_APPROVAL',
  AWAITING_APPROVAL: 'APPROVED',
  APPROVED: 'IN_PROGRESS',
  IN_PROGRESS: 'READY',
  READY: 'CLOSED',
};
export const LABEL: Record<WorkOrderStatus, string> = {
  DRAFT: 'Draft',
  ESTIMATE: 'Estimate',
  AWAITING_APPROVAL: 'Awaiting approval',
  APPROVED: 'Approved',
  IN_PROGRESS: 'In progress',
  READY: 'Ready',
  CLOSED: 'Closed',
  CANCELLED: 'Cancelled',
};

type Card = WorkOrderBoardQuery['workOrders']['edges'][number]['node'];

export function board(shell: Shell, wanted: string | null): Screen {
  const locations = shell.me?.locations.edges.map((e) => e.node) ?? [];
  const readable = locations.filter(
    (l) => may(shell.me, 'work_order:read', l.id) || may(shell.me, 'work_order:read_assigned', l.id),
  );
  const locationId = wanted ?? readable[0]?.id ?? locations[0]?.id ?? null;
  let cards: Card[] | null = null;
  let total = 0;

  const load = async () => {
    try {
      const r = await call(WorkOrderBoardDocument, { locationId });
      cards = r.workOrders.edges.map((e) => e.node);
      total = r.workOrders.totalCount;
    } catch (e) {
      cards = [];
      total = 0;
      shell.flash(describe(e));
    }
    shell.redraw();
  };

  const move = async (card: Card, to: WorkOrderStatus) => {
    try {
      const r = await call(TransitionWorkOrderDocument, {
        input: {
          id: card.id,
          version: card.version,
          to,
          approval: to === 'APPROVED' ? { approvedBy: card.customer?.name ?? 'Customer', method: 'IN_PERSON' } : null,
        },
      });
      const problem = userErrors(r.transitionWorkOrder.errors);
      if (problem) shell.flash(problem);
    } catch (e) {
      shell.flash(describe(e));
    }
    await load();
  };

  void load();
  // After a dropped connection, moves made meanwhile were missed: the whole board is read again.
  const stop = subscribe(
    BoardLiveDocument,
    { locationId },
    () => void load(),
    () => void load(),
  );

  const cardView = (c: Card) => {
    const next = NEXT[c.status];
    const allowed = next && may(shell.me, `work_order:transition:${next.toLowerCase()}`, locationId);
    return html`
      <article class="wo" data-number=${c.number} data-status=${c.status}>
        <a href="#/work-orders/${encodeURIComponent(c.id)}"><strong>${c.number}</strong></a>
        <div>${c.customer?.name ?? '—'}</div>
        <div class="muted">${c.vehicle ? `${c.vehicle.make} ${c.vehicle.model} · ${c.vehicle.plateNumber ?? ''}` : ''}</div>
        <div class="muted">${c.complaint}</div>
        ${c.mechanics.length ? html`<div class="muted">Mechanics: ${c.mechanics.map((m) => m.name).join(', ')}</div>` : null}
        ${next && allowed
          ? html`<button class="move" @click=${() => move(c, next)}>→ ${LABEL[next]}</button>`
          : null}
      </article>
    `;
  };

  return {
    view: () => html`
      <section class="board-head">
        <h1>Board</h1>
        <label>Branch
          <select @change=${(e: Event) => shell.go(`/board?location=${(e.target as HTMLSelectElement).value}`)}>
            ${locations.map((l) => html`<option value=${l.id} ?selected=${l.id === locationId}>${l.name}</option>`)}
          </select>
        </label>
        <span class="muted">${cards ? `${total} open orders` : 'Loading…'}</span>
      </section>
      <section class="board">
        ${COLUMNS.map(
          (s) => html`
            <div class="column" data-column=${s}>
              <h2>${LABEL[s]}</h2>
              ${(cards ?? []).filter((c) => c.status === s).map(cardView)}
            </div>
          `,
        )}
      </section>
    `,
    stop,
  };
}
