// Fake events, a recording logger, and `loadAction`: a small stand-in for
// the core's action loading (ajv with defaults, then Liquid over the
// templated fields) so plugin tests exercise real templates.

import { Ajv } from 'ajv';
import { Liquid } from 'liquidjs';
import type { ActionPlugin, ActionResult, PluginLogger, RelayEvent } from '../../src/index.js';
import { templateContext, type TemplateContext } from '../../src/event.js';

let seq = 0;

/** An event whose rawBody is the JSON of its payload, unless given. */
export function makeEvent(overrides: Partial<RelayEvent> = {}): RelayEvent {
  seq += 1;
  const payload = overrides.payload ?? { type: 'document.processed', data: { document: { id: `doc_${seq}`, filename: `file-${seq}.pdf` } } };
  return {
    id: `evt_${seq}`,
    type: 'document.processed',
    source: 'archivus',
    receivedAt: Date.UTC(2024, 0, 2, 3, 4, 5),
    headers: { 'content-type': 'application/json', 'user-agent': 'Archivus-Hookshot/1.0' },
    rawBody: Buffer.from(JSON.stringify(payload)),
    ...overrides,
    payload,
  };
}

export function makeBatch(n: number, overrides: (i: number) => Partial<RelayEvent> = () => ({})): RelayEvent[] {
  return Array.from({ length: n }, (_, i) => makeEvent(overrides(i)));
}

export interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: object | string;
  msg?: string;
}

/** A PluginLogger that prints nothing and keeps what it was given. */
export function recordingLogger(): PluginLogger & { records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at = (level: LogRecord['level']) => (obj: object | string, msg?: string) => {
    records.push({ level, obj, msg });
  };
  return { records, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export const silentLogger: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Same options as the core's validator, with ajv's strict mode on so sloppy schemas fail here. */
export function createTestAjv(): Ajv {
  return new Ajv({ useDefaults: true, allErrors: true });
}

/** The template context the core builds: the first event, plus `events` when batched. */
export function contextFor(events: RelayEvent[], batched = events.length > 1): TemplateContext {
  const first = events[0];
  if (!first) throw new Error('contextFor needs at least one event');
  const ctx = templateContext(first);
  if (batched) ctx.events = events.map(templateContext);
  return ctx;
}

const liquid = new Liquid();

async function renderDeep(value: unknown, ctx: TemplateContext): Promise<unknown> {
  if (typeof value === 'string') return liquid.parseAndRender(value, ctx);
  if (Array.isArray(value)) return Promise.all(value.map((v) => renderDeep(v, ctx)));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = await renderDeep(v, ctx);
    return out;
  }
  return value;
}

export interface RunOptions {
  signal?: AbortSignal;
  attempt?: number;
  /** Force batch mode even for one event. */
  batched?: boolean;
  logger?: PluginLogger;
}

export interface LoadedAction<O> {
  /** The options after validation and defaults (templates not rendered). */
  options: O;
  run(events: RelayEvent | RelayEvent[], opts?: RunOptions): Promise<ActionResult | void>;
  /** What the plugin's `target` says for these options (the action name when it has none). */
  target(): string;
}

/** Validates `withOptions` like the core, calls `create` once, and renders templates per run. */
export async function loadAction<O>(
  plugin: ActionPlugin<O>,
  withOptions: Record<string, unknown>,
  name = 'test-action',
): Promise<LoadedAction<O>> {
  const validate = createTestAjv().compile(plugin.options);
  const options = structuredClone(withOptions);
  if (!validate(options)) {
    throw new Error(`invalid options: ${JSON.stringify(validate.errors)}`);
  }
  const typed = options as O;
  const runner = await plugin.create(typed, { name, logger: silentLogger, onClose: () => {} });
  return {
    options: typed,
    target: () => plugin.target?.(typed) ?? name,
    async run(input, opts = {}) {
      const events = Array.isArray(input) ? input : [input];
      const batched = opts.batched ?? events.length > 1;
      const ctx = contextFor(events, batched);
      const rendered = { ...(typed as Record<string, unknown>) };
      for (const key of plugin.templates ?? []) {
        if (rendered[key] !== undefined) rendered[key] = await renderDeep(rendered[key], ctx);
      }
      const first = events[0] as RelayEvent;
      return runner({
        options: rendered as O,
        event: first,
        ...(batched ? { batch: events } : {}),
        attempt: opts.attempt ?? 1,
        signal: opts.signal ?? new AbortController().signal,
        logger: opts.logger ?? silentLogger,
      });
    },
  };
}

/** Runs `fn` and returns what it threw; fails the test when nothing was thrown. */
export async function caught(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection, got none');
}
