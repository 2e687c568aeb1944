// The console's calls: the generated client, plus the session rules of a cookie-signed-in SPA: an expired
// access token is renewed once through the refresh cookie and the call retried; a session that cannot be renewed
// sends the user back to the sign-in screen.
import {
  createClient,
  GraphQLRequestError,
  MeDocument,
  RefreshSessionDocument,
  type MeQuery,
  type PersistedDocument,
} from '../../frontend-contract/client/src/index';

const request = createClient();

export type Me = MeQuery;

let signedOut: () => void = () => {};
export function onSignedOut(handler: () => void): void {
  signedOut = handler;
}

let refreshing: Promise<boolean> | null = null;

/** Renews the session through the refresh cookie; concurrent callers share one attempt. */
export function refresh(): Promise<boolean> {
  refreshing ??= request(RefreshSessionDocument)
    .then((r) => r.refreshSession.session != null)
    .catch(() => false)
    .finally(() => {
      refreshing = null;
    });
  return refreshing;
}

export async function call<TResult, TVariables>(
  document: PersistedDocument<TResult, TVariables>,
  variables?: TVariables,
): Promise<TResult> {
  try {
    return await request(document, variables);
  } catch (e) {
    if (e instanceof GraphQLRequestError && e.code === 'unauthenticated') {
      if (await refresh()) {
        return request(document, variables);
      }
      signedOut();
    }
    throw e;
  }
}

/** Whether the signed-in user holds `permission` at `locationId` (or anywhere, without one). */
export function may(me: Me | null, permission: string, locationId?: string | null): boolean {
  const held = me?.myAccess.permissions.find((p) => p.permission === permission);
  if (!held) return false;
  return held.everywhere || locationId == null || held.locationIds.includes(locationId);
}
