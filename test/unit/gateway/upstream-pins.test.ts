import { expect } from 'chai';
import { pinUpstreamPath } from '../../../lib/gateway/name-routing.js';

// llama-swap's TestServer_ProfileMiddleware_RewriteUpstreamPath, as a table.
describe('pinUpstreamPath (profile pins on /upstream paths)', function () {
  const cases: [string, string, Record<string, string>, { pin: string; target: string; path: string } | null][] = [
    ['pin', 'public/v1/chat/completions', { public: 'real' }, { pin: 'public', target: 'real', path: 'real/v1/chat/completions' }],
    ['longest pin', 'author/public/v1/chat/completions', { author: 'short', 'author/public': 'real' }, { pin: 'author/public', target: 'real', path: 'real/v1/chat/completions' }],
    ['disabled', 'disabled/v1/chat/completions', { disabled: '' }, { pin: 'disabled', target: '', path: '/v1/chat/completions' }],
    ['not pinned', 'real/v1/chat/completions', { public: 'real' }, null],
    ['the whole path', 'public', { public: 'real' }, { pin: 'public', target: 'real', path: 'real' }],
    ['a prefix that is not a whole segment does not match', 'publicity/x', { public: 'real' }, null],
    ['leading slashes are ignored', '/public/x', { public: 'real' }, { pin: 'public', target: 'real', path: 'real/x' }],
  ];
  for (const [name, path, pins, expected] of cases) {
    it(name, function () {
      expect(pinUpstreamPath(path, pins)).to.deep.equal(expected);
    });
  }
});
