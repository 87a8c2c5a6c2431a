import { expect } from 'chai';
import { formatDuration, parseDuration, parseSize } from '../../../lib/config/index.js';

describe('config units', () => {
  describe('parseDuration (number = seconds, result in ms)', () => {
    const valid: [unknown, number][] = [
      [0, 0],
      [90, 90_000],
      [1.5, 1500],
      ['90', 90_000],
      ['90s', 90_000],
      ['5m', 300_000],
      ['2h', 7_200_000],
      ['500ms', 500],
      ['1.5h', 5_400_000],
      ['1h30m', 5_400_000],
      ['1d', 86_400_000],
      [' 10S ', 10_000],
      ['.5s', 500],
    ];
    for (const [input, expected] of valid) {
      it(`${JSON.stringify(input)} → ${expected} ms`, () => {
        expect(parseDuration(input)).to.equal(expected);
      });
    }
    const invalid: unknown[] = ['', 'abc', '5x', '5 minutes', '-1', -1, Number.NaN, Number.POSITIVE_INFINITY, null, true, {}, '1h 30m', 's'];
    for (const input of invalid) {
      it(`rejects ${JSON.stringify(input) ?? String(input)}`, () => {
        expect(() => parseDuration(input)).to.throw(RangeError, /must be a duration/);
      });
    }
  });

  describe('parseSize (number = bytes)', () => {
    const valid: [unknown, number][] = [
      [0, 0],
      [1024, 1024],
      ['2048', 2048],
      ['512MiB', 512 * 1024 ** 2],
      ['18GiB', 18 * 1024 ** 3],
      ['1.5GiB', 1.5 * 1024 ** 3],
      ['4KiB', 4096],
      ['1TiB', 1024 ** 4],
      ['8GB', 8e9],
      ['500MB', 5e8],
      ['2kb', 2000],
      ['1gib', 1024 ** 3],
      ['10 GiB', 10 * 1024 ** 3],
      ['100B', 100],
    ];
    for (const [input, expected] of valid) {
      it(`${JSON.stringify(input)} → ${expected} bytes`, () => {
        expect(parseSize(input)).to.equal(expected);
      });
    }
    const invalid: unknown[] = ['', 'big', '5XB', '-1GiB', -5, '1.5.2GiB', null, [], 'GiB'];
    for (const input of invalid) {
      it(`rejects ${JSON.stringify(input)}`, () => {
        expect(() => parseSize(input)).to.throw(RangeError, /must be a size/);
      });
    }
  });

  describe('formatDuration', () => {
    const cases: [number, string][] = [
      [500, '500ms'],
      [1500, '1.5s'],
      [90_000, '1m30s'],
      [300_000, '5m'],
      [7_200_000, '2h'],
      [86_400_000, '1d'],
    ];
    for (const [ms, text] of cases) {
      it(`${ms} → ${text}`, () => expect(formatDuration(ms)).to.equal(text));
    }
  });
});
