/** The fake llama-server's slot actions: the real answers' shapes, files in --slot-save-path, cache_n after a restore. */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startFake, stopAllFakes } from '../../helpers/fake-upstream.js';
import { assertNoFakeChildren, chat, request } from './support.js';

const PROMPT = { messages: [{ role: 'user', content: 'one two three four five six seven eight nine ten' }] };

describe('fake upstream --backend llama-server: slots', function () {
  let dir: string;
  beforeEach(async function () {
    dir = await mkdtemp(join(tmpdir(), 'fake-slots-'));
  });
  afterEach(async function () {
    await stopAllFakes();
    await assertNoFakeChildren();
    await rm(dir, { recursive: true, force: true });
  });

  it('saves a slot, restores it in a new process, and the same prompt then reports cache_n = tokens - 1', async function () {
    const first = await startFake({ backend: 'llama-server', model: 'm', args: ['--slot-save-path', dir] });
    expect((await chat(first.url, PROMPT)).json.timings).to.include({ cache_n: 0, prompt_n: 10 });
    expect((await chat(first.url, PROMPT)).json.timings, 'the live slot caches the prompt').to.include({ cache_n: 9, prompt_n: 1 });
    const slots = await request(`${first.url}/slots`);
    expect(slots.json[0]).to.include({ id: 0, is_processing: false });
    const saved = await request(`${first.url}/slots/0?action=save`, 'POST', { filename: 'x.bin' });
    expect(saved.status).to.equal(200);
    expect(saved.json).to.include({ id_slot: 0, filename: 'x.bin', n_saved: 10 });
    expect(saved.json.timings).to.have.key('save_ms');
    expect(await readdir(dir)).to.deep.equal(['x.bin']);
    await stopAllFakes();

    const second = await startFake({ backend: 'llama-server', model: 'm', args: ['--slot-save-path', dir] });
    const restored = await request(`${second.url}/slots/0?action=restore`, 'POST', { filename: 'x.bin' });
    expect(restored.json).to.include({ id_slot: 0, filename: 'x.bin', n_restored: 10 });
    expect((await chat(second.url, PROMPT)).json.timings).to.include({ cache_n: 9, prompt_n: 1 });
    expect((await request(`${second.url}/slots/0?action=erase`, 'POST', {})).json).to.deep.equal({ id_slot: 0, n_erased: 10 });
  });

  it('refuses without --slot-save-path (501), a path as filename (400), a missing or foreign file (400), and fails saves with --fail-slot-save (500)', async function () {
    const none = await startFake({ backend: 'llama-server', model: 'm' });
    expect((await request(`${none.url}/slots/0?action=save`, 'POST', { filename: 'x.bin' })).status).to.equal(501);
    const fake = await startFake({ backend: 'llama-server', model: 'm', args: ['--slot-save-path', dir] });
    expect((await request(`${fake.url}/slots/0?action=save`, 'POST', { filename: '../x.bin' })).status).to.equal(400);
    expect((await request(`${fake.url}/slots/0?action=restore`, 'POST', { filename: 'missing.bin' })).status).to.equal(400);
    await chat(fake.url, PROMPT);
    expect((await request(`${fake.url}/slots/0?action=save`, 'POST', { filename: 'm.bin' })).status).to.equal(200);
    const other = await startFake({ backend: 'llama-server', model: 'other', args: ['--slot-save-path', dir] });
    expect((await request(`${other.url}/slots/0?action=restore`, 'POST', { filename: 'm.bin' })).status).to.equal(400);
    const failing = await startFake({ backend: 'llama-server', model: 'm', args: ['--slot-save-path', dir, '--fail-slot-save'] });
    expect((await request(`${failing.url}/slots/0?action=save`, 'POST', { filename: 'f.bin' })).status).to.equal(500);
  });
});
