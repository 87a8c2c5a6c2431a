/** SSE framing as a table, and the one record of who opened a response's event stream. */
import type { OutgoingHttpHeaders } from 'node:http';
import type { Response } from 'express';
import { expect } from 'chai';
import { GatewayError } from '../../../lib/errors.js';
import { EVENT_STREAM_HEADERS, eventStreamOrigin, isEventStream, isEventStreamType, markEventStream, openEventStream, SSE_DONE, sseComment, sseData, sseEvent, sseJson, sseRetry } from '../../../lib/http/sse.js';
import { eventStreamError } from '../../../middleware/error-handler.js';

describe('lib/http/sse', function () {
  it('frames messages, events, comments and the retry delay', function () {
    const table: [string, string, string][] = [
      ['data, one line', sseData('hello'), 'data: hello\n\n'],
      ['data, every line its own data: line', sseData('a\nb\r\nc'), 'data: a\ndata: b\ndata: c\n\n'],
      ['data, empty', sseData(''), 'data: \n\n'],
      ['[DONE]', SSE_DONE, 'data: [DONE]\n\n'],
      ['json', sseJson({ a: 1 }), 'data: {"a":1}\n\n'],
      ['json keeps a newline in a string escaped (one line)', sseJson({ text: 'two\nlines' }), 'data: {"text":"two\\nlines"}\n\n'],
      ['named event', sseEvent('state', { a: 1 }), 'event: state\ndata: {"a":1}\n\n'],
      ['named event, newline in data', sseEvent('log', { text: 'two\nlines' }), 'event: log\ndata: {"text":"two\\nlines"}\n\n'],
      ['comment', sseComment('heartbeat'), ': heartbeat\n\n'],
      ['comment, two lines', sseComment('a\nb'), ': a\n: b\n\n'],
      ['retry', sseRetry(2000), 'retry: 2000\n\n'],
    ];
    for (const [name, actual, expected] of table) expect(actual, name).to.equal(expected);
  });

  it('isEventStreamType as a table', function () {
    const table: [string | string[] | undefined, boolean][] = [
      ['text/event-stream', true],
      ['Text/Event-Stream; charset=utf-8', true],
      ['application/json', false],
      ['', false],
      [undefined, false],
      [['text/event-stream'], true],
    ];
    for (const [value, expected] of table) expect(isEventStreamType(value), String(value)).to.equal(expected);
  });

  it('an error ends a stream as an OpenAI-style event, then [DONE]', function () {
    const error = new GatewayError('start_failed', 'Model "m" could not start: exited with code 1');
    expect(eventStreamError(error)).to.equal(`data: ${JSON.stringify(error.toJSON())}\n\ndata: [DONE]\n\n`);
  });

  describe('who opened the event stream', function () {
    /** Records writeHead and flushHeaders: enough of a response for the state functions. */
    function fakeResponse(): { res: Response; heads: [number, OutgoingHttpHeaders][]; flushed: () => boolean } {
      const heads: [number, OutgoingHttpHeaders][] = [];
      let flushed = false;
      const res = {
        locals: {},
        writeHead(status: number, headers: OutgoingHttpHeaders) {
          heads.push([status, headers]);
          return res;
        },
        flushHeaders() {
          flushed = true;
        },
      };
      return { res: res as unknown as Response, heads, flushed: () => flushed };
    }

    it('none: not an event stream', function () {
      const { res } = fakeResponse();
      expect([eventStreamOrigin(res), isEventStream(res)]).to.deep.equal([undefined, false]);
    });

    it('siesta: openEventStream sends 200 and the head at once', function () {
      const { res, heads, flushed } = fakeResponse();
      openEventStream(res);
      expect(heads).to.deep.equal([[200, { ...EVENT_STREAM_HEADERS }]]);
      expect(flushed()).to.equal(true);
      expect([eventStreamOrigin(res), isEventStream(res)]).to.deep.equal(['siesta', true]);
    });

    it('siesta, with a head of its own', function () {
      const { res, heads } = fakeResponse();
      openEventStream(res, { 'content-type': 'text/event-stream; charset=utf-8' });
      expect(heads).to.deep.equal([[200, { 'content-type': 'text/event-stream; charset=utf-8' }]]);
      expect(eventStreamOrigin(res)).to.equal('siesta');
    });

    it('upstream: markEventStream writes nothing', function () {
      const { res, heads } = fakeResponse();
      markEventStream(res);
      expect(heads).to.deep.equal([]);
      expect([eventStreamOrigin(res), isEventStream(res)]).to.deep.equal(['upstream', true]);
    });
  });
});
