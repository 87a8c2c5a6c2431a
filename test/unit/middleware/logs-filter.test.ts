/** Which lines each /logs/stream path follows (pure). */
import { expect } from 'chai';
import { logFilter } from '../../../middleware/logs.js';
import type { LogEntry } from '../../../lib/gateway/model-view.js';

const gateway: LogEntry = { model: null, source: 'gateway', text: 'g', at: 1, seq: 1 };
const echo: LogEntry = { model: 'org/echo', source: 'stdout', text: 'e', at: 2, seq: 2 };
const other: LogEntry = { model: 'other', source: 'stderr', text: 'o', at: 3, seq: 3 };
const resolve = (name: string): string | undefined => ({ 'org/echo': 'org/echo', alias: 'org/echo', other: 'other', proxy: 'proxy-model' })[name];

describe('logs: stream filters (pure)', function () {
  const cases: [string, LogEntry['model'] | undefined, LogEntry[]][] = [
    ['', undefined, [gateway, echo, other]],
    ['proxy', null, [gateway]],
    ['upstream', undefined, [echo, other]],
    ['org/echo', 'org/echo', [echo]],
    ['alias', 'org/echo', [echo]],
  ];
  for (const [name, history, passes] of cases) {
    it(`/logs/stream/${name}`, function () {
      const filter = logFilter(name, resolve)!;
      expect(filter.history).to.equal(history);
      expect([gateway, echo, other].filter((entry) => filter.accepts(entry))).to.deep.equal(passes);
    });
  }

  it('an unknown name follows nothing (404); proxy wins over a model named proxy, as llama-swap', function () {
    expect(logFilter('nope', resolve)).to.equal(null);
    expect(logFilter('proxy', resolve)!.history).to.equal(null);
  });
});
