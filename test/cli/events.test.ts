import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { eventsCommand, showCommand } from '../../src/cli/events.js';
import type { Io } from '../../src/cli/format.js';
import { relative, table, truncate } from '../../src/cli/format.js';
import { replayCommand } from '../../src/cli/replay.js';
import { openStore } from '../../src/queue/index.js';
import type { AttemptRecord, DeliveryNext, Store } from '../../src/queue/store.js';

const MIN = 60_000;

let dir: string;
let config: string;
let db: string;
let now: number;

/** stdout lines in `printed`, stderr lines in `logged`. */
function capture(tty = false): Io & { printed: string[]; logged: string[] } {
  const printed: string[] = [];
  const logged: string[] = [];
  return { printed, logged, out: (t) => void printed.push(t), err: (t) => void logged.push(t), tty };
}

/** One delivery per event, driven to `outcome` (or left pending) through claim + finish. */
async function seed(store: Store, id: string, at: number, target: string, outcome?: AttemptRecord['outcome'], headers: Record<string, string> = {}) {
  const body = Buffer.from(JSON.stringify({ id, type: 'doc.done', data: { file: 'a.pdf' } }));
  await store.ingest(
    { id, source: 'hooks', type: 'doc.done', receivedAt: at, headers: { 'content-type': 'application/json', ...headers }, rawBody: body, matched: ['notify'] },
    [{ rule: 'notify', action: 'slack', target }],
  );
  if (!outcome) return;
  const claimed = await store.claim({ worker: 't', limit: 100, now: Date.now() + 1000, leaseMs: 60_000 });
  const mine = claimed.find((c) => c.events[0]?.id === id)!;
  await store.release(claimed.filter((c) => c !== mine));
  const next: DeliveryNext = outcome === 'retry' ? { status: 'failed', nextAt: Date.now() + 60_000 } : { status: outcome === 'dead' ? 'dead' : 'delivered' };
  const status = outcome === 'delivered' ? 200 : 503;
  await store.finish(mine, { startedAt: at + 1000, durationMs: 42, outcome, status, ...(status === 503 ? { error: 'HTTP 503 Service Unavailable' } : {}) }, next);
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'relay-cli-'));
  db = join(dir, 'relay.db');
  config = join(dir, 'relay.config.yaml');
  writeFileSync(config, `
storage: { driver: sqlite, path: ./relay.db }
sources:
  hooks:
    path: /webhooks/hooks
    verify: { scheme: hmac, header: X-Custom-Sig, secret: s3cret }
rules:
  - name: notify
    on: "**"
    actions:
      - use: log
`);
  now = Date.now();
  const store = await openStore({ driver: 'sqlite', path: db, sync: 'normal' });
  try {
    await seed(store, 'evt-ok', now - 3 * 60 * MIN, 'ok.example', 'delivered');
    for (let i = 1; i <= 5; i++) await seed(store, `evt-down-${i}`, now - (60 - i) * MIN, 'down.example', i === 5 ? 'retry' : 'dead');
    // As the serving instance writes it when the circuit opens.
    await store.saveCircuit({ target: 'down.example', openUntil: now + 10 * MIN, failures: 5 }, now);
    await seed(store, 'evt-a-very-long-provider-identifier-0123456789', now - 2 * MIN, 'ok.example', undefined, {
      'x-custom-sig': 'c0ffee',
      authorization: 'Basic dXNlcjpwYXNz',
    });
  } finally {
    await store.close();
  }
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = undefined;
});

