/** `/metrics` as valid Prometheus text whose counters move with the models; `/logs` and `/logs/stream`. */
import { expect } from 'chai';
import { request } from 'node:http';
import supertest from 'supertest';
import { pollUntil } from '../../helpers/wait.js';
import { cleanup, configYaml, serve, threeModels, vllmCmd } from './support.js';

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

interface Exposition {
  readonly types: Map<string, string>;
  readonly samples: Sample[];
}

/**
 * A strict parser of the Prometheus text format (0.0.4): HELP/TYPE comments, then samples
 * `name{label="value",...} number`. Throws on any line that does not fit, and on samples of a
 * family without a TYPE line.
 */
function parseExposition(text: string): Exposition {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  const name = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  // Values as Go's ParseFloat reads them (Prometheus' parser): NaN and Inf in any case (prom-client writes `Nan`).
  const sampleLine = new RegExp(`^(${name})(?:\\{(.*)\\})? (-?(?:[0-9.]+(?:e[+-]?[0-9]+)?)|[+-]?inf|nan)(?: -?[0-9]+)?$`, 'i');
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y;
  expect(text.endsWith('\n'), 'ends with a newline').to.equal(true);
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('# HELP ')) continue;
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      types.set(type[1]!, type[2]!);
      continue;
    }
    const match = sampleLine.exec(line);
    if (!match) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    const body = match[2] ?? '';
    label.lastIndex = 0;
    while (label.lastIndex < body.length) {
      const pair = label.exec(body);
      if (!pair) throw new Error(`bad labels in: ${line}`);
      labels[pair[1]!] = pair[2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    const family = match[1]!.replace(/_(bucket|sum|count)$/, '');
    if (!types.has(match[1]!) && !types.has(family)) throw new Error(`sample without TYPE: ${line}`);
    const raw = match[3]!.toLowerCase();
    samples.push({ name: match[1]!, labels, value: raw === 'nan' ? NaN : raw.endsWith('inf') ? (raw.startsWith('-') ? -Infinity : Infinity) : Number(raw) });
  }
  return { types, samples };
}

function value(exposition: Exposition, name: string, labels: Record<string, string>): number {
  const found = exposition.samples.find((sample) => sample.name === name && Object.entries(labels).every(([key, wanted]) => sample.labels[key] === wanted));
  return found?.value ?? 0;
}

