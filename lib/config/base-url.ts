/**
 * The one check for a configured base URL (a model's `proxy`, a llama-swap peer's `proxy`, a
 * `cluster.peers` entry): trailing slashes dropped, then it must parse and be http:// or https://.
 */
import type { Report } from './routing.js';

/**
 * `text` without trailing slashes; reports `invalid` when it does not parse as a URL and
 * "must be an http:// or https:// URL" when its scheme is another.
 */
export function checkBaseUrl(text: string, at: readonly (string | number)[], issue: Report, invalid: string): string {
  const url = text.replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    issue(at, invalid);
    return url;
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') issue(at, 'must be an http:// or https:// URL');
  return url;
}
