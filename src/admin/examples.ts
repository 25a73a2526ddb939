// Example events for the dashboard's Try it: for a configured source, a body
// and headers shaped like its provider's (Archivus, GitHub, Stripe, Slack,
// Shopify, Standard Webhooks; a plain JSON event for the generic schemes),
// with the chosen type put where that source reads it: a header (GitHub's
// X-GitHub-Event, Shopify's X-Shopify-Topic, a configured `event.type:
// {header}`), or the payload at its JSONPath.

import { randomUUID } from 'node:crypto';
import type { LoadedConfig } from '../config/load.js';
import { compileGlobs } from '../match/glob.js';
import { getScheme } from '../verify/index.js';
import { UsageError } from './operations.js';

export interface Example {
  source: string;
  scheme: string;
  /** The type the example carries. */
  type: string;
  /** Where this source reads the type, in words. */
  typeFrom: string;
  /** Set when the type lives in a header: its name. */
  typeHeader?: string;
  /** Types worth trying: those the source's rules name, then the provider's common ones. */
  types: string[];
  headers: Record<string, string>;
  /** The body as sent, pretty-printed JSON. */
  body: string;
}

type Json = Record<string, unknown>;

const COMMON_TYPES: Record<string, string[]> = {
  archivus: ['document.processed', 'document.failed', 'document.uploaded', 'chat.message.created'],
  github: ['push', 'pull_request.opened', 'pull_request.closed', 'issues.opened', 'release.published', 'ping'],
  stripe: ['payment_intent.succeeded', 'payment_intent.payment_failed', 'invoice.paid', 'customer.subscription.created', 'charge.refunded'],
  slack: ['app_mention', 'message', 'reaction_added'],
  shopify: ['orders/create', 'orders/paid', 'products/update', 'customers/create'],
  'standard-webhooks': ['invoice.paid', 'user.created'],
};
const GENERIC_TYPES = ['example.created'];

const now = () => new Date().toISOString();
const epoch = () => Math.floor(Date.now() / 1000);

/** Bodies per scheme; the type is placed afterwards, where the source reads it. */
const BODIES: Record<string, (type: string) => Json> = {
  archivus: (type) => ({
    id: 'event_try_1',
    type,
    timestamp: now(),
    data: type.startsWith('chat.')
      ? { session_id: 'chat_1', message_id: 'msg_1', role: 'user', content: 'Summarise the contract.' }
      : { document_id: 'doc_1', document: { id: 'doc_1', filename: 'contract.pdf', status: 'completed', ai_summary: 'A services agreement.', ai_tags: ['contract', 'legal'] } },
  }),
  github: (type) => {
    const [event = type, action] = splitOnce(type, '.');
    const repository = { full_name: 'acme/app', html_url: 'https://github.com/acme/app' };
    const sender = { login: 'octocat' };
    if (event === 'push') return { ref: 'refs/heads/main', commits: [{ id: 'c0ffee', message: 'Fix the build' }], repository, sender };
    if (event === 'pull_request') return { action, number: 42, pull_request: { title: 'Add a feature', html_url: 'https://github.com/acme/app/pull/42', merged: action === 'closed' }, repository, sender };
    if (event === 'issues') return { action, issue: { number: 7, title: 'It breaks on Mondays' }, repository, sender };
    return { ...(action !== undefined && { action }), repository, sender };
  },
  stripe: (type) => {
    const kind = type.split('.')[0] ?? 'object';
    const object =
      kind === 'payment_intent'
        ? { id: 'pi_try_1', object: kind, amount: 2000, currency: 'usd', status: type.endsWith('succeeded') ? 'succeeded' : 'requires_payment_method' }
        : kind === 'invoice'
          ? { id: 'in_try_1', object: kind, amount_paid: 2000, currency: 'usd', customer: 'cus_try_1' }
          : { id: `${kind.slice(0, 3)}_try_1`, object: kind };
    return { id: 'evt_try_1', object: 'event', api_version: '2024-06-20', created: epoch(), livemode: false, type, data: { object } };
  },
  slack: (type) => ({
    team_id: 'T0001',
    api_app_id: 'A0001',
    type: 'event_callback',
    event_id: 'Ev0001',
    event_time: epoch(),
    event: { type, user: 'U0001', text: 'Hello <@U0002>', channel: 'C0001', ts: '1700000000.000100' },
  }),
  shopify: (type) =>
    type.startsWith('orders/')
      ? { id: 820982911946154500, email: 'jon@example.com', total_price: '199.00', currency: 'USD', line_items: [{ title: 'IPod Nano', quantity: 1, price: '199.00' }] }
      : type.startsWith('products/')
        ? { id: 632910392, title: 'IPod Nano', vendor: 'Apple' }
        : { id: 706405506930370000, email: 'jon@example.com', first_name: 'Jon' },
  'standard-webhooks': (type) => ({ type, timestamp: now(), data: { id: 'obj_try_1', status: 'ok' } }),
};
const GENERIC = (type: string): Json => ({ id: 'evt_try_1', type, data: { message: 'hello' } });

