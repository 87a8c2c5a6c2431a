/** The pure parts of the admin surface, as tables: access rule, possible actions, fallbacks, formatting. */
import { expect } from 'chai';
import { possibleActions } from '../../../lib/gateway/model-view.js';
import { fallbackOf } from '../../../lib/metrics.js';
import type { ModelState } from '../../../lib/process/states.js';
import { adminAccess, isLoopback } from '../../../middleware/admin-auth.js';
import { formatLogEntry } from '../../../middleware/logs.js';
import { slashRedirect, withBase } from '../../../middleware/status-page.js';

describe('admin: pure rules', function () {
  it('adminAccess: keys when configured, else loopback clients only', function () {
    const table: [readonly string[], string | undefined, string | undefined, string][] = [
      [[], undefined, '127.0.0.1', 'allow'],
      [[], undefined, '::1', 'allow'],
      [[], undefined, '::ffff:127.0.0.1', 'allow'],
      [[], undefined, '192.168.1.20', 'remote'],
      [[], 'anything', '10.0.0.5', 'remote'],
      [[], undefined, undefined, 'remote'],
      [['k'], undefined, '127.0.0.1', 'unauthorized'],
      [['k'], 'wrong', '127.0.0.1', 'unauthorized'],
      [['k'], 'k', '10.0.0.5', 'allow'],
      [['a', 'k'], 'k', '127.0.0.1', 'allow'],
    ];
    for (const [keys, presented, address, expected] of table) {
      expect(adminAccess(keys, presented, address), `${JSON.stringify(keys)} ${presented} ${address}`).to.equal(expected);
    }
    expect(isLoopback('127.1.2.3')).to.equal(true);
    expect(isLoopback('::ffff:10.0.0.1')).to.equal(false);
  });

  it('possibleActions: what each state allows', function () {
    const row = (state: ModelState, canSleep: boolean): string =>
      Object.entries(possibleActions(state, canSleep)).filter(([, allowed]) => allowed).map(([action]) => action).join(',');
    const table: [ModelState, boolean, string][] = [
      ['stopped', true, 'load'],
      ['starting', true, 'unload'],
      ['ready', true, 'sleep,unload'],
      ['ready', false, 'unload'],
      ['sleeping', true, 'unload'],
      ['asleep', true, 'wake,unload'],
      ['waking', true, 'unload'],
      ['stopping', true, ''],
      ['shutdown', true, ''],
    ];
    for (const [state, canSleep, expected] of table) expect(row(state, canSleep), `${state} canSleep=${canSleep}`).to.equal(expected);
  });

  it('fallbackOf: failed sleeps and wakes, read from the stopping transition', function () {
    const table: [ModelState, string, string | null][] = [
      ['stopping', 'sleep failed: sleep step POST /sleep?level=1 answered HTTP 500', 'sleep'],
      ['stopped', 'sleep failed: sleep step POST /sleep?level=1 answered HTTP 500', null],
      ['stopping', 'wake failed: backend still reports is_sleeping=true after 10000 ms', 'wake'],
      ['stopping', 'wake for deeper sleep failed: boom', 'wake'],
      ['stopping', 'evicted (cannot sleep)', null],
      ['stopping', 'api', null],
      ['starting', 'cold start after failed wake', null],
    ];
    for (const [to, reason, expected] of table) expect(fallbackOf({ to, reason }), reason).to.equal(expected);
  });

  it('formats log lines and the page URLs (SSE framing: test/unit/http/sse.test.ts)', function () {
    expect(formatLogEntry({ model: null, source: 'gateway', text: '2026-01-01T00:00:00.000Z info  hi', at: 0, seq: 1 })).to.equal('2026-01-01T00:00:00.000Z info  hi\n');
    expect(formatLogEntry({ model: 'm1', source: 'stdout', text: 'hello', at: 0, seq: 1 })).to.equal('1970-01-01T00:00:00.000Z [m1] hello\n');
    expect(formatLogEntry({ model: 'm1', source: 'siesta', text: 'exited', at: 0, seq: 1 })).to.equal('1970-01-01T00:00:00.000Z [m1 siesta] exited\n');
    expect(slashRedirect('/')).to.equal(null);
    expect(slashRedirect('/llm')).to.equal('/llm/');
    expect(slashRedirect('/llm?x=1')).to.equal('/llm/?x=1');
    expect(slashRedirect('/llm/ui')).to.equal('/llm/ui/');
    expect(withBase('<html><head><title>t</title>', '../')).to.equal('<html><head>\n    <base href="../"><title>t</title>');
  });
});
