// What the dashboard shows beyond the CLI's operations: the overview, traffic
// charts, rules with their recent matches, and dry runs (of a pasted event,
// or of a stored one against the current config). Read from the Store, the
// live config and the breakers; the admin API serves them.

import { toMs } from '../config/units.js';
import type { LoadedConfig } from '../config/load.js';
import type { CircuitInfo } from '../deliver/breaker.js';
import { DryRunError, dryRun, type DryRunResult } from '../dry-run.js';
import type { ConditionConfig } from '../match/condition.js';
import type { Store } from '../queue/store.js';
import { redactUrl } from '../deliver/exchange.js';
import { UsageError, maskHeaders } from './operations.js';

const MINUTE = 60_000;
/** Chart bucket sizes; a window takes the smallest that keeps it to MAX_BUCKETS (1h: per minute, 24h: per 15 minutes). */
const BUCKETS = [1, 5, 15, 60, 180, 360, 720, 1440].map((m) => m * MINUTE);
const MAX_BUCKETS = 100;

/** A stats window: any duration (`1h`, `24h`, `7d`, `90m`) up to the store's retention. */
export interface Window {
  name: string;
  ms: number;
  bucketMs: number;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function parseWindow(value: string | undefined, retentionMs: number): Window {
  const name = value === undefined || value === '' ? '1h' : value;
  let ms: number;
  try {
    ms = toMs(name);
  } catch {
    throw new UsageError(`window "${name}" is not a duration: use one like 1h, 24h or 7d`);
  }
  if (ms < MINUTE) throw new UsageError(`window "${name}" is shorter than a minute`);
  // Older events are pruned: a longer window would chart a cliff, not a quiet time.
  if (ms > retentionMs) throw new UsageError(`window "${name}" is longer than the retention (storage.retention, ${Math.round(retentionMs / 3600_000)}h)`);
  const bucketMs = BUCKETS.find((b) => ms / b <= MAX_BUCKETS) ?? BUCKETS.at(-1)!;
  return { name, ms, bucketMs };
}

export interface Overview {
  backlog: number;
  deadLetters: number;
  /** This process's breakers that are not closed. */
  openCircuits: Array<{ target: string; state: CircuitInfo['state']; failures: number; reopensAt: string | null }>;
  config: { hash: string; loadedAt: string; file: string; sources: number; rules: number };
}

export async function overview(store: Store, circuits: readonly CircuitInfo[], config: LoadedConfig): Promise<Overview> {
  const [backlog, deadLetters] = await Promise.all([store.backlog(), store.deadCount()]);
  return {
    backlog,
    deadLetters,
    openCircuits: circuits
      .filter((c) => c.state !== 'closed')
      .map((c) => ({ target: c.target, state: c.state, failures: c.failures, reopensAt: iso(c.reopensAt) })),
    config: { hash: config.hash, loadedAt: iso(config.loadedAt)!, file: config.file, sources: config.sources.size, rules: config.rules.rules.length },
  };
}

/** Counts aligned with `buckets` (oldest first), ready to chart. */
export interface Stats {
  /** As asked for: `1h`, `7d`. */
  window: string;
  bucketMs: number;
  /** Each bucket's start, ISO. */
  buckets: string[];
  events: Array<{ source: string; counts: number[] }>;
  /** Per action (its name; `rule/#i` for an unnamed one). */
  deliveries: Array<{ action: string; delivered: number[]; retry: number[]; dead: number[] }>;
}

/** Buckets ending with the current (partial) one. */
function grid(window: Window, now: number): { since: number; bucketMs: number; starts: number[] } {
  const { ms, bucketMs } = window;
  const count = Math.ceil(ms / bucketMs);
  const since = Math.floor(now / bucketMs) * bucketMs - (count - 1) * bucketMs;
  return { since, bucketMs, starts: Array.from({ length: count }, (_, i) => since + i * bucketMs) };
}

export async function stats(store: Store, window: Window, now = Date.now()): Promise<Stats> {
  const { since, bucketMs, starts } = grid(window, now);
  // Attempts count by when they started, so retries of older events show too.
  const activity = await store.activity({ since, bucketMs });
  const slot = (bucket: number) => Math.round((bucket - since) / bucketMs);
  const zeros = () => starts.map(() => 0);

  const events = new Map<string, number[]>();
  for (const e of activity.events) {
    const row = events.get(e.source) ?? zeros();
    events.set(e.source, row);
    if (row[slot(e.bucket)] !== undefined) row[slot(e.bucket)]! += e.count;
  }
  const deliveries = new Map<string, { delivered: number[]; retry: number[]; dead: number[] }>();
  for (const a of activity.attempts) {
    // Unnamed inline actions (`log~1a2b3c4d`; `#0` in older rows) are only unique within their rule.
    const action = /[~#]/.test(a.action) ? `${a.rule}/${a.action}` : a.action;
    const row = deliveries.get(action) ?? { delivered: zeros(), retry: zeros(), dead: zeros() };
    deliveries.set(action, row);
    const series = row[a.outcome];
    if (series[slot(a.bucket)] !== undefined) series[slot(a.bucket)]! += a.count;
  }
  const byName = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => a.localeCompare(b));
  return {
    window: window.name,
    bucketMs,
    buckets: starts.map((s) => iso(s)!),
    events: byName(events).map(([source, counts]) => ({ source, counts })),
    deliveries: byName(deliveries).map(([action, row]) => ({ action, ...row })),
  };
}

export interface RuleView {
  name: string;
  on: string[];
  /** Null: every source. */
  sources: string[] | null;
  stop: boolean;
  conditions: boolean;
  /** The rule's `when:` as written (all/any/not, path, operator, value; a list means all); null without one. */
  when: ConditionConfig | ConditionConfig[] | null;
  actions: Array<{ name: string; plugin: string; target: string; enabled: boolean }>;
  /** Events matched in the last 24 hours, and per hour (oldest first). */
  matches: { total: number; hourly: number[] };
}

/** The loaded rules with how often each matched over the last day (from the stored events, so every instance's). */
export async function rules(store: Store, config: LoadedConfig, now = Date.now()): Promise<{ since: string; rules: RuleView[] }> {
  const bucketMs = 60 * MINUTE;
  const since = Math.floor(now / bucketMs) * bucketMs - 23 * bucketMs;
  const activity = await store.activity({ since, bucketMs });
  const hourly = new Map<string, number[]>();
  for (const m of activity.matches) {
    const row = hourly.get(m.rule) ?? Array.from({ length: 24 }, () => 0);
    hourly.set(m.rule, row);
    const i = Math.round((m.bucket - since) / bucketMs);
    if (row[i] !== undefined) row[i] += m.count;
  }
  const when = new Map(config.raw.rules.map((r) => [r.name, r.when]));
  return {
    since: iso(since)!,
    rules: config.rules.rules.map((r) => {
      const counts = hourly.get(r.name) ?? Array.from({ length: 24 }, () => 0);
      return {
        name: r.name,
        on: [...r.on],
        sources: r.sources ? [...r.sources] : null,
        stop: r.stop,
        conditions: r.condition !== undefined,
        when: when.get(r.name) ?? null,
        actions: (config.actions.byRule.get(r.name) ?? []).map((a) => ({ name: a.action, plugin: a.plugin, target: a.target, enabled: a.enabled })),
        matches: { total: counts.reduce((n, c) => n + c, 0), hourly: counts },
      };
    }),
  };
}

export interface DryRunRequest {
  source?: string;
  headers?: Record<string, string>;
  /** The body as sent: a string as is, anything else as its JSON. */
  body: unknown;
}

const DRY_RUN_FIELDS = new Set(['source', 'headers', 'body']);

/**
 * A pasted event through the current config; nothing is sent. Rendered
 * fields can carry credentials from the config (a forward's Authorization
 * header, a token in its URL): those are masked, as GET /admin/config leaves
 * action options out.
 */
export async function tryEvent(config: LoadedConfig, input: unknown): Promise<DryRunResult & { configHash: string }> {
  const req = dryRunRequest(input);
  const body = Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body), 'utf8');
  try {
    const result = await dryRun(config, { body, ...(req.source !== undefined && { source: req.source }), ...(req.headers && { headers: req.headers }) });
    for (const rule of result.rules) for (const action of rule.actions ?? []) action.rendered = redact(action.rendered);
    return { ...result, configHash: config.hash };
  } catch (err) {
    if (err instanceof DryRunError) throw new UsageError(err.message);
    throw err;
  }
}

