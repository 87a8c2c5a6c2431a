/** llama-server slot files: the save path from cmd, file names keyed to id + slot + cmd hash, stale files, the check warning. */
import { expect } from 'chai';
import type { ModelConfig } from '../../../lib/config/types.js';
import { BUILTIN_PLUGINS, PluginRegistry, pluginConfigWarnings } from '../../../lib/plugins/registry.js';
import { commandHash, slotFileName, slotOfFile, slotSavePath, slotWarnings, staleFiles } from '../../../lib/plugins/llama-slots.js';

const model = { id: 'qwen/7b', cmd: ['llama-server', '--port', '5801', '--slot-save-path', '/var/slots', '-m', 'q.gguf'], proxy: 'http://127.0.0.1:5801' };

describe('llama-server slot files', function () {
  const paths: [readonly string[], string | null][] = [
    [['llama-server', '--slot-save-path', '/d'], '/d'],
    [['llama-server', '--slot-save-path=/d'], '/d'],
    [['llama-server', '--slot-save-path'], null],
    [['llama-server', '-m', 'x'], null],
  ];
  for (const [cmd, dir] of paths) {
    it(`slotSavePath(${cmd.join(' ')}) = ${dir}`, function () {
      expect(slotSavePath(cmd)).to.equal(dir);
    });
  }

  it('names files siesta-<safe id>-<12 hex>-slot<N>.bin', function () {
    expect(slotFileName(model, 3)).to.match(/^siesta-qwen_7b-[0-9a-f]{12}-slot3\.bin$/);
    expect(slotOfFile(model, slotFileName(model, 3))).to.equal(3);
  });

  it('the hash ignores the port but not any other change of the command', function () {
    const moved = { ...model, cmd: model.cmd.map((arg) => (arg === '5801' ? '5902' : arg)), proxy: 'http://127.0.0.1:5902' };
    expect(commandHash(moved)).to.equal(commandHash(model));
    const changed = { ...model, cmd: [...model.cmd, '-c', '1024'] };
    expect(commandHash(changed)).to.not.equal(commandHash(model));
    expect(slotOfFile(changed, slotFileName(model, 0))).to.equal(null);
    expect(commandHash({ ...model, id: 'other' })).to.not.equal(commandHash(model));
  });

  it('stale files: this model\'s files not kept; never another model\'s', function () {
    const current = slotFileName(model, 0);
    const old = 'siesta-qwen_7b-0123456789ab-slot0.bin';
    const other = slotFileName({ ...model, id: 'qwen/7b-chat' }, 0);
    expect(staleFiles(model, [current, old, other, 'notes.txt'], new Set([current]))).to.deep.equal([old]);
  });

  it('warns when saveSlots is on and --slot-save-path is missing', function () {
    const base = { ...model, cmd: ['llama-server'], options: { saveSlots: true } } as unknown as ModelConfig;
    expect(slotWarnings(base)).to.deep.equal([{ path: 'models.qwen/7b.options.saveSlots', message: "needs --slot-save-path DIR in the model's cmd (siesta does not add it); prompt caches are not saved" }]);
    expect(slotWarnings({ ...base, cmd: model.cmd })).to.deep.equal([]);
    expect(slotWarnings({ ...base, options: {} })).to.deep.equal([]);
  });
});

describe('pluginConfigWarnings', function () {
  it('collects the warnings of each model\'s plugin', function () {
    const bad = { ...model, backend: 'llama-server', cmd: ['llama-server'], options: { saveSlots: true } } as unknown as ModelConfig;
    const fine = { ...bad, id: 'ok', options: {} } as ModelConfig;
    const registry = new PluginRegistry(BUILTIN_PLUGINS);
    expect(pluginConfigWarnings([bad, fine], registry).map((warning) => warning.path)).to.deep.equal(['models.qwen/7b.options.saveSlots']);
  });
});
