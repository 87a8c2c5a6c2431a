import { PassThrough, type Readable } from 'node:stream';
import { setImmediate as immediate } from 'node:timers/promises';
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import { pacePipes } from '../../../lib/process/pipe-pacer.js';

/** A stream with a recording stand-in for Node's pipe handle (`_handle`). */
function pipeLike(reading = true): { stream: Readable & { _handle: unknown }; calls: string[]; handle: { reading: boolean } } {
  const calls: string[] = [];
  const handle = {
    reading,
    readStart: () => (calls.push('start'), 0),
    readStop: () => (calls.push('stop'), 0),
  };
  const stream: Readable & { _handle: unknown } = Object.assign(new PassThrough(), { _handle: handle });
  return { stream, calls, handle };
}

describe('pacePipes: a ready child output read on a timer', function () {
  it('stops reading at once, reads for one loop turn every interval, and reads continuously after stop()', async function () {
    const clock = new FakeClock();
    const pipe = pipeLike();
    const pacer = pacePipes([pipe.stream, null], clock, 100);
    expect(pipe.calls).to.deep.equal(['stop']);
    clock.advance(99);
    expect(pipe.calls).to.deep.equal(['stop']);
    clock.advance(1);
    expect(pipe.calls).to.deep.equal(['stop', 'start']);
    await immediate();
    expect(pipe.calls).to.deep.equal(['stop', 'start', 'stop']);
    expect(clock.pending, 'the next read armed').to.equal(1);
    // The stream's own flag is left alone, so Node does not restart reading behind the pacer's back.
    expect(pipe.handle.reading).to.equal(true);
    pacer.stop();
    pacer.stop();
    expect(pipe.calls).to.deep.equal(['stop', 'start', 'stop', 'start']);
    expect(clock.pending).to.equal(0);
  });

  it('stops between a tick and its immediate: reading stays on', async function () {
    const clock = new FakeClock();
    const pipe = pipeLike();
    const pacer = pacePipes([pipe.stream], clock, 100);
    clock.advance(100);
    pacer.stop();
    await immediate();
    expect(pipe.calls).to.deep.equal(['stop', 'start', 'start']);
    expect(clock.pending).to.equal(0);
  });

  it('leaves alone a stream Node paused itself (reading false) and one whose handle is gone', async function () {
    const clock = new FakeClock();
    const paused = pipeLike(false);
    const gone = pipeLike();
    const pacer = pacePipes([paused.stream, gone.stream], clock, 100);
    gone.stream._handle = null;
    clock.advance(100);
    await immediate();
    pacer.stop();
    expect(paused.calls).to.deep.equal([]);
    expect(gone.calls).to.deep.equal(['stop']);
  });

  it('does nothing for streams without a pipe handle (no timer)', function () {
    const clock = new FakeClock();
    const pacer = pacePipes([new PassThrough(), null], clock, 100);
    expect(clock.pending).to.equal(0);
    pacer.stop();
  });
});
