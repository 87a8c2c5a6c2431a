/**
 * `GET /api/version` (llama-swap's `{ version, commit, build_date }`): siesta's version from its
 * package.json, the commit of the checkout it runs from (read from .git, no git binary needed),
 * and the build date stamped in dist/.built by `npm run build` when it runs the compiled build.
 * Unknown values are llama-swap's defaults for an unstamped build: commit "unknown" and date
 * "unknown".
 */
import { readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { packageRoot, packageVersion } from '../package-root.js';

export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
  readonly build_date: string;
}

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

/** The .git directory of a checkout (`.git` may be a file pointing elsewhere, as in a worktree). */
function gitDir(root: string): string | null {
  const dotGit = join(root, '.git');
  try {
    if (statSync(dotGit).isDirectory()) return dotGit;
  } catch {
    return null;
  }
  const pointer = /^gitdir:\s*(.+)$/m.exec(read(dotGit) ?? '')?.[1]?.trim();
  return pointer ? (isAbsolute(pointer) ? pointer : join(root, pointer)) : null;
}

/**
 * The commit HEAD names, from the files of a .git directory: `HEAD` (detached: the hash itself;
 * else `ref: <name>`), the ref's file, or its line in `packed-refs`. Pure given `readFile`.
 */
export function headCommit(readFile: (name: string) => string | null): string | null {
  const head = readFile('HEAD')?.trim();
  if (!head) return null;
  if (/^[0-9a-f]{40,64}$/.test(head)) return head;
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return null;
  const loose = readFile(ref)?.trim();
  if (loose && /^[0-9a-f]{40,64}$/.test(loose)) return loose;
  for (const line of (readFile('packed-refs') ?? '').split('\n')) {
    const [hash, name] = line.trim().split(' ');
    if (name === ref && hash && /^[0-9a-f]{40,64}$/.test(hash)) return hash;
  }
  return null;
}

/** The short hash (`git rev-parse --short`, as llama-swap's build stamps it). */
export function shortCommit(hash: string): string {
  return hash.slice(0, 7);
}

/** dist/.built holds an ISO time; llama-swap prints `%Y-%m-%dT%H:%M:%SZ`. */
export function buildDate(stamp: string | null): string {
  const at = stamp ? Date.parse(stamp.trim()) : NaN;
  return Number.isNaN(at) ? 'unknown' : new Date(at).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** siesta's build info (read on each call: cheap, and a rebuild or checkout shows at once). */
export function buildInfo(): BuildInfo {
  const root = packageRoot();
  const dir = gitDir(root);
  const commit = dir ? headCommit((name) => read(join(dir, name))) : null;
  // Running the compiled build: this file is dist/lib/gateway/build-info.js.
  const compiled = import.meta.url.includes('/dist/lib/');
  return {
    version: packageVersion(),
    commit: commit ? shortCommit(commit) : 'unknown',
    build_date: compiled ? buildDate(read(join(root, 'dist', '.built'))) : 'unknown',
  };
}