describe('admin: GET /metrics', function () {
  afterEach(cleanup);

  it('is valid Prometheus text, and its counters and histograms move as a model starts, sleeps and wakes', async function () {
    const { app } = await serve(await configYaml(threeModels()), { defaultMetrics: true });
    const agent = supertest(app);
    const scrape = async (): Promise<Exposition> => {
      const response = await agent.get('/metrics').expect(200);
      expect(response.headers['content-type']).to.match(/^text\/plain; version=0\.0\.4/);
      return parseExposition(response.text);
    };

    const before = await scrape();
    expect(before.types.get('siesta_model_state')).to.equal('gauge');
    expect(before.types.get('siesta_model_start_seconds')).to.equal('histogram');
    expect(before.types.get('siesta_request_wait_seconds')).to.equal('histogram');
    expect(before.types.get('siesta_requests_total')).to.equal('counter');
    expect(before.types.get('process_resident_memory_bytes')).to.equal('gauge');
    expect(value(before, 'siesta_model_state', { model: 'qwen-small', state: 'stopped' })).to.equal(1);
    expect(value(before, 'siesta_model_state', { model: 'qwen-small', state: 'ready' })).to.equal(0);

    await agent.post('/api/models/qwen-small/load').expect(200);
    await agent.post('/api/models/qwen-small/sleep').expect(200);
    const chat = { model: 'qwen-small', messages: [{ role: 'user', content: 'hello' }] };
    await agent.post('/v1/chat/completions').send(chat).expect(200);
    await agent.post('/v1/chat/completions').send(chat).expect(200);

    const after = await scrape();
    const small = { model: 'qwen-small' };
    expect(value(after, 'siesta_model_state', { model: 'qwen-small', state: 'ready' })).to.equal(1);
    expect(value(after, 'siesta_model_state', { model: 'qwen-small', state: 'stopped' })).to.equal(0);
    expect(value(after, 'siesta_model_starts_total', small)).to.equal(1);
    expect(value(after, 'siesta_model_sleeps_total', small)).to.equal(1);
    expect(value(after, 'siesta_model_wakes_total', small)).to.equal(1);
    expect(value(after, 'siesta_model_stops_total', small)).to.equal(0);
    expect(value(after, 'siesta_model_start_seconds_count', small)).to.equal(1);
    expect(value(after, 'siesta_model_start_seconds_sum', small)).to.be.greaterThan(0.1);
    expect(value(after, 'siesta_model_sleep_seconds_count', small)).to.equal(1);
    expect(value(after, 'siesta_model_wake_seconds_count', small)).to.equal(1);
    expect(value(after, 'siesta_model_wake_seconds_sum', small)).to.be.greaterThan(0.05);
    expect(value(after, 'siesta_model_wake_seconds_bucket', { model: 'qwen-small', le: '+Inf' })).to.equal(1);
    // Two requests waited: one for the wake, one not at all.
    expect(value(after, 'siesta_request_wait_seconds_count', small)).to.equal(2);
    expect(value(after, 'siesta_request_wait_seconds_sum', small)).to.be.greaterThan(0.05);
    expect(value(after, 'siesta_requests_total', { model: 'qwen-small', status: '200' })).to.equal(2);
    expect(value(after, 'siesta_model_in_flight', small)).to.equal(0);
    // Each step of the sleep and of the wake, timed (HTTP recipe: the call, then the is_sleeping poll).
    expect(before.types.get('siesta_sleep_step_seconds')).to.equal('histogram');
    for (const step of ['sleep POST /sleep?level=1', 'sleep confirm', 'wake POST /wake_up', 'wake confirm']) {
      expect(value(after, 'siesta_sleep_step_seconds_count', { model: 'qwen-small', method: 'http', step }), step).to.equal(1);
    }
    expect(value(after, 'siesta_sleep_step_seconds_sum', { model: 'qwen-small', method: 'http', step: 'wake POST /wake_up' })).to.be.greaterThan(0.04);
    const view = (await agent.get('/api/models').expect(200)).body.models.find((model: { id: string }) => model.id === 'qwen-small');
    expect(view.sleepMethod).to.equal('http');
    expect(view.lastSteps.sleep.map((entry: { step: string }) => entry.step)).to.deep.equal(['POST /sleep?level=1', 'confirm']);
    expect(view.lastSteps.wake.map((entry: { step: string }) => entry.step)).to.deep.equal(['POST /wake_up', 'confirm']);

    await agent.post('/api/models/qwen-small/unload').expect(200);
    expect(value(await scrape(), 'siesta_model_stops_total', small)).to.equal(1);
  });

  it('counts a failed sleep as a fallback to stop', async function () {
    const models = { broken: { backend: 'vllm', cmd: vllmCmd('broken', ['--fail-sleep']) } };
    const { app } = await serve(await configYaml(models));
    const agent = supertest(app);
    await agent.post('/api/models/broken/load').expect(200);
    const slept = await agent.post('/api/models/broken/sleep').expect(200);
    expect(slept.body.result).to.equal('stopped');
    const exposition = parseExposition((await agent.get('/metrics').expect(200)).text);
    expect(value(exposition, 'siesta_model_fallbacks_total', { model: 'broken', kind: 'sleep' })).to.equal(1);
    expect(value(exposition, 'siesta_model_sleeps_total', { model: 'broken' })).to.equal(0);
    expect(value(exposition, 'siesta_model_stops_total', { model: 'broken' })).to.equal(1);
  });
});

describe('admin: logs', function () {
  afterEach(cleanup);

  it('GET /logs shows recent gateway and model lines as text', async function () {
    const { app, gateway } = await serve(await configYaml(threeModels()));
    await supertest(app).post('/api/models/echo/load').expect(200);
    gateway.log.info('hello from the gateway');
    const response = await supertest(app).get('/logs').expect(200).expect('content-type', /^text\/plain/);
    expect(response.text).to.match(/info\s+hello from the gateway/);
    expect(response.text).to.match(/Z \[tiny-echo siesta\] started pid \d+/);
    expect(response.text).to.match(/\[tiny-echo\] .*ready on/);
  });

  it('GET /logs/stream/:model sends history then live lines of that model only, and ends when the gateway closes', async function () {
    const { url, gateway } = await serve(await configYaml(threeModels()));
    await fetch(`${url}/api/models/echo/load`, { method: 'POST' });
    let text = '';
    const response = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
      request(`${url}/logs/stream/echo`, resolve).on('error', reject).end();
    });
    expect(response.statusCode).to.equal(200);
    expect(response.headers['transfer-encoding']).to.equal('chunked');
    response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
    const ended = new Promise((resolve) => response.once('end', resolve));
    await pollUntil(() => /started pid/.test(text), { what: 'history' });
    gateway.manager.process('tiny-echo').logs.push('stdout', 'a live line');
    gateway.manager.process('qwen-small').logs.push('stdout', 'another model');
    gateway.log.info('a gateway line');
    await pollUntil(() => text.includes('a live line'), { what: 'the live line' });
    expect(text).not.to.include('another model');
    expect(text).not.to.include('a gateway line');
    await gateway.close();
    await ended;
  });

  it('GET /logs/stream/:model answers 404 for an unknown model', async function () {
    const { app } = await serve(await configYaml(threeModels()));
    const response = await supertest(app).get('/logs/stream/nope').expect(404);
    expect(response.body.error.code).to.equal('model_not_found');
  });
});
