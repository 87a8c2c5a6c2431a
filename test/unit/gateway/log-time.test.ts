/**
 * `logTimeFormat`: llama-swap's names for Go's layouts, rendered as Go's `Time.Format` renders them.
 * The first column is Go's reference time, so each expected value is the Go layout itself (with
 * `_2` as " 2", `Z07:00` as "-07:00" and `.999999999` dropped for a zero fraction).
 */
import { expect } from 'chai';
import { formatLogTime, LOG_TIME_LAYOUTS, localLogClock, logTimeLayout, wallTime } from '../../../lib/log-time.js';

// Mon Jan 2 15:04:05 MST 2006 (UTC-7), Go's reference time.
const reference = wallTime(Date.UTC(2006, 0, 2, 22, 4, 5), -420, 'MST', 0);
// Sat Nov 9 00:07:03.12 2024 UTC: one-digit day, midnight hour, zero offset, a fraction.
const utc = wallTime(Date.UTC(2024, 10, 9, 0, 7, 3, 120), 0, 'UTC');
// Mon Mar 17 13:45:59.000000001 2025 at +05:30 with no zone abbreviation known.
const india = wallTime(Date.UTC(2025, 2, 17, 8, 15, 59), 330, '', 1);

const TABLE: readonly (readonly [name: string, reference: string, utc: string, india: string])[] = [
  ['ansic', 'Mon Jan  2 15:04:05 2006', 'Sat Nov  9 00:07:03 2024', 'Mon Mar 17 13:45:59 2025'],
  ['unixdate', 'Mon Jan  2 15:04:05 MST 2006', 'Sat Nov  9 00:07:03 UTC 2024', 'Mon Mar 17 13:45:59 +0530 2025'],
  ['rubydate', 'Mon Jan 02 15:04:05 -0700 2006', 'Sat Nov 09 00:07:03 +0000 2024', 'Mon Mar 17 13:45:59 +0530 2025'],
  ['rfc822', '02 Jan 06 15:04 MST', '09 Nov 24 00:07 UTC', '17 Mar 25 13:45 +0530'],
  ['rfc822z', '02 Jan 06 15:04 -0700', '09 Nov 24 00:07 +0000', '17 Mar 25 13:45 +0530'],
  ['rfc850', 'Monday, 02-Jan-06 15:04:05 MST', 'Saturday, 09-Nov-24 00:07:03 UTC', 'Monday, 17-Mar-25 13:45:59 +0530'],
  ['rfc1123', 'Mon, 02 Jan 2006 15:04:05 MST', 'Sat, 09 Nov 2024 00:07:03 UTC', 'Mon, 17 Mar 2025 13:45:59 +0530'],
  ['rfc1123z', 'Mon, 02 Jan 2006 15:04:05 -0700', 'Sat, 09 Nov 2024 00:07:03 +0000', 'Mon, 17 Mar 2025 13:45:59 +0530'],
  ['rfc3339', '2006-01-02T15:04:05-07:00', '2024-11-09T00:07:03Z', '2025-03-17T13:45:59+05:30'],
  ['rfc3339nano', '2006-01-02T15:04:05-07:00', '2024-11-09T00:07:03.12Z', '2025-03-17T13:45:59.000000001+05:30'],
  ['kitchen', '3:04PM', '12:07AM', '1:45PM'],
  ['stamp', 'Jan  2 15:04:05', 'Nov  9 00:07:03', 'Mar 17 13:45:59'],
  ['stampmilli', 'Jan  2 15:04:05.000', 'Nov  9 00:07:03.120', 'Mar 17 13:45:59.000'],
  ['stampmicro', 'Jan  2 15:04:05.000000', 'Nov  9 00:07:03.120000', 'Mar 17 13:45:59.000000'],
  ['stampnano', 'Jan  2 15:04:05.000000000', 'Nov  9 00:07:03.120000000', 'Mar 17 13:45:59.000000001'],
];

describe('log-time: logTimeFormat names and Go layouts', function () {
  it('knows exactly llama-swap’s fifteen names', function () {
    expect(Object.keys(LOG_TIME_LAYOUTS)).to.have.members(TABLE.map(([name]) => name));
  });

  for (const [name, atReference, atUtc, atIndia] of TABLE) {
    it(`${name}: ${atReference} | ${atUtc} | ${atIndia}`, function () {
      expect(formatLogTime(name, reference)).to.equal(atReference);
      expect(formatLogTime(name, utc)).to.equal(atUtc);
      expect(formatLogTime(name, india)).to.equal(atIndia);
    });
  }

  it('reads the name as llama-swap does: trimmed, any case; empty, unknown or a raw layout = no timestamp', function () {
    for (const [value, layout] of [
      [' RFC3339 ', '2006-01-02T15:04:05Z07:00'],
      ['Kitchen', '3:04PM'],
      ['', ''],
      ['iso8601', ''],
      ['2006-01-02 15:04:05', ''],
    ] as const) {
      expect(logTimeLayout(value), JSON.stringify(value)).to.equal(layout);
    }
    expect(formatLogTime('', reference)).to.equal('');
    expect(formatLogTime('nope', reference)).to.equal('');
  });

  it('wallTime shifts by the offset (the day and weekday follow)', function () {
    expect(reference).to.deep.include({ year: 2006, month: 1, day: 2, hour: 15, minute: 4, second: 5, weekday: 1, offsetMinutes: -420 });
    expect(wallTime(Date.UTC(2024, 0, 1, 23, 30), 60, 'CET')).to.deep.include({ year: 2024, month: 1, day: 2, hour: 0, minute: 30, weekday: 2 });
  });

  it('localLogClock: null for no layout, else the local time in that layout', function () {
    expect(localLogClock('')).to.equal(null);
    expect(localLogClock('unknown')).to.equal(null);
    const date = new Date(2024, 10, 9, 16, 5, 0);
    expect(localLogClock('kitchen')!(date)).to.equal('4:05PM');
    expect(localLogClock('stampmilli')!(date)).to.equal('Nov  9 16:05:00.000');
    expect(localLogClock('unixdate')!(date)).to.match(/^Sat Nov {2}9 16:05:00 (?:[A-Z]{2,5}|[+-]\d{4}) 2024$/);
  });
});
