// @ts-check
// Whether the compiled build (dist/) is at least as new as every TypeScript source: bin/siesta.js
// runs it only then, and the benchmark builds first otherwise.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SOURCE_DIRS = ['lib', 'middleware', 'plugins', 'bin', 'fake-upstream'];

/**
 * The modification time of `path`, or 0 when it is gone (deleted meanwhile, a dangling link).
 * @param {string} path
 * @returns {number}
 */
function mtimeMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * The newest modification time of the TypeScript sources (0 when there are none: a package with dist/ only).
 * @param {string} root
 * @returns {number}
 */
function newestSourceMs(root) {
  let newest = 0;
  for (const dir of SOURCE_DIRS) {
    /** @type {string[]} */
    let names;
    try {
      names = readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' });
    } catch {
      continue;
    }
    for (const name of names) {
      if (name.endsWith('.ts') && !name.endsWith('.d.ts')) newest = Math.max(newest, mtimeMs(join(root, dir, name)));
    }
  }
  return newest;
}

/**
 * @param {URL} root the package directory, ending in `/`
 * @returns {boolean}
 */
export function compiledIsFresh(root) {
  const dir = fileURLToPath(root);
  const builtMs = mtimeMs(join(dir, 'dist/.built')); // stamped by scripts/build.mjs with the build's start
  return builtMs > 0 && builtMs >= newestSourceMs(dir);
}
