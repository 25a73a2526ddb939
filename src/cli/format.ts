// Plain-text tables and times for the operator commands; no dependencies, no
// colours, so output pastes cleanly into tickets and greps the same in CI.

/** Where a command writes: the process, or a test's capture. */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  /** Is stderr a terminal: draw a progress bar there, or print plain lines. */
  tty: boolean;
  stderr?: NodeJS.WritableStream;
}

export const processIo: Io = {
  out: (text) => void process.stdout.write(`${text}\n`),
  err: (text) => void process.stderr.write(`${text}\n`),
  tty: process.stderr.isTTY === true,
  stderr: process.stderr,
};

// Code points, not UTF-16 units, so ids with emoji or accents keep columns aligned.
const width = (s: string) => [...s].length;

export function truncate(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, Math.max(1, max - 1)).join('')}…`;
}

/** Left-aligned columns two spaces apart; the header, if any, upper-cased. Trailing spaces trimmed. */
export function table(header: readonly string[] | null, rows: ReadonlyArray<readonly string[]>): string {
  const all = header === null ? [...rows] : [header.map((h) => h.toUpperCase()), ...rows];
  const columns = Math.max(0, ...all.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) => Math.max(...all.map((r) => width(r[i] ?? ''))));
  return all
    .map((r) => r.map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - width(cell))).join('  ').trimEnd())
    .join('\n');
}

/** `45s ago`, `12m ago`, `3h ago`, `5d ago`; `in 30s` for the future. */
export function relative(at: number | string, now = Date.now()): string {
  const ms = (typeof at === 'string' ? Date.parse(at) : at) - now;
  const abs = Math.abs(ms);
  if (abs < 1000) return 'now';
  const [n, unit] =
    abs < 60e3 ? [abs / 1e3, 's'] : abs < 3600e3 ? [abs / 60e3, 'm'] : abs < 86400e3 ? [abs / 3600e3, 'h'] : [abs / 86400e3, 'd'];
  const text = `${Math.floor(n)}${unit}`;
  return ms < 0 ? `${text} ago` : `in ${text}`;
}

/** ISO with its age, for detail views where both matter. */
export function when(at: string, now = Date.now()): string {
  return `${at} (${relative(at, now)})`;
}

export function indent(text: string, by = '  '): string {
  return text.replace(/^/gm, by);
}
