// @ts-check
// `npm run build` (and `prepare`, which `npm ci` and `npm pack` run): compile to dist/ with tsc,
// remove what tsc did not emit this time (the output of a source since moved or deleted, which
// `npm pack` would otherwise ship), then stamp dist/.built with the time the build *started*, so
// a source saved while tsc ran still counts as newer (bin/build-freshness.js compares the stamp
// with the sources).
//
// A production install (`npm ci --omit=dev`) has no TypeScript; it skips the build, and the
// `siesta` command then runs the sources through tsx (an optional dependency, installed unless
// `--omit=optional`).
import { execFileSync } from 'node:child_process';
import { readdirSync, rmSync, rmdirSync, utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import process from 'node:process';

const OUT_DIR = resolve('dist');
const STAMP = join(OUT_DIR, '.built');

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('siesta: TypeScript is not installed (a production install?): no build; the siesta command runs the sources through tsx\n');
  process.exit(0);
}
const started = new Date();
let listing;
try {
  listing = execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--listEmittedFiles'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
} catch (error) {
  // tsc reports type errors on stdout, which was captured for the listing.
  process.stdout.write(/** @type {{ stdout?: string }} */ (error).stdout ?? '');
  process.exit(1);
}
const emitted = new Set(
  listing
    .split('\n')
    .filter((line) => line.startsWith('TSFILE: '))
    .map((line) => resolve(line.slice('TSFILE: '.length).trim())),
);
process.stdout.write(listing.split('\n').filter((line) => line !== '' && !line.startsWith('TSFILE: ')).map((line) => `${line}\n`).join(''));

/**
 * Remove every file under `dir` that tsc did not emit (the stamp aside), then `dir` itself when empty.
 * @param {string} dir
 */
function prune(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) prune(path);
    else if (path !== STAMP && !emitted.has(path)) rmSync(path, { force: true });
  }
  if (dir !== OUT_DIR && readdirSync(dir).length === 0) rmdirSync(dir);
}
// tsc rewrites every output on each run; an empty listing would mean a tsc that lists nothing, not an empty build.
if (emitted.size > 0) prune(OUT_DIR);

writeFileSync(STAMP, `${started.toISOString()}\n`);
utimesSync(STAMP, started, started);
