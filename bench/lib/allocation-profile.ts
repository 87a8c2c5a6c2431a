/**
 * Preload that samples every allocation of a process (also objects the GC already collected,
 * which `--heap-prof` leaves out) from 4 s after start to exit, and writes V8's sampling heap
 * profile to $ALLOC_OUT. Bytes allocated per request do not depend on the machine's load, unlike
 * CPU time, so they compare builds reliably on a shared machine:
 *
 *   ALLOC_OUT=/tmp/a.json node --import tsx --import ./bench/lib/allocation-profile.ts bin/siesta.js --config …
 *   (send N requests, stop it with SIGTERM)
 *   node --import tsx bench/lib/allocation-summary.ts /tmp/a.json N
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

const session = new Session();
session.connect();
let sampling = false;
setTimeout(() => {
  const options = { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true };
  session.post('HeapProfiler.startSampling', options, (error) => {
    if (error) process.stderr.write(`allocation-profile: ${error.message}\n`);
    else sampling = true;
  });
}, 4000).unref();
process.on('exit', () => {
  if (!sampling) return;
  session.post('HeapProfiler.stopSampling', (error, result) => {
    if (error) process.stderr.write(`allocation-profile: ${error.message}\n`);
    else writeFileSync(process.env['ALLOC_OUT'] ?? 'allocation.json', JSON.stringify(result.profile));
  });
});
