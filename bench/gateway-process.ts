/**
 * The gateway as its own process, so the bench can read its CPU time and resident memory from
 * /proc/<pid>/stat and /proc/<pid>/status:
 *
 *   node --import tsx bench/gateway-process.ts CONFIG HOST:PORT
 *
 * Prints `siesta-bench: listening <url>` once it serves; SIGTERM/SIGINT stop it and its models.
 */
import { serve, stopOnSignals } from '../lib/cli/serve.js';

const [configPath, listen] = process.argv.slice(2);
if (!configPath || !listen) {
  process.stderr.write('usage: gateway-process.ts CONFIG HOST:PORT\n');
  process.exit(2);
}

const serving = await serve({ configPath, listen });
stopOnSignals(serving);
process.stdout.write(`siesta-bench: listening ${serving.url}\n`);
