/** Captures: byte bound, eviction, redaction, Go header keys, llama-swap's per-route fields and JSON (pure). */
import { expect } from 'chai';
import { canonicalHeaderKey, captureFieldsFor, captureJson, CaptureStore, captureSize, redactedHeaders, type Capture } from '../../../lib/gateway/captures.js';

function capture(id: number, bodyBytes: number): Capture {
  return { id, reqPath: '/p', reqHeaders: null, reqBody: Buffer.alloc(bodyBytes, 'a'), respHeaders: null, respBody: null };
}

describe('captures (pure)', function () {
  it('keeps the newest captures within the byte bound and refuses one bigger than the whole buffer', function () {
    const store = new CaptureStore(100);
    expect(store.add(capture(1, 40))).to.equal(true);
    expect(store.add(capture(2, 40))).to.equal(true);
    expect(store.add(capture(3, 40))).to.equal(true); // 1 goes
    expect([1, 2, 3].map((id) => store.has(id))).to.deep.equal([false, true, true]);
    expect(store.bytes).to.equal(2 * captureSize(capture(0, 40)));
    expect(store.add(capture(4, 200))).to.equal(false);
    expect(store.has(2)).to.equal(true);
    store.setMaxBytes(50);
    expect([2, 3].map((id) => store.has(id))).to.deep.equal([false, true]);
    store.setMaxBytes(0);
    expect(store.enabled).to.equal(false);
    expect(store.add(capture(5, 1))).to.equal(false);
    expect(store.bytes).to.equal(0);
  });

  it('redacts credentials and writes header names as Go does', function () {
    expect(redactedHeaders({ authorization: 'Bearer sk', 'proxy-authorization': 'x', cookie: 'a=b', 'set-cookie': ['c=d', 'e=f'], 'x-api-key': 'k', 'content-type': 'application/json', 'x-request-id': ['1', '2'], 'content-length': 5, skipped: undefined })).to.deep.equal({
      Authorization: '[REDACTED]',
      'Proxy-Authorization': '[REDACTED]',
      Cookie: '[REDACTED]',
      'Set-Cookie': '[REDACTED]',
      'X-Api-Key': '[REDACTED]',
      'Content-Type': 'application/json',
      'X-Request-Id': '1',
      'Content-Length': '5',
    });
    expect(canonicalHeaderKey('x-accel-buffering')).to.equal('X-Accel-Buffering');
    expect(canonicalHeaderKey('ETAG')).to.equal('Etag');
  });

  const fields: [string, [boolean, boolean, boolean, boolean]][] = [
    ['/v1/chat/completions', [true, true, true, true]],
    ['/v1/audio/speech', [true, true, true, false]],
    ['/v1/audio/transcriptions', [true, false, true, true]],
    ['/v1/images/edits', [true, false, true, false]],
    ['/sdapi/v1/txt2img', [true, true, true, false]],
  ];
  for (const [path, [reqHeaders, reqBody, respHeaders, respBody]] of fields) {
    it(`captureFieldsFor(${path})`, function () {
      expect(captureFieldsFor(path)).to.deep.equal({ reqHeaders, reqBody, respHeaders, respBody });
    });
  }

  it("renders llama-swap's ReqRespCapture JSON: bodies base64, null when not kept", function () {
    expect(captureJson({ id: 7, reqPath: '/v1/x', reqHeaders: { A: 'b' }, reqBody: Buffer.from('{"model":"m"}'), respHeaders: null, respBody: null })).to.deep.equal({
      id: 7,
      req_path: '/v1/x',
      req_headers: { A: 'b' },
      req_body: Buffer.from('{"model":"m"}').toString('base64'),
      resp_headers: null,
      resp_body: null,
    });
  });

  it('keeps the messages\' own headers and redacts them when the capture is read: credentials hidden, first value of a list, the response without Content-Encoding', function () {
    const reqHeaders = { authorization: 'Bearer sk-secret', 'x-api-key': 'k', 'content-type': 'application/json', accept: ['a', 'b'] };
    const respHeaders = { 'content-type': 'application/json', 'content-encoding': 'gzip', 'set-cookie': ['s=1'], 'content-length': 12 };
    const json = captureJson({ id: 1, reqPath: '/v1/chat/completions', reqHeaders, reqBody: null, respHeaders, respBody: null });
    expect(json.req_headers).to.deep.equal({ Authorization: '[REDACTED]', 'X-Api-Key': '[REDACTED]', 'Content-Type': 'application/json', Accept: 'a' });
    expect(json.resp_headers).to.deep.equal({ 'Content-Type': 'application/json', 'Set-Cookie': '[REDACTED]', 'Content-Length': '12' });
    expect(JSON.stringify(json)).not.to.include('sk-secret');
  });

  it('counts header names and every value toward the buffer', function () {
    const store = new CaptureStore(60);
    expect(store.add({ id: 1, reqPath: '/p', reqHeaders: { ab: 'cd', list: ['x', 'yz'] }, reqBody: null, respHeaders: { n: 12 }, respBody: null })).to.equal(true);
    // '/p' 2 + 'ab' 2 + 'cd' 2 + 'list' 4 + 'x' 1 + 'yz' 2 + 'n' 1 + '12' 2
    expect(store.bytes).to.equal(16);
  });
});
