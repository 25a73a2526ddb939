// Prometheus metrics on a registry of our own (never prom-client's global
// one), so tests and several Relays in one process do not collide. Counters
// move as things happen; gauges are read from the running Relay on scrape.

import type Koa from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { CircuitInfo, CircuitState } from '../deliver/breaker.js';
import type { AttemptInfo } from '../deliver/types.js';

/** What gauges read at scrape time. Keep each cheap: Prometheus may scrape every few seconds. */
export interface MetricsSources {
  /** Deliveries not yet delivered or dead (Relay keeps this number fresh already). */
  backlog(): number | Promise<number>;
  /** Events holding a dead delivery (Store#deadCount once it exists); the gauge is left out without it. */
  deadLetters?(): number | Promise<number>;
  circuits(): readonly CircuitInfo[];
  /** The active config's hash, for relay_config_info. */
  configHash(): string | undefined;
}

export interface MetricsOptions extends MetricsSources {
  /** Distinct event types counted per source; later ones count as `other`. Default 200. */
  maxTypesPerSource?: number;
  /** Longest event-type label, in characters; longer types are cut and end in `…`. Default 128. */
  maxLabelLength?: number;
  /** Process metrics (CPU, memory, event loop, GC). Default true. */
  processMetrics?: boolean;
  /** A gauge's source failed: the scrape goes on without that gauge. */
  onCollectError?(err: unknown, metric: string): void;
}

export type DeliveryAttempt = Pick<AttemptInfo, 'rule' | 'action' | 'plugin' | 'outcome' | 'durationMs' | 'attempt'>;

export interface Metrics {
  readonly registry: Registry;
  /** outcome: accepted, duplicate or rejected:<reason>; the metric has outcome and reason as two labels. */
  eventReceived(source: string, type: string, outcome: string): void;
  ruleMatched(rule: string): void;
  /** Fits Deliverer's onAttempt hook as is. */
  attempt(info: DeliveryAttempt): void;
  configReloaded(outcome: 'ok' | 'error'): void;
  /** Answers GET/HEAD `path` (default /metrics) with the scrape; passes other paths on. */
  middleware(path?: string): Koa.Middleware;
}

export const OTHER_TYPE = 'other';
const CIRCUIT_VALUE: Record<CircuitState, number> = { closed: 0, open: 1, 'half-open': 0.5 };
// Webhook actions are network calls: milliseconds to the 30 s default timeout and beyond.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const ATTEMPT_BUCKETS = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20];

