/**
 * The siesta command line. Subcommands are a small table so the serving mode can be added
 * alongside `check` without touching the others.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError, formatIssue } from '../lib/config/index.js';
import { loadGatewayConfig } from '../lib/gateway/load-config.js';
import { recipeName } from '../lib/plugins/recipes.js';
import { checkLines, warningLines } from '../lib/cli/check.js';
import { serve, stopOnSignals } from '../lib/cli/serve.js';
import { PluginLoadError } from '../lib/plugins/registry.js';
import { packageVersion } from '../lib/package-root.js';

/** Exit codes: 0 ok, 1 failure while serving, 2 bad usage, invalid configuration or plugin. */
const EXIT_OK = 0;
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

export const USAGE = `Usage:
  siesta --config FILE [--listen HOST:PORT] [--watch-config]
                               serve the models in FILE (default listen 127.0.0.1:8080)
  siesta check --config FILE   validate FILE and print one line per model
  siesta --version             print the version
  siesta --help                show this help

Options:
  -c, --config FILE   the YAML configuration (llama-swap compatible)
  -l, --listen ADDR   HOST:PORT, :PORT or PORT to listen on (default 127.0.0.1:8080)
  -w, --watch-config  reload FILE when it changes; only changed models restart
  -h, --help          show this help`;

export interface Io {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
}

type Command = (args: readonly string[], io: Io) => Promise<number>;

type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/**
 * Parse a command's options; `--help` and `--config` are common to every command. Returns the
 * values, or the exit code when the command should stop here (help shown, or bad usage reported).
 */
function parseCommand(command: string, args: readonly string[], options: OptionSpec, io: Io): Record<string, string | boolean | undefined> | number {
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { ...options, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
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
  if (typeof values.config !== 'string') {
    io.err(`${command}: --config FILE is required`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  return values as Record<string, string | boolean | undefined>;
}

/** Print a configuration or plugin problem with every issue listed; other errors are not ours to report. */
function reportLoadError(error: unknown, configPath: string, io: Io): number | undefined {
  if (error instanceof PluginLoadError) {
    io.err(error.message);
    return EXIT_USAGE;
  }
  if (!(error instanceof ConfigError)) return undefined;
  const count = error.issues.length === 1 ? '1 problem' : `${error.issues.length} problems`;
  io.err(`${error.configPath ?? configPath}: ${count}`);
  for (const found of error.issues) io.err(`  ${formatIssue(found)}`);
  return EXIT_USAGE;
}

async function checkCommand(args: readonly string[], io: Io): Promise<number> {
  const values = parseCommand('siesta check', args, {}, io);
  if (typeof values === 'number') return values;
  const configPath = values.config as string;
  try {
    const loaded = await loadGatewayConfig({ configPath });
    const timeouts = { sleepTimeoutMs: loaded.config.sleepRequestTimeoutMs, wakeTimeoutMs: loaded.config.wakeRequestTimeoutMs };
    for (const line of warningLines(loaded)) io.err(line);
    for (const line of checkLines(loaded, { recipeName: (model) => recipeName(model, loaded.plugins.get(model.backend), timeouts) })) io.out(line);
    return EXIT_OK;
  } catch (error) {
    const code = reportLoadError(error, configPath, io);
    if (code === undefined) throw error;
    return code;
  }
}

async function serveCommand(args: readonly string[], io: Io): Promise<number> {
  const values = parseCommand('siesta', args, { listen: { type: 'string', short: 'l' }, 'watch-config': { type: 'boolean', short: 'w' } }, io);
  if (typeof values === 'number') return values;
  const configPath = values.config as string;
  try {
    const serving = await serve({
      configPath,
      ...(typeof values.listen === 'string' ? { listen: values.listen } : {}),
      watchConfig: values['watch-config'] === true,
    });
    stopOnSignals(serving);
    io.err(`siesta: serving ${Object.keys(serving.gateway.config.models).length} models on ${serving.url} (status page: ${serving.url}/)`);
    return EXIT_OK;
  } catch (error) {
    const code = reportLoadError(error, configPath, io);
    if (code !== undefined) return code;
    io.err(`siesta: ${error instanceof Error ? error.message : String(error)}`);
    return EXIT_FAILURE;
  }
}

const COMMANDS: Readonly<Record<string, Command>> = {
  check: checkCommand,
  serve: serveCommand,
};

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--version' || first === '-v' || first === 'version') {
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
