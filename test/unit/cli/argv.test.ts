/** normalizeArgv: llama-swap's (Go flag) spellings → what parseArgs reads, as a table. */
import { expect } from 'chai';
import { normalizeArgv } from '../../../lib/cli/argv.js';

describe('normalizeArgv', function () {
  const cases: [string, string[], string[]][] = [
    ['the Docker image', ['-config', '/app/config.yaml', '-watch-config'], ['--config', '/app/config.yaml', '--watch-config']],
    ['the unified image', ['-config', '/etc/c.yaml', '-listen', '0.0.0.0:8080', '-watch-config'], ['--config', '/etc/c.yaml', '--listen', '0.0.0.0:8080', '--watch-config']],
    ['two dashes stay', ['--config', 'c.yaml', '--listen', ':8080'], ['--config', 'c.yaml', '--listen', ':8080']],
    ['-name=value', ['-config=c.yaml', '-listen=:8080', '-config-dir=conf.d'], ['--config=c.yaml', '--listen=:8080', '--config-dir=conf.d']],
    ['TLS flags', ['-tls-cert-file', 'c.pem', '-tls-key-file=k.pem'], ['--tls-cert-file', 'c.pem', '--tls-key-file=k.pem']],
    ['-version', ['-version'], ['--version']],
    ['-help', ['-help'], ['--help']],
    ['a boolean =true', ['-config', 'c', '-watch-config=true'], ['--config', 'c', '--watch-config']],
    ['a boolean =1 / =t', ['-watch-config=1', '--version=t'], ['--watch-config', '--version']],
    ['a boolean =false is left out', ['-config', 'c', '-watch-config=false', '--watch-config=0'], ['--config', 'c']],
    ['a bad boolean value is left for parseArgs to report', ['-watch-config=maybe'], ['--watch-config=maybe']],
    ["siesta's short options stay", ['-c', 'c.yaml', '-l', '8080', '-w', '-h'], ['-c', 'c.yaml', '-l', '8080', '-w', '-h']],
    ['a value that starts with a dash is a value', ['-config', '-listen', '-l', '-version'], ['--config', '-listen', '-l', '-version']],
    ['an unknown flag is left as it is', ['-config', 'c', '-frobnicate', '--nope'], ['--config', 'c', '-frobnicate', '--nope']],
    ['the check subcommand', ['check', '-config', 'c.yaml', '-config-dir', 'd'], ['check', '--config', 'c.yaml', '--config-dir', 'd']],
    ['after -- nothing changes', ['-config', 'c', '--', '-listen'], ['--config', 'c', '--', '-listen']],
    ['an = inside the value', ['-config=a=b.yaml'], ['--config=a=b.yaml']],
  ];
  for (const [name, given, expected] of cases) {
    it(`${name}: ${given.join(' ')}`, function () {
      expect(normalizeArgv(given)).to.deep.equal(expected);
    });
  }
});
