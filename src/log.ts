// One pino logger for the process: JSON lines in production, pretty in a
// terminal, and secrets redacted wherever they could appear.

import { pino, type Logger } from 'pino';

const SECRET_HEADERS = [
  'authorization',
  'cookie',
  'x-archivus-signature',
  'x-hub-signature',
  'x-hub-signature-256',
  'stripe-signature',
  'x-slack-signature',
  'x-shopify-hmac-sha256',
  'webhook-signature',
  'svix-signature',
  'x-relay-signature',
];

export const redactPaths = [
  ...SECRET_HEADERS.flatMap((h) => [`headers["${h}"]`, `*.headers["${h}"]`]),
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
  const pretty = options.pretty ?? (process.stdout.isTTY === true && !options.destination);
  const base = { level, redact: { paths: redactPaths, censor: '[redacted]' } };
  if (pretty) return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:HH:MM:ss.l' } } });
  if (options.destination) return pino(base, options.destination);
  return pino(base);
}
