// One pino logger for the process: JSON lines in production, pretty in a
// terminal, and secrets redacted wherever they could appear.

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
  return pino(base);
}

/** `LOG_FORMAT=json|pretty` forces the format whatever stdout is; anything else leaves the default. */
function logFormat(value: string | undefined): boolean | undefined {
  return value === 'json' ? false : value === 'pretty' ? true : undefined;
}

type Level = 'debug' | 'info' | 'warn' | 'error';
interface ChildCapable {
  child(bindings: Record<string, unknown>): ChildCapable;
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
 */
export class LazyChild implements ChildCapable {
  private real: ChildCapable | undefined;
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

  private write(level: Level, obj: object | string, msg?: string): void {
    if (!this.isLevelEnabled(level)) return;
    const real = this.resolve();
    if (msg === undefined) real[level](obj);
    else real[level](obj, msg);
  }
}
