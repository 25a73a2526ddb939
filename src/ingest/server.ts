// The thin Koa layer: map the request onto the ingest pipeline and its
// answer back onto HTTP. No provider or rule logic lives here.

import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.js';
import type { IngestOutcome, PlannedDelivery, Store } from '../queue/store.js';
import type { Handoff } from '../deliver/handoff.js';
import { BodyTooLarge, readRawBody } from './body.js';
import { accepted, checkWebhook, route, type Answer } from './handle.js';
import { clientIp, guard } from './guard.js';
import { LazyChild } from '../log.js';
import type { RejectedRequest, RejectionReason } from '../ops/rejections.js';
import type { IngestTrace, Tracing } from '../ops/tracing.js';
import type { CompiledSource } from './source.js';

export interface IngestDeps {
  config(): LoadedConfig;
  store: Store;
  logger: Logger;
  /** Called after a commit that queued deliveries, to wake the workers (`leased`: how many were handed over). */
  onQueued(queued: number, leased: number): void;
  /**
   * This process's workers: which planned deliveries they take leased in the
   * ingest transaction, to start without a claim (Deliverer#reserve).
   */
  reserve?(planned: readonly PlannedDelivery[]): Handoff | undefined;
  /**
   * Resolves when the answer may go out: at once, unless this process's
   * deliveries are behind (Deliverer#paced). The event is stored already.
   */
  pace?(deliveries: number): Promise<void> | undefined;
  /** True while the backlog is over its bound: answer 503 with Retry-After. */
  overloaded(): boolean;
  /** True once shutdown began: answer 503. */
  draining(): boolean;
  /** Extra routes (health, metrics, admin) mounted before the catch-all. */
  extra?: Koa.Middleware[];
  /** Every answered event, for metrics; `matched` (rule names) once the event was routed. */
  observe?: (source: string, type: string, outcome: string, matched?: readonly string[]) => void;
  /** Every request a source turned away, for the dashboard's list (src/ops/rejections.ts); never its body. */
  rejected?: (r: RejectedRequest) => void;
  /** Set only while tracing is on (src/ops/tracing.ts). */
  tracing?: Tracing;
}

