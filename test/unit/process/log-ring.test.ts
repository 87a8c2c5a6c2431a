import { expect } from 'chai';
import { LogRing, type LogLine } from '../../../lib/process/log-ring.js';

const texts = (ring: LogRing): string[] => ring.lines().map((line) => line.text);

describe('LogRing', function () {
  it('keeps complete lines with source and increasing sequence numbers', function () {
    const ring = new LogRing();
    ring.push('stdout', 'one');
    ring.push('stderr', 'two');
    expect(ring.lines().map(({ seq, source, text }) => ({ seq, source, text }))).to.deep.equal([
      { seq: 1, source: 'stdout', text: 'one' },
      { seq: 2, source: 'stderr', text: 'two' },
    ]);
  });

  it('drops the oldest lines once the total characters exceed the bound', function () {
    const ring = new LogRing(10);
    for (const text of ['aaaa', 'bbbb', 'cccc', 'dddd']) ring.push('stdout', text);
    expect(texts(ring)).to.deep.equal(['cccc', 'dddd']);
    // Sequence numbers keep counting, so followers can tell lines were dropped.
    expect(ring.lines().map((line) => line.seq)).to.deep.equal([3, 4]);
  });

  it('keeps a single line longer than the bound (the newest line is never dropped)', function () {
    const ring = new LogRing(5);
    ring.push('stdout', 'short');
    ring.push('stdout', 'a very long line indeed');
    expect(texts(ring)).to.deep.equal(['a very long line indeed']);
  });

  it('joins partial chunks into lines, per source, and handles CRLF', function () {
    const ring = new LogRing();
    ring.write('stdout', 'hel');
    ring.write('stderr', 'err-');
    ring.write('stdout', 'lo\r');
    expect(texts(ring)).to.deep.equal([]);
    ring.write('stdout', '\nwor');
    ring.write('stderr', 'line\nnext\n');
    expect(ring.lines().map((line) => `${line.source}:${line.text}`)).to.deep.equal(['stdout:hello', 'stderr:err-line', 'stderr:next']);
    ring.write('stdout', 'ld\n\n');
    expect(texts(ring).slice(-2)).to.deep.equal(['world', '']);
  });

  it('flushes a partial line when the stream ends, once', function () {
    const ring = new LogRing();
    ring.write('stderr', 'fatal: no model');
    ring.flush('stderr');
    ring.flush('stderr');
    ring.flush('stdout');
    expect(texts(ring)).to.deep.equal(['fatal: no model']);
  });

  it('emits each line to followers', function () {
    const ring = new LogRing();
    const seen: LogLine[] = [];
    ring.on('line', (line) => seen.push(line));
    ring.write('stdout', 'a\nb\nc');
    expect(seen.map((line) => line.text)).to.deep.equal(['a', 'b']);
  });

  it('tails the last lines', function () {
    const ring = new LogRing();
    for (const text of ['1', '2', '3', '4']) ring.push('stdout', text);
    expect(ring.tail(2)).to.equal('3\n4');
    expect(ring.tail(10)).to.equal('1\n2\n3\n4');
    expect(new LogRing().tail(3)).to.equal('');
  });
});
