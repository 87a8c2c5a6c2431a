/**
 * Ports for model servers in tests. siesta hands out startPort, startPort+1, ...; next to a port
 * from `listen(0)` those could be taken at any moment by an outgoing connection (the kernel's
 * ephemeral range starts at 32768), and a server that cannot bind fails to start. So each suite
 * draws its startPort from its own range below that.
 */
import { createServer } from 'node:net';

export const PORT_RANGES = {
  real: { from: 12_000, to: 20_000 },
  admin: { from: 20_000, to: 30_000 },
  e2e: { from: 30_000, to: 32_700 },
} as const;

export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A `startPort` in `range` whose next `count` ports are free now. */
export async function freeStartPort(count: number, range: { readonly from: number; readonly to: number }): Promise<number> {
  for (;;) {
    const base = range.from + Math.floor(Math.random() * (range.to - range.from - count));
    const free = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (free.every(Boolean)) return base;
  }
}
