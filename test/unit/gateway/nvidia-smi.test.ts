/** nvidia-smi's CSV (`--format=csv,noheader,nounits`) as llama-swap parses it, and the hardware snapshot's ordering (pure). */
import { expect } from 'chai';
import { architectureForComputeCapability, optionalNumber, parseCsv, parseIndexedValues, parseLiveQuery, parseStaticQuery } from '../../../lib/gateway/nvidia-smi.js';
import { cpuTopology, nvidiaAccelerators, osRelease, pciIdentity } from '../../../lib/gateway/hardware.js';

const STATIC = `0, NVIDIA GeForce RTX 3090, GPU-11111111-2222-3333-4444-555555555555, 00000000:0A:00.0, 24576, 535.183.01, 350.00
1, Tesla T4, GPU-66666666-7777-8888-9999-000000000000, 00000000:03:00.0, 15360, 535.183.01, [N/A]
`;

describe('nvidia-smi parsing (pure)', function () {
  it('parseCsv: spaces after commas dropped, quoted fields, blank lines skipped', function () {
    expect(parseCsv('0, a, b\n\n"x, y", "say ""hi""",z\r\n')).to.deep.equal([['0', 'a', 'b'], ['x, y', 'say "hi"', 'z']]);
  });

  const numbers: [string, number | null][] = [['24576', 24576], [' 35.12 ', 35.12], ['[N/A]', null], ['N/A', null], ['[Not Supported]', null], ['', null], ['abc', null]];
  for (const [text, want] of numbers) {
    it(`optionalNumber(${JSON.stringify(text)}) = ${String(want)}`, function () {
      expect(optionalNumber(text)).to.equal(want);
    });
  }

  it('parseStaticQuery: MiB to bytes, [N/A] power as 0; any row without 7 columns rejects the output', function () {
    const records = parseStaticQuery(STATIC)!;
    expect(records.map((record) => [record.index, record.name, record.busId, record.memoryBytes, record.driver, record.powerLimitWatts])).to.deep.equal([
      [0, 'NVIDIA GeForce RTX 3090', '00000000:0A:00.0', 24576 * 1024 * 1024, '535.183.01', 350],
      [1, 'Tesla T4', '00000000:03:00.0', 15360 * 1024 * 1024, '535.183.01', 0],
    ]);
    expect(parseStaticQuery('0, a, b\n')).to.equal(null);
    expect(parseStaticQuery('x, a, b, c, d, e, f\n')).to.equal(null);
    expect(parseStaticQuery('')).to.deep.equal([]);
  });

  it('architecture rows and compute capabilities', function () {
    expect([...parseIndexedValues('0, Ampere\n1, [N/A]\nbad\n2, Turing, extra\n').entries()]).to.deep.equal([[0, 'Ampere']]);
    expect(architectureForComputeCapability('8.6')).to.equal('Ampere');
    expect(architectureForComputeCapability('12.0')).to.equal('Blackwell');
    expect(architectureForComputeCapability('99.9')).to.equal('');
  });

  it('nvidiaAccelerators: ordered by PCI address, indexed from 0, unknowns null', function () {
    const records = parseStaticQuery(STATIC)!;
    records[1]!.architecture = 'Turing';
    const accelerators = nvidiaAccelerators(records);
    expect(accelerators.map((accelerator) => [accelerator.index, accelerator.model, accelerator.architecture, accelerator.power_limit_watts])).to.deep.equal([
      [0, 'Tesla T4', 'Turing', null],
      [1, 'NVIDIA GeForce RTX 3090', null, 350],
    ]);
    expect(pciIdentity('0A:00.0')).to.equal('0000:0a:00.0');
    expect(pciIdentity('00000000:0A:00.0')).to.equal('0000:0a:00.0');
    expect(pciIdentity('N/A')).to.equal('');
  });

  it("parseLiveQuery: llama-swap's ParseNvidiaSmiLine (memory use share computed, [N/A] as 0, short lines skipped)", function () {
    const stats = parseLiveQuery('0, NVIDIA GeForce RTX 3090, GPU-1, 61, 97, 20000, 24576, 75, 341.20\n1, Tesla T4, GPU-2, 40, 0, 0, 15360, [N/A], 9.80\nshort, line\n', 'T');
    expect(stats).to.have.length(2);
    expect(stats[0]).to.deep.equal({ timestamp: 'T', id: 0, name: 'NVIDIA GeForce RTX 3090', uuid: 'GPU-1', temp_c: 61, vram_temp_c: 0, gpu_util_pct: 97, mem_util_pct: (20000 / 24576) * 100, mem_used_mb: 20000, mem_total_mb: 24576, fan_speed_pct: 75, power_draw_w: 341.2 });
    expect(stats[1]).to.include({ fan_speed_pct: 0, mem_util_pct: 0 });
  });

  it('cpuTopology and osRelease from /proc/cpuinfo and /etc/os-release text', function () {
    const cpuinfo = ['vendor_id\t: GenuineIntel\nphysical id\t: 0\ncore id\t\t: 0', 'physical id\t: 0\ncore id\t\t: 0', 'physical id\t: 1\ncore id\t\t: 0', 'physical id\t: 1\ncore id\t\t: 1'].join('\n\n');
    expect(cpuTopology(cpuinfo)).to.deep.equal({ vendor: 'GenuineIntel', sockets: 2, cores: 3 });
    expect(cpuTopology('processor : 0\n')).to.deep.equal({ vendor: null, sockets: null, cores: null });
    expect(osRelease('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="22.04"\n')).to.deep.equal({ name: 'ubuntu', version: '22.04' });
    expect(osRelease('')).to.deep.equal({ name: null, version: null });
  });
});
