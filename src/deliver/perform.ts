// One attempt of a started delivery: run its action under the timeout,
// plan what comes next (retry with backoff, delivered, dead), tell the
// circuit breaker, log, hand the slot back, and record the attempt.

import { LazyChild } from '../log.js';
import type { RelayEvent } from '../event.js';
import type { AttemptRecord, StoredEvent } from '../queue/store.js';
import type { Tracing } from '../ops/tracing.js';
import { deliveryInfo, planNext, recordAttempt, runAction, type RecordContext } from './attempt.js';
import type { Breaker } from './breaker.js';
import type { Running } from './running.js';
import type { DeliveryLogger, ResolvedAction } from './types.js';

/** What an attempt needs from the Deliverer that runs it. */
export interface PerformContext extends RecordContext {
  logger: DeliveryLogger;
  tracing: Tracing | undefined;
  decode: (event: StoredEvent) => RelayEvent;
  breaker: Breaker;
  now: () => number;
  random: () => number;
  /** The attempt's timeout, clamped under the lease. */
  timeoutFor(action: ResolvedAction, key: string): number;
  /** The action returned: its slot may go to the next delivery (Deliverer#freeSlot). */
  freeSlot(r: Running): void;
}

export async function perform(ctx: PerformContext, r: Running, action: ResolvedAction): Promise<void> {
  const d = r.delivery;
  const attempt = d.attempts + 1;
  const log = new LazyChild(ctx.logger, {
    deliveryId: d.id,
    eventId: d.events[0]?.id,
    rule: d.rule,
    action: d.action,
    ...(d.events.length > 1 ? { batch: d.events.length } : {}),
  });
  const span = ctx.tracing?.attempt(
    d.events.map((e) => e.trace),
    { deliveryId: d.id, rule: d.rule, action: d.action, plugin: action.plugin, target: d.target, attempt, events: d.events.length },
  );
  const o = await runAction(action, {
    traceparent: span?.traceparent,
    events: d.events.map(ctx.decode),
    attempt,
    delivery: deliveryInfo(d.id, d.rule, d.action, d.events),
    controller: r.controller,
    timeoutMs: ctx.timeoutFor(action, r.key ?? ''),
    logger: log,
    now: ctx.now,
  });
  const circuit = action.policy.circuit;
  if (r.released) {
    span?.end({ ok: false, outcome: 'released', error: 'relay is shutting down' });
    if (circuit !== false) ctx.breaker.abandon(d.target);
    return;
  }
  r.finishing = true;
  const now = ctx.now();
  const { record, next } = planNext(o, attempt, action.policy.retry, now, ctx.random);
  span?.end({ ok: o.ok, status: o.status, error: o.error, outcome: record.outcome });

  // `circuit: false`: this action's results neither trip nor close the target's circuit.
  const change = circuit === false ? undefined : ctx.breaker.record(d.target, o.ok || !o.retryable, now, circuit);
  if (change?.to === 'open') ctx.logger.warn({ circuit: change.circuit }, `circuit opened for ${d.target}`);
  if (change?.to === 'closed') ctx.logger.info({ circuit: change.circuit }, `circuit closed for ${d.target}`);

  const fields = { attempt, durationMs: o.durationMs, status: o.status, error: o.error };
  if (record.outcome === 'delivered') log.info(fields, 'delivered');
  else if (record.outcome === 'retry') log.warn({ ...fields, nextAt: next.status === 'failed' ? next.nextAt : undefined }, 'attempt failed, will retry');
  else log.error(fields, 'delivery dead-lettered');

  ctx.freeSlot(r);
  await recordAttempt(ctx, d, record, next, { plugin: action.plugin, attempt });
  r.final = next.status !== 'failed' && change?.to !== 'closed';
}

export async function deadUnconfigured(ctx: PerformContext, r: Running, reason: string): Promise<void> {
  r.finishing = true;
  const d = r.delivery;
  const now = ctx.now();
  ctx.logger.error({ deliveryId: d.id, rule: d.rule, action: d.action }, `delivery dead-lettered: ${reason}`);
  const record: AttemptRecord = { startedAt: now, durationMs: 0, outcome: 'dead', error: reason };
  await recordAttempt(ctx, d, record, { status: 'dead' }, { plugin: 'unknown', attempt: d.attempts + 1 });
  r.final = true;
}
