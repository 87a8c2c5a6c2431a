/**
 * Where siesta listens, and what a listener beyond loopback exposes. Pure; tested as tables.
 * `-listen :PORT` means every interface, as llama-swap.go (0bdb372) hands it to net.Listen.
 */
import { isLoopback } from '../../middleware/admin-auth.js';

export interface ListenAddress {
  /** undefined: every interface (Node's `listen(port)`, like Go's `net.Listen(":8080")`). */
  readonly host: string | undefined;
  readonly port: number;
}

export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;
/** llama-swap's default port with TLS. */
export const DEFAULT_TLS_PORT = 8443;

/**
 * `HOST:PORT` as given; `:PORT` every interface (as llama-swap); `PORT` alone loopback (siesta's
 * short form). Without a flag: 127.0.0.1 on 8080, or on 8443 with TLS (llama-swap listens on
 * every interface by default; siesta stays on loopback until told otherwise).
 */
export function parseListen(listen: string | undefined, options: { readonly tls?: boolean } = {}): ListenAddress {
  if (listen === undefined) return { host: DEFAULT_HOST, port: options.tls ? DEFAULT_TLS_PORT : DEFAULT_PORT };
  const colon = listen.lastIndexOf(':');
  const written = colon === -1 ? undefined : listen.slice(0, colon);
  const portText = listen.slice(colon + 1);
  const bracketed = written !== undefined && /^\[[^\]]*\]$/.test(written);
  // As Go's net.SplitHostPort: an IPv6 host needs brackets ([::1]:8080).
  if (!/^\d+$/.test(portText) || (written !== undefined && !bracketed && /[:[\]]/.test(written))) {
    throw new Error(`-listen ${listen}: expected HOST:PORT, :PORT or PORT ([IPV6]:PORT for an IPv6 address)`);
  }
  const port = Number(portText);
  if (port > 65535) throw new Error(`-listen ${listen}: port out of range`);
  if (written === undefined) return { host: DEFAULT_HOST, port };
  const host = bracketed ? written.slice(1, -1) : written;
  return { host: host === '' ? undefined : host, port };
}

/** The URL clients use for a bound address (`::` and `0.0.0.0` shown as given: reachable on every interface). */
export function listenUrl(scheme: 'http' | 'https', address: string, port: number): string {
  return `${scheme}://${address.includes(':') ? `[${address}]` : address}:${port}`;
}

export interface Exposure {
  /** The address the server is bound to (`server.address().address`). */
  readonly address: string;
  readonly port: number;
  readonly apiKeys: number;
  readonly adminKeys: number;
}

/**
 * The warning for a listener beyond loopback without `apiKeys`, or undefined. The admin API, the
 * logs and the status page refuse remote clients while no admin or API key is set
 * (middleware/admin-auth.ts); the model routes have no such guard.
 */
export function exposureWarning(exposure: Exposure): string | undefined {
  if (isLoopback(exposure.address) || exposure.apiKeys > 0) return undefined;
  const where = exposure.address === '::' || exposure.address === '0.0.0.0' ? 'every interface' : exposure.address;
  const admin =
    exposure.adminKeys > 0
      ? 'The admin API, logs and status page ask for one of the adminKeys.'
      : 'The admin API, logs and status page refuse clients on other machines until adminKeys (or apiKeys) are set.';
  return [
    `warning: siesta listens on ${where} (port ${exposure.port}) and the configuration has no apiKeys:`,
    '  anyone who can reach this port can use every model route (/v1/chat/completions, /v1/embeddings, /v1/audio/..., ...),',
    '  /upstream/<model>/..., /running and /metrics without a key, and so start and swap your models.',
    `  ${admin}`,
    `  To fix it: set apiKeys (and adminKeys) in the configuration, or listen on loopback only: -listen 127.0.0.1:${exposure.port}`,
  ].join('\n');
}
