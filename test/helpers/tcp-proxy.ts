// A loopback TCP proxy the test controls, put between Relay and a broker:
// `block()` cuts every open connection and drops new ones at once (the broker
// is unreachable), `unblock()` forwards again, and `mute()` keeps passing the
// client's bytes to the broker but drops the broker's answers (a confirmation
// lost on the way), and `freeze()` keeps every connection open but passes
// nothing either way, on open connections and new ones (a network that went
// silent: no reset, no answer). It counts what it accepted, so a test can also see a
// connection being reused or opened anew.

import { connect, createServer, type Socket } from 'node:net';

export interface TcpProxy {
  /** Loopback port to point the client at. */
  port: number;
  /** Connections forwarded to the target so far. */
  forwarded(): number;
  /** Connections dropped while blocked so far. */
  dropped(): number;
  /** Client connections open now. */
  active(): number;
  /** Cuts every open connection and drops new ones until `unblock()`. */
  block(): void;
  /** Forwards again, both ways. */
  unblock(): void;
  /** Drops what the broker sends (the client's bytes still reach it) until `unblock()`. */
  mute(): void;
  /**
   * Passes nothing either way, closing nothing, until `unblock()`. What was
   * dropped is lost: a connection that sent or expected bytes meanwhile stays
   * out of step (only a client that discards it recovers).
   */
  freeze(): void;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let blocked = false;
  let muted = false;
  let frozen = false;
  let forwarded = 0;
  let dropped = 0;
  const sockets = new Set<Socket>();
  const clients = new Set<Socket>();

  const server = createServer((client) => {
    if (blocked) {
      dropped++;
      client.resetAndDestroy();
      return;
    }
    forwarded++;
    clients.add(client);
    const upstream = connect(targetPort, targetHost);
    const pair = (from: Socket, to: Socket, fromBroker: boolean) => {
      sockets.add(from);
      from.on('data', (chunk) => {
        if (!frozen && !(fromBroker && muted)) to.write(chunk);
      });
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        clients.delete(from);
        to.destroy();
      });
    };
    pair(client, upstream, false);
    pair(upstream, client, true);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });

  return {
    port: (server.address() as { port: number }).port,
    forwarded: () => forwarded,
    dropped: () => dropped,
    active: () => clients.size,
    block() {
      blocked = true;
      for (const s of sockets) s.resetAndDestroy();
    },
    unblock() {
      blocked = false;
      muted = false;
      frozen = false;
    },
    mute() {
      muted = true;
    },
    freeze() {
      frozen = true;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
