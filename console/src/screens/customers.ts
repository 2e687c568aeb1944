// Customers: the list with a name filter, and a customer's card with vehicles, orders, balance and files. A photo
// or PDF dropped on the card goes from the browser straight to the object store through a presigned URL, then
// shows with its download link.
import { html } from 'lit';
import {
  ConfirmUploadDocument,
  CustomerCardDocument,
  CustomerFilesDocument,
  CustomerListDocument,
  RequestUploadDocument,
  type CustomerCardQuery,
  type CustomerFilesQuery,
  type CustomerListQuery,
} from '../../../frontend-contract/client/src/index';
import { call, may } from '../api';
import { describe, messageFor, userErrors } from '../errors';
import type { Screen, Shell } from '../main';
import { LABEL } from './board';

export function customerList(shell: Shell, q: string): Screen {
  let rows: CustomerListQuery['customers']['edges'] | null = null;
  let total = 0;
  const load = async () => {
    try {
      const r = await call(CustomerListDocument, { nameContains: q || null });
      rows = r.customers.edges;
      total = r.customers.totalCount;
    } catch (e) {
      shell.flash(describe(e));
    }
    shell.redraw();
  };
  void load();
  const filter = (e: Event) => {
    e.preventDefault();
    const value = new FormData(e.target as HTMLFormElement).get('q');
    shell.go(`/customers?q=${encodeURIComponent(String(value ?? ''))}`);
  };
  return {
    view: () => html`
      <h1>Customers</h1>
      <form @submit=${filter}><input name="q" .value=${q} placeholder="Name contains…" aria-label="Name contains" /></form>
      <p class="muted">${rows ? `${total} customers` : 'Loading…'}</p>
      <table>
        <thead><tr><th>Name</th><th>Phones</th><th>Balance due</th></tr></thead>
        <tbody>
          ${(rows ?? []).map(
            ({ node: c }) => html`<tr>
              <td><a href="#/customers/${encodeURIComponent(c.id)}">${c.name}</a></td>
              <td>${c.phones?.join(', ') ?? '—'}</td>
              <td>${c.balanceDue ?? '—'}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    `,
  };
}

type Customer = Extract<NonNullable<CustomerCardQuery['node']>, { name: string }>;
type Files = NonNullable<Extract<NonNullable<CustomerFilesQuery['node']>, { files: unknown }>['files']>;

export function customerCard(shell: Shell, id: string): Screen {
  let customer: Customer | null = null;
  let files: Files | null = null;
  let uploading: string | null = null;

  const loadFiles = async () => {
    try {
      const r = await call(CustomerFilesDocument, { id });
      files = r.node && 'files' in r.node ? r.node.files : null;
    } catch {
      files = null; // no file:read here: the card shows without files
    }
    shell.redraw();
  };
  const load = async () => {
    try {
      const r = await call(CustomerCardDocument, { id });
      customer = r.node && 'name' in r.node ? (r.node as Customer) : null;
      if (!customer) shell.flash(messageFor('not_found'));
    } catch (e) {
      shell.flash(describe(e));
    }
    shell.redraw();
    await loadFiles();
  };

  const upload = async (file: File) => {
    uploading = file.name;
    shell.redraw();
    try {
      const r = await call(RequestUploadDocument, {
        input: { parentId: id, fileName: file.name, contentType: file.type || 'application/octet-stream', size: file.size },
      });
      const problem = userErrors(r.requestUpload.errors);
      if (problem || !r.requestUpload.upload || !r.requestUpload.file) {
        shell.flash(problem ?? describe(null));
        return;
      }
      const { url, method, headers } = r.requestUpload.upload;
      const put = await fetch(url, {
        method,
        // The browser sets the length itself; every other signed header goes as signed.
        headers: headers.filter((h) => h.name.toLowerCase() !== 'content-length').map((h) => [h.name, h.value]),
        body: file,
      });
      if (!put.ok) {
        shell.flash('The file store refused the upload. Try again.');
        return;
      }
      const done = await call(ConfirmUploadDocument, { fileId: r.requestUpload.file.id });
      const rejected = userErrors(done.confirmUpload.errors);
      if (rejected) shell.flash(rejected);
      else shell.flash(`${file.name} is attached.`, 'info');
    } catch (e) {
      shell.flash(describe(e));
    } finally {
      uploading = null;
      await loadFiles();
    }
  };

  const drop = (e: DragEvent) => {
    e.preventDefault();
    (e.currentTarget as HTMLElement).classList.remove('over');
    for (const f of Array.from(e.dataTransfer?.files ?? [])) void upload(f);
  };
  const pick = (e: Event) => {
    for (const f of Array.from((e.target as HTMLInputElement).files ?? [])) void upload(f);
  };

  void load();
  return {
    view: () => {
      if (!customer) return html`<p class="muted">Loading…</p>`;
      const c = customer;
      const mayUpload = may(shell.me, 'file:upload', c.homeLocation?.id);
      return html`
        <h1>${c.name}</h1>
        <p class="muted">${c.kind === 'COMPANY' ? 'Company' : 'Person'} · ${c.homeLocation?.name ?? ''}</p>
        <section class="grid">
          <div class="card">
            <h2>Contact</h2>
            <p>${c.phones?.join(', ') ?? html`<span class="muted">hidden for your role</span>`}</p>
            <p>${c.emails?.join(', ') ?? ''}</p>
            <p>Balance due: <strong data-testid="balance">${c.balanceDue ?? '—'}</strong></p>
          </div>
          <div class="card">
            <h2>Vehicles</h2>
            <ul>${c.vehicles.map((v) => html`<li>${v.year ?? ''} ${v.make} ${v.model} · ${v.plateNumber ?? ''} <span class="muted">${v.vin ?? ''}</span></li>`)}</ul>
          </div>
          <div class="card">
            <h2>Work orders</h2>
            <ul>${c.recentWorkOrders.map((w) => html`<li><a href="#/work-orders/${encodeURIComponent(w.id)}">${w.number}</a> ${LABEL[w.status]} ${w.total ?? ''}</li>`)}</ul>
            <h2>Invoices</h2>
            <ul>${c.recentInvoices.map((i) => html`<li><a href="#/invoices/${encodeURIComponent(i.id)}">${i.number}</a> ${i.status} ${i.total ?? ''} (due ${i.balance ?? '—'})</li>`)}</ul>
          </div>
        </section>
        <section class="card files">
          <h2>Files</h2>
          ${mayUpload
            ? html`<label class="drop" @dragover=${(e: DragEvent) => { e.preventDefault(); (e.currentTarget as HTMLElement).classList.add('over'); }}
                  @dragleave=${(e: DragEvent) => (e.currentTarget as HTMLElement).classList.remove('over')} @drop=${drop}>
                  ${uploading ? `Uploading ${uploading}…` : 'Drop a photo or PDF here, or choose one'}
                  <input type="file" accept="image/jpeg,image/png,application/pdf" @change=${pick} hidden data-testid="file-input" />
                </label>`
            : null}
          ${files == null
            ? html`<p class="muted">No files you may see.</p>`
            : html`<ul>${files.nodes.map((f) => html`<li><a class="download" href=${f.downloadUrl ?? '#'} target="_blank" rel="noopener">${f.originalName}</a>
                <span class="muted">${f.contentType} · ${Math.ceil(f.sizeBytes / 1024)} KiB · ${f.uploadedBy?.name ?? ''}</span></li>`)}</ul>`}
        </section>
      `;
    },
  };
}
