// What `relay events` / `relay replay` do, over a Store and nothing else, so
// the admin HTTP API can call the same functions with query-string values:
// every input may arrive as a string and is validated here, once.

import type { LoadedConfig } from '../config/load.js';
import { configuredSignatureHeaders, isSensitiveHeader } from '../verify/headers.js';
import type { Headers } from '../event.js';
import type { AttemptRecord, DeliveryDetail, DeliveryStatus, EventDetail, EventFilter, EventStatus, Store } from '../queue/store.js';
import { nestsDeeperThan } from '../ingest/bounds.js';

/** Bad input from the caller: the CLI prints it, the API answers 400. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const STATUSES: readonly EventStatus[] = ['pending', 'delivered', 'failed', 'dead', 'unmatched', 'off'];
export const MAX_LIMIT = 1000;
export const DEFAULT_LIMIT = 50;
// Events per Store.replay call, and per progress report: a lively bar and
// short write transactions next to a serving relay, yet ~25x faster than one
// call per event.
const REPLAY_CHUNK = 50;

type Scalar = string | number | undefined;

export interface EventQuery {
  status?: string;
  source?: string;
  type?: string;
  /** ISO time, an age such as `15m`/`2h`/`7d`, or ms since the epoch. */
  since?: Scalar;
  until?: Scalar;
  limit?: Scalar;
  /** Keyset paging: the `next` of the previous page. */
  before?: Scalar;
}

export interface EventRow {
  seq: number;
  id: string;
  source: string;
  type: string;
  receivedAt: string;
  status: EventStatus;
  deliveries: number;
}

export interface EventPage {
  events: EventRow[];
  /** Pass as `before` for the next page; null on the last one. */
  next: number | null;
}

const UNITS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 7 * 86400e3 };

/** A point in time from user input; ages count back from `now`. */
export function parseTime(value: Scalar, name: string, now = Date.now()): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value === 'number') {
    if (Number.isFinite(value)) return value;
  } else {
    const age = /^(\d+)\s*([smhdw])$/.exec(value.trim());
    if (age) return now - Number(age[1]) * UNITS[age[2]!]!;
    const at = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
    if (!Number.isNaN(at)) return at;
  }
  throw new UsageError(`${name} "${value}" is not a time: use an ISO time (2024-05-01T12:00:00Z) or an age like 15m, 2h, 7d`);
}

function parseInteger(value: Scalar, name: string, min: number, max: number): number | undefined {
  if (value === undefined || value === '') return undefined;
  const n = typeof value === 'number' ? value : /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  return n;
}

function parseStatus(value: string | undefined): EventStatus | undefined {
  if (value === undefined || value === '') return undefined;
  if ((STATUSES as readonly string[]).includes(value)) return value as EventStatus;
  throw new UsageError(`status "${value}" is not one of ${STATUSES.join(', ')}`);
}

export function parseEventQuery(query: EventQuery, now = Date.now()): EventFilter {
  const filter: EventFilter = { limit: parseInteger(query.limit, 'limit', 1, MAX_LIMIT) ?? DEFAULT_LIMIT };
  const status = parseStatus(query.status);
  const since = parseTime(query.since, 'since', now);
  const until = parseTime(query.until, 'until', now);
  const before = parseInteger(query.before, 'before', 1, Number.MAX_SAFE_INTEGER);
  if (status !== undefined) filter.status = status;
  if (query.source) filter.source = query.source;
  if (query.type) filter.type = query.type;
  if (since !== undefined) filter.since = since;
  if (until !== undefined) filter.until = until;
  if (before !== undefined) filter.before = before;
  return filter;
}

export const iso = (ms: number) => new Date(ms).toISOString();

export async function listEvents(store: Store, query: EventQuery = {}, now = Date.now()): Promise<EventPage> {
  const filter = parseEventQuery(query, now);
  const rows = await store.listEvents(filter);
  const events = rows.map((e) => ({ ...e, receivedAt: iso(e.receivedAt) }));
  const last = rows.at(-1);
  return { events, next: last !== undefined && rows.length === filter.limit ? last.seq : null };
}

// --- one event ---------------------------------------------------------------

export const MASK = '[masked]';

/** Signature and timestamp headers the config's sources name (`verify.header`): masked like the known ones. */
export function configuredSecretHeaders(config: LoadedConfig): string[] {
  return configuredSignatureHeaders(config.raw.sources);
}

/**
 * Masks the headers of the one sensitive list (src/verify/headers.ts), which forward and log redaction use too.
 * Keeps an Authorization scheme (Bearer/Basic): it tells which auth was used and is no secret.
 */
export function maskHeaders(headers: Headers, extra: readonly string[] = []): Headers {
  const out: Headers = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!isSensitiveHeader(name, extra)) out[name] = value;
    else out[name] = /authorization$/i.test(name) && /^\w+ /.test(value) ? `${value.split(' ')[0]} ${MASK}` : MASK;
  }
  return out;
}

