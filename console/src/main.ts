// The reference shop console: sign-in, the live board, customers with their files, work orders and invoices,
// search, and the owner's roles screen. Every call is a trusted document of frontend-contract/, sent by hash.
import { html, render, type TemplateResult } from 'lit';
import { AccessLiveDocument, MeDocument, SignOutDocument } from '../../frontend-contract/client/src/index';
import { call, onSignedOut, type Me } from './api';
import { describe } from './errors';
import { subscribe } from './live';
import { signIn } from './screens/signin';
import { board } from './screens/board';
import { customerList, customerCard } from './screens/customers';
import { workOrderPage, invoicePage } from './screens/workorder';
import { searchScreen } from './screens/search';
import { rolesScreen } from './screens/roles';

/** What every screen shares: who is signed in, and how to draw again. */
export interface Shell {
  me: Me | null;
  /** Draw the current screen again (after its data changed). */
  redraw(): void;
  go(hash: string): void;
  /** A message at the top of the page: an error, or news. */
  flash(text: string, kind?: 'error' | 'info'): void;
}

const root = document.getElementById('app') as HTMLElement;
let flashText: { text: string; kind: 'error' | 'info' } | null = null;
let me: Me | null = null;
let stopScreen: (() => void) | null = null;
let screen: TemplateResult = html``;

const shell: Shell = {
  get me() {
    return me;
  },
  redraw: () => draw(),
  go: (hash) => {
    window.location.hash = hash;
  },
  flash: (text, kind = 'error') => {
    flashText = { text, kind };
    draw();
  },
};

/** A screen: draws itself through `shell.redraw` as its data arrives, and may return a way to stop. */
export interface Screen {
  view(): TemplateResult;
  stop?(): void;
}

function route(): Screen {
  const [path, query] = window.location.hash.replace(/^#/, '').split('?');
  const parts = (path || '/board').split('/').filter(Boolean);
  const params = new URLSearchParams(query ?? '');
  switch (parts[0]) {
    case 'customers':
      return parts[1] ? customerCard(shell, decodeURIComponent(parts[1])) : customerList(shell, params.get('q') ?? '');
    case 'work-orders':
      return workOrderPage(shell, decodeURIComponent(parts[1] ?? ''));
    case 'invoices':
      return invoicePage(shell, decodeURIComponent(parts[1] ?? ''));
    case 'search':
      return searchScreen(shell, params.get('q') ?? '');
    case 'roles':
      return rolesScreen(shell);
    default:
      return board(shell, params.get('location'));
  }
}

let current: Screen | null = null;

function show(): void {
  stopScreen?.();
  flashText = null;
  current = me ? route() : signIn(shell, signedIn);
  stopScreen = current.stop ? () => current?.stop?.() : null;
  draw();
}

function draw(): void {
  screen = current ? current.view() : html``;
  render(
    html`
      ${me ? nav(me) : null}
      ${flashText ? html`<div class="flash ${flashText.kind}" role="alert">${flashText.text}</div>` : null}
      <main>${screen}</main>
    `,
    root,
  );
}

function nav(m: Me): TemplateResult {
  const ownsRoles = m.myAccess.permissions.some((p) => p.permission === 'role:manage');
  const search = (e: Event) => {
    e.preventDefault();
    const q = new FormData(e.target as HTMLFormElement).get('q');
    shell.go(`/search?q=${encodeURIComponent(String(q ?? ''))}`);
  };
  return html`
    <header>
      <strong class="brand">Autoshop</strong>
      <a href="#/board">Board</a>
      <a href="#/customers">Customers</a>
      ${ownsRoles ? html`<a href="#/roles">Roles</a>` : null}
      <form class="search" @submit=${search}>
        <input name="q" type="search" placeholder="Search customers, cars, orders, invoices" aria-label="Search" />
      </form>
      <span class="who">${m.me.name}</span>
      <button class="link" @click=${signOut}>Sign out</button>
    </header>
  `;
}

async function loadMe(): Promise<boolean> {
  try {
    me = await call(MeDocument);
    followAccess();
    return true;
  } catch {
    me = null;
    followAccess();
    return false;
  }
}

// What the signed-in user may do changes when the owner edits a role: the server pushes it (first as it is
// now, so a reconnection misses nothing) and the buttons follow at once.
let stopAccess: (() => void) | null = null;
function followAccess(): void {
  if (!me) {
    stopAccess?.();
    stopAccess = null;
    return;
  }
  stopAccess ??= subscribe(AccessLiveDocument, {}, (data) => {
    if (!me || JSON.stringify(me.myAccess) === JSON.stringify(data.myAccessChanged)) return;
    me = { ...me, myAccess: data.myAccessChanged };
    draw();
  });
}

async function signedIn(): Promise<void> {
  await loadMe();
  show();
}

async function signOut(): Promise<void> {
  try {
    await call(SignOutDocument);
  } catch (e) {
    shell.flash(describe(e));
  }
  me = null;
  followAccess();
  show();
}

onSignedOut(() => {
  me = null;
  followAccess();
  show();
});

window.addEventListener('hashchange', show);
void loadMe().then(show);
