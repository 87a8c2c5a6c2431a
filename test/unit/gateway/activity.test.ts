/** The activity log: bounds, llama-swap's query rules and answers, stats and histograms (pure). */
import { expect } from 'chai';
import { ActivityLog, activityPage, isActivityRequest, parseActivityQuery, type ActivityQuery, type NewActivity } from '../../../lib/gateway/activity.js';
import { activityStats, histogram, percentile } from '../../../lib/gateway/activity-stats.js';
import { NO_TOKENS } from '../../../lib/gateway/usage.js';

function entry(model: string, at: string, extra: Partial<NewActivity['tokens']> = {}): NewActivity {
  return { timestamp: at, model, req_path: '/v1/chat/completions', resp_content_type: 'application/json', resp_status_code: 200, tokens: { ...NO_TOKENS, ...extra }, duration_ms: 10 };
}

describe('activity log (pure)', function () {
  it('keeps the newest metricsMaxInMemory entries, ids never reused; 0 means 1000 as llama-swap', function () {
    const log = new ActivityLog(2);
    for (let index = 0; index < 5; index++) log.add(entry('m', '2024-01-01T00:00:00Z'));
    expect(log.entries().map((stored) => stored.id)).to.deep.equal([4, 5]);
    log.setMax(1);
    expect(log.entries().map((stored) => stored.id)).to.deep.equal([5]);
    expect(ActivityLog.bound(0)).to.equal(1000);
    expect(ActivityLog.bound(-3)).to.equal(1000);
  });

  const queries: [string, Record<string, unknown>, Partial<ActivityQuery> | string][] = [
    ['defaults', {}, { limit: 25, page: 1, sort: 'id', order: 'desc', models: [], start: null, end: null, minId: 0, maxId: 0 }],
    ['models repeat, blanks dropped', { model: ['a', ' b ', ''] }, { models: ['a', 'b'] }],
    ['limit 999', { limit: '999' }, { limit: 999 }],
    ['limit 1000', { limit: '1000' }, 'limit must be between 1 and 999'],
    ['limit 0', { limit: '0' }, 'limit must be between 1 and 999'],
    ['limit x', { limit: 'x' }, 'invalid limit'],
    ['page 0', { page: '0' }, 'page must be >= 1'],
    ['page 3', { page: '3' }, { page: 3 }],
    ['sort column', { sort: 'gen_speed', order: 'ASC' }, { sort: 'gen_speed', order: 'asc' }],
    ['bad sort', { sort: 'drop table' }, 'invalid sort column'],
    ['bad order', { order: 'up' }, 'order must be asc or desc'],
    ['start RFC3339', { start: '2024-01-01T00:00:00Z' }, { start: Date.parse('2024-01-01T00:00:00Z') }],
    ['start not RFC3339', { start: '2024-01-01' }, "invalid 'start' timestamp, use RFC3339 format"],
    ['end before start', { start: '2024-01-02T00:00:00+02:00', end: '2024-01-01T00:00:00Z' }, 'start must be before end'],
    ['min_id 0', { min_id: '0' }, 'min_id must be >= 1'],
    ['min_id above max_id', { min_id: '5', max_id: '4' }, 'min_id must be <= max_id'],
  ];
  for (const [name, params, want] of queries) {
    it(`parseActivityQuery: ${name}`, function () {
      const parsed = parseActivityQuery(params);
      if (typeof want === 'string') expect(parsed).to.deep.equal({ error: want });
      else expect(parsed).to.deep.include(want);
    });
  }

  it('activityPage: filters, sorts by column then id, pages, and marks captures', function () {
    const log = new ActivityLog(10);
    log.add(entry('a', '2024-01-01T00:00:00Z', { tokens_per_second: 5 }));
    log.add(entry('b', '2024-01-02T00:00:00Z', { tokens_per_second: 9 }));
    log.add(entry('a', '2024-01-03T00:00:00Z', { tokens_per_second: 5 }));
    const query = (params: Record<string, unknown>): ActivityQuery => parseActivityQuery(params) as ActivityQuery;
    const ids = (params: Record<string, unknown>): number[] => activityPage(log.entries(), query(params)).data.map((stored) => stored.id);
    expect(ids({})).to.deep.equal([3, 2, 1]);
    expect(ids({ sort: 'gen_speed', order: 'asc' })).to.deep.equal([1, 3, 2]);
    expect(ids({ sort: 'gen_speed' })).to.deep.equal([2, 3, 1]);
    expect(ids({ model: 'a' })).to.deep.equal([3, 1]);
    expect(ids({ start: '2024-01-02T00:00:00Z' })).to.deep.equal([3, 2]);
    expect(ids({ end: '2024-01-02T00:00:00Z' })).to.deep.equal([2, 1]);
    expect(ids({ min_id: '2', max_id: '2' })).to.deep.equal([2]);
    const page = activityPage(log.entries(), query({ limit: '2', page: '2' }), (id) => id === 1);
    expect(page).to.deep.include({ page: 2, limit: 2, total: 3, total_pages: 2 });
    expect(page.data.map((stored) => [stored.id, stored.has_capture])).to.deep.equal([[1, true]]);
    expect(activityPage([], query({}))).to.deep.equal({ data: [], page: 1, limit: 25, total: 0, total_pages: 0 });
  });

  it('activityStats: totals (cache only when positive), histograms of reported speeds, per model', function () {
    const log = new ActivityLog(10);
    log.add(entry('a', '2024-01-01T00:00:00Z', { input_tokens: 10, output_tokens: 5, cache_tokens: -1, prompt_per_second: 100, tokens_per_second: 20 }));
    log.add(entry('a', '2024-01-01T00:00:00Z', { input_tokens: 1, output_tokens: 2, cache_tokens: 4, prompt_per_second: -1, tokens_per_second: 40 }));
    log.add(entry('b', '2024-01-01T00:00:00Z', { input_tokens: 7 }));
    const all = activityStats(log.entries());
    expect(all).to.deep.include({ total_requests: 3, total_input_tokens: 18, total_output_tokens: 7, total_cache_tokens: 4 });
    expect(all.prompt_histogram).to.deep.equal({ bins: [1], min: 100, max: 100, binSize: 0, p50: 100, p95: 100, p99: 100 });
    expect(all.gen_histogram?.bins).to.deep.equal([1, 0, 0, 0, 1]);
    expect(activityStats(log.entries(), 'b')).to.deep.equal({ total_requests: 1, total_input_tokens: 7, total_output_tokens: 0, total_cache_tokens: 0, prompt_histogram: null, gen_histogram: null });
  });

  it("histogram and percentile as llama-swap's store", function () {
    expect(histogram([])).to.equal(null);
    const values = Array.from({ length: 100 }, (_, index) => index + 1);
    const result = histogram(values)!;
    expect(result.bins).to.have.length(8); // ceil(log2(100)) + 1
    expect(result.bins.reduce((a, b) => a + b, 0)).to.equal(100);
    expect(result).to.deep.include({ min: 1, max: 100, binSize: 99 / 8 });
    expect(percentile([1, 2, 3, 4], 50)).to.equal(2.5);
    expect(result.p99).to.be.closeTo(99.01, 1e-9);
  });

  const recorded: [string, string, string, boolean][] = [
    ['POST', '/v1/chat/completions', '/v1/chat/completions', true],
    ['POST', '/v/chat/completions', '/chat/completions', true],
    ['POST', '/v1/audio/transcriptions', '/v1/audio/transcriptions', true],
    ['GET', '/props', '/props', false],
    ['POST', '/upstream/m/v1/chat/completions', '/v1/chat/completions', true],
    ['POST', '/upstream/m/tokenize', '/tokenize', false],
    ['POST', '/api/models/unload', '/api/models/unload', false],
  ];
  for (const [method, path, forwarded, want] of recorded) {
    it(`isActivityRequest(${method} ${path}) = ${want}`, function () {
      expect(isActivityRequest(method, path, forwarded)).to.equal(want);
    });
  }
});