export type BodyView = { bytes: number } & (
  | { format: 'json'; json: unknown }
  | { format: 'text'; text: string }
  | { format: 'base64'; base64: string }
);

/** Deeper than any payload ingest accepts (limits.depth is at most 1000), shallow enough for any stack. */
const VIEW_DEPTH = 1000;

export function bodyView(raw: Buffer): BodyView {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(raw);
  } catch {
    return { bytes: raw.length, format: 'base64', base64: raw.toString('base64') };
  }
  // Every view serialises the parsed tree again (and the dashboard walks it):
  // a payload stored before ingest bounded depth is shown as text instead.
  if (nestsDeeperThan(text, VIEW_DEPTH)) return { bytes: raw.length, format: 'text', text };
  try {
    return { bytes: raw.length, format: 'json', json: JSON.parse(text) as unknown };
  } catch {
    return { bytes: raw.length, format: 'text', text };
  }
}

export interface AttemptView extends Omit<AttemptRecord, 'startedAt'> {
  n: number;
  startedAt: string;
}

export interface DeliveryView {
  id: number;
  rule: string;
  action: string;
  target: string;
  status: DeliveryStatus;
  nextAt: string | null;
  lastError: string | null;
  attempts: AttemptView[];
  /**
   * `ordering: fifo`: the id of the delivery at the head of this target's
   * queue, which this one waits behind (absent when it is the head, or done).
   */
  waitingBehind?: number;
}

export interface EventView extends Omit<EventRow, 'deliveries'> {
  matched: string[];
  headers: Headers;
  body: BodyView;
  deliveries: DeliveryView[];
}

export interface ShowOptions {
  /** More header names to mask, e.g. a source's configured signature header. */
  secretHeaders?: readonly string[];
  /** Targets of `ordering: fifo` actions (configFifoTargets): queued deliveries to them say what they wait behind. */
  fifoTargets?: readonly string[];
}

/** The config's FIFO targets, for ShowOptions. */
export function configFifoTargets(config: LoadedConfig): readonly string[] {
  return config.actions.catalog.fifoTargets?.() ?? [];
}

/** By provider id or seq; null when unknown. */
export async function showEvent(store: Store, id: string, options: ShowOptions = {}): Promise<EventView | null> {
  const e = await store.getEvent(id);
  if (e === null) return null;
  const view = toView(e, options);
  const fifo = new Set(options.fifoTargets ?? []);
  const waiting = view.deliveries.filter((d) => fifo.has(d.target) && d.nextAt !== null && (d.status === 'pending' || d.status === 'failed'));
  if (waiting.length > 0) {
    const heads = await store.queueHeads(waiting.map((d) => d.target));
    for (const d of waiting) {
      const head = heads.get(d.target);
      if (head !== undefined && head !== d.id) d.waitingBehind = head;
    }
  }
  return view;
}

/**
 * The detail of a listed event. Either key alone can name another event: a
 * provider id shared by two sources, or a seq that is also some provider id.
 */
async function detailOf(store: Store, row: { seq: number; id: string }): Promise<EventDetail | null> {
  for (const key of [row.id, String(row.seq)]) {
    const e = await store.getEvent(key);
    if (e?.seq === row.seq) return e;
  }
  return null;
}

function deliveryView(d: DeliveryDetail): DeliveryView {
  return {
    id: d.id,
    rule: d.rule,
    action: d.action,
    target: d.target,
    status: d.status,
    nextAt: d.nextAt === null ? null : iso(d.nextAt),
    lastError: d.lastError,
    attempts: d.attempts.map((a, i) => ({ ...a, n: i + 1, startedAt: iso(a.startedAt) })),
  };
}

function toView(e: EventDetail, options: ShowOptions): EventView {
  return {
    seq: e.seq,
    id: e.id,
    source: e.source,
    type: e.type,
    receivedAt: iso(e.receivedAt),
    status: e.status,
    deliveries: e.deliveries.map(deliveryView),
    matched: e.matched,
    headers: maskHeaders(e.headers, options.secretHeaders),
    body: bodyView(e.rawBody),
  };
}

// --- dead letters ------------------------------------------------------------

export interface DeadLetter {
  event: EventRow;
  delivery: DeliveryView;
}

/** Dead deliveries of the events the query selects (its status is forced to dead). */
export async function deadLetters(store: Store, query: Omit<EventQuery, 'status'> = {}, now = Date.now()): Promise<DeadLetter[]> {
  const page = await listEvents(store, { ...query, status: 'dead' }, now);
  // The page's deliveries in one read, not a lookup per event (issue 12 item 3).
  const deliveries = await store.eventDeliveries(page.events.map((e) => e.seq));
  const out: DeadLetter[] = [];
  for (const event of page.events) {
    for (const d of deliveries.get(event.seq) ?? []) if (d.status === 'dead') out.push({ event, delivery: deliveryView(d) });
  }
  return out;
}

