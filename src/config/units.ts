// Durations and sizes as people write them in YAML: `30s`, `10m`, `1mb`.

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const DURATION_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)$/i;
const SIZE_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

/** JSON Schema fragments; the loader converts matching values after validation. */
export const durationSchema = {
  'x-expected': 'a duration like 250ms, 30s, 10m, 1h or 7d',
  description: 'A duration: milliseconds as a number, or a string like 250ms, 30s, 10m, 1h, 7d.',
  anyOf: [
    { type: 'number', minimum: 0 },
    { type: 'string', pattern: DURATION.source },
  ],
} as const;

export const sizeSchema = {
  'x-expected': 'a size like 512kb or 1mb',
  description: 'A size: bytes as a number, or a string like 512kb or 1mb.',
  anyOf: [
    { type: 'number', minimum: 1 },
    { type: 'string', pattern: SIZE.source },
  ],
} as const;

export function toMs(value: number | string): number {
  return scaled(value, DURATION, DURATION_MS, 'duration');
}

export function toBytes(value: number | string): number {
  return scaled(value, SIZE, SIZE_BYTES, 'size');
}

// Both forms are validated by the schema first; the throw guards other callers.
function scaled(value: number | string, pattern: RegExp, units: Record<string, number>, what: string): number {
  if (typeof value === 'number') return value;
  const m = pattern.exec(value.trim());
  if (!m) throw new Error(`not a ${what}: ${value}`);
  return Math.round(Number(m[1]) * (units[m[2]!.toLowerCase()] ?? 1));
}
