// Admin routes that exist for the dashboard's pages beyond the CLI's
// operations: this instance's rejected requests, and example events for Try
// it. Registered on the admin router, behind its token or session check.

import type Router from '@koa/router';
import type Koa from 'koa';
import type { LoadedConfig } from '../config/load.js';
import type { RejectionLog } from '../ops/rejections.js';
import { example } from './examples.js';
import { UsageError } from './operations.js';

export interface DashboardDeps {
  config(): LoadedConfig;
  rejections?: RejectionLog;
}

export function dashboardRoutes(router: Router, deps: DashboardDeps): void {
  router.get('/rejections', (ctx) => {
    const limit = param(ctx, 'limit');
    const n = limit === undefined ? undefined : Number(limit);
    if (n !== undefined && (!Number.isSafeInteger(n) || n < 1)) throw new UsageError(`limit must be a whole number from 1, not "${limit}"`);
    const log = deps.rejections;
    ctx.body = {
      since: new Date(log?.since ?? Date.now()).toISOString(),
      kept: log?.capacity ?? 0,
      totals: log?.totals() ?? {},
      rejections: (log?.recent(n) ?? []).map((r) => ({ ...r, at: new Date(r.at).toISOString() })),
    };
  });
  router.get('/examples/:source', (ctx) => {
    ctx.body = example(deps.config(), ctx.params.source!, param(ctx, 'type'));
  });
}

function param(ctx: Koa.Context, name: string): string | undefined {
  const value = ctx.query[name];
  if (Array.isArray(value)) throw new UsageError(`${name} may be given once`);
  return value === '' ? undefined : value;
}