// --- replay ------------------------------------------------------------------

export interface ReplayRequest {
  /** Provider ids or seqs; every delivery of those events, whatever its status. */
  ids?: readonly string[];
  dead?: boolean;
  since?: Scalar;
  rule?: string;
  /** Only this action's deliveries (an action key within a rule: its name, or `#<index>`). */
  action?: string;
}

export interface ReplaySummary {
  /** Events selected: at least one of their deliveries met the criteria. */
  events: number;
  /** Deliveries made due; fewer than selected when some were being delivered right then. */
  deliveries: number;
  deliveryIds: number[];
  /** Requested ids that match no event. */
  missing: string[];
  /** Targets replayed to whose circuit was open (or half-open), now closed so the replay runs at once. */
  closedCircuits: string[];
}

export type ReplayProgress = (done: number, total: number, deliveries: number) => void;

type Criteria = { dead?: boolean; since?: number; rule?: string; action?: string };

/**
 * Resolves the request to events, then replays them a chunk at a time so
 * `onProgress` can report (events done, events total). Criteria combine with
 * AND, as in Store.replay; at least one of ids, dead or since is required so
 * nothing replays everything by accident.
 */
export async function replay(store: Store, request: ReplayRequest, onProgress?: ReplayProgress, now = Date.now()): Promise<ReplaySummary> {
  const ids = [...new Set((request.ids ?? []).map((id) => id.trim()).filter((id) => id !== ''))];
  const since = parseTime(request.since, 'since', now);
  if (ids.length === 0 && request.dead !== true && since === undefined) {
    throw new UsageError('replay needs event ids, dead letters (dead) or a start time (since): say which deliveries');
  }
  if (request.rule !== undefined && request.rule.trim() === '') throw new UsageError('rule must not be empty');
  if (request.action !== undefined && request.action.trim() === '') throw new UsageError('action must not be empty');
  const criteria: Criteria = {
    ...(request.dead === true ? { dead: true } : {}),
    ...(since !== undefined ? { since } : {}),
    ...(request.rule !== undefined ? { rule: request.rule } : {}),
    ...(request.action !== undefined ? { action: request.action } : {}),
  };

  const missing: string[] = [];
  const keys = ids.length > 0 ? await byIds(store, ids, criteria, missing) : await bySearch(store, criteria);
  const replayed = new Set<number>(); // a batched delivery comes back for each of its events
  onProgress?.(0, keys.length, 0);
  for (let i = 0; i < keys.length; i += REPLAY_CHUNK) {
    for (const d of await store.replay({ ids: keys.slice(i, i + REPLAY_CHUNK), ...criteria })) replayed.add(d);
    onProgress?.(Math.min(i + REPLAY_CHUNK, keys.length), keys.length, replayed.size);
  }
  const deliveryIds = [...replayed].sort((a, b) => a - b);
  // After the deliveries are due: a worker that sees the circuit closed finds them ready.
  const closedCircuits = await store.closeCircuits(deliveryIds, Date.now());
  return { events: keys.length, deliveries: deliveryIds.length, deliveryIds, missing, closedCircuits };
}

function selects(c: Criteria): (d: { status: DeliveryStatus; rule: string; action: string }) => boolean {
  return (d) =>
    (c.dead !== true || d.status === 'dead') && (c.rule === undefined || d.rule === c.rule) && (c.action === undefined || d.action === c.action);
}

async function byIds(store: Store, ids: string[], c: Criteria, missing: string[]): Promise<string[]> {
  const keys: string[] = [];
  for (const id of ids) {
    const e = await store.getEvent(id);
    if (e === null) missing.push(id);
    else if ((c.since === undefined || e.receivedAt >= c.since) && e.deliveries.some(selects(c))) keys.push(id);
  }
  return keys;
}

/**
 * Provider ids of the events with something to replay, oldest first. Provider
 * ids, not seqs: a seq written as a string means a provider id whenever some
 * event has that id. An id two sources share replays both in one call, so
 * each id is listed once.
 */
async function bySearch(store: Store, c: Criteria): Promise<string[]> {
  const ids = new Set<string>();
  const filter: EventFilter = { limit: MAX_LIMIT, ...(c.dead === true ? { status: 'dead' } : {}), ...(c.since !== undefined ? { since: c.since } : {}) };
  for (let before: number | undefined; ; ) {
    const page = await store.listEvents(before === undefined ? filter : { ...filter, before });
    for (const e of page) {
      if (e.deliveries === 0 || ids.has(e.id)) continue;
      // The summary does not list the rules: read the event when one is asked for.
      if ((c.rule !== undefined || c.action !== undefined) && !(await detailOf(store, e))?.deliveries.some(selects(c))) continue;
      ids.add(e.id);
    }
    if (page.length < MAX_LIMIT) return [...ids].reverse();
    before = page.at(-1)!.seq;
  }
}

export { targetHealth, type TargetHealth } from './targets.js';
