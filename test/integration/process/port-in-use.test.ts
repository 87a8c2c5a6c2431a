import { createServer, type Server } from 'node:net';
import { expect } from 'chai';
import { GatewayError } from '../../../lib/errors.js';
import { ModelProcess } from '../../../lib/process/model-process.js';
import { genericPlugin } from '../../../plugins/generic.js';
import { assertNoChildren, freePort } from '../../helpers/wait.js';
import { fakeModel, TIMEOUTS } from './harness.js';

describe('ModelProcess: a port already taken by another process', function () {
  let squatter: Server | undefined;
  let owner: ModelProcess | undefined;

  afterEach(async function () {
    await owner?.shutdown();
    await new Promise((resolve) => (squatter ? squatter.close(resolve) : resolve(undefined)));
    await assertNoChildren();
  });

  it('fails the start clearly instead of health-checking a stranger', async function () {
    const port = await freePort();
    squatter = createServer((socket) => {
      socket.on('error', () => undefined); // siesta only probes the port and hangs up
      socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n');
    });
    await new Promise<void>((resolve) => squatter!.listen(port, '127.0.0.1', resolve));
    const model = await fakeModel('generic', [], { port, proxy: `http://127.0.0.1:${port}` });
    owner = new ModelProcess({ model, plugin: genericPlugin, timeouts: TIMEOUTS });
    const error = await owner.acquire().then(() => null, (caught: unknown) => caught);
    expect(error).to.be.instanceOf(GatewayError);
    expect((error as GatewayError).code).to.equal('start_failed');
    expect((error as GatewayError).message).to.include(`port ${port} is already in use`);
    expect(owner.state).to.equal('stopped');
    expect(owner.pid).to.equal(null);
  });
});
