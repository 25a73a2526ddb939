// Fake events, a recording logger, and `loadAction`: one action loaded by
// the core's own compileActions, so plugin tests exercise real templates,
// real URL rendering and the real plugin context.

import { Ajv } from 'ajv';
import type { ActionPlugin, ActionResult, CreateContext, DeliveryInfo, PluginLogger, RelayEvent } from '../../src/index.js';
import { deliveryInfo } from '../../src/deliver/attempt.js';
import { templateContext, type TemplateContext } from '../../src/event.js';
import { compileActions } from '../../src/config/actions.js';
import type { AnyPlugin } from '../../src/config/plugins.js';
import { EgressPolicy, type EgressConfig } from '../../src/deliver/egress-policy.js';
import { createEgress } from '../../src/deliver/egress.js';
import { isSensitiveHeader } from '../../src/verify/headers.js';
import { formatIssue } from '../../src/errors.js';

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

export interface RunOptions {
  signal?: AbortSignal;
  attempt?: number;
  /** The delivery (default: id 1, its key derived as the worker derives it). */
  delivery?: DeliveryInfo;
  /** Force batch mode even for one event. */
  batched?: boolean;
  logger?: PluginLogger;
}

export interface LoadedAction<O> {
  /** The options after validation and defaults (templates not rendered). */
  options: O;
  run(events: RelayEvent | RelayEvent[], opts?: RunOptions): Promise<ActionResult | void>;
  /** The circuit-breaker key the core derives (the plugin's `target`, else `<plugin>:<name>`). */
  target(): string;
  /** Runs the plugin's clean-up and closes the action's dispatcher. */
  close(): Promise<void>;
}

export interface LoadActionOptions {
  /** The action's name (default `test-action`). */
  name?: string;
  /** The config's `egress` policy. */
  egress?: EgressConfig;
  /** The config's sources, whose signature headers count as sensitive. */
  sources?: Record<string, { path: string; verify: { scheme: string; [option: string]: unknown } }>;
}

/**
 * Loads one action the way the core does (compileActions: schema defaults,
 * templates and URL templates, the plugin context with its dispatcher), so
 * plugin tests exercise the real thing.
 */
export async function loadAction<O>(
  plugin: ActionPlugin<O>,
  withOptions: Record<string, unknown>,
  nameOrOptions: string | LoadActionOptions = {},
): Promise<LoadedAction<O>> {
  const opts = typeof nameOrOptions === 'string' ? { name: nameOrOptions } : nameOrOptions;
  const name = opts.name ?? 'test-action';
  const plugins = new Map([[plugin.name, plugin as unknown as AnyPlugin]]);
  const compile = async (batched: boolean) => {
    const compiled = await compileActions(
      {
        actions: {},
        rules: [{ name: 'test', on: '**', actions: [{ use: plugin.name, name, with: structuredClone(withOptions), ...(batched && { batch: { window: '1s' } }) }] }],
        delivery: { concurrency: 1, timeout: '30s', lease: '60s', retry: {} },
        sources: opts.sources ?? {},
        egress: opts.egress ?? {},
      },
      plugins,
      silentLogger,
    );
    const action = compiled.byRule.get('test')?.[0];
    if (compiled.issues.length || !action) throw new Error(`invalid options: ${compiled.issues.map(formatIssue).join('; ')}`);
    return { compiled, action };
  };
  const single = await compile(false);
  // A batched action is built only when a test runs one: create() runs once per build.
  let batched: Promise<Awaited<ReturnType<typeof compile>>> | undefined;
  return {
    options: single.action.options as O,
    target: () => single.action.target,
    async run(input, runOpts = {}) {
      const events = Array.isArray(input) ? input : [input];
      const asBatch = runOpts.batched ?? events.length > 1;
      const { action } = asBatch ? await (batched ??= compile(true)) : single;
      return action.execute({
        events,
        attempt: runOpts.attempt ?? 1,
        delivery: runOpts.delivery ?? deliveryInfo(1, 'test', name, events),
        signal: runOpts.signal ?? new AbortController().signal,
        logger: runOpts.logger ?? silentLogger,
      });
    },
    async close() {
      await single.compiled.close();
      if (batched) await (await batched).compiled.close();
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

/**
 * A plugin context as the core builds it (no egress policy), for tests that
 * call a plugin's `create` directly; `close()` also closes its dispatcher.
 */
export function pluginContext(name: string, onClose: (fn: () => void | Promise<void>) => void): CreateContext & { close(): Promise<void> } {
  const handle = createEgress(EgressPolicy.compile(undefined).policy);
  return {
    name,
    logger: silentLogger,
    onClose,
    dispatcher: handle.egress.dispatcher,
    egress: handle.egress,
    isSensitiveHeader: (header: string) => isSensitiveHeader(header),
    close: () => handle.close(),
  };
}
