/**
 * The management API of llama-swap (internal/server/server.go, apigroup.go) and llmsnap
 * (proxy/proxymanager_api.go) on their own paths, mounted under `/api` before siesta's own admin
 * API and behind the same admin auth. Paths it does not know fall through to the admin API.
 *
 *   POST /api/models/unload               stop every model: `{"msg":"ok"}` (plus siesta's `models`)
 *   POST /api/models/unload/{model...}    stop one model (ids may contain slashes): `OK`
 *   POST /api/models/sleep/{model...}     llmsnap: put one model to sleep: `OK`
 *   GET  /api/version                     `{ version, commit, build_date }`
 *   GET  /api/metrics/activity            the activity log, a page at a time (llama-swap's query)
 *   GET  /api/metrics/stats               totals and speed histograms (`?model=`)
 *   GET  /api/captures/{id}               a request/response capture (when captureBuffer > 0)
 *   GET  /api/inflight                    siesta: requests in progress, as llama-swap's `inflight` snapshot event
 *   POST /api/inflight/{id}/cancel        abort a request in progress: `{"msg":"ok"}`
 *   GET  /api/hardware                    the machine: CPU, memory, NVIDIA GPUs (via nvidia-smi)
 *   GET  /api/performance                 a system/GPU sample, plus the gateway process and its requests
 *
 * Errors are OpenAI-shaped with llama-swap's statuses and messages.
 */
import express, { type Request, type Router } from 'express';
import type { GatewayConfig } from '../lib/config/types.js';
import { GatewayError } from '../lib/errors.js';
import { activityPage, parseActivityQuery } from '../lib/gateway/activity.js';
import { activityStats } from '../lib/gateway/activity-stats.js';
import { buildInfo } from '../lib/gateway/build-info.js';
import { captureJson } from '../lib/gateway/captures.js';
import { detectHardware, type HardwareSnapshot } from '../lib/gateway/hardware.js';
import type { ModelManager } from '../lib/gateway/model-manager.js';
import { modelViews } from '../lib/gateway/model-view.js';
import type { NvidiaSmiOptions } from '../lib/gateway/nvidia-smi.js';
import { PerformanceSampler } from '../lib/gateway/performance.js';
import { journalOf, type RequestJournal } from '../lib/gateway/request-journal.js';
import type { Logger } from '../lib/logger.js';
import { packageVersion } from '../lib/package-root.js';

export interface LlamaSwapApiOptions {
  readonly manager: ModelManager;
  readonly config: Pick<GatewayConfig, 'metricsMaxInMemory' | 'captureBufferBytes'>;
  /** The gateway's logger: its request journal is found from it (see request-journal.ts). */
  readonly log: Logger;
  /** Default: the journal of `log`. */
  readonly journal?: RequestJournal;
  /** How to run nvidia-smi (tests). */
  readonly nvidiaSmi?: NvidiaSmiOptions;
}

/** `{model...}`: Express 5 hands the segments of a `*name` wildcard as an array. */
function wildcard(req: Request, name: string): string {
  const value: unknown = req.params[name as keyof typeof req.params];
  const joined = Array.isArray(value) ? value.join('/') : typeof value === 'string' ? value : '';
  return joined.replace(/^\/+/, '');
}

