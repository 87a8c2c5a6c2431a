/**
 * llama-server slot persistence (`options: { saveSlots: true }`): the pure parts (where the files
 * go, what they are called, which are stale) and the two effects the plugin runs through its
 * context (save before a stop, restore after a start). Files are plain names inside the directory
 * of the model's own `--slot-save-path` (siesta never adds the flag), keyed to the model id, the
 * slot and a hash of the resolved command: a changed model never restores a foreign cache.
 */
import { createHash } from 'node:crypto';
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { ModelConfig } from '../config/types.js';
import type { PluginContext } from './types.js';

const FLAG = '--slot-save-path';

/** The directory of `--slot-save-path DIR` (or `--slot-save-path=DIR`) in the model's command; null when absent. */
export function slotSavePath(cmd: readonly string[]): string | null {
  for (let index = 0; index < cmd.length; index += 1) {
    const arg = cmd[index] ?? '';
    if (arg === FLAG) return cmd[index + 1] ?? null;
    if (arg.startsWith(`${FLAG}=`)) return arg.slice(FLAG.length + 1) || null;
  }
  return null;
}

/** The start of every file name of this model: `siesta-<id>-` with the id made file-name safe. */
export function slotFilePrefix(modelId: string): string {
  return `siesta-${modelId.replace(/[^A-Za-z0-9._-]/g, '_')}-`;
}

type Keyed = Pick<ModelConfig, 'id' | 'cmd' | 'proxy'>;

/**
 * 12 hex digits of sha256 over the model id and its resolved argv, with the model's port (an
 * argument equal to the proxy URL's port, or ending in `:PORT`) left out: `${PORT}` is assigned
 * anew at each gateway start and does not change what the cache holds.
 */
export function commandHash(model: Keyed): string {
  const port = new URL(model.proxy).port;
  const argv = port ? model.cmd.map((arg) => (arg === port ? '${PORT}' : arg.endsWith(`:${port}`) || arg.endsWith(`=${port}`) ? arg.slice(0, -port.length) + '${PORT}' : arg)) : model.cmd;
  return createHash('sha256').update(JSON.stringify([model.id, argv])).digest('hex').slice(0, 12);
}

/** `siesta-<id>-<hash>-slot<N>.bin`. */
export function slotFileName(model: Keyed, slot: number): string {
  return `${slotFilePrefix(model.id)}${commandHash(model)}-slot${slot}.bin`;
}

/** The slot a current file of this model belongs to; null for another model's file or a stale hash. */
export function slotOfFile(model: Keyed, file: string): number | null {
  const match = /-slot(\d+)\.bin$/.exec(file);
  if (!match?.[1] || file !== slotFileName(model, Number(match[1]))) return null;
  return Number(match[1]);
}

/** This model's files that are not in `keep` (stale hashes, slots that are empty now). */
export function staleFiles(model: Keyed, files: readonly string[], keep: ReadonlySet<string>): string[] {
  const prefix = slotFilePrefix(model.id);
  // Another model whose id starts with this one's plus '-' shares the prefix: only `<prefix><12 hex>-slotN.bin` is ours.
  const ours = new RegExp(`^${prefix.replace(/[.]/g, '\\.')}[0-9a-f]{12}-slot\\d+\\.bin$`);
  return files.filter((file) => ours.test(file) && !keep.has(file));
}

/** `saveSlots` is on but the command lacks `--slot-save-path`: the warning `siesta check` prints. */
export function slotWarnings(model: ModelConfig): { path: string; message: string }[] {
  if (model.options['saveSlots'] !== true || slotSavePath(model.cmd) !== null) return [];
  return [{ path: `models.${model.id}.options.saveSlots`, message: `needs --slot-save-path DIR in the model's cmd (siesta does not add it); prompt caches are not saved` }];
}

interface SlotEntry {
  readonly id: number;
  readonly is_processing?: boolean;
}

async function listSlots(ctx: PluginContext): Promise<number[]> {
  const response = await ctx.http.request({ method: 'GET', path: '/slots' });
  if (response.status !== 200) throw new Error(`GET /slots answered ${response.status}`);
  const slots = JSON.parse(response.body) as unknown;
  if (!Array.isArray(slots)) throw new Error('GET /slots did not answer a list');
  return (slots as SlotEntry[]).filter((slot) => typeof slot.id === 'number').map((slot) => slot.id);
}

/**
 * Remove this model's files not in `keep`, best effort: the server may see another file system
 * than siesta (a chroot, a container), where DIR is not siesta's path; then nothing is removed.
 */
async function removeStale(dir: string, keep: ReadonlySet<string>, ctx: PluginContext): Promise<void> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch (error) {
    ctx.log.debug('slot directory not readable here, stale files kept', { model: ctx.model.id, dir, error: (error as Error).message });
    return;
  }
  for (const file of staleFiles(ctx.model, files, keep)) {
    await unlink(join(dir, file)).catch((error: unknown) => ctx.log.warn('cannot remove slot file', { model: ctx.model.id, file, error: (error as Error).message }));
  }
}

/** Save every slot that holds tokens; remove this model's other files (stale hashes, empty slots). */
export async function saveSlots(ctx: PluginContext): Promise<void> {
  const dir = slotSavePath(ctx.model.cmd);
  if (ctx.model.options['saveSlots'] !== true || dir === null) return;
  const kept = new Set<string>();
  for (const slot of await listSlots(ctx)) {
    const filename = slotFileName(ctx.model, slot);
    const response = await ctx.http.request({ method: 'POST', path: `/slots/${slot}?action=save`, json: { filename } });
    if (response.status !== 200) {
      ctx.log.warn('slot save failed', { model: ctx.model.id, slot, status: response.status, body: response.body.slice(0, 200) });
      continue;
    }
    const saved = (JSON.parse(response.body) as { n_saved?: unknown }).n_saved;
    // An empty slot writes a file with no tokens: nothing worth restoring.
    if (typeof saved === 'number' && saved > 0) {
      kept.add(filename);
      ctx.log.info('slot saved', { model: ctx.model.id, slot, tokens: saved });
    }
  }
  await removeStale(dir, kept, ctx);
}

/**
 * Ask the server to restore each slot from its current file name (the server, not siesta's view
 * of the disk, decides whether the file exists: it answers 400 when not), then remove files a
 * changed command left behind.
 */
export async function restoreSlots(ctx: PluginContext): Promise<void> {
  const dir = slotSavePath(ctx.model.cmd);
  // Said at each start as well as by `siesta check`: the option does nothing without the flag.
  for (const warning of slotWarnings(ctx.model)) ctx.log.warn('slot cache disabled', { model: ctx.model.id, path: warning.path, reason: warning.message });
  if (ctx.model.options['saveSlots'] !== true || dir === null) return;
  const current = new Set<string>();
  for (const slot of await listSlots(ctx)) {
    const filename = slotFileName(ctx.model, slot);
    current.add(filename);
    const response = await ctx.http.request({ method: 'POST', path: `/slots/${slot}?action=restore`, json: { filename } });
    if (response.status !== 200) {
      ctx.log.info('slot not restored', { model: ctx.model.id, slot, status: response.status, body: response.body.slice(0, 200) });
      continue;
    }
    const restored = (JSON.parse(response.body) as { n_restored?: unknown }).n_restored;
    ctx.log.info('slot restored', { model: ctx.model.id, slot, tokens: restored });
  }
  await removeStale(dir, current, ctx);
}
