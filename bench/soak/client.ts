/** Send one planned operation to the gateway over node:http and record what came back (see outcome.ts). */
import { request, type Agent } from 'node:http';
import type { Observed } from './outcome.js';
import type { Op } from './plan.js';

export interface ClientTarget {
  readonly host: string;
  readonly port: number;
  readonly agent: Agent;
  readonly hangMs: number;
}

function requestOf(op: Op): { path: string; body: string } {
  if (op.kind === 'admin') return { path: `/api/models/${encodeURIComponent(op.model)}/${op.action}`, body: '' };
  const body = { model: op.model, messages: [{ role: 'user', content: `soak ${op.index}` }], max_tokens: op.maxTokens, stream: op.stream };
  return { path: '/v1/chat/completions', body: JSON.stringify(body) };
}

/** Resolves once the operation has an outcome; never rejects. */
export function send(target: ClientTarget, op: Op): Promise<Observed> {
  const { path, body } = requestOf(op);
  return new Promise((resolve) => {
    let status: number | null = null;
    let text = '';
    let complete = false;
    let cancelled = false;
    let hung = false;
    let networkError: string | null = null;
    let settled = false;
    let cancelTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(hangTimer);
      clearTimeout(cancelTimer);
      resolve({ op, status, body: text, complete, cancelled, hung, networkError });
    };
    const abandon = (why: 'cancel' | 'hang'): void => {
      if (settled || complete) return;
      if (why === 'cancel') cancelled = true;
      else hung = true;
      req.destroy();
      finish();
    };
    const hangTimer = setTimeout(() => abandon('hang'), target.hangMs);
    const req = request(
      {
        host: target.host,
        port: target.port,
        method: 'POST',
        path,
        agent: target.agent,
        headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      },
      (res) => {
        status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        const cancel = op.kind === 'chat' ? op.cancel : null;
        res.on('data', (chunk: string) => {
          text += chunk;
          if (cancel && 'afterEvents' in cancel && text.split('\n\n').length - 1 >= cancel.afterEvents) abandon('cancel');
        });
        res.on('end', () => {
          complete = true;
          finish();
        });
        res.on('error', (error) => {
          networkError ??= error.message;
        });
        res.on('close', finish);
      },
    );
    req.on('error', (error) => {
      networkError ??= error.message;
      finish();
    });
    if (op.kind === 'chat' && op.cancel && 'afterMs' in op.cancel) {
      cancelTimer = setTimeout(() => abandon('cancel'), op.cancel.afterMs);
    }
    req.end(body);
  });
}
