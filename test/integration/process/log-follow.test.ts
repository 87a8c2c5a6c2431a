/**
 * A ready model server's output is read on a timer (lib/process/pipe-pacer.ts) and kept as raw
 * chunks (lib/process/log-ring.ts): a follower of /logs/stream/<model> still gets every line, in
 * order within each pipe, promptly, whole (a line written in pieces, a UTF-8 character cut between two writes,
 * CRLF), and the lines written just before a crash are kept.
 */
import { writeFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { expect } from 'chai';
import { freePort, pollUntil } from '../../helpers/wait.js';
import { tempDir } from '../../e2e/support.js';
import { cleanup, configYaml, serve } from '../admin/support.js';

// One line in three writes (as llama-server writes each log line), CRLF-terminated; then on stderr
// a line whose 'é' is cut between two writes 150 ms apart (longer than the read interval, so the
// gateway reads the halves in separate chunks).
const SERVER = `
import { createServer } from 'node:http';
const port = Number(process.argv[2]);
const e = Buffer.from('é');
createServer((req, res) => {
  const url = new URL(req.url, 'http://x');
  if (url.pathname === '/health') return res.end('ok');
  if (url.pathname === '/say') {
    const id = url.searchParams.get('id');
    process.stdout.write(id + ' one ');
    process.stdout.write('part');
    process.stdout.write('\\r\\n');
    process.stderr.write(Buffer.concat([Buffer.from(id + ' caf'), e.subarray(0, 1)]));
    setTimeout(() => {
      process.stderr.write(Buffer.concat([e.subarray(1), Buffer.from(' au lait\\n')]));
      res.end('ok');
    }, 150);
    return;
  }
  if (url.pathname === '/crash') {
    process.stdout.write('last words\\n');
    process.stdout.write('no newline at the end');
    process.exit(3);
  }
  res.statusCode = 404;
  res.end();
}).listen(port, '127.0.0.1', () => console.log('ready on ' + port));
`;

async function modelServer(): Promise<{ cmd: string; port: number }> {
  const dir = await tempDir('siesta-log-follow-');
  const script = join(dir, 'server.mjs');
  await writeFile(script, SERVER);
  const port = await freePort();
  return { cmd: `${process.execPath} ${script} ${port}`, port };
}

/** GET `path` on the model's own port; resolves when the answer has ended, with when it ended. */
function hit(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path }, (response) => {
      response.resume().on('end', () => resolve(performance.now()));
    }).on('error', reject).end();
  });
}

describe('model server output: followed live and kept at a crash, read on a timer once ready', function () {
  this.timeout(30_000);
  afterEach(cleanup);

  it('a follower of /logs/stream/<model> gets every line, in order, whole, within a few hundred ms', async function () {
    const { cmd, port } = await modelServer();
    const { url, gateway } = await serve(await configYaml({ talker: { backend: 'generic', cmd, proxy: `http://127.0.0.1:${port}`, checkEndpoint: '/health' } }));
    expect((await fetch(`${url}/api/models/talker/load`, { method: 'POST' })).status).to.equal(200);
    let text = '';
    const seenAt = new Map<string, number>();
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      request(`${url}/logs/stream/talker?no-history`, resolve).on('error', reject).end();
    });
    response.setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      for (const line of text.split('\n')) if (!seenAt.has(line)) seenAt.set(line, performance.now());
    });
    const ended = new Promise((resolve) => response.once('end', resolve));
    const answered: number[] = [];
    for (const id of ['r1', 'r2', 'r3']) answered.push(await hit(port, `/say?id=${id}`));
    await pollUntil(() => text.includes('r3 café au lait'), { timeoutMs: 5000, what: 'the last line at the follower' });

    const followed = text.split('\n').filter((line) => line !== '').map((line) => line.replace(/^\S+ \[talker\] /, ''));
    // In order within each pipe; between stdout and stderr, lines written within one read interval
    // may come stdout first (two pipes have no common order once they are read together).
    expect(followed.filter((line) => line.endsWith('one part'))).to.deep.equal(['r1 one part', 'r2 one part', 'r3 one part']);
    expect(followed.filter((line) => line.endsWith('au lait'))).to.deep.equal(['r1 café au lait', 'r2 café au lait', 'r3 café au lait']);
    expect(followed).to.have.length(6);
    // Each request's last line reached the follower soon after its answer ended (the read interval
    // is 100 ms; the bound leaves room for a loaded machine).
    ['r1', 'r2', 'r3'].forEach((id, index) => {
      const at = [...seenAt].find(([line]) => line.endsWith(`${id} café au lait`))?.[1];
      expect(at, `${id} seen`).to.be.a('number');
      expect(at! - answered[index]!, `${id}: ms from its answer to the follower`).to.be.below(1000);
    });
    // The ring, split when read, holds the same lines.
    const kept = gateway.manager.process('talker').logs.lines().map((line) => line.text).filter((line) => /^r\d /.test(line));
    expect(kept).to.deep.equal(followed);
    await gateway.close();
    await ended;
  });

  it('keeps the lines a ready server wrote just before it crashed, and its unterminated last line', async function () {
    const { cmd, port } = await modelServer();
    const { url, gateway } = await serve(await configYaml({ talker: { backend: 'generic', cmd, proxy: `http://127.0.0.1:${port}`, checkEndpoint: '/health' } }));
    expect((await fetch(`${url}/api/models/talker/load`, { method: 'POST' })).status).to.equal(200);
    await hit(port, '/crash').catch(() => undefined);
    const texts = (): string[] => gateway.manager.process('talker').logs.lines().map((line) => line.text);
    await pollUntil(() => texts().some((line) => /exited \(code 3\)/.test(line)), { timeoutMs: 5000, what: 'the exit' });
    await pollUntil(() => texts().includes('no newline at the end'), { timeoutMs: 2000, what: 'the unterminated last line' });
    expect(texts()).to.include('last words');
    expect(texts().indexOf('last words')).to.be.below(texts().indexOf('no newline at the end'));
  });
});
