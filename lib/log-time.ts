/**
 * llama-swap's `logTimeFormat`: a name (`rfc3339`, `kitchen`, `stampmilli`, ...) that picks one of
 * Go's named time layouts for the timestamp in front of each text log line (llama-swap.go,
 * `logTimeFormats`). The name is trimmed and lower-cased; an empty or unknown name means no
 * timestamp, as in llama-swap. Layouts are Go's own strings, rendered by a formatter that knows
 * exactly the elements these fifteen layouts use.
 */

/** Go's layout constants (package time), by llama-swap's names. */
export const LOG_TIME_LAYOUTS: Readonly<Record<string, string>> = {
  ansic: 'Mon Jan _2 15:04:05 2006',
  unixdate: 'Mon Jan _2 15:04:05 MST 2006',
  rubydate: 'Mon Jan 02 15:04:05 -0700 2006',
  rfc822: '02 Jan 06 15:04 MST',
  rfc822z: '02 Jan 06 15:04 -0700',
  rfc850: 'Monday, 02-Jan-06 15:04:05 MST',
  rfc1123: 'Mon, 02 Jan 2006 15:04:05 MST',
  rfc1123z: 'Mon, 02 Jan 2006 15:04:05 -0700',
  rfc3339: '2006-01-02T15:04:05Z07:00',
  rfc3339nano: '2006-01-02T15:04:05.999999999Z07:00',
  kitchen: '3:04PM',
  stamp: 'Jan _2 15:04:05',
  stampmilli: 'Jan _2 15:04:05.000',
  stampmicro: 'Jan _2 15:04:05.000000',
  stampnano: 'Jan _2 15:04:05.000000000',
};

/** A moment as a wall clock shows it in some zone (what Go's `Time` carries for formatting). */
export interface WallTime {
  readonly year: number;
  /** 1-12. */
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  /** 0-999999999. */
  readonly nanosecond: number;
  /** 0 = Sunday. */
  readonly weekday: number;
  /** East of UTC, in minutes (UTC+2 = 120). */
  readonly offsetMinutes: number;
  /** Zone abbreviation for `MST` (`UTC`, `CEST`); '' = none known, Go then writes `-0700`. */
  readonly zone: string;
}

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** The layout of a `logTimeFormat` value, or '' for none (empty or unknown name). */
export function logTimeLayout(name: string): string {
  return LOG_TIME_LAYOUTS[name.trim().toLowerCase()] ?? '';
}

/** The timestamp for a `logTimeFormat` value ('' when it names no layout). Pure. */
export function formatLogTime(name: string, time: WallTime): string {
  const layout = logTimeLayout(name);
  return layout ? formatGoLayout(layout, time) : '';
}

/** The wall time of `epochMs` at a fixed offset (what `time.Now()` in a zone reads). Pure. */
export function wallTime(epochMs: number, offsetMinutes: number, zone: string, nanosecond?: number): WallTime {
  const shifted = new Date(epochMs + offsetMinutes * 60_000);
  return {
    year: shifted.getUTCFullYear(),
    month: shifted.getUTCMonth() + 1,
    day: shifted.getUTCDate(),
    hour: shifted.getUTCHours(),
    minute: shifted.getUTCMinutes(),
    second: shifted.getUTCSeconds(),
    nanosecond: nanosecond ?? shifted.getUTCMilliseconds() * 1_000_000,
    weekday: shifted.getUTCDay(),
    offsetMinutes,
    zone,
  };
}

const pad = (value: number, width: number): string => String(value).padStart(width, '0');

function numericZone(offsetMinutes: number, colon: boolean): string {
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  return `${sign}${pad(Math.floor(abs / 60), 2)}${colon ? ':' : ''}${pad(abs % 60, 2)}`;
}

/** The layout elements the named layouts use, longest first where one is a prefix of another. */
const ELEMENTS: readonly (readonly [string, (time: WallTime) => string])[] = [
  ['Monday', (t) => DAYS[t.weekday]!],
  ['Mon', (t) => DAYS[t.weekday]!.slice(0, 3)],
  ['Jan', (t) => MONTHS[t.month - 1]!],
  ['2006', (t) => pad(t.year, 4)],
  ['Z07:00', (t) => (t.offsetMinutes === 0 ? 'Z' : numericZone(t.offsetMinutes, true))],
  ['-0700', (t) => numericZone(t.offsetMinutes, false)],
  ['MST', (t) => t.zone || numericZone(t.offsetMinutes, false)],
  ['PM', (t) => (t.hour >= 12 ? 'PM' : 'AM')],
  ['_2', (t) => String(t.day).padStart(2, ' ')],
  ['01', (t) => pad(t.month, 2)],
  ['02', (t) => pad(t.day, 2)],
  ['04', (t) => pad(t.minute, 2)],
  ['05', (t) => pad(t.second, 2)],
  ['06', (t) => pad(t.year % 100, 2)],
  ['15', (t) => pad(t.hour, 2)],
  ['3', (t) => String(t.hour % 12 === 0 ? 12 : t.hour % 12)],
];

/**
 * Go's `Time.Format` for the elements above plus fractional seconds: `.000…` keeps that many
 * digits, `.999…` drops trailing zeros (and the dot when nothing is left). Other text is literal.
 */
export function formatGoLayout(layout: string, time: WallTime): string {
  let out = '';
  let index = 0;
  while (index < layout.length) {
    const fraction = /^\.(0+|9+)(?![0-9])/.exec(layout.slice(index));
    if (fraction) {
      const digits = fraction[1]!;
      const full = pad(time.nanosecond, 9).slice(0, digits.length);
      if (digits[0] === '0') out += '.' + full;
      else {
        const trimmed = full.replace(/0+$/, '');
        if (trimmed) out += '.' + trimmed;
      }
      index += fraction[0].length;
      continue;
    }
    const element = ELEMENTS.find(([token]) => layout.startsWith(token, index));
    if (element) {
      out += element[1](time);
      index += element[0].length;
      continue;
    }
    out += layout[index];
    index++;
  }
  return out;
}

const zoneNames = new Map<string, Intl.DateTimeFormat>();

/**
 * The local zone's abbreviation at `date`, as tzdata spells it where Intl knows it (`UTC`, `EST`,
 * `CEST`); '' when Intl offers only `GMT+2`-style names (the formatter then writes `+0200`).
 */
export function localZoneName(date: Date): string {
  for (const locale of ['en-US', 'en-GB']) {
    let format = zoneNames.get(locale);
    if (!format) {
      format = new Intl.DateTimeFormat(locale, { timeZoneName: 'short' });
      zoneNames.set(locale, format);
    }
    const name = format.formatToParts(date).find((part) => part.type === 'timeZoneName')?.value ?? '';
    if (/^[A-Z]{2,5}$/.test(name)) return name;
  }
  return '';
}

/**
 * A timestamp function for the logger: the local time in the layout `name` picks, or null when it
 * picks none (then lines carry no timestamp at all).
 */
export function localLogClock(name: string): ((date: Date) => string) | null {
  const layout = logTimeLayout(name);
  if (!layout) return null;
  const needsZone = layout.includes('MST');
  return (date) => formatGoLayout(layout, wallTime(date.getTime(), -date.getTimezoneOffset(), needsZone ? localZoneName(date) : ''));
}
