/**
 * The gateway's own log ring (for `/logs`, `/logs/stream` and the status page): fed by the winston
 * logger's `onLine` when the gateway creates its logger, or by wrapping a logger passed in.
 */
import { formatFields, type Logger } from '../logger.js';
import { LogRing } from '../process/log-ring.js';

export const GATEWAY_SOURCE = 'gateway';

export function createGatewayLogRing(maxChars = 512 * 1024): LogRing {
  return new LogRing(maxChars);
}

/** A logger that also writes each info/warn/error line, rendered like the text format, into `ring`. */
export function teeLogger(log: Logger, ring: LogRing): Logger {
  const render = (level: string, message: string, fields: Record<string, unknown> | undefined): string => {
    const rest = fields ? formatFields(fields) : '';
    return `${new Date().toISOString()} ${level.padEnd(5)} ${message}${rest ? ' ' + rest : ''}`;
  };
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
