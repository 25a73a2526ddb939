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

export interface IncomingWebhook {
  headers: Readonly<Record<string, readonly string[]>>;
  rawBody: Buffer;
  now: number;
}

export type Answer = { status: number; body: Record<string, unknown>; headers?: Record<string, string> };

/** Why an event was turned away; a label for metrics and logs. */
export type Rejection = 'signature' | 'body' | 'type' | 'unavailable';

export type Checked =
  | { ok: true; event: RelayEvent; secret: number }
  | { ok: false; answer: Answer; reason: Rejection | 'intercepted' };

/** Verify, parse and identify: everything that needs no store. */
export function checkWebhook(source: CompiledSource, req: IncomingWebhook): Checked {
  const vreq: VerifyRequest = req;
  const verdict = source.verifier.verify(vreq);
  if (!verdict.ok) return reject(401, verdict.reason, 'signature');

  const contentType = req.headers['content-type']?.[0];
  const parsed = parsePayload(req.rawBody, contentType);
  if (!parsed.ok) return reject(400, parsed.reason, 'body');

  const reply = source.scheme.intercept?.(parsed.payload);
  if (reply) return { ok: false, answer: { status: reply.status, body: reply.body as Record<string, unknown> }, reason: 'intercepted' };

  const type = source.typeOf(vreq, parsed.payload);
  if (!type) return reject(400, `event type not found (looked in ${source.typeFrom})`, 'type');
  const id = source.idOf(vreq, parsed.payload)!;

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
