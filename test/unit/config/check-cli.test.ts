import { expect } from 'chai';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { checkLines, defaultRecipeName, formatIdleLadder } from '../../../lib/cli/check.js';
import type { ModelConfig } from '../../../lib/config/index.js';
import { load, oneModel } from './helpers.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node bin/siesta.js ...args` as a real child process. */
function siesta(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(ROOT, 'bin/siesta.js'), ...args], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

describe('siesta check', () => {
  describe('lines (pure)', () => {
    const cases: [string, string, string][] = [
      ['explicit endpoints', 'cmd: s --port ${PORT}\nsleepMode: enable\nsleepEndpoints: [{endpoint: /a}]\nwakeEndpoints: [{endpoint: /b}, {endpoint: /c}]', 'endpoints (1 sleep / 2 wake steps)'],
      ['a plugin that can sleep', 'cmd: s --port ${PORT}\nbackend: vllm\nsleep: { level: 2 }', 'plugin vllm level 2'],
      ['generic without endpoints', 'cmd: s --port ${PORT}', 'stop/start'],
      ['sleep disabled', 'cmd: s --port ${PORT}\nbackend: vllm\nsleepMode: disable', 'stop/start'],
      ["llmsnap endpoints without sleepMode (llmsnap's default: disable)", 'cmd: s --port ${PORT}\nsleepEndpoints: [{endpoint: /a}]\nwakeEndpoints: [{endpoint: /b}]', 'stop/start'],
    ];
    for (const [name, body, recipe] of cases) {
      it(`recipe: ${name} → ${recipe}`, () => {
        expect(defaultRecipeName(load(oneModel(body)).config.models.m as ModelConfig)).to.equal(recipe);
      });
    }

    it('idle ladder', () => {
      expect(formatIdleLadder([], 1)).to.equal('never');
      expect(
        formatIdleLadder(
          [
            { afterMs: 300_000, action: 'sleep' },
            { afterMs: 1_800_000, action: 'sleep', level: 2 },
            { afterMs: 7_200_000, action: 'stop' },
          ],
          1,
        ),
      ).to.equal('5m sleep L1 → 30m sleep L2 → 2h stop');
    });

    it('one line per model with id, backend, proxy, recipe, ladder and shell-quoted argv; the registry may name recipes', () => {
      const loaded = load(oneModel('cmd: "s --port ${PORT} --name \'a b\'"\nbackend: vllm\nttl: 5m'));
      expect(checkLines(loaded)).to.deep.equal([
        "m  backend=vllm  proxy=http://localhost:5800  sleep=plugin vllm level 1  idle=5m stop  cmd=s --port 5800 --name 'a b'",
      ]);
      expect(checkLines(loaded, { recipeName: (model) => `${model.backend} L${model.sleep.level} (registry)` })[0]).to.contain('sleep=vllm L1 (registry)');
    });
  });

  describe('as a child process', () => {
    it('exits 0 and prints one line per model for config.example.yaml', async () => {
      const run = await siesta('check', '--config', 'config.example.yaml');
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stderr).to.equal('');
      const lines = run.stdout.trimEnd().split('\n');
      expect(lines).to.have.length(3);
      expect(lines[0]).to.match(/^qwen-large {2}backend=vllm {2}proxy=http:\/\/localhost:5800 {2}sleep=vllm level 2 {2}idle=never {2}cmd=node fake-upstream\/bin\/fake-upstream\.js /);
      expect(lines[1]).to.match(/^qwen-small {2}backend=vllm .* sleep=vllm level 1 {2}idle=2m sleep L1 → 10m sleep L2 → 1h stop {2}cmd=/);
      expect(lines[2]).to.match(/^tiny-echo {2}backend=generic {2}proxy=http:\/\/127\.0\.0\.1:5802 {2}sleep=stop\/start {2}idle=10m stop {2}cmd=/);
    });

    it('prints warnings on stderr and still exits 0', async () => {
      const run = await siesta('check', '--config', 'test/fixtures/config/newer-llama-swap.yaml');
      expect(run.code).to.equal(0);
      expect(run.stderr).to.contain('warning: hooks.on_shutdown: unknown hook, ignored (hooks.on_startup.preload is the only hook)');
      expect(run.stdout.trimEnd().split('\n')).to.have.length(1);
    });

    it('exits 2 listing every problem with its path', async () => {
      const run = await siesta('check', '--strict', '--config', 'test/fixtures/config/five-mistakes.yaml');
      expect(run.code).to.equal(2);
      expect(run.stdout).to.equal('');
      const lines = run.stderr.trimEnd().split('\n');
      expect(lines[0]).to.match(/five-mistakes\.yaml: 5 problems$/);
      expect(lines.slice(1).map((line) => line.trim())).to.have.members([
        'healthcheckTimeout: unknown key, ignored (did you mean `healthCheckTimeout`?)',
        'models.qwen.cmd: unknown macro ${ctx}',
        'models.qwen.sleep.level: must be 1 or 2',
        'models.qwen.idle[1].after: must be a duration: seconds as a number, or a string such as "500ms", "90s", "5m", "1.5h"',
        'groups.gpu.members[1]: "lama" is not a model; ignored (did you mean `llama`?)',
      ]);
    });

    it('exits 2 with usage when no command or no --config is given', async () => {
      const bare = await siesta();
      expect(bare.code).to.equal(2);
      expect(bare.stderr).to.contain('Usage:');
      const noConfig = await siesta('check');
      expect(noConfig.code).to.equal(2);
      expect(noConfig.stderr).to.contain('--config FILE is required');
      const unknown = await siesta('check', '--config', 'x.yaml', '--bogus');
      expect(unknown.code).to.equal(2);
    });

    it('--help prints usage and exits 0', async () => {
      const run = await siesta('--help');
      expect(run.code).to.equal(0);
      expect(run.stdout).to.contain('siesta check --config FILE');
    });

    it('--version prints the package version and exits 0', async () => {
      const run = await siesta('--version');
      expect(run.code).to.equal(0);
      expect(run.stdout.trim()).to.match(/^siesta \d+\.\d+\.\d+$/);
    });
  });
});
