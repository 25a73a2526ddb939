// Issue 11, item 2: a PostgreSQL that stops answering must not hang Relay.
// Relay runs as a real process whose connections go through a loopback TCP
// proxy; freezing the proxy keeps every connection open but passes nothing,
// as a network that went silent does. PostgreSQL only: SQLite has no network.

import { randomBytes } from 'node:crypto';

import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { tempDir, writeConfig } from '../helpers/config.js';
import { postgresUrl } from '../helpers/drivers.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { archivusSignature, startRelay, waitFor, type RelayProcess } from '../helpers/relay-process.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const SECRET = 'faults';
const url = await postgresUrl();
/** storage.commitTimeout in these configs. */
const COMMIT_TIMEOUT_MS = 1000;
/** server.shutdownGrace in these configs. */
const GRACE_MS = 4000;
/**
 * A request that gets no answer in this long is hanging. Far above the commit
 * timeout (loaded machines), far below what a hang is (without the fix: never).
 */
const HANG_MS = 15_000;

describe.skipIf(url === undefined)('a frozen PostgreSQL', () => {
  const schemas: string[] = [];
  const relays: RelayProcess[] = [];
  const proxies: TcpProxy[] = [];
  const receivers: Receiver[] = [];

  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.kill9()));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
    await Promise.all(receivers.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      for (const s of schemas) await client.query(`drop schema if exists "${s}" cascade`);
    } finally {
      await client.end();
    }
  });

  /** Relay on PostgreSQL through a proxy, forwarding every event to `target`. */
  async function relayBehindProxy(target: Receiver): Promise<{ relay: RelayProcess; proxy: TcpProxy }> {
    const pgUrl = new URL(url!);
    const proxy = await startTcpProxy(Number(pgUrl.port || 5432), pgUrl.hostname);
    proxies.push(proxy);
    pgUrl.host = `127.0.0.1:${proxy.port}`;
    const schema = `relay_faults_${randomBytes(5).toString('hex')}`;
    schemas.push(schema);
    const dir = tempDir();
    const file = writeConfig(
      `server: { shutdownGrace: ${GRACE_MS}ms }
storage:
  driver: postgres
  url: "${pgUrl.toString()}"
  schema: ${schema}
  commitTimeout: ${COMMIT_TIMEOUT_MS}ms
  connectTimeout: 1s
  queryTimeout: 5s
delivery: { concurrency: 4, retry: { attempts: 3, initialDelay: 50ms, maxDelay: 100ms } }
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
rules:
  - name: fwd
    on: "**"
    actions:
      - use: forward
        with: { url: "${target.url}/in" }
`,
      dir,
    );
    const relay = await startRelay(file);
    relays.push(relay);
    return { relay, proxy };
  }

  let n = 0;
  /** Posts a fresh signed event; a request that hangs fails the test instead of the test hanging. */
  async function post(relay: RelayProcess): Promise<{ status: number; retryAfter: string | null }> {
    const body = JSON.stringify({ id: `evt_${++n}_${randomBytes(3).toString('hex')}`, type: 'document.processed', data: {} });
    const res = await fetch(`${relay.url}/webhooks/archivus`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-archivus-signature': archivusSignature(body, SECRET) },
      body,
      signal: AbortSignal.timeout(HANG_MS),
    });
    await res.arrayBuffer();
    return { status: res.status, retryAfter: res.headers.get('retry-after') };
  }

  async function readyz(relay: RelayProcess): Promise<number> {
    const res = await fetch(`${relay.url}/readyz`, { signal: AbortSignal.timeout(HANG_MS) });
    await res.arrayBuffer();
    return res.status;
  }

  it('answers posts with 503 + Retry-After and /readyz with 503 while frozen, and recovers when it thaws', async () => {
    const target = await startReceiver({ status: 200 });
    receivers.push(target);
    const { relay, proxy } = await relayBehindProxy(target);
    expect((await post(relay)).status).toBe(202);
    expect(await readyz(relay)).toBe(200);
    await target.waitForRequests(1, HANG_MS);

    proxy.freeze();
    // Several at once: one group commit, all of it stuck on one connection.
    const frozen = await Promise.all([post(relay), post(relay), post(relay)]);
    for (const answer of frozen) {
      expect(answer.status).toBe(503);
      expect(Number(answer.retryAfter)).toBeGreaterThan(0);
    }
    // And the next one too: the stuck connection does not hold up later commits.
    expect(await post(relay)).toMatchObject({ status: 503 });
    await waitFor(async () => (await readyz(relay)) === 503, '/readyz to say 503 while the store is frozen');

    proxy.unblock();
    await waitFor(async () => (await readyz(relay)) === 200, '/readyz to say 200 once the store answers', HANG_MS);
    // Connections that were in use during the freeze are out of step for good; Relay must have dropped them.
    await waitFor(async () => (await post(relay)).status === 202, 'ingest to accept events again', HANG_MS);
    for (let i = 0; i < 5; i++) expect((await post(relay)).status).toBe(202);
    // Everything accepted after the thaw is delivered (its deliveries were committed).
    await target.waitForRequests(7, HANG_MS);
  });

  it('exits within shutdownGrace on SIGTERM while the store is frozen and a delivery is in flight', async () => {
    // The receiver never answers: the delivery is in flight when the store freezes.
    const target = await startReceiver(() => 'hang');
    receivers.push(target);
    const { relay, proxy } = await relayBehindProxy(target);
    expect((await post(relay)).status).toBe(202);
    await target.waitForRequests(1, HANG_MS);

    proxy.freeze();
    const started = Date.now();
    const code = await Promise.race([
      relay.stop('SIGTERM'),
      new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), HANG_MS).unref()),
    ]);
    const tookMs = Date.now() - started;
    expect(code).not.toBe('still running');
    // The grace, plus what it takes a loaded machine to deliver the signal and reap the process;
    // without the bounded shutdown it never exits (the race above says "still running").
    expect(tookMs).toBeLessThan(GRACE_MS + 8000);
    expect(relay.output()).toMatch(/shutdown grace over/);
  });
});
