/** The body deadline's rule (lib/http/body-deadline.ts), as tables. */
import { expect } from 'chai';
import { bodyTimeLeftMs, expectsBody } from '../../../lib/http/body-deadline.js';
import { codeOfHttpError } from '../../../lib/errors.js';
import { declaredLength } from '../../../lib/gateway/routes.js';

describe('body deadline', function () {
  it('waits only for requests that declare a body', function () {
    const rows: [Record<string, string>, boolean][] = [
      [{}, false],
      [{ 'content-length': '0' }, false],
      [{ 'content-length': '12' }, true],
      [{ 'transfer-encoding': 'chunked' }, true],
    ];
    for (const [headers, expected] of rows) expect(expectsBody(headers), JSON.stringify(headers)).to.equal(expected);
  });

  it('gives bodyTimeoutMs plus one second per minBytesPerSecond received', function () {
    const options = { bodyTimeoutMs: 60_000, minBytesPerSecond: 1000 };
    const rows: [number, number, number][] = [
      // elapsed ms, bytes received, time left ms
      [0, 0, 60_000],
      [60_000, 0, 0],
      [60_000, 500, 500],
      [120_000, 60_000, 0],
      [90_000, 1_000_000, 970_000],
    ];
    for (const [elapsedMs, received, left] of rows) expect(bodyTimeLeftMs(elapsedMs, received, options), `${elapsedMs} ms, ${received} bytes`).to.equal(left);
  });
});

describe('codeOfHttpError: errors of Express and body-parser', function () {
  const httpError = (status: number, extra: Record<string, unknown> = {}): Error => Object.assign(new Error('x'), { status, ...extra });
  const rows: [string, unknown, string | undefined][] = [
    ['too large', httpError(413, { type: 'entity.too.large' }), 'body_too_large'],
    ['bad JSON', httpError(400, { type: 'entity.parse.failed' }), 'bad_json'],
    ['unknown encoding', httpError(415, { type: 'encoding.unsupported' }), 'unsupported_encoding'],
    ['unknown charset', httpError(415, { type: 'charset.unsupported' }), 'unsupported_encoding'],
    ['gzip that does not inflate', httpError(400, { code: 'Z_DATA_ERROR' }), 'bad_encoding'],
    ['br that does not decompress', httpError(400, { code: 'ERR__ERROR_FORMAT_PADDING_2' }), 'bad_encoding'],
    ['client left while sending', httpError(400, { type: 'request.aborted' }), 'client_gone'],
    ['bad percent-encoding in a path parameter', Object.assign(new URIError("Failed to decode param '%'"), { status: 400 }), 'bad_path'],
    ['another 4xx', httpError(400), 'bad_request'],
    ['a plain error', new Error('boom'), undefined],
    ['a 500', httpError(500), undefined],
  ];
  for (const [what, error, code] of rows) {
    it(`${what} → ${code ?? 'none (internal)'}`, function () {
      expect(codeOfHttpError(error)).to.equal(code);
    });
  }
});

describe('declaredLength', function () {
  it('reads only plain decimal lengths', function () {
    expect([undefined, '', '12', '012', '1e3', '-1', ' 5'].map(declaredLength)).to.deep.equal([undefined, undefined, 12, 12, undefined, undefined, undefined]);
  });
});
