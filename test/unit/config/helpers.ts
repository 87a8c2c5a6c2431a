/** Shared helpers of the config tests: load text with an empty environment, collect issues. */
import { ConfigError, formatIssue, loadConfigText } from '../../../lib/config/index.js';
import type { ConfigIssue, LoadedConfig, LoadTextOptions } from '../../../lib/config/index.js';

export function load(text: string, options: LoadTextOptions = {}): LoadedConfig {
  return loadConfigText(text, { env: {}, baseDir: '/srv/siesta', ...options });
}

/** The issues of a config that must fail; throws if it loads. */
export function issuesOf(text: string, options: LoadTextOptions = {}): ConfigIssue[] {
  try {
    load(text, options);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  throw new Error('expected the configuration to be rejected');
}

/** `path: message` lines, for readable assertions. */
export function issueLines(text: string, options: LoadTextOptions = {}): string[] {
  return issuesOf(text, options).map(formatIssue);
}

/** `path: message` lines of the warnings of a config that loads. */
export function warningLines(text: string, options: LoadTextOptions = {}): string[] {
  return load(text, options).warnings.map(formatIssue);
}

/** A one-model config around a model body written as YAML lines (indented by the caller's 4 spaces). */
export function oneModel(body: string, globals = ''): string {
  return `${globals}\nmodels:\n  m:\n${body
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n')}\n`;
}
