/**
 * The gateway's own log ring (for `/logs`, `/logs/stream` and the status page): fed by the winston
 * logger's `onLine` when the gateway creates its logger, or by wrapping a logger passed in.
 *
 * And llama-swap's `logToStdout`, which decides what reaches the gateway's output (here stderr,
 * where siesta has always logged): its own lines (`proxy`), the model servers' output (`upstream`),
 * `both` or `none` (llama-swap's `server.NewLoggers`). The rings, and so `/logs` and the status
 * page, keep every line whatever it says. Like llama-swap, decided at start: a reload does not
 * change it.
 */
import type { LogToStdout } from '../config/types.js';
import { renderTextLine, type Logger } from '../logger.js';
import { LogRing } from '../process/log-ring.js';
import type { LogEntry } from './model-view.js';

export const GATEWAY_SOURCE = 'gateway';

export function createGatewayLogRing(maxChars = 512 * 1024): LogRing {
  return new LogRing(maxChars);
}

/** A logger that also writes each info/warn/error line, rendered like the text format, into `ring`. */
export function teeLogger(log: Logger, ring: LogRing): Logger {
  const render = (level: string, message: string, fields: Record<string, unknown> | undefined): string => renderTextLine(new Date().toISOString(), level, message, fields);
  return {
    debug: (message, fields) => log.debug(message, fields),
    info: (message, fields) => {
      log.info(message, fields);
      ring.push(GATEWAY_SOURCE, render('info', message, fields));
    },
    warn: (message, fields) => {
      log.warn(message, fields);
      ring.push(GATEWAY_SOURCE, render('warn', message, fields));
    },
    error: (message, fields) => {
      log.error(message, fields);
      ring.push(GATEWAY_SOURCE, render('error', message, fields));
    },
  };
}

/** What `logToStdout` sends to the output: the gateway's lines, the models' lines. */
export function stdoutPlan(logToStdout: LogToStdout): { readonly gateway: boolean; readonly models: boolean } {
  switch (logToStdout) {
    case 'both':
      return { gateway: true, models: true };
    case 'upstream':
      return { gateway: false, models: true };
    case 'none':
      return { gateway: false, models: false };
    case 'proxy':
      return { gateway: true, models: false };
  }
}

/**
 * A model's log line as written to the output: the server's own stdout/stderr text as it printed
 * it (llama-swap copies the bytes through); a line siesta wrote into the model's log (its start
 * command, its exit) as `[<model> <source>] text`. Null for a gateway line.
 */
export function modelOutputLine(entry: Pick<LogEntry, 'model' | 'source' | 'text'>): string | null {
  if (entry.model === null) return null;
  if (entry.source === 'stdout' || entry.source === 'stderr') return entry.text;
  return `[${entry.model} ${entry.source}] ${entry.text}`;
}

/** Something that re-emits every model's log lines (the live feed). */
export interface LogSource {
  on(event: 'log', listener: (entry: LogEntry) => void): unknown;
  off(event: 'log', listener: (entry: LogEntry) => void): unknown;
}

/**
 * Copy the models' log lines to the output when `logToStdout` says so (`upstream`, `both`).
 * Returns the function that stops it (a no-op when nothing was started).
 */
export function pipeModelOutput(source: LogSource, logToStdout: LogToStdout, write: (text: string) => void = (text) => void process.stderr.write(text)): () => void {
  if (!stdoutPlan(logToStdout).models) return () => undefined;
  const onLog = (entry: LogEntry): void => {
    const line = modelOutputLine(entry);
    if (line !== null) write(line + '\n');
  };
  source.on('log', onLog);
  return () => void source.off('log', onLog);
}
