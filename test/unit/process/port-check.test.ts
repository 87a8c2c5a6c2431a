import { expect } from 'chai';
import { commandNamesPort, guardedTarget, isLocalHost, localTarget, runsContainer } from '../../../lib/process/port-check.js';

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

describe('guardedTarget: which models get the port checks', function () {
  const cases: [string, { proxy: string; port: number | null; cmd: string[] }, string | null, boolean][] = [
    ['${PORT} models', { proxy: 'http://127.0.0.1:5800', port: 5800, cmd: ['srv', '--port', '5800'] }, '/health', true],
    ['a fixed port named in cmd', { proxy: 'http://127.0.0.1:19299', port: null, cmd: ['srv', '--port', '19299'] }, '/health', true],
    ['--port=N', { proxy: 'http://127.0.0.1:19299', port: null, cmd: ['srv', '--port=19299'] }, null, true],
    ['-p N:80 (containers)', { proxy: 'http://localhost:19299', port: null, cmd: ['docker', 'run', '-p', '19299:80', 'img'] }, null, true],
    ['a default port with a health check (llama-server without --port)', { proxy: 'http://127.0.0.1:8080', port: null, cmd: ['llama-server', '-m', 'x.gguf'] }, '/health', true],
    ['a launcher of a service managed elsewhere, no health check', { proxy: 'http://127.0.0.1:8080', port: null, cmd: ['sleep', 'infinity'] }, null, false],
    ['a number that merely contains the port', { proxy: 'http://127.0.0.1:80', port: null, cmd: ['srv', '--threads', '8080'] }, null, false],
    ['a remote server', { proxy: 'http://10.1.2.3:19299', port: null, cmd: ['srv', '--port', '19299'] }, '/health', false],
  ];
  for (const [name, model, checkEndpoint, guarded] of cases) {
    it(`${name} → ${guarded ? 'checked' : 'not checked'}`, function () {
      expect(guardedTarget(model, checkEndpoint) !== null).to.equal(guarded);
    });
  }
  it('commandNamesPort', function () {
    expect(commandNamesPort(['x', '--listen', '0.0.0.0:9000'], 9000)).to.equal(true);
    expect(commandNamesPort(['x', '--url', 'http://h:9000/v1'], 9000)).to.equal(true);
    expect(commandNamesPort(['x', '90001'], 9000)).to.equal(false);
  });
});

