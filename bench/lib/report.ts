/** Result rows: what the table prints and what latest.json keeps (with the raw details). */

export type Verdict = 'pass' | 'FAIL' | 'info' | 'n/a';

export interface Row {
  readonly section: string;
  readonly metric: string;
  /** The comparison side: direct to the upstream, or the peer (llama.cpp router). */
  readonly baseline: string;
  readonly siesta: string;
  readonly target: string;
  readonly verdict: Verdict;
}

export interface SectionResult {
  readonly rows: Row[];
  /** Raw figures for latest.json. */
  readonly details: Record<string, unknown>;
}

export const fmtMs = (value: number, digits = 2): string => (Number.isFinite(value) ? `${value.toFixed(digits)} ms` : '—');
export const fmtNum = (value: number, digits = 0): string => (Number.isFinite(value) ? value.toFixed(digits) : '—');

export function verdict(ok: boolean): Verdict {
  return ok ? 'pass' : 'FAIL';
}

export function notProvisioned(section: string, metrics: readonly string[], reason: string): SectionResult {
  return {
    rows: metrics.map((metric) => ({ section, metric, baseline: 'not provisioned', siesta: 'not provisioned', target: '—', verdict: 'n/a' as const })),
    details: { provisioned: false, reason },
  };
}

export function markdownTable(rows: readonly Row[]): string {
  const lines = ['| section | metric | direct / peer | siesta | target | result |', '|---|---|---|---|---|---|'];
  for (const row of rows) lines.push(`| ${row.section} | ${row.metric} | ${row.baseline} | ${row.siesta} | ${row.target} | ${row.verdict} |`);
  return lines.join('\n');
}
