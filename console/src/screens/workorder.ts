// A work order with its lines and totals, its history, and its invoice with payments; and an invoice page.
import { html } from 'lit';
import {
  InvoicePageDocument,
  WorkOrderPageDocument,
  type InvoicePageQuery,
  type WorkOrderPageQuery,
} from '../../../frontend-contract/client/src/index';
import { call } from '../api';
import { describe, messageFor } from '../errors';
import type { Screen, Shell } from '../main';
import { LABEL } from './board';

type WorkOrder = Extract<NonNullable<WorkOrderPageQuery['node']>, { number: string; lines: unknown }>;
type Invoice = Extract<NonNullable<InvoicePageQuery['node']>, { paid: unknown }>;

const hidden = html`<span class="muted">hidden</span>`;

/** Loads one record by id for a page: `pick` keeps it when the answer is the kind of record the page shows. */
function record<T, R>(shell: Shell, load: () => Promise<R>, pick: (r: R) => T | null) {
  const state: { value: T | null; missing: boolean } = { value: null, missing: false };
  void (async () => {
    try {
      state.value = pick(await load());
      state.missing = !state.value;
    } catch (e) {
      shell.flash(describe(e));
    }
    shell.redraw();
  })();
  return state;
}

export function workOrderPage(shell: Shell, id: string): Screen {
  const wo = record(
    shell,
    () => call(WorkOrderPageDocument, { id }),
    (r) => (r.node && 'lines' in r.node ? (r.node as WorkOrder) : null),
  );
  return {
    view: () => {
      if (wo.missing) return html`<p>${messageFor('not_found')}</p>`;
      if (!wo.value) return html`<p class="muted">Loading…</p>`;
      const w = wo.value;
      return html`
        <h1>Work order ${w.number} <span class="badge">${LABEL[w.status]}</span></h1>
        <p>
          <a href="#/customers/${encodeURIComponent(w.customer?.id ?? '')}">${w.customer?.name ?? ''}</a> ·
          ${w.vehicle ? `${w.vehicle.year ?? ''} ${w.vehicle.make} ${w.vehicle.model} · ${w.vehicle.plateNumber ?? ''}` : ''} ·
          ${w.location?.name ?? ''}
        </p>
        <p><strong>Complaint:</strong> ${w.complaint} ${w.diagnosis ? html`<br /><strong>Diagnosis:</strong> ${w.diagnosis}` : null}</p>
        <p class="muted">Mechanics: ${w.mechanics.map((m) => m.name).join(', ') || '—'}</p>
        <table class="lines">
          <thead><tr><th>#</th><th>Kind</th><th>Description</th><th>Qty</th><th>Unit</th><th>Net</th><th>Tax</th><th>Total</th></tr></thead>
          <tbody>${w.lines.map((l) => html`<tr>
            <td>${l.position}</td><td>${l.kind}</td><td>${l.description}${l.mechanic ? html` <span class="muted">(${l.mechanic.name})</span>` : null}</td>
            <td>${l.quantity}</td><td>${l.unitPrice ?? hidden}</td><td>${l.net ?? hidden}</td><td>${l.tax ?? hidden}</td><td>${l.total ?? hidden}</td>
          </tr>`)}</tbody>
          <tfoot>
            <tr><td colspan="7">Subtotal</td><td>${w.subtotal ?? hidden}</td></tr>
            <tr><td colspan="7">Discount</td><td>${w.discount ?? hidden}</td></tr>
            <tr><td colspan="7">Tax</td><td>${w.tax ?? hidden}</td></tr>
            <tr><td colspan="7"><strong>Total</strong></td><td data-testid="wo-total"><strong>${w.total ?? hidden}</strong></td></tr>
          </tfoot>
        </table>
        ${w.invoice
          ? html`<section class="card">
              <h2>Invoice <a href="#/invoices/${encodeURIComponent(w.invoice.id)}">${w.invoice.number}</a> · ${w.invoice.status}</h2>
              <p>Total ${w.invoice.total ?? hidden} · paid ${w.invoice.paid ?? hidden} · due <strong>${w.invoice.balance ?? hidden}</strong></p>
              <ul>${w.invoice.payments.map((p) => html`<li>${p.isRefund ? 'Refund' : 'Payment'} ${p.amount} · ${p.method} · ${new Date(p.receivedAt).toLocaleString()}</li>`)}</ul>
            </section>`
          : null}
        <section class="card">
          <h2>History</h2>
          <ul>${w.statusHistory.map((h) => html`<li>${new Date(h.changedAt).toLocaleString()}: ${h.fromStatus ? LABEL[h.fromStatus] : '—'} → ${LABEL[h.toStatus]} ${h.changedBy ? `by ${h.changedBy.name}` : ''}${h.note ? ` (${h.note})` : ''}</li>`)}</ul>
        </section>
      `;
    },
  };
}

export function invoicePage(shell: Shell, id: string): Screen {
  const invoice = record(
    shell,
    () => call(InvoicePageDocument, { id }),
    (r) => (r.node && 'paid' in r.node ? (r.node as Invoice) : null),
  );
  return {
    view: () => {
      if (invoice.missing) return html`<p>${messageFor('not_found')}</p>`;
      if (!invoice.value) return html`<p class="muted">Loading…</p>`;
      const i = invoice.value;
      return html`
        <h1>Invoice ${i.number} <span class="badge">${i.status}</span></h1>
        <p><a href="#/customers/${encodeURIComponent(i.customer?.id ?? '')}">${i.customer?.name ?? ''}</a>
          ${i.workOrder ? html` · work order <a href="#/work-orders/${encodeURIComponent(i.workOrder.id)}">${i.workOrder.number}</a>` : null}</p>
        <table class="lines">
          <thead><tr><th>#</th><th>Description</th><th>Qty</th><th>Unit</th><th>Total</th></tr></thead>
          <tbody>${i.lines.map((l) => html`<tr><td>${l.position}</td><td>${l.description}</td><td>${l.quantity}</td><td>${l.unitPrice}</td><td>${l.total}</td></tr>`)}</tbody>
          <tfoot>
            <tr><td colspan="4">Total (${i.currency})</td><td>${i.total}</td></tr>
            <tr><td colspan="4">Paid</td><td>${i.paid}</td></tr>
            <tr><td colspan="4"><strong>Balance</strong></td><td><strong>${i.balance}</strong></td></tr>
          </tfoot>
        </table>
        <section class="card"><h2>Payments</h2>
          <ul>${i.payments.map((p) => html`<li>${p.isRefund ? 'Refund' : 'Payment'} ${p.amount} · ${p.method} · ${new Date(p.receivedAt).toLocaleString()} ${p.reference ?? ''}</li>`)}</ul>
        </section>
      `;
    },
  };
}
