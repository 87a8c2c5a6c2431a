/**
 * Command-line options of the fake upstream, parsed once at start. Pure: no process access here,
 * the caller hands in argv and env so the parser is easy to test and reuse.
 */

export const BACKENDS = ['generic', 'vllm', 'llama-server', 'sglang'] as const;
export type BackendName = (typeof BACKENDS)[number];

export interface FakeOptions {
  readonly backend: BackendName;
  readonly host: string;
  readonly port: number;
  /** Serve every route under this path prefix (`--base-path /base`: `/base/health`, ...); requests outside it get 404. '' = none. */
  readonly basePath: string;
  /** Served model id (`--model`, `--served-model-name`, `-m`; llama-server's `--alias` wins). */
  readonly model: string;
  readonly startDelayMs: number;
  readonly sleepDelayMs: number;
  readonly wakeDelayMs: number;
  readonly tokens: number;
  readonly tokenIntervalMs: number;
  readonly latencyMs: number;
  readonly failSleep: boolean;
  readonly failWake: boolean;
  /** Sleep / wake calls never answer (until the caller gives up): a hung sleep or wake. */
  readonly hangSleep: boolean;
  readonly hangWake: boolean;
  readonly failStart: boolean;
  /** Exit (code 1) after this many generation requests were answered; 0 = never. */
  readonly exitAfter: number;
  readonly crashMidStream: boolean;
  readonly ignoreSigterm: boolean;
  /** Answer 404 when a request names another model than the served one (real vLLM does). */
  readonly strictModel: boolean;
  // vLLM
  readonly enableSleepMode: boolean;
  /** `VLLM_SERVER_DEV_MODE=1` in the environment. */
  readonly vllmDevMode: boolean;
  // llama-server
  /** Self-unload after this many idle ms; 0 = never (`--sleep-idle-seconds`, fractions allowed). */
  readonly sleepIdleMs: number;
  readonly metrics: boolean;
  /** `--slot-save-path DIR`: slot save/restore files live there; null = slot actions refused. */
  readonly slotSavePath: string | null;
  /** `POST /slots/{id}?action=save` answers 500 (`--fail-slot-save`). */
  readonly failSlotSave: boolean;
  // sglang
  readonly enableMemorySaver: boolean;
}

export class OptionsError extends Error {
  override name = 'OptionsError';
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m)?$/;

/** `250`, `"250"`, `"250ms"`, `"2s"`, `"1.5s"`, `"1m"` → milliseconds. */
export function parseDurationMs(text: string, flag: string): number {
  const match = DURATION.exec(text.trim());
  if (!match?.[1]) throw new OptionsError(`${flag}: expected a duration like 200, 200ms or 2s, got '${text}'`);
  const value = Number(match[1]);
  const factor = match[2] === 's' ? 1000 : match[2] === 'm' ? 60_000 : 1;
  return Math.round(value * factor);
}

function parseCount(text: string, flag: string): number {
  if (!/^\d+$/.test(text)) throw new OptionsError(`${flag}: expected a whole number, got '${text}'`);
  return Number(text);
}

