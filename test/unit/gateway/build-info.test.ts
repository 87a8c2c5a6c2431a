/** /api/version's commit and build date, read from a checkout's files and dist/.built (pure). */
import { expect } from 'chai';
import { buildDate, buildInfo, headCommit, shortCommit } from '../../../lib/gateway/build-info.js';

const HASH = '0bdb3720199f530b622a1934c0db89f32c94819c';

describe('build info (pure)', function () {
  const cases: [string, Record<string, string>, string | null][] = [
    ['detached HEAD', { HEAD: `${HASH}\n` }, HASH],
    ['loose ref', { HEAD: 'ref: refs/heads/main\n', 'refs/heads/main': `${HASH}\n` }, HASH],
    ['packed ref', { HEAD: 'ref: refs/heads/main\n', 'packed-refs': `# pack-refs with: peeled\n${'f'.repeat(40)} refs/heads/other\n${HASH} refs/heads/main\n` }, HASH],
    ['unborn branch', { HEAD: 'ref: refs/heads/main\n' }, null],
    ['no HEAD', {}, null],
    ['garbage', { HEAD: 'hello' }, null],
  ];
  for (const [name, files, want] of cases) {
    it(`headCommit: ${name}`, function () {
      expect(headCommit((file) => files[file] ?? null)).to.equal(want);
    });
  }

  it('short commit and build date as llama-swap stamps them', function () {
    expect(shortCommit(HASH)).to.equal('0bdb372');
    expect(buildDate('2024-05-01T10:20:30.456Z\n')).to.equal('2024-05-01T10:20:30Z');
    expect(buildDate(null)).to.equal('unknown');
    expect(buildDate('yesterday')).to.equal('unknown');
  });

  it('buildInfo has llama-swap field names', function () {
    expect(Object.keys(buildInfo()).sort()).to.deep.equal(['build_date', 'commit', 'version']);
  });
});
