import { expect } from 'chai';
import { isLocalHost, localTarget, runsContainer } from '../../../lib/process/port-check.js';

describe('port check: which models are guarded', function () {
  const targets: [string, { host: string; port: number } | null][] = [
    ['http://127.0.0.1:5800', { host: '127.0.0.1', port: 5800 }],
    ['http://localhost:19299/base', { host: 'localhost', port: 19299 }],
    ['http://[::1]:8080', { host: '::1', port: 8080 }],
    ['http://0.0.0.0:8080', { host: '0.0.0.0', port: 8080 }],
    ['http://127.1.2.3:9000', { host: '127.1.2.3', port: 9000 }],
    ['http://localhost', { host: 'localhost', port: 80 }],
    ['https://localhost', { host: 'localhost', port: 443 }],
    ['http://LOCALHOST:1', { host: 'localhost', port: 1 }],
    ['http://10.0.0.5:8000', null],
    ['http://gpu-box:8000', null],
    ['http://128.0.0.1:8000', null],
    ['not a url', null],
  ];
  for (const [proxy, expected] of targets) {
    it(`${proxy} → ${JSON.stringify(expected)}`, function () {
      expect(localTarget(proxy)).to.deep.equal(expected);
    });
  }

  it('knows loopback and wildcard hosts', function () {
    expect(['localhost', 'a.localhost', '::1', '::', '0.0.0.0', '127.0.0.1'].every(isLocalHost)).to.equal(true);
    expect(['example.com', '127.0.0.1.nip.io', '192.168.1.2', '::2'].some(isLocalHost)).to.equal(false);
  });

  const commands: [readonly string[], boolean][] = [
    [['docker', 'run', '-p', '5800:8000', 'image'], true],
    [['/usr/bin/podman', 'run'], true],
    [['nerdctl', 'run'], true],
    [['C:\\Program Files\\Docker\\docker.exe', 'run'], false], // a Windows path is not split on POSIX
    [['llama-server', '--port', '5800'], false],
    [['sh', '-c', 'docker run image'], false],
    [[], false],
  ];
  for (const [cmd, expected] of commands) {
    it(`runsContainer(${JSON.stringify(cmd)}) is ${String(expected)}`, function () {
      expect(runsContainer(cmd)).to.equal(expected);
    });
  }
});
