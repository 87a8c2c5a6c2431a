#!/usr/bin/env node
// The fake upstream's command, as the demo configuration runs it (`node fake-upstream/bin/fake-upstream.js`).
//
// Like bin/siesta.js: the compiled build (dist/fake-upstream/) when it is newer than every
// TypeScript source, else the TypeScript entry through tsx. An installed siesta package ships the
// compiled build only, so its demo runs without tsx.
import { URL } from 'node:url';
import { compiledIsFresh } from '../../bin/build-freshness.js';

if (compiledIsFresh(new URL('../../', import.meta.url))) {
  await import('../../dist/fake-upstream/bin/fake-upstream.js');
} else {
  await import('tsx');
  await import('./fake-upstream.ts');
}