/** Headers a provider sends besides its signature (which a dry run does not check). */
function providerHeaders(scheme: string): Record<string, string> {
  const id = randomUUID();
  if (scheme === 'github') return { 'x-github-delivery': id };
  if (scheme === 'shopify') return { 'x-shopify-webhook-id': id, 'x-shopify-shop-domain': 'acme.myshopify.com' };
  if (scheme === 'standard-webhooks') return { 'webhook-id': `msg_${id.replaceAll('-', '')}`, 'webhook-timestamp': String(epoch()) };
  return {};
}

/** The example for one configured source; `type` defaults to the first worth trying. */
export function example(config: LoadedConfig, sourceName: string, type?: string): Example {
  const raw = config.raw.sources[sourceName];
  if (raw === undefined) throw new UsageError(`unknown source "${sourceName}" (known: ${Object.keys(config.raw.sources).join(', ')})`);
  const scheme = raw.verify.scheme;
  const types = suggestions(config, sourceName, scheme);
  const chosen = type?.trim() || types[0]!;
  const body = (BODIES[scheme] ?? GENERIC)(chosen);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...providerHeaders(scheme) };

  let typeFrom: string;
  let typeHeader: string | undefined;
  const configured = raw.event?.type;
  if (configured !== undefined && typeof configured === 'object' && 'header' in configured) {
    typeHeader = configured.header.toLowerCase();
    typeFrom = `the ${configured.header} header`;
  } else if (typeof configured === 'string') {
    typeFrom = `the payload at ${configured}`;
    if (!placeAt(body, configured, chosen)) typeFrom += ' (not a simple path: put the type there by hand)';
  } else if (scheme === 'github') {
    typeHeader = 'x-github-event';
    typeFrom = 'the X-GitHub-Event header, then the payload\'s "action"';
  } else if (scheme === 'shopify') {
    typeHeader = 'x-shopify-topic';
    typeFrom = 'the X-Shopify-Topic header';
  } else if (scheme === 'slack') {
    typeFrom = 'the payload at $.event.type';
  } else {
    const path = getScheme(scheme)?.defaults?.typePath;
    typeFrom = path === undefined ? `nowhere yet: a ${scheme} source needs event.type in its config` : `the payload at ${path}`;
    if (path !== undefined) placeAt(body, path, chosen);
  }
  if (typeHeader !== undefined) headers[typeHeader] = scheme === 'github' && configured === undefined ? splitOnce(chosen, '.')[0]! : chosen;
  return { source: sourceName, scheme, type: chosen, typeFrom, ...(typeHeader !== undefined && { typeHeader }), types, headers, body: JSON.stringify(body, null, 2) };
}

/**
 * Types worth trying, best first: those named by rules for this source
 * alone, then the provider's common types that some rule matches, then
 * those named by rules for every source, then the rest of the common ones.
 */
function suggestions(config: LoadedConfig, source: string, scheme: string): string[] {
  const rules = config.rules.rules.filter((r) => r.sources === undefined || r.sources.has(source));
  const named = (own: boolean) => rules.filter((r) => (r.sources !== undefined) === own).flatMap((r) => r.on.filter((t) => !t.includes('*')));
  const common = COMMON_TYPES[scheme] ?? GENERIC_TYPES;
  const matchers = rules.map((r) => compileGlobs(r.on));
  const matched = common.filter((t) => matchers.some((m) => m(t)));
  return [...new Set([...named(true), ...matched, ...named(false), ...common])];
}

/** Sets `value` at a plain dotted JSONPath (`$.a.b`); false for anything fancier. */
function placeAt(body: Json, path: string, value: string): boolean {
  const m = /^\$((?:\.[A-Za-z_][\w-]*)+)$/.exec(path);
  if (!m) return false;
  const keys = m[1]!.slice(1).split('.');
  let node: Json = body;
  for (const key of keys.slice(0, -1)) {
    const child = node[key];
    node = (node[key] = child !== null && typeof child === 'object' && !Array.isArray(child) ? child : {}) as Json;
  }
  node[keys.at(-1)!] = value;
  return true;
}

function splitOnce(s: string, sep: string): [string, string | undefined] {
  const i = s.indexOf(sep);
  return i < 0 ? [s, undefined] : [s.slice(0, i), s.slice(i + sep.length)];
}
