// Issue "Several instances: PostgreSQL as the shared store and queue", end to
// end: two Relay processes on different ports sharing one schema, posted to
// round-robin the way a load balancer spreads webhooks. PostgreSQL only: a
// single SQLite instance has nothing to share. Skipped with a notice when no
// PostgreSQL answers locally; with RELAY_TEST_PG_URL set it runs (and fails if
// that database does not answer).

import { hostname } from 'node:os';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startReceiver, type Receiver, type Reply } from '../helpers/receivers.js';
import { tempDir, writeConfig } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus, startRelay, waitFor, type RelayProcess } from '../helpers/relay-process.js';
import { postgresUrl } from '../helpers/drivers.js';
import { storageFixtures } from '../helpers/storage.js';

const SECRET = 'shared';
const fx = (await storageFixtures()).find((f) => f.name === 'postgres');
if (!fx) console.warn('instances.test.ts: no PostgreSQL (set RELAY_TEST_PG_URL): skipping the multi-instance suite');

const event = (id: string) => JSON.stringify({ id, type: 'document.processed', data: { document_id: `doc_${id}` } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const schemaOf = (storage: string) => /schema: (\w+)/.exec(storage)![1]!;
const logged = (p: RelayProcess, msg: string) => p.output().split('\n').filter((l) => l.includes(`"msg":"${msg}`)).length;

describe.skipIf(!fx)('two instances on one PostgreSQL schema', () => {
  const receivers: Receiver[] = [];
  const processes: RelayProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.kill9()));
    await Promise.all(receivers.map((r) => r.close()));
    await fx!.cleanup();
  });

  /** A receiver that also notes when each event id arrived. */
  async function receiver(reply: Reply) {
    const arrivals: Array<{ id: string; at: number }> = [];
    const r = await startReceiver((req) => {
      arrivals.push({ id: req.headers['x-relay-event-id'] ?? '', at: Date.now() });
      return reply;
    });
    receivers.push(r);
    const counts = () => {
      const n = new Map<string, number>();
      for (const a of arrivals) n.set(a.id, (n.get(a.id) ?? 0) + 1);
      return n;
    };
    return { ...r, arrivals, counts };
  }

  /** Runs a query in a deployment's schema, as an operator would. */
  async function query<R>(schema: string, text: string, values: unknown[] = []): Promise<R[]> {
    const client = new pg.Client({ connectionString: await postgresUrl() });
    await client.connect();
    try {
      await client.query(`set search_path to "${schema}"`);
      return (await client.query(text, values)).rows as R[];
    } finally {
      await client.end();
    }
  }

  /** One config file (one schema); `start()` runs another instance of it. */
  function deployment(body: string, source = '') {
    const dir = tempDir();
    const storage = fx!.section(dir);
    const file = writeConfig(
      `${storage}
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} }${source} }
${body}`,
      dir,
    );
    const start = async () => {
      const p = await startRelay(file);
      processes.push(p);
      return p;
    };
    return Object.assign(start, { schema: schemaOf(storage) });
  }

  const forward = (url: string, delivery: string) => `
delivery: ${delivery}
rules:
  - name: fwd
    on: "**"
    actions: [{ use: forward, with: { url: "${url}/in" } }]
`;

  const post = (p: RelayProcess, id: string) => postArchivus(`${p.url}/webhooks/archivus`, event(id), SECRET);

  it('a burst of 2,000 events spread over both is delivered exactly once', async () => {
    const target = await receiver({ status: 200 });
    const start = deployment(forward(target.url, '{ concurrency: 16 }'));
    // Started together: the second migrates after the first, under the advisory lock.
    const both = await Promise.all([start(), start()]);
    let next = 0;
    const statuses: number[] = [];
    const sender = async () => {
      while (next < 2000) {
        const i = next++;
        statuses.push((await post(both[i % 2]!, `rr-${i}`)).status);
      }
    };
    const t0 = Date.now();
    await Promise.all(Array.from({ length: 16 }, sender));
    expect(statuses.filter((s) => s === 202)).toHaveLength(2000);
    await waitFor(() => target.counts().size === 2000, 'all 2,000 events delivered', 150_000);
    await sleep(500); // room for a second copy to show up
    const copies = [...target.counts().values()];
    console.log(`[instances] 2,000 events over 2 instances delivered in ${Date.now() - t0} ms; by instance: ${both.map((p) => logged(p, 'delivered')).join(' + ')}`);
    expect(copies.filter((n) => n > 1)).toEqual([]);
    expect(target.arrivals).toHaveLength(2000);
    // Both claimed from the shared queue.
    for (const p of both) expect(logged(p, 'delivered')).toBeGreaterThan(0);
  }, 240_000);

  it('kill -9 of one instance mid-burst: the other finishes its leased work after the lease', async () => {
    const target = await receiver({ status: 200, delayMs: 100 });
    const start = deployment(forward(target.url, '{ concurrency: 16, lease: 2s }'));
    const [a, b] = await Promise.all([start(), start()]);
    const acknowledged = new Set<string>();
    let leasedByA: string[] | undefined;
    let next = 0;
    let killedAt = 0;
    const sender = async () => {
      while (next < 400) {
        const i = next++;
        try {
          const res = await post(i % 2 === 0 ? a : b, `kill-${i}`);
          if (res.status === 202) acknowledged.add(`kill-${i}`);
        } catch {
          // a is gone: refused, so not acknowledged (the provider would retry it).
        }
        if (killedAt === 0 && acknowledged.size >= 200) {
          killedAt = Date.now();
          await a.kill9();
          // What a held when it died: queued deliveries under its worker id.
          leasedByA = (
            await query<{ event_id: string }>(
              start.schema,
              `select e.event_id from deliveries d join events e on e.seq = d.event_seq
               where d.claimed_by = $1 and d.next_at is not null`,
              [`${hostname()}:${a.child.pid}`],
            )
          ).map((r) => r.event_id);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, sender));
    expect(killedAt).toBeGreaterThan(0);
    expect(leasedByA!.length).toBeGreaterThan(0);

    await waitFor(() => [...acknowledged].every((id) => target.counts().has(id)), 'every acknowledged event delivered', 120_000);
    // b delivers a's leased work (again, if a had sent it) once the leases end.
    const stillQueued = async () =>
      (
        await query<{ n: string }>(
          start.schema,
          `select count(*) as n from deliveries d join events e on e.seq = d.event_seq
           where e.event_id = any($1) and d.next_at is not null`,
          [leasedByA],
        )
      )[0]!.n;
    await waitFor(async () => (await stillQueued()) === '0', "b to finish a's leased work", 60_000);
    // b's copy is the last to arrive (a's last requests may land just after the kill).
    const failover = leasedByA!.map((id) => Math.max(...target.arrivals.filter((x) => x.id === id).map((x) => x.at)) - killedAt);
    const duplicates = [...target.counts().values()].filter((n) => n > 1).length;
    console.log(
      `[instances] kill -9: ${acknowledged.size} acknowledged, all delivered; a held ${leasedByA!.length} leased deliveries, ` +
        `redelivered by b ${Math.min(...failover)}-${Math.max(...failover)} ms after the kill (lease 2 s); ${duplicates} duplicates`,
    );
    // Only the lease's end hands them over (they were claimed at most a few
    // hundred ms before the kill): not at once, and not much later.
    expect(Math.min(...failover)).toBeGreaterThanOrEqual(500);
    expect(Math.max(...failover)).toBeLessThan(10_000);
    expect(logged(b, 'delivered')).toBeGreaterThan(0);
  }, 240_000);

  it('the same event id posted to both is accepted once and delivered once', async () => {
    const target = await receiver({ status: 200 });
    const start = deployment(forward(target.url, '{ concurrency: 4 }'));
    const [a, b] = await Promise.all([start(), start()]);
    const answers = await Promise.all([post(a, 'same-1'), post(b, 'same-1')]);
    expect(answers.map((r) => r.json.status).sort()).toEqual(['accepted', 'duplicate']);
    await waitFor(() => target.counts().has('same-1'), 'the delivery');
    await sleep(1_000);
    expect(target.counts().get('same-1')).toBe(1);
  });

  it('a rate limit holds across both instances', async () => {
    const start = deployment(`rules: [{ name: all, on: "**", actions: [{ use: log }] }]`, ', rateLimit: { rate: 5, per: 60s }');
    const [a, b] = await Promise.all([start(), start()]);
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await post(i % 2 === 0 ? a : b, `limited-${i}`));
    expect(answers.filter((r) => r.status === 202)).toHaveLength(5);
    const refused = answers.filter((r) => r.status !== 202);
    expect(refused.map((r) => r.status)).toEqual([429, 429, 429, 429, 429]);
    for (const r of refused) expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(50);
  });

  it('when the shared limit cannot be read, requests get 503, not a free pass', async () => {
    const storage = fx!.section();
    const relay = await startInProcess(`${storage}
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} }, rateLimit: { rate: 5, per: 60s } }
rules: [{ name: all, on: "**", actions: [{ use: log }] }]
`);
    try {
      const url = `${relay.url}/webhooks/archivus`;
      expect((await postArchivus(url, event('before'), SECRET)).status).toBe(202);
      await query(schemaOf(storage), 'drop table rate_limits');
      const res = await postArchivus(url, event('after'), SECRET);
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      expect(await relay.store.getEvent('after')).toBeNull();
    } finally {
      await relay.stop();
    }
  });

  it('a circuit one instance opened makes the other skip the target', async () => {
    const target = await receiver({ status: 503, body: 'down' });
    const start = deployment(
      forward(target.url, '{ concurrency: 4, retry: { attempts: 50, initialDelay: 100ms, maxDelay: 200ms } }'),
    );
    const a = await start();
    for (let i = 0; i < 20; i++) expect((await post(a, `down-${i}`)).status).toBe(202);
    await waitFor(() => logged(a, 'circuit opened'), 'a to open the circuit');
    // b starts while a's circuit is open (30 s cool-down) with 20 deliveries
    // due within 200 ms: on its own, b would spend 5 failures before opening.
    const b = await start();
    const before = target.arrivals.length;
    await sleep(3_000);
    const hits = target.arrivals.length - before;
    console.log(`[instances] open circuit: ${hits} requests to the target in the 3 s after the second instance started`);
    expect(hits).toBe(0);
    expect(logged(b, 'circuit opened')).toBe(0);
  });
});