describe('relay events', () => {
  it('prints an aligned table, newest first, with full ids and relative times', async () => {
    const io = capture();
    await eventsCommand({ config }, io);
    const lines = io.printed.join('\n').split('\n');
    expect(lines[0]).toMatch(/^SEQ\s+ID\s+RECEIVED\s+SOURCE\s+TYPE\s+STATUS\s+DELIVERIES$/);
    expect(lines[1]).toMatch(/^7\s+evt-a-very-long-provider-identifier-0123456789\s+2m ago\s+hooks\s+doc\.done\s+pending\s+1$/);
    expect(lines[2]).toMatch(/^6\s+evt-down-5\s+55m ago\s+hooks\s+doc\.done\s+failed\s+1$/);
    expect(lines[7]).toMatch(/^1\s+evt-ok\s+3h ago\s+hooks\s+doc\.done\s+delivered\s+1$/);
    // Columns line up: STATUS starts at the same offset on every row.
    const col = lines[0]!.indexOf('STATUS');
    for (const l of lines.slice(1, 8)) expect(l.slice(col)).toMatch(/^(pending|failed|dead|delivered) /);
  });

  it('shows the failing target and its circuit, as the store has it, below the table', async () => {
    const io = capture();
    await eventsCommand({ config }, io);
    const text = io.printed.join('\n');
    expect(text).toContain('Failing targets');
    expect(text).toMatch(/TARGET\s+FAILURES\s+CIRCUIT\s+QUEUED\s+LAST ATTEMPT\s+LAST ERROR/);
    expect(text).toMatch(/down\.example\s+5\s+open\s+1\s+\d+m ago\s+HTTP 503 Service Unavailable/);
    expect(text).not.toMatch(/^ok\.example/m);
  });

  it('applies the filters and says when nothing matches', async () => {
    const io = capture();
    await eventsCommand({ config, status: 'dead', since: '1h', limit: '2' }, io);
    const rows = io.printed.join('\n').split('\n').filter((l) => /^\d+\s/.test(l));
    expect(rows.map((r) => r.split(/\s+/)[1])).toEqual(['evt-down-4', 'evt-down-3']);
    expect(io.printed.join('\n')).toContain('older events: add --before 4');
    const none = capture();
    await eventsCommand({ config, source: 'nowhere' }, none);
    expect(none.printed.join('\n')).toMatch(/^No events match\./);
  });

  it('--json prints {events, next, targets} for scripts', async () => {
    const io = capture();
    await eventsCommand({ config, type: 'doc.done', limit: '3', json: true }, io);
    const out = JSON.parse(io.printed.join('\n')) as { events: Array<Record<string, unknown>>; next: number | null; targets: Array<Record<string, unknown>> };
    expect(Object.keys(out).sort()).toEqual(['events', 'next', 'targets']);
    expect(out.events).toHaveLength(3);
    expect(out.events[0]).toEqual({
      seq: 7, id: 'evt-a-very-long-provider-identifier-0123456789', source: 'hooks', type: 'doc.done',
      receivedAt: new Date(now - 2 * MIN).toISOString(), status: 'pending', matched: ['notify'], deliveries: 1,
    });
    expect(out.next).toBe(5);
    expect(out.targets).toEqual([expect.objectContaining({ target: 'down.example', failures: 5, circuit: 'open', queued: 1 })]);
  });

  it('rejects a bad --status with the allowed values', async () => {
    await expect(eventsCommand({ config, status: 'lost' }, capture())).rejects.toThrow(/status "lost" is not one of pending, delivered, failed, dead, unmatched/);
  });
});

// Issue 14 item 2: a rule that matched with every action off is not "unmatched".
describe('matched, but every action is off', () => {
  beforeEach(async () => {
    const store = await openStore({ driver: 'sqlite', path: db, sync: 'normal' });
    try {
      const body = Buffer.from('{}');
      await store.ingest({ id: 'evt-off', source: 'hooks', type: 'doc.done', receivedAt: now, headers: {}, rawBody: body, matched: ['notify'] }, []);
      await store.ingest({ id: 'evt-none', source: 'hooks', type: 'doc.other', receivedAt: now, headers: {}, rawBody: body, matched: [] }, []);
    } finally {
      await store.close();
    }
  });

  it('is its own status, in the list and as a filter', async () => {
    const io = capture();
    await eventsCommand({ config, status: 'off', json: true }, io);
    const out = JSON.parse(io.printed.join('\n')) as { events: Array<{ id: string; status: string }> };
    expect(out.events.map((e) => [e.id, e.status])).toEqual([['evt-off', 'off']]);
    const unmatched = capture();
    await eventsCommand({ config, status: 'unmatched', json: true }, unmatched);
    expect((JSON.parse(unmatched.printed.join('\n')) as { events: Array<{ id: string }> }).events.map((e) => e.id)).toEqual(['evt-none']);
  });

  it('events show says the rule matched and its actions are off', async () => {
    const io = capture();
    await showCommand('evt-off', { config }, io);
    const text = io.printed.join('\n');
    expect(text).toMatch(/status\s+off/);
    expect(text).toContain('(none: notify matched, but every action is off: enabled: false)');
    expect(text).not.toContain('no rule matched');
  });
});

