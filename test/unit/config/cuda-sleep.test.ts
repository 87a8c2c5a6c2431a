/** sleep.method and the global cudaCheckpoint.path (lib/config/resolve-sleep.ts). */
import { expect } from 'chai';
import { loadConfigText } from '../../../lib/config/index.js';

const yaml = (model: string, global = ''): string => `${global}models:\n  m:\n    cmd: server --port \${PORT}\n${model}`;

describe('config: sleep.method cuda-checkpoint', function () {
  it('enables sleep whatever sleepMode defaults to, with the binary found on PATH by default', function () {
    const { config } = loadConfigText(yaml('    sleep: { method: cuda-checkpoint }\n'));
    expect(config.models.m?.sleep).to.deep.equal({ enabled: true, level: 1, method: 'cuda-checkpoint', checkpointBinary: 'cuda-checkpoint' });
  });

  it('takes the global cudaCheckpoint.path; sleepMode: disable still wins, with a warning', function () {
    const loaded = loadConfigText(yaml('    sleepMode: disable\n    sleep: { method: cuda-checkpoint }\n', 'cudaCheckpoint: { path: /opt/nv/cuda-checkpoint }\n'));
    expect(loaded.config.models.m?.sleep).to.deep.equal({ enabled: false, level: 1, method: 'cuda-checkpoint', checkpointBinary: '/opt/nv/cuda-checkpoint' });
    expect(loaded.warnings.map((warning) => warning.path)).to.include('models.m.sleepMode');
  });

  it('refuses an unknown method', function () {
    expect(() => loadConfigText(yaml('    sleep: { method: criu }\n'))).to.throw(/must be http or cuda-checkpoint/);
  });

  it('a model without a method keeps the old shape', function () {
    const { config } = loadConfigText(yaml('    sleep: { level: 2 }\n'));
    expect(config.models.m?.sleep).to.deep.equal({ enabled: true, level: 2 });
  });
});
