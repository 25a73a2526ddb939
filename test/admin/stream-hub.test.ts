// EventStreams on their own, over a real HTTP server and a store the test
// controls: heartbeats on an idle stream, and PostgreSQL's out-of-order
// commits (seq 3 visible before seq 2) not making the stream skip seq 2.

import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import Koa from 'koa';
import { afterEach, describe, expect, it } from 'vitest';
import { EventStreams } from '../../src/admin/stream.js';
import type { Store, StoredEvent } from '../../src/queue/store.js';
import { waitFor } from '../helpers/relay-process.js';

/** Just what a stream reads; `visible` is what has committed so far. */
function fakeStore(driver: 'sqlite' | 'postgres') {
  const visible: StoredEvent[] = [];
  const listeners = new Set<() => void>();
  const reads: number[][] = [];
  const store = {
    driver,
    eventsAfter: async (after: number, limit: number) => {
      const page = visible.filter((e) => e.seq > after).sort((a, b) => a.seq - b.seq).slice(0, limit);
      reads.push(page.map((e) => e.seq));
      return page;
    },
    lastSeq: async () => Math.max(0, ...visible.map((e) => e.seq)),
    onWake: (fn: () => void) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  } as unknown as Store;
  const commit = (seq: number, receivedAt = Date.now(), rawBody = Buffer.from('{}')) => {
    visible.push({ seq, id: `e-${seq}`, source: 's', type: 't', receivedAt, headers: {}, rawBody, matched: [] });
    for (const fn of listeners) fn();
  };
  return { store, commit, reads };
}

async function serve(streams: EventStreams, after?: number) {
  const app = new Koa();
  app.silent = true;
  app.use((ctx) => streams.attach(ctx, {}, after));
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  let text = '';
  const reading = (async () => {
    const decoder = new TextDecoder();
    try {
      for await (const chunk of res.body!) text += decoder.decode(chunk, { stream: true });
    } catch {
      // closed by the test
    }
  })();
  return {
    text: () => text,
    ids: () => [...text.matchAll(/^id: (\d+)\ndata:/gm)].map((m) => Number(m[1])),
    close: async () => {
      await streams.close();
      await reading;
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

describe('EventStreams', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('sends a heartbeat comment on an idle stream', async () => {
    const { store } = fakeStore('sqlite');
    const s = await serve(new EventStreams(store, { heartbeatMs: 50 }));
    open.push(s);
    await waitFor(() => s.text().includes(': heartbeat\n\n'), 'a heartbeat');
    expect(s.ids()).toEqual([]);
  });

  it('on PostgreSQL, waits for a seq that commits after a later one instead of skipping it', async () => {
    const { store, commit, reads } = fakeStore('postgres');
    const s = await serve(new EventStreams(store, { pollMs: 20 }), 0);
    open.push(s);
    commit(1);
    await waitFor(() => s.ids().length === 1, 'seq 1');
    commit(3); // seq 2's transaction has not committed yet
    commit(4);
    await waitFor(() => reads.filter((r) => r[0] === 3).length >= 2, 'the stream to read past the hole twice');
    // Held at the hole: 3 and 4 wait for 2. Had they gone out, the cursor would
    // be past 2 and the stream would never send it (the count below never reaches 4).
    commit(2);
    await waitFor(() => s.ids().length === 4, 'seqs 2 to 4');
    expect(s.ids()).toEqual([1, 2, 3, 4]);
  });

  it('on PostgreSQL, moves past a hole that never fills (a rolled-back insert) once it has settled', async () => {
    const { store, commit } = fakeStore('postgres');
    const s = await serve(new EventStreams(store, { pollMs: 20 }), 0);
    open.push(s);
    commit(1);
    commit(3);
    await waitFor(() => s.ids().length === 2, 'seq 3 after the hole settles', 15_000);
    expect(s.ids()).toEqual([1, 3]);
  });

  it('skips holes in old events (duplicates, pruning) at once, on SQLite and PostgreSQL alike', async () => {
    const { store, commit } = fakeStore('postgres');
    commit(5, Date.now() - 60_000);
    commit(9, Date.now() - 60_000);
    const s = await serve(new EventStreams(store), 0);
    open.push(s);
    await waitFor(() => s.ids().length === 2, 'the backlog');
    expect(s.ids()).toEqual([5, 9]);
  });

  it('close() returns even when a client stopped reading and its response cannot finish', async () => {
    const { store, commit } = fakeStore('sqlite');
    // Far more than the socket buffers hold: the stream blocks on a client that reads nothing.
    const big = Buffer.alloc(256 * 1024, 'x');
    for (let seq = 1; seq <= 200; seq++) commit(seq, Date.now() - 60_000, big);
    const streams = new EventStreams(store);
    const app = new Koa();
    app.silent = true;
    app.use((ctx) => streams.attach(ctx, {}, 0));
    const server: Server = await new Promise((resolve) => {
      const srv = app.listen(0, '127.0.0.1', () => resolve(srv));
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
    socket.pause();
    await waitFor(() => streams.size === 1, 'the stream to open');
    await streams.close();
    expect(streams.size).toBe(0);
    socket.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('forgets a stream whose client went away (no timers or reads left behind)', async () => {
    const { store } = fakeStore('sqlite');
    const streams = new EventStreams(store, { heartbeatMs: 20 });
    const app = new Koa();
    app.silent = true;
    app.use((ctx) => streams.attach(ctx, {}, undefined));
    const server: Server = await new Promise((resolve) => {
      const srv = app.listen(0, '127.0.0.1', () => resolve(srv));
    });
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.write('GET / HTTP/1.1\r\nHost: test\r\n\r\n');
    await waitFor(() => streams.size === 1, 'the stream to open');
    socket.destroy();
    await waitFor(() => streams.size === 0, 'the stream to be dropped');
    await new Promise((resolve) => server.close(resolve));
  });
});
