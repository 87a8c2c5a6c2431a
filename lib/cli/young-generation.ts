/**
 * bin/siesta.js holds V8's young generation at its initial size through start-up (module loading
 * and config validation allocate mostly long-lived objects, which V8 reads as a reason to grow it to
 * 16 MiB; an idle gateway then keeps that much more resident). Once the gateway listens, V8's own
 * growth comes back, so a busy gateway scavenges no more often than usual. Nothing happens when
 * the command did not hold it (the user set the young generation's flags, or siesta is embedded).
 * A CLI-only switch: V8's flags are the whole process's, so lib/index.ts does not export it and an
 * embedding app never has its flags changed by siesta.
 */
import { setFlagsFromString } from 'node:v8';

/** Set by bin/siesta.js when it held the young generation. */
const HELD = Symbol.for('siesta.youngGenerationHeld');

/** V8's default growth factor of the young generation. */
const V8_DEFAULT_GROWTH_FACTOR = 2;

export function releaseYoungGeneration(): void {
  const registry = globalThis as Record<symbol, unknown>;
  if (registry[HELD] !== true) return;
  delete registry[HELD];
  setFlagsFromString(`--semi-space-growth-factor=${V8_DEFAULT_GROWTH_FACTOR}`);
}
