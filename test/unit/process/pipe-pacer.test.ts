import { PassThrough, type Readable } from 'node:stream';
import { setImmediate as immediate } from 'node:timers/promises';
import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import { nextPauseMs, pacePipes } from '../../../lib/process/pipe-pacer.js';

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

describe('pacePipes: a busy child output read once per interval', function () {
  const chunk = Buffer.from('line\n');

  it('reads a quiet pipe as usual, with no timer', function () {
    const clock = new FakeClock();
    const pipe = pipeLike();
    const pacer = pacePipes([pipe.stream, null], clock, 100);
    expect(pipe.calls).to.deep.equal([]);
    expect(clock.pending).to.equal(0);
    pacer.stop();
  });

  it('after a chunk stops reading for the interval, reads one turn, and goes quiet when the turn reads nothing', async function () {
    const clock = new FakeClock();
    const pipe = pipeLike();
    const pacer = pacePipes([pipe.stream], clock, 100);
    pipe.stream.emit('data', chunk);
    expect(pipe.calls).to.deep.equal(['stop']);
    clock.advance(99);
    expect(pipe.calls).to.deep.equal(['stop']);
    clock.advance(1);
    expect(pipe.calls).to.deep.equal(['stop', 'start']);
    pipe.stream.emit('data', chunk); // what gathered, read in the turn
    await immediate();
    expect(pipe.calls).to.deep.equal(['stop', 'start', 'stop']);
    expect(clock.pending, 'the next turn armed').to.equal(1);
    // The stream's own flag is left alone, so Node does not restart reading behind the pacer's back.
    expect(pipe.handle.reading).to.equal(true);
    clock.advance(100);
    await immediate(); // a turn that reads nothing: quiet again, reading on, no timer
    expect(pipe.calls).to.deep.equal(['stop', 'start', 'stop', 'start']);
    expect(clock.pending).to.equal(0);
    pipe.stream.emit('data', chunk);
    expect(pipe.calls.at(-1)).to.equal('stop');
    pacer.stop();
    pacer.stop();
    expect(pipe.calls.at(-1)).to.equal('start');
    expect(clock.pending).to.equal(0);
    pipe.stream.emit('data', chunk);
    expect(pipe.calls.at(-1), 'stopped: chunks no longer pause it').to.equal('start');
  });

  it('stops between a turn and its immediate: reading stays on', async function () {
    const clock = new FakeClock();
    const pipe = pipeLike();
    const pacer = pacePipes([pipe.stream], clock, 100);
    pipe.stream.emit('data', chunk);
    clock.advance(100);
    pipe.stream.emit('data', chunk);
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
    gone.stream.emit('data', chunk);
    gone.stream._handle = null;
    clock.advance(100);
    await immediate();
    pacer.stop();
    expect(paused.calls).to.deep.equal([]);
    expect(gone.calls).to.deep.equal(['stop']);
  });

  it('does nothing for streams without a pipe handle', function () {
    const clock = new FakeClock();
    const stream = new PassThrough();
    const pacer = pacePipes([stream, null], clock, 100);
    stream.emit('data', chunk);
    expect(clock.pending).to.equal(0);
    pacer.stop();
  });
});

describe('nextPauseMs: a pause that keeps a busy writer out of a full socket', function () {
  const cases: [pauseMs: number, turnBytes: number, maxMs: number, expected: number][] = [
    [100, 100, 100, 100], // a calm server: the longest pause
    [100, 2048, 100, 100], // on target
    [100, 10_240, 100, 20], // llama-server at ~85 requests/s in a 100 ms pause: five times shorter
    [20, 4096, 100, 10],
    [10, 1_000_000, 100, 5], // never below 5 ms
    [5, 512, 100, 20], // calming down: grows back
    [50, 1, 100, 100],
    [100, 10_240, 3, 3], // a maximum under 5 ms wins
  ];
  for (const [pauseMs, turnBytes, maxMs, expected] of cases) {
    it(`${pauseMs} ms pause read ${turnBytes} bytes (max ${maxMs}) → ${expected} ms`, function () {
      expect(nextPauseMs(pauseMs, turnBytes, maxMs)).to.equal(expected);
    });
  }
});
