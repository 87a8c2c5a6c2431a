#!/usr/bin/env node
// The `siesta` command (package.json "bin").
//
// Runs the compiled build (dist/, made by `npm run build`, which `npm ci` runs as `prepare`) when it
// is newer than every TypeScript source, else the TypeScript entry through tsx, so an edited source
// never runs stale. The compiled build starts in a fraction of the time and holds about 30 MiB less
// memory (no loader thread, no transpiled sources); a `.ts` user plugin still loads (tsx on demand).
import { setFlagsFromString } from 'node:v8';
import process from 'node:process';
import { URL } from 'node:url';
import { compiledIsFresh } from './build-freshness.js';

// Hold V8's young generation at its initial size through start-up, unless the user sized it;
// serve() releases it once the gateway listens (lib/cli/young-generation.ts says why).
const sizedByUser = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((arg) => /semi[-_]space/.test(arg));
if (!sizedByUser) {
  setFlagsFromString('--semi-space-growth-factor=1');
  globalThis[Symbol.for('siesta.youngGenerationHeld')] = true;
}

if (compiledIsFresh(new URL('../', import.meta.url))) {
  await import('../dist/bin/siesta.js');
} else {
  try {
    await import('tsx'); // as `node --import tsx`: TypeScript sources, and `.ts` user plugins in any package type
  } catch (error) {
    const { code, message } = /** @type {{ code?: unknown; message?: unknown }} */ (error);
    if (code !== 'ERR_MODULE_NOT_FOUND' || typeof message !== 'string' || !message.includes("'tsx'")) throw error;
    // tsx is an optional dependency (npm install --omit=optional leaves it out).
    process.stderr.write('siesta: the compiled build (dist/) is missing or older than the TypeScript sources, and tsx, which runs the sources, is not installed: npm run build, or npm install tsx\n');
    process.exit(1);
  }
  await import('./siesta.ts');
}
