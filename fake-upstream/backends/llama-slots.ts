/**
 * llama-server's slot (one, id 0) and its save/restore/erase actions (`--slot-save-path DIR`).
 * The slot remembers the last prompt: the same prompt again reports `cache_n` = its tokens - 1 and
 * `prompt_n` 1, as the real server does; another prompt 0 (the fake does not match prefixes).
 * A saved file is JSON with the served model, the prompt and its token count; restoring a file of
 * another model fails as the real server's does for another model or context size.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FakeContext, RouteHandler } from '../context.js';
import type { Reply } from '../http-util.js';

interface SlotCache {
  prompt: string;
  tokens: number;
}

function llamaError(code: number, message: string, type: string): Reply {
  return { status: code, body: { error: { code, message, type } } };
}

/** A plain file name, as llama-server's `fs_validate_filename` accepts. */
function validName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 255 && !/[/\\]|^\.\.?$/.test(name);
}

export interface FakeSlots {
  readonly routes: Readonly<Record<string, RouteHandler>>;
  promptCache(prompt: string, promptN: number): number;
}

export function createFakeSlots(ctx: FakeContext): FakeSlots {
  const { options, state } = ctx;
  let cache: SlotCache | null = null;

  function slotAction(action: string | null, body: string): Reply {
    const dir = options.slotSavePath;
    if (action === 'erase') {
      const erased = cache?.tokens ?? 0;
      cache = null;
      return { status: 200, body: { id_slot: 0, n_erased: erased } };
    }
    if (action !== 'save' && action !== 'restore') return llamaError(400, 'Invalid action', 'invalid_request_error');
    if (dir === null) return llamaError(501, 'This server does not support slots action. Start it with `--slot-save-path`', 'not_supported_error');
    const filename = (JSON.parse(body || '{}') as { filename?: unknown }).filename;
    if (!validName(filename)) return llamaError(400, 'Invalid filename', 'invalid_request_error');
    const path = join(dir, filename);
    if (action === 'save') {
      if (options.failSlotSave) return llamaError(500, 'failed to save slot (--fail-slot-save)', 'server_error');
      const text = JSON.stringify({ model: options.model, prompt: cache?.prompt ?? '', tokens: cache?.tokens ?? 0 });
      writeFileSync(path, text);
      ctx.log(`slot 0 saved to ${filename} (${cache?.tokens ?? 0} tokens)`);
      return { status: 200, body: { id_slot: 0, filename, n_saved: cache?.tokens ?? 0, n_written: text.length, timings: { save_ms: 0.4 } } };
    }
    let saved: { model?: unknown; prompt?: unknown; tokens?: unknown };
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
      saved = JSON.parse(text) as typeof saved;
    } catch {
      return llamaError(400, 'Unable to restore slot, no available space in KV cache or invalid slot save file', 'invalid_request_error');
    }
    if (saved.model !== options.model || typeof saved.prompt !== 'string' || typeof saved.tokens !== 'number') {
      return llamaError(400, 'Unable to restore slot, no available space in KV cache or invalid slot save file', 'invalid_request_error');
    }
    cache = saved.tokens > 0 ? { prompt: saved.prompt, tokens: saved.tokens } : null;
    ctx.log(`slot 0 restored from ${filename} (${saved.tokens} tokens)`);
    return { status: 200, body: { id_slot: 0, filename, n_restored: saved.tokens, n_read: text.length, timings: { restore_ms: 0.3 } } };
  }

  return {
    routes: {
      'GET /slots': () => ({
        status: 200,
        body: [{ id: 0, id_task: -1, n_ctx: 4096, speculative: false, is_processing: state.active.size > 0, n_past: cache?.tokens ?? 0 }],
      }),
      'POST /slots/0': (request) => slotAction(request.query.get('action'), request.body),
    },
    promptCache(prompt, promptN) {
      const cached = cache?.prompt === prompt ? Math.max(0, Math.min(cache.tokens, promptN - 1)) : 0;
      cache = { prompt, tokens: promptN };
      return cached;
    },
  };
}
