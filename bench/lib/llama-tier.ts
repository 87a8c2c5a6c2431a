/**
 * The real llama-server tier written by scripts/provision-llama.sh: `<chroot>/siesta-llama.json`
 * (chroot from SIESTA_LLAMA_CHROOT, default /var/cache/siesta/llama-chroot).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LlamaTier {
  readonly chroot: string;
  readonly llamaServer: string;
  readonly modelsDir: string;
  /** Model name → path inside the chroot. */
  readonly models: Readonly<Record<string, string>>;
  readonly version: string;
}

export const DEFAULT_LLAMA_CHROOT = '/var/cache/siesta/llama-chroot';

function read(path: string): LlamaTier | string {
  if (!existsSync(path)) return `${path} does not exist (run scripts/provision-llama.sh)`;
  try {
    const raw = JSON.parse(readFileSync(path, 'utf8')) as Partial<LlamaTier>;
    if (typeof raw.chroot !== 'string' || typeof raw.llamaServer !== 'string' || !raw.models || Object.keys(raw.models).length < 2) {
      return `${path} lacks chroot, llamaServer or two models`;
    }
    const first = Object.values(raw.models)[0] ?? '/models/x.gguf';
    return { chroot: raw.chroot, llamaServer: raw.llamaServer, modelsDir: raw.modelsDir ?? first.slice(0, first.lastIndexOf('/')), models: raw.models, version: raw.version ?? 'unknown' };
  } catch (error) {
    return `${path}: ${(error as Error).message}`;
  }
}

/** The tier, or the reason it is unavailable; waits up to `waitMs` for provisioning to finish. */
export async function findLlamaTier(waitMs: number, log: (message: string) => void): Promise<LlamaTier | string> {
  const chroot = process.env['SIESTA_LLAMA_CHROOT'] ?? DEFAULT_LLAMA_CHROOT;
  const path = join(chroot, 'siesta-llama.json');
  const deadline = performance.now() + waitMs;
  let tier = read(path);
  if (typeof tier === 'string' && waitMs > 0) log(`waiting up to ${Math.round(waitMs / 1000)} s for ${path}`);
  while (typeof tier === 'string' && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 2000));
    tier = read(path);
  }
  return tier;
}
