import type { ConfigIssue } from './types.js';

/** Formats one issue as `path: message` (root-level issues have no path). */
export function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? issue.message : `${issue.path}: ${issue.message}`;
}

/** Thrown by the loader when the configuration has any problem; `issues` lists every one of them. */
export class ConfigError extends Error {
  readonly issues: readonly ConfigIssue[];
  /** The file the issues belong to, when loaded from a file. */
  readonly configPath: string | null;

  constructor(issues: readonly ConfigIssue[], configPath: string | null = null) {
    const where = configPath === null ? 'configuration' : configPath;
    const count = issues.length === 1 ? '1 problem' : `${issues.length} problems`;
    super([`invalid ${where} (${count}):`, ...issues.map(formatIssue)].join('\n'));
    this.name = 'ConfigError';
    this.issues = Object.freeze([...issues]);
    this.configPath = configPath;
  }
}

/** Joins a joi-style path (`['models', 'qwen', 'idle', 1, 'after']`) into `models.qwen.idle[1].after`. */
export function formatPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[^.[\]"\s]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}
