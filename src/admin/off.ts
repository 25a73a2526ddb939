// Without RELAY_ADMIN_TOKEN and RELAY_READ_TOKEN the admin API and the
// dashboard do not exist: every path under /admin and /ui answers 404. This
// answers it as adminRoutes and uiRoutes would, so a server without tokens
// loads neither (their routers, handlers and the dashboard's files, a few MB
// of an idle server's memory).

import type Koa from 'koa';
import { sendProblem } from './problem.js';

export const ADMIN_PATH = /^\/admin(?:\/|$)/;
export const UI_PATH = /^\/ui(?:\/|$)/;

export function offRoutes(): Koa.Middleware {
  return async (ctx, next) => {
    if (ADMIN_PATH.test(ctx.path)) {
      ctx.set('cache-control', 'no-store');
      return sendProblem(ctx, 404, 'not found');
    }
    if (UI_PATH.test(ctx.path)) return sendProblem(ctx, 404, 'not found');
    return next();
  };
}
