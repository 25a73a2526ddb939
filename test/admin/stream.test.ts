// GET /admin/events/stream on a real Relay: seq order, `id:` = seq, the
// backlog after Last-Event-ID then the live tail, filters, clear 4xx for bad
// input, and Relay#stop ending open streams instead of hanging on them.

import { afterAll, describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/admin/stream.js';
import type { Relay } from '../../src/relay.js';
import { startInProcess } from '../helpers/in-process.js';
import { postArchivus, waitFor } from '../helpers/relay-process.js';

const TOKEN = 'stream-admin-token-0123456789';
const SECRET = 'stream-secret';
const YAML = `
sources:
  archivus: { path: /webhooks/archivus, verify: { scheme: archivus, secret: ${SECRET} } }
rules:
  - name: processed
    on: document.processed
    actions: [{ use: log }]
`;

interface Frame {
  id?: string;
  data?: StreamEvent;
}

/** An open stream and the frames read from it so far (comments and heartbeats left out). */
async function openStream(base: string, headers: Record<string, string> = {}, query = '') {
  const ac = new AbortController();
  const res = await fetch(`${base}/admin/events/stream${query}`, { headers: { authorization: `Bearer ${TOKEN}`, ...headers }, signal: ac.signal });
  const frames: Frame[] = [];
  let ended = false;
  let failed: unknown;
  let raw = '';
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) {
        raw += decoder.decode(chunk, { stream: true });
        let end: number;
        while ((end = raw.indexOf('\n\n')) >= 0) {
          const block = raw.slice(0, end);
          raw = raw.slice(end + 2);
          const f: Frame = {};
          for (const line of block.split('\n')) {
            if (line.startsWith('id: ')) f.id = line.slice(4);
            if (line.startsWith('data: ')) f.data = JSON.parse(line.slice(6)) as StreamEvent;
          }
          if (f.id !== undefined || f.data !== undefined) frames.push(f);
        }
      }
    } catch (err) {
      // Aborted by the test, or the connection was cut rather than ended.
      failed = err;
    }
    ended = true;
  })();
  return {
    res,
    frames,
    events: () => frames.filter((f) => f.data !== undefined).map((f) => f.data!),
    ended: () => ended,
    failed: () => failed,
    close: async () => {
      ac.abort();
      await reading;
    },
  };
}

describe('the admin event stream', () => {
  const relays: Relay[] = [];
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.stop()));
  });
  const relay = async () => {
    const r = await startInProcess(YAML, { RELAY_ADMIN_TOKEN: TOKEN });
    relays.push(r);
    return r;
  };
  const post = async (r: Relay, id: string, type = 'document.processed') => {
    const res = await postArchivus(`${r.url}/webhooks/archivus`, JSON.stringify({ id, type }), SECRET);
    expect(res.status).toBe(202);
  };

  it('sends the backlog after Last-Event-ID in seq order, then the live tail, with id = seq', async () => {
    const r = await relay();
    for (const id of ['e-1', 'e-2', 'e-3']) await post(r, id);
    const first = (await r.store.listEvents({ limit: 3 })).at(-1)!.seq;

    const s = await openStream(r.url, { 'last-event-id': String(first) });
    expect(s.res.status).toBe(200);
    expect(s.res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    await waitFor(() => s.events().length === 2, 'the backlog');
    await post(r, 'e-4', 'document.failed'); // unmatched events are streamed too
    await waitFor(() => s.events().length === 3, 'the live event');
    const events = s.events();
    expect(events.map((e) => e.id)).toEqual(['e-2', 'e-3', 'e-4']);
    expect(events.map((e) => e.seq)).toEqual([first + 1, first + 2, first + 3]);
    // id: is the seq; the first frame (no data) says where the stream starts.
    expect(s.frames[0]).toEqual({ id: String(first) });
    expect(s.frames.slice(1).map((f) => f.id)).toEqual(events.map((e) => String(e.seq)));
    expect(Buffer.from(events[0]!.body, 'base64').toString()).toBe(JSON.stringify({ id: 'e-2', type: 'document.processed' }));
    expect(events[0]!.headers['x-archivus-signature']).toMatch(/^sha256=/);
    expect(events[0]!.matched).toEqual(['processed']);
    expect(events[2]!.matched).toEqual([]);
    await s.close();
  });

  it('without Last-Event-ID starts with the next event; ?rule= narrows it', async () => {
    const r = await relay();
    await post(r, 'old');
    const s = await openStream(r.url, {}, '?rule=processed');
    await waitFor(() => s.frames.length === 1, 'the opening frame');
    await post(r, 'n-1', 'document.failed');
    await post(r, 'n-2');
    await waitFor(() => s.events().length === 1, 'the matched event');
    expect(s.events().map((e) => e.id)).toEqual(['n-2']);
    await s.close();
  });

  it('answers 401 without the token and 400 for a bad Last-Event-ID or an unknown rule', async () => {
    const r = await relay();
    const anon = await fetch(`${r.url}/admin/events/stream`);
    expect(anon.status).toBe(401);
    const bad = await fetch(`${r.url}/admin/events/stream`, { headers: { authorization: `Bearer ${TOKEN}`, 'last-event-id': 'abc' } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ status: 400, detail: 'Last-Event-ID (or after) must be an event seq' });
    const rule = await fetch(`${r.url}/admin/events/stream?rule=nope`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(rule.status).toBe(400);
    expect(await rule.json()).toMatchObject({ status: 400, detail: 'no rule named "nope"' });
  });

  it('Relay#stop ends open streams and returns', async () => {
    const r = await startInProcess(YAML, { RELAY_ADMIN_TOKEN: TOKEN });
    const streams = [await openStream(r.url), await openStream(r.url)];
    await waitFor(() => streams.every((s) => s.frames.length === 1), 'both streams to open');
    await r.stop();
    await waitFor(() => streams.every((s) => s.ended()), 'the streams to end');
    // Ended as a response ends (the client reconnects), not cut off when the sockets are destroyed.
    expect(streams.map((s) => s.failed())).toEqual([undefined, undefined]);
  });
});
