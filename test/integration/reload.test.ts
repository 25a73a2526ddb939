// Hot reload: a valid change takes effect without losing an in-flight event;
// a broken change keeps the running config and reports its errors.
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startReceiver, type Receiver } from '../helpers/receivers.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

const config = (target: Receiver, path: string) => `
sources:
  a: { path: /a, verify: { scheme: archivus, secret: s } }
rules:
  - name: fwd
    on: "**"
    actions: [{ use: forward, with: { url: "${target.url}${path}" } }]
`;

const event = (id: string) => JSON.stringify({ id, type: 'x.y' });

describe('hot reload', () => {
  let relay: Relay | undefined;
  let target: Receiver | undefined;
  afterEach(async () => {
    await relay?.stop();
    await target?.close();
  });

  it('a valid change to the file takes effect, and an in-flight delivery still completes', async () => {
    target = await startReceiver();
    relay = await startInProcess(config(target, '/before'));
    const file = relay.activeConfig.file;
    const firstHash = relay.activeConfig.hash;

    // Hold the first delivery in flight across the reload.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    target.respond(async (req) => {
      if (req.url === '/before') await gate;
      return { status: 200 };
    });
    expect((await postArchivus(`${relay.url}/a`, event('in-flight'), 's')).status).toBe(202);
    await target.waitForRequests(1);

    writeFileSync(file, readFileSync(file, 'utf8').replace('/before', '/after'));
    const r = relay;
    await waitFor(() => r.activeConfig.hash !== firstHash, 'the watcher to reload the config');

    release();
    expect((await postArchivus(`${relay.url}/a`, event('after-reload'), 's')).status).toBe(202);
    await target.waitForRequests(2);
    expect(target.requests.map((q) => q.url)).toEqual(['/before', '/after']);
    await waitFor(async () => (await r.store.getEvent('in-flight'))?.status === 'delivered', 'the in-flight delivery to be recorded');
  });

  it('a broken change keeps the running config and reports the error with its line', async () => {
    target = await startReceiver();
    relay = await startInProcess(config(target, '/ok'));
    const file = relay.activeConfig.file;
    const hash = relay.activeConfig.hash;
    writeFileSync(file, readFileSync(file, 'utf8').replace('use: forward', 'use: forwrd'));

    const result = await relay.reload();
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const line = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes('forwrd')) + 1;
    expect(result.errors[0]).toMatchObject({ line, message: expect.stringContaining('unknown action "forwrd"') });
    expect(relay.activeConfig.hash).toBe(hash);

    expect((await postArchivus(`${relay.url}/a`, event('still-works'), 's')).status).toBe(202);
    const [req] = await target.waitForRequests(1);
    expect(req!.url).toBe('/ok');
  });

  it('queued deliveries of a rule that was removed go dead with a reason, never silently', async () => {
    target = await startReceiver({ status: 503 });
    relay = await startInProcess(config(target, '/gone').replace('use: forward,', 'use: forward, retry: { attempts: 5, initialDelay: 2s, maxDelay: 2s },'));
    expect((await postArchivus(`${relay.url}/a`, event('orphan'), 's')).status).toBe(202);
    await target.waitForRequests(1);
    const file = relay.activeConfig.file;
    writeFileSync(file, readFileSync(file, 'utf8').replace('name: fwd', 'name: renamed'));
    const result = await relay.reload();
    expect(result.ok).toBe(true);
    const r = relay;
    const detail = await waitFor(async () => {
      const e = await r.store.getEvent('orphan');
      return e?.status === 'dead' ? e : undefined;
    }, 'the orphaned delivery to go dead', 10_000);
    expect(detail.deliveries[0]!.lastError).toBe('rule removed by reload');
  });
});

// Inline actions are looked up by an identity that does not depend on their
// position, so a queued delivery runs the action it was planned with, or none.
describe('hot reload: a queued delivery keeps its action', () => {
  let relay: Relay | undefined;
  let target: Receiver | undefined;
  afterEach(async () => {
    await relay?.stop();
    await target?.close();
  });

  const forward = (t: Receiver) => `{ use: forward, retry: { attempts: 50, initialDelay: 200ms, maxDelay: 200ms }, with: { url: "${t.url}/hook" } }`;
  const rule = (actions: string) => `
sources:
  a: { path: /a, verify: { scheme: archivus, secret: s } }
rules:
  - name: fwd
    on: "**"
    actions: [${actions}]
`;

  async function queuedFailing(t: Receiver): Promise<Relay> {
    const r = await startInProcess(rule(forward(t)));
    expect((await postArchivus(`${r.url}/a`, event('queued'), 's')).status).toBe(202);
    await t.waitForRequests(1);
    return r;
  }

  it('inserting an action before it does not hand its delivery to the new one', async () => {
    let up = false;
    target = await startReceiver();
    target.respond(async () => ({ status: up ? 200 : 503 }));
    relay = await queuedFailing(target);
    const r = relay;
    const file = r.activeConfig.file;
    writeFileSync(file, rule(`{ use: log, with: { message: "{{ id }}" } }, ${forward(target)}`));
    expect((await r.reload()).ok).toBe(true);
    const before = target.requests.length;
    up = true;

    const detail = await waitFor(async () => {
      const e = await r.store.getEvent('queued');
      return e?.status === 'delivered' || e?.status === 'dead' ? e : undefined;
    }, 'the queued delivery to finish', 20_000);
    expect(detail.status).toBe('delivered');
    // The forward ran it: the receiver saw the delivering request after the reload.
    expect(target.requests.length).toBeGreaterThan(before);
    expect(detail.deliveries).toHaveLength(1);
    expect(detail.deliveries[0]!.action).toMatch(/^forward~[0-9a-f]{8}$/);
  });

  it('removing its action dead-letters it with "action removed by reload", never running another action', async () => {
    target = await startReceiver({ status: 503 });
    relay = await queuedFailing(target);
    const r = relay;
    writeFileSync(r.activeConfig.file, rule('{ use: log, with: { message: "{{ id }}" } }'));
    expect((await r.reload()).ok).toBe(true);
    const detail = await waitFor(async () => {
      const e = await r.store.getEvent('queued');
      return e?.status === 'delivered' || e?.status === 'dead' ? e : undefined;
    }, 'the queued delivery to finish', 20_000);
    expect(detail.status).toBe('dead');
    expect(detail.deliveries[0]!.lastError).toBe('action removed by reload');
  });
});
