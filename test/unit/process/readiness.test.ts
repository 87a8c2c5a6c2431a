import { expect } from 'chai';
import { FakeClock } from '../../../lib/clock.js';
import type { HttpClient, HttpRequest } from '../../../lib/process/http.js';
import { pollDelays, waitReady } from '../../../lib/process/readiness.js';
import { forbidSockets, runClock } from './doubles.js';

function take(next: () => number, count: number): number[] {
  return Array.from({ length: count }, () => next());
}

/** An HttpClient that answers from a script: a status, or an error code to throw. */
function scripted(answers: readonly (number | string)[]): HttpClient & { readonly calls: HttpRequest[] } {
  const calls: HttpRequest[] = [];
  return {
    calls,
    request(request) {
      calls.push(request);
      const answer = answers[Math.min(calls.length - 1, answers.length - 1)]!;
      if (typeof answer === 'string') return Promise.reject(Object.assign(new Error(answer), { code: answer }));
      return Promise.resolve({ status: answer, body: '' });
    },
  };
}

const never = new Promise<string>(() => undefined);

describe('readiness polling', function () {
  forbidSockets();
  describe('pollDelays', function () {
    it('starts at 5 ms and backs off by 1.5 (rounded up) to a 100 ms ceiling', function () {
      expect(take(pollDelays(), 11)).to.deep.equal([5, 8, 12, 18, 27, 41, 62, 93, 100, 100, 100]);
    });

    it('honours the first delay, factor and ceiling', function () {
      expect(take(pollDelays(10, 2, 50), 5)).to.deep.equal([10, 20, 40, 50, 50]);
    });

    it('gives each caller its own schedule', function () {
      const a = pollDelays();
      a();
      a();
      expect(pollDelays()()).to.equal(5);
    });
  });

  describe('waitReady (fake clock)', function () {
    let clock: FakeClock;
    beforeEach(function () {
      clock = new FakeClock();
    });
    afterEach(function () {
      expect(clock.pending, 'pause timers left armed').to.equal(0);
    });

    it('polls at once and keeps polling through connection refused and 503 until 200, pausing on the clock', async function () {
      const http = scripted(['ECONNREFUSED', 'ECONNREFUSED', 503, 503, 200]);
      const started = clock.now();
      const result = await runClock(clock, waitReady({ url: 'http://127.0.0.1:9/health', deadlineMs: 5000, http, abandon: never, clock }));
      expect(result).to.deep.equal({ ready: true, polls: 5 });
      expect(clock.now() - started, 'the first four pauses: 5 + 8 + 12 + 18 ms').to.equal(43);
      expect(http.calls.map((call) => call.url)).to.deep.equal(Array(5).fill('http://127.0.0.1:9/health'));
    });

    it('is ready on the first poll when the server already answers', async function () {
      const result = await waitReady({ url: 'http://x/health', deadlineMs: 5000, http: scripted([200]), abandon: never, clock });
      expect(result).to.deep.equal({ ready: true, polls: 1 });
      expect(clock.pending).to.equal(0);
    });

    it('gives up at the deadline, naming the last answer', async function () {
      const started = clock.now();
      const result = await runClock(clock, waitReady({ url: 'http://x/health', deadlineMs: 60_000, http: scripted([503]), abandon: never, clock }), 100);
      expect(result.ready).to.equal(false);
      expect(result.ready === false && result.reason).to.equal('not ready after 60s (last check: HTTP 503)');
      expect(clock.now() - started).to.be.within(60_000, 60_100);
    });

    it('names a connection error code as the last check', async function () {
      const result = await runClock(clock, waitReady({ url: 'http://x/health', deadlineMs: 40, http: scripted(['ECONNREFUSED']), abandon: never, clock }));
      expect(result.ready === false && result.reason).to.include('last check: ECONNREFUSED');
    });

    it('polls again at once when the child shows activity (a log line), not at the end of the pause', async function () {
      const http = scripted(['ECONNREFUSED', 200]);
      let poke: (() => void) | undefined;
      let unsubscribed = false;
      const originalRequest = http.request.bind(http);
      http.request = async (request) => {
        const answer = originalRequest(request);
        // After the first answer, waitReady pauses for 60 s: only the activity poke can end it in time.
        if (http.calls.length === 1) setImmediate(() => poke?.());
        return answer;
      };
      const result = await waitReady({
        url: 'http://x/health',
        deadlineMs: 120_000,
        firstDelayMs: 60_000,
        http,
        abandon: never,
        clock,
        onActivity: (callback) => {
          poke = callback;
          return () => {
            unsubscribed = true;
          };
        },
      });
      expect(result).to.deep.equal({ ready: true, polls: 2 });
      expect(unsubscribed).to.equal(true);
    });

    it('stops waiting with the abandon reason (e.g. the process exited)', async function () {
      let abandon!: (reason: string) => void;
      const abandoned = new Promise<string>((resolve) => (abandon = resolve));
      const http = scripted(['ECONNREFUSED']);
      const waiting = waitReady({ url: 'http://x/health', deadlineMs: 10_000, http, abandon: abandoned, clock });
      abandon('process exited early (code 1)');
      const result = await waiting;
      expect(result).to.deep.include({ ready: false, reason: 'process exited early (code 1)' });
    });
  });
});
