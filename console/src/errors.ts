// Every error code the console can meet, as a sentence for the person at the counter (never a stack trace).
// The codes are those of frontend-contract/error-codes.md.
import { GraphQLRequestError } from '../../frontend-contract/client/src/index';

const MESSAGES: Record<string, string> = {
  unauthenticated: 'Your session has ended. Please sign in again.',
  forbidden: 'Your role does not allow this. Ask the owner if you need it.',
  not_found: 'This record does not exist or is not at your branch.',
  rate_limited: 'Too many requests at once. Wait a moment and try again.',
  internal: 'Something went wrong on the server. Try again; if it keeps happening, tell the owner.',
  unavailable: 'The server cannot reach its database right now. Try again in a moment.',
  search_unavailable: 'Search is not answering right now. Everything else still works; try again shortly.',
  query_too_large: 'That request is too large.',
  too_many_aliases: 'That request asks for too much at once.',
  persisted_query_not_found: 'This console is out of date. Reload the page.',
  operation_not_allowed: 'This console is out of date. Reload the page.',
  invalid_id: 'That link is broken.',
  invalid_cursor: 'The list changed; start again from the first page.',
  invalid_page_args: 'That page does not exist.',
  page_size_exceeded: 'That page is too large.',
  invalid_credentials: 'The e-mail or password is not right.',
  too_many_attempts: 'Too many attempts. Wait a little before trying again.',
  account_blocked: 'This account is blocked. Ask the owner.',
  invalid_token: 'That link has expired or was already used.',
  invalid_challenge: 'The sign-in took too long. Start again.',
  invalid_code: 'That code is not right. Use the current code from your app, or a recovery code.',
  invalid_refresh_token: 'Your session has ended. Please sign in again.',
  conflict: 'Someone else changed this in the meantime. The page now shows their change; try again.',
  illegal_transition: 'The order cannot move to that status from where it is.',
  approval_required: 'Say who approved the estimate and how.',
  work_order_locked: 'This order is closed and can no longer change.',
  escalation: 'You cannot hand out rights you do not hold yourself.',
  last_owner: 'The shop must keep at least one owner.',
  upload_rejected: 'The file is not what it claims to be, so it was not kept.',
  upload_missing: 'The upload has not arrived yet. Try again in a moment.',
  content_type_not_allowed: 'Files of this type are not allowed. Use a photo (JPEG, PNG) or a PDF.',
  file_too_large: 'The file is larger than the shop allows.',
  file_empty: 'The file is empty.',
  invalid_file_name: 'The file name cannot be used.',
  invalid_content_type: 'The file type is not recognised.',
  invalid_parent: 'Files cannot be attached here.',
  invalid_object_key: 'The file cannot be found in the store.',
  unknown_permission: 'That permission does not exist.',
  unknown_role: 'That role does not exist.',
  owner_role_fixed: "The owner role's rights cannot be changed.",
  too_long: 'That is too long.',
  required: 'Please fill this in.',
  invalid_email: 'That is not an e-mail address.',
  invalid_phone: 'That is not a phone number.',
};

/** The message for a code, or a general one for a code this console does not know. */
export function messageFor(code: string | undefined, fallback?: string): string {
  return (code && MESSAGES[code]) || fallback || 'That did not work. Try again.';
}

/** The message for anything a call threw. */
export function describe(e: unknown): string {
  if (e instanceof GraphQLRequestError) {
    return messageFor(e.code);
  }
  if (e instanceof TypeError) {
    return 'The server cannot be reached. Check the connection and try again.';
  }
  return messageFor(undefined);
}

/** A payload's user errors, as sentences. */
export function userErrors(errors: ReadonlyArray<{ code: string; message: string }> | undefined): string | null {
  if (!errors || errors.length === 0) return null;
  return errors.map((e) => messageFor(e.code, e.message)).join(' ');
}
