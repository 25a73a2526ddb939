// Turns `actions:` and each rule's `actions:` into runnable actions: resolves
// `use`, merges per-rule overrides, validates options against the plugin's
// schema, parses templates and builds each runner once.

import { createHash } from 'node:crypto';
import { ConfigError, type ConfigIssue } from '../errors.js';
import type { PluginLogger, JsonValue } from '../plugin.js';
import { templateContext, type RelayEvent, type TemplateContext } from '../event.js';
import type { ActionCatalog, DeliveryPolicy, ResolvedAction } from '../deliver/types.js';
import type { PlannedDelivery } from '../queue/store.js';
import { checkUrl, compileTemplates, compileUrlTemplate } from '../match/template.js';
import { compileTransform, type CompiledTransform, type TransformConfig } from '../match/transform.js';
import { EgressPolicy } from '../deliver/egress-policy.js';
import { createEgress, type Egress } from '../deliver/egress.js';
import { sensitiveHeaderTest } from '../verify/headers.js';
import type { AnyPlugin } from './plugins.js';
import type { ActionConfig, CircuitConfig, RawConfig } from './types.js';
import { BREAKER_DEFAULTS, type CircuitSettings } from '../deliver/breaker.js';
import { validateWith } from './validate.js';
import { didYouMean } from './suggest.js';
import { toMs } from './units.js';

type Path = (string | number)[];
type Render = (ctx: TemplateContext) => Record<string, unknown>;
type Transform = (ctx: TemplateContext) => Promise<Record<string, JsonValue>>;

/** What every runner of one loaded config shares. */
interface PerConfig {
  logger: PluginLogger;
  closers: Array<() => void | Promise<void>>;
  egress: Egress;
  isSensitiveHeader: (name: string) => boolean;
}

export interface CompiledAction extends ResolvedAction {
  enabled: boolean;
  /** `ordering: fifo`: one delivery in flight to the target, oldest first (src/queue/fifo.ts). */
  fifo: boolean;
  batch?: { windowMs: number; max: number };
  /** The options as configured, templates not yet rendered (for `relay test`). */
  options: Record<string, unknown>;
  render(events: RelayEvent[]): Record<string, unknown>;
  /** The output of each transform option the config sets (for `relay test` and execute). */
  transform(events: RelayEvent[]): Promise<Record<string, JsonValue>>;
}

export interface CompiledActions {
  catalog: ActionCatalog;
  /** Actions of each rule, in order. */
  byRule: Map<string, CompiledAction[]>;
  plan(rules: ReadonlyArray<{ name: string }>): PlannedDelivery[];
  issues: ConfigIssue[];
  /** Runs every clean-up the plugins registered (connection pools, files). */
  close(): Promise<void>;
}

export async function compileActions(
  config: Pick<RawConfig, 'actions' | 'rules' | 'delivery' | 'sources' | 'egress'>,
  plugins: ReadonlyMap<string, AnyPlugin>,
  logger: PluginLogger,
): Promise<CompiledActions> {
  const { policy, issues } = EgressPolicy.compile(config.egress);
  const closers: Array<() => void | Promise<void>> = [];
  // One dispatcher (one set of keep-alive pools) per loaded config, closed with its runners.
  const egress = createEgress(policy);
  const perConfig: PerConfig = { logger, closers, egress: egress.egress, isSensitiveHeader: sensitiveHeaderTest(config.sources ?? {}) };
  const declared = config.actions ?? {};
  const known = () => [...plugins.keys(), ...Object.keys(declared)].join(', ');

  for (const name of Object.keys(declared)) {
    if (plugins.has(name)) issues.push({ path: ['actions', name], message: `"${name}" is a plugin name; pick another name for this action` });
    const use = declared[name]!.use;
    if (!plugins.has(use)) issues.push({ path: ['actions', name, 'use'], message: `unknown plugin "${use}"${didYouMean(use, plugins.keys())} (known: ${[...plugins.keys()].join(', ')})` });
  }

  // Built once per declared action and reused by every rule that uses it unchanged.
  const shared = new Map<string, Promise<CompiledAction | undefined>>();
  const byRule = new Map<string, CompiledAction[]>();
  const index = new Map<string, CompiledAction>();

  for (const [r, rule] of config.rules.entries()) {
    const list: CompiledAction[] = [];
    for (const [a, item] of rule.actions.entries()) {
      const at: Path = ['rules', r, 'actions', a];
      const base = declared[item.use];
      let compiled: CompiledAction | undefined;
      if (base && plugins.has(base.use)) {
        const key = item.name ?? item.use;
        const plain = !item.with && !item.retry && item.circuit === undefined && !item.timeout && !item.concurrency && !item.batch && !item.ordering && item.enabled === undefined;
        if (plain) {
          let pending = shared.get(item.use);
          if (!pending) {
            pending = build(['actions', item.use], base, rule.name, key, plugins.get(base.use)!, config, issues, perConfig);
            shared.set(item.use, pending);
          }
          const built = await pending;
          compiled = built && { ...built, rule: rule.name, action: key };
        } else {
          const merged: ActionConfig = { ...base, ...item, use: base.use, with: { ...base.with, ...item.with } };
          compiled = await build(at, merged, rule.name, key, plugins.get(base.use)!, config, issues, perConfig);
        }
      } else if (plugins.has(item.use)) {
        compiled = await build(at, item, rule.name, item.name ?? inlineName(item), plugins.get(item.use)!, config, issues, perConfig);
      } else if (!base) {
        issues.push({ path: [...at, 'use'], message: `unknown action "${item.use}"${didYouMean(item.use, [...plugins.keys(), ...Object.keys(declared)])} (known: ${known()})` });
      }
      if (!compiled) continue;
      if (index.has(`${rule.name}\0${compiled.action}`)) {
        issues.push({ path: [...at, 'name'], message: `rule "${rule.name}" already has an action named "${compiled.action}"; give this one a \`name\`` });
        continue;
      }
      index.set(`${rule.name}\0${compiled.action}`, compiled);
      list.push(compiled);
    }
    byRule.set(rule.name, list);
  }

  const fifoTargets = [...new Set([...index.values()].filter((a) => a.fifo && a.enabled).map((a) => a.target))];
  return {
    issues,
    byRule,
    async close() {
      await Promise.allSettled(closers.map(async (fn) => fn()));
      await egress.close();
    },
    catalog: {
      get: (rule, action) => index.get(`${rule}\0${action}`),
      hasRule: (rule) => byRule.has(rule),
      fifoTargets: () => fifoTargets,
    },
    plan(rules) {
      const out: PlannedDelivery[] = [];
      for (const rule of rules) {
        for (const action of byRule.get(rule.name) ?? []) {
          if (!action.enabled) continue;
          out.push({
            rule: rule.name,
            action: action.action,
            target: action.target,
            ...(action.batch && {
              batch: { key: `${rule.name}/${action.action}`, windowMs: action.batch.windowMs, max: action.batch.max },
            }),
          });
        }
      }
      return out;
    },
  };
}

