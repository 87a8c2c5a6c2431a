import { expect } from 'chai';
import joi from 'joi';
import path from 'node:path';
import { ConfigError, loadConfigFile } from '../../../lib/config/index.js';
import { issueLines, load, oneModel, warningLines } from './helpers.js';

const FIXTURES = path.resolve(import.meta.dirname, '../../fixtures/config');

async function fileIssues(name: string, strict = false): Promise<string[]> {
  try {
    await loadConfigFile(path.join(FIXTURES, name), { env: {}, strict });
  } catch (error) {
    if (error instanceof ConfigError) return error.issues.map((issue) => `${issue.path}: ${issue.message}`);
    throw error;
  }
  throw new Error(`${name} loaded`);
}

describe('config problems', () => {
  describe('unknown keys (llama-swap loads them: warnings; --strict: problems)', () => {
    const unknown: [string, string, string][] = [
      ['global typo, case-insensitive', 'healthcheckTimeout: 60', 'healthcheckTimeout: unknown key, ignored (did you mean `healthCheckTimeout`?)'],
      ['global typo', 'startPrt: 1', 'startPrt: unknown key, ignored (did you mean `startPort`?)'],
      ['global, nothing close', 'frobnicate: 1', 'frobnicate: unknown key, ignored'],
      ['real users: listen', 'listen: ":8080"', 'listen: unknown key, ignored'],
      ['real users: top-level metadata', 'metadata: { owner: me }', 'metadata: unknown key, ignored'],
      ['real users: defs holding anchors', 'defs:\n  base: &base { ttl: 60 }', 'defs: unknown key, ignored'],
      ['model typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    aliasses: [x]', 'models.m.aliasses: unknown key, ignored (did you mean `aliases`?)'],
      ['real users: tools per model', 'models:\n  m:\n    cmd: s --port ${PORT}\n    tools: true', 'models.m.tools: unknown key, ignored'],
      ['real users: per-model healthCheckTimeout', 'models:\n  m:\n    cmd: s --port ${PORT}\n    healthCheckTimeout: 600', 'models.m.healthCheckTimeout: ignored per model, as in llama-swap: the global healthCheckTimeout applies to every model'],
      ['model key in snake case', 'models:\n  m:\n    cmd: s --port ${PORT}\n    check_endpoint: /x', 'models.m.check_endpoint: unknown key, ignored (did you mean `checkEndpoint`?)'],
      ['filters typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    filters: { stripParam: x }', 'models.m.filters.stripParam: unknown key, ignored (did you mean `stripParams`?)'],
      ['group typo', 'groups:\n  g: { member: [m] }', 'groups.g.member: unknown key, ignored (did you mean `members`?)'],
      ['sleep typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    sleep: { levle: 2 }', 'models.m.sleep.levle: unknown key, ignored (did you mean `level`?)'],
      ['idle step typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    idle: [{ after: 5m, do: sleep }, { after: 6m, do: stop, levl: 1 }]', 'models.m.idle[1].levl: unknown key, ignored (did you mean `level`?)'],
      ['endpoint step typo', 'models:\n  m:\n    cmd: s --port ${PORT}\n    sleepMode: enable\n    sleepEndpoints: [{ endpoint: /s, methd: POST }]\n    wakeEndpoints: [{ endpoint: /w }]', 'models.m.sleepEndpoints[0].methd: unknown key, ignored (did you mean `method`?)'],
      ['resources typo', 'resources: { vrma: 1GiB }', 'resources.vrma: unknown key, ignored (did you mean `vram`?)'],
    ];
    for (const [name, yaml, expected] of unknown) {
      const text = yaml.includes('models:') ? yaml : `${yaml}\nmodels:\n  m:\n    cmd: s --port \${PORT}\n`;
      it(`warning: ${name}`, () => {
        expect(warningLines(text)).to.include(expected);
      });
      it(`--strict refuses: ${name}`, () => {
        expect(issueLines(text, { strict: true })).to.include(expected);
      });
    }

    it('keys of llama-swap HEAD load: UI-only keys silently, hooks siesta lacks with a warning', async () => {
      const loaded = await loadConfigFile(path.join(FIXTURES, 'newer-llama-swap.yaml'), { env: {} });
      expect(loaded.warnings.map((w) => `${w.path}: ${w.message}`)).to.deep.equal([
        'hooks.on_startup.warmup: unknown hook, ignored (hooks.on_startup.preload is the only hook)',
        'hooks.on_shutdown: unknown hook, ignored (hooks.on_startup.preload is the only hook)',
      ]);
      const { config } = loaded;
      expect(config.preload).to.deep.equal(['a']);
      expect(config.logToStdout).to.equal('both');
      expect(config.logTimeFormat).to.equal('rfc3339');
      expect(config.peers.openrouter).to.include({ proxy: 'https://openrouter.ai/api', apiKey: 'sk-test' });
      expect(config.profiles.coding?.pins).to.deep.equal({ 'gpt-4o': 'a' });
      expect(config.upstreamIgnorePaths).to.deep.equal(['\\.png$']);
      const a = config.models.a;
      expect(a?.priority).to.equal(5);
      expect(a?.timeouts).to.include({ connectMs: 30_000, responseHeaderMs: 120_000, idleConnMs: 90_000 });
      expect(a?.capabilities).to.deep.equal({ in: ['text', 'image'], out: ['text'], tools: true, reranker: false, context: 32768 });
      expect(a?.ignoreWebsockets).to.equal(true);
      expect(a?.filters.setParamsByID).to.deep.equal({ 'a:high': { reasoning_effort: 'high' } });
      expect(a?.aliases).to.deep.equal(['a:high']);
    });

    it('alias objects: name and unlisted are warnings', () => {
      const loaded = load(oneModel('cmd: s --port ${PORT}\naliases: [{ id: a, name: A, unlisted: true }]'));
      expect(loaded.warnings.map((w) => w.path)).to.deep.equal(['models.m.aliases[0].name', 'models.m.aliases[0].unlisted']);
      expect(loaded.config.models.m?.aliases).to.deep.equal(['a']);
    });
  });

  describe('values and cross-checks', () => {
    const cases: [string, string, string[]][] = [
      ['sleep level', oneModel('cmd: s --port ${PORT}\nsleep: { level: 3 }'), ['models.m.sleep.level: must be 1 or 2']],
      ['cmd missing, default proxy', oneModel('name: x'), ['models.m.proxy: the default proxy http://localhost:${PORT} needs ${PORT} in cmd: use ${PORT} in cmd, or set proxy to the server\'s URL']],
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
      ['sleepEndpoints without wakeEndpoints', oneModel('cmd: s --port ${PORT}\nsleepMode: enable\nsleepEndpoints: [{ endpoint: /sleep }]'), ['models.m.wakeEndpoints: is required when sleepEndpoints is set']],
      ['llmsnap: sleepMode enable without any recipe', oneModel('cmd: s --port ${PORT}\nsleepMode: enable'), [
        "models.m.sleepEndpoints: required when sleepMode is 'enable' (or name a backend with a sleep recipe, e.g. backend: vllm)",
        "models.m.wakeEndpoints: required when sleepMode is 'enable'",
      ]],
      ['bad endpoint method', oneModel('cmd: s --port ${PORT}\nsleepMode: enable\nsleepEndpoints: [{ endpoint: /s, method: FETCH }]\nwakeEndpoints: [{ endpoint: /w }]'), ['models.m.sleepEndpoints[0].method: must be GET, POST, PUT, PATCH or DELETE']],
      ['sleepMode', oneModel('cmd: s --port ${PORT}\nsleepMode: sometimes'), ['models.m.sleepMode: must be enable or disable']],
      ['logFormat', `logFormat: xml\n${oneModel('cmd: s --port ${PORT}')}`, ['logFormat: must be text or json']],
      ['startPort', `startPort: 70000\n${oneModel('cmd: s --port ${PORT}')}`, ['startPort: must be less than or equal to 65535']],
      ['env entry without =', oneModel('cmd: s --port ${PORT}\nenv: ["JUSTNAME"]'), ['models.m.env[0]: must be NAME=value']],
      ['proxy not a URL', oneModel('cmd: s --port 1\nproxy: "not a url"'), ['models.m.proxy: is not a valid URL: not a url']],
      ['not a mapping', '- a\n- b\n', ['must be a mapping']],
      ['api key with a space', `apiKeys: ["a b"]\n${oneModel('cmd: s --port ${PORT}')}`, ['apiKeys[0]: must not contain spaces']],
      ['unset env in apiKeys', `apiKeys: ["\${env.KEY}"]\n${oneModel('cmd: s --port ${PORT}')}`, ['apiKeys[0]: environment variable KEY is not set']],
      ['alias used twice', 'models:\n  a: { cmd: "s --port ${PORT}", aliases: [x] }\n  b: { cmd: "s --port ${PORT}", aliases: [x] }\n', ['models.b.aliases[0]: duplicate alias "x": already an alias of model a']],
      ['model in two groups', 'groups:\n  g: { members: [a] }\n  h: { members: [a] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['groups.h.members[0]: model member a is used in multiple groups: g and h']],
      ['member listed twice', 'groups:\n  g: { members: [a, a] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['groups.g.members[1]: duplicate model member a found in group: g']],
      ['setParamsByID key that is another model', 'models:\n  a: { cmd: "s --port ${PORT}", filters: { setParamsByID: { b: { x: 1 } } } }\n  b: { cmd: "s --port ${PORT}" }\n', ['models.a.filters.setParamsByID.b: key "b" conflicts with an existing model ID']],
      ['setParamsByID key that is another model\'s alias', 'models:\n  a: { cmd: "s --port ${PORT}", filters: { setParamsByID: { x: { y: 1 } } } }\n  b: { cmd: "s --port ${PORT}", aliases: [x] }\n', ['models.a.filters.setParamsByID.x: duplicate alias "x", already used by model b']],
      ['both legacy groups and routing.router', 'groups: { g: { members: [a] } }\nrouting: { router: { use: group } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ["routing.router: config uses both the legacy top-level 'matrix'/'groups' keys and the new 'routing.router' block; migrate the top-level keys into 'routing.router' and remove them"]],
      ['unknown router', 'routing: { router: { use: lru } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['routing.router.use: unknown router "lru" (valid: group, matrix)']],
      ['unknown scheduler', 'routing: { scheduler: { use: lifo } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['routing.scheduler.use: unknown scheduler "lifo" (valid: fifo)']],
      ['priority of an unknown model', 'routing: { scheduler: { settings: { fifo: { priority: { b: 1 } } } } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['routing.scheduler.settings.fifo.priority.b: references unknown model "b"']],
      ['peer without models', 'peers: { p: { proxy: "http://h:1" } }\n', ['peers.p.models: peer models can not be empty']],
      ['peer without proxy', 'peers: { p: { models: [x] } }\n', ['peers.p.proxy: is required']],
      ['legacy list profile', 'profiles: { p: [a] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['profiles.p: profile must be a mapping with description and pins; the legacy list syntax is no longer supported']],
      ['profile pin to an unknown model', 'profiles: { p: { pins: { x: b } } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['profiles.p.pins.x: references unknown model "b"']],
      ['selector without strategy', 'selectors: { s: { targets: [a] } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['selectors.s.strategy: is required (warm, pin or spillover)']],
      ['selector chaining', 'selectors: { s: { strategy: pin, targets: [t] }, t: { strategy: pin, targets: [a] } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['selectors.s.targets[0]: references selector "t"; selector chaining is not supported']],
      ['warm selector on a peer model', 'peers: { p: { proxy: "http://h:1", models: [x] } }\nselectors: { s: { strategy: warm, targets: [p/x] } }\n', ['selectors.s.targets[0]: must resolve to a local model for strategy "warm"']],
      ['spillover targets that swap', 'selectors: { s: { strategy: spillover, targets: [a, b] } }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n  b: { cmd: "s --port ${PORT}" }\n', ['selectors.s.targets: spillover targets must share a group with swap: false']],
      ['peer model name taken by a model id', 'peers: { p: { proxy: "http://h:1", models: [x] } }\nmodels:\n  p/x: { cmd: "s --port ${PORT}" }\n', ['models.p/x: model ID "p/x" conflicts with fully qualified peer model name']],
      ['bad ignorePaths regex', 'upstream: { ignorePaths: ["(a"] }\n', ['upstream.ignorePaths[0]: invalid regular expression "(a": Invalid regular expression: /(a/: Unterminated group']],
      ['trustedProxies entry', `trustedProxies: [10.0.0.0/33, proxy.local]\n${oneModel('cmd: s --port ${PORT}')}`, ['trustedProxies[0]: "10.0.0.0/33" is not an IP address or a CIDR range (such as 10.0.0.0/8)', 'trustedProxies[1]: "proxy.local" is not an IP address or a CIDR range (such as 10.0.0.0/8)']],
      ['capabilities modality', oneModel('cmd: s --port ${PORT}\ncapabilities: { in: [smell] }'), ['models.m.capabilities.in[0]: invalid modality "smell", must be one of: text, audio, image']],
      ['reserved group id', 'groups:\n  "(default)": { members: [a] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n', ['groups.(default): (default) is reserved for models that are in no group']],
    ];
    for (const [name, yaml, expected] of cases) {
      it(name, () => {
        expect(issueLines(yaml)).to.deep.equal(expected);
      });
    }

    // What llama-swap loads (and silently drops or defers to run time) loads here, with a warning.
    const warned: [string, string, string[]][] = [
      ['cmd missing, proxy given', oneModel('proxy: http://h:1'), ['models.m.cmd: is not set: this model cannot be started (requests for it will fail)']],
      ['cmd empty after comments', oneModel('cmd: |\n  # only a comment\nproxy: http://h:1'), ['models.m.cmd: is empty (only comments or blanks): this model cannot be started']],
      ['unknown logLevel', `logLevel: loud\n${oneModel('cmd: s --port ${PORT}')}`, ['logLevel: unknown level "loud": info is used (debug, info, warn, error)']],
      ['no models', 'logLevel: info\n', ['models: no models and no peers: nothing to serve']],
      ['empty models', 'models: {}\n', ['models: no models and no peers: nothing to serve']],
      ['empty file', '', ['models: no models and no peers: nothing to serve']],
      ['peers only', 'peers: { p: { proxy: "http://h:1", models: [x] } }\n', []],
      ['llmsnap: sleepEndpoints without sleepMode (default disable)', oneModel('cmd: s --port ${PORT}\nsleepEndpoints: [{ endpoint: /sleep }]\nwakeEndpoints: [{ endpoint: /wake }]'), [
        "models.m.sleepMode: is not set, and llmsnap's default is disable: this model is stopped, not slept; add sleepMode: enable to use its sleepEndpoints",
      ]],
      ['alias clashes with a model id', 'models:\n  a: { cmd: "s --port ${PORT}", aliases: [b] }\n  b: { cmd: "s --port ${PORT}" }\n', ['models.a.aliases[0]: "b" is the id of another model, which takes precedence; ignored']],
      ['unknown group member', 'groups:\n  g: { members: [lama] }\nmodels:\n  llama: { cmd: "s --port ${PORT}" }\n', ['groups.g.members[0]: "lama" is not a model; ignored (did you mean `llama`?)']],
      ['group member given as an alias', 'groups:\n  g: { members: [l] }\nmodels:\n  llama: { cmd: "s --port ${PORT}", aliases: [l] }\n', ['groups.g.members[0]: "l" is an alias; groups match model ids, so it has no effect (use "llama")']],
      ['preload of an unknown model', 'hooks: { on_startup: { preload: [qwne] } }\nmodels:\n  qwen: { cmd: "s --port ${PORT}" }\n', ['hooks.on_startup.preload[0]: "qwne" is not a model; ignored (did you mean `qwen`?)']],
      ['two models on one port that could run together', 'groups:\n  g: { swap: false, members: [a, b] }\nmodels:\n  a: { cmd: "s --port 9000", proxy: "http://127.0.0.1:9000" }\n  b: { cmd: "s --port 9000", proxy: "http://localhost:9000" }\n', ['models.b.proxy: port 9000 is also used by model a, and both could run at the same time: the second one to start will fail (put them in one group with swap: true, or use ${PORT})']],
      ['a fixed port clashing with an allocated one', 'groups:\n  g: { swap: false, members: [a, b, c] }\nmodels:\n  a: { cmd: "s --port ${PORT}" }\n  b: { cmd: "s", proxy: "http://127.0.0.1:5800" }\n  c: { cmd: "s --port ${PORT}" }\n', ['models.b.proxy: port 5800 is also used by model a, and both could run at the same time: the second one to start will fail (put them in one group with swap: true, or use ${PORT})']],
    ];
    for (const [name, yaml, expected] of warned) {
      it(`loads with a warning: ${name}`, () => {
        expect(warningLines(yaml)).to.deep.equal(expected);
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
      // Three are problems; two are warnings that llama-swap would not even mention, which --strict reports.
      expect(await fileIssues('five-mistakes.yaml')).to.have.members([
        'models.qwen.cmd: unknown macro ${ctx}',
        'models.qwen.sleep.level: must be 1 or 2',
        'models.qwen.idle[1].after: must be a duration: seconds as a number, or a string such as "500ms", "90s", "5m", "1.5h"',
      ]).and.to.have.length(3);
      expect(await fileIssues('five-mistakes.yaml', true)).to.have.members([
        'healthcheckTimeout: unknown key, ignored (did you mean `healthCheckTimeout`?)',
        'models.qwen.cmd: unknown macro ${ctx}',
        'models.qwen.sleep.level: must be 1 or 2',
        'models.qwen.idle[1].after: must be a duration: seconds as a number, or a string such as "500ms", "90s", "5m", "1.5h"',
        'groups.gpu.members[1]: "lama" is not a model; ignored (did you mean `llama`?)',
      ]).and.to.have.length(5);
    });

    it('a YAML syntax error is reported with line and column', async () => {
      const issues = await fileIssues('yaml-syntax-error.yaml');
      expect(issues).to.have.length.greaterThan(0);
      expect(issues[0]).to.match(/^line \d+, column \d+: YAML syntax error: /);
      expect(issues[0]).to.match(/^line 5, column 3:/);
    });

    it('a YAML alias bomb is one clear problem, not a crash', () => {
      const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
      let previous = 'a';
      for (const name of 'bcdefghi') {
        lines.push(`${name}: &${name} [${Array.from({ length: 9 }, () => `*${previous}`).join(',')}]`);
        previous = name;
      }
      expect(issueLines(lines.join('\n'))).to.deep.equal([
        'YAML aliases expand too far (more than 1000 alias uses): Excessive alias count indicates a resource exhaustion attack',
      ]);
    });

    it('a missing file is one clear problem', async () => {
      const issues = await fileIssues('does-not-exist.yaml');
      expect(issues).to.have.length(1);
      expect(issues[0]).to.match(/cannot read the config file: ENOENT/);
    });

    it('ConfigError lists every issue, one per line, as path: message', async () => {
      try {
        await loadConfigFile(path.join(FIXTURES, 'five-mistakes.yaml'), { env: {}, strict: true });
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
