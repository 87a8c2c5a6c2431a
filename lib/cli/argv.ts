/**
 * llama-swap's command line (llama-swap.go at 0bdb372, main's flag definitions; Go's `flag`
 * package) → what node:util parseArgs reads.
 *
 * Go takes every long flag with one or two dashes (`-config FILE`, `--config=FILE`) and a boolean
 * as `-watch-config`, `-watch-config=true` or `-watch-config=false` (never `-watch-config false`).
 * parseArgs reads `-config` as the short options `-c -o -n ...`, so the known long names are
 * rewritten to two dashes first. Pure; tested as a table.
 */

/** The long flags taking a value (llama-swap's, plus siesta's own short forms below). */
const STRING_FLAGS: ReadonlySet<string> = new Set(['config', 'config-dir', 'listen', 'tls-cert-file', 'tls-key-file']);
const BOOLEAN_FLAGS: ReadonlySet<string> = new Set(['version', 'watch-config', 'help', 'strict']);
/** siesta's short options that take a value: the argument after them is a value, never a flag. */
const SHORT_WITH_VALUE: ReadonlySet<string> = new Set(['-c', '-l']);

/** Go's strconv.ParseBool spellings. */
const TRUE = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let valueNext = false;
  for (const [index, arg] of argv.entries()) {
    if (valueNext) {
      out.push(arg); // a flag's value, even when it starts with a dash
      valueNext = false;
      continue;
    }
    if (arg === '--') {
      out.push(...argv.slice(index));
      break;
    }
    const match = /^--?([a-z][a-z-]*)(?:=([\s\S]*))?$/.exec(arg);
    const name = match?.[1];
    const value = match?.[2];
    if (name === undefined || (!STRING_FLAGS.has(name) && !BOOLEAN_FLAGS.has(name))) {
      out.push(arg);
      valueNext = SHORT_WITH_VALUE.has(arg);
      continue;
    }
    if (BOOLEAN_FLAGS.has(name) && value !== undefined) {
      if (TRUE.has(value)) out.push(`--${name}`);
      else if (!FALSE.has(value)) out.push(`--${name}=${value}`); // parseArgs reports the bad value
      continue;
    }
    out.push(value === undefined ? `--${name}` : `--${name}=${value}`);
    valueNext = value === undefined && STRING_FLAGS.has(name);
  }
  return out;
}
