import { expect } from 'chai';
import { checkEndpointOf } from '../../../lib/plugins/defaults.js';
import type { BackendPlugin } from '../../../lib/plugins/types.js';

describe('plugin defaults: checkEndpoint', function () {
  const withDefault = (checkEndpoint: string): Pick<BackendPlugin, 'defaults'> => ({ defaults: { checkEndpoint } });
  const cases: [string, string | null | undefined, Pick<BackendPlugin, 'defaults'>, string | null][] = [
    ['model unset, plugin /ready', undefined, withDefault('/ready'), '/ready'],
    ['model unset, plugin without defaults', undefined, {}, '/health'],
    ['model unset, plugin defaults without checkEndpoint', undefined, { defaults: { env: { A: '1' } } }, '/health'],
    ['model unset, plugin none', undefined, withDefault('none'), null],
    ['model unset, plugin padded', undefined, withDefault(' /ready '), '/ready'],
    ['model set wins', '/v1/models', withDefault('/ready'), '/v1/models'],
    ['model /health wins over the plugin', '/health', withDefault('/ready'), '/health'],
    ['model none wins', null, withDefault('/ready'), null],
  ];
  for (const [name, own, plugin, expected] of cases) {
    it(name, function () {
      expect(checkEndpointOf({ checkEndpoint: own }, plugin)).to.equal(expected);
    });
  }
});
