// The admin HTTP API under /admin: the CLI's operations over HTTP, behind a
// bearer token. Without a token the API does not exist (404), so a missing
// variable can never leave it open. Handlers call src/admin/operations.ts,
// never the store, so the CLI and the API cannot disagree. The dashboard
// (src/ui/) calls the same API with its session cookie instead of the token.

import { sendProblem } from './problem.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type Koa from 'koa';
import { lazyBody } from './body.js';
import type { LoadedConfig } from '../config/load.js';
import type { CircuitInfo } from '../deliver/breaker.js';
import { RelayError, formatIssue, type ConfigIssue } from '../errors.js';
import type { Store } from '../queue/store.js';
import type { RejectionLog } from '../ops/rejections.js';
import { dashboardRoutes } from './dashboard.js';
import { MIN_TOKEN_LENGTH } from './tokens.js';
import { ADMIN_PATH } from './off.js';
import { parseAfter, type EventStreams } from './stream.js';
import { explain, overview, parseWindow, rules, stats, tryEvent } from './insights.js';
import { UsageError, configFifoTargets, configuredSecretHeaders, deadLetters, listEvents, replay, showEvent, targetHealth, type ReplayRequest } from './operations.js';

/** What Relay#reload answers (structurally, so this module does not import the Relay). */
export type ReloadOutcome = { ok: true; hash: string; changed: boolean } | { ok: false; errors: readonly ConfigIssue[] };

