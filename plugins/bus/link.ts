// One broker connection per configured action, opened by the first delivery
// and reused by every delivery after it. When the client reports it gone (the
// broker restarted, the network dropped) it is forgotten and the next delivery
// opens a new one: Relay's own retries are the reconnect loop. So a delivery
// never waits in a client's offline buffer, and never counts as sent before
// the broker confirmed it.

import { DeliveryError, type CreateContext } from '../../src/index.js';

export interface LinkSpec<C> {
  /** Names the broker in errors and logs, e.g. `rabbitmq 127.0.0.1:5672` (no credentials). */
  what: string;
  /** Opens a connection; bounded by the client's own connect timeout. */
  open(): Promise<C>;
  /** Calls `lost` when `c` stops being usable by itself (closed by the broker, socket gone). */
  watch(c: C, lost: (err?: unknown) => void): void;
  /** Closes `c`; a hung close is given up on after a few seconds. */
  close(c: C): Promise<void>;
  /** Says whether a failure to connect is worth retrying; by default it is. */
  openFailed?(err: unknown): DeliveryError | undefined;
}

export interface Link<C> {
  /**
   * Runs `fn` on the open connection (opening it if needed). Rejects if the
   * connection is lost before `fn` settles (a client that keeps an
   * unconfirmed message for a later reconnect would otherwise never answer),
   * or when `signal` aborts; a connection that did not confirm in time is
   * dropped, so the next attempt starts on a fresh one.
   */
  use<T>(signal: AbortSignal, fn: (c: C) => Promise<T>): Promise<T>;
  /** Drops the current connection, e.g. after an error that left it unusable. */
  reset(): void;
  /** Closes the connection for good (reload or shutdown). */
  close(): Promise<void>;
}

interface Live<C> {
  conn: C;
  /** Rejects with a retryable DeliveryError when the connection goes away. */
  lost: Promise<never>;
}

const CLOSE_GRACE_MS = 5_000;

export function lazyLink<C>(spec: LinkSpec<C>, ctx: Pick<CreateContext, 'logger' | 'onClose'>): Link<C> {
  let current: Promise<Live<C>> | undefined;
  let closed = false;

  const forget = (which: Promise<Live<C>>) => {
    if (current !== which) return;
    current = undefined;
    void which.then((live) => bounded(spec.close(live.conn)), () => {});
  };

  const open = (): Promise<Live<C>> => {
    const opening: Promise<Live<C>> = (async () => {
      let conn: C;
      try {
        conn = await spec.open();
      } catch (err) {
        throw (
          spec.openFailed?.(err) ??
          new DeliveryError(`${spec.what}: cannot connect: ${errorText(err)}`, { retryable: true, cause: err })
        );
      }
      if (closed) {
        await bounded(spec.close(conn));
        throw new DeliveryError(`${spec.what}: the action was retired`, { retryable: true });
      }
      let fail: (err: unknown) => void = () => {};
      const lost = new Promise<never>((_, reject) => (fail = reject));
      lost.catch(() => {});
      let reported = false;
      spec.watch(conn, (err) => {
        if (reported) return;
        reported = true;
        if (!closed) ctx.logger.warn({ broker: spec.what, err: err === undefined ? undefined : errorText(err) }, 'broker connection lost');
        forget(opening);
        fail(new DeliveryError(`${spec.what}: connection lost before the broker confirmed${err ? ` (${errorText(err)})` : ''}`, { retryable: true, cause: err }));
      });
      ctx.logger.info({ broker: spec.what }, 'broker connected');
      return { conn, lost };
    })();
    opening.catch(() => {
      if (current === opening) current = undefined;
    });
    return opening;
  };

  const link: Link<C> = {
    async use(signal, fn) {
      if (closed) throw new DeliveryError(`${spec.what}: the action was retired`, { retryable: true });
      const opening = (current ??= open());
      const live = await raceSignal(opening, signal);
      try {
        return await raceSignal(Promise.race([fn(live.conn), live.lost]), signal);
      } catch (err) {
        if (signal.aborted) forget(opening);
        throw err;
      }
    },
    reset() {
      if (current) forget(current);
    },
    async close() {
      closed = true;
      const last = current;
      current = undefined;
      const live = await last?.catch(() => undefined);
      if (live) await bounded(spec.close(live.conn));
    },
  };
  ctx.onClose(() => link.close());
  return link;
}

/**
 * A broker URL without its credentials (`amqp://host:port/vhost`): names the
 * broker in errors and logs, and keys the circuit breaker.
 */
export function brokerName(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

/** `p`, or the signal's reason if it aborts first; the listener does not outlive the race. */
export function raceSignal<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

async function bounded(closing: Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const grace = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, CLOSE_GRACE_MS);
    timer.unref();
  });
  try {
    await Promise.race([closing.catch(() => {}), grace]);
  } finally {
    clearTimeout(timer);
  }
}

/** A client error as one line: code, message, and the first cause (connect errors hide the reason there). */
export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  // A refused connection to a name with several addresses is an AggregateError with no message.
  const inner = err instanceof AggregateError && !err.message ? err.errors[0] : undefined;
  if (inner) return errorText(inner);
  const code = (err as { code?: unknown }).code;
  const prefix = typeof code === 'string' && !err.message.includes(code) ? `${code}: ` : '';
  const cause = err.cause instanceof Error && err.cause.message && !err.message.includes(err.cause.message) ? ` (${err.cause.message})` : '';
  return `${prefix}${err.message}${cause}`;
}
