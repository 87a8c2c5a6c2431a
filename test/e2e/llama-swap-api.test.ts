/**
 * llama-swap's and llmsnap's management API through the gateway to real fake-upstream processes:
 * unload and sleep, version, the activity log (token counts read from usage and timings, streamed
 * or not), captures, in-flight cancel (while waiting for the answer and mid-stream), hardware and
 * performance with a fake nvidia-smi on PATH, /wol-health, /favicon.ico and the log streams.
 */
import { execFileSync } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { expect } from 'chai';
import request from 'supertest';
import { assertNoChildren, pollUntil } from '../helpers/wait.js';
import { chat, cleanup, configYaml, genericCmd, openGateway, tempDir, textParser, track, upstreamCalls, vllmCmd, type Harness } from './support.js';
import { fakeCommand } from '../helpers/fake-upstream.js';

function llamaCmd(model: string, extra: readonly string[] = []): string {
  return fakeCommand(['--port', '${PORT}', '--backend', 'llama-server', '--model', model, '--start-delay', '50ms', ...extra]);
}

/** Listen on an ephemeral loopback port (closed by cleanup). */
async function listen(h: Harness): Promise<string> {
  const server = h.app.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  track({
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Open a streamed GET and collect its text as it comes. */
async function follow(url: string): Promise<{ response: IncomingMessage; text: () => string }> {
  let text = '';
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    httpRequest(url, resolve).on('error', reject).end();
  });
  response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  return { response, text: () => text };
}

describe('e2e: llama-swap management API', function () {
  this.timeout(30_000);
  afterEach(cleanup);
  after(assertNoChildren);

  describe('models', function () {
    it('unloads one model by a path with slashes, all models, and answers llama-swap 404 for an unknown one', async function () {
      const h = await openGateway(await configYaml({ 'org/echo': { cmd: genericCmd('org/echo') }, other: { cmd: genericCmd('other') } }));
      await request(h.app).post('/v1/chat/completions').send(chat('org/echo')).expect(200);
      expect(h.gateway.manager.process('org/echo').state).to.equal('ready');
      const one = await request(h.app).post('/api/models/unload/org/echo').expect(200);
      expect(one.text).to.equal('OK');
      expect(h.gateway.manager.process('org/echo').state).to.equal('stopped');
      const missing = await request(h.app).post('/api/models/unload/nope').expect(404);
      expect(missing.body.error).to.include({ message: 'model not found' });
      await request(h.app).post('/v1/chat/completions').send(chat('other')).expect(200);
      const all = await request(h.app).post('/api/models/unload').expect(200);
      expect(all.body.msg).to.equal('ok');
      expect(all.body.models.map((model: { state: string }) => model.state)).to.deep.equal(['stopped', 'stopped']);
    });

    it("sleeps a model as llmsnap: OK once asleep, OK for a stopped one, 500 when it cannot sleep, 404 unknown", async function () {
      const h = await openGateway(await configYaml({ qwen: { cmd: vllmCmd('qwen'), backend: 'vllm' }, echo: { cmd: genericCmd('echo') } }));
      expect((await request(h.app).post('/api/models/sleep/qwen').expect(200)).text).to.equal('OK'); // stopped: llmsnap logs and answers OK
      await request(h.app).post('/v1/chat/completions').send(chat('qwen')).expect(200);
      expect((await request(h.app).post('/api/models/sleep/qwen').expect(200)).text).to.equal('OK');
      expect(h.gateway.manager.process('qwen').state).to.equal('asleep');
      const cannot = await request(h.app).post('/api/models/sleep/echo').expect(500);
      expect(cannot.body.error.message).to.equal('error sleeping process: model does not support sleep mode');
      expect((await request(h.app).post('/api/models/sleep/nope').expect(404)).body.error.message).to.equal('Model not found');
      // siesta's own action paths still answer beside them.
      const woke = await request(h.app).post('/api/models/qwen/wake').expect(200);
      expect(woke.body.model.state).to.equal('ready');
    });
  });

  it('GET /api/version: siesta version, the checkout commit, build date', async function () {
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }));
    const response = await request(h.app).get('/api/version').expect(200);
    expect(Object.keys(response.body).sort()).to.deep.equal(['build_date', 'commit', 'version']);
    expect(response.body.version).to.match(/^\d+\.\d+\.\d+/);
    const head = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    expect(response.body.commit).to.equal(head.slice(0, 7));
    expect(response.body.build_date).to.equal('unknown'); // the sources run, not dist/
  });

  describe('activity and captures', function () {
    it('records model, timings and tokens from llama-server timings and OpenAI usage, streamed or not', async function () {
      const h = await openGateway(await configYaml({ llama: { cmd: llamaCmd('llama', ['--tokens', '4']) }, echo: { cmd: genericCmd('echo', ['--tokens', '3']) } }));
      await request(h.app).post('/v1/chat/completions').send(chat('llama')).expect(200);
      await request(h.app).post('/v1/chat/completions').send(chat('llama', { stream: true })).buffer(true).parse(textParser).expect(200);
      await request(h.app).post('/v1/chat/completions').send(chat('echo', { stream: true, stream_options: { include_usage: true } })).buffer(true).parse(textParser).expect(200);
      await request(h.app).post('/v1/chat/completions').send(chat('nope')).expect(404); // no model: not recorded
      const page = (await request(h.app).get('/api/metrics/activity').expect(200)).body;
      expect(page).to.include({ page: 1, limit: 25, total: 3, total_pages: 1 });
      const [echoStream, llamaStream, llamaWhole] = page.data; // newest first
      for (const entry of page.data) {
        expect(entry).to.include({ req_path: '/v1/chat/completions', resp_status_code: 200, has_capture: true });
        expect(entry.duration_ms).to.be.a('number').at.least(0);
        expect(Date.parse(entry.timestamp)).to.be.closeTo(Date.now(), 60_000);
      }
      expect(llamaWhole).to.include({ model: 'llama', resp_content_type: 'application/json' });
      expect(llamaWhole.tokens.output_tokens).to.equal(4);
      expect(llamaWhole.tokens.input_tokens).to.be.above(0);
      expect(llamaWhole.tokens.tokens_per_second).to.be.above(0);
      expect(llamaStream.model).to.equal('llama');
      expect(llamaStream.resp_content_type).to.match(/text\/event-stream/);
      expect(llamaStream.tokens.output_tokens).to.equal(4);
      expect(echoStream.model).to.equal('echo');
      expect(echoStream.tokens).to.include({ output_tokens: 3, prompt_per_second: -1, tokens_per_second: -1, cache_tokens: -1 });
      expect(echoStream.tokens.input_tokens).to.be.above(0);
      expect(page.data.map((entry: { id: number }) => entry.id)).to.deep.equal([3, 2, 1]);

      const filtered = (await request(h.app).get('/api/metrics/activity?model=echo&sort=id&order=asc').expect(200)).body;
      expect(filtered.data.map((entry: { model: string }) => entry.model)).to.deep.equal(['echo']);
      const bad = await request(h.app).get('/api/metrics/activity?limit=1000').expect(400);
      expect(bad.body.error.message).to.equal('limit must be between 1 and 999');

      const stats = (await request(h.app).get('/api/metrics/stats').expect(200)).body;
      expect(stats.total_requests).to.equal(3);
      expect(stats.total_output_tokens).to.equal(11);
      expect(stats.gen_histogram.bins.reduce((a: number, b: number) => a + b, 0)).to.equal(2);
      expect((await request(h.app).get('/api/metrics/stats?model=echo').expect(200)).body).to.include({ total_requests: 1, prompt_histogram: null, gen_histogram: null });
    });

    it('captures request and response bodies with credentials redacted; 400 and 404 as llama-swap', async function () {
      const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo', ['--tokens', '2']) } }, { apiKeys: ['sk-secret'] }));
      await request(h.app).post('/v1/chat/completions').set('Authorization', 'Bearer sk-secret').set('Cookie', 'a=b').send(chat('echo')).expect(200);
      const [entry] = (await request(h.app).get('/api/metrics/activity').set('x-api-key', 'sk-secret').expect(200)).body.data;
      expect(entry.has_capture).to.equal(true);
      const capture = (await request(h.app).get(`/api/captures/${entry.id}`).set('x-api-key', 'sk-secret').expect(200)).body;
      expect(capture).to.include({ id: entry.id, req_path: '/v1/chat/completions' });
      expect(capture.req_headers).to.include({ Authorization: '[REDACTED]', Cookie: '[REDACTED]', 'Content-Type': 'application/json' });
      expect(JSON.stringify(capture)).not.to.include('sk-secret');
      expect(JSON.parse(Buffer.from(capture.req_body, 'base64').toString('utf8'))).to.include({ model: 'echo' });
      const answer = JSON.parse(Buffer.from(capture.resp_body, 'base64').toString('utf8')) as { object: string };
      expect(answer.object).to.equal('chat.completion');
      expect(capture.resp_headers['Content-Type']).to.match(/application\/json/);
      expect((await request(h.app).get('/api/captures/abc').set('x-api-key', 'sk-secret').expect(400)).body.error.message).to.equal('invalid capture ID');
      expect((await request(h.app).get('/api/captures/99').set('x-api-key', 'sk-secret').expect(404)).body.error.message).to.equal('capture not found');
    });

    it('keeps metricsMaxInMemory entries and no captures with captureBuffer 0', async function () {
      const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo', ['--tokens', '1']) } }, { metricsMaxInMemory: 2, captureBuffer: 0 }));
      for (let index = 0; index < 3; index++) await request(h.app).post('/v1/completions').send({ model: 'echo', prompt: 'hi' }).expect(200);
      const page = (await request(h.app).get('/api/metrics/activity').expect(200)).body;
      expect(page.data.map((entry: { id: number; has_capture: boolean }) => [entry.id, entry.has_capture])).to.deep.equal([[3, false], [2, false]]);
      await request(h.app).get('/api/captures/3').expect(404);
    });
  });

  describe('in-flight cancel', function () {
    it('ends a stream under way cleanly and aborts the model server request', async function () {
      const h = await openGateway(await configYaml({ slow: { cmd: genericCmd('slow', ['--tokens', '200', '--token-interval', '100ms']) } }));
      const url = await listen(h);
      let text = '';
      const response = await new Promise<IncomingMessage>((resolve, reject) => {
        const body = JSON.stringify(chat('slow', { stream: true }));
        httpRequest(`${url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, resolve).on('error', reject).end(body);
      });
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      const ended = new Promise<boolean>((resolve) => {
        response.once('end', () => resolve(true));
        response.once('error', () => resolve(false));
      });
      await pollUntil(() => text.includes('chatcmpl'), { what: 'the first chunk' });
      const inflight = (await request(h.app).get('/api/inflight').expect(200)).body;
      expect(inflight.operation).to.equal('snapshot');
      expect(inflight.requests).to.have.length(1);
      const [entry] = inflight.requests;
      expect(entry).to.include({ model: 'slow', req_path: '/v1/chat/completions', method: 'POST', remote_ip: '127.0.0.1' });
      expect(entry.resp_bytes).to.be.above(0);
      expect((await request(h.app).post(`/api/inflight/${entry.id}/cancel`).expect(200)).body).to.deep.equal({ msg: 'ok' });
      expect(await ended).to.equal(true);
      expect(text).not.to.include('[DONE]');
      const [call] = await upstreamCalls(h.gateway, 'slow');
      await pollUntil(async () => ((await upstreamCalls(h.gateway, 'slow'))[0]?.endedAt ?? null) !== null, { what: 'the upstream request to end' });
      expect(call?.path).to.equal('/v1/chat/completions');
      expect((await request(h.app).get('/api/inflight').expect(200)).body.requests).to.deep.equal([]);
      await request(h.app).post(`/api/inflight/${entry.id}/cancel`).expect(404);
      const [recorded] = (await request(h.app).get('/api/metrics/activity').expect(200)).body.data;
      expect(recorded).to.include({ model: 'slow', resp_status_code: 200 });
    });

    it('answers 502 while waiting for the model server, and 404 for an unknown id', async function () {
      const h = await openGateway(await configYaml({ late: { cmd: genericCmd('late', ['--latency', '20s']) } }));
      const pending = request(h.app).post('/v1/chat/completions').send(chat('late')).then((response) => response);
      const entry = await pollUntil(async () => {
        const { requests } = (await request(h.app).get('/api/inflight').expect(200)).body as { requests: { id: string }[] };
        const [first] = requests;
        if (!first) return null;
        // Wait until the request reached the model server.
        return (await upstreamCalls(h.gateway, 'late')).length > 0 ? first : null;
      }, { what: 'the request at the model server' });
      await request(h.app).post(`/api/inflight/${entry.id}/cancel`).expect(200);
      const response = await pending;
      expect(response.status).to.equal(502);
      expect(response.body.error.message).to.match(/cancelled/);
      await pollUntil(async () => ((await upstreamCalls(h.gateway, 'late'))[0]?.endedAt ?? null) !== null, { what: 'the upstream request to end' });
      expect((await request(h.app).post('/api/inflight/12345/cancel').expect(404)).body.error.message).to.equal('inflight request not found');
    });

    it('answers 502 at once while the model is still starting', async function () {
      const h = await openGateway(await configYaml({ cold: { cmd: fakeCommand(['--port', '${PORT}', '--model', 'cold', '--start-delay', '20s']) } }));
      const pending = request(h.app).post('/v1/chat/completions').send(chat('cold')).then((response) => response);
      const entry = await pollUntil(async () => ((await request(h.app).get('/api/inflight').expect(200)).body as { requests: { id: string }[] }).requests[0], { what: 'the request' });
      await request(h.app).post(`/api/inflight/${entry.id}/cancel`).expect(200);
      const response = await pending;
      expect(response.status).to.equal(502);
      expect(response.body.error.message).to.match(/^Request cancelled by POST \/api\/inflight\/\d+\/cancel$/);
    });
  });

  describe('hardware and performance', function () {
    let savedPath: string | undefined;
    beforeEach(function () {
      savedPath = process.env['PATH'];
    });
    afterEach(function () {
      process.env['PATH'] = savedPath;
    });

    /**
     * nvidia-smi as its documentation describes `--format=csv,noheader,nounits`: one line per GPU,
     * values separated by ", ", no units, `[N/A]` for what the board does not report. This driver
     * is too old for the `architecture` field (nvidia-smi then fails), so siesta falls back to
     * `compute_cap`, as llama-swap.
     */
    async function fakeNvidiaSmi(): Promise<string> {
      const dir = await tempDir('siesta-nvidia-');
      const script = `#!/bin/sh
case "$1" in
  --query-gpu=index,name,uuid,pci.bus_id,memory.total,driver_version,power.limit)
    echo "0, NVIDIA GeForce RTX 4090, GPU-0e4f5c1a-8b1d-4c2e-9f3a-1b2c3d4e5f60, 00000000:41:00.0, 24564, 550.54.14, 450.00"
    echo "1, NVIDIA RTX A4000, GPU-7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d, 00000000:01:00.0, 16376, 550.54.14, [N/A]" ;;
  --query-gpu=index,architecture)
    echo 'Field "architecture" is not a valid field to query.' >&2; exit 2 ;;
  --query-gpu=index,compute_cap)
    echo "0, 8.9"
    echo "1, 8.6" ;;
  --query-gpu=index,name,uuid,temperature.gpu,utilization.gpu,memory.used,memory.total,fan.speed,power.draw)
    echo "0, NVIDIA GeForce RTX 4090, GPU-0e4f5c1a-8b1d-4c2e-9f3a-1b2c3d4e5f60, 45, 3, 1234, 24564, 30, 35.12"
    echo "1, NVIDIA RTX A4000, GPU-7a6b5c4d-3e2f-1a0b-9c8d-7e6f5a4b3c2d, 38, 0, 0, 16376, [N/A], 14.50" ;;
  *) echo "unknown query $*" >&2; exit 2 ;;
esac
`;
      await writeFile(join(dir, 'nvidia-smi'), script);
      await chmod(join(dir, 'nvidia-smi'), 0o755);
      return dir;
    }

    it('lists the GPUs nvidia-smi reports in llama-swap hardware snapshot', async function () {
      process.env['PATH'] = `${await fakeNvidiaSmi()}:${savedPath ?? ''}`;
      const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }));
      const snapshot = (await request(h.app).get('/api/hardware').expect(200)).body;
      expect(snapshot).to.include({ schema_version: 1 });
      expect(snapshot.capture).to.deep.include({ scope: 'inference_host', method: 'detected' });
      expect(snapshot.memory.capacity_bytes).to.be.above(0);
      expect(snapshot.accelerators).to.deep.equal([
        // Sorted by PCI address, as llama-swap: the A4000 sits at 01:00.0.
        { index: 0, kind: 'gpu', vendor: 'NVIDIA', model: 'NVIDIA RTX A4000', architecture: 'Ampere', memory: { kind: 'dedicated', capacity_bytes: 16376 * 1024 * 1024 }, driver: { name: 'NVIDIA', version: '550.54.14' }, power_limit_watts: null },
        { index: 1, kind: 'gpu', vendor: 'NVIDIA', model: 'NVIDIA GeForce RTX 4090', architecture: 'Ada Lovelace', memory: { kind: 'dedicated', capacity_bytes: 24564 * 1024 * 1024 }, driver: { name: 'NVIDIA', version: '550.54.14' }, power_limit_watts: 450 },
      ]);
      const performance = (await request(h.app).get('/api/performance').expect(200)).body;
      expect(performance.enabled).to.equal(true);
      expect(performance.gpu_stats.map((gpu: { id: number; temp_c: number; mem_used_mb: number; fan_speed_pct: number; power_draw_w: number }) => [gpu.id, gpu.temp_c, gpu.mem_used_mb, gpu.fan_speed_pct, gpu.power_draw_w])).to.deep.equal([
        [0, 45, 1234, 30, 35.12],
        [1, 38, 0, 0, 14.5],
      ]);
    });

    it('answers an empty GPU list without nvidia-smi, and performance with siesta figures', async function () {
      process.env['PATH'] = '/nonexistent-siesta-path';
      const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo', ['--tokens', '2']) } }));
      process.env['PATH'] = savedPath;
      await request(h.app).post('/v1/chat/completions').send(chat('echo')).expect(200);
      process.env['PATH'] = '/nonexistent-siesta-path';
      expect((await request(h.app).get('/api/hardware').expect(200)).body.accelerators).to.deep.equal([]);
      const performance = (await request(h.app).get('/api/performance').expect(200)).body;
      expect(performance.gpu_stats).to.deep.equal([]);
      const [sys] = performance.sys_stats;
      expect(sys.cpu_util_per_core).to.be.an('array').that.is.not.empty;
      expect(sys.mem_total_mb).to.be.above(0);
      expect(performance.siesta.process.rss_bytes).to.be.above(0);
      expect(performance.siesta.requests).to.include({ recorded: 1, failed: 0, in_flight: 0, output_tokens: 2 });
      expect((await request(h.app).get('/api/performance?after=2999-01-01T00:00:00Z').expect(200)).body.sys_stats).to.deep.equal([]);
      expect((await request(h.app).get('/api/performance?after=yesterday').expect(400)).body.error.message).to.equal("invalid 'after' timestamp, use RFC3339 format");
    });
  });

  it('GET /wol-health answers as /health; GET /favicon.ico serves an icon', async function () {
    const h = await openGateway(await configYaml({ echo: { cmd: genericCmd('echo') } }));
    expect((await request(h.app).get('/wol-health').expect(200)).text).to.equal('OK');
    const icon = await request(h.app).get('/favicon.ico').expect(200);
    expect(icon.headers['content-type']).to.match(/image\/(x-icon|vnd\.microsoft\.icon)/);
    expect((icon.body as Buffer).subarray(0, 4)).to.deep.equal(Buffer.from([0, 0, 1, 0]));
  });

  describe('log streams', function () {
    it('follows the gateway (proxy), every model (upstream) or one model, with and without history', async function () {
      const h = await openGateway(await configYaml({ 'org/echo': { cmd: genericCmd('org/echo') }, other: { cmd: genericCmd('other') } }));
      const url = await listen(h);
      await request(h.app).post('/api/models/org%2Fecho/load');
      h.gateway.log.info('old gateway line');
      h.gateway.manager.process('org/echo').logs.push('stdout', 'old echo line');
      const proxy = await follow(`${url}/logs/stream/proxy`);
      const upstream = await follow(`${url}/logs/stream/upstream?no-history`);
      const model = await follow(`${url}/logs/stream/org/echo`);
      const live = await follow(`${url}/logs/stream?no-history`);
      expect(proxy.response.statusCode).to.equal(200);
      await pollUntil(() => proxy.text().includes('old gateway line') && model.text().includes('old echo line'), { what: 'history' });
      h.gateway.log.info('new gateway line');
      h.gateway.manager.process('org/echo').logs.push('stdout', 'new echo line');
      h.gateway.manager.process('other').logs.push('stdout', 'new other line');
      await pollUntil(() => upstream.text().includes('new other line') && live.text().includes('new other line') && proxy.text().includes('new gateway line') && model.text().includes('new echo line'), { what: 'live lines' });
      expect(proxy.text()).not.to.match(/echo line|other line/);
      expect(upstream.text()).to.include('new echo line');
      expect(upstream.text()).not.to.match(/gateway line|old echo line/);
      expect(model.text()).not.to.match(/gateway line|other line/);
      expect(live.text()).to.include('new gateway line');
      expect(live.text()).not.to.match(/old gateway line|old echo line/);
      await h.gateway.close();
    });
  });
});
