/**
 * Every model-dispatched route of llama-swap (lib/gateway/routes.ts, its three tables) sent through
 * siesta to the fake upstream: the method, the path after the `/v` and `/audioapi` rewrites, the
 * body and the model name that arrive. useModelName on JSON and multipart bodies; multipart uploads
 * streamed with the model field after a large file part (past the in-memory hold: spooled to
 * disk), chunked, over maxUploadSize (413), over maxBodySize (no cap: that is for JSON); a peer and
 * a profile pin renaming the form's field; the official `openai` client's transcription and image
 * edit calls.
 */
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { expect } from 'chai';
import OpenAI, { toFile } from 'openai';
import request from 'supertest';
import { MODEL_ROUTE_TABLE, upstreamPath, type ModelRoute } from '../../lib/gateway/routes.js';
import { DEFAULT_HOLD_BYTES } from '../../middleware/multipart.js';
import { startFake, stopAllFakes, type Call, type FakeHandle } from '../helpers/fake-upstream.js';
import { assertNoChildren } from '../helpers/wait.js';
import { listen } from './peers-support.js';
import { cleanup, configYaml, genericCmd, openGateway, upstreamCalls, type Harness } from './support.js';

const MiB = 1024 * 1024;
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A multipart body built by hand, so that the order of its parts is the test's. */
function form(parts: readonly ({ name: string; value: string } | { name: string; filename: string; data: Buffer })[]): { body: Buffer; contentType: string } {
  const boundary = `----siesta-test-${randomBytes(6).toString('hex')}`;
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = 'filename' in part ? `form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: application/octet-stream` : `form-data; name="${part.name}"`;
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}\r\n\r\n`), 'data' in part ? part.data : Buffer.from(part.value), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}

/** The last call the model's upstream recorded. */
async function lastCall(h: Harness, model: string): Promise<Call> {
  const calls = await upstreamCalls(h.gateway, model);
  expect(calls, `calls recorded by ${model}`).to.not.be.empty;
  return calls[calls.length - 1]!;
}

/** A JSON body every JSON route's upstream accepts (chat, completions, embeddings and the echoes). */
function jsonBody(model: string, route: ModelRoute): Record<string, unknown> {
  return { model, messages: [{ role: 'user', content: 'hi' }], prompt: 'hi', input: 'hi', max_tokens: 2, marker: route.path };
}

/** Send `route` naming `model` the way the route names it; returns what should arrive upstream. */
async function send(h: Harness, route: ModelRoute, model: string): Promise<{ status: number; file?: Buffer; body?: Record<string, unknown> }> {
  if (route.source === 'query') {
    const response = await request(h.app).get(`${route.path}?model=${encodeURIComponent(model)}&extra=1`);
    return { status: response.status };
  }
  if (route.source === 'form') {
    const file = randomBytes(2048);
    const { body, contentType } = form([
      { name: 'model', value: model },
      { name: 'file', filename: 'a.wav', data: file },
      { name: 'prompt', value: route.path },
    ]);
    const response = await request(h.app).post(route.path).set('content-type', contentType).send(body);
    return { status: response.status, file };
  }
  const body = jsonBody(model, route);
  const response = await request(h.app).post(route.path).send(body);
  return { status: response.status, body };
}

describe('e2e: every llama-swap model route', function () {
  let h: Harness;
  let peer: FakeHandle;
  before(async function () {
    peer = await startFake({ backend: 'generic', model: 'whisper' });
    h = await openGateway(
      await configYaml(
        {
          plain: { cmd: genericCmd('plain') },
          renamed: { cmd: genericCmd('served-name'), aliases: ['renamed-alias'], useModelName: 'served-name' },
        },
        {
          groups: { all: { swap: false, members: ['plain', 'renamed'] } },
          peers: { remote: { proxy: peer.url, models: ['whisper'] } },
          profiles: { dictation: { pins: { dictate: 'renamed' } } },
          maxBodySize: 1 * MiB,
          maxUploadSize: 12 * MiB,
        },
      ),
    );
    await h.gateway.start();
  });
  after(async function () {
    await cleanup();
    await stopAllFakes();
    await assertNoChildren();
  });

  it('the table has llama-swap’s 26 JSON, 2 form and 3 GET routes', function () {
    const count = (source: ModelRoute['source']): number => MODEL_ROUTE_TABLE.filter((route) => route.source === source).length;
    expect([count('json'), count('form'), count('query')]).to.deep.equal([26, 2, 3]);
    expect(upstreamPath('/v/chat/completions')).to.equal('/chat/completions');
    expect(upstreamPath('/audioapi/v1/tasks/run')).to.equal('/v1/tasks/run');
    expect(upstreamPath('/v1/chat/completions')).to.equal('/v1/chat/completions');
    expect(upstreamPath('/vx/chat')).to.equal('/vx/chat');
  });

  for (const route of MODEL_ROUTE_TABLE) {
    describe(`${route.method} ${route.path} (${route.source})`, function () {
      it(`reaches the upstream as ${route.method} ${upstreamPath(route.path)} with the body and model sent`, async function () {
        const sent = await send(h, route, 'plain');
        expect(sent.status, 'answered by the upstream').to.equal(200);
        const call = await lastCall(h, 'plain');
        expect(call.method).to.equal(route.method);
        expect(call.path).to.equal(upstreamPath(route.path));
        expect(call.model).to.equal('plain');
        if (route.source === 'query') expect(new URLSearchParams(call.query).get('extra')).to.equal('1');
        if (sent.body) expect(JSON.parse(call.body)).to.deep.equal(sent.body);
        if (sent.file) {
          expect(call.form?.fields).to.deep.equal([['model', 'plain'], ['prompt', route.path]]);
          expect(call.form?.files.map((file) => [file.name, file.filename, file.bytes, file.sha256])).to.deep.equal([['file', 'a.wav', sent.file.length, sha256(sent.file)]]);
        }
      });

      const expected = route.source === 'query' ? 'renamed-alias' : 'served-name';
      it(`by an alias with useModelName: the upstream sees "${expected}"${route.source === 'query' ? ' (llama-swap renames the query for pins, selectors and peers only)' : ''}`, async function () {
        const sent = await send(h, route, 'renamed-alias');
        expect(sent.status).to.equal(200);
        const call = await lastCall(h, 'renamed');
        expect(call.path).to.equal(upstreamPath(route.path));
        expect(call.model).to.equal(expected);
        if (sent.body) expect(JSON.parse(call.body)).to.deep.equal({ ...sent.body, model: 'served-name' });
        if (sent.file) expect(call.form?.files[0]?.sha256).to.equal(sha256(sent.file));
      });
    });
  }

  describe('multipart uploads', function () {
    it('the model field after a file part larger than the in-memory hold: routed, renamed, the file intact', async function () {
      const file = randomBytes(DEFAULT_HOLD_BYTES + 2 * MiB);
      const { body, contentType } = form([
        { name: 'file', filename: 'big.wav', data: file },
        { name: 'language', value: 'en' },
        { name: 'model', value: 'renamed-alias' },
        { name: 'response_format', value: 'json' },
      ]);
      const response = await request(h.app).post('/v1/audio/transcriptions').set('content-type', contentType).send(body).expect(200);
      expect(response.body.text).to.equal(`fake transcript of ${body.length - 'renamed-alias'.length + 'served-name'.length} bytes`);
      const call = await lastCall(h, 'renamed');
      expect(call.form?.fields).to.deep.equal([['language', 'en'], ['model', 'served-name'], ['response_format', 'json']]);
      expect(call.form?.files[0]).to.deep.include({ name: 'file', bytes: file.length, sha256: sha256(file) });
      expect(call.body, 'a body over 1 MiB is not kept as text').to.equal('');
    });

    it('a chunked upload (no Content-Length) is forwarded chunked, renamed', async function () {
      const url = await listen(h.app);
      const file = randomBytes(3 * MiB);
      const { body, contentType } = form([{ name: 'file', filename: 'c.png', data: file }, { name: 'model', value: 'renamed-alias' }]);
      const status = await new Promise<number>((resolve, reject) => {
        const req = httpRequest(`${url}/v1/images/edits`, { method: 'POST', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        for (let at = 0; at < body.length; at += 256 * 1024) req.write(body.subarray(at, at + 256 * 1024));
        req.end();
      });
      expect(status).to.equal(200);
      const call = await lastCall(h, 'renamed');
      expect(call.model).to.equal('served-name');
      expect(call.form?.files[0]?.sha256).to.equal(sha256(file));
    });

    it('larger than maxBodySize (a JSON cap) passes; a JSON body that size gets 413', async function () {
      const file = randomBytes(2 * MiB);
      const { body, contentType } = form([{ name: 'model', value: 'plain' }, { name: 'file', filename: 'a.wav', data: file }]);
      await request(h.app).post('/v1/audio/transcriptions').set('content-type', contentType).send(body).expect(200);
      const big = await request(h.app).post('/v1/embeddings').send({ model: 'plain', input: 'x'.repeat(2 * MiB) }).expect(413);
      expect(big.body.error.type).to.equal('invalid_request_error');
    });

    it('over maxUploadSize: 413, OpenAI-shaped, by Content-Length and while reading a chunked body', async function () {
      const file = randomBytes(13 * MiB);
      const { body, contentType } = form([{ name: 'file', filename: 'a.wav', data: file }, { name: 'model', value: 'plain' }]);
      const declared = await request(h.app).post('/v1/audio/transcriptions').set('content-type', contentType).send(body).expect(413);
      expect(declared.body.error).to.deep.include({ type: 'invalid_request_error', code: 'body_too_large' });
      expect(declared.body.error.message).to.contain('maxUploadSize');
      const url = await listen(h.app);
      const chunked = await new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = httpRequest(`${url}/v1/audio/transcriptions`, { method: 'POST', headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' } }, (res) => {
          let text = '';
          res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
          res.on('end', () => {
            clearTimeout(deadline);
            resolve({ status: res.statusCode ?? 0, text });
          });
        });
        // A deadline, not a wait: cleared when the answer ends; the request is cut if it fires.
        const deadline = setTimeout(() => {
          req.destroy();
          reject(new Error('no answer'));
        }, 20_000);
        req.on('error', () => undefined); // the gateway may close while the test still writes
        for (let at = 0; at < body.length; at += 512 * 1024) req.write(body.subarray(at, at + 512 * 1024));
        req.end();
      });
      expect(chunked.status).to.equal(413);
      expect(JSON.parse(chunked.text).error.code).to.equal('body_too_large');
    });

    it('no model field: ?model= names it, the form forwarded as sent', async function () {
      const file = randomBytes(1024);
      const { body, contentType } = form([{ name: 'file', filename: 'a.wav', data: file }]);
      await request(h.app).post('/v1/audio/transcriptions?model=plain').set('content-type', contentType).send(body).expect(200);
      const call = await lastCall(h, 'plain');
      expect(call.sha256).to.equal(sha256(body));
      const missing = await request(h.app).post('/v1/audio/transcriptions').set('content-type', contentType).send(body).expect(400);
      expect(missing.body.error.code).to.equal('missing_model');
    });

    it('a malformed form: 400', async function () {
      const response = await request(h.app).post('/v1/audio/transcriptions').set('content-type', 'multipart/form-data; boundary=xyz').send(Buffer.from('--xyz\r\nContent-Disposition: form-data; name="file"\r\n\r\nno end')).expect(400);
      expect(response.body.error.message).to.contain('closing boundary');
    });

    it('a peer model: the peer receives its own id in the form field', async function () {
      const file = randomBytes(DEFAULT_HOLD_BYTES + MiB);
      const { body, contentType } = form([{ name: 'file', filename: 'a.wav', data: file }, { name: 'model', value: 'remote/whisper' }]);
      await request(h.app).post('/v1/audio/transcriptions').set('content-type', contentType).send(body).expect(200);
      const calls = (await (await fetch(`${peer.url}/__calls`)).json()) as { calls: Call[] };
      const call = calls.calls[calls.calls.length - 1]!;
      expect(call.path).to.equal('/v1/audio/transcriptions');
      expect(call.model).to.equal('whisper');
      expect(call.form?.files[0]?.sha256).to.equal(sha256(file));
    });

    it('a profile pin: the form carries the pinned model’s useModelName; the query carries the pinned name', async function () {
      await request(h.app).put('/api/profiles/active').send({ name: 'dictation' }).expect(200);
      try {
        const { body, contentType } = form([{ name: 'file', filename: 'a.wav', data: randomBytes(100) }, { name: 'model', value: 'dictate' }]);
        await request(h.app).post('/v1/audio/transcriptions').set('content-type', contentType).send(body).expect(200);
        expect((await lastCall(h, 'renamed')).model).to.equal('served-name');
        await request(h.app).get('/v1/audio/voices?model=dictate').expect(200);
        const call = await lastCall(h, 'renamed');
        expect([call.method, call.path, call.model]).to.deep.equal(['GET', '/v1/audio/voices', 'renamed']);
      } finally {
        await request(h.app).put('/api/profiles/active').send({ name: null }).expect(200);
      }
    });
  });

  describe('the official openai client', function () {
    let client: OpenAI;
    before(async function () {
      client = new OpenAI({ baseURL: `${await listen(h.app)}/v1`, apiKey: 'unused', maxRetries: 0 });
    });

    it('audio.transcriptions.create (file before model, as the client sends it)', async function () {
      const audio = randomBytes(300 * 1024);
      const result = await client.audio.transcriptions.create({ file: await toFile(audio, 'speech.wav', { type: 'audio/wav' }), model: 'renamed-alias', language: 'en' });
      expect(result.text).to.match(/^fake transcript of \d+ bytes$/);
      const call = await lastCall(h, 'renamed');
      expect(call.path).to.equal('/v1/audio/transcriptions');
      expect(call.model).to.equal('served-name');
      expect(call.form?.files[0]).to.deep.include({ name: 'file', filename: 'speech.wav', bytes: audio.length, sha256: sha256(audio) });
    });

    it('images.edit', async function () {
      const image = randomBytes(64 * 1024);
      const result = await client.images.edit({ image: await toFile(image, 'cat.png', { type: 'image/png' }), prompt: 'a hat', model: 'plain' });
      expect(result.data?.[0]?.b64_json).to.be.a('string');
      const call = await lastCall(h, 'plain');
      expect(call.path).to.equal('/v1/images/edits');
      expect(call.model).to.equal('plain');
      expect(call.form?.fields).to.deep.include(['prompt', 'a hat']);
      expect(call.form?.files[0]?.sha256).to.equal(sha256(image));
    });
  });
});