export function createApp(deps: IngestDeps): Koa {
  const app = new Koa();
  app.proxy = deps.config().server.trustProxy;
  // Koa's default handler prints errors to stderr; ours are logged with context.
  app.silent = true;

  app.use(async (ctx, next) => {
    const requestId = ctx.get('x-request-id') || randomUUID();
    ctx.state.requestId = requestId;
    ctx.set('x-request-id', requestId);
    try {
      await next();
    } catch (err) {
      // Nothing a sender posts may produce a 500: an internal failure is
      // temporary from the sender's point of view, and senders retry on 503.
      deps.logger.error({ err, requestId, path: ctx.path }, 'request failed');
      send(ctx, { status: 503, body: { error: 'temporarily unavailable' }, headers: { 'retry-after': '5' } });
    }
  });
  for (const mw of deps.extra ?? []) app.use(mw);

  app.use(async (ctx) => {
    const config = deps.config();
    const source = config.sources.get(ctx.path);
    if (!source) return send(ctx, { status: 404, body: { error: 'no source at this path' } });
    if (ctx.method !== 'POST') {
      ctx.set('allow', 'POST');
      return send(ctx, { status: 405, body: { error: 'method not allowed; use POST' } });
    }
    const trace = deps.tracing?.ingest(source.name);
    if (!trace) return receive(ctx, source, config);
    try {
      await receive(ctx, source, config, trace);
    } finally {
      trace.end(ctx.status);
    }
  });

  async function receive(ctx: Koa.Context, source: CompiledSource, config: LoadedConfig, trace?: IngestTrace): Promise<void> {
    const log = new LazyChild(deps.logger, { requestId: ctx.state.requestId as string, source: source.name });
    if (deps.draining()) return send(ctx, { status: 503, body: { error: 'shutting down' }, headers: { 'retry-after': '5' } });

    const ip = clientIp(ctx.req.socket.remoteAddress, ctx.req.headers['x-forwarded-for'], config.server.trustProxy);
    const turnAway = (answer: Answer, reason: RejectionReason) => {
      deps.rejected?.({ at: Date.now(), source: source.name, status: answer.status, reason, message: String(answer.body.error ?? ''), ip });
      send(ctx, answer);
    };
    const refusal = await guard(source, ip);
    if (refusal) {
      log.warn({ ip, status: refusal.status }, 'request refused');
      deps.observe?.(source.name, '', refusal.status === 403 ? 'rejected:allowlist' : 'rejected:rate_limit');
      return turnAway(refusal, refusal.status === 403 ? 'allowlist' : 'rate_limit');
    }

    let rawBody: Buffer;
    try {
      rawBody = await readRawBody(ctx.req, config.server.bodyLimit);
    } catch (err) {
      if (err instanceof BodyTooLarge) return turnAway({ status: 413, body: { error: err.message } }, 'too_large');
      return turnAway({ status: 400, body: { error: 'could not read the body' } }, 'body');
    }

    const webhook = { headers: ctx.req.headersDistinct as Record<string, string[]>, rawBody, now: Date.now() };
    const checked = trace ? trace.step('verify', () => checkWebhook(source, webhook), (c) => ({ 'relay.verified': c.ok })) : checkWebhook(source, webhook);
    if (!checked.ok) {
      if (checked.reason !== 'intercepted') {
        log.warn({ status: checked.answer.status, reason: checked.answer.body.error }, 'event rejected');
        deps.observe?.(source.name, '', `rejected:${checked.reason}`);
        if (checked.reason !== 'unavailable') return turnAway(checked.answer, checked.reason);
      }
      return send(ctx, checked.answer);
    }
    const { event } = checked;
    if (deps.overloaded()) {
      deps.observe?.(source.name, event.type, 'rejected:backlog');
      return turnAway({ status: 503, body: { error: 'backlog is full; retry later' }, headers: { 'retry-after': '30' } }, 'backlog');
    }
    const { matched, deliveries } = trace
      ? trace.step('match', () => route(event, config), (r) => ({ 'relay.rules.matched': r.matched.length, 'relay.deliveries': r.deliveries.length }))
      : route(event, config);
    trace?.set({ 'relay.event.id': event.id, 'relay.event.type': event.type });
    const handoff = deps.reserve?.(deliveries);
    let outcome: IngestOutcome | undefined;
    try {
      outcome = await deps.store.ingest(
        {
          id: event.id,
          source: event.source,
          type: event.type,
          receivedAt: event.receivedAt,
          headers: event.headers,
          rawBody,
          matched,
          ...(trace && { trace: trace.traceparent }),
        },
        handoff?.deliveries ?? deliveries,
        handoff?.lease,
      );
    } finally {
      // Settled exactly once: a failed ingest gives the reserved slots back.
      if (outcome?.status === 'accepted') handoff?.accept(outcome.leased);
      else handoff?.cancel();
    }
    if (outcome.status === 'accepted' && deliveries.length) deps.onQueued(deliveries.length, outcome.leased?.length ?? 0);
    deps.observe?.(source.name, event.type, outcome.status, matched);
    log.info({ eventId: event.id, type: event.type, matched, status: outcome.status, secretIndex: checked.secret }, 'event received');
    // Undefined unless deliveries are behind: no await (and no microtask) on the usual path.
    const paced = outcome.status === 'accepted' ? deps.pace?.(deliveries.length) : undefined;
    if (paced) await paced;
    return send(ctx, accepted(outcome));
  }
  return app;
}

function send(ctx: Koa.Context, answer: Answer): void {
  ctx.status = answer.status;
  for (const [k, v] of Object.entries(answer.headers ?? {})) ctx.set(k, v);
  ctx.body = answer.body;
}
