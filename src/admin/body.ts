// koa-body, loaded on the first request that needs it: it and its parsers
// weigh about 20 MB of memory, and most instances never receive an admin
// POST or a dashboard login.

import type Koa from 'koa';
import type { KoaBodyMiddlewareOptions } from 'koa-body';

export function lazyBody(options: Partial<KoaBodyMiddlewareOptions>): Koa.Middleware {
  let parser: Promise<Koa.Middleware> | undefined;
  return async (ctx, next) => {
    parser ??= import('koa-body').then((m) => m.koaBody(options) as Koa.Middleware);
    return (await parser)(ctx, next);
  };
}
