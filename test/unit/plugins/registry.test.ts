import { expect } from 'chai';
import Joi from 'joi';
import { BUILTIN_PLUGINS, PluginLoadError, validatePlugin } from '../../../lib/plugins/registry.js';

const step = { endpoint: '/pause' };
const minimal = { name: 'pauser', apiVersion: 1 };

interface Row {
  readonly name: string;
  readonly candidate: unknown;
  /** Substrings, one per expected problem, in order; empty = valid. */
  readonly problems: readonly string[];
}

const rows: readonly Row[] = [
  { name: 'minimal plugin (name + apiVersion)', candidate: minimal, problems: [] },
  {
    name: 'complete plugin',
    candidate: {
      ...minimal,
      description: 'd',
      optionsSchema: Joi.object({ x: Joi.number() }),
      defaults: { env: { A: '1' }, checkEndpoint: '/ready' },
      sleepLevels: { 1: { name: 'pause', sleep: [step], wake: [{ endpoint: '/resume', method: 'PUT', body: '{}', timeoutMs: 100 }] } },
      isAsleep: () => Promise.resolve(true),
      warmup: () => Promise.resolve(),
      sleepsBySelf: false,
    },
    problems: [],
  },
  { name: 'loadingStatuses (deprecated, ignored) still loads, as plugins written for earlier versions', candidate: { ...minimal, loadingStatuses: [503] }, problems: [] },
  { name: 'sleep recipe with an empty wake list is allowed', candidate: { ...minimal, sleepLevels: { 1: { name: 'p', sleep: [step], wake: [] } } }, problems: [] },
  { name: 'not an object', candidate: 'vllm', problems: ['value must be of type object'] },
  { name: 'missing name', candidate: { apiVersion: 1 }, problems: ['name is required'] },
  { name: 'missing apiVersion', candidate: { name: 'x' }, problems: ['apiVersion is required'] },
  { name: 'wrong apiVersion', candidate: { name: 'x', apiVersion: 2 }, problems: ['apiVersion must be 1'] },
  { name: 'upper-case name', candidate: { ...minimal, name: 'Pauser' }, problems: ['name with value Pauser fails to match'] },
  { name: 'unknown key (typo)', candidate: { ...minimal, sleepLevel: {} }, problems: ['sleepLevel is not allowed'] },
  { name: 'sleep level without wake', candidate: { ...minimal, sleepLevels: { 1: { name: 'p', sleep: [step] } } }, problems: ['sleepLevels.1.wake is required'] },
  { name: 'sleep level without sleep steps', candidate: { ...minimal, sleepLevels: { 1: { name: 'p', sleep: [], wake: [] } } }, problems: ['sleepLevels.1.sleep must contain at least 1 items'] },
  { name: 'sleep level 0', candidate: { ...minimal, sleepLevels: { 0: { name: 'p', sleep: [step], wake: [] } } }, problems: ['0 is not allowed'] },
  { name: 'step endpoint without a leading slash', candidate: { ...minimal, sleepLevels: { 1: { name: 'p', sleep: [{ endpoint: 'pause' }], wake: [] } } }, problems: ['sleepLevels.1.sleep[0].endpoint with value pause fails to match'] },
  { name: 'step body that is not a string', candidate: { ...minimal, sleepLevels: { 1: { name: 'p', sleep: [{ endpoint: '/p', body: { a: 1 } }], wake: [] } } }, problems: ['sleepLevels.1.sleep[0].body must be a string'] },
  { name: 'isAsleep that is not a function', candidate: { ...minimal, isAsleep: true }, problems: ['isAsleep must be of type function'] },
  { name: 'optionsSchema that is not a joi schema', candidate: { ...minimal, optionsSchema: { x: 'number' } }, problems: ['optionsSchema must be a Joi schema'] },
  { name: 'env default that is not a string', candidate: { ...minimal, defaults: { env: { A: 1 } } }, problems: ['defaults.env.A must be a string'] },
  { name: 'every problem is listed, not only the first', candidate: { apiVersion: 3, isAsleep: 1 }, problems: ['name is required', 'apiVersion must be 1', 'isAsleep must be of type function'] },
];

describe('validatePlugin', function () {
  for (const row of rows) {
    it(row.name, function () {
      const problems = validatePlugin(row.candidate);
      expect(problems, problems.join('; ')).to.have.length(row.problems.length);
      row.problems.forEach((expected, index) => expect(problems[index]).to.include(expected));
    });
  }

  it('accepts every built-in plugin', function () {
    expect(BUILTIN_PLUGINS.map((plugin) => plugin.name)).to.deep.equal(['generic', 'vllm', 'llama-server', 'sglang']);
    for (const plugin of BUILTIN_PLUGINS) expect(validatePlugin(plugin), plugin.name).to.deep.equal([]);
  });
});

describe('PluginLoadError', function () {
  it('lists every file with its reason', function () {
    const error = new PluginLoadError([
      { file: '/p/a.ts', reason: 'apiVersion is required' },
      { file: '/p/b.ts', reason: 'failed to load: Unexpected token' },
    ]);
    expect(error.name).to.equal('PluginLoadError');
    expect(error.message).to.equal('cannot load plugins:\n  /p/a.ts: apiVersion is required\n  /p/b.ts: failed to load: Unexpected token');
    expect(error.problems).to.have.length(2);
  });
});