/** RFC 3339, as Go's time.Parse(time.RFC3339, …) accepts it. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

export function createLlamaSwapApi(options: Readonly<LlamaSwapApiOptions>): Router {
  const { manager, config } = options;
  const journal = options.journal ?? journalOf(options.log);
  journal.configure({ metricsMaxInMemory: config.metricsMaxInMemory, captureBufferBytes: config.captureBufferBytes });
  const sampler = new PerformanceSampler(options.nvidiaSmi);
  // Detected once, on first use (llama-swap detects once at startup).
  let hardware: Promise<HardwareSnapshot> | null = null;
  const router = express.Router();

  router.post('/models/unload', async function unloadAllHandler(_req, res) {
    await manager.unloadAll();
    res.json({ msg: 'ok', models: modelViews(manager) });
  });

  router.post('/models/unload/*model', async function unloadModelHandler(req, res) {
    const model = manager.resolve(wildcard(req, 'model'));
    if (!model) throw new GatewayError('model_not_found', 'model not found');
    await manager.unload(model.id);
    res.type('text/plain').send('OK');
  });

  // llmsnap's answers: 404 unknown model, 500 when the model has no sleep mode, otherwise OK once
  // done (also when its state does not allow a sleep: llmsnap then logs and answers OK).
  router.post('/models/sleep/*model', async function sleepModelHandler(req, res) {
    const model = manager.resolve(wildcard(req, 'model'));
    if (!model) throw new GatewayError('model_not_found', 'Model not found');
    try {
      await manager.sleep(model.id);
    } catch (error) {
      if (error instanceof GatewayError && error.code === 'cannot_sleep') throw new GatewayError('internal', 'error sleeping process: model does not support sleep mode', { cause: error });
      if (!(error instanceof GatewayError && error.code === 'invalid_state')) throw error;
    }
    res.type('text/plain').send('OK');
  });

  router.get('/version', function versionHandler(_req, res) {
    res.json(buildInfo());
  });

  router.get('/metrics/activity', function activityHandler(req, res) {
    const query = parseActivityQuery(req.query);
    if ('error' in query) throw new GatewayError('bad_request', query.error);
    res.json(activityPage(journal.activity.entries(), query, (id) => journal.captures.has(id)));
  });

  router.get('/metrics/stats', function activityStatsHandler(req, res) {
    const model = req.query['model'];
    res.json(activityStats(journal.activity.entries(), typeof model === 'string' ? model : ''));
  });

  router.get('/captures/:id', function captureHandler(req, res) {
    const raw = req.params['id'] ?? '';
    if (!/^[+-]?\d+$/.test(raw)) throw new GatewayError('bad_request', 'invalid capture ID');
    const capture = journal.captures.get(Number(raw));
    if (!capture) throw new GatewayError('not_found', 'capture not found');
    res.json(captureJson(capture));
  });

  router.get('/inflight', function inflightHandler(_req, res) {
    res.json({ operation: 'snapshot', requests: journal.inflight.list() });
  });

  router.post('/inflight/:id/cancel', function cancelInflightHandler(req, res) {
    if (!journal.inflight.cancel(req.params['id'] ?? '')) throw new GatewayError('not_found', 'inflight request not found');
    res.json({ msg: 'ok' });
  });

  router.get('/hardware', async function hardwareHandler(_req, res) {
    hardware ??= detectHardware({ version: packageVersion(), ...options.nvidiaSmi });
    res.json(await hardware);
  });

  router.get('/performance', async function performanceHandler(req, res) {
    const after = req.query['after'];
    let afterMs: number | null = null;
    if (after !== undefined) {
      afterMs = typeof after === 'string' && RFC3339.test(after) ? Date.parse(after) : NaN;
      if (Number.isNaN(afterMs)) throw new GatewayError('bad_request', "invalid 'after' timestamp, use RFC3339 format");
    }
    const totals = journal.totals;
    const answer = await sampler.sample({
      in_flight: journal.inflight.size,
      recorded: totals.recorded,
      failed: totals.failed,
      input_tokens: totals.inputTokens,
      output_tokens: totals.outputTokens,
      activity_kept: journal.activity.entries().length,
      capture_bytes: journal.captures.bytes,
    });
    const keep = <T extends { timestamp: string }>(stats: readonly T[]): readonly T[] => (afterMs === null ? stats : stats.filter((stat) => Date.parse(stat.timestamp) > afterMs));
    res.json({ ...answer, sys_stats: keep(answer.sys_stats), gpu_stats: keep(answer.gpu_stats) });
  });

  return router;
}
