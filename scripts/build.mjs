// @ts-check
// `npm run build` (and `prepare`, which `npm ci` runs): compile to dist/ with tsc, then stamp
// dist/.built with the time the build *started*, so a source saved while tsc ran still counts as
// newer (bin/build-freshness.js compares the stamp with the sources).
//
// A production install (`npm ci --omit=dev`) has no TypeScript; it skips the build, and the
// `siesta` command then runs the sources through tsx (a runtime dependency).
import { execFileSync } from 'node:child_process';
import { utimesSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import process from 'node:process';

const require = createRequire(import.meta.url);
let tsc;
try {
  tsc = require.resolve('typescript/bin/tsc');
} catch {
  process.stderr.write('siesta: TypeScript is not installed (a production install?): no build; the siesta command runs the sources through tsx\n');
  process.exit(0);
}
const started = new Date();
execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
writeFileSync('dist/.built', `${started.toISOString()}\n`);
utimesSync('dist/.built', started, started);
