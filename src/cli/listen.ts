// `relay listen --from URL --to URL`: a deployed Relay's events, live, replayed
// to a local app (what ngrok or smee do for a laptop, without opening it to
// the internet). The connection goes out to the Relay's admin API
// (GET /admin/events/stream, server-sent events); a dropped connection
// reconnects with Last-Event-ID, so nothing stored in the meantime is missed
// or sent twice.

import { request } from 'undici';
import { HOP_BY_HOP_HEADERS } from '../../plugins/forward/index.js';
import type { StreamEvent } from '../admin/stream.js';
import { processIo, type Io } from './format.js';

export interface ListenOptions {
  from: string;
  to: string;
  source?: string;
  rule?: string;
  /** Start after this seq (resume an earlier session) instead of at the newest event. */
  after?: string;
}

/** The server sends a heartbeat every 15 s; three missed means the connection is dead without a reset. */
const IDLE_MS = 45_000;
const LOCAL_TIMEOUT_MS = 30_000;
const BACKOFF_MS = [250, 500, 1000, 2000, 5000, 10_000];

/** A refusal no reconnect can fix: a bad token, a wrong URL, an unknown source. */
class Fatal extends Error {}

interface SseMessage {
  id?: string;
  data: string;
}

export async function listenCommand(opts: ListenOptions, io: Io = processIo, env: NodeJS.ProcessEnv = process.env, stop?: AbortSignal): Promise<void> {
  // The read-only token is enough for a stream and is the one to hand a laptop.
  const token = env.RELAY_READ_TOKEN || env.RELAY_ADMIN_TOKEN;
  if (!token) throw new Error('set RELAY_READ_TOKEN (or RELAY_ADMIN_TOKEN) to the deployed Relay\'s token');
  const streamUrl = endpoint(opts);
  const to = new URL(opts.to);
  let last: number | undefined;
  if (opts.after !== undefined) {
    if (!/^\d+$/.test(opts.after)) throw new Error('--after must be an event seq');
    last = Number(opts.after);
  }

  const signal = stop ?? shutdownSignal();
  let failures = 0;
  while (!signal.aborted) {
    try {
      for await (const msg of connect(streamUrl, token, last, signal, () => {
        failures = 0;
        io.err(`listening on ${opts.from}${last !== undefined ? ` after seq ${last}` : ''}, forwarding to ${to.href}`);
      })) {
        if (msg.id !== undefined && /^\d+$/.test(msg.id)) {
          const seq = Number(msg.id);
          // Resuming overlaps nothing by design; this guard keeps it so.
          if (last !== undefined && seq <= last) continue;
          if (msg.data !== '') io.out(await deliver(JSON.parse(msg.data) as StreamEvent, to));
          last = seq;
        }
      }
      if (signal.aborted) break;
      io.err('the stream ended; reconnecting');
    } catch (err) {
      if (err instanceof Fatal) throw err;
      if (signal.aborted) break;
      const wait = BACKOFF_MS[Math.min(failures++, BACKOFF_MS.length - 1)]!;
      io.err(`connection lost (${reason(err)}); reconnecting in ${wait} ms${last !== undefined ? ` from seq ${last}` : ''}`);
      await sleep(wait, signal);
    }
  }
}

function endpoint(opts: ListenOptions): URL {
  let base: URL;
  try {
    base = new URL(opts.from);
  } catch {
    throw new Error(`--from is not a URL: ${opts.from}`);
  }
  // Keeps a path prefix (a Relay behind https://example.com/relay/).
  const url = new URL('admin/events/stream', base.href.endsWith('/') ? base : `${base.href}/`);
  if (opts.source !== undefined) url.searchParams.set('source', opts.source);
  if (opts.rule !== undefined) url.searchParams.set('rule', opts.rule);
  return url;
}

/** One connection's messages; throws when it fails, returns when the server ends it. */
async function* connect(url: URL, token: string, last: number | undefined, stop: AbortSignal, onOpen: () => void): AsyncGenerator<SseMessage> {
  const abort = new AbortController();
  const cancel = (): void => abort.abort(stop.reason);
  stop.addEventListener('abort', cancel, { once: true });
  let idle: NodeJS.Timeout | undefined;
  const touch = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => abort.abort(new Error(`no data for ${IDLE_MS / 1000} s`)), IDLE_MS);
  };
  try {
    touch();
    const res = await request(url, {
      headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', ...(last !== undefined && { 'last-event-id': String(last) }) },
      signal: abort.signal,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      let message = text.slice(0, 200);
      try {
        message = String((JSON.parse(text) as { error?: unknown }).error ?? message);
      } catch {
        // Not JSON (a proxy's page): its start is the best description.
      }
      const what = `${url.origin} answered ${res.statusCode}: ${message}`;
      // 4xx will answer the same next time (bad token, no admin API, unknown source); 5xx may not.
      if (res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 408 && res.statusCode !== 429) throw new Fatal(what);
      throw new Error(what);
    }
    onOpen();
    const decoder = new TextDecoder();
    let buffer = '';
    let msg: SseMessage = { data: '' };
    let hasData = false;
    for await (const chunk of res.body) {
      touch();
      buffer += decoder.decode(chunk as Buffer, { stream: true });
      let nl: number;
      while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
        if (line === '') {
          // A blank line ends a message; an id alone (no data) still moves the cursor.
          if (hasData || msg.id !== undefined) yield msg;
          msg = { data: '' };
          hasData = false;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') msg.id = value;
        else if (field === 'data') {
          msg.data = hasData ? `${msg.data}\n${value}` : value;
          hasData = true;
        }
      }
    }
  } finally {
    clearTimeout(idle);
    stop.removeEventListener('abort', cancel);
    abort.abort();
  }
}

/** Posts the event to the local app as it arrived at Relay; the line to print. */
async function deliver(e: StreamEvent, to: URL): Promise<string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(e.headers)) if (!HOP_BY_HOP_HEADERS.has(name)) headers[name] = value;
  const started = performance.now();
  const head = `${e.receivedAt}  #${e.seq}  ${e.source}  ${e.type}  ${e.id}`;
  try {
    const res = await request(to, { method: 'POST', headers, body: Buffer.from(e.body, 'base64'), signal: AbortSignal.timeout(LOCAL_TIMEOUT_MS) });
    await res.body.dump();
    return `${head}  → ${res.statusCode} (${Math.round(performance.now() - started)} ms)`;
  } catch (err) {
    return `${head}  → failed: ${reason(err)}`;
  }
}

function reason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; cause?: { code?: unknown } };
  const code = typeof e.code === 'string' ? e.code : typeof e.cause?.code === 'string' ? e.cause.code : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message;
}

function shutdownSignal(): AbortSignal {
  const ac = new AbortController();
  const stop = (): void => ac.abort(new Error('stopped'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return ac.signal;
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
