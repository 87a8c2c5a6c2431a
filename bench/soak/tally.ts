/** Counting outcomes: the figures the soak prints and the reasons it fails. Pure. */
import { isFailure, type Outcome, type OutcomeKind } from './outcome.js';
import type { Op } from './plan.js';

export interface Sample {
  readonly op: Op;
  readonly outcome: Outcome;
}

export interface Tally {
  sent: number;
  chats: number;
  streams: number;
  admin: number;
  byKind: Record<OutcomeKind, number>;
  /** Non-2xx answers (and SSE error chunks) by `chat|admin status code`. */
  refused: Map<string, number>;
  /** The first few failures of each kind, to print. */
  failures: Sample[];
  failureCount: number;
}

export function emptyTally(): Tally {
  return {
    sent: 0,
    chats: 0,
    streams: 0,
    admin: 0,
    byKind: { ok: 0, cancelled: 0, refused: 0, lost: 0, hung: 0, truncated: 0, 'wrong-model': 0, malformed: 0 },
    refused: new Map(),
    failures: [],
    failureCount: 0,
  };
}

const SAMPLES_PER_KIND = 5;

export function count(tally: Tally, op: Op, outcome: Outcome): void {
  tally.sent += 1;
  if (op.kind === 'admin') tally.admin += 1;
  else {
    tally.chats += 1;
    if (op.stream) tally.streams += 1;
  }
  tally.byKind[outcome.kind] += 1;
  if (outcome.kind === 'refused') {
    const key = `${op.kind === 'admin' ? `admin ${op.action}` : 'chat'} ${outcome.status} ${outcome.code}`;
    tally.refused.set(key, (tally.refused.get(key) ?? 0) + 1);
  }
  if (isFailure(outcome)) {
    tally.failureCount += 1;
    if (tally.failures.filter((sample) => sample.outcome.kind === outcome.kind).length < SAMPLES_PER_KIND) tally.failures.push({ op, outcome });
  }
}

export function describeOp(op: Op): string {
  if (op.kind === 'admin') return `#${op.index} admin ${op.action} ${op.model}`;
  const cancel = op.cancel === null ? '' : 'afterEvents' in op.cancel ? `, cancel after ${op.cancel.afterEvents} events` : `, cancel after ${op.cancel.afterMs} ms`;
  return `#${op.index} chat ${op.model} ${op.stream ? 'stream' : 'plain'} max_tokens ${op.maxTokens}${cancel}`;
}
