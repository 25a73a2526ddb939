// The ingest pipeline without the web framework (octokit's create-middleware
// shape): verify → parse → identify → match → commit. The Koa layer, the dry
// run and `relay send` all call into this, so they cannot disagree.

import type { CompiledSource } from './source.js';
import type { RelayEvent } from '../event.js';
import type { RuleSet } from '../match/rules.js';
import type { CompiledActions } from '../config/actions.js';
import type { IngestOutcome, PlannedDelivery } from '../queue/store.js';
import type { VerifyRequest } from '../verify/types.js';
import { parsePayload } from './body.js';
import { nameProblem } from './bounds.js';

export interface IncomingWebhook {
  headers: Readonly<Record<string, readonly string[]>>;
  rawBody: Buffer;
  now: number;
}

export type Answer = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

/** Why an event was turned away; a label for metrics and logs. */
export type Rejection = 'signature' | 'body' | 'type' | 'id' | 'unavailable';

export type Checked =
  | { ok: true; event: RelayEvent; secret: number }
  | { ok: false; answer: Answer; reason: Rejection | 'intercepted' };

/** Verify, parse and identify: everything that needs no store. */
export function checkWebhook(source: CompiledSource, req: IncomingWebhook): Checked {
  const vreq: VerifyRequest = req;
  const verdict = source.verifier.verify(vreq);
  if (!verdict.ok) return reject(401, verdict.reason, 'signature');

  const contentType = req.headers['content-type']?.[0];
  const parsed = parsePayload(req.rawBody, contentType, source.limits.depth);
  if (!parsed.ok) return reject(400, parsed.reason, 'body');

  const reply = source.scheme.intercept?.(parsed.payload);
  if (reply) return { ok: false, answer: { status: reply.status, body: reply.body as Record<string, unknown> }, reason: 'intercepted' };

  const identity = identify(source, vreq, parsed.payload);
  if (!identity.ok) return reject(400, identity.error, identity.reason);
  const { type, id } = identity;

  return {
    ok: true,
    secret: verdict.secret,
    event: {
      id,
      type,
      source: source.name,
      receivedAt: req.now,
      headers: flatten(req.headers),
      rawBody: req.rawBody,
      payload: parsed.payload,
    },
  };
}

export type Identified = { ok: true; type: string; id: string } | { ok: false; error: string; reason: 'type' | 'id' };

/** The event's type and id, within the source's limits (src/ingest/bounds.ts). */
export function identify(source: CompiledSource, req: VerifyRequest, payload: unknown): Identified {
  const type = source.typeOf(req, payload);
  if (!type) return { ok: false, error: `event type not found (looked in ${source.typeFrom})`, reason: 'type' };
  const typeProblem = nameProblem('type', type, source.limits.typeLength);
  if (typeProblem) return { ok: false, error: typeProblem, reason: 'type' };
  const id = source.idOf(req, payload)!;
  const idProblem = nameProblem('id', id, source.limits.idLength);
  if (idProblem) return { ok: false, error: idProblem, reason: 'id' };
  return { ok: true, type, id };
}

export interface Routing {
  rules: RuleSet;
  actions: CompiledActions;
}

/** Which rules match and which deliveries they plan. */
export function route(event: RelayEvent, routing: Routing): { matched: string[]; deliveries: PlannedDelivery[] } {
  const matched = routing.rules.match(event);
  return { matched: matched.map((r) => r.name), deliveries: routing.actions.plan(matched) };
}

export function accepted(outcome: IngestOutcome): Answer {
  return outcome.status === 'duplicate'
    ? { status: 200, body: { status: 'duplicate', id: outcome.id } }
    : { status: 202, body: { status: 'accepted', id: outcome.id } };
}

function reject(status: number, error: string, reason: Rejection): Checked {
  return { ok: false, answer: { status, body: { error } }, reason };
}

function flatten(headers: Readonly<Record<string, readonly string[]>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(headers)) out[name] = values.join(', ');
  return out;
}
