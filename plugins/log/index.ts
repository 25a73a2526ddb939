// `log`: one structured JSON line per delivery, to Relay's logger or appended
// to a file. The file mode is what the benchmark measures, so a line costs one
// JSON.stringify and one buffered stream write.

import { createWriteStream, mkdirSync, openSync, type WriteStream } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { definePlugin, type JsonSchema, type RelayEvent } from '../../src/index.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface LogOptions {
  message: string;
  fields?: Record<string, string | number | boolean>;
  level: LogLevel;
  file?: string;
  payload: boolean;
}

/** Keys of the line itself; `fields` may not shadow them. */
const RESERVED = ['time', 'level', 'action', 'event', 'events', 'message', 'payload'];

const options: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    message: {
      type: 'string',
      description: 'Liquid template for the `message` of the line. In a batch it sees `events`.',
      default: '{{ event.type }} {{ event.id }}',
      examples: ['{{ event.type }} {{ event.id }}', 'document {{ payload.data.document.filename }} processed'],
    },
    fields: {
      type: 'object',
      description: 'Extra keys of the line; string values are Liquid templates. May not use the line\'s own keys.',
      propertyNames: { not: { enum: RESERVED } },
      additionalProperties: {
        anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'boolean' }],
      },
      examples: [{ document: '{{ payload.data.document.id }}', team: 'ops' }],
    },
    level: {
      type: 'string',
      enum: ['debug', 'info', 'warn', 'error'],
      description: 'Log level of the line (with `file`, written as the `level` key).',
      default: 'info',
      examples: ['info', 'warn'],
    },
    file: {
      type: 'string',
      minLength: 1,
      description:
        'Append lines to this file (created with its directory; relative to the working directory) instead of writing them to Relay\'s log.',
      examples: ['./var/events.log', '/var/log/relay/audit.jsonl'],
    },
    payload: {
      type: 'boolean',
      description: 'Include the full parsed payload (`payload`, or per event in `events` for a batch).',
      default: false,
      examples: [false, true],
    },
  },
};

// Streams are shared by absolute path across actions and config reloads:
// the plugin API has no close hook, so one stream per file keeps reloads
// from leaking descriptors, and writers to one file never interleave.
const streams = new Map<string, WriteStream>();

function openStream(path: string, onError: (err: Error) => void): WriteStream {
  const existing = streams.get(path);
  if (existing && !existing.destroyed) return existing;
  mkdirSync(dirname(path), { recursive: true });
  // Opened synchronously so an unwritable path rejects the config at load.
  const stream = createWriteStream(path, { fd: openSync(path, 'a'), highWaterMark: 64 * 1024 });
  stream.on('error', (err) => {
    streams.delete(path);
    onError(err);
  });
  streams.set(path, stream);
  return stream;
}

function identity(e: RelayEvent) {
  return { id: e.id, type: e.type, source: e.source, receivedAt: new Date(e.receivedAt).toISOString() };
}

export const log = definePlugin<LogOptions>({
  name: 'log',
  description: 'Writes one structured JSON line per delivery, to Relay\'s log or to a file.',
  options,
  templates: ['message', 'fields'],
  create(config, ctx) {
    const path = config.file === undefined ? undefined : resolve(config.file);
    const onError = (err: Error) => ctx.logger.error({ err, file: path }, 'log file write failed');
    if (path) openStream(path, onError);

    return async ({ options: o, event, batch, logger }) => {
      // Big values go last so the head of a line stays readable.
      const tail: Record<string, unknown> = {};
      if (batch) {
        // One line per delivery: the message is rendered once, over `events`.
        tail.events = batch.map((e) => (o.payload ? { ...identity(e), payload: e.payload } : identity(e)));
      } else if (o.payload) {
        tail.payload = event.payload;
      }
      if (!path) {
        // The delivery's logger already carries rule and action: repeating them would duplicate JSON keys.
        logger[o.level]({ event: identity(event), ...o.fields, ...tail }, o.message);
        return;
      }
      const line = JSON.stringify({
        time: new Date().toISOString(),
        level: o.level,
        action: ctx.name,
        event: identity(event),
        message: o.message,
        ...o.fields,
        ...tail,
      });
      const stream = openStream(path, onError);
      // Resolve only once the bytes are handed to the OS, so a delivery is
      // never recorded as done for a line that was still in memory.
      await new Promise<void>((done, fail) => stream.write(line + '\n', (err) => (err ? fail(err) : done())));
    };
  },
});

export default log;
