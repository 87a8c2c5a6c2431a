/**
 * Durations and sizes as users write them in the config file, converted once at load time.
 * Durations: a number is seconds (`90`, `1.5`); strings are one or more `<number><unit>` parts with
 * units `ms`, `s`, `m`, `h`, `d` (`500ms`, `90s`, `5m`, `1.5h`, `1h30m`), or a bare number of seconds.
 * Sizes: a number is bytes; strings are `<number><unit>` with binary units `KiB`, `MiB`, `GiB`, `TiB`
 * and decimal units `KB`, `MB`, `GB`, `TB` (units are case-insensitive), or a bare number of bytes.
 */

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const SIZE_UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
  kb: 1000,
  mb: 1000 ** 2,
  gb: 1000 ** 3,
  tb: 1000 ** 4,
};

const NUMBER = String.raw`\d+(?:\.\d+)?|\.\d+`;
const DURATION_PART_SOURCE = String.raw`(${NUMBER})\s*(ms|s|m|h|d)`;
const SIZE_TEXT = new RegExp(String.raw`^(${NUMBER})\s*([a-z]*)$`, 'i');

export const DURATION_HINT = 'must be a duration: seconds as a number, or a string such as "500ms", "90s", "5m", "1.5h"';
export const SIZE_HINT = 'must be a size: bytes as a number, or a string such as "512MiB", "18GiB", "1.5GiB", "8GB"';

/** Parses a duration (number = seconds) into whole milliseconds; throws `RangeError` with a hint when invalid. */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(DURATION_HINT);
    return Math.round(value * 1000);
  }
  if (typeof value !== 'string') throw new RangeError(DURATION_HINT);
  const text = value.trim().toLowerCase();
  if (text === '') throw new RangeError(DURATION_HINT);
  if (/^(?:\d+(?:\.\d+)?|\.\d+)$/.test(text)) return Math.round(Number(text) * 1000);
  // one or more <number><unit> parts, back to back (`1h30m`); sticky, so nothing may sit between them
  const part = new RegExp(DURATION_PART_SOURCE, 'y');
  let totalMs = 0;
  let consumed = 0;
  for (let match = part.exec(text); match; match = part.exec(text)) {
    totalMs += Number(match[1]) * (DURATION_UNIT_MS[match[2] ?? ''] ?? Number.NaN);
    consumed = part.lastIndex;
  }
  if (consumed !== text.length || !Number.isFinite(totalMs)) throw new RangeError(DURATION_HINT);
  return Math.round(totalMs);
}

/** Parses a size (number = bytes) into whole bytes; throws `RangeError` with a hint when invalid. */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(SIZE_HINT);
    return Math.round(value);
  }
  if (typeof value !== 'string') throw new RangeError(SIZE_HINT);
  const match = SIZE_TEXT.exec(value.trim());
  if (!match) throw new RangeError(SIZE_HINT);
  const unit = (match[2] ?? '').toLowerCase();
  const factor = unit === '' ? 1 : SIZE_UNIT_BYTES[unit];
  if (factor === undefined) throw new RangeError(SIZE_HINT);
  return Math.round(Number(match[1]) * factor);
}

/** Short human form of a duration for display: `500ms`, `90s`, `5m`, `2h`, `1h30m`. */
export function formatDuration(ms: number): string {
  if (ms < 1000 || ms % 1000 !== 0) return ms < 1000 ? `${ms}ms` : `${ms / 1000}s`;
  let seconds = ms / 1000;
  const parts: string[] = [];
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60], ['s', 1]] as const) {
    if (seconds >= size) {
      const count = Math.floor(seconds / size);
      parts.push(`${count}${unit}`);
      seconds -= count * size;
    }
  }
  return parts.join('');
}

/** Short human form of a byte count: `1.5GiB`, `512MiB`, `100B`. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (bytes >= size) return `${Number((bytes / size).toFixed(2))}${unit}`;
  }
  return `${bytes}B`;
}
