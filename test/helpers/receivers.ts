// A real HTTP receiver on 127.0.0.1 that records every request and answers
// what the test tells it to. Stands in for Slack, Discord and forward
// targets, so plugins are tested over a socket rather than a mock.

import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query, e.g. `/hooks/a?x=1`. */
  url: string;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
  /** The body as UTF-8 text, for convenience. */
  text: string;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  /** An object is sent as JSON. */
  body?: string | Buffer | object;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Send the status and headers, then wait this long before the body. */
  bodyDelayMs?: number;
}

/** `'hang'` never answers (the socket stays open until `close()`). */
export type Responder = (req: RecordedRequest, index: number) => Reply | 'hang' | Promise<Reply | 'hang'>;

export interface Receiver {
  /** `http://127.0.0.1:<port>` (no trailing slash). */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Changes how later requests are answered; a plain Reply answers them all alike. */
  respond(fn: Responder | Reply): void;
  /** Resolves once `n` requests have been recorded. */
  waitForRequests(n: number, timeoutMs?: number): Promise<RecordedRequest[]>;
  close(): Promise<void>;
}

export async function startReceiver(initial: Responder | Reply = { status: 200, body: 'ok' }): Promise<Receiver> {
  let responder = toResponder(initial);
  const requests: RecordedRequest[] = [];
  const waiters = new Set<() => void>();

  const server = createServer(async (req, res) => {
    const body = await readBody(req);
    const recorded: RecordedRequest = {
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      headers: joinHeaders(req),
      body,
      text: body.toString('utf8'),
    };
    const index = requests.push(recorded) - 1;
    for (const wake of waiters) wake();
    let reply: Reply | 'hang';
    try {
      reply = await responder(recorded, index);
    } catch (err) {
      reply = { status: 500, body: String(err) };
    }
    if (reply === 'hang') return;
    if (reply.delayMs) await new Promise((r) => setTimeout(r, reply.delayMs));
    const isJson = reply.body !== undefined && typeof reply.body === 'object' && !Buffer.isBuffer(reply.body);
    const payload = isJson ? JSON.stringify(reply.body) : (reply.body as string | Buffer | undefined);
    res.writeHead(reply.status ?? 200, {
      ...(isJson ? { 'content-type': 'application/json' } : {}),
      ...reply.headers,
    });
    if (reply.bodyDelayMs) {
      res.flushHeaders();
      await new Promise((r) => setTimeout(r, reply.bodyDelayMs));
    }
    res.end(payload);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    respond(fn) {
      responder = toResponder(fn);
    },
    waitForRequests(n, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < n) return;
          cleanup();
          resolve(requests);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`receiver got ${requests.length} requests, expected ${n}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function toResponder(fn: Responder | Reply): Responder {
  return typeof fn === 'function' ? fn : () => fn;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function joinHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