export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const maxTypes = options.maxTypesPerSource ?? 200;
  const maxLength = Math.max(2, options.maxLabelLength ?? 128);
  // Reading a gauge's source must not fail the whole scrape (a closed store while draining).
  const guarded = async (metric: string, read: () => Promise<void> | void): Promise<void> => {
    try {
      await read();
    } catch (err) {
      options.onCollectError?.(err, metric);
    }
  };

  const received = new Counter({
    name: 'relay_events_received_total',
    help: 'Webhook requests by source, event type, outcome (accepted, duplicate, rejected) and, for a rejection, its reason (signature, rate_limit, ...).',
    labelNames: ['source', 'type', 'outcome', 'reason'] as const,
    registers,
  });
  const matches = new Counter({ name: 'relay_rule_matches_total', help: 'Accepted events each rule matched.', labelNames: ['rule'] as const, registers });
  const attempts = new Counter({
    name: 'relay_delivery_attempts_total',
    help: 'Delivery attempts by rule, action, plugin and outcome (delivered, retry, dead).',
    labelNames: ['rule', 'action', 'plugin', 'outcome'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'relay_delivery_attempt_duration_seconds',
    help: 'How long one delivery attempt took, by plugin.',
    labelNames: ['plugin'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const tries = new Histogram({
    name: 'relay_delivery_attempts_to_finish',
    help: 'Attempts a delivery took until it was delivered or dead-lettered.',
    labelNames: ['plugin', 'outcome'] as const,
    buckets: ATTEMPT_BUCKETS,
    registers,
  });
  const reloads = new Counter({ name: 'relay_config_reloads_total', help: 'Config reloads by outcome (ok, error).', labelNames: ['outcome'] as const, registers });
  // Present from the start so rate() and alerts see a 0, not an absent series.
  reloads.inc({ outcome: 'ok' }, 0);
  reloads.inc({ outcome: 'error' }, 0);

  new Gauge({
    name: 'relay_queue_depth',
    help: 'Deliveries queued: pending, retrying or in flight (the backlog).',
    registers,
    collect() {
      return guarded('relay_queue_depth', async () => this.set(await options.backlog()));
    },
  });
  const deadLetters = options.deadLetters?.bind(options);
  if (deadLetters) {
    new Gauge({
      name: 'relay_dead_letters',
      help: 'Events holding a dead-lettered delivery, waiting for a replay.',
      registers,
      collect() {
        return guarded('relay_dead_letters', async () => this.set(await deadLetters()));
      },
    });
  }
  new Gauge({
    name: 'relay_circuit_state',
    help: 'Circuit breaker per target: 0 closed, 0.5 half-open, 1 open.',
    labelNames: ['target'] as const,
    registers,
    collect() {
      return guarded('relay_circuit_state', () => {
        // Reset first: a target that left the config must not linger.
        this.reset();
        for (const c of options.circuits()) this.set({ target: c.target }, CIRCUIT_VALUE[c.state]);
      });
    },
  });
  new Gauge({
    name: 'relay_config_info',
    help: 'The active config, by hash (always 1).',
    labelNames: ['hash'] as const,
    registers,
    collect() {
      return guarded('relay_config_info', () => {
        this.reset();
        const hash = options.configHash();
        if (hash) this.set({ hash }, 1);
      });
    },
  });
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  // Event types come from senders: cap the distinct values per source and
  // the length of each, so a sender cannot grow the series (or a scrape) without bound.
  const typesBySource = new Map<string, Set<string>>();
  const typeLabel = (source: string, whole: string): string => {
    const type = whole.length > maxLength ? cut(whole, maxLength - 1) + '…' : whole;
    let seen = typesBySource.get(source);
    if (!seen) typesBySource.set(source, (seen = new Set()));
    if (seen.has(type)) return type;
    if (seen.size >= maxTypes) return OTHER_TYPE;
    seen.add(type);
    return type;
  };

  return {
    registry,
    eventReceived(source, type, outcome) {
      // Two facts, two labels: sum by outcome without parsing, or by reason alone.
      const [kind = outcome, reason = ''] = outcome.split(':', 2);
      received.inc({ source, type: typeLabel(source, type), outcome: kind, reason });
    },
    ruleMatched(rule) {
      matches.inc({ rule });
    },
    attempt(info) {
      attempts.inc({ rule: info.rule, action: info.action, plugin: info.plugin, outcome: info.outcome });
      latency.observe({ plugin: info.plugin }, info.durationMs / 1000);
      if (info.outcome !== 'retry') tries.observe({ plugin: info.plugin, outcome: info.outcome }, info.attempt);
    },
    configReloaded(outcome) {
      reloads.inc({ outcome });
    },
    middleware(path = '/metrics') {
      return async (ctx, next) => {
        if (ctx.path !== path) return next();
        if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
          ctx.set('allow', 'GET, HEAD');
          ctx.status = 405;
          ctx.body = { error: 'method not allowed; use GET' };
          return;
        }
        const text = await registry.metrics();
        ctx.set('cache-control', 'no-store');
        ctx.set('content-type', registry.contentType);
        ctx.body = text;
      };
    },
  };
}

/** The first `n` UTF-16 units of `s`, without splitting a surrogate pair. */
function cut(s: string, n: number): string {
  const last = s.charCodeAt(n - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? n - 1 : n);
}
