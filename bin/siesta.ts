/**
 * The siesta command line. Subcommands are a small table so the serving mode can be added
 * alongside `check` without touching the others.
 */
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue } from '../lib/config/index.js';
import { loadGatewayConfig } from '../lib/gateway/load-config.js';
import { recipeName } from '../lib/plugins/recipes.js';
import { checkLines, warningLines } from '../lib/cli/check.js';
import { serve, stopOnSignals } from '../lib/cli/serve.js';
import { PluginLoadError } from '../lib/plugins/registry.js';

/** Exit codes: 0 ok, 1 failure while serving, 2 bad usage, invalid configuration or plugin. */
const EXIT_OK = 0;
const EXIT_USAGE = 2;
const EXIT_FAILURE = 1;

export const USAGE = `Usage:
  siesta --config FILE [--listen HOST:PORT] [--watch-config]
                               serve the models in FILE (default listen 127.0.0.1:8080)
  siesta check --config FILE   validate FILE and print one line per model
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

async function checkCommand(args: readonly string[], io: Io): Promise<number> {
  let values: { config?: string | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
    }));
  } catch (error) {
    io.err(`siesta check: ${error instanceof Error ? error.message : String(error)}`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  if (values.help === true) {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (values.config === undefined) {
    io.err('siesta check: --config FILE is required');
    io.err(USAGE);
    return EXIT_USAGE;
  }
  try {
    const loaded = await loadGatewayConfig({ configPath: values.config });
    const timeouts = { sleepTimeoutMs: loaded.config.sleepRequestTimeoutMs, wakeTimeoutMs: loaded.config.wakeRequestTimeoutMs };
    for (const line of warningLines(loaded)) io.err(line);
    for (const line of checkLines(loaded, { recipeName: (model) => recipeName(model, loaded.plugins.get(model.backend), timeouts) })) io.out(line);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof PluginLoadError) {
      io.err(error.message);
      return EXIT_USAGE;
    }
    if (!(error instanceof ConfigError)) throw error;
    const count = error.issues.length === 1 ? '1 problem' : `${error.issues.length} problems`;
    io.err(`${error.configPath ?? values.config}: ${count}`);
    for (const found of error.issues) io.err(`  ${formatIssue(found)}`);
    return EXIT_USAGE;
  }
}

async function serveCommand(args: readonly string[], io: Io): Promise<number> {
  let values: { config?: string | undefined; listen?: string | undefined; 'watch-config'?: boolean | undefined; help?: boolean | undefined };
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        config: { type: 'string', short: 'c' },
        listen: { type: 'string', short: 'l' },
        'watch-config': { type: 'boolean', short: 'w' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (error) {
    io.err(`siesta: ${error instanceof Error ? error.message : String(error)}`);
    io.err(USAGE);
    return EXIT_USAGE;
  }
  if (values.help === true) {
    io.out(USAGE);
    return EXIT_OK;
  }
  if (values.config === undefined) {
    io.err('siesta: --config FILE is required');
    io.err(USAGE);
    return EXIT_USAGE;
  }
  try {
    const serving = await serve({
      configPath: values.config,
      ...(values.listen !== undefined ? { listen: values.listen } : {}),
      watchConfig: values['watch-config'] === true,
    });
    stopOnSignals(serving);
    io.err(`siesta: serving ${Object.keys(serving.gateway.config.models).length} models on ${serving.url} (status page: ${serving.url}/)`);
    return EXIT_OK;
  } catch (error) {
    if (error instanceof ConfigError) {
      const count = error.issues.length === 1 ? '1 problem' : `${error.issues.length} problems`;
      io.err(`${error.configPath ?? values.config}: ${count}`);
      for (const found of error.issues) io.err(`  ${formatIssue(found)}`);
      return EXIT_USAGE;
    }
    if (error instanceof PluginLoadError) {
      io.err(error.message);
      return EXIT_USAGE;
    }
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
