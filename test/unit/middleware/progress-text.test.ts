/** The loading stream's progress wording, as a table. */
import { expect } from 'chai';
import { progressText } from '../../../middleware/make-ready.js';

describe('progressText', function () {
  const cases = [
    [{ state: 'starting', position: null }, 'siesta: m: starting, 0.50s elapsed\n'],
    [{ state: 'starting', position: null, step: 'restoring prompt cache' }, 'siesta: m: restoring prompt cache, 0.50s elapsed\n'],
    [{ state: 'waking', position: null }, 'siesta: m: waking from sleep, 0.50s elapsed\n'],
    [{ state: 'stopped', position: 2 }, 'siesta: m: waiting for its turn (queue position 2), 0.50s elapsed\n'],
  ] as const;
  for (const [progress, text] of cases) {
    it(`${progress.state}${'step' in progress ? ` (${progress.step})` : ''}${progress.position ? ` queued ${progress.position}` : ''}`, function () {
      expect(progressText('m', progress, 500)).to.equal(text);
    });
  }
});
