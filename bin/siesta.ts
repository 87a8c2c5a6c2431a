/**
 * The siesta command line. Subcommands are a small table so the serving mode can be added
 * alongside `check` without touching the others.
 */
import { parseArgs } from 'node:util';
import { ConfigError, formatIssue, loadConfigFile } from '../lib/config/index.js';
import { checkLines, warningLines } from '../lib/cli/check.js';

/** Exit codes: 0 ok, 2 bad usage or invalid configuration. */
const EXIT_OK = 0;
const EXIT_USAGE = 2;

export const USAGE = `Usage:
  siesta check --config FILE   validate FILE and print one line per model
  siesta --help                show this help

Options:
  -c, --config FILE   the YAML configuration (llama-swap compatible)
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
    const loaded = await loadConfigFile(values.config);
    for (const line of warningLines(loaded)) io.err(line);
    for (const line of checkLines(loaded)) io.out(line);
    return EXIT_OK;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    const count = error.issues.length === 1 ? '1 problem' : `${error.issues.length} problems`;
    io.err(`${error.configPath ?? values.config}: ${count}`);
    for (const found of error.issues) io.err(`  ${formatIssue(found)}`);
    return EXIT_USAGE;
  }
}

const COMMANDS: Readonly<Record<string, Command>> = {
  check: checkCommand,
};

export async function main(argv: readonly string[], io: Io): Promise<number> {
  const [first, ...rest] = argv;
  if (first === '--help' || first === '-h' || first === 'help') {
    io.out(USAGE);
    return EXIT_OK;
  }
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
process.exitCode = await main(process.argv.slice(2), io);
