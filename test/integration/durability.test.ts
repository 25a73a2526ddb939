// Issue "Durable delivery", end to end, on every storage engine: Relay as a
// real process where the test kills it, real receivers on 127.0.0.1, and the
// `relay events` / `relay replay` commands as users run them.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { tempDir, writeConfig } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';
import { freePort, postArchivus, startRelay, waitFor } from '../helpers/relay-process.js';
import { storageFixtures } from '../helpers/storage.js';

const SECRET = 'durable';
const run = promisify(execFile);
const fixtures = await storageFixtures();

function config(storage: string, body: string): string {
  return `${storage}
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
${body}`;
}

const event = (id: string, type = 'document.processed') =>
  JSON.stringify({ id, type, timestamp: new Date().toISOString(), data: { document_id: `doc_${id}`, document: { filename: `${id}.pdf` } } });

async function relayCli(args: string[], configPath: string): Promise<string> {
  const { stdout } = await run(process.execPath, ['bin/relay.js', ...args, '-c', configPath], { env: { ...process.env, RELAY_LOG_LEVEL: 'warn' } });
  return stdout;
}

interface Shown {
  status: string;
  deliveries: Array<{ status: string; attempts: Array<{ status?: number; outcome: string; error?: string; startedAt: string }> }>;
}

