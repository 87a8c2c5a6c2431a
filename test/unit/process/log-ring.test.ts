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

  it('drops the oldest lines once the total bytes exceed the bound', function () {
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
  describe('raw chunks, split when read', function () {
    const bytes = (text: string): Buffer => Buffer.from(text, 'utf8');

    it('joins a line cut at any byte across chunks, from Buffers as read from a pipe', function () {
      const whole = 'alpha\nbravo charlie\ndelta\n';
      for (let cut = 0; cut <= whole.length; cut += 1) {
        const ring = new LogRing();
        ring.write('stderr', bytes(whole.slice(0, cut)));
        ring.write('stderr', bytes(whole.slice(cut)));
        expect(texts(ring), `cut at ${cut}`).to.deep.equal(['alpha', 'bravo charlie', 'delta']);
      }
    });

    it('decodes a multi-byte UTF-8 character cut between chunks whole, read later or followed live', function () {
      const line = bytes('café 日本 🦙 ok\n');
      for (let cut = 1; cut < line.length; cut += 1) {
        const ring = new LogRing();
        const followed: string[] = [];
        ring.on('line', (entry) => followed.push(entry.text));
        ring.write('stdout', line.subarray(0, cut));
        ring.write('stdout', line.subarray(cut));
        expect(texts(ring), `cut at byte ${cut}`).to.deep.equal(['café 日本 🦙 ok']);
        expect(followed, `cut at byte ${cut}, followed`).to.deep.equal(['café 日本 🦙 ok']);
      }
    });

    it('drops the CR of CRLF, also when the CR ends one chunk and the LF starts the next', function () {
      const ring = new LogRing();
      ring.write('stdout', bytes('one\r\ntwo\r'));
      ring.write('stdout', bytes('\nthree\r\n\r\n'));
      expect(texts(ring)).to.deep.equal(['one', 'two', 'three', '']);
    });

    it('is bounded by bytes, not characters, and drops a line whose start was dropped whole', function () {
      const ring = new LogRing(16);
      ring.write('stdout', bytes('ééééé\n')); // 11 bytes, 6 characters
      ring.write('stdout', bytes('abc\nde')); // 7 bytes: the first chunk goes
      expect(texts(ring)).to.deep.equal(['abc']);
      ring.write('stdout', bytes('fghijklmn')); // 9 bytes: 'abc\nde' goes, 'de…' lost its start
      ring.write('stdout', bytes('\nnext\n'));
      expect(texts(ring)).to.deep.equal(['next']);
      // The dropped lines still count: seq says how many were lost.
      expect(ring.lines().map((line) => line.seq)).to.deep.equal([4]);
    });

    it('gives followers the same lines, seq and order as a later read, across sources and whole lines', function () {
      const ring = new LogRing();
      const followed: LogLine[] = [];
      ring.on('line', (line) => followed.push(line));
      ring.write('stdout', bytes('a1\na'));
      ring.write('stderr', bytes('b1\n'));
      ring.push('siesta', 'started');
      ring.write('stdout', bytes('2\na3\n'));
      ring.write('stderr', bytes('b2'));
      ring.flush('stderr');
      const shape = (lines: readonly LogLine[]): string[] => lines.map((line) => `${line.seq} ${line.source}:${line.text}`);
      expect(shape(ring.lines())).to.deep.equal(['1 stdout:a1', '2 stderr:b1', '3 siesta:started', '4 stdout:a2', '5 stdout:a3', '6 stderr:b2']);
      expect(shape(followed)).to.deep.equal(shape(ring.lines()));
    });

    it('numbers lines the same whether or not anyone followed when they arrived', function () {
      const quiet = new LogRing();
      const followedRing = new LogRing();
      followedRing.on('line', () => undefined);
      for (const ring of [quiet, followedRing]) {
        ring.write('stdout', bytes('x\ny'));
        ring.write('stdout', bytes('z\n'));
        ring.push('siesta', 'exited');
        ring.write('stdout', bytes('tail'));
        ring.flush('stdout');
      }
      expect(quiet.lines()).to.deep.equal(followedRing.lines().map((line, index) => ({ ...line, at: quiet.lines()[index]!.at })));
    });

    it('keeps only the newest bytes of a line that never ends (a progress bar redrawn with CR)', function () {
      const ring = new LogRing(64);
      const followed: string[] = [];
      ring.on('line', (line) => followed.push(line.text));
      for (let percent = 0; percent <= 100; percent += 1) ring.write('stderr', bytes(`\rloading ${percent}%`));
      ring.write('stderr', bytes('\n'));
      expect(followed).to.have.length(1);
      expect(Buffer.byteLength(followed[0]!)).to.be.at.most(64);
      expect(followed[0]!.endsWith('loading 100%')).to.equal(true);
    });
  });
});
