// Metrics: counters move as events, matches and attempts happen and show in
// the Prometheus text with the right labels; gauges are read on scrape; the
// event-type label is capped; each Metrics has its own registry.

import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type Koa from 'koa';
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { CircuitInfo } from '../../src/deliver/breaker.js';
import { Deliverer, type DelivererOptions } from '../../src/deliver/worker.js';
import { createApp } from '../../src/ingest/server.js';
import { createMetrics, OTHER_TYPE, type Metrics, type MetricsOptions } from '../../src/ops/metrics.js';
import { openStore } from '../../src/queue/index.js';
import { loadYaml, minimal, tempDir } from '../helpers/config.js';
import { archivusSignature, postArchivus } from '../helpers/relay-process.js';

type Labels = Record<string, string>;

/** Every sample of `name` in a Prometheus text scrape, with its labels. */
function samples(text: string, name: string): Array<{ labels: Labels; value: number }> {
  const out: Array<{ labels: Labels; value: number }> = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Labels = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of the one sample whose labels include `want`; undefined when absent. */
function value(text: string, name: string, want: Labels = {}): number | undefined {
  const hits = samples(text, name).filter((s) => Object.entries(want).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${name} ${JSON.stringify(want)} matches ${hits.length} samples`);
  return hits[0]?.value;
}

function quiet(overrides: Partial<MetricsOptions> = {}): Metrics {
  return createMetrics({ backlog: () => 0, circuits: () => [], configHash: () => undefined, processMetrics: false, ...overrides });
}

const circuit = (target: string, state: CircuitInfo['state']): CircuitInfo => ({ target, state, openedAt: null, reopensAt: null, failures: 0 });

describe('counters', () => {
  it('counts events by source, type and outcome', async () => {
    const m = quiet();
    m.eventReceived('archivus', 'document.processed', 'accepted');
    m.eventReceived('archivus', 'document.processed', 'accepted');
    m.eventReceived('archivus', 'document.processed', 'duplicate');
    m.eventReceived('github', '', 'rejected:signature');
    const text = await m.registry.metrics();
    expect(value(text, 'relay_events_received_total', { source: 'archivus', type: 'document.processed', outcome: 'accepted' })).toBe(2);
    expect(value(text, 'relay_events_received_total', { source: 'archivus', type: 'document.processed', outcome: 'duplicate' })).toBe(1);
    expect(value(text, 'relay_events_received_total', { source: 'github', outcome: 'rejected', reason: 'signature' })).toBe(1);
  });

  it('counts rule matches and config reloads, with reload series present from the start', async () => {
    const m = quiet();
    let text = await m.registry.metrics();
    expect(value(text, 'relay_config_reloads_total', { outcome: 'ok' })).toBe(0);
    expect(value(text, 'relay_config_reloads_total', { outcome: 'error' })).toBe(0);
    m.ruleMatched('contracts');
    m.ruleMatched('contracts');
    m.ruleMatched('failures');
    m.configReloaded('ok');
    m.configReloaded('error');
    m.configReloaded('error');
    text = await m.registry.metrics();
    expect(value(text, 'relay_rule_matches_total', { rule: 'contracts' })).toBe(2);
    expect(value(text, 'relay_rule_matches_total', { rule: 'failures' })).toBe(1);
    expect(value(text, 'relay_config_reloads_total', { outcome: 'ok' })).toBe(1);
    expect(value(text, 'relay_config_reloads_total', { outcome: 'error' })).toBe(2);
  });

  it('counts attempts, times them, and records attempts-to-finish only when a delivery is done', async () => {
    const m = quiet();
    const base = { rule: 'contracts', action: 'team-slack', plugin: 'slack' };
    m.attempt({ ...base, outcome: 'retry', durationMs: 40, attempt: 1 });
    m.attempt({ ...base, outcome: 'retry', durationMs: 3000, attempt: 2 });
    m.attempt({ ...base, outcome: 'delivered', durationMs: 20, attempt: 3 });
    m.attempt({ ...base, action: 'legal', plugin: 'forward', outcome: 'dead', durationMs: 7, attempt: 1 });
    const text = await m.registry.metrics();
    expect(value(text, 'relay_delivery_attempts_total', { ...base, outcome: 'retry' })).toBe(2);
    expect(value(text, 'relay_delivery_attempts_total', { ...base, outcome: 'delivered' })).toBe(1);
    expect(value(text, 'relay_delivery_attempts_total', { rule: 'contracts', action: 'legal', plugin: 'forward', outcome: 'dead' })).toBe(1);
    // Seconds, per attempt: 0.04 and 0.02 fall under 0.05; 3 s does not fall under 2.5.
    expect(value(text, 'relay_delivery_attempt_duration_seconds_bucket', { plugin: 'slack', le: '0.05' })).toBe(2);
    expect(value(text, 'relay_delivery_attempt_duration_seconds_bucket', { plugin: 'slack', le: '2.5' })).toBe(2);
    expect(value(text, 'relay_delivery_attempt_duration_seconds_count', { plugin: 'slack' })).toBe(3);
    expect(value(text, 'relay_delivery_attempt_duration_seconds_sum', { plugin: 'slack' })).toBeCloseTo(3.06);
    expect(value(text, 'relay_delivery_attempts_to_finish_count', { plugin: 'slack', outcome: 'delivered' })).toBe(1);
    expect(value(text, 'relay_delivery_attempts_to_finish_sum', { plugin: 'slack', outcome: 'delivered' })).toBe(3);
    expect(value(text, 'relay_delivery_attempts_to_finish_count', { plugin: 'forward', outcome: 'dead' })).toBe(1);
    expect(samples(text, 'relay_delivery_attempts_to_finish_count').some((s) => s.labels.outcome === 'retry')).toBe(false);
  });
});

describe('the event type label', () => {
  it('caps distinct types per source and counts the rest as other', async () => {
    const m = quiet({ maxTypesPerSource: 3 });
    for (const t of ['a', 'b', 'c', 'd', 'e', 'a']) m.eventReceived('noisy', t, 'accepted');
    m.eventReceived('calm', 'd', 'accepted'); // another source has its own budget
    const text = await m.registry.metrics();
    const noisy = samples(text, 'relay_events_received_total').filter((s) => s.labels.source === 'noisy');
    expect(noisy.map((s) => s.labels.type).sort()).toEqual(['a', 'b', 'c', OTHER_TYPE]);
    expect(value(text, 'relay_events_received_total', { source: 'noisy', type: 'a' })).toBe(2);
    expect(value(text, 'relay_events_received_total', { source: 'noisy', type: OTHER_TYPE })).toBe(2);
    expect(value(text, 'relay_events_received_total', { source: 'calm', type: 'd' })).toBe(1);
  });

  it('defaults to 200 per source', async () => {
    const m = quiet();
    for (let i = 0; i < 250; i++) m.eventReceived('flood', `t${i}`, 'accepted');
    const text = await m.registry.metrics();
    expect(samples(text, 'relay_events_received_total')).toHaveLength(201);
    expect(value(text, 'relay_events_received_total', { type: OTHER_TYPE })).toBe(50);
  });
});

describe('gauges read on scrape', () => {
  it('reports backlog, dead letters, circuits and the config hash as they are now', async () => {
    let backlog = 7;
    let circuits = [circuit('hooks.slack.com', 'open'), circuit('https://api.example.com', 'half-open'), circuit('smtp:mail:25', 'closed')];
    let hash: string | undefined = 'abc123';
    const m = quiet({ backlog: () => backlog, deadLetters: async () => 2, circuits: () => circuits, configHash: () => hash });
    let text = await m.registry.metrics();
    expect(value(text, 'relay_queue_depth')).toBe(7);
    expect(value(text, 'relay_dead_letters')).toBe(2);
    expect(value(text, 'relay_circuit_state', { target: 'hooks.slack.com' })).toBe(1);
    expect(value(text, 'relay_circuit_state', { target: 'https://api.example.com' })).toBe(0.5);
    expect(value(text, 'relay_circuit_state', { target: 'smtp:mail:25' })).toBe(0);
    expect(value(text, 'relay_config_info', { hash: 'abc123' })).toBe(1);

    backlog = 3;
    circuits = [circuit('hooks.slack.com', 'closed')];
    hash = 'def456';
    text = await m.registry.metrics();
    expect(value(text, 'relay_queue_depth')).toBe(3);
    expect(samples(text, 'relay_circuit_state')).toEqual([{ labels: { target: 'hooks.slack.com' }, value: 0 }]);
    expect(samples(text, 'relay_config_info')).toEqual([{ labels: { hash: 'def456' }, value: 1 }]);
  });

  it('leaves out the dead-letter gauge when there is nothing to read it from', async () => {
    const text = await quiet().registry.metrics();
    expect(text).not.toContain('relay_dead_letters');
    expect(text).toContain('relay_queue_depth');
  });

  it('scrapes the rest when a source fails, and reports the failure', async () => {
    const failures: string[] = [];
    const m = quiet({
      backlog: () => Promise.reject(new Error('store is closed')),
      circuits: () => [circuit('t', 'open')],
      onCollectError: (_err, metric) => failures.push(metric),
    });
    m.eventReceived('s', 't', 'accepted');
    const text = await m.registry.metrics();
    expect(failures).toEqual(['relay_queue_depth']);
    expect(value(text, 'relay_circuit_state', { target: 't' })).toBe(1);
    expect(value(text, 'relay_events_received_total', { source: 's' })).toBe(1);
  });
});

describe('registries', () => {
  it('gives each Metrics its own registry, with process metrics by default', async () => {
    const a = createMetrics({ backlog: () => 0, circuits: () => [], configHash: () => 'a' });
    const b = createMetrics({ backlog: () => 0, circuits: () => [], configHash: () => 'b' }); // would throw on a shared registry
    a.ruleMatched('only-in-a');
    const [textA, textB] = await Promise.all([a.registry.metrics(), b.registry.metrics()]);
    expect(value(textA, 'relay_rule_matches_total', { rule: 'only-in-a' })).toBe(1);
    expect(textB).not.toContain('only-in-a');
    expect(textA).toContain('process_cpu_user_seconds_total');
    expect(textA).toContain('nodejs_eventloop_lag_seconds');
    expect(await quiet().registry.metrics()).not.toContain('process_cpu_user_seconds_total');
  });
});

describe('over HTTP, mounted in the ingest app', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  async function serve(app: Koa): Promise<string> {
    const server = app.listen(0, '127.0.0.1');
    await once(server, 'listening');
    cleanup.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  it('serves the scrape at /metrics and counts what the ingest path and the workers report', async () => {
    const config = await loadYaml(minimal);
    const store = await openStore({ driver: 'sqlite', path: join(tempDir(), 'relay.db'), sync: 'normal' });
    cleanup.push(() => store.close());
    const logger = pino({ level: 'silent' });
    let deliverer: Deliverer | undefined;
    const metrics = createMetrics({
      backlog: () => store.backlog(),
      circuits: () => deliverer?.circuits() ?? [],
      configHash: () => config.hash,
    });
    // The hook's type is the Deliverer's own: metrics.attempt plugs in unchanged.
    const onAttempt: DelivererOptions['onAttempt'] = metrics.attempt;
    deliverer = new Deliverer({ store, catalog: () => config.actions.catalog, logger, concurrency: 2, workerId: 'test', pollMs: 20, onAttempt });
    cleanup.push(() => deliverer!.stop(1000));
    const app = createApp({
      config: () => config,
      store,
      logger,
      onQueued: () => deliverer!.notify(),
      overloaded: () => false,
      draining: () => false,
      extra: [metrics.middleware()],
      observe: (source, type, outcome) => metrics.eventReceived(source, type, outcome),
    });
    const url = await serve(app);

    const body = JSON.stringify({ id: 'evt_1', type: 'document.processed', data: {} });
    expect((await postArchivus(`${url}/webhooks/archivus`, body, 's3cret')).status).toBe(202);
    expect((await postArchivus(`${url}/webhooks/archivus`, body, 's3cret')).status).toBe(200);
    const forged = await fetch(`${url}/webhooks/archivus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-archivus-signature': archivusSignature(body, 'wrong') },
      body,
    });
    expect(forged.status).toBe(401);

    let res = await fetch(`${url}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    let text = await res.text();
    expect(value(text, 'relay_events_received_total', { source: 'archivus', type: 'document.processed', outcome: 'accepted' })).toBe(1);
    expect(value(text, 'relay_events_received_total', { source: 'archivus', type: 'document.processed', outcome: 'duplicate' })).toBe(1);
    expect(value(text, 'relay_events_received_total', { source: 'archivus', outcome: 'rejected', reason: 'signature' })).toBe(1);
    expect(value(text, 'relay_queue_depth')).toBe(1);
    expect(value(text, 'relay_config_info', { hash: config.hash })).toBe(1);

    deliverer.start();
    await vi.waitFor(async () => {
      text = await (await fetch(`${url}/metrics`)).text();
      expect(value(text, 'relay_delivery_attempts_total', { rule: 'all', plugin: 'log', outcome: 'delivered' })).toBe(1);
    });
    expect(value(text, 'relay_delivery_attempts_to_finish_count', { plugin: 'log', outcome: 'delivered' })).toBe(1);
    expect(value(text, 'relay_queue_depth')).toBe(0);

    res = await fetch(`${url}/metrics`, { method: 'POST' });
    expect(res.status).toBe(405);
    expect((await fetch(`${url}/metrics/extra`)).status).toBe(404); // only the exact path
  });
});
