/**
 * An HTTP/1.1 server (raw TCP, so the timing is exact) that answers the first request on each
 * connection with keep-alive and closes the connection when a second request arrives on it, without
 * answering: a server closing an idle kept-alive connection just as the client reuses it.
 */
import { createServer, type Server, type Socket } from 'node:net';

export interface StaleSocketServer {
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: () => number;
  /** Requests answered so far (requests dropped by a close are not counted). */
  readonly answered: () => number;
  close(): Promise<void>;
}

const BODY = JSON.stringify({ id: 'chatcmpl-stale', object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }] });

export async function startStaleSocketServer(): Promise<StaleSocketServer> {
  let connections = 0;
  let answered = 0;
  const open = new Set<Socket>();
  const server: Server = createServer((socket) => {
    connections++;
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    let buffered = Buffer.alloc(0);
    let requests = 0;
    socket.on('data', (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      for (;;) {
        const headerEnd = buffered.indexOf('\r\n\r\n');
        if (headerEnd < 0) return;
        const head = buffered.subarray(0, headerEnd).toString('latin1');
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffered.length < headerEnd + 4 + length) return;
        buffered = buffered.subarray(headerEnd + 4 + length);
        requests++;
        if (requests > 1) {
          socket.destroy();
          return;
        }
        answered++;
        socket.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\nConnection: keep-alive\r\n\r\n${BODY}`);
      }
    });
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    connections: () => connections,
    answered: () => answered,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of open) socket.destroy();
      }),
  };
}
