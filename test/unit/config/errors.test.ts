import { expect } from 'chai';
import joi from 'joi';
import path from 'node:path';
import { ConfigError, loadConfigFile } from '../../../lib/config/index.js';
import { issueLines, load, oneModel } from './helpers.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/config');

async function fileIssues(name: string): Promise<string[]> {
  try {
    await loadConfigFile(path.join(FIXTURES, name), { env: {} });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  throw new Error(`${name} loaded`);
}

describe('config problems', () => {
  describe('unknown keys', () => {
    const errors: [string, string, string][] = [
      ['global typo, case-insensitive', 'healthcheckTimeout: 60', 'healthcheckTimeout: unknown key (did you mean `healthCheckTimeout`?)'],
      ['global typo', 'startPrt: 1', 'startPrt: unknown key (did you mean `startPort`?)'],
      ['global, nothing close', 'frobnicate: 1', 'frobnicate: unknown key'],
      ['model typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    aliasses: [x]', 'models.m.aliasses: unknown key (did you mean `aliases`?)'],
      ['model key in snake case', 'models:\n  m:\n    cmd: s --port ${PORT}\n    check_endpoint: /x', 'models.m.check_endpoint: unknown key (did you mean `checkEndpoint`?)'],
      ['filters typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    filters: { stripParam: x }', 'models.m.filters.stripParam: unknown key (did you mean `stripParams`?)'],
      ['group typo', 'groups:\n  g: { member: [m] }', 'groups.g.member: unknown key (did you mean `members`?)'],
      ['sleep typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    sleep: { levle: 2 }', 'models.m.sleep.levle: unknown key (did you mean `level`?)'],
      ['idle step typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    idle: [{ afer: 5m, do: sleep }]', 'models.m.idle[0].afer: unknown key (did you mean `after`?)'],
      ['endpoint step typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    sleepEndpoints: [{ endpoint: /s, methd: POST }]\n    wakeEndpoints: [{ endpoint: /w }]', 'models.m.sleepEndpoints[0].methd: unknown key (did you mean `method`?)'],
      ['resources typo', 'resources: { vrma: 1GiB }', 'resources.vrma: unknown key (did you mean `vram`?)'],
    ];
    for (const [name, yaml, expected] of errors) {
      it(`error: ${name}`, () => {
        const text = yaml.includes('models:') ? yaml : `${yaml}\nmodels:\n  m:\n    cmd: s --port \${PORT}\n`;
        expect(issueLines(text)).to.include(expected);
      });
    }

    it('keys of newer llama-swap versions are warnings naming the key, never errors', async () => {
      const loaded = await loadConfigFile(path.join(FIXTURES, 'newer-llama-swap.yaml'), { env: {} });
      expect(loaded.warnings.map((w) => `${w.path}: ${w.message}`)).to.deep.equal([
        'logTimeFormat: not implemented by siesta; ignored',
        'logToStdout: not implemented by siesta; ignored',
        'logRequests: not implemented by siesta; ignored',
        'metricsMaxInMemory: not implemented by siesta; ignored',
        'captureBuffer: not implemented by siesta; ignored',
        'performance: not implemented by siesta; ignored',
        'profiles: not implemented by siesta; ignored',
        'peers: not implemented by siesta; ignored',
        'matrix: not implemented by siesta; ignored',
        'hooks.on_startup.warmup: not implemented by siesta; ignored (siesta supports hooks.on_startup.preload only)',
        'hooks.on_shutdown: not implemented by siesta; ignored (siesta supports hooks.on_startup.preload only)',
        'models.a.timeouts: not implemented by siesta; ignored',
        'models.a.capabilities: not implemented by siesta; ignored',
        'models.a.compat: not implemented by siesta; ignored',
        'models.a.filters.setParamsByID: not implemented by siesta; ignored',
      ]);
      expect(loaded.config.preload).to.deep.equal(['a']);
    });

    const warned: string[] = ['store', 'ui', 'selectors', 'upstream', 'routing'];
    for (const key of warned) {
      it(`global ${key} is a warning`, () => {
        const loaded = load(`${key}: {}\nmodels:\n  m:\n    cmd: s --port \${PORT}\n`);
        expect(loaded.warnings).to.deep.equal([{ path: key, message: 'not implemented by siesta; ignored' }]);
      });
    }

    it('alias objects: name and unlisted are warnings', () => {
      const loaded = load(oneModel('cmd: s --port ${PORT}\naliases: [{ id: a, name: A, unlisted: true }]'));
      expect(loaded.warnings.map((w) => w.path)).to.deep.equal(['models.m.aliases[0].name', 'models.m.aliases[0].unlisted']);
      expect(loaded.config.models.m?.aliases).to.deep.equal(['a']);
    });
  });

  describe('values and cross-checks', () => {
    const cases: [string, string, string[]][] = [
      ['sleep level', oneModel('cmd: s --port ${PORT}\nsleep: { level: 3 }'), ['models.m.sleep.level: must be 1 or 2']],
      ['cmd missing', oneModel('name: x'), ['models.m.cmd: is required']],
      ['cmd empty after comments', oneModel('cmd: |\n  # only a comment\nproxy: http://h:1'), ['models.m.cmd: is empty (only comments or blanks)']],
      ['cmd quote', oneModel('cmd: "s \'unterminated --port ${PORT}"'), ['models.m.cmd: unterminated single quote']],
      ['bad duration', oneModel('cmd: s --port ${PORT}\nunloadTimeout: soon'), ['models.m.unloadTimeout: must be a duration: seconds as a number, or a string such as "500ms", "90s", "5m", "1.5h"']],
      ['bad size', oneModel('cmd: s --port ${PORT}\nresources: { vram: lots }'), ['models.m.resources.vram: must be a size: bytes as a number, or a string such as "512MiB", "18GiB", "1.5GiB", "8GB"']],
      ['bad ttl', oneModel('cmd: s --port ${PORT}\nttl: -5'), ['models.m.ttl: must be -1 (use globalTTL), 0 (never) or a duration such as 300, "5m", "2h"']],
      ['idle after zero', oneModel('cmd: s --port ${PORT}\nidle: [{ after: 0, do: sleep }]'), ['models.m.idle[0].after: must be more than zero']],
      ['idle not increasing', oneModel('cmd: s --port ${PORT}\nidle: [{ after: 5m, do: sleep }, { after: 5m, do: sleep, level: 2 }]'), ['models.m.idle[1].after: must be later than the step before it (5m)']],
      ['idle stop not last', oneModel('cmd: s --port ${PORT}\nidle: [{ after: 5m, do: stop }, { after: 10m, do: sleep }]'), ['models.m.idle[0].do: stop must be the last step of the idle ladder']],
      ['idle bad action', oneModel('cmd: s --port ${PORT}\nidle: [{ after: 5m, do: nap }]'), ['models.m.idle[0].do: must be sleep or stop']],
      ['idle stop with a level', oneModel('cmd: s --port ${PORT}\nidle: [{ after: 5m, do: stop, level: 2 }]'), ['models.m.idle[0].level: only applies to do: sleep']],
      ['idle stop and ttl', oneModel('cmd: s --port ${PORT}\nttl: 1h\nidle: [{ after: 5m, do: sleep }, { after: 30m, do: stop }]'), ['models.m.ttl: cannot be combined with an idle ladder that stops (idle[1]); remove one of them']],
      ['ttl before the last idle step', oneModel('cmd: s --port ${PORT}\nttl: 1m\nidle: [{ after: 5m, do: sleep }]'), ['models.m.ttl: ttl must be later than the last idle step (5m), or set ttl: 0']],
      ['sleepEndpoints without wakeEndpoints', oneModel('cmd: s --port ${PORT}\nsleepEndpoints: [{ endpoint: /sleep }]'), ['models.m.wakeEndpoints: is required when sleepEndpoints is set']],
      ['bad endpoint method', oneModel('cmd: s --port ${PORT}\nsleepEndpoints: [{ endpoint: /s, method: FETCH }]\nwakeEndpoints: [{ endpoint: /w }]'), ['models.m.sleepEndpoints[0].method: must be GET, POST, PUT, PATCH or DELETE']],
      ['sleepMode', oneModel('cmd: s --port ${PORT}\nsleepMode: sometimes'), ['models.m.sleepMode: must be enable or disable']],
      ['logLevel', `logLevel: loud\n${oneModel('cmd: s --port ${PORT}')}`, ['logLevel: must be debug, info, warn or error']],
      ['logFormat', `logFormat: xml\n${oneModel('cmd: s --port ${PORT}')}`, ['logFormat: must be text or json']],
      ['startPort', `startPort: 70000\n${oneModel('cmd: s --port ${PORT}')}`, ['startPort: must be less than or equal to 65535']],
      ['env entry without =', oneModel('cmd: s --port ${PORT}\nenv: ["JUSTNAME"]'), ['models.m.env[0]: must be NAME=value']],
      ['proxy not a URL', oneModel('cmd: s --port 1\nproxy: "not a url"'), ['models.m.proxy: is not a valid URL: not a url']],
      ['no models', 'logLevel: info\n', ['models: is required: a mapping of model ids to their settings']],
      ['empty models', 'models: {}\n', ['models: must define at least one model']],
      ['empty file', '', ['models: is required: the file is empty']],
      ['not a mapping', '- a\n- b\n', ['must be a mapping']],
      ['api key with a space', `apiKeys: ["a b"]\n${oneModel('cmd: s --port ${PORT}')}`, ['apiKeys[0]: must not contain spaces']],
      ['unset env in apiKeys', `apiKeys: ["\${env.KEY}"]\n${oneModel('cmd: s --port ${PORT}')}`, ['apiKeys[0]: environment variable KEY is not set']],
      ['alias clashes with a model id', 'models:\n  a: { cmd: "s --port ${PORT}", aliases: [b] }\n  b: { cmd: "s --port ${PORT}" }\n', ['models.a.aliases[0]: "b" is the id of another model']],
      ['alias used twice', 'models:\n  a: { cmd: "s --port ${PORT}", aliases: [x] }\n  b: { cmd: "s --port ${PORT}", aliases: [x] }\n', ['models.b.aliases[0]: "x" is already an alias of model a']],
      ['unknown group member', 'groups:\n  g: { members: [lama] }\nmodels:\n  llama: { cmd: "s --port ${PORT}" }\n', ['groups.g.members[0]: unknown model "lama" (did you mean `llama`?)']],
      ['group member given as an alias', 'groups:\n  g: { members: [l] }\nmodels:\n  llama: { cmd: "s --port ${PORT}", aliases: [l] }\n', ['groups.g.members[0]: "l" is an alias; use the model id "llama"']],
      ['model in two groups', 'groups:\n  g: { members: [a] }\n  h: { members: [a] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['groups.h.members[0]: model "a" is already in group g; a model may be in one group only']],
      ['member listed twice', 'groups:\n  g: { members: [a, a] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['groups.g.members[1]: "a" is listed twice']],
      ['reserved group id', 'groups:\n  "(default)": { members: [a] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['groups.(default): (default) is reserved for models that are in no group']],
      ['preload of an unknown model', 'hooks: { on_startup: { preload: [qwne] } }\nmodels:\n  qwen: { cmd: "s --port ${PORT}" }\n', ['hooks.on_startup.preload[0]: unknown model "qwne" (did you mean `qwen`?)']],
      ['two models on one port that could run together', 'groups:\n  g: { swap: false, members: [a, b] }\nmodels:\n  a: { cmd: "s --port 9000", proxy: "http://127.0.0.1:9000" }\n  b: { cmd: "s --port 9000", proxy: "http://localhost:9000" }\n', ['models.b.proxy: port 9000 is also used by model a, and both could run at the same time (put them in one group with swap: true, or use ${PORT})']],
      ['a fixed port clashing with an allocated one', 'groups:\n  g: { swap: false, members: [a, b, c] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n  b: { cmd: "s", proxy: "http://127.0.0.1:5800" }\n  c: { cmd: "s --port ${PORT}" }\n', ['models.b.proxy: port 5800 is also used by model a, and both could run at the same time (put them in one group with swap: true, or use ${PORT})']],
    ];
    for (const [name, yaml, expected] of cases) {
      it(name, () => {
        expect(issueLines(yaml)).to.deep.equal(expected);
      });
    }

    it('one fixed port shared inside a swap group is fine (a common llama-swap setup)', () => {
      const yaml = 'models:\n  a: { cmd: "s --port 9000", proxy: "http://127.0.0.1:9000" }\n  b: { cmd: "t --port 9000", proxy: "http://127.0.0.1:9000" }\n';
      expect(load(yaml).config.groups).to.have.length(1);
    });
  });

  describe('plugin hooks', () => {
    const yaml = oneModel('cmd: s --port ${PORT}\nbackend: vlm\noptions: { warmup: maybe }');
    it('unknown backend names the known ones, with did-you-mean', () => {
      expect(issueLines(yaml, { knownBackends: ['generic', 'vllm', 'sglang'] })).to.deep.equal([
        'models.m.backend: unknown backend "vlm" (did you mean `vllm`?); known: generic, vllm, sglang',
      ]);
    });
    it("validates options with the plugin's schema", () => {
      const schemas = { vllm: joi.object({ warmup: joi.boolean() }) };
      const text = oneModel('cmd: s --port ${PORT}\nbackend: vllm\noptions: { warmup: maybe, other: 1 }');
      expect(issueLines(text, { knownBackends: ['vllm'], pluginOptionSchemas: schemas })).to.deep.equal([
        'models.m.options.warmup: must be a boolean',
        'models.m.options.other: is not allowed',
      ]);
      const ok = load(oneModel('cmd: s --port ${PORT}\nbackend: vllm\noptions: { warmup: "false" }'), { knownBackends: ['vllm'], pluginOptionSchemas: schemas });
      expect(ok.config.models.m?.options).to.deep.equal({ warmup: false });
    });
    it('options for a plugin without a schema are an error when schemas are given', () => {
      const text = oneModel('cmd: s --port ${PORT}\noptions: { a: 1 }');
      expect(issueLines(text, { knownBackends: ['generic'], pluginOptionSchemas: {} })).to.deep.equal(['models.m.options: backend "generic" takes no options']);
    });
  });

  describe('fixtures', () => {
    it('a file with five different mistakes reports all five with their paths', async () => {
      expect(await fileIssues('five-mistakes.yaml')).to.have.members([
        'healthcheckTimeout: unknown key (did you mean `healthCheckTimeout`?)',
        'models.qwen.cmd: unknown macro ${ctx}',
        'models.qwen.sleep.level: must be 1 or 2',
        'models.qwen.idle[1].after: must be a duration: seconds as a number, or a string such as "500ms", "90s", "5m", "1.5h"',
        'groups.gpu.members[1]: unknown model "lama" (did you mean `llama`?)',
      ]).and.to.have.length(5);
    });

    it('a YAML syntax error is reported with line and column', async () => {
      const issues = await fileIssues('yaml-syntax-error.yaml');
      expect(issues).to.have.length.greaterThan(0);
      expect(issues[0]).to.match(/^line \d+, column \d+: YAML syntax error: /);
      expect(issues[0]).to.match(/^line 5, column 3:/);
    });

    it('a missing file is one clear problem', async () => {
      const issues = await fileIssues('does-not-exist.yaml');
      expect(issues).to.have.length(1);
      expect(issues[0]).to.match(/cannot read the config file: ENOENT/);
    });

    it('ConfigError lists every issue, one per line, as path: message', async () => {
      try {
        await loadConfigFile(path.join(FIXTURES, 'five-mistakes.yaml'), { env: {} });
        expect.fail('should throw');
      } catch (error) {
        expect(error).to.be.instanceOf(ConfigError);
        const lines = (error as ConfigError).message.split('\n');
        expect(lines[0]).to.match(/five-mistakes\.yaml \(5 problems\):$/);
        expect(lines.slice(1)).to.include('models.qwen.sleep.level: must be 1 or 2');
        expect(lines).to.have.length(6);
      }
    });
  });
});
