// The dashboard's reads work with 100,000 events in the store: every
// endpoint a page calls answers, and counts right, against a seeded SQLite
// file. How fast they answer is measured by the bench (bench/admin-scale),
// never by a wall-clock bound here: a loaded CI machine is not a slow query.

import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/queue/index.js';
import type { Relay } from '../../src/relay.js';
import { tempDir } from '../helpers/config.js';
import { startInProcess } from '../helpers/in-process.js';

const TOKEN = 'ui-scale-admin-token-0123456789';
const EVENTS = 100_000;

/** 100k events over two days, each with a delivery and an attempt; 1 in 100 dead. Written in one transaction. */
async function seed(path: string): Promise<number> {
  await (await openStore({ driver: 'sqlite', path, sync: 'normal' })).close(); // creates the schema
  const db = new Database(path);
  const now = Date.now();
  const event = db.prepare(`insert into events (source, event_id, type, received_at, headers, body, matched, status) values (?, ?, ?, ?, '{}', ?, '["all"]', ?)`);
  const delivery = db.prepare(`insert into deliveries (event_seq, rule, action, target, status, attempts, created_at, updated_at) values (?, 'all', '#0', 'log:#0', ?, 1, ?, ?)`);
  const attempt = db.prepare(`insert into attempts (delivery_id, n, started_at, duration_ms, outcome, status, error) values (?, 1, ?, 5, ?, null, null)`);
  const body = Buffer.from('{"id":"x","type":"document.processed"}');
  db.transaction(() => {
    for (let i = 0; i < EVENTS; i++) {
      const at = now - (EVENTS - i) * 1700;
      const dead = i % 100 === 0;
      const status = dead ? 'dead' : 'delivered';
      const seq = Number(event.run(i % 4 ? 'archivus' : 'github', `evt_${i}`, i % 2 ? 'document.processed' : 'push', at, body, status).lastInsertRowid);
      const id = Number(delivery.run(seq, status, at, at).lastInsertRowid);
      attempt.run(id, at + 20, dead ? 'dead' : 'delivered');
    }
  })();
  db.close();
  return now;
}

describe(`the dashboard's endpoints with ${EVENTS} events stored`, () => {
  let relay: Relay;
  let seededAt = 0;
  beforeAll(async () => {
    const dir = tempDir('relay-ui-scale-');
    const path = join(dir, 'relay.db');
    seededAt = await seed(path);
    relay = await startInProcess(
      `storage: { path: ${path} }
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: s3cret } }
  github: { path: /webhooks/github, verify: { scheme: github, secret: s3cret } }
rules:
  - { name: all, on: "**", actions: [{ use: log }] }
`,
      { RELAY_ADMIN_TOKEN: TOKEN },
    );
  }, 60_000);
  afterAll(() => relay?.stop());

  const timed = async (path: string) => {
    const res = await fetch(`${relay.url}/admin${path}`, { headers: { authorization: `Bearer ${TOKEN}` } });
    const body = (await res.json()) as Record<string, unknown>;
    return { status: res.status, body };
  };

  it('answers every page the dashboard calls', async () => {
    const first = await timed('/events?limit=50');
    expect(first.body.events).toHaveLength(50);
    const paths = [
      '/overview',
      '/stats?window=1h',
      '/stats?window=24h',
      '/rules',
      '/events?limit=50',
      `/events?limit=50&before=${String(first.body.next)}`,
      '/events?limit=50&before=500',
      '/events?limit=50&source=github',
      '/events?limit=50&status=dead',
      '/events?limit=50&type=push&since=24h',
      '/events?limit=50&since=2024-01-01T00:00:00Z&until=1h',
      '/events?limit=50&type=no-such-type',
      '/events?limit=50&type=document.*',
      '/events?limit=50&type=*.processed',
      '/events/evt_12345',
      '/events/evt_12345/explain',
      '/dead-letters?limit=100',
    ];
    for (const path of paths) {
      const { status } = await timed(path);
      expect(status, path).toBe(200);
    }
  });

  it('counts right at that size', async () => {
    const o = await timed('/overview');
    expect(o.body).toMatchObject({ backlog: 0, deadLetters: EVENTS / 100 });
    const day = await timed('/stats?window=24h');
    const events = day.body.events as Array<{ source: string; counts: number[] }>;
    const total = events.reduce((n, e) => n + e.counts.reduce((a, b) => a + b, 0), 0);
    // One event every 1.7 s over the 96 buckets (the last one partial). The
    // newest event is as old as the seeding, so the window (which moved on
    // since) holds that much less of them.
    const late = (Date.now() - seededAt) / 1000;
    expect(total).toBeGreaterThan(Math.floor((95 * 15 * 60 - late) / 1.7) - 1);
    expect(total).toBeLessThanOrEqual(Math.ceil((96 * 15 * 60) / 1.7));
  });
});
