/**
 * The default state directory (pid files of the running model servers): one per configuration
 * file, so that two gateways started from different files in one directory never see each other's
 * servers. `.siesta-state/<file name>-<8 hex digits of the SHA-256 of its absolute path>` beside
 * the file (with only -config-dir: beside and named after that directory); a configuration given
 * as text has no file: `.siesta-state` in the base directory. An explicit `stateDir` is used as
 * given. Pure.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

export const STATE_DIR_NAME = '.siesta-state';

export function defaultStateDir(baseDir: string, configPath: string | null): string {
  if (configPath === null) return path.resolve(baseDir, STATE_DIR_NAME);
  const absolute = path.resolve(configPath);
  const name = path.basename(absolute).replace(/[^\w.-]/g, '_') || 'config';
  const hash = createHash('sha256').update(absolute).digest('hex').slice(0, 8);
  return path.resolve(baseDir, STATE_DIR_NAME, `${name}-${hash}`);
}
