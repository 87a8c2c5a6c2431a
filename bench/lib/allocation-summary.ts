/**
 * Bytes allocated per request from a profile written by allocation-profile.ts, in total and by
 * the function that allocated them:  node --import tsx bench/lib/allocation-summary.ts PROFILE REQUESTS [TOP]
 */
import { readFileSync } from 'node:fs';
import type { HeapProfiler } from 'node:inspector';

const [file, requestsArg, topArg] = process.argv.slice(2);
if (file === undefined) throw new Error('usage: allocation-summary.ts PROFILE REQUESTS [TOP]');
const requests = Number(requestsArg ?? 1);
const profile = JSON.parse(readFileSync(file, 'utf8')) as HeapProfiler.SamplingHeapProfile;
const byFunction = new Map<string, number>();
let total = 0;
const walk = (node: HeapProfiler.SamplingHeapProfileNode): void => {
  const frame = node.callFrame;
  const where = frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(dist|lib|middleware)\//, '$1/');
  const key = `${frame.functionName || '(anonymous)'} ${where}:${frame.lineNumber + 1}`;
  total += node.selfSize;
  byFunction.set(key, (byFunction.get(key) ?? 0) + node.selfSize);
  for (const child of node.children) walk(child);
};
walk(profile.head);
process.stdout.write(`${Math.round(total / requests)} bytes allocated per request (${requests} requests)\n`);
for (const [key, bytes] of [...byFunction].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 30))) {
  process.stdout.write(`${String(Math.round(bytes / requests)).padStart(7)}  ${key}\n`);
}