async function build(
  at: Path,
  cfg: ActionConfig,
  rule: string,
  key: string,
  plugin: AnyPlugin,
  config: Pick<RawConfig, 'delivery'>,
  issues: ConfigIssue[],
  perConfig: PerConfig,
): Promise<CompiledAction | undefined> {
  if (cfg.ordering === 'fifo' && cfg.batch) {
    // A batch is one delivery formed over a window: ordering it against single deliveries has no clear meaning.
    issues.push({ path: [...at, 'ordering'], message: '`ordering: fifo` cannot be combined with `batch`' });
    return undefined;
  }
  const options = structuredClone(cfg.with ?? {}) as Record<string, unknown>;
  const optionIssues = validateWith(plugin.options, options, [...at, 'with']);
  if (optionIssues.length) {
    issues.push(...optionIssues);
    return undefined;
  }
  let render: Render;
  let renderBatch: Render | undefined;
  let transform: Transform;
  let transformBatch: Transform | undefined;
  try {
    render = compileOptions(plugin, options, [...at, 'with']);
    transform = compileTransforms(plugin, options, [...at, 'with']);
    if (cfg.batch?.with) {
      const batchOptions = { ...options, ...cfg.batch.with };
      issues.push(...validateWith(plugin.options, batchOptions, [...at, 'batch', 'with']));
      renderBatch = compileOptions(plugin, batchOptions, [...at, 'batch', 'with']);
      transformBatch = compileTransforms(plugin, batchOptions, [...at, 'batch', 'with']);
    }
  } catch (err) {
    issues.push(...issuesOf(err, at));
    return undefined;
  }

  const enabled = cfg.enabled !== false;
  let runner: Awaited<ReturnType<AnyPlugin['create']>> | undefined;
  if (enabled) {
    try {
      runner = await plugin.create(options, {
        name: key,
        logger: perConfig.logger,
        onClose: (fn) => void perConfig.closers.push(fn),
        // A getter: the shared pool (and undici) is made when an action uses it.
        get dispatcher() {
          return perConfig.egress.dispatcher;
        },
        egress: perConfig.egress,
        isSensitiveHeader: perConfig.isSensitiveHeader,
      });
    } catch (err) {
      issues.push({ path: [...at, 'with'], message: `${plugin.name} rejected its options: ${(err as Error).message}` });
      return undefined;
    }
  }

  const retry = { ...config.delivery.retry, ...cfg.retry };
  const policy: DeliveryPolicy = {
    retry: {
      attempts: retry.attempts ?? 15,
      initialDelayMs: toMs(retry.initialDelay ?? '1s'),
      maxDelayMs: toMs(retry.maxDelay ?? '10m'),
    },
    timeoutMs: toMs(cfg.timeout ?? config.delivery.timeout),
    concurrency: cfg.concurrency ?? config.delivery.concurrency,
    circuit: circuitSettings(config.delivery.circuit, cfg.circuit),
  };
  let target = `${plugin.name}:${key}`;
  try {
    target = plugin.target?.(options) ?? target;
  } catch {
    // A target derived from a template that is not a URL yet keeps the default key.
  }

  const contextFor = (events: RelayEvent[]): TemplateContext => {
    const first = events[0]!;
    if (!cfg.batch) return templateContext(first);
    return { ...templateContext(first), events: events.map(templateContext) };
  };
  const renderFor = (events: RelayEvent[]): Record<string, unknown> => (cfg.batch ? (renderBatch ?? render) : render)(contextFor(events));
  const transformFor = (events: RelayEvent[]): Promise<Record<string, JsonValue>> =>
    (cfg.batch ? (transformBatch ?? transform) : transform)(contextFor(events));

  return {
    rule,
    action: key,
    plugin: plugin.name,
    target,
    policy,
    enabled,
    fifo: cfg.ordering === 'fifo',
    options,
    ...(cfg.batch && { batch: { windowMs: toMs(cfg.batch.window), max: cfg.batch.max ?? 50 } }),
    render: renderFor,
    transform: transformFor,
    async execute({ events, attempt, delivery, signal, logger: log, traceparent }) {
      if (!runner) throw new Error(`action ${key} is disabled`);
      return runner({
        options: renderFor(events),
        transformed: await transformFor(events),
        event: events[0]!,
        ...(cfg.batch && { batch: events }),
        attempt,
        delivery,
        signal,
        logger: log,
        ...(traceparent !== undefined && { traceparent }),
      });
    },
  };
}

