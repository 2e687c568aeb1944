// The SPA's way to call Autoshop: a typed document in, its typed result out. Documents go by their sha256
// (the persisted-documents manifest the server enforces in production), never as text.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

export * from './generated/graphql';

/** A document the generator marked with its hash. */
export type PersistedDocument<TResult, TVariables> = TypedDocumentNode<TResult, TVariables> & {
  __meta__?: { hash?: string };
};

/** One error as the server reports it: `extensions.code` is one of frontend-contract/error-codes.md. */
export interface ApiError {
  message: string;
  path?: ReadonlyArray<string | number>;
  extensions?: { code?: string; [key: string]: unknown };
}

export class GraphQLRequestError extends Error {
  constructor(
    readonly errors: ApiError[],
    readonly status: number,
    readonly retryAfterSeconds?: number,
  ) {
    super(errors.map((e) => e.message).join('; '));
  }

  /** The first error's stable code, for choosing the message to show. */
  get code(): string | undefined {
    return this.errors[0]?.extensions?.code;
  }
}

export interface ClientOptions {
  /** Where the API is, `/graphql` by default (same origin: the cookies are `__Host-` ones). */
  endpoint?: string;
  fetch?: typeof fetch;
}

/** The operation's name and hash: what the request sends instead of the document's text. */
export function persisted(document: PersistedDocument<unknown, unknown>): { operationName: string; sha256Hash: string } {
  const hash = document.__meta__?.hash;
  const operation = document.definitions.find((d) => d.kind === 'OperationDefinition');
  if (!hash || !operation || operation.kind !== 'OperationDefinition' || !operation.name) {
    throw new Error('the document was not generated with persisted-document hashes');
  }
  return { operationName: operation.name.value, sha256Hash: hash.replace(/^sha256:/, '') };
}

/** A function that runs a document: `request(CustomerCardDocument, { id })`. */
export type Request = <TResult, TVariables>(
  document: PersistedDocument<TResult, TVariables>,
  variables?: TVariables,
) => Promise<TResult>;

export function createClient(options: ClientOptions = {}): Request {
  const endpoint = options.endpoint ?? '/graphql';
  const send = options.fetch ?? ((input, init) => fetch(input, init));
  return async function request<TResult, TVariables>(
    document: PersistedDocument<TResult, TVariables>,
    variables?: TVariables,
  ): Promise<TResult> {
    const { operationName, sha256Hash } = persisted(document as PersistedDocument<unknown, unknown>);
    const response = await send(endpoint, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        operationName,
        variables: variables ?? {},
        extensions: { persistedQuery: { version: 1, sha256Hash } },
      }),
    });
    let body: { data?: TResult; errors?: ApiError[] };
    try {
      body = (await response.json()) as { data?: TResult; errors?: ApiError[] };
    } catch {
      body = { errors: [{ message: `HTTP ${response.status}`, extensions: { code: 'internal' } }] };
    }
    // Data with errors beside it is an answer: fields the caller may not see come back null, each with an
    // error naming its path. Only a request that produced no data at all fails.
    if (body.data == null) {
      const retry = Number(response.headers.get('retry-after'));
      throw new GraphQLRequestError(
        body.errors ?? [{ message: 'no data' }],
        response.status,
        Number.isFinite(retry) && retry > 0 ? retry : undefined,
      );
    }
    return body.data;
  };
}
