/**
 * Model output is followed only while someone follows it (lib/gateway/live-feed.ts,
 * model-manager.ts): without a listener on the feed's `log`, no process ring has a `line`
 * listener, so a ring splits its output into lines only when read (lib/process/log-ring.ts).
 */
import { expect } from 'chai';
import { LiveFeed } from '../../../lib/gateway/live-feed.js';
import type { LogEntry } from '../../../lib/gateway/model-view.js';
import type { ModelManager } from '../../../lib/gateway/model-manager.js';
import { LogRing } from '../../../lib/process/log-ring.js';
import { createInMemoryManager, forbidSockets } from '../process/doubles.js';

const YAML = `
logLevel: error
startPort: 5800
models:
  a: { cmd: "server --port \${PORT}" }
  b: { cmd: "server --port \${PORT}" }
`;

describe('log following on demand (live feed → manager → process rings)', function () {
  forbidSockets();
  let manager: ModelManager;
  let dispose: () => Promise<void>;

  beforeEach(function () {
    ({ manager, dispose } = createInMemoryManager(YAML));
  });

  afterEach(async function () {
    await dispose();
  });

  const ringListeners = (): number[] => manager.processes().map((process) => process.logs.listenerCount('line'));

  it('no ring is followed until the feed has a log listener; then each line reaches it, in order; after the last listener leaves, none again', function () {
    const feed = new LiveFeed(new LogRing());
    feed.attach(manager);
    expect(ringListeners()).to.deep.equal([0, 0]);
    // Nobody follows: the output is kept and read later, whole.
    manager.process('a').logs.write('stderr', Buffer.from('before\n'));
    expect(manager.process('a').logs.lines().map((line) => line.text)).to.deep.equal(['before']);

    const seen: LogEntry[] = [];
    const follow = (entry: LogEntry): void => void seen.push(entry);
    feed.on('log', follow);
    expect(ringListeners()).to.deep.equal([1, 1]);
    manager.process('a').logs.write('stderr', Buffer.from('one\ntwo\n'));
    manager.process('b').logs.write('stdout', Buffer.from('three\n'));
    expect(seen.map((entry) => [entry.model, entry.text])).to.deep.equal([['a', 'one'], ['a', 'two'], ['b', 'three']]);

    const second = (): void => undefined;
    feed.on('log', second);
    feed.off('log', follow);
    expect(ringListeners(), 'still followed by the second listener').to.deep.equal([1, 1]);
    feed.off('log', second);
    expect(ringListeners()).to.deep.equal([0, 0]);
  });

  it('a feed attached to a new manager (reload) follows it only if it has log listeners', function () {
    const feed = new LiveFeed(new LogRing());
    const follow = (): void => undefined;
    feed.on('log', follow);
    feed.attach(manager);
    expect(ringListeners()).to.deep.equal([1, 1]);
    feed.off('log', follow);
    expect(ringListeners()).to.deep.equal([0, 0]);
  });
});
