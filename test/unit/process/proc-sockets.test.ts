import { expect } from 'chai';
import { parseListeners, parseStat, processTree, statFieldsAfterName, type ProcStat } from '../../../lib/process/proc-sockets.js';

describe('/proc parsers', function () {
  it('reads listening sockets from /proc/net/tcp and tcp6, skipping other states', function () {
    const tcp = [
      '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1608 1 0000000033218d94 100 0 0 10 0',
      '   1: 0100007F:16A8 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 77847 1 00000000498a1b0e 100 0 0 10 0',
      '   2: 0100007F:16A8 0100007F:D2F0 01 00000000:00000000 00:00000000 00000000  1000        0 77900 1 00000000498a1b0e 20 4 30 10 -1',
      '   3: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 0 1 0000000000000000 100 0 0 10 0',
      '',
    ].join('\n');
    expect(parseListeners(tcp)).to.deep.equal([
      { address: '00000000', port: 2024, inode: 1608 },
      { address: '0100007F', port: 5800, inode: 77847 },
    ]);
    const tcp6 = [
      '  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode',
      '   0: 00000000000000000000000001000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0',
    ].join('\n');
    expect(parseListeners(tcp6)).to.deep.equal([{ address: '00000000000000000000000001000000', port: 8080, inode: 4242 }]);
    expect(parseListeners('')).to.deep.equal([]);
  });

  const stats: [string, ProcStat | null][] = [
    ['123 (node) S 1 123 123 0 -1 4194560 0 0', { ppid: 1, pgrp: 123 }],
    ['456 (my (odd) name) R 123 123 99 0', { ppid: 123, pgrp: 123 }],
    ['789 (a b) S 456 700 700', { ppid: 456, pgrp: 700 }],
    ['', null],
    ['1 (x) S', null],
  ];
  it('statFieldsAfterName: field 3 first, whatever the name holds (start time is index 19)', function () {
    const fields = statFieldsAfterName('42 (a) b) c) Z 1 42 42 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 98765 1000');
    expect(fields[0]).to.equal('Z');
    expect(fields[19]).to.equal('98765');
  });

  for (const [text, expected] of stats) {
    it(`parseStat(${JSON.stringify(text)})`, function () {
      expect(parseStat(text)).to.deep.equal(expected);
    });
  }

  it('finds a spawned command\'s tree: its group, descendants of the leader, and members left by an exited leader', function () {
    const table = new Map<number, ProcStat>([
      [1, { ppid: 0, pgrp: 1 }],
      [100, { ppid: 1, pgrp: 100 }], // the gateway
      [200, { ppid: 100, pgrp: 200 }], // the model's leader
      [201, { ppid: 200, pgrp: 200 }], // vLLM engine core
      [202, { ppid: 201, pgrp: 300 }], // a grandchild in a group of its own
      [203, { ppid: 1, pgrp: 200 }], // orphaned member of the group
      [204, { ppid: 203, pgrp: 400 }], // its child, elsewhere
      [500, { ppid: 1, pgrp: 500 }], // a stranger
    ]);
    expect([...processTree(200, table)].sort((a, b) => a - b)).to.deep.equal([200, 201, 202, 203, 204]);
    // The leader already exited: its group still counts.
    table.delete(200);
    expect([...processTree(200, table)].sort((a, b) => a - b)).to.deep.equal([200, 201, 202, 203, 204]);
    expect([...processTree(999, table)]).to.deep.equal([999]);
  });
});
