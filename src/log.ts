// One pino logger for the process: JSON lines in production, pretty in a
// terminal, and secrets redacted wherever they could appear, except on the
// per-event info lines (see LazyChild), which carry only Relay's own fields.
//
// Cost, measured with pino 10 writing to /dev/null: a redacted line costs
// ~25× an unredacted one, because pino's redaction walks and copies every
// logged object for its wildcard paths. At three or four info lines per
// event that was most of the ~45 % default logging took from throughput.

import { pino, type Logger } from 'pino';
import { SENSITIVE_HEADERS } from './verify/headers.js';

export const redactPaths = [
  ...SENSITIVE_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
  'secret',
  'secrets',
  '*.secret',
  '*.secrets',
  '*.pass',
  '*.password',
  '*.auth',
  'options.secrets',
];

export interface LogOptions {
  level?: string;
  /** Force JSON (tests, pipes) or pretty output; default: pretty only in a terminal. */
  pretty?: boolean;
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions = {}): Logger {
  const level = options.level ?? process.env.RELAY_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? logFormat(process.env.LOG_FORMAT) ?? (process.stdout.isTTY === true && !options.destination);
  const base = { level, redact: { paths: redactPaths, censor: '[redacted]' } };
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } });
  if (options.destination) return pino(base, options.destination);
  // Synchronous stdout, pino's default. An asynchronous destination buffers
  // whatever the reader of stdout has not taken yet, without a bound: under
  // full load with the default level its buffer held ~45 MB (peak RSS 265
  // against 221 MB), and the CPU it seemed to save was only deferred to a
  // flush at exit. A reader that stalls slows Relay instead of growing it.
  return pino(base, pino.destination({ dest: 1, sync: true }));
}

/** Loggers without redaction, one per redacting logger (made on first use). */
const plainOf = new WeakMap<object, ChildCapable>();
function plain(logger: ChildCapable): ChildCapable {
  let p = plainOf.get(logger);
  // pino's child options replace the parent's redaction; an empty list is none.
  if (!p) plainOf.set(logger, (p = logger.child({}, { redact: [] })));
  return p;
}

/** `LOG_FORMAT=json|pretty` forces the format whatever stdout is; anything else leaves the default. */
function logFormat(value: string | undefined): boolean | undefined {
  return value === 'json' ? false : value === 'pretty' ? true : undefined;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
interface ChildCapable {
  child(bindings: Record<string, unknown>, options?: { redact?: string[] }): ChildCapable;
  isLevelEnabled?(level: string): boolean;
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/**
 * A child logger made only when something is logged at an enabled level.
 * pino's child() serialises and redacts its bindings up front (about 15 µs);
 * one per request and one per delivery was 8 % of Relay's CPU under load,
 * mostly for lines never written.
 *
 * These are the per-request and per-delivery loggers, so their debug and
 * info lines are the per-event ones ("event received", "delivered", the log
 * action's line). Those skip redaction: their fields are ids, names, counts
 * and the log action's own message and fields, never headers or config.
 * Warnings and errors, rare and carrying error details, stay redacted.
 */
export class LazyChild implements ChildCapable {
  private real: ChildCapable | undefined;
  private realPlain: ChildCapable | undefined;
  constructor(
    private readonly parent: ChildCapable,
    private readonly bindings: Record<string, unknown>,
  ) {}

  isLevelEnabled(level: string): boolean {
    return this.parent.isLevelEnabled?.(level) ?? true;
  }

  child(bindings: Record<string, unknown>): LazyChild {
    return new LazyChild(this, bindings);
  }

  debug(obj: object | string, msg?: string): void {
    this.write('debug', obj, msg);
  }
  info(obj: object | string, msg?: string): void {
    this.write('info', obj, msg);
  }
  warn(obj: object | string, msg?: string): void {
    this.write('warn', obj, msg);
  }
  error(obj: object | string, msg?: string): void {
    this.write('error', obj, msg);
  }

  /** The real pino child, made on first use (a lazy parent is made real first). */
  private resolve(): ChildCapable {
    const parent = this.parent instanceof LazyChild ? this.parent.resolve() : this.parent;
    return (this.real ??= parent.child(this.bindings));
  }

  /** The same without redaction, for the per-event lines. */
  private resolvePlain(): ChildCapable {
    const parent = this.parent instanceof LazyChild ? this.parent.resolvePlain() : plain(this.parent);
    return (this.realPlain ??= parent.child(this.bindings));
  }

  private write(level: Level, obj: object | string, msg?: string): void {
    if (!this.isLevelEnabled(level)) return;
    const real = level === 'info' || level === 'debug' ? this.resolvePlain() : this.resolve();
    if (msg === undefined) real[level](obj);
    else real[level](obj, msg);
  }
}
