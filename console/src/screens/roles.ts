// The owner's roles screen: the catalogue of permissions with their labels, a role's grants edited and saved,
// the roles each member of staff holds per branch, and "why can't this user do this" from explainAccess.
import { html } from 'lit';
import {
  AssignRoleDocument,
  ExplainAccessDocument,
  GrantPermissionsDocument,
  RevokePermissionsDocument,
  RolesScreenDocument,
  UnassignRoleDocument,
  UserAccessDocument,
  type ExplainAccessQuery,
  type RolesScreenQuery,
  type UserAccessQuery,
} from '../../../frontend-contract/client/src/index';
import { call } from '../api';
import { describe, userErrors } from '../errors';
import type { Screen, Shell } from '../main';

export function rolesScreen(shell: Shell): Screen {
  let data: RolesScreenQuery | null = null;
  let roleKey: string | null = null;
  let draft = new Set<string>();
  let userId: string | null = null;
  let access: UserAccessQuery['userAccess'] | null = null;
  let explained: ExplainAccessQuery['explainAccess'] | null = null;

  const load = async () => {
    try {
      data = await call(RolesScreenDocument);
      const role = data.roles.find((r) => r.key === roleKey) ?? data.roles[0];
      if (role) pickRole(role.key);
    } catch (e) {
      shell.flash(describe(e));
    }
    shell.redraw();
  };
  const pickRole = (key: string) => {
    roleKey = key;
    draft = new Set(data?.roles.find((r) => r.key === key)?.permissions.map((p) => p.key) ?? []);
    shell.redraw();
  };
  const loadAccess = async () => {
    if (!userId) return;
    try {
      access = (await call(UserAccessDocument, { userId })).userAccess;
    } catch (e) {
      shell.flash(describe(e));
    }
    shell.redraw();
  };

  const save = async () => {
    const role = data?.roles.find((r) => r.key === roleKey);
    if (!role) return;
    const had = new Set(role.permissions.map((p) => p.key));
    const grant = [...draft].filter((k) => !had.has(k));
    const revoke = [...had].filter((k) => !draft.has(k));
    try {
      const problems = [
        grant.length ? userErrors((await call(GrantPermissionsDocument, { roleId: role.id, permissions: grant })).grantPermissions.errors) : null,
        revoke.length ? userErrors((await call(RevokePermissionsDocument, { roleId: role.id, permissions: revoke })).revokePermissions.errors) : null,
      ].filter(Boolean);
      if (problems.length) {
        shell.flash(problems.join(' '));
        await load();
        return;
      }
      shell.flash(`${role.name} saved.`, 'info');
    } catch (e) {
      shell.flash(describe(e));
    }
    await load();
  };

  const assign = async (e: Event, yes: boolean, roleId?: string, locationId?: string | null) => {
    e.preventDefault();
    if (!userId) return;
    const form = e.target instanceof HTMLFormElement ? new FormData(e.target) : null;
    const role = roleId ?? String(form?.get('role') ?? '');
    const location = locationId !== undefined ? locationId : String(form?.get('location') ?? '') || null;
    try {
      const vars = { userId, roleId: role, locationId: location };
      const r = yes ? (await call(AssignRoleDocument, vars)).assignRole : (await call(UnassignRoleDocument, vars)).unassignRole;
      const problem = userErrors(r.errors);
      if (problem) shell.flash(problem);
    } catch (err) {
      shell.flash(describe(err));
    }
    await loadAccess();
  };

  const explain = async (e: Event) => {
    e.preventDefault();
    if (!userId) return;
    const form = new FormData(e.target as HTMLFormElement);
    try {
      explained = (
        await call(ExplainAccessDocument, {
          userId,
          permission: String(form.get('permission') ?? ''),
          recordId: String(form.get('record') ?? '').trim() || null,
        })
      ).explainAccess;
    } catch (err) {
      shell.flash(describe(err));
    }
    shell.redraw();
  };

  void load();
  return {
    view: () => {
      if (!data) return html`<p class="muted">Loading…</p>`;
      const d = data;
      const role = d.roles.find((r) => r.key === roleKey);
      const locationName = (id: string | null | undefined) =>
        id ? d.locations.nodes.find((l) => l.id === id)?.name ?? id : 'every branch';
      const roleName = (key: string) => d.roles.find((r) => r.key === key)?.name ?? key;
      return html`
        <h1>Roles and access</h1>
        <section class="grid roles">
          <div class="card">
            <h2>Role</h2>
            <select aria-label="Role" @change=${(e: Event) => pickRole((e.target as HTMLSelectElement).value)}>
              ${d.roles.map((r) => html`<option value=${r.key} ?selected=${r.key === roleKey}>${r.name}</option>`)}
            </select>
            <p class="muted">${role?.description ?? ''}</p>
            ${d.permissions.map(
              (g) => html`<fieldset><legend>${g.resource.replace('_', ' ')}</legend>
                ${g.permissions.map(
                  (p) => html`<label class="perm" title=${p.description}>
                    <input type="checkbox" data-permission=${p.key} .checked=${draft.has(p.key)} ?disabled=${role?.key === 'owner'}
                      @change=${(e: Event) => {
                        if ((e.target as HTMLInputElement).checked) draft.add(p.key);
                        else draft.delete(p.key);
                      }} /> ${p.label} <code>${p.key}</code></label>`,
                )}
              </fieldset>`,
            )}
            <button @click=${save} ?disabled=${role?.key === 'owner'}>Save ${role?.name ?? ''}</button>
          </div>
          <div class="card">
            <h2>Staff</h2>
            <select aria-label="User" @change=${(e: Event) => {
              userId = (e.target as HTMLSelectElement).value || null;
              explained = null;
              void loadAccess();
            }}>
              <option value="">Choose someone…</option>
              ${d.users.nodes.map((u) => html`<option value=${u.id} ?selected=${u.id === userId}>${u.name} (${u.email})</option>`)}
            </select>
            ${userId && access
              ? html`
                  <h3>Holds</h3>
                  <ul>${access.roles.map((h) => {
                    const r = d.roles.find((x) => x.key === h.role);
                    return html`<li>${roleName(h.role)} at ${locationName(h.locationId)}
                      <button class="link" @click=${(e: Event) => assign(e, false, r?.id, h.locationId ?? null)}>remove</button></li>`;
                  })}</ul>
                  <form class="row" @submit=${(e: Event) => assign(e, true)}>
                    <select name="role" aria-label="Role to assign">${d.roles.map((r) => html`<option value=${r.id}>${r.name}</option>`)}</select>
                    <select name="location" aria-label="Branch">
                      <option value="">every branch</option>
                      ${d.locations.nodes.map((l) => html`<option value=${l.id}>${l.name}</option>`)}
                    </select>
                    <button type="submit">Assign</button>
                  </form>
                  <h3>Why can't they…?</h3>
                  <form class="row" @submit=${explain}>
                    <select name="permission" aria-label="Permission">
                      ${d.permissions.flatMap((g) => g.permissions).map((p) => html`<option value=${p.key}>${p.label}</option>`)}
                    </select>
                    <input name="record" placeholder="Record id (optional)" aria-label="Record id" />
                    <button type="submit">Explain</button>
                  </form>
                  ${explained
                    ? html`<p class=${explained.allowed ? 'ok' : 'error'} data-testid="explanation">
                        ${explained.allowed ? 'Allowed' : 'Not allowed'}: ${explained.reason}</p>`
                    : null}
                `
              : null}
          </div>
        </section>
      `;
    },
  };
}
