#!/usr/bin/env node
// The `siesta` command (package.json "bin").
//
// Runs the compiled build (dist/, made by `npm run build`, which `npm ci` runs as `prepare`) when it
// is newer than every TypeScript source, else the TypeScript entry through tsx, so an edited source
// never runs stale. The compiled build starts in a fraction of the time and holds about 30 MiB less
// memory (no loader thread, no transpiled sources); a `.ts` user plugin still loads (tsx on demand).
import { setFlagsFromString } from 'node:v8';
import { URL } from 'node:url';
import { compiledIsFresh } from './build-freshness.js';

// Start-up allocates mostly long-lived objects (modules, the validated configuration), which V8
// reads as a reason to grow the young generation to 16 MiB; an idle gateway then keeps that much
// more resident. serve() lets it grow again once the gateway listens (lib/cli/serve.ts).
setFlagsFromString('--semi-space-growth-factor=1');

if (compiledIsFresh(new URL('../', import.meta.url))) {
  await import('../dist/bin/siesta.js');
} else {
  await import('tsx'); // as `node --import tsx`: TypeScript sources, and `.ts` user plugins in any package type
  await import('./siesta.ts');
}
