/** Records the calls the fake upstream received, in arrival order, for tests to assert the exact sequence. */

import type { ReceivedForm } from './received.js';

export type CallKind = 'lifecycle' | 'generate';

export interface RecordedCall {
  kind: CallKind;
  method: string;
  path: string;
  /** Raw query string without `?` ('' when none). */
  query: string;
  /** Raw request body text ('' when none; '' for a multipart body over 1 MiB). */
  body: string;
  /** Body size in bytes and its SHA-256 (hex). */
  bytes?: number;
  sha256?: string;
  /** The model the request named (JSON body, form field or `?model=`), when it named one. */
  model?: string;
  /** A multipart body's plain fields (in order) and file parts (size and hash). */
  form?: ReceivedForm;
  /** Arrival time, epoch ms. */
  at: number;
  /** Response status; null while the call is still pending (e.g. a request hanging while asleep). */
  status: number | null;
  /** When the response ended (or the client went away), epoch ms; null while pending. */
  endedAt: number | null;
}

export class CallRecorder {
  private calls: RecordedCall[] = [];

  record(call: Omit<RecordedCall, 'status' | 'endedAt'>): RecordedCall {
    const entry: RecordedCall = { ...call, status: null, endedAt: null };
    this.calls.push(entry);
    return entry;
  }

  list(): readonly RecordedCall[] {
    return this.calls;
  }

  clear(): void {
    this.calls = [];
  }
}
