// Issue 12 items 2 and 9, through a real server: what a sender controls
// (event type, id, payload depth, metric labels) is bounded at ingest, and
// the admin views survive a deeply nested payload already in the store.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus } from '../helpers/relay-process.js';

const TOKEN = 'bounds-admin-token-0123456789abcdef';
const bearer = { authorization: `Bearer ${TOKEN}` };

const rules = `
rules:
  - name: all
    on: "**"
    actions: [{ use: log }]
`;

/** `{"a":{"a":…{"a":1}…}}`, `levels` objects deep. */
function nested(levels: number): string {
  return '{"a":'.repeat(levels - 1) + '{"a":1' + '}'.repeat(levels);
}

describe('bounded input at ingest (defaults)', () => {
  let relay: Relay;
  const url = () => `${relay.url}/webhooks/archivus`;
  const total = async () => ((await (await fetch(`${relay.url}/admin/events`, { headers: bearer })).json()) as { events: unknown[] }).events.length;

  beforeAll(async () => {
    relay = await startInProcess(`
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: s3cret } }
${rules}`, { RELAY_ADMIN_TOKEN: TOKEN });
  });
  afterAll(async () => relay?.stop());

  it('refuses an event type longer than 256 characters with 400 and stores nothing', async () => {
    const res = await postArchivus(url(), JSON.stringify({ id: 'long-type', type: 't'.repeat(257) }), 's3cret');
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/event type is 257 characters; at most 256/);
    expect(await relay.store.getEvent('long-type')).toBeNull();
    // 256 is still fine.
    expect((await postArchivus(url(), JSON.stringify({ id: 'type-256', type: 't'.repeat(256) }), 's3cret')).status).toBe(202);
  });

  it('refuses an event id longer than 256 characters', async () => {
    const before = await total();
    const res = await postArchivus(url(), JSON.stringify({ id: 'i'.repeat(90_000), type: 'x' }), 's3cret');
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(/event id is 90000 characters; at most 256/);
    expect(await total()).toBe(before);
  });

  it.each([
    ['a NUL byte in the id', { id: 'nul\u0000id', type: 'x' }, /event id contains a control character \(U\+0000\)/],
    ['a NUL byte in the type', { id: 'nul-type', type: 'x\u0000y' }, /event type contains a control character \(U\+0000\)/],
    ['a newline in the type', { id: 'nl-type', type: 'x\ny' }, /event type contains a control character \(U\+000A\)/],
    ['DEL in the id', { id: 'del\u007f', type: 'x' }, /event id contains a control character \(U\+007F\)/],
  ])('refuses %s with 400 and stores nothing', async (_label, payload, message) => {
    const before = await total();
    const res = await postArchivus(url(), JSON.stringify(payload), 's3cret');
    expect(res.status).toBe(400);
    expect(res.json.error).toMatch(message);
    expect(await total()).toBe(before);
  });

  it('refuses a payload nested deeper than 64 levels with 400; 64 levels pass', async () => {
    const before = await total();
    const deep = await postArchivus(url(), `{"id":"deep","type":"x","p":${nested(20_000)}}`, 's3cret');
    expect(deep.status).toBe(400);
    expect(deep.json.error).toMatch(/payload is nested deeper than 64 levels/);
    const arrays = await postArchivus(url(), `{"id":"deep-arrays","type":"x","p":${'['.repeat(100)}${']'.repeat(100)}}`, 's3cret');
    expect(arrays.status).toBe(400);
    expect(await total()).toBe(before);
    // Brackets inside strings are not nesting.
    const inString = await postArchivus(url(), JSON.stringify({ id: 'brackets-in-string', type: 'x', s: '{['.repeat(1000) }), 's3cret');
    expect(inString.status).toBe(202);
    const ok = await postArchivus(url(), `{"id":"deep-ok","type":"x","p":${nested(63)}}`, 's3cret');
    expect(ok.status).toBe(202);
  });
});

describe('configured limits and metric labels', () => {
  let relay: Relay;
  const url = () => `${relay.url}/webhooks/archivus`;

  beforeAll(async () => {
    relay = await startInProcess(`
limits: { typeLength: 5000, idLength: 16, depth: 4 }
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: s3cret } }
${rules}`);
  });
  afterAll(async () => relay?.stop());

  it('applies limits.idLength and limits.depth', async () => {
    expect((await postArchivus(url(), JSON.stringify({ id: 'x'.repeat(17), type: 'x' }), 's3cret')).status).toBe(400);
    expect((await postArchivus(url(), JSON.stringify({ id: 'x'.repeat(16), type: 'x' }), 's3cret')).status).toBe(202);
    expect((await postArchivus(url(), '{"id":"d5","type":"x","a":{"b":{"c":{"d":{"e":1}}}}}', 's3cret')).status).toBe(400);
    expect((await postArchivus(url(), '{"id":"d4","type":"x","a":{"b":{"c":{"d":1}}}}', 's3cret')).status).toBe(202);
  });

  it('bounds the length of a metric label taken from the event type', async () => {
    const type = `long.${'t'.repeat(4000)}`;
    expect((await postArchivus(url(), JSON.stringify({ id: 'long-label', type }), 's3cret')).status).toBe(202);
    const text = await (await fetch(`${relay.url}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('relay_events_received_total{') && l.includes('long.'));
    expect(line).toBeDefined();
    const label = /type="([^"]*)"/.exec(line!)![1]!;
    expect(label.length).toBeLessThanOrEqual(128);
    expect(label.startsWith('long.ttt')).toBe(true);
  });
});

describe('admin views survive any stored payload (item 9)', () => {
  let relay: Relay;

  beforeAll(async () => {
    relay = await startInProcess(`
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: s3cret } }
${rules}`, { RELAY_ADMIN_TOKEN: TOKEN });
    // Stored as an older Relay without the depth bound would have accepted it.
    const rawBody = Buffer.from(`{"id":"very-deep","type":"deep.event","p":${nested(20_000)}}`);
    await relay.store.ingest(
      { id: 'very-deep', source: 'archivus', type: 'deep.event', receivedAt: Date.now(), headers: {}, rawBody, matched: ['all'] },
      [],
    );
  });
  afterAll(async () => relay?.stop());

  it.each(['/admin/events/very-deep', '/admin/events/very-deep/deliveries', '/admin/events/very-deep/explain', '/admin/events?type=deep.event'])(
    'GET %s answers without a 500',
    async (path) => {
      const res = await fetch(`${relay.url}${path}`, { headers: bearer });
      expect(res.status).toBeLessThan(500);
      await res.text();
    },
  );

  it('the event view still shows the payload (as text when too deep to nest)', async () => {
    const res = await fetch(`${relay.url}/admin/events/very-deep`, { headers: bearer });
    expect(res.status).toBe(200);
    const view = (await res.json()) as { payload?: unknown; body?: unknown };
    expect(JSON.stringify(view)).toContain('{\\"a\\":{\\"a\\"');
  });

  it('a dry run of a deeply nested pasted event is a 4xx, not a 500', async () => {
    const res = await fetch(`${relay.url}/admin/dry-run`, {
      method: 'POST',
      headers: { ...bearer, 'content-type': 'application/json' },
      body: `{"source":"archivus","payload":${nested(20_000)}}`,
    });
    expect(res.status).toBeLessThan(500);
  });
});
