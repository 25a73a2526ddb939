// The dashboard under /ui: a login form, page shells and their static
// modules. Pages need a session (else a redirect to the login form, or 401
// for a request that does not ask for HTML); static files hold no data and
// are public. Without an admin token every /ui path is 404.

import { sendProblem } from '../admin/problem.js';
import { readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { lazyBody } from '../admin/body.js';
import { UI_PATH } from '../admin/off.js';
import { loginPage, notFoundPage, shellPage, type Page } from './pages.js';
import { clearedCookie, sessionCookie, type Sessions } from './session.js';

export interface UiDeps {
  /** From createSessions(RELAY_ADMIN_TOKEN); undefined turns the dashboard off. */
  sessions: Sessions | undefined;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Where the browser modules are; default ./static beside this file (dist gets a copy at build). */
  staticDir?: string;
  /** Failed logins a client may make per window before 429 (default 10 per 5 minutes). */
  loginLimit?: { failures: number; perSeconds: number };
}

const LOGIN_LIMIT = { failures: 10, perSeconds: 300 };

const ROUTES: ReadonlyArray<[RegExp, Page]> = [
  [/^\/ui\/?$/, 'overview'],
  [/^\/ui\/events\/?$/, 'events'],
  [/^\/ui\/events\/[^/]+\/?$/, 'event'],
  [/^\/ui\/dead\/?$/, 'dead'],
  [/^\/ui\/rules\/?$/, 'rules'],
  [/^\/ui\/rejected\/?$/, 'rejected'],
  [/^\/ui\/try\/?$/, 'try'],
];
const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};
// Everything the pages load comes from here; inline scripts and styles are refused.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** Read once at start: a small, fixed set of files, so no request ever touches the file system. */
function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let entries;
  try {
    entries = readdirSync(dir, { recursive: true, withFileTypes: true });
  } catch (err) {
    throw new Error(`the dashboard's files are missing at ${dir} (npm run build copies them): ${(err as Error).message}`);
  }
  for (const entry of entries) {
    const type = TYPES[entry.name.slice(entry.name.lastIndexOf('.'))];
    if (!entry.isFile() || type === undefined) continue;
    const file = join(entry.parentPath, entry.name);
    const body = readFileSync(file);
    const name = relative(dir, file).split(sep).join('/');
    assets.set(name, { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` });
  }
  return assets;
}

/** Only a path inside the dashboard may be a redirect target after login. */
function safeNext(value: unknown): string {
  return typeof value === 'string' && /^\/ui(?:[/?#]|$)/.test(value) && !value.includes('\\') && !value.startsWith('//') ? value : '/ui';
}

export function uiRoutes(deps: UiDeps): Koa.Middleware {
  const { sessions } = deps;
  const assets = sessions ? loadAssets(deps.staticDir ?? fileURLToPath(new URL('./static/', import.meta.url))) : new Map<string, Asset>();
  const form = lazyBody({ urlencoded: true, json: false, text: false, multipart: false, formLimit: '8kb' });
  // Guessing the admin token through the form is throttled per client address
  // (ctx.ip: X-Forwarded-For only with server.trustProxy). Per instance, in memory.
  const limit = deps.loginLimit ?? LOGIN_LIMIT;
  const failures = new RateLimiterMemory({ points: limit.failures, duration: limit.perSeconds });

  return async (ctx, next) => {
    if (!UI_PATH.test(ctx.path)) return next();
    if (!sessions) {
      sendProblem(ctx, 404, 'not found');
      return;
    }
    ctx.set('content-security-policy', CSP);
    ctx.set('x-content-type-options', 'nosniff');
    ctx.set('x-frame-options', 'DENY');
    ctx.set('referrer-policy', 'no-referrer');

    if (ctx.path.startsWith('/ui/static/')) {
      const asset = ctx.method === 'GET' || ctx.method === 'HEAD' ? assets.get(ctx.path.slice('/ui/static/'.length)) : undefined;
      if (!asset) return html(ctx, 404, notFoundPage());
      // Revalidated on every load: cheap (304), and an upgrade is seen at once.
      ctx.set('cache-control', 'no-cache');
      ctx.set('etag', asset.etag);
      if (ctx.get('if-none-match') === asset.etag) {
        ctx.status = 304;
        return;
      }
      ctx.type = asset.type;
      ctx.body = asset.body;
      return;
    }

    ctx.set('cache-control', 'no-store');
    const secure = ctx.secure;
    if (ctx.path === '/ui/login') {
      if (ctx.method === 'GET') {
        if (sessions.valid(ctx.get('cookie'))) return ctx.redirect(safeNext(ctx.query.next));
        return html(ctx, 200, loginPage({ next: safeNext(ctx.query.next) }));
      }
      if (ctx.method !== 'POST') return methodNotAllowed(ctx, 'GET, POST');
      const spent = await failures.get(ctx.ip);
      if (spent && spent.consumedPoints >= limit.failures) {
        ctx.set('retry-after', String(Math.max(1, Math.ceil(spent.msBeforeNext / 1000))));
        deps.logger?.warn({ requestId: ctx.state.requestId, ip: ctx.ip }, 'dashboard: login throttled');
        return html(ctx, 429, loginPage({ next: '/ui', error: 'Too many failed logins from this address; try again later.' }));
      }
      try {
        await form(ctx, async () => {});
      } catch {
        return html(ctx, 400, loginPage({ next: '/ui', error: 'The form could not be read.' }));
      }
      const body = (ctx.request.body ?? {}) as Record<string, unknown>;
      const value = typeof body.token === 'string' ? sessions.login(body.token.trim()) : undefined;
      if (value === undefined) {
        await failures.penalty(ctx.ip, 1);
        deps.logger?.warn({ requestId: ctx.state.requestId, ip: ctx.ip }, 'dashboard: login refused');
        return html(ctx, 401, loginPage({ next: safeNext(body.next), error: 'That is not the admin token.' }));
      }
      await failures.delete(ctx.ip);
      deps.logger?.info({ requestId: ctx.state.requestId, ip: ctx.ip }, 'dashboard: logged in');
      ctx.set('set-cookie', sessionCookie(value, sessions.ttlMs, secure));
      ctx.status = 303;
      ctx.redirect(safeNext(body.next));
      return;
    }
    if (ctx.path === '/ui/logout') {
      if (ctx.method !== 'POST') return methodNotAllowed(ctx, 'POST');
      sessions.revoke(ctx.get('cookie'));
      ctx.set('set-cookie', clearedCookie(secure));
      ctx.status = 303;
      ctx.redirect('/ui/login');
      return;
    }

    // Every other path is a page, and asks for a session first, so unknown paths reveal nothing.
    if (!sessions.valid(ctx.get('cookie'))) {
      if (!ctx.accepts('html')) {
        sendProblem(ctx, 401, 'log in at /ui/login');
        return;
      }
      ctx.status = 303;
      ctx.redirect(`/ui/login?next=${encodeURIComponent(ctx.originalUrl)}`);
      return;
    }
    const page = ROUTES.find(([pattern]) => pattern.test(ctx.path))?.[1];
    if (page === undefined) return html(ctx, 404, notFoundPage(ctx.path));
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return methodNotAllowed(ctx, 'GET');
    html(ctx, 200, shellPage(page));
  };
}

function html(ctx: Koa.Context, status: number, body: string): void {
  ctx.status = status;
  ctx.type = 'text/html; charset=utf-8';
  ctx.body = body;
}

function methodNotAllowed(ctx: Koa.Context, allow: string): void {
  ctx.set('allow', allow);
  sendProblem(ctx, 405, `method not allowed; use ${allow}`);
}
