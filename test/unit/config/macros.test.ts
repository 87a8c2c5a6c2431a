import { expect } from 'chai';
import {
  expandMacros,
  expandMacrosTyped,
  findMacroReferences,
  mergeMacroDefinitions,
  resolveMacroDefinitions,
} from '../../../lib/config/index.js';
import type { ModelConfig } from '../../../lib/config/index.js';
import { issueLines, load } from './helpers.js';

describe('macros', () => {
  describe('the pure expander', () => {
    const values = new Map<string, string | number | boolean>([['a', 'A'], ['n', 4096], ['b', true]]);
    const cases: [string, string, string, string[]][] = [
      ['user macros', 'x ${a} ${n} ${b}', 'x A 4096 true', []],
      ['environment', '${env.HOME}/models', '/home/u/models', []],
      ['unset environment is left and reported', '${env.NOPE}', '${env.NOPE}', ['NOPE']],
      ['unknown, PORT and PID are left alone', '${zzz} ${PORT} ${PID}', '${zzz} ${PORT} ${PID}', []],
      ['inserted text is not expanded again', '${self}', '${a}', []],
      ['$NAME without braces is plain text', '$a $HOME', '$a $HOME', []],
    ];
    for (const [name, input, text, missingEnv] of cases) {
      it(name, () => {
        const withSelf = new Map(values).set('self', '${a}');
        expect(expandMacros(input, withSelf, { HOME: '/home/u' })).to.deep.equal({ text, missingEnv });
      });
    }

    it('keeps the type of a string that is exactly one macro', () => {
      expect(expandMacrosTyped('${n}', values, {}).value).to.equal(4096);
      expect(expandMacrosTyped('${b}', values, {}).value).to.equal(true);
      expect(expandMacrosTyped('n=${n}', values, {}).value).to.equal('n=4096');
    });

    it('finds references in order', () => {
      expect(findMacroReferences('${a} x ${env.B} ${PORT}')).to.deep.equal(['a', 'env.B', 'PORT']);
    });

    it('merges per-model definitions over global ones in place', () => {
      const merged = mergeMacroDefinitions(
        [{ name: 'a', value: 1, path: 'macros.a' }, { name: 'b', value: 2, path: 'macros.b' }],
        [{ name: 'c', value: 3, path: 'models.m.macros.c' }, { name: 'a', value: 9, path: 'models.m.macros.a' }],
      );
      expect(merged.map((entry) => [entry.name, entry.value])).to.deep.equal([['a', 9], ['b', 2], ['c', 3]]);
    });

    it('resolves definitions in order with the builtins', () => {
      const resolved = resolveMacroDefinitions(
        [
          { name: 'dir', value: '/m/${MODEL_ID}', path: 'macros.dir' },
          { name: 'args', value: '--model ${dir} --port ${PORT}', path: 'macros.args' },
        ],
        new Map([['MODEL_ID', 'qwen']]),
        {},
      );
      expect(resolved.issues).to.deep.equal([]);
      expect(resolved.values.get('args')).to.equal('--model /m/qwen --port ${PORT}');
    });
  });

  describe('in the loader', () => {
    const argvOf = (yaml: string, env: Record<string, string> = {}) => (load(yaml, { env }).config.models.m as ModelConfig).cmd;

    it('expands global macros, MODEL_ID and PORT in cmd', () => {
      const yaml = 'macros:\n  bin: /opt/llama-server\nmodels:\n  m:\n    cmd: ${bin} --port ${PORT} --alias ${MODEL_ID}\n';
      expect(argvOf(yaml)).to.deep.equal(['/opt/llama-server', '--port', '5800', '--alias', 'm']);
    });

    it('a macro may use earlier macros, and a value with blanks splits into several words', () => {
      const yaml = 'macros:\n  ctx: 4096\n  args: "--ctx-size ${ctx}"\nmodels:\n  m:\n    cmd: s ${args} --port ${PORT}\n';
      expect(argvOf(yaml)).to.deep.equal(['s', '--ctx-size', '4096', '--port', '5800']);
    });

    it('a per-model macro overrides the global one, also inside global macros that use it', () => {
      const yaml = [
        'macros:',
        '  ctx: 4096',
        '  args: "--ctx-size ${ctx}"',
        'models:',
        '  m:',
        '    macros: { ctx: 16384, extra: "-ngl ${ctx}" }',
        '    cmd: s ${args} ${extra} --port ${PORT}',
      ].join('\n');
      expect(argvOf(yaml)).to.deep.equal(['s', '--ctx-size', '16384', '-ngl', '16384', '--port', '5800']);
    });

    it('macros may contain ${PORT} (expanded after the user macros)', () => {
      const yaml = 'macros:\n  srv: "llama-server --port ${PORT}"\nmodels:\n  m:\n    cmd: ${srv} -m x\n';
      const { config } = load(yaml);
      expect(config.models.m?.cmd).to.deep.equal(['llama-server', '--port', '5800', '-m', 'x']);
      expect(config.models.m?.proxy).to.equal('http://localhost:5800');
    });

    it('${env.NAME} reads the given environment', () => {
      const yaml = 'macros:\n  dir: ${env.MODELS}\nmodels:\n  m:\n    cmd: s --port ${PORT} -m ${dir}/x.gguf --key ${env.KEY}\n';
      expect(argvOf(yaml, { MODELS: '/data', KEY: 'k 1' })).to.deep.equal(['s', '--port', '5800', '-m', '/data/x.gguf', '--key', 'k', '1']);
    });

    it('allocates ${PORT} in sorted id order, only to models whose cmd uses it', () => {
      const yaml = [
        'startPort: 7000',
        'models:',
        '  zeta: { cmd: "s --port ${PORT}" }',
        '  alpha: { cmd: "s --port ${PORT}" }',
        '  fixed: { cmd: "s --port 9999", proxy: "http://127.0.0.1:9999" }',
        '  beta: { cmd: "s --port ${PORT}" }',
      ].join('\n');
      const { config } = load(yaml);
      expect(Object.fromEntries(Object.values(config.models).map((m) => [m.id, m.port]))).to.deep.equal({ alpha: 7000, beta: 7001, fixed: null, zeta: 7002 });
    });

    it('expands macros in every field that takes them', () => {
      const yaml = [
        'macros:',
        '  host: 127.0.0.1',
        '  temp: 0.7',
        'models:',
        '  m:',
        '    cmd: s --port ${PORT}',
        '    cmdStop: stop ${MODEL_ID} ${PID}',
        '    proxy: http://${host}:${PORT}',
        '    checkEndpoint: /health?m=${MODEL_ID}',
        '    env: ["DIR=/x/${MODEL_ID}"]',
        '    filters:',
        '      stripParams: "top_${temp}"',
        '      setParams: { temperature: "${temp}", tag: "${MODEL_ID}-${temp}" }',
        '    metadata: { port: "${PORT}", note: "${MODEL_ID} on ${PORT}", list: ["${temp}", "${MODEL_ID}"] }',
        '    sleepEndpoints: [{ endpoint: "/sleep?tag=${MODEL_ID}", body: \'{"port": ${PORT}}\' }]',
        '    wakeEndpoints: [{ endpoint: /wake_up }]',
      ].join('\n');
      const m = load(yaml).config.models.m as ModelConfig;
      expect(m.cmdStop).to.deep.equal(['stop', 'm', '${PID}']);
      expect(m.proxy).to.equal('http://127.0.0.1:5800');
      expect(m.checkEndpoint).to.equal('/health?m=m');
      expect(m.env).to.deep.equal({ DIR: '/x/m' });
      expect(m.filters.stripParams).to.deep.equal(['top_0.7']);
      expect(m.filters.setParams).to.deep.equal({ temperature: 0.7, tag: 'm-0.7' });
      expect(m.metadata).to.deep.equal({ port: 5800, note: 'm on 5800', list: [0.7, 'm'] });
      expect(m.sleepEndpoints?.[0]).to.deep.include({ endpoint: '/sleep?tag=m', body: '{"port": 5800}' });
    });

    it('keeps macro definition order for integer-like names', () => {
      const yaml = 'macros:\n  b: x\n  "1": "${b}y"\nmodels:\n  m:\n    cmd: s ${1} --port ${PORT}\n';
      expect(argvOf(yaml)).to.deep.equal(['s', 'xy', '--port', '5800']);
    });

    const errors: [string, string, string[]][] = [
      ['unknown macro in cmd', 'models:\n  m:\n    cmd: s ${nope} --port ${PORT}\n', ['models.m.cmd: unknown macro ${nope}']],
      ['unknown macro in metadata names the nested key', 'models:\n  m:\n    cmd: s --port ${PORT}\n    metadata: { a: { b: "${nope}" } }\n', ['models.m.metadata.a.b: unknown macro ${nope}']],
      ['unset environment variable', 'models:\n  m:\n    cmd: s --port ${PORT} ${env.NOT_SET}\n', ['models.m.cmd: environment variable NOT_SET is not set']],
      ['unset environment variable in a macro', 'macros:\n  d: ${env.NOT_SET}\nmodels:\n  m:\n    cmd: s ${d} --port ${PORT}\n', ['macros.d: environment variable NOT_SET is not set']],
      ['a macro using a later one', 'macros:\n  a: "${b}"\n  b: x\nmodels:\n  m:\n    cmd: s ${a} --port ${PORT}\n', ['macros.a: uses ${b}, which is defined after it (a macro may only use macros defined before it)']],
      ['a macro using an unknown one', 'macros:\n  a: "${zz}"\nmodels:\n  m:\n    cmd: s ${a} --port ${PORT}\n', ['macros.a: uses unknown macro ${zz}']],
      ['self reference', 'macros:\n  a: "x ${a}"\nmodels:\n  m:\n    cmd: s --port ${PORT}\n', ['macros.a: macro refers to itself (${a})']],
      ['reserved PORT', 'macros:\n  PORT: 1\nmodels:\n  m:\n    cmd: s --port 5\n    proxy: http://h:5\n', ['macros.PORT: PORT is reserved and cannot be defined as a macro']],
      ['reserved MODEL_ID per model', 'models:\n  m:\n    macros: { MODEL_ID: x }\n    cmd: s --port ${PORT}\n', ['models.m.macros.MODEL_ID: MODEL_ID is reserved and cannot be defined as a macro']],
      ['reserved PID', 'macros:\n  PID: 1\nmodels:\n  m:\n    cmd: s --port ${PORT}\n', ['macros.PID: PID is reserved and cannot be defined as a macro']],
      ['invalid name', 'macros:\n  "a.b": 1\nmodels:\n  m:\n    cmd: s --port ${PORT}\n', ['macros["a.b"]: macro name may only contain letters, digits, "_" and "-"']],
      ['name too long', `macros:\n  ${'x'.repeat(64)}: 1\nmodels:\n  m:\n    cmd: s --port \${PORT}\n`, [`macros.${'x'.repeat(64)}: macro name is longer than 63 characters`]],
      ['non-scalar value', 'macros:\n  a: [1, 2]\nmodels:\n  m:\n    cmd: s --port ${PORT}\n', ['macros.a: macro value must be a string, number or boolean']],
      ['value too long', `macros:\n  a: "${'v'.repeat(1024)}"\nmodels:\n  m:\n    cmd: s --port \${PORT}\n`, ['macros.a: macro value is longer than 1023 characters']],
      ['${PORT} in proxy but not in cmd', 'models:\n  m:\n    cmd: s --port 8080\n    proxy: http://localhost:${PORT}\n', ['models.m.proxy: uses ${PORT}, but cmd does not; ${PORT} is only allocated for models whose cmd uses it']],
      ['default proxy needs ${PORT} in cmd', 'models:\n  m:\n    cmd: s --port 8080\n', ["models.m.proxy: the default proxy http://localhost:${PORT} needs ${PORT} in cmd: use ${PORT} in cmd, or set proxy to the server's URL"]],
      ['${PID} outside cmdStop', 'models:\n  m:\n    cmd: s --port ${PORT} --parent ${PID}\n', ['models.m.cmd: ${PID} is only available in cmdStop']],
      ['unknown macro in a sleep endpoint', 'models:\n  m:\n    cmd: s --port ${PORT}\n    sleepEndpoints: [{endpoint: "/s?${x}"}]\n    wakeEndpoints: [{endpoint: /w}]\n', ['models.m.sleepEndpoints[0].endpoint: unknown macro ${x}']],
      ['unknown macro in an env value', 'models:\n  m:\n    cmd: s --port ${PORT}\n    env: ["A=${x}"]\n', ['models.m.env[0]: unknown macro ${x}']],
      ['unknown macro in apiKeys', 'apiKeys: ["${x}"]\nmodels:\n  m:\n    cmd: s --port ${PORT}\n', ['apiKeys[0]: unknown macro ${x}']],
    ];
    for (const [name, yaml, expected] of errors) {
      it(`error: ${name}`, () => {
        expect(issueLines(yaml)).to.deep.equal(expected);
      });
    }

    it('a macro problem is reported once, at its definition, not again in each field and model', () => {
      const yaml = 'macros:\n  a: "${zz}"\nmodels:\n  m:\n    cmd: s ${a} --port ${PORT}\n  n:\n    cmd: t ${a} --port ${PORT}\n';
      expect(issueLines(yaml)).to.deep.equal(['macros.a: uses unknown macro ${zz}']);
    });
  });
});