function parseSeconds(text: string, flag: string): number {
  if (!/^\d+(?:\.\d+)?$/.test(text)) throw new OptionsError(`${flag}: expected seconds, got '${text}'`);
  return Math.round(Number(text) * 1000);
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type SwitchKey = { [K in keyof FakeOptions]: FakeOptions[K] extends boolean ? K : never }[keyof FakeOptions];

const SWITCHES: Readonly<Record<string, SwitchKey>> = {
  '--fail-sleep': 'failSleep',
  '--fail-wake': 'failWake',
  '--hang-sleep': 'hangSleep',
  '--hang-wake': 'hangWake',
  '--fail-start': 'failStart',
  '--crash-mid-stream': 'crashMidStream',
  '--ignore-sigterm': 'ignoreSigterm',
  '--strict-model': 'strictModel',
  '--enable-sleep-mode': 'enableSleepMode',
  '--metrics': 'metrics',
  '--fail-slot-save': 'failSlotSave',
  '--enable-memory-saver': 'enableMemorySaver',
};

/** The usage text printed with `--help` and after a bad option. */
export const USAGE = `usage: fake-upstream --port N [options]
  --backend generic|vllm|llama-server|sglang   behaviour to emulate (default generic)
  --host H                  listen address (default 127.0.0.1)
  --base-path P             serve every route under the path prefix P (e.g. /base); 404 outside it
  --model NAME              served model id (default fake-model; also --served-model-name, -m, --alias)
  --start-delay D           time until the model is loaded (ms number or 200ms / 2s; SIGUSR2 ends it early)
  --sleep-delay D           duration of a sleep / release call
  --wake-delay D            duration of each wake step
  --tokens N                tokens per completion (default 8)
  --token-interval D        delay between stream chunks (default 0)
  --latency D               delay before answering any generation request
  --fail-sleep | --fail-wake | --fail-start | --exit-after N | --crash-mid-stream | --ignore-sigterm
  --hang-sleep | --hang-wake  sleep / wake calls never answer (the caller's timeout ends them)
  --strict-model            404 when the request names another model
  vllm: --enable-sleep-mode (dev endpoints also need VLLM_SERVER_DEV_MODE=1)
  llama-server: --sleep-idle-seconds N, --metrics, --slot-save-path DIR, --fail-slot-save
  sglang: --enable-memory-saver`;

/** Parse argv (without node and script) into options; throws OptionsError naming the bad flag. */
export function parseOptions(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): FakeOptions {
  const options: Mutable<FakeOptions> = {
    backend: 'generic',
    host: '127.0.0.1',
    port: -1,
    basePath: '',
    model: 'fake-model',
    startDelayMs: 0,
    sleepDelayMs: 0,
    wakeDelayMs: 0,
    tokens: 8,
    tokenIntervalMs: 0,
    latencyMs: 0,
    failSleep: false,
    failWake: false,
    hangSleep: false,
    hangWake: false,
    failStart: false,
    exitAfter: 0,
    crashMidStream: false,
    ignoreSigterm: false,
    strictModel: false,
    enableSleepMode: false,
    vllmDevMode: env['VLLM_SERVER_DEV_MODE'] === '1',
    sleepIdleMs: 0,
    metrics: false,
    slotSavePath: null,
    failSlotSave: false,
    enableMemorySaver: false,
  };
  let alias: string | undefined;
  for (let index = 0; index < argv.length; index += 1) {
    const raw = argv[index] ?? '';
    const eq = raw.startsWith('--') ? raw.indexOf('=') : -1;
    const flag = eq > 0 ? raw.slice(0, eq) : raw;
    const switchKey = SWITCHES[flag];
    if (switchKey) {
      options[switchKey] = true;
      continue;
    }
    const value = (): string => {
      if (eq > 0) return raw.slice(eq + 1);
      index += 1;
      const next = argv[index];
      if (next === undefined) throw new OptionsError(`${flag}: missing value`);
      return next;
    };
    switch (flag) {
      case '--backend': {
        const backend = value();
        if (!(BACKENDS as readonly string[]).includes(backend)) {
          throw new OptionsError(`--backend: expected one of ${BACKENDS.join(', ')}, got '${backend}'`);
        }
        options.backend = backend as BackendName;
        break;
      }
      case '--host':
        options.host = value();
        break;
      case '--port': {
        const port = parseCount(value(), flag);
        if (port < 1 || port > 65_535) throw new OptionsError(`--port: expected 1-65535, got ${port}`);
        options.port = port;
        break;
      }
      case '--base-path': {
        const basePath = value().replace(/\/+$/, '');
        if (basePath !== '' && !basePath.startsWith('/')) throw new OptionsError(`--base-path: expected a path starting with /, got '${basePath}'`);
        options.basePath = basePath;
        break;
      }
      case '--model':
      case '--served-model-name':
      case '-m':
        options.model = value();
        break;
      case '--alias':
        alias = value();
        break;
      case '--start-delay':
        options.startDelayMs = parseDurationMs(value(), flag);
        break;
      case '--sleep-delay':
        options.sleepDelayMs = parseDurationMs(value(), flag);
        break;
      case '--wake-delay':
        options.wakeDelayMs = parseDurationMs(value(), flag);
        break;
      case '--token-interval':
        options.tokenIntervalMs = parseDurationMs(value(), flag);
        break;
      case '--latency':
        options.latencyMs = parseDurationMs(value(), flag);
        break;
      case '--tokens':
        options.tokens = parseCount(value(), flag);
        break;
      case '--exit-after':
        options.exitAfter = parseCount(value(), flag);
        break;
      case '--sleep-idle-seconds':
        options.sleepIdleMs = parseSeconds(value(), flag);
        break;
      case '--slot-save-path':
        options.slotSavePath = value();
        break;
      default:
        throw new OptionsError(`unknown option '${raw}'`);
    }
  }
  if (options.port < 0) throw new OptionsError('--port is required');
  if (alias !== undefined) options.model = alias;
  return options;
}
