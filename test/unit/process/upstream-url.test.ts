import { expect } from 'chai';
import { upstreamBase, upstreamUrl } from '../../../lib/process/upstream-url.js';

describe('upstream URLs: the proxy URL\'s path prefixes every call, as the forwarder does for traffic', function () {
  const cases: [string, string, string][] = [
    ['http://127.0.0.1:5800', '/health', 'http://127.0.0.1:5800/health'],
    ['http://127.0.0.1:5800/base', '/health', 'http://127.0.0.1:5800/base/health'],
    ['http://127.0.0.1:5800/base/', '/sleep?level=1', 'http://127.0.0.1:5800/base/sleep?level=1'],
    ['http://127.0.0.1:5800/a/b//', '/v1/completions', 'http://127.0.0.1:5800/a/b/v1/completions'],
    ['http://127.0.0.1:5800/base', 'health', 'http://127.0.0.1:5800/base/health'],
    // The proxy URL's own query and credentials are not sent (the forwarder uses only its path).
    ['http://user:pw@127.0.0.1:5800/base?x=1', '/health', 'http://127.0.0.1:5800/base/health'],
    ['http://[::1]:8080/v', '/is_sleeping', 'http://[::1]:8080/v/is_sleeping'],
    ['https://models.example:443/x', '/health', 'https://models.example/x/health'],
    ['http://localhost', '/health', 'http://localhost/health'],
  ];
  for (const [proxy, path, expected] of cases) {
    it(`${proxy} + ${path} → ${expected}`, function () {
      expect(upstreamUrl(proxy, path)).to.equal(expected);
    });
  }

  it('keeps text that is no URL (an unexpanded macro) without trailing slashes', function () {
    expect(upstreamBase('http://localhost:${PORT}/')).to.equal('http://localhost:${PORT}');
  });
});
