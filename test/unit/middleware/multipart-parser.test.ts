/**
 * The streaming multipart scanner and the model-field splice: a form fed whole and cut at every
 * byte position gives the same parts and offsets; the field finder's span replaced in a buffer and
 * in a chunk stream gives the same bytes.
 */
import { expect } from 'chai';
import { multipartBoundary, MultipartError, MultipartScanner, parsePartHeaders } from '../../../middleware/multipart-parser.js';
import { FieldFinder, findField, spliceBuffer, spliceChunks } from '../../../middleware/multipart.js';

const BOUNDARY = 'XyZ';
const BODY = Buffer.from(
  [
    'preamble to ignore',
    `--${BOUNDARY}`,
    'Content-Disposition: form-data; name="file"; filename="a.wav"',
    'Content-Type: audio/wav',
    '',
    'RIFF --XyZ not a boundary: no CRLF before it\r\n--XY',
    `--${BOUNDARY}  `,
    'Content-Disposition: form-data; name="model"',
    '',
    'whisper-1',
    `--${BOUNDARY}`,
    '',
    'no headers at all',
    `--${BOUNDARY}--`,
    'epilogue',
  ].join('\r\n'),
  'latin1',
);

interface Part {
  name: string;
  filename: string | undefined;
  start: number;
  end: number;
  data: string;
}

function scan(chunks: readonly Buffer[]): { parts: Part[]; ended: boolean } {
  const parts: Part[] = [];
  let ended = false;
  const scanner = new MultipartScanner(BOUNDARY, {
    onPartStart: (headers, offset) => parts.push({ name: headers.name, filename: headers.filename, start: offset, end: -1, data: '' }),
    onPartData: (data) => (parts[parts.length - 1]!.data += data.toString('latin1')),
    onPartEnd: (offset) => (parts[parts.length - 1]!.end = offset),
    onEnd: () => (ended = true),
  });
  for (const chunk of chunks) scanner.write(chunk);
  scanner.end();
  return { parts, ended };
}

describe('multipart scanner', function () {
  it('reads parts, names and offsets; a near-boundary inside data stays data', function () {
    const { parts, ended } = scan([BODY]);
    expect(ended).to.equal(true);
    expect(parts.map((part) => [part.name, part.filename, part.data])).to.deep.equal([
      ['file', 'a.wav', 'RIFF --XyZ not a boundary: no CRLF before it\r\n--XY'],
      ['model', undefined, 'whisper-1'],
      ['', undefined, 'no headers at all'],
    ]);
    for (const part of parts) expect(BODY.toString('latin1', part.start, part.end)).to.equal(part.data);
  });

  it('gives the same result cut at every byte position, and byte by byte', function () {
    const whole = scan([BODY]);
    for (let cut = 0; cut <= BODY.length; cut += 1) {
      expect(scan([BODY.subarray(0, cut), BODY.subarray(cut)]), `cut at ${cut}`).to.deep.equal(whole);
    }
    expect(scan([...BODY].map((byte) => Buffer.from([byte])))).to.deep.equal(whole);
  });

  it('a body that starts with the boundary (no preamble)', function () {
    const body = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="model"\r\n\r\nm\r\n--${BOUNDARY}--\r\n`);
    expect(scan([body]).parts.map((part) => part.data)).to.deep.equal(['m']);
  });

  it('refuses a form without its closing boundary, and endless part headers', function () {
    expect(() => scan([BODY.subarray(0, 200)])).to.throw(MultipartError, 'closing boundary');
    const scanner = new MultipartScanner(BOUNDARY, {});
    expect(() => scanner.write(Buffer.from(`--${BOUNDARY}\r\nX-Long: ${'a'.repeat(20_000)}`))).to.throw(MultipartError, 'headers longer');
  });

  it('boundaries and part headers as a table', function () {
    const boundaries: [string | undefined, string | undefined][] = [
      ['multipart/form-data; boundary=abc', 'abc'],
      ['multipart/form-data; boundary="a b;c"', 'a b;c'],
      ['Multipart/Form-Data; charset=utf-8; BOUNDARY=x', 'x'],
      ['multipart/mixed; boundary=abc', undefined],
      ['application/json', undefined],
      ['multipart/form-data', undefined],
      [undefined, undefined],
    ];
    for (const [type, expected] of boundaries) expect(multipartBoundary(type), String(type)).to.equal(expected);
    expect(parsePartHeaders('Content-Disposition: form-data; name="a\\"b"; filename="x.png"\r\ncontent-type: image/png')).to.deep.equal({ name: 'a"b', filename: 'x.png', contentType: 'image/png' });
    expect(parsePartHeaders('Content-Disposition: form-data; name=model')).to.deep.equal({ name: 'model', filename: undefined, contentType: undefined });
  });
});

describe('the model field and its splice', function () {
  it('finds the first plain model field (a file part named model is not it)', function () {
    const body = Buffer.from(
      `--b\r\nContent-Disposition: form-data; name="model"; filename="m.bin"\r\n\r\nfile\r\n--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nreal\r\n--b\r\nContent-Disposition: form-data; name="model"\r\n\r\nsecond\r\n--b--`,
    );
    const span = findField(body, 'multipart/form-data; boundary=b');
    expect(span?.value).to.equal('real');
    expect(body.toString('latin1', span!.start, span!.end)).to.equal('real');
  });

  it('stops at the field: the finder has its span before the rest arrives', function () {
    const finder = new FieldFinder(BOUNDARY);
    const at = BODY.indexOf('whisper-1') + 'whisper-1'.length + `\r\n--${BOUNDARY}`.length;
    finder.scanner.write(BODY.subarray(0, at));
    expect(finder.span).to.deep.include({ value: 'whisper-1' });
  });

  it('splices the same bytes in a buffer and across any chunking', async function () {
    const span = findField(BODY, `multipart/form-data; boundary=${BOUNDARY}`)!;
    for (const insert of ['', 'x', 'a-much-longer-model-name']) {
      const expected = spliceBuffer(BODY, span.start, span.end, Buffer.from(insert));
      expect(expected.toString('latin1')).to.contain(`name="model"\r\n\r\n${insert}\r\n--${BOUNDARY}`);
      for (const size of [1, 3, 7, 64, BODY.length]) {
        const chunks: Buffer[] = [];
        for (let at = 0; at < BODY.length; at += size) chunks.push(BODY.subarray(at, at + size));
        const out: Buffer[] = [];
        for await (const chunk of spliceChunks(chunks, span.start, span.end, Buffer.from(insert))) out.push(chunk);
        expect(Buffer.concat(out).equals(expected), `insert "${insert}", chunks of ${size}`).to.equal(true);
      }
    }
  });
});