// Issue 12 item 3: events addressed by seq or (source, id), on an index.
describe('addressing an event', () => {
  beforeEach(async () => {
    const store = await openStore({ driver: 'sqlite', path: db, sync: 'normal' });
    try {
      const body = Buffer.from('{}');
      for (const source of ['alpha', 'beta']) {
        await store.ingest({ id: 'same-id', source, type: `from.${source}`, receivedAt: now, headers: {}, rawBody: body, matched: [] }, []);
      }
      await store.ingest({ id: '1', source: 'alpha', type: 'numeric.id', receivedAt: now, headers: {}, rawBody: body, matched: [] }, []);
    } finally {
      await store.close();
    }
  });

  const shown = async (ref: string) => {
    const io = capture();
    await showCommand(ref, { config, json: true }, io);
    return JSON.parse(io.printed.join('\n')) as { seq: number; id: string; source: string; type: string };
  };

  it('SOURCE/ID tells one id in two sources apart', async () => {
    expect(await shown('alpha/same-id')).toMatchObject({ source: 'alpha', type: 'from.alpha' });
    expect(await shown('beta/same-id')).toMatchObject({ source: 'beta', type: 'from.beta' });
  });

  it('#SEQ is the seq even when an event has that number as its id', async () => {
    expect(await shown('1')).toMatchObject({ id: '1', type: 'numeric.id' });
    expect(await shown('#1')).toMatchObject({ seq: 1, id: 'evt-ok' });
  });

  it('a unique prefix of an id finds the event; an ambiguous one does not', async () => {
    expect(await shown('evt-a-very')).toMatchObject({ id: 'evt-a-very-long-provider-identifier-0123456789' });
    await expect(showCommand('evt-down', { config }, capture())).rejects.toThrow(/no event/);
  });

  it('the provider id alone is looked up on an index', async () => {
    const Database = (await import('better-sqlite3')).default;
    const conn = new Database(db, { readonly: true });
    try {
      const plan = conn.prepare("explain query plan select seq from events where event_id = ? order by seq desc limit 1").all('x') as Array<{ detail: string }>;
      expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING (COVERING )?INDEX events_event_id_seq/);
    } finally {
      conn.close();
    }
  });
});

