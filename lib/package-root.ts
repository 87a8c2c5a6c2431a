/** siesta's own directory, found from the sources (`lib/`) and from the compiled build (`dist/lib/`). */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

let cached: { readonly dir: string; readonly version: string } | undefined;

function find(): { dir: string; version: string } {
  for (const candidate of ['../', '../../']) {
    const dir = fileURLToPath(new URL(candidate, import.meta.url));
    if (!existsSync(`${dir}package.json`)) continue;
    const pkg = JSON.parse(readFileSync(`${dir}package.json`, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'siesta') return { dir, version: pkg.version ?? '0.0.0' };
  }
  throw new Error('siesta: its package.json is missing from the installation');
}

/** The package directory, with a trailing slash. */
export function packageRoot(): string {
  cached ??= find();
  return cached.dir;
}

export function packageVersion(): string {
  cached ??= find();
  return cached.version;
}
