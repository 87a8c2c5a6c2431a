/**
 * The siesta command line. Subcommands are a small table so the serving mode can be added
 * alongside `check` without touching the others.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, formatIssue } from '../lib/config/index.js';
import { loadGatewayConfig } from '../lib/gateway/load-config.js';
import { recipeName } from '../lib/plugins/recipes.js';
import { checkLines, warningLines } from '../lib/cli/check.js';
import { normalizeArgv } from '../lib/cli/argv.js';
import { parseListen } from '../lib/cli/listen.js';
import { serve, stopOnSignals } from '../lib/cli/serve.js';
import type { TlsFiles } from '../lib/http/express-server.js';
import { PluginLoadError } from '../lib/plugins/registry.js';
import { packageVersion } from '../lib/package-root.js';

/** Exit codes: 0 ok, 1 failure while serving, 2 bad usage, invalid configuration or plugin. */
const EXIT_OK = 0;
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

export const USAGE = `Usage:
  siesta --config FILE [--config-dir DIR] [--listen ADDR] [--watch-config]
         [--tls-cert-file FILE --tls-key-file FILE]
                               serve the models (default listen 127.0.0.1:8080)
  siesta check --config FILE [--config-dir DIR] [--strict]
                               validate the configuration and print one line per model;
                               --strict: every warning (unknown key...) is a problem
  siesta --version             print the version
  siesta --help                show this help

Options (llama-swap's flags: one dash works too, as -config FILE or -config=FILE):
  -c, --config FILE        the YAML configuration (llama-swap compatible)
      --config-dir DIR     also every *.yml/*.yaml in DIR, merged in name order after FILE
                           (a model, group or peer id defined twice is refused);
                           --config, --config-dir or both
  -l, --listen ADDR        HOST:PORT, :PORT (every interface) or PORT (loopback);
                           default 127.0.0.1:8080, 127.0.0.1:8443 with TLS
      --tls-cert-file FILE serve HTTPS with this certificate (PEM) ...
      --tls-key-file FILE  ... and this key; give both or neither
  -w, --watch-config       reload when a configuration file changes; only changed models restart
      --version            print the version
  -h, --help               show this help

Signals: SIGHUP reloads the configuration (as --watch-config does); SIGINT/SIGTERM stop every
model server, then siesta.`;

export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

type Command = (args: readonly string[], io: Io) => Promise<number>;

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

interface Sources {
  readonly configPath?: string;
  readonly configDir?: string;
}

/** What to report for the sources: the -config file, the -config-dir, or both. */
function describeSources(sources: Sources): string {
  return [sources.configPath, sources.configDir].filter((part) => part !== undefined).join(' + ');
}

/**
 * Parse a command's options; `-help`, `-config` and `-config-dir` are common to every command.
 * Returns the values, or the exit code when the command should stop here (help shown, or bad
 * usage reported).
 */
