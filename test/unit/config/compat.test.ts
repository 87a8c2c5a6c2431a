/**
 * llama-swap / llmsnap config compatibility: every config llama-swap loads, siesta loads; every config
 * llama-swap refuses, siesta refuses. The fixtures are the reference repos' own YAML (examples, docs,
 * the text their Go tests feed LoadConfigFromReader); test/fixtures/compat/manifest.json records where
 * each came from and llama-swap's verdict. Plugins are not part of this check (no knownBackends).
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, formatIssue, loadConfigText } from '../../../lib/config/index.js';

const COMPAT = path.resolve(import.meta.dirname, '../../fixtures/compat');

interface CompatEntry {
  readonly file: string;
  readonly source: 'llama-swap' | 'llmsnap';
  readonly rev: string;
  readonly path: string;
  readonly test?: string;
  readonly expect: 'accept' | 'refuse';
  readonly errorIncludes?: string;
  readonly env?: Readonly<Record<string, string>>;
  readonly platform?: 'posix';
  readonly note?: string;
}

type Verdict = { readonly verdict: 'accept'; readonly warnings: string[] } | { readonly verdict: 'refuse'; readonly issues: string[] };

const manifest = JSON.parse(readFileSync(path.join(COMPAT, 'manifest.json'), 'utf8')) as CompatEntry[];

/** Every .yaml below the compat folder, as paths relative to it with forward slashes. */
function yamlFilesBelow(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const relative = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) return yamlFilesBelow(path.join(dir, entry.name), relative);
    return entry.name.endsWith('.yaml') ? [relative] : [];
  });
}

function siestaVerdict(entry: CompatEntry, baseDir: string): Verdict {
  const text = readFileSync(path.join(COMPAT, entry.file), 'utf8');
  try {
    const loaded = loadConfigText(text, { env: entry.env ?? {}, configPath: null, baseDir });
    return { verdict: 'accept', warnings: loaded.warnings.map(formatIssue) };
  } catch (error) {
    if (error instanceof ConfigError) return { verdict: 'refuse', issues: error.issues.map(formatIssue) };
    throw error;
  }
}

function mismatchMessage(entry: CompatEntry, got: Verdict): string {
  const lines = [
    `${entry.file}: llama-swap would ${entry.expect} it, siesta ${got.verdict === 'accept' ? 'accepts' : 'refuses'} it`,
    `  from ${entry.source} ${entry.rev} ${entry.path}${entry.test ? ` (${entry.test})` : ''}`,
  ];
  if (entry.errorIncludes !== undefined) lines.push(`  llama-swap's error includes: ${entry.errorIncludes}`);
  if (got.verdict === 'refuse') lines.push('  siesta issues:', ...got.issues.map((issue) => `    ${issue}`));
  else lines.push(`  siesta warnings: ${got.warnings.length === 0 ? '(none)' : ''}`, ...got.warnings.map((w) => `    ${w}`));
  return lines.join('\n');
}

describe('llama-swap / llmsnap config compatibility (test/fixtures/compat)', () => {
  let baseDir = '';
  before(() => {
    baseDir = mkdtempSync(path.join(os.tmpdir(), 'siesta-compat-'));
  });
  after(() => {
    rmSync(baseDir, { recursive: true, force: true });
  });

  describe('the manifest', () => {
    it('lists every .yaml of the folder exactly once, and nothing else', () => {
      const listed = manifest.map((entry) => entry.file);
      expect(new Set(listed).size, 'duplicate manifest entries').to.equal(listed.length);
      expect([...listed].sort()).to.deep.equal(yamlFilesBelow(COMPAT).sort());
    });

    it('has well-formed entries (source folder, verdict, error only on refusal)', () => {
      for (const entry of manifest) {
        expect(entry.file.startsWith(`${entry.source}/`), entry.file).to.equal(true);
        expect(['accept', 'refuse'], entry.file).to.include(entry.expect);
        if (entry.expect === 'accept') expect(entry.errorIncludes, entry.file).to.equal(undefined);
        expect(entry.rev, entry.file).to.be.a('string').and.not.equal('');
        expect(entry.path, entry.file).to.be.a('string').and.not.equal('');
      }
    });
  });

  for (const entry of manifest) {
    if (entry.platform === 'posix' && process.platform === 'win32') continue;
    it(`${entry.expect}s ${entry.file}`, () => {
      const got = siestaVerdict(entry, baseDir);
      expect(got.verdict, mismatchMessage(entry, got)).to.equal(entry.expect);
    });
  }
});
