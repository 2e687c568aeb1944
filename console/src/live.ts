// A subscription over GraphQL-over-WebSocket (graphql-transport-ws), sent by hash like every other document.
// The cookie signs the upgrade in; the socket reconnects after a drop (at once when the server closed it because
// the user's access changed), and the caller refetches on each event and after a reconnection.
import { persisted, type PersistedDocument } from '../../frontend-contract/client/src/index';

export function subscribe<TResult, TVariables>(
  document: PersistedDocument<TResult, TVariables>,
  variables: TVariables,
  onEvent: (data: TResult) => void,
  /** Called when the socket is back after a drop: events sent meanwhile were missed. */
  onReconnect?: () => void,
): () => void {
  const { operationName, sha256Hash } = persisted(document as PersistedDocument<unknown, unknown>);
  let socket: WebSocket | null = null;
  let closed = false;
  let retry = 500;
  let dropped = false;
  const open = () => {
    const url = new URL('/graphql/ws', window.location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    socket = new WebSocket(url, 'graphql-transport-ws');
    socket.onopen = () => socket?.send(JSON.stringify({ type: 'connection_init', payload: {} }));
    socket.onmessage = (m) => {
      const msg = JSON.parse(String(m.data)) as { type: string; payload?: { data?: TResult } };
      if (msg.type === 'connection_ack') {
        if (dropped) onReconnect?.();
        dropped = false;
        retry = 500;
        socket?.send(
          JSON.stringify({
            id: '1',
            type: 'subscribe',
            payload: { operationName, variables, extensions: { persistedQuery: { version: 1, sha256Hash } } },
          }),
        );
      } else if (msg.type === 'next' && msg.payload?.data) {
        onEvent(msg.payload.data);
      } else if (msg.type === 'ping') {
        socket?.send(JSON.stringify({ type: 'pong' }));
      }
    };
    socket.onclose = (e) => {
      if (closed) return;
      dropped = true;
      // 1012: the server ended the connection because what the user may do changed; connect again at once.
      if (e.code === 1012) {
        open();
        return;
      }
      setTimeout(open, retry);
      retry = Math.min(retry * 2, 10_000);
    };
  };
  open();
  return () => {
    closed = true;
    socket?.close();
  };
}
