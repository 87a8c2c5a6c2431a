// @ts-check
// Whether the compiled build (dist/) is at least as new as every TypeScript source: bin/siesta.js
// runs it only then, and the benchmark builds first otherwise.
import { readdirSync, statSync } from 'node:fs';
import { URL } from 'node:url';

const SOURCE_DIRS = ['lib', 'middleware', 'plugins', 'bin'];

/**
 * The newest modification time of the TypeScript sources (0 when there are none: a package with dist/ only).
 * @param {URL} root
 * @returns {number}
 */
function newestSourceMs(root) {
  let newest = 0;
  for (const dir of SOURCE_DIRS) {
    /** @type {string[]} */
    let names;
    try {
      names = readdirSync(new URL(dir, root), { recursive: true, encoding: 'utf8' });
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith('.ts') && !name.endsWith('.d.ts')) newest = Math.max(newest, statSync(new URL(`${dir}/${name}`, root)).mtimeMs);
    }
  }
  return newest;
}

/**
 * @param {URL} root the package directory, ending in `/`
 * @returns {boolean}
 */
export function compiledIsFresh(root) {
  let builtMs;
  try {
    builtMs = statSync(new URL('dist/.built', root)).mtimeMs; // written by `npm run build`
  } catch {
    return false; // never built
  }
  return builtMs >= newestSourceMs(root);
}
