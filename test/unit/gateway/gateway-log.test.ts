/**
 * logToStdout and logTimeFormat on the gateway's output: which lines go out (a table), how a
 * model's line is written, the copy of the models' lines, and the logger's timestamp prefix.
 */
import { EventEmitter } from 'node:events';
import { expect } from 'chai';
import type { LogToStdout } from '../../../lib/config/types.js';
import { modelOutputLine, pipeModelOutput, stdoutPlan } from '../../../lib/gateway/gateway-log.js';
import type { LogEntry } from '../../../lib/gateway/model-view.js';
import { createLogger } from '../../../lib/logger.js';
import { pollUntil } from '../../helpers/wait.js';

const entry = (model: string | null, source: string, text: string): LogEntry => ({ model, source, text, at: 0, seq: 0 });

describe('gateway-log: logToStdout', function () {
  it('stdoutPlan follows llama-swap’s NewLoggers', function () {
    const table: readonly (readonly [LogToStdout, boolean, boolean])[] = [
      ['proxy', true, false],
      ['upstream', false, true],
      ['both', true, true],
      ['none', false, false],
    ];
    for (const [value, gateway, models] of table) expect(stdoutPlan(value), value).to.deep.equal({ gateway, models });
  });

  it('a model’s own output is written as printed; siesta’s notes on the model name it; gateway lines are not model output', function () {
    expect(modelOutputLine(entry('qwen', 'stdout', 'srv listening on 5800'))).to.equal('srv listening on 5800');
    expect(modelOutputLine(entry('qwen', 'stderr', 'warning: no GPU'))).to.equal('warning: no GPU');
    expect(modelOutputLine(entry('qwen', 'siesta', 'process 12 exited (code 0)'))).to.equal('[qwen siesta] process 12 exited (code 0)');
    expect(modelOutputLine(entry(null, 'gateway', 'info  model ready'))).to.equal(null);
  });

  for (const [value, copied] of [
    ['upstream', true],
    ['both', true],
    ['proxy', false],
    ['none', false],
  ] as const) {
    it(`pipeModelOutput with ${value}: model lines ${copied ? 'copied' : 'not copied'}, gateway lines never, nothing after stop`, function () {
      const feed = new EventEmitter<{ log: [LogEntry] }>();
      const written: string[] = [];
      const stop = pipeModelOutput(feed, value, (text) => written.push(text));
      feed.emit('log', entry('a', 'stdout', 'line one'));
      feed.emit('log', entry(null, 'gateway', 'info  gateway line'));
      stop();
      feed.emit('log', entry('a', 'stdout', 'after stop'));
      expect(written).to.deep.equal(copied ? ['line one\n'] : []);
      expect(feed.listenerCount('log')).to.equal(0);
    });
  }
});

describe('logger: output and logTimeFormat', function () {
  async function firstLine(options: Parameters<typeof createLogger>[0], waitForOutput = true): Promise<{ out: string[]; ring: string[] }> {
    const out: string[] = [];
    const ring: string[] = [];
    const log = createLogger({ ...options, write: (text) => out.push(text), onLine: (line) => ring.push(line) });
    log.info('model ready', { model: 'qwen', ms: 12 });
    await pollUntil(() => ring.length > 0 && (!waitForOutput || out.length > 0), { what: 'the log line' });
    return { out, ring };
  }

  it('text lines carry the logTimeFormat timestamp (kitchen, rfc3339)', async function () {
    const kitchen = await firstLine({ timeFormat: 'kitchen' });
    expect(kitchen.out).to.have.length(1);
    expect(kitchen.out[0]).to.match(/^\d{1,2}:\d{2}[AP]M info {2}model ready model=qwen ms=12\n$/);
    const rfc3339 = await firstLine({ timeFormat: 'RFC3339' });
    expect(rfc3339.out[0]).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2}) info {2}model ready model=qwen ms=12\n$/);
  });

  it('an empty or unknown logTimeFormat means no timestamp at all (as llama-swap)', async function () {
    for (const timeFormat of ['', 'iso']) {
      const { out } = await firstLine({ timeFormat });
      expect(out, timeFormat).to.deep.equal(['info  model ready model=qwen ms=12\n']);
    }
  });

  it('without timeFormat (an embedder’s logger) the line starts with ISO 8601 as before', async function () {
    const { out } = await firstLine({});
    expect(out[0]).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z info {2}model ready/);
  });

  it('the ring (/logs, status page) always gets ISO 8601, whatever the output format', async function () {
    const { ring } = await firstLine({ timeFormat: 'kitchen' });
    expect(ring[0]).to.match(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z info {2}model ready model=qwen ms=12$/);
  });

  it('output: false writes nothing out but still feeds the ring (logToStdout upstream or none)', async function () {
    const { out, ring } = await firstLine({ timeFormat: 'kitchen', output: false }, false);
    expect(ring).to.have.length(1);
    // The ring is fed from the same pipeline as the output, after it: nothing can still be on its way.
    await new Promise((resolve) => setImmediate(resolve));
    expect(out).to.deep.equal([]);
  });
});
