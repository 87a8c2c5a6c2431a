#!/usr/bin/env node
// Runs the TypeScript entry without a build step (package.json "bin").
import { register } from 'tsx/esm/api';

register();
await import('./siesta.ts');