describe.each(fixtures)('durable delivery on $name', (fx) => {
  const receivers: Receiver[] = [];
  const relays: Relay[] = [];
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
    await Promise.all(receivers.map((r) => r.close()));
    await fx.cleanup();
  });
  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args);
    receivers.push(r);
    return r;
  };
  const inProcess = async (yaml: string) => {
    const r = await startInProcess(yaml);
    relays.push(r);
    return r;
  };
  const forwardRule = (target: Receiver, extra = '') => `
delivery: { concurrency: 8, retry: { attempts: 5, initialDelay: 50ms, maxDelay: 200ms } }
rules:
  - name: fwd
    on: "**"
    actions:
      - use: forward
        with: { url: "${target.url}/in" }${extra}
`;

  it('kill -9 in the middle of a burst of 2,000 events loses nothing that was acknowledged', async () => {
    const target = await receiver({ status: 200, delayMs: 3 });
    const dir = tempDir();
    // A short lease: on PostgreSQL, work leased by the killed process returns
    // to the queue only when its lease runs out (SQLite takes it back at start).
    const rules = forwardRule(target).replace('concurrency: 8,', 'concurrency: 8, lease: 2s,');
    const file = writeConfig(config(fx.section(dir), rules), dir);
    const port = await freePort();
    let relay = await startRelay(file, {}, port);
    const url = `${relay.url}/webhooks/archivus`;

    const acknowledged = new Set<string>();
    let next = 0;
    let killed = false;
    const sender = async () => {
      while (next < 2000) {
        const id = `burst-${next++}`;
        try {
          const res = await postArchivus(url, event(id), SECRET);
          if (res.status === 202 || res.status === 200) acknowledged.add(id);
        } catch {
          // Refused once the process is gone: not acknowledged, so the provider would retry it.
        }
        if (!killed && acknowledged.size >= 1000) {
          killed = true;
          await relay.kill9();
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    expect(killed).toBe(true);
    expect(acknowledged.size).toBeGreaterThanOrEqual(1000);

    relay = await startRelay(file, {}, port);
    try {
      const delivered = () => new Set(target.requests.map((r) => r.headers['x-relay-event-id']));
      await waitFor(() => [...acknowledged].every((id) => delivered().has(id)), 'every acknowledged event to arrive', 90_000);
      const duplicates = target.requests.length - delivered().size;
      console.log(`[${fx.name}] kill -9 burst: ${acknowledged.size} acknowledged, all delivered; ${duplicates} duplicate deliveries (at least once)`);
    } finally {
      await relay.stop();
    }
  }, 120_000);

  it('retries 503s until the receiver recovers, and records every attempt', async () => {
    const target = await receiver((_req, i) => (i < 3 ? { status: 503, body: 'busy' } : { status: 200 }));
    const relay = await inProcess(config(fx.section(), forwardRule(target)));
    expect((await postArchivus(`${relay.url}/webhooks/archivus`, event('flaky-1'), SECRET)).status).toBe(202);
    await target.waitForRequests(4, 15_000);
    const shown = await waitFor(async () => {
      const out = JSON.parse(await relayCli(['events', 'show', 'flaky-1', '--json'], relay.activeConfig.file)) as Shown;
      return out.status === 'delivered' ? out : undefined;
    }, 'the delivery to be recorded as delivered');
    const attempts = shown.deliveries[0]!.attempts;
    expect(attempts.map((a) => a.status)).toEqual([503, 503, 503, 200]);
    expect(attempts.map((a) => a.outcome)).toEqual(['retry', 'retry', 'retry', 'delivered']);
    expect(attempts[0]!.error).toMatch(/503/);
  });

  it('a 400 is dead after one attempt, and relay replay delivers it once the receiver is fixed', async () => {
    const target = await receiver({ status: 400, body: 'bad request' });
    const relay = await inProcess(config(fx.section(), forwardRule(target)));
    const file = relay.activeConfig.file;
    expect((await postArchivus(`${relay.url}/webhooks/archivus`, event('bad-1'), SECRET)).status).toBe(202);

    // Polled in-process: each `relay` CLI run is a Node start, seconds on a loaded machine.
    await waitFor(async () => (await relay.store.getEvent('bad-1'))?.status === 'dead', 'the event to be dead', 30_000);
    const list = JSON.parse(await relayCli(['events', '--status', 'dead', '--json'], file)) as { events: Array<{ id: string }> };
    expect(list.events.map((e) => e.id)).toContain('bad-1');
    expect(target.requests).toHaveLength(1);
    const table = await relayCli(['events'], file);
    expect(table).toMatch(/bad-1.*dead/);

    target.respond({ status: 200 });
    const out = await relayCli(['replay', 'bad-1'], file);
    expect(out).toMatch(/Replayed 1 deliver/);
    await target.waitForRequests(2, 30_000);
    await waitFor(async () => (await relay.store.getEvent('bad-1'))?.status === 'delivered', 'delivered after replay', 30_000);
    // Three CLI processes and two waits: a deadline for a loaded machine, not a timing assumption.
  }, 120_000);

  it("honours Slack's Retry-After on 429", async () => {
    const arrivals: number[] = [];
    const slack = await receiver((_req, i) => {
      arrivals.push(Date.now());
      return i === 0 ? { status: 429, headers: { 'retry-after': '2' }, body: 'rate_limited' } : { status: 200, body: 'ok' };
    });
    const relay = await inProcess(
      config(fx.section(), `
delivery: { retry: { attempts: 5, initialDelay: 10ms, maxDelay: 50ms } }
rules:
  - name: notify
    on: "**"
    actions: [{ use: slack, with: { url: "${slack.url}/services/T/B/X", text: "{{ event.id }}" } }]
`),
    );
    expect((await postArchivus(`${relay.url}/webhooks/archivus`, event('limited-1'), SECRET)).status).toBe(202);
    await slack.waitForRequests(2, 15_000);
    // Backoff alone would retry within 50 ms; Retry-After says 2 s.
    expect(arrivals[1]! - arrivals[0]!).toBeGreaterThanOrEqual(2000);
  });

  it('the same event id twice is delivered once', async () => {
    const target = await receiver();
    const relay = await inProcess(config(fx.section(), forwardRule(target)));
    const url = `${relay.url}/webhooks/archivus`;
    expect((await postArchivus(url, event('twice-1'), SECRET)).json).toEqual({ status: 'accepted', id: 'twice-1' });
    expect((await postArchivus(url, event('twice-1'), SECRET)).json).toEqual({ status: 'duplicate', id: 'twice-1' });
    await target.waitForRequests(1);
    await waitFor(async () => (await relay.store.getEvent('twice-1'))?.status === 'delivered', 'delivered');
    // Another event after it proves the queue has moved past any second copy.
    await postArchivus(url, event('twice-2'), SECRET);
    await target.waitForRequests(2);
    expect(target.requests.filter((r) => r.headers['x-relay-event-id'] === 'twice-1')).toHaveLength(1);
    expect((await relay.store.getEvent('twice-1'))!.deliveries).toHaveLength(1);
  });

  it('SIGTERM during slow deliveries loses nothing after a restart', async () => {
    const target = await receiver({ status: 200, delayMs: 4000 });
    const dir = tempDir();
    const file = writeConfig(config(fx.section(dir), `server: { shutdownGrace: 2s }\n${forwardRule(target)}`), dir);
    const port = await freePort();
    let relay = await startRelay(file, {}, port);
    const ids = Array.from({ length: 20 }, (_, i) => `term-${i}`);
    for (const id of ids) expect((await postArchivus(`${relay.url}/webhooks/archivus`, event(id), SECRET)).status).toBe(202);
    await target.waitForRequests(1);
    expect(await relay.stop('SIGTERM')).toBe(0);

    target.respond({ status: 200 });
    relay = await startRelay(file, {}, port);
    try {
      await waitFor(() => {
        const got = new Set(target.requests.map((r) => r.headers['x-relay-event-id']));
        return ids.every((id) => got.has(id));
      }, 'every event after the restart', 30_000);
      expect(relay.output()).toMatch(/shutting down|relay listening/);
    } finally {
      await relay.stop();
    }
  });

  it('answers 503 with Retry-After over the backlog bound, and loses nothing', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const target = await receiver(async () => {
      await gate;
      return { status: 200 };
    });
    const relay = await inProcess(config(fx.section(), `server: { maxBacklog: 5 }\n${forwardRule(target)}`));
    const url = `${relay.url}/webhooks/archivus`;
    const ids = Array.from({ length: 10 }, (_, i) => `bp-${i}`);
    const refused: string[] = [];
    for (const id of ids) {
      const res = await postArchivus(url, event(id), SECRET);
      if (res.status === 503) {
        expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
        refused.push(id);
      } else {
        expect(res.status).toBe(202);
      }
    }
    expect(refused.length).toBeGreaterThan(0);
    release();
    // The sender retries what was refused, as every provider does on 5xx.
    for (const id of refused) {
      await waitFor(async () => (await postArchivus(url, event(id), SECRET)).status === 202, `${id} to be accepted`);
    }
    await waitFor(() => {
      const got = new Set(target.requests.map((r) => r.headers['x-relay-event-id']));
      return ids.every((id) => got.has(id));
    }, 'every event to arrive');
  });

  it('a batch window turns N events into one Slack message', async () => {
    const slack = await receiver({ status: 200, body: 'ok' });
    const relay = await inProcess(
      config(fx.section(), `
rules:
  - name: digest
    on: document.processed
    actions:
      - use: slack
        with: { url: "${slack.url}/services/T/B/X", text: "{{ event.id }}" }
        batch:
          window: 1s
          max: 50
          with:
            text: "{{ events | size }} documents processed: {% for e in events %}{{ e.payload.data.document.filename }}{% unless forloop.last %}, {% endunless %}{% endfor %}"
`),
    );
    for (let i = 0; i < 5; i++) expect((await postArchivus(`${relay.url}/webhooks/archivus`, event(`batch-${i}`), SECRET)).status).toBe(202);
    const [message] = await slack.waitForRequests(1, 10_000);
    expect(JSON.parse(message!.text).text).toBe('5 documents processed: batch-0.pdf, batch-1.pdf, batch-2.pdf, batch-3.pdf, batch-4.pdf');
    await new Promise((r) => setTimeout(r, 1500));
    expect(slack.requests).toHaveLength(1);
  });
});