export interface AdminDeps {
  /** RELAY_ADMIN_TOKEN. Unset or empty (and no readToken): every /admin path answers 404. */
  token: string | undefined;
  /** RELAY_READ_TOKEN: GET and HEAD only; anything else answers 403. */
  readToken?: string | undefined;
  store: Store;
  /** The circuit breakers as the store has them (storedCircuits), so the CLI and the API agree. */
  circuits(): readonly CircuitInfo[] | Promise<readonly CircuitInfo[]>;
  config(): LoadedConfig;
  reload(): Promise<ReloadOutcome>;
  /**
   * Dashboard sessions (src/ui/session.ts): a valid session cookie stands in
   * for the bearer token. Requests that change something must then also send
   * `X-Relay-UI: 1`, which a cross-site form cannot (CSRF).
   */
  sessions?: { valid(cookieHeader: string | undefined): boolean };
  /** This instance's recently rejected requests (GET /admin/rejections). */
  rejections?: RejectionLog;
  /** Live event streams (GET /admin/events/stream); absent, the endpoint answers 404. */
  streams?: EventStreams;
  /** Replays and reloads are logged (they change what Relay does); failures too. */
  logger?: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

export { MIN_TOKEN_LENGTH };
const REALM = 'Bearer realm="relay-admin"';
const EVENT_QUERY = ['status', 'source', 'type', 'since', 'until', 'limit', 'before'] as const;
const REPLAY_FIELDS = new Set(['ids', 'dead', 'since', 'rule', 'action']);
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

// Hashing both sides gives equal lengths, which timingSafeEqual needs, and
// leaks nothing about the token's length.
const digest = (s: string): Buffer => createHash('sha256').update(s, 'utf8').digest();

export function adminRoutes(deps: AdminDeps): Koa.Middleware {
  for (const [name, token] of [['RELAY_ADMIN_TOKEN', deps.token], ['RELAY_READ_TOKEN', deps.readToken]] as const) {
    if (token && token.length < MIN_TOKEN_LENGTH) {
      throw new RelayError('RELAY_ERR_CONFIG', `${name} must be at least ${MIN_TOKEN_LENGTH} characters (try: openssl rand -hex 32)`);
    }
  }
  const expected = deps.token ? digest(deps.token) : undefined;
  const expectedRead = deps.readToken ? digest(deps.readToken) : undefined;
  const router = adminRouter(deps);
  const routes = router.routes() as Koa.Middleware;
  const allowed = router.allowedMethods() as Koa.Middleware;

  return async (ctx, next) => {
    if (!ADMIN_PATH.test(ctx.path)) return next();
    ctx.set('cache-control', 'no-store');
    if (!expected && !expectedRead) return fail(ctx, 404, 'not found');
    const presented = /^Bearer +(\S+) *$/i.exec(ctx.get('authorization'))?.[1];
    // An Authorization header decides alone; without one, a dashboard session may stand in.
    const session = ctx.get('authorization') === '' && deps.sessions?.valid(ctx.get('cookie')) === true;
    const given = presented === undefined ? undefined : digest(presented);
    // Both comparisons always run, so timing does not tell which token was close.
    const isAdmin = given !== undefined && expected !== undefined && timingSafeEqual(given, expected);
    const isReader = given !== undefined && expectedRead !== undefined && timingSafeEqual(given, expectedRead);
    if (!session && !isAdmin && !isReader) {
      ctx.set('www-authenticate', presented === undefined ? REALM : `${REALM}, error="invalid_token"`);
      return fail(ctx, 401, presented === undefined ? 'a bearer token is required' : 'invalid token');
    }
    if (isReader && !SAFE_METHODS.has(ctx.method)) {
      ctx.set('www-authenticate', `${REALM}, error="insufficient_scope"`);
      return fail(ctx, 403, 'the read-only token (RELAY_READ_TOKEN) can only GET; use the admin token to change anything');
    }
    if (session && !SAFE_METHODS.has(ctx.method) && ctx.get('x-relay-ui') !== '1') {
      return fail(ctx, 403, 'a session request that changes something needs the X-Relay-UI: 1 header');
    }
    try {
      // The router runs only here, after the token check: nothing can reach a handler around it.
      await allowed(ctx, () => routes(ctx, async () => {}));
      // Unmatched paths and the router's 405/501 have no body yet: answer JSON like everything else.
      if (ctx.body === undefined || ctx.body === null) {
        if (ctx.status === 404) fail(ctx, 404, 'no such admin endpoint');
        else if (ctx.status === 405 || ctx.status === 501) fail(ctx, ctx.status, `method not allowed; use ${ctx.response.get('allow') || 'another method'}`);
      }
    } catch (err) {
      answerError(ctx, err, deps.logger);
    }
  };
}

/** The routes alone, without the token gate; exported for the OpenAPI drift test. */
export function adminRouter(deps: Omit<AdminDeps, 'token'>): Router {
  const { store } = deps;
  const router = new Router({ prefix: '/admin', sensitive: true });
  const json = lazyBody({ json: true, jsonStrict: true, jsonLimit: '64kb', urlencoded: false, text: false, multipart: false });

  router.get('/events', async (ctx) => {
    ctx.body = await listEvents(store, query(ctx, EVENT_QUERY));
  });
  // Before /events/:id, which would take "stream" for an id.
  router.get('/events/stream', async (ctx) => {
    if (!deps.streams) return fail(ctx, 404, 'event streams are not available here');
    const { source, rule, after } = query(ctx, ['source', 'rule', 'after']);
    const config = deps.config();
    if (source !== undefined && ![...config.sources.values()].some((s) => s.name === source)) throw new UsageError(`no source named "${source}"`);
    if (rule !== undefined && !config.rules.rules.some((r) => r.name === rule)) throw new UsageError(`no rule named "${rule}"`);
    await deps.streams.attach(ctx, { source, rule }, parseAfter(ctx.get('last-event-id'), after));
  });
  router.get('/events/:id', async (ctx) => {
    const config = deps.config();
    const event = await showEvent(store, ctx.params.id!, { secretHeaders: configuredSecretHeaders(config), fifoTargets: configFifoTargets(config) });
    if (event === null) return fail(ctx, 404, `no event with id or seq "${ctx.params.id}"`);
    ctx.body = event;
  });
  router.get('/events/:id/deliveries', async (ctx) => {
    const event = await showEvent(store, ctx.params.id!, { fifoTargets: configFifoTargets(deps.config()) });
    if (event === null) return fail(ctx, 404, `no event with id or seq "${ctx.params.id}"`);
    ctx.body = { deliveries: event.deliveries };
  });
  router.post('/replay', json, async (ctx) => {
    if (!ctx.is('application/json')) return fail(ctx, 415, 'send the replay request as application/json');
    const summary = await replay(store, replayRequest(ctx.request.body));
    deps.logger?.info({ requestId: ctx.state.requestId, events: summary.events, deliveries: summary.deliveries, closedCircuits: summary.closedCircuits }, 'admin: replay');
    ctx.body = summary;
  });
  router.get('/dead-letters', async (ctx) => {
    ctx.body = { deadLetters: await deadLetters(store, query(ctx, EVENT_QUERY.filter((k) => k !== 'status'))) };
  });
  router.get('/targets', async (ctx) => {
    ctx.body = { targets: await targets(store, await deps.circuits()) };
  });
  router.post('/reload', async (ctx) => {
    const result = await deps.reload();
    deps.logger?.info({ requestId: ctx.state.requestId, ok: result.ok }, 'admin: reload');
    if (result.ok) {
      ctx.body = { ok: true, hash: result.hash, changed: result.changed };
      return;
    }
    // The refused config's issues as `relay validate` prints them, and the hash still serving.
    ctx.status = 422;
    ctx.body = { ok: false, hash: deps.config().hash, errors: result.errors.map(formatIssue) };
  });
  router.get('/config', (ctx) => {
    ctx.body = configView(deps.config());
  });
  // The dashboard's views (src/admin/insights.ts).
  router.get('/overview', async (ctx) => {
    ctx.body = await overview(store, await deps.circuits(), deps.config());
  });
  router.get('/stats', async (ctx) => {
    ctx.body = await stats(store, parseWindow(query(ctx, ['window']).window, deps.config().retentionMs));
  });
  router.get('/rules', async (ctx) => {
    ctx.body = await rules(store, deps.config());
  });
  router.get('/events/:id/explain', async (ctx) => {
    const result = await explain(store, deps.config(), ctx.params.id!);
    if (result === null) return fail(ctx, 404, `no event with id or seq "${ctx.params.id}"`);
    if ('error' in result) return fail(ctx, 422, result.error);
    ctx.body = result;
  });
  // Larger than replay's limit: a pasted event may be as large as a real one.
  const event = lazyBody({ json: true, jsonStrict: true, jsonLimit: '1mb', urlencoded: false, text: false, multipart: false });
  router.post('/dry-run', event, async (ctx) => {
    if (!ctx.is('application/json')) return fail(ctx, 415, 'send the dry run as application/json');
    ctx.body = await tryEvent(deps.config(), ctx.request.body);
  });
  dashboardRoutes(router, deps);
  return router;
}

const fail = sendProblem;

function answerError(ctx: Koa.Context, err: unknown, logger: AdminDeps['logger']): void {
  if (err instanceof UsageError) return fail(ctx, 400, err.message);
  // koa-body's errors carry a 4xx status: bad JSON (400, whose message quotes
  // the parser), too large (413), unsupported charset (415).
  const http = err as { status?: unknown; expose?: unknown; message?: unknown };
  if (typeof http.status === 'number' && http.status >= 400 && http.status < 500) {
    return fail(ctx, http.status, http.status === 400 ? 'the body is not valid JSON' : http.expose === true ? String(http.message) : 'bad request body');
  }
  logger?.error({ err, path: ctx.path }, 'admin request failed');
  fail(ctx, 500, 'internal error');
}

/** Single-valued query parameters; a repeated one is a usage error, not a silent pick. */
function query<K extends string>(ctx: Koa.Context, names: readonly K[]): Partial<Record<K, string>> {
  const out: Partial<Record<K, string>> = {};
  for (const name of names) {
    const value = ctx.query[name];
    if (Array.isArray(value)) throw new UsageError(`${name} may be given once`);
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Unknown fields are refused: a typo such as `rules` must not widen a replay to every rule. */
function replayRequest(body: unknown): ReplayRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new UsageError('the body must be a JSON object: {ids?, dead?, since?, rule?, action?}');
  const b = body as Record<string, unknown>;
  const unknown = Object.keys(b).filter((k) => !REPLAY_FIELDS.has(k));
  if (unknown.length > 0) throw new UsageError(`unknown field ${unknown.map((k) => `"${k}"`).join(', ')} (known: ids, dead, since, rule, action)`);
  const out: ReplayRequest = {};
  if (b.ids !== undefined) {
    if (!Array.isArray(b.ids) || !b.ids.every((id) => typeof id === 'string' || Number.isSafeInteger(id))) throw new UsageError('ids must be a list of event ids or seqs');
    out.ids = b.ids.map(String);
  }
  if (b.dead !== undefined) {
    if (typeof b.dead !== 'boolean') throw new UsageError('dead must be true or false');
    out.dead = b.dead;
  }
  if (b.since !== undefined) {
    if (typeof b.since !== 'string' && typeof b.since !== 'number') throw new UsageError('since must be an ISO time, an age like 2h, or ms since the epoch');
    out.since = b.since;
  }
  if (b.rule !== undefined) {
    if (typeof b.rule !== 'string') throw new UsageError('rule must be a rule name');
    out.rule = b.rule;
  }
  if (b.action !== undefined) {
    if (typeof b.action !== 'string') throw new UsageError('action must be an action name (or #index within its rule)');
    out.action = b.action;
  }
  return out;
}


const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/**
 * The store's view of failing targets (worst first) next to this process's
 * live breakers, one row per target; targets only the breaker knows follow.
 */
async function targets(store: Store, circuits: readonly CircuitInfo[]) {
  const stored = new Map((await targetHealth(store)).map(({ target, ...health }) => [target, health]));
  const live = new Map(circuits.map((c) => [c.target, c]));
  const names = [...stored.keys(), ...[...live.keys()].filter((t) => !stored.has(t)).sort()];
  return names.map((target) => {
    const c = live.get(target);
    return {
      target,
      circuit: c ? { state: c.state, failures: c.failures, openedAt: iso(c.openedAt), reopensAt: iso(c.reopensAt) } : null,
      health: stored.get(target) ?? null,
    };
  });
}

/** What is running, without secrets: action options (webhook URLs, passwords) and verify settings are left out. */
function configView(config: LoadedConfig) {
  return {
    hash: config.hash,
    loadedAt: iso(config.loadedAt),
    file: config.file,
    sources: [...config.sources.values()].map((s) => ({ name: s.name, path: s.path, scheme: s.scheme.name })),
    rules: config.rules.rules.map((r) => ({
      name: r.name,
      on: r.on,
      sources: r.sources ? [...r.sources] : null,
      stop: r.stop,
      conditions: r.condition !== undefined,
      actions: (config.actions.byRule.get(r.name) ?? []).map((a) => ({
        name: a.action,
        plugin: a.plugin,
        target: a.target,
        enabled: a.enabled,
        batch: a.batch ?? null,
        retry: a.policy.retry,
        timeoutMs: a.policy.timeoutMs,
        concurrency: a.policy.concurrency,
      })),
    })),
  };
}
