/** `npm run soak -- [flags]`: the soak's command line, parsed without touching the process. */

export interface SoakArgs {
  /** Operations to run (chat requests and interleaved admin actions). */
  readonly requests: number;
  /** Operations in flight at once. */
  readonly concurrency: number;
  /** Seed of the plan: the same seed gives the same operations in the same order. */
  readonly seed: number;
  /** Stop sending new operations after this long; those in flight still finish (or count as hung). */
  readonly maxSeconds: number;
  /** An operation without a complete answer after this long is hung (and abandoned). */
  readonly hangSeconds: number;
  /** Share of operations that are admin actions (sleep, wake, unload, load through /api). */
  readonly adminRate: number;
  /** Share of chat requests the client abandons (mid-stream, or before a plain answer). */
  readonly cancelRate: number;
}

export const SOAK_DEFAULTS: SoakArgs = {
  requests: 2000,
  concurrency: 8,
  seed: 1,
  maxSeconds: 300,
  hangSeconds: 30,
  adminRate: 0.03,
  cancelRate: 0.1,
};

export const SOAK_USAGE = `usage: npm run soak -- [--requests N] [--concurrency C] [--seed S] [--max-seconds T]
                       [--hang-seconds H] [--admin-rate R] [--cancel-rate R]
  --requests N       operations to run (default ${SOAK_DEFAULTS.requests}); -n N for short
  --concurrency C    operations in flight at once (default ${SOAK_DEFAULTS.concurrency})
  --seed S           seed of the plan (default ${SOAK_DEFAULTS.seed}); the same seed, the same operations
  --max-seconds T    send nothing new after T s (default ${SOAK_DEFAULTS.maxSeconds}); the run always ends by itself
  --hang-seconds H   an operation unanswered after H s is hung (default ${SOAK_DEFAULTS.hangSeconds})
  --admin-rate R     share of admin actions, 0..1 (default ${SOAK_DEFAULTS.adminRate})
  --cancel-rate R    share of chat requests the client abandons, 0..1 (default ${SOAK_DEFAULTS.cancelRate})`;

export class SoakArgsError extends Error {
  override name = 'SoakArgsError';
}

function whole(text: string | undefined, flag: string, min: number): number {
  if (text === undefined || !/^\d+$/.test(text) || Number(text) < min) throw new SoakArgsError(`${flag}: expected a whole number ≥ ${min}, got '${text ?? ''}'`);
  return Number(text);
}

function positive(text: string | undefined, flag: string): number {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !Number.isFinite(value) || value <= 0) throw new SoakArgsError(`${flag}: expected a number > 0, got '${text ?? ''}'`);
  return value;
}

function share(text: string | undefined, flag: string): number {
  const value = Number(text);
  if (text === undefined || text.trim() === '' || !(value >= 0 && value <= 1)) throw new SoakArgsError(`${flag}: expected a share between 0 and 1, got '${text ?? ''}'`);
  return value;
}

/** `--flag value` and `--flag=value`; throws SoakArgsError naming the flag. `help` when asked for usage. */
export function parseSoakArgs(argv: readonly string[]): SoakArgs | 'help' {
  const args = { ...SOAK_DEFAULTS };
  for (let index = 0; index < argv.length; index += 1) {
    const raw = argv[index] ?? '';
    if (raw === '--help' || raw === '-h') return 'help';
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const value = (): string | undefined => (eq > 0 ? raw.slice(eq + 1) : argv[++index]);
    switch (flag) {
      case '--requests':
      case '-n':
        args.requests = whole(value(), flag, 1);
        break;
      case '--concurrency':
        args.concurrency = whole(value(), flag, 1);
        break;
      case '--seed':
        args.seed = whole(value(), flag, 0);
        break;
      case '--max-seconds':
        args.maxSeconds = positive(value(), flag);
        break;
      case '--hang-seconds':
        args.hangSeconds = positive(value(), flag);
        break;
      case '--admin-rate':
        args.adminRate = share(value(), flag);
        break;
      case '--cancel-rate':
        args.cancelRate = share(value(), flag);
        break;
      default:
        throw new SoakArgsError(`unknown argument '${raw}'`);
    }
  }
  return args;
}
