// Liveness and readiness for orchestrators and load balancers. /healthz says
// the process runs (restart it if not); /readyz says it should get traffic:
// a config is loaded, the store answers, and it is not shutting down. Both
// are unauthenticated, so a failure names its reason but never an error text
// (a database error can carry host names).

import type Koa from 'koa';
import type { Store } from '../queue/store.js';

export interface HealthDeps {
  store: Pick<Store, 'ping'>;
  /** The active config, or undefined before one loaded. */
  config(): { hash: string } | undefined;
  draining(): boolean;
  /** A hung database must not hang the probe. Default 2000. */
  pingTimeoutMs?: number;
  logger?: { warn(obj: object, msg: string): void };
}

export type NotReady = 'draining' | 'no config loaded' | 'store unreachable';

export function healthRoutes(deps: HealthDeps): Koa.Middleware {
  const timeoutMs = deps.pingTimeoutMs ?? 2000;

  async function notReady(): Promise<NotReady | undefined> {
    if (deps.draining()) return 'draining';
    if (!deps.config()) return 'no config loaded';
    try {
      // The store bounds the ping too, discarding a connection that did not answer.
      await withTimeout(deps.store.ping(timeoutMs), timeoutMs);
    } catch (err) {
      deps.logger?.warn({ err }, 'readiness: store ping failed');
      return 'store unreachable';
    }
    return undefined;
  }

  return async (ctx, next) => {
    if (ctx.path !== '/healthz' && ctx.path !== '/readyz') return next();
    ctx.set('cache-control', 'no-store');
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.set('allow', 'GET, HEAD');
      ctx.status = 405;
      ctx.body = { error: 'method not allowed; use GET' };
      return;
    }
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    const reason = await notReady();
    ctx.status = reason ? 503 : 200;
    ctx.body = reason ? { status: 'unavailable', reason } : { status: 'ok' };
  };
}

function withTimeout(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms}ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