function parseCommand(command: string, args: readonly string[], options: OptionSpec, io: Io): { values: Record<string, string | boolean | undefined>; sources: Sources } | number {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { ...options, config: { type: 'string', short: 'c' }, 'config-dir': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    io.err(`${command}: ${error instanceof Error ? error.message : String(error)}`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  if (values.help === true) {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (typeof values.config !== 'string' && typeof values['config-dir'] !== 'string') {
    io.err(`${command}: --config FILE is required (or --config-dir DIR, or both)`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  const sources: Sources = {
    ...(typeof values.config === 'string' ? { configPath: values.config } : {}),
    ...(typeof values['config-dir'] === 'string' ? { configDir: values['config-dir'] } : {}),
  };
  return { values: values as Record<string, string | boolean | undefined>, sources };
}

/** Print a configuration or plugin problem with every issue listed; other errors are not ours to report. */
function reportLoadError(error: unknown, sources: Sources, io: Io): number | undefined {
  if (error instanceof PluginLoadError) {
    io.err(error.message);
    return EXIT_USAGE;
  }
  if (!(error instanceof ConfigError)) return undefined;
  const count = error.issues.length === 1 ? '1 problem' : `${error.issues.length} problems`;
  io.err(`${error.configPath ?? describeSources(sources)}: ${count}`);
  for (const found of error.issues) io.err(`  ${formatIssue(found)}`);
  return EXIT_USAGE;
}

async function checkCommand(args: readonly string[], io: Io): Promise<number> {
  const parsed = parseCommand('siesta check', args, { strict: { type: 'boolean' } }, io);
  if (typeof parsed === 'number') return parsed;
  const { sources } = parsed;
  try {
    const loaded = await loadGatewayConfig({ ...sources, ...(parsed.values.strict === true ? { strict: true } : {}) });
    const timeouts = { sleepTimeoutMs: loaded.config.sleepRequestTimeoutMs, wakeTimeoutMs: loaded.config.wakeRequestTimeoutMs };
    for (const line of warningLines(loaded)) io.err(line);
    for (const line of checkLines(loaded, { recipeName: (model) => recipeName(model, loaded.plugins.get(model.backend), timeouts) })) io.out(line);
    return EXIT_OK;
  } catch (error) {
    const code = reportLoadError(error, sources, io);
    if (code === undefined) throw error;
    return code;
  }
}

/** Both TLS files or neither (as llama-swap); read here so a wrong path is a usage error before anything starts. */
async function readTls(certFile: string | undefined, keyFile: string | undefined, io: Io): Promise<TlsFiles | undefined | number> {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined) {
    io.err('siesta: both -tls-cert-file and -tls-key-file must be provided for TLS');
    return EXIT_USAGE;
  }
  try {
    return { cert: await readFile(certFile), key: await readFile(keyFile) };
  } catch (error) {
    io.err(`siesta: cannot read the TLS files: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_USAGE;
  }
}

const SERVE_OPTIONS: OptionSpec = {
  listen: { type: 'string', short: 'l' },
  'watch-config': { type: 'boolean', short: 'w' },
  'tls-cert-file': { type: 'string' },
  'tls-key-file': { type: 'string' },
};

async function serveCommand(args: readonly string[], io: Io): Promise<number> {
  const parsed = parseCommand('siesta', args, SERVE_OPTIONS, io);
  if (typeof parsed === 'number') return parsed;
  const { values, sources } = parsed;
  const str = (name: string): string | undefined => (typeof values[name] === 'string' ? values[name] : undefined);
  const listen = str('listen');
  try {
    if (listen !== undefined) parseListen(listen);
  } catch (error) {
    io.err(`siesta: ${(error as Error).message}`);
    return EXIT_USAGE;
  }
  const tls = await readTls(str('tls-cert-file'), str('tls-key-file'), io);
  if (typeof tls === 'number') return tls;
  try {
    const serving = await serve({
      ...sources,
      ...(listen !== undefined ? { listen } : {}),
      ...(tls !== undefined ? { tls } : {}),
      watchConfig: values['watch-config'] === true,
    });
    stopOnSignals(serving);
    for (const warning of serving.warnings) io.err(warning);
    const where = serving.address === '::' || serving.address === '0.0.0.0' ? `${serving.url} (every interface)` : serving.url;
    io.err(`siesta: serving ${Object.keys(serving.gateway.config.models).length} models on ${where} (status page: ${serving.url}/)`);
    return EXIT_OK;
  } catch (error) {
    const code = reportLoadError(error, sources, io);
    if (code !== undefined) return code;
    io.err(`siesta: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

const COMMANDS: Readonly<Record<string, Command>> = {
  check: checkCommand,
  serve: serveCommand,
};

export async function main(given: readonly string[], io: Io): Promise<number> {
  // llama-swap's single-dash long flags (-config, -watch-config=true, ...) as parseArgs reads them.
  const argv = normalizeArgv(given);
  const [first, ...rest] = argv;
  const flags = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  // As Go's flag package: -version anywhere among the flags prints the version.
  if (first === '-v' || first === 'version' || flags.includes('--version')) {
    io.out(`siesta ${packageVersion()}`);
    return EXIT_OK;
  }
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(USAGE);
    return EXIT_OK;
  }
  // Options first (`siesta --config FILE`) means serve, like llama-swap's command line.
  if (first?.startsWith('-')) return serveCommand(argv, io);
  const command = first === undefined ? undefined : COMMANDS[first];
  if (command === undefined) {
    if (first !== undefined) io.err(`siesta: unknown command or option "${first}"`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  return command(rest, io);
}

const io: Io = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};
const code = await main(process.argv.slice(2), io);
// Serving keeps the process alive through its server; anything else ends here.
if (code !== EXIT_OK) process.exit(code);
process.exitCode = code;
