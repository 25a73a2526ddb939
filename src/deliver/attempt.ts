// One attempt of one delivery: run the action under a timeout, then say what
// happened in the terms the queue needs (delivered, retry when, or dead).
// Alertmanager's Retrier shape: the failure itself says whether a retry can help.

import { createHash } from 'node:crypto';
import { parsePayload } from '../ingest/body.js';
import type { RelayEvent } from '../event.js';
import { DeliveryError, type ActionResult, type DeliveryInfo, type DeliveryRequest, type DeliveryResponse, type PluginLogger } from '../plugin.js';
import type { AttemptRecord, ClaimedDelivery, DeliveryNext, Store, StoredEvent } from '../queue/store.js';
import { nextAttemptAt } from './backoff.js';
import { storedRequest, storedResponse } from './exchange.js';
import type { AttemptInfo, DeliveryLogger, ResolvedAction, RetryPolicy } from './types.js';

/** What one run of an action came to, before it is recorded. */
export interface AttemptOutcome {
  ok: boolean;
  /** False for failures no retry can fix (a 4xx, a bad template). */
  retryable: boolean;
  status?: number;
  error?: string;
  retryAfterMs?: number;
  /** As the plugin reported them; bounded and masked when recorded. */
  response?: DeliveryResponse;
  request?: DeliveryRequest;
  startedAt: number;
  durationMs: number;
}

export interface RunInput {
  events: RelayEvent[];
  attempt: number;
  delivery: DeliveryInfo;
  controller: AbortController;
  timeoutMs: number;
  logger: PluginLogger;
  now: () => number;
  /** The attempt span's trace context, when tracing is on. */
  traceparent?: string;
}

/** Runs the action once; never throws. */
export async function runAction(action: ResolvedAction, input: RunInput): Promise<AttemptOutcome> {
  const { controller, timeoutMs } = input;
  const signal = controller.signal;
  const timer = setTimeout(() => controller.abort(new DOMException(`timeout after ${timeoutMs}ms`, 'TimeoutError')), timeoutMs);
  const startedAt = input.now();
  let result: ActionResult | void = undefined;
  let failure: unknown;
  let ok = false;
  try {
    // Raced against the signal so a plugin that ignores it cannot hold the lease past the timeout.
    result = await raceAbort(
      () =>
        action.execute({
          events: input.events,
          attempt: input.attempt,
          delivery: input.delivery,
          signal,
          logger: input.logger,
          traceparent: input.traceparent,
        }),
      signal,
    );
    ok = true;
  } catch (err) {
    failure = err;
  } finally {
    clearTimeout(timer);
  }
  const durationMs = Math.max(0, input.now() - startedAt);
  if (ok) return { ok, retryable: true, status: result ? result.status : undefined, response: result?.response, request: result?.request, startedAt, durationMs };
  if (signal.aborted) return { ok, retryable: true, error: `timeout after ${timeoutMs}ms`, startedAt, durationMs };
  if (failure instanceof DeliveryError) {
    return {
      ok,
      retryable: failure.retryable,
      status: failure.status,
      error: failure.message,
      retryAfterMs: failure.retryAfterMs,
      response: failure.response,
      request: failure.request,
      startedAt,
      durationMs,
    };
  }
  return { ok, retryable: true, error: failure instanceof Error ? failure.message : String(failure), startedAt, durationMs };
}

/** Delivered, another try (when), or dead: the attempt's record and the delivery's next state. */
export function planNext(
  o: AttemptOutcome,
  attempt: number,
  retry: RetryPolicy,
  now: number,
  random: () => number,
): { record: AttemptRecord; next: DeliveryNext } {
  const outcome = o.ok ? 'delivered' : o.retryable && attempt < retry.attempts ? 'retry' : 'dead';
  const next: DeliveryNext =
    outcome === 'delivered'
      ? { status: 'delivered' }
      : outcome === 'retry'
        ? { status: 'failed', nextAt: nextAttemptAt(now, attempt, retry, o.retryAfterMs, random) }
        : { status: 'dead' };
  const record: AttemptRecord = { startedAt: o.startedAt, durationMs: o.durationMs, outcome, status: o.status, error: o.error };
  const response = storedResponse(o.response);
  const request = storedRequest(o.request);
  if (response) record.response = response;
  if (request) record.request = request;
  return { record, next };
}

/**
 * What a plugin learns about the delivery it runs. The key hashes what the
 * delivery *is* (source, event ids, rule, action) rather than the row number,
 * so a fresh database or a second instance cannot hand an unrelated delivery
 * a key a receiver has already seen.
 */
export function deliveryInfo(id: number, rule: string, action: string, events: ReadonlyArray<Pick<StoredEvent, 'source' | 'id'>>): DeliveryInfo {
  const hash = createHash('sha256');
  for (const part of [rule, action, ...events.flatMap((e) => [e.source, e.id])]) hash.update(`${part.length}:${part}`);
  return { id, key: `msg_${hash.digest('base64url').slice(0, 32)}` };
}

/**
 * The default decoder: the payload is parsed again from the stored bytes the
 * way ingest parsed it (form bodies, charsets), so stored events stay exact.
 */
export function decodeEvent(event: StoredEvent): RelayEvent {
  const parsed = parsePayload(event.rawBody, event.headers['content-type']);
  const payload = parsed.ok ? parsed.payload : event.rawBody.toString('utf8');
  const { id, type, source, receivedAt, headers, rawBody } = event;
  return { id, type, source, receivedAt, headers, rawBody, payload };
}

function raceAbort<T>(run: () => Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    Promise.resolve()
      .then(run)
      .then(resolve, reject)
      .finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/**
 * Records an attempt under its lease (fenced: if the lease lapsed and another
 * claim took the delivery, the result is dropped), then reports it.
 */
export interface RecordContext {
  store: Store;
  logger: DeliveryLogger;
  onAttempt: ((info: AttemptInfo) => void) | undefined;
}

export async function recordAttempt(
  deps: RecordContext,
  d: ClaimedDelivery,
  record: AttemptRecord,
  next: DeliveryNext,
  meta: { plugin: string; attempt: number },
): Promise<void> {
  try {
    if ((await deps.store.finish(d, record, next)) === 'stale') {
      deps.logger.warn({ deliveryId: d.id, outcome: record.outcome }, 'stale result dropped: the lease passed to another claim');
    }
  } catch (err) {
    // The lease runs out and the delivery is claimed again: at-least-once, never lost.
    deps.logger.error({ err, deliveryId: d.id }, 'recording the attempt failed');
  }
  try {
    deps.onAttempt?.({
      deliveryId: d.id,
      rule: d.rule,
      action: d.action,
      target: d.target,
      plugin: meta.plugin,
      attempt: meta.attempt,
      outcome: record.outcome,
      durationMs: record.durationMs,
      status: record.status,
      error: record.error,
    });
  } catch (err) {
    deps.logger.error({ err }, 'onAttempt hook threw');
  }
}
