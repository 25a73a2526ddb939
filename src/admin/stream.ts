// GET /admin/events/stream: the event log as server-sent events, for
// `relay listen`. Each event goes out once, in seq order, with `id:` set to
// its seq, so a client that reconnects with Last-Event-ID gets what it missed
// from the store (within retention) and then the live tail. The stream reads
// the store, never the ingest path: an event is sent only once it is
// committed, and a slow listener slows nobody but itself.

import { PassThrough } from 'node:stream';
import type Koa from 'koa';
import type { Store, StoredEvent } from '../queue/store.js';
import { UsageError } from './operations.js';

export interface StreamOptions {
  /** A comment line this often keeps proxies from closing an idle stream and lets clients notice a dead one. */
  heartbeatMs?: number;
  /**
   * Look at the store this often even without a wake-up: another instance's
   * events (PostgreSQL) wake this one only when they queue deliveries.
   */
  pollMs?: number;
}

export interface StreamFilter {
  source?: string;
  rule?: string;
}

/** What one frame's `data:` holds (docs/admin-openapi.yaml, StreamEvent). */
export interface StreamEvent {
  seq: number;
  id: string;
  source: string;
  type: string;
  receivedAt: string;
  matched: string[];
  /** As received: signatures included, so the listener's app can verify them. */
  headers: Record<string, string>;
  /** The exact bytes received, base64. */
  body: string;
}

const PAGE = 200;
const DEFAULT_HEARTBEAT_MS = 15_000;
const DEFAULT_POLL_MS = 1000;
/**
 * On PostgreSQL seqs are handed out before commit, so seq 9 can commit after
 * seq 10 (two instances, or two group commits). A hole in the seqs is waited
 * on this long before the stream moves past it; holes left by duplicates and
 * pruning are skipped at once once the events after them are this old.
 */
const SETTLE_MS = 2000;
/** How long close() waits for open responses to finish before giving up on them. */
const CLOSE_WAIT_MS = 2000;

export class EventStreams {
  private readonly open = new Set<Subscriber>();
  private unwake: (() => void) | undefined;
  private poll: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly options: StreamOptions = {},
  ) {}

  /** How many streams are open now (tests, metrics). */
  get size(): number {
    return this.open.size;
  }

  /** An event may have been stored: every open stream looks. Costs nothing with none open. */
  poke(): void {
    for (const s of this.open) s.wake();
  }

  /** Answers the request with a stream of events after `after` (undefined: from now on). */
  async attach(ctx: Koa.Context, filter: StreamFilter, after: number | undefined): Promise<void> {
    if (this.closed) throw new UsageError('shutting down');
    const cursor = after ?? (await this.store.lastSeq());
    const out = new PassThrough();
    const sub = new Subscriber(this.store, out, filter, cursor, this.store.driver === 'postgres');
    ctx.req.socket.setTimeout(0);
    ctx.req.socket.setNoDelay(true);
    ctx.status = 200;
    ctx.type = 'text/event-stream';
    ctx.set('cache-control', 'no-store');
    // nginx and similar buffer responses unless told not to; a buffered stream is no stream.
    ctx.set('x-accel-buffering', 'no');
    ctx.body = out;
    // An id with no data sets the client's Last-Event-ID: a reconnect before any event resumes here, not at "now".
    out.write(`retry: 1000\nid: ${cursor}\n: relay event stream, after seq ${cursor}\n\n`);

    this.open.add(sub);
    this.watch();
    const heartbeat = setInterval(() => out.write(': heartbeat\n\n'), this.options.heartbeatMs ?? DEFAULT_HEARTBEAT_MS);
    const end = (): void => {
      clearInterval(heartbeat);
      sub.stop();
      this.open.delete(sub);
      if (this.open.size === 0) this.unwatch();
      out.end();
    };
    // The response's close, not the request's: a request may close once its (empty) body is read.
    ctx.res.once('close', end);
    sub.done = end;
    sub.finished = new Promise<void>((resolve) => {
      ctx.res.once('finish', resolve);
      ctx.res.once('close', resolve);
    });
    void sub.run();
  }

  /**
   * Ends every open stream (Relay#stop) and resolves once their responses are
   * complete, so clients see a clean end (and reconnect) rather than a reset.
   */
  async close(): Promise<void> {
    this.closed = true;
    const open = [...this.open];
    for (const s of open) s.done?.();
    this.unwatch();
    // Bounded: a client that stopped reading never lets its response finish;
    // Relay#stop then closes its connection with the rest.
    let timer: NodeJS.Timeout | undefined;
    const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)));
    await Promise.race([Promise.all(open.map((s) => s.finished)), bound]);
    clearTimeout(timer);
  }

  private watch(): void {
    if (this.unwake) return;
    this.unwake = this.store.onWake(() => this.poke());
    this.poll = setInterval(() => this.poke(), this.options.pollMs ?? DEFAULT_POLL_MS);
    this.poll.unref();
  }

  private unwatch(): void {
    this.unwake?.();
    this.unwake = undefined;
    clearInterval(this.poll);
    this.poll = undefined;
  }
}