describe('relay events show', () => {
  it('prints fields, masked headers (including the configured signature header), payload and attempts', async () => {
    const io = capture();
    await showCommand('evt-a-very-long-provider-identifier-0123456789', { config }, io);
    const text = io.printed.join('\n');
    expect(text).toMatch(/^Event evt-a-very-long-provider-identifier-0123456789 \(seq 7\)/);
    expect(text).toMatch(/^ {2}matched\s+notify$/m);
    expect(text).toMatch(/^ {2}x-custom-sig\s+\[masked\]$/m);
    expect(text).toMatch(/^ {2}authorization\s+Basic \[masked\]$/m);
    expect(text).not.toMatch(/c0ffee|dXNlcjpwYXNz/);
    expect(text).toContain('Payload (json, ');
    expect(text).toContain('  {\n    "id": "evt-a-very-long-provider-identifier-0123456789",\n    "type": "doc.done",');
    expect(text).toMatch(/#\d+ notify → slack {2}target ok\.example {2}pending {2}0 attempt\(s\)/);
  });

  it('lists each attempt of a delivery; finds by seq; --json has the same content', async () => {
    const io = capture();
    await showCommand('6', { config }, io);
    const text = io.printed.join('\n');
    expect(text).toMatch(/^Event evt-down-5 \(seq 6\)/);
    expect(text).toMatch(/failed {2}1 attempt\(s\), next in \d+s/);
    expect(text).toMatch(/#\s+STARTED\s+TOOK\s+OUTCOME\s+HTTP\s+ERROR/);
    expect(text).toMatch(/1\s+\d{4}-\d\d-\d\dT[\d:.]+Z\s+42ms\s+retry\s+503\s+HTTP 503 Service Unavailable/);

    const json = capture();
    await showCommand('evt-down-5', { config, json: true }, json);
    const e = JSON.parse(json.printed.join('\n')) as { seq: number; body: unknown; deliveries: Array<{ attempts: unknown[] }> };
    expect(e.seq).toBe(6);
    expect(e.body).toEqual({ format: 'json', bytes: expect.any(Number), json: { id: 'evt-down-5', type: 'doc.done', data: { file: 'a.pdf' } } });
    expect(e.deliveries[0]?.attempts).toEqual([{ n: 1, startedAt: expect.any(String), durationMs: 42, outcome: 'retry', status: 503, error: 'HTTP 503 Service Unavailable' }]);
  });

  it('fails for an unknown id', async () => {
    await expect(showCommand('nope', { config }, capture())).rejects.toThrow('no event with id or seq "nope"');
  });
});

describe('relay replay', () => {
  it('--dead replays the dead letters, prints progress lines and a summary', async () => {
    const io = capture();
    await replayCommand([], { config, dead: true }, io);
    // down.example's circuit was open: the replay closes it, or it would wait out the cool-down.
    expect(io.printed).toEqual(['Replayed 4 deliveries of 4 event(s): due now, attempts reset.\nClosed the open circuit of: down.example']);
    expect(io.logged[0]).toBe('replay: 0/4 events, 0 deliveries');
    expect(io.logged.at(-1)).toBe('replay: 4/4 events, 4 deliveries');
    const after = capture();
    await eventsCommand({ config, status: 'dead', json: true }, after);
    expect((JSON.parse(after.printed.join('')) as { events: unknown[] }).events).toEqual([]);
  });

  it('by id with --json; an unknown id is reported and sets exit code 1', async () => {
    const io = capture();
    await replayCommand(['evt-ok', 'missing-1'], { config, json: true }, io);
    const summary = JSON.parse(io.printed.join('')) as Record<string, unknown>;
    expect(summary).toEqual({ events: 1, deliveries: 1, deliveryIds: [1], missing: ['missing-1'], closedCircuits: [] });
    expect(process.exitCode).toBe(1);
  });

  it('--since with --rule: nothing of another rule is replayed', async () => {
    const io = capture();
    await replayCommand([], { config, since: '30m', rule: 'other' }, io);
    expect(io.printed).toEqual(['Nothing to replay.']);
  });

  it('draws a cli-progress bar on a terminal', async () => {
    const stream = Object.assign(new PassThrough(), { isTTY: true, columns: 100 });
    let drawn = '';
    stream.on('data', (c: Buffer) => (drawn += c.toString()));
    const io = { ...capture(true), stderr: stream };
    await replayCommand([], { config, dead: true }, io);
    expect(drawn).toMatch(/replay \[[█░]+\] 4\/4 events \| 4 deliveries/);
    expect(io.printed[0]).toMatch(/^Replayed 4 deliveries of 4 event\(s\): due now, attempts reset\./);
  });
});

describe('format', () => {
  it('aligns, truncates and dates', () => {
    expect(table(['a', 'long header'], [['xyz', '1'], ['é', '22']])).toBe('A    LONG HEADER\nxyz  1\né    22');
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(relative(1_000_000 - 90_000, 1_000_000)).toBe('1m ago');
    expect(relative(1_000_000 + 3 * 3_600_000, 1_000_000)).toBe('in 3h');
  });
});

// `relay events` as a real process (through tsx: no build needed).
describe('relay events (process)', () => {
  it('prints JSON from a real process', async () => {
    const main = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', main, 'events', '--json', '-c', config]);
    expect((JSON.parse(stdout) as { events: unknown[] }).events).toHaveLength(7);
  });
});
