// Listening sockets: the public one (ingest, health) and, with
// `server.admin`, a second one for the ops surface (/admin, /ui, /metrics) so
// a deployment can publish webhooks without publishing its controls.

import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type { Logger } from 'pino';

type Tls = { cert: string; key: string } | undefined;

export function createServerFor(app: Koa, tls: Tls): Server {
  return tls ? createHttpsServer({ cert: readFileSync(tls.cert), key: readFileSync(tls.key) }, app.callback()) : createHttpServer(app.callback());
}

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
}

/** The URL a client on this machine reaches `server` at. */
export function urlOf(server: Server, tls: Tls): string {
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return `${tls ? 'https' : 'http'}://${host === '0.0.0.0' ? '127.0.0.1' : host}:${addr.port}`;
}

/** The ops listener's app: the given routes, JSON 404 for anything else, no ingest. */
export function createOpsApp(options: { trustProxy: boolean; logger: Logger; routes: readonly Koa.Middleware[] }): Koa {
  const app = new Koa();
  app.proxy = options.trustProxy;
  app.silent = true;
  app.use(async (ctx, next) => {
    ctx.state.requestId = ctx.get('x-request-id') || randomUUID();
    ctx.set('x-request-id', ctx.state.requestId as string);
    try {
      await next();
    } catch (err) {
      options.logger.error({ err, requestId: ctx.state.requestId, path: ctx.path }, 'ops request failed');
      ctx.status = 500;
      ctx.body = { error: 'internal error' };
    }
  });
  for (const mw of options.routes) app.use(mw);
  app.use((ctx) => {
    ctx.status = 404;
    ctx.body = { error: 'not found (webhooks are served on the public port)' };
  });
  return app;
}
