import { expect } from 'chai';
import { leftoverGraceMs } from '../../../lib/gateway/model-manager.js';
import { load } from '../config/helpers.js';

describe('leftoverGraceMs', function () {
  it('gives a configured model its own unloadTimeout and any other model the largest one', function () {
    const { config } = load(`
models:
  a:
    cmd: serve --port \${PORT}
    unloadTimeout: 3
  b:
    cmd: serve --port \${PORT}
    unloadTimeout: 7
`);
    const graceMs = leftoverGraceMs(config);
    expect(['a', 'b', 'gone', 'constructor'].map(graceMs)).to.deep.equal([3000, 7000, 7000, 7000]);
  });

  it('falls back to the default unloadTimeout when no model is configured (a config built in code)', function () {
    const { config } = load('models:\n  a:\n    cmd: serve --port ${PORT}\n');
    expect(leftoverGraceMs({ ...config, models: {} })('gone')).to.equal(10_000);
  });
});