function redact(rendered: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, value] of Object.entries(rendered)) {
    if (field === 'headers' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      out[field] = maskHeaders(Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)])));
    } else if (typeof value === 'string' && /^https?:\/\//i.test(value)) {
      out[field] = redactUrl(value);
    } else {
      out[field] = value;
    }
  }
  return out;
}

function dryRunRequest(input: unknown): DryRunRequest {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new UsageError('the body must be a JSON object: {source?, headers?, body}');
  const b = input as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !DRY_RUN_FIELDS.has(k));
  if (unknown.length > 0) throw new UsageError(`unknown field ${unknown.map((k) => `"${k}"`).join(', ')} (known: source, headers, body)`);
  if (b.body === undefined) throw new UsageError('body is required: the event as sent (a string, or JSON)');
  if (b.source !== undefined && typeof b.source !== 'string') throw new UsageError('source must be a source name');
  if (b.headers !== undefined) {
    const h = b.headers;
    if (h === null || typeof h !== 'object' || Array.isArray(h) || !Object.values(h).every((v) => typeof v === 'string')) {
      throw new UsageError('headers must be an object of strings');
    }
  }
  return b as unknown as DryRunRequest;
}

export interface Explanation {
  /** The config the rules were evaluated against: the current one, not the one the event arrived under. */
  configHash: string;
  matched: string[];
  rules: Array<{ rule: string; matched: boolean; reason?: string }>;
}

/** Why a stored event matched what it did, re-evaluated against the current config; null when the event is unknown. */
export async function explain(store: Store, config: LoadedConfig, id: string): Promise<Explanation | { error: string } | null> {
  const e = await store.getEvent(id);
  if (e === null) return null;
  if (![...config.sources.values()].some((s) => s.name === e.source)) {
    return { error: `source "${e.source}" is no longer configured` };
  }
  try {
    const result = await dryRun(config, { source: e.source, headers: e.headers, body: e.rawBody });
    // Rule names and reasons only: rendered fields are what Try it is for.
    const rules = result.rules.map(({ rule, matched, reason }) => ({ rule, matched, ...(reason !== undefined && { reason }) }));
    return { configHash: config.hash, matched: e.matched, rules };
  } catch (err) {
    if (err instanceof DryRunError) return { error: err.message };
    throw err;
  }
}
