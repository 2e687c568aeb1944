// Sign-in: e-mail and password, then the second factor when the account has one. The tokens stay in
// __Host- cookies the page cannot read.
import { html } from 'lit';
import { SignInDocument, SignInSecondFactorDocument } from '../../../frontend-contract/client/src/index';
import { call } from '../api';
import { describe, userErrors } from '../errors';
import type { Screen, Shell } from '../main';

export function signIn(shell: Shell, done: () => Promise<void>): Screen {
  let challenge: string | null = null;
  let error: string | null = null;
  let busy = false;

  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.target as HTMLFormElement);
    busy = true;
    error = null;
    shell.redraw();
    try {
      if (challenge) {
        const code = String(form.get('code') ?? '').trim();
        const r = await call(SignInSecondFactorDocument, {
          challenge,
          code: /^\d{6}$/.test(code) ? code : null,
          recoveryCode: /^\d{6}$/.test(code) ? null : code,
        });
        error = userErrors(r.loginSecondFactor.errors);
        if (r.loginSecondFactor.session) return done();
      } else {
        const r = await call(SignInDocument, {
          email: String(form.get('email') ?? ''),
          password: String(form.get('password') ?? ''),
        });
        error = userErrors(r.login.errors);
        if (r.login.secondFactor) challenge = r.login.secondFactor.challenge;
        if (r.login.session) return done();
      }
    } catch (err) {
      error = describe(err);
    } finally {
      busy = false;
      shell.redraw();
    }
  };

  return {
    view: () => html`
      <form class="card signin" @submit=${submit}>
        <h1>Sign in to Autoshop</h1>
        ${challenge
          ? html`<label>Code from your authenticator app, or a recovery code
              <input name="code" autocomplete="one-time-code" required autofocus /></label>`
          : html`
              <label>E-mail <input name="email" type="email" autocomplete="username" required autofocus /></label>
              <label>Password <input name="password" type="password" autocomplete="current-password" required /></label>
            `}
        ${error ? html`<p class="error" role="alert">${error}</p>` : null}
        <button type="submit" ?disabled=${busy}>${challenge ? 'Verify' : 'Sign in'}</button>
      </form>
    `,
  };
}