class Subscriber {
  done: (() => void) | undefined;
  finished: Promise<void> = Promise.resolve();
  private stopped = false;
  private pending = false;
  private wakeUp: (() => void) | undefined;
  private hole: { seq: number; since: number } | undefined;

  constructor(
    private readonly store: Store,
    private readonly out: PassThrough,
    private readonly filter: StreamFilter,
    private cursor: number,
    private readonly settleHoles: boolean,
  ) {}

  wake(): void {
    this.pending = true;
    this.wakeUp?.();
  }

  stop(): void {
    this.stopped = true;
    this.wakeUp?.();
  }

  async run(): Promise<void> {
    try {
      while (!this.stopped) {
        this.pending = false;
        const page = await this.store.eventsAfter(this.cursor, PAGE);
        const sent = await this.send(page);
        // A full page means more backlog; a held hole means look again soon.
        if (this.stopped) break;
        if (page.length === PAGE && sent === page.length) continue;
        await this.idle(this.hole ? 100 : undefined);
      }
    } catch {
      // The store closed under us (shutdown) or failed: end the stream; the client resumes with Last-Event-ID.
      this.done?.();
    }
  }

  /** Writes the page up to the first unsettled hole; returns how many events it got past. */
  private async send(page: StoredEvent[]): Promise<number> {
    let n = 0;
    for (const e of page) {
      if (this.stopped) break;
      if (this.settleHoles && e.seq > this.cursor + 1 && !this.settled(e)) break;
      this.hole = undefined;
      this.cursor = e.seq;
      n++;
      if (!this.wanted(e)) continue;
      if (!this.out.write(frame(e))) await new Promise<void>((resolve) => this.waitDrain(resolve));
    }
    return n;
  }

  private settled(e: StoredEvent): boolean {
    const now = Date.now();
    if (e.receivedAt < now - SETTLE_MS) return true;
    if (this.hole?.seq !== e.seq) this.hole = { seq: e.seq, since: now };
    return now - this.hole.since >= SETTLE_MS;
  }

  private wanted(e: StoredEvent): boolean {
    if (this.filter.source !== undefined && e.source !== this.filter.source) return false;
    if (this.filter.rule !== undefined && !e.matched.includes(this.filter.rule)) return false;
    return true;
  }

  private waitDrain(resolve: () => void): void {
    const go = (): void => {
      this.out.off('drain', go);
      this.out.off('close', go);
      resolve();
    };
    this.out.once('drain', go);
    this.out.once('close', go);
  }

  private idle(ms?: number): Promise<void> {
    if (this.pending || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = ms === undefined ? undefined : setTimeout(() => this.wakeUp?.(), ms);
      this.wakeUp = () => {
        clearTimeout(timer);
        this.wakeUp = undefined;
        resolve();
      };
    });
  }
}

export function frame(e: StoredEvent): string {
  const data: StreamEvent = {
    seq: e.seq,
    id: e.id,
    source: e.source,
    type: e.type,
    receivedAt: new Date(e.receivedAt).toISOString(),
    matched: e.matched,
    headers: e.headers,
    body: e.rawBody.toString('base64'),
  };
  // JSON has no raw newlines, so one data: line carries it.
  return `id: ${e.seq}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Last-Event-ID (or ?after=, for clients that cannot set headers): a seq, or nothing. */
export function parseAfter(header: string, queryValue: string | undefined): number | undefined {
  const raw = header !== '' ? header : queryValue;
  if (raw === undefined || raw === '') return undefined;
  if (!/^\d{1,15}$/.test(raw.trim())) throw new UsageError('Last-Event-ID (or after) must be an event seq');
  return Number(raw.trim());
}
