/**
 * fake-upstream: an OpenAI-compatible stand-in for vLLM, llama-server, SGLang or a generic server,
 * used by siesta's tests and demo configuration. `node fake-upstream/bin/fake-upstream.js --help`
 * runs the compiled build when it is fresh, else this file through tsx.
 */
import { OptionsError, USAGE, parseOptions, type FakeOptions } from '../options.js';
import { createFakeUpstream } from '../server.js';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

let options: FakeOptions;
try {
  options = parseOptions(argv, process.env);
} catch (error) {
  if (!(error instanceof OptionsError)) throw error;
  process.stderr.write(`fake-upstream: ${error.message}\n${USAGE}\n`);
  process.exit(2);
}

function log(line: string): void {
  process.stdout.write(`fake-upstream: ${line}\n`);
}

/** Writes to pipes are synchronous on Linux, so the message is out before the process ends. */
function exit(code: number, message: string): never {
  (code === 0 ? process.stdout : process.stderr).write(`${message}\n`);
  process.exit(code);
}

const upstream = createFakeUpstream(options, { pid: process.pid, log, exit });

function shutdown(signal: NodeJS.Signals): void {
  if (signal === 'SIGTERM' && options.ignoreSigterm) {
    log('received SIGTERM, ignoring it (--ignore-sigterm)');
    return;
  }
  log(`received ${signal}, shutting down`);
  // Do not let a stuck close keep the process: exit anyway shortly after.
  setTimeout(() => process.exit(0), 500).unref();
  upstream.close().then(
    () => process.exit(0),
    () => process.exit(0),
  );
}
process.on('SIGTERM', shutdown);
// Test hook: SIGUSR2 ends the start delay now (a long --start-delay then makes "loading" deterministic).
process.on('SIGUSR2', () => upstream.finishLoading());
process.on('SIGINT', shutdown);

upstream.start().catch((error: unknown) => {
  exit(1, `error: cannot listen on ${options.host}:${options.port}: ${error instanceof Error ? error.message : String(error)}`);
});
