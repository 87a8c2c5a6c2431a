/**
 * `-watch-config`: reload when the `-config` file or a `*.yml` / `*.yaml` of `-config-dir` changes.
 *
 * Two triggers, one decision. fs.watch on the directories notices a change at once; a stat poll
 * (every 2 s, llama-swap's interval) catches what fs.watch cannot see: a file bind-mounted into a
 * container and replaced on the host, a Kubernetes ConfigMap whose `..data` link is swapped. Either
 * trigger only takes a snapshot (inode, size, mtime of each file, following links); the reload runs
 * when the snapshot differs from the previous one, by the rules of `shouldReload` (llama-swap's
 * internal/watcher: a file or directory that went missing is a write in progress, not a change).
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export interface SourcesSnapshot {
  /** The `-config` file's signature, null when it is missing; absent without `-config`. */
  readonly config?: string | null;
  /** Signature of each YAML file in `-config-dir` by name, null when the directory cannot be read; absent without `-config-dir`. */
  readonly dir?: Readonly<Record<string, string>> | null;
}

function sameDir(a: SourcesSnapshot['dir'], b: SourcesSnapshot['dir']): boolean {
  if (a === null || a === undefined || b === null || b === undefined) return a === b;
  const names = Object.keys(a);
  return names.length === Object.keys(b).length && names.every((name) => a[name] === b[name]);
}

/**
 * Whether `current` calls for a reload after `previous`. Rules:
 *  1. The `-config` file is missing now: no (an editor or deploy tool is replacing it).
 *  2. The directory is missing or has no YAML file now: no (the same, for a directory).
 *  3. Otherwise: when anything differs (a file edited, replaced, added, removed, or back after 1/2).
 */
export function shouldReload(previous: SourcesSnapshot, current: SourcesSnapshot): boolean {
  if (current.config === null) return false;
  if (current.dir === null || (current.dir !== undefined && Object.keys(current.dir).length === 0)) return false;
  return previous.config !== current.config || !sameDir(previous.dir, current.dir);
}

async function signature(file: string): Promise<string | null> {
  try {
    const stats = await stat(file, { bigint: true });
    return `${stats.ino}:${stats.size}:${stats.mtimeNs}`;
  } catch {
    return null;
  }
}

export async function snapshotSources(configPath: string | undefined, configDir: string | undefined): Promise<SourcesSnapshot> {
  const snapshot: { config?: string | null; dir?: Record<string, string> | null } = {};
  if (configPath !== undefined) snapshot.config = await signature(configPath);
  if (configDir !== undefined) {
    try {
      const entries = await readdir(configDir, { withFileTypes: true });
      const dir: Record<string, string> = {};
      for (const entry of entries) {
        if (entry.isDirectory() || !(entry.name.endsWith('.yml') || entry.name.endsWith('.yaml'))) continue;
        const found = await signature(path.join(configDir, entry.name));
        if (found !== null) dir[entry.name] = found; // gone between readdir and stat: seen at the next look
      }
      snapshot.dir = dir;
    } catch {
      snapshot.dir = null;
    }
  }
  return snapshot;
}

export interface WatchOptions {
  readonly configPath?: string;
  readonly configDir?: string;
  readonly onChange: () => void;
  /** Quiet time after an fs.watch event before looking (editors write in several steps). */
  readonly settleMs?: number;
  readonly pollIntervalMs?: number;
  readonly onError?: (error: Error) => void;
}

export interface SourcesWatcher {
  close(): void;
}

/**
 * Watch the sources; `onChange` runs after each change. The first snapshot is the baseline. Paths
 * are absolute. fs.watch watches the directories, not the file: a watch on the file follows its
 * inode, so after an atomic replace (vim, sed -i, most deploy tools) later changes would go unseen.
 */
export async function watchSources(options: WatchOptions): Promise<SourcesWatcher> {
  const { configPath, configDir } = options;
  let previous = await snapshotSources(configPath, configDir);
  let closed = false;
  let looking = Promise.resolve();
  const look = (): void => {
    looking = looking.then(async () => {
      const current = await snapshotSources(configPath, configDir);
      if (closed) return;
      const reload = shouldReload(previous, current);
      previous = current;
      if (reload) options.onChange();
    });
  };

  let settle: NodeJS.Timeout | undefined;
  const watchers: FSWatcher[] = [];
  const directories = new Set([...(configPath !== undefined ? [path.dirname(configPath)] : []), ...(configDir !== undefined ? [configDir] : [])]);
  for (const directory of directories) {
    try {
      const watcher = watch(directory, () => {
        clearTimeout(settle);
        settle = setTimeout(look, options.settleMs ?? 200);
      });
      watcher.on('error', (error) => options.onError?.(error));
      watchers.push(watcher);
    } catch (error) {
      options.onError?.(error as Error); // a missing directory: the poll notices when it appears
    }
  }
  const poll = setInterval(look, options.pollIntervalMs ?? 2000);
  poll.unref();

  return {
    close() {
      closed = true;
      clearTimeout(settle);
      clearInterval(poll);
      for (const watcher of watchers) watcher.close();
    },
  };
}
