import { expect } from 'chai';
import { Metrics } from '../../lib/metrics.js';

/** The value of one sample line of the exposition text, e.g. `siesta_requests_total{model="a",status="200"}`. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('Metrics.observeRequest', () => {
  it('counts each model and status in its own series, also after the first request of each (cached children)', async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.observeRequest({ model: 'a', status: 200, waitMs: 1500 });
    metrics.observeRequest({ model: 'a', status: 200 });
    metrics.observeRequest({ model: 'a', status: 502, waitMs: 500 });
    metrics.observeRequest({ model: 'b', status: 200 });
    metrics.observeRequest({ model: null, status: 404 });
    const { text } = await metrics.render();
    expect(sample(text, 'siesta_requests_total{model="a",status="200"}')).to.equal(2);
    expect(sample(text, 'siesta_requests_total{model="a",status="502"}')).to.equal(1);
    expect(sample(text, 'siesta_requests_total{model="b",status="200"}')).to.equal(1);
    expect(text).not.to.include('status="404"');
    expect(sample(text, 'siesta_request_wait_seconds_count{model="a"}')).to.equal(2);
    expect(sample(text, 'siesta_request_wait_seconds_sum{model="a"}')).to.equal(2);
    expect(sample(text, 'siesta_request_wait_seconds_count{model="b"}')).to.equal(undefined);
  });
});