/** An action's `circuit:` over `delivery.circuit`, key by key (like `retry`); `false` at either level that applies turns it off. */
function circuitSettings(defaults: CircuitConfig | undefined, own: CircuitConfig | undefined): CircuitSettings | false {
  if (own === false || (own === undefined && defaults === false)) return false;
  const merged = { ...(defaults || {}), ...own };
  return {
    threshold: merged.failures ?? BREAKER_DEFAULTS.threshold,
    cooldownMs: merged.cooldown !== undefined ? toMs(merged.cooldown) : BREAKER_DEFAULTS.cooldownMs,
    maxCooldownMs: merged.maxCooldown !== undefined ? toMs(merged.maxCooldown) : BREAKER_DEFAULTS.maxCooldownMs,
  };
}

/**
 * An unnamed inline action's identity: its plugin plus a hash of its options,
 * never its position. Queued deliveries store this name and are looked up by
 * it after a reload, so inserting an action before it (`[forward]` becoming
 * `[log, forward]`) cannot hand its deliveries to another action; changing its
 * options makes it a different action (its queued deliveries go dead, "action
 * removed by reload"), and a `name` keeps one identity across edits.
 */
export function inlineName(item: Pick<ActionConfig, 'use' | 'with'>): string {
  const hash = createHash('sha256').update(canonicalJson({ use: item.use, with: item.with ?? {} })).digest('hex');
  return `${item.use}~${hash.slice(0, 8)}`;
}

/** JSON with object keys sorted, so key order in the YAML does not change an identity. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * Compiles the templated fields once; the rest of the options pass through
 * untouched. URL fields are checked (and, when templated, rendered) as URLs.
 */
function compileOptions(plugin: AnyPlugin, options: Record<string, unknown>, at: Path): Render {
  const urls = new Set<string>(plugin.urls ?? []);
  const issues: ConfigIssue[] = [];
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (err) {
      issues.push(...issuesOf(err, at));
      return undefined;
    }
  };
  for (const f of urls) {
    if (typeof options[f] === 'string' && !plugin.templates?.includes(f)) attempt(() => checkUrl(options[f] as string, [...at, f]));
  }
  const fields = (plugin.templates ?? []).filter((f) => options[f] !== undefined);
  const compiled = fields.flatMap((f) => {
    const value = options[f];
    const fn = attempt(() =>
      urls.has(f) && typeof value === 'string' ? compileUrlTemplate(value, [...at, f]) : compileTemplates(value as JsonValue, [...at, f]),
    );
    return fn ? [[f, fn] as const] : [];
  });
  if (issues.length) throw new ConfigError(issues);
  if (!compiled.length) return () => options;
  return (ctx) => {
    const out: Record<string, unknown> = { ...options };
    for (const [field, fn] of compiled) out[field] = fn(ctx);
    return out;
  };
}

/** Compiles the options the plugin declares as transforms; every broken one is reported. */
function compileTransforms(plugin: AnyPlugin, options: Record<string, unknown>, at: Path): Transform {
  const issues: ConfigIssue[] = [];
  const compiled: Array<readonly [string, CompiledTransform]> = [];
  for (const field of plugin.transforms ?? []) {
    const value = options[field];
    if (value === undefined) continue;
    try {
      compiled.push([field, compileTransform(value as TransformConfig, [...at, field])]);
    } catch (err) {
      issues.push(...issuesOf(err, at));
    }
  }
  if (issues.length) throw new ConfigError(issues);
  if (!compiled.length) return async () => ({});
  return async (ctx) => Object.fromEntries(await Promise.all(compiled.map(async ([field, fn]) => [field, await fn(ctx)] as const)));
}

function issuesOf(err: unknown, at: Path): ConfigIssue[] {
  const withIssues = err as { issues?: ConfigIssue[] };
  if (Array.isArray(withIssues.issues)) return withIssues.issues;
  return [{ path: at, message: (err as Error).message }];
}
