/** lib/config/base-url.ts: the one check for model proxies, llama-swap peers and cluster peers. */
import { expect } from 'chai';
import { checkBaseUrl } from '../../../lib/config/base-url.js';

describe('config: checkBaseUrl', function () {
  const table: readonly (readonly [string, string, readonly string[]])[] = [
    ['http://10.0.0.6:8080', 'http://10.0.0.6:8080', []],
    ['https://peer.example/v1//', 'https://peer.example/v1', []],
    ['ftp://peer.example', 'ftp://peer.example', ['must be an http:// or https:// URL']],
    ['localhost:8080', 'localhost:8080', ['must be an http:// or https:// URL']],
    ['10.0.0.6:8080', '10.0.0.6:8080', ['bad']],
    ['not a url', 'not a url', ['bad']],
    ['', '', ['bad']],
  ];
  for (const [text, url, messages] of table) {
    it(`${JSON.stringify(text)} → ${JSON.stringify(url)}${messages.length ? ` (${messages.join('; ')})` : ''}`, function () {
      const reported: string[] = [];
      expect(checkBaseUrl(text, ['x'], (_at, message) => reported.push(message), 'bad')).to.equal(url);
      expect(reported).to.deep.equal(messages);
    });
  }
});
