// Every outbound connection an action makes goes through here, so the
// config's `egress` policy is checked on the address the socket actually
// connects to: the name is resolved once, the denied addresses are dropped,
// and the socket connects to what is left. A DNS answer that changes between
// a check and the connection (rebinding) cannot slip past, because there is
// no separate check. Plugins get the same machinery from their context.

import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { connect as netConnect, isIP, type LookupFunction, type Socket } from 'node:net';
import type { Agent, buildConnector as BuildConnector, Dispatcher } from 'undici';
import { undici } from '../http-client.js';
import { DeliveryError } from '../plugin.js';
import { EgressPolicy } from './egress-policy.js';

/** A connection the egress policy refused: permanent, the delivery is dead with this reason. */
export class EgressError extends DeliveryError {
  constructor(reason: string) {
    super(`egress policy: ${reason}`, { retryable: false });
    this.name = 'EgressError';
  }

  /** The EgressError behind `err`, however deep a client wrapped it (`fetch failed` → cause). */
  static find(err: unknown): EgressError | undefined {
    for (let e = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
      if (e instanceof EgressError || e.name === 'EgressError') return e as EgressError;
    }
    return undefined;
  }
}

/** Options of a pool of one's own (`egress.agent()`); the connector is Relay's. */
export type EgressAgentOptions = Omit<Agent.Options, 'connect' | 'factory'> & {
  /** Milliseconds to establish a connection, TLS included (default 10000). */
  connectTimeout?: number;
};

/** Outbound connections under the config's `egress` policy, handed to plugins in `create`. */
export interface Egress {
  /**
   * The undici dispatcher shared by every action of the loaded config:
   * `request(url, { dispatcher })`, `fetch(url, { dispatcher })`. Keep-alive
   * pools per origin; redirects are not followed.
   */
  readonly dispatcher: Dispatcher;
  /** A pool of your own under the same policy, when the shared one's settings do not fit. Close it in `onClose`. */
  agent(options?: EgressAgentOptions): Agent;
  /**
   * A plain TCP connection under the policy, for protocols other than HTTP
   * (SMTP, AMQP, a database). Resolves once connected; rejects with an
   * EgressError when the policy refuses every address of `host`.
   */
  connect(options: { host: string; port: number; timeout?: number }): Promise<Socket>;
}

type BaseLookup = (hostname: string, options: LookupOptions & { all: true }, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A `dns.lookup` that drops the addresses the policy refuses and fails with
 * an EgressError when none is left. net.connect calls it only for names, so
 * address literals are checked by the callers below.
 */
function guardedLookup(policy: EgressPolicy, base: BaseLookup): LookupFunction {
  return (hostname, options, callback) => {
    const early = policy.refuseName(hostname);
    if (early) {
      process.nextTick(callback, new EgressError(early), '', undefined);
      return;
    }
    base(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', undefined);
      const allowed = addresses.filter((a) => policy.refuse(a.address, hostname) === undefined);
      const first = allowed[0];
      if (!first) {
        const reason = addresses[0] ? policy.refuse(addresses[0].address, hostname) : undefined;
        return callback(new EgressError(reason ?? `${hostname} did not resolve`), '', undefined);
      }
      if (options.all) callback(null, allowed);
      else callback(null, first.address, first.family);
    });
  };
}

/** The undici connector: literal addresses checked here, names in the lookup. */
function connector(policy: EgressPolicy, lookup: LookupFunction, timeout: number): BuildConnector.connector {
  const connect = undici().buildConnector({ timeout, lookup });
  return (options, callback) => {
    const reason = isIP(options.hostname) ? policy.refuse(options.hostname) : undefined;
    if (reason) {
      process.nextTick(callback, new EgressError(reason), null);
      return;
    }
    connect(options, callback);
  };
}

export interface EgressHandle {
  egress: Egress;
  /** Closes the shared dispatcher (after the plugins' own clean-up). */
  close(): Promise<void>;
}

/**
 * One per loaded config. `lookup` replaces the system resolver (tests give
 * names addresses without a DNS server).
 */
export function createEgress(policy: EgressPolicy, options: { lookup?: BaseLookup } = {}): EgressHandle {
  const lookup = guardedLookup(policy, options.lookup ?? (dnsLookup as unknown as BaseLookup));
  const agent = (opts: EgressAgentOptions = {}): Agent => {
    const { connectTimeout = 10_000, ...rest } = opts;
    return new (undici().Agent)({ keepAliveTimeout: 10_000, ...rest, connect: connector(policy, lookup, connectTimeout) });
  };
  // Made at first use, like the clients that use it.
  let dispatcher: Agent | undefined;

  const egress: Egress = {
    get dispatcher() {
      return (dispatcher ??= agent());
    },
    agent,
    connect({ host, port, timeout = 10_000 }) {
      const reason = isIP(host) ? policy.refuse(host) : undefined;
      if (reason) return Promise.reject(new EgressError(reason));
      return new Promise<Socket>((resolve, reject) => {
        const socket = netConnect({ host, port, lookup, timeout });
        const settle = (err?: Error) => {
          socket.off('error', settle).off('timeout', onTimeout).off('connect', onConnect);
          socket.setTimeout(0);
          if (!err) return resolve(socket);
          socket.destroy();
          reject(err);
        };
        const onTimeout = () => settle(new Error(`connecting to ${host}:${port} timed out after ${timeout}ms`));
        const onConnect = () => {
          // Until its new owner listens, an error must not be thrown as unhandled.
          socket.on('error', () => {});
          settle();
        };
        socket.once('error', settle).once('timeout', onTimeout).once('connect', onConnect);
      });
    },
  };
  return { egress, close: async () => dispatcher?.close() };
}
