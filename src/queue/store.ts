// The durable store and queue, behind one interface. Nothing outside
// src/queue/ touches SQL. Engines: sqlite (default, embedded) and postgres.

import type { Headers } from '../event.js';
import type { DeliveryRequest, DeliveryResponse } from '../plugin.js';
import type { PostgresTimeouts } from './postgres.js';

export type DeliveryStatus = 'pending' | 'failed' | 'delivered' | 'dead';
/** An event's status is the worst of its deliveries': dead > failed > pending > delivered. */
/**
 * `unmatched`: no rule matched. `off`: rules matched, but every one of their
 * actions is disabled (`enabled: false`), so nothing was queued: told apart
 * because the fix is a different one (turn an action on, not edit a rule).
 */
export type EventStatus = DeliveryStatus | 'unmatched' | 'off';

export interface NewEvent {
  id: string;
  source: string;
  type: string;
  receivedAt: number;
  headers: Headers;
  rawBody: Buffer;
  /** Names of the rules that matched, for `relay events show`. */
  matched: string[];
  /** W3C traceparent of the ingest span, when tracing is on: delivery spans join this trace. */
  trace?: string;
}

/** One delivery per action of each matched rule. */
export interface PlannedDelivery {
  rule: string;
  /** The action's key inside the rule: its name, or `<plugin>~<hash of its options>` when unnamed (see inlineName). */
  action: string;
  /** Circuit-breaker key (a destination). */
  target: string;
  /** Set when the action batches: deliveries with the same key and an open window join one batch. */
  batch?: { key: string; windowMs: number; max: number };
  /**
   * Insert it already leased to IngestLease.worker (ingest's third argument):
   * the ingest transaction takes the claim, so this process can start it
   * without a claim transaction. Never set on batch deliveries.
   */
  lease?: boolean;
}

/** Who takes the lease of the deliveries planned with `lease: true`, and for how long. */
export interface IngestLease {
  worker: string;
  leaseMs: number;
}

export interface IngestOutcome {
  status: 'accepted' | 'duplicate';
  id: string;
  /** The deliveries inserted already leased (see PlannedDelivery.lease), with their lease tokens. */
  leased?: ClaimedDelivery[];
}

export interface StoredEvent {
  /** Internal sequence number. */
  seq: number;
  id: string;
  source: string;
  type: string;
  receivedAt: number;
  headers: Headers;
  rawBody: Buffer;
  matched: string[];
  /** The ingest span's traceparent, when the event was traced. */
  trace?: string;
}

/**
 * A claim's fencing token. finish() and release() change a delivery only while
 * its row still carries this token: once the lease has lapsed and another
 * claim took the delivery (or replay reset it), an earlier claimer's late
 * result is dropped instead of overwriting the newer one.
 */
export interface LeaseToken {
  /** The delivery. */
  id: number;
  /** The worker that claimed it (ClaimOptions.worker). */
  claimedBy: string;
  /** The delivery's lease generation: bumped by every claim of it. */
  generation: number;
}

/** `stale`: the token no longer matched, so nothing was recorded. */
export type FinishResult = 'recorded' | 'stale';

export interface ClaimedDelivery extends LeaseToken {
  rule: string;
  action: string;
  target: string;
  /** Attempts made before this one. */
  attempts: number;
  /** Oldest first; one event unless batched. */
  events: StoredEvent[];
}

export interface AttemptRecord {
  startedAt: number;
  durationMs: number;
  outcome: 'delivered' | 'retry' | 'dead';
  status?: number;
  error?: string;
  /** What the destination answered, bounded and masked (src/deliver/exchange.ts). */
  response?: DeliveryResponse;
  /** What was sent, bounded and masked. */
  request?: DeliveryRequest;
}

export type DeliveryNext =
  | { status: 'delivered' }
  | { status: 'failed'; nextAt: number }
  | { status: 'dead' };

export interface ClaimOptions {
  worker: string;
  limit: number;
  now: number;
  leaseMs: number;
  /** Targets whose circuit is open: leave their deliveries queued. */
  skipTargets?: readonly string[];
  /**
   * Targets of `ordering: fifo` actions: claim only each one's oldest queued
   * delivery, and only when none older is in flight or waiting to retry (fifo.ts).
   */
  fifoTargets?: readonly string[];
}

export interface EventFilter {
  status?: EventStatus;
  source?: string;
  /** An exact type, or a glob with the semantics of a rule's `on:` (`document.*`, `**.failed`). */
  type?: string;
  /** Received at or after (ms). */
  since?: number;
  /** Received before (ms, exclusive). */
  until?: number;
  /** Default 50, at most 1000. Newest first. */
  limit?: number;
  /** Keyset paging: events with seq below this (pass the last seq of the previous page). */
  before?: number;
}

export interface EventSummary {
  seq: number;
  id: string;
  source: string;
  type: string;
  receivedAt: number;
  status: EventStatus;
  /** The rules that matched at arrival. */
  matched: string[];
  deliveries: number;
}

export interface DeliveryDetail {
  id: number;
  rule: string;
  action: string;
  target: string;
  status: DeliveryStatus;
  attempts: AttemptRecord[];
  nextAt: number | null;
  lastError: string | null;
}

export interface EventDetail extends StoredEvent {
  status: EventStatus;
  deliveries: DeliveryDetail[];
}

/**
 * Which deliveries to replay; the given criteria all apply (AND). At least one
 * of ids, dead or since is required. Deliveries under a live lease (being
 * delivered right now) are left alone.
 */
export interface ReplaySelector {
  /**
   * Event ids (provider ids) or seq numbers as strings: a string that is some
   * event's provider id means that id, otherwise a decimal string is a seq.
   * Selects every delivery of those events, whatever its status.
   */
  ids?: string[];
  /** Only dead deliveries. */
  dead?: boolean;
  /** Only deliveries of events received at or after this time (ms). */
  since?: number;
  rule?: string;
  /** With rule: one action's deliveries (the dashboard's "replay this delivery"). */
  action?: string;
}

export interface PruneOptions {
  /**
   * Also delete events whose deliveries are all finished with at least one
   * dead (dead letters are otherwise kept until replayed).
   */
  dead?: boolean;
}

/**
 * A target's circuit as the store keeps it (both engines; on PostgreSQL every
 * instance follows it, and it is what the CLI and admin API report). Written only when a
 * circuit opens or closes, never per attempt, so sharing costs nothing while
 * targets are healthy.
 */
export interface SharedCircuit {
  target: string;
  /** When the cool-down ends; null once closed. */
  openUntil: number | null;
  /** Consecutive failures seen by the instance that wrote it. */
  failures: number;
}

/** What Store#activity counts; times in ms since the epoch. */
export interface ActivityQuery {
  /** Events received and attempts started at or after this. */
  since: number;
  /** Bucket width; buckets start at multiples of it. */
  bucketMs: number;
}

export interface Activity {
  /** Events received per source and bucket (the bucket's start). */
  events: Array<{ source: string; bucket: number; count: number }>;
  /** Delivery attempts per rule, action, outcome and bucket of their start. */
  attempts: Array<{ rule: string; action: string; outcome: AttemptRecord['outcome']; bucket: number; count: number }>;
  /** Events received per rule that matched them and bucket. */
  matches: Array<{ rule: string; bucket: number; count: number }>;
}

export interface MigrationResult {
  /** Schema version after migrating. */
  version: number;
  /** Names of the migrations this call applied (empty when up to date). */
  applied: string[];
}

/** Counters since the store was opened, for metrics and tests. */
export interface StoreStats {
  /** Transactions that committed ingested events (group commit: fewer than events). */
  ingestTransactions: number;
  /** Events accepted (duplicates not counted). */
  ingestedEvents: number;
  duplicates: number;
  /** Transactions that committed finish() calls, which are grouped the same way. */
  finishTransactions: number;
}

/** How long an ingest or finish may wait for its group commit (ms); default 5 s. */
export interface CommitTimeout {
  commitTimeoutMs?: number;
}

export type StorageConfig =
  | ({ driver: 'sqlite'; path: string; sync: 'normal' | 'full' } & CommitTimeout)
  | ({ driver: 'postgres'; url: string; schema?: string } & PostgresTimeouts & CommitTimeout);

export interface Store {
  readonly driver: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; safe to call on every start (openStore does). */
  migrate(): Promise<MigrationResult>;
  /**
   * Commits the event and its deliveries together, before the caller answers
   * 2xx. Concurrent calls share one transaction (group commit). A known
   * (source, id) within retention is a duplicate and writes nothing. With
   * `lease`, the deliveries marked `lease: true` are inserted claimed by
   * lease.worker (lease generation bumped, as a claim does) and returned in
   * `leased`; a store may also ignore the marks (then `leased` is absent).
   */
  ingest(event: NewEvent, deliveries: PlannedDelivery[], lease?: IngestLease): Promise<IngestOutcome>;
  /** Claims due deliveries under a lease; safe with many workers in many processes. */
  claim(options: ClaimOptions): Promise<ClaimedDelivery[]>;
  /**
   * Records an attempt and moves the delivery on, releasing the lease, if the
   * lease token still matches; otherwise records nothing and returns 'stale'.
   * Concurrent calls share one transaction, like ingest.
   */
  finish(lease: LeaseToken, attempt: AttemptRecord, next: DeliveryNext): Promise<FinishResult>;
  /**
   * Puts claimed deliveries back without recording an attempt (graceful
   * shutdown, hand-back). Only those whose token still matches: returns the
   * ids of the others (stale), which are left as they are.
   */
  release(leases: readonly LeaseToken[]): Promise<number[]>;
  /**
   * Puts back every delivery leased by workers whose id starts with the
   * prefix ('' = all), without an attempt. A single SQLite instance calls it
   * at start-up, so work in flight when it was killed resumes at once rather
   * than after its lease. Returns how many were put back.
   */
  recover(workerPrefix: string): Promise<number>;
  /** Deliveries not yet delivered or dead: the backlog that backpressure bounds. */
  backlog(): Promise<number>;
  /**
   * Events holding a dead delivery (status dead): the dead-letter queue, for
   * the relay_dead_letters gauge. Counted on the events status index, so a
   * scrape stays cheap however many deliveries are stored.
   */
  deadCount(): Promise<number>;
  /**
   * When the next queued delivery falls due, or null when none is queued. A
   * claimed delivery counts as due when its lease ends (it is re-claimed then
   * if its worker died).
   */
  nextDueAt(): Promise<number | null>;
  /** The oldest queued (pending, failed or in-flight) delivery of each target that has one. */
  queueHeads(targets: readonly string[]): Promise<Map<string, number>>;
  listEvents(filter: EventFilter): Promise<EventSummary[]>;
  /**
   * Events with a seq above `after`, oldest first, at most `limit` (1 to
   * 1000): the backlog and tail of the live stream (GET /admin/events/stream).
   */
  eventsAfter(after: number, limit: number): Promise<StoredEvent[]>;
  /** The highest seq stored (0 when none): where a live stream without Last-Event-ID starts. */
  lastSeq(): Promise<number>;
  /** By provider id or by seq. */
  getEvent(idOrSeq: string): Promise<EventDetail | null>;
  /** The deliveries (with attempts) of these events by seq, in a few indexed queries: a page's details at once. */
  eventDeliveries(seqs: readonly number[]): Promise<Map<number, DeliveryDetail[]>>;
  /** Makes the selected deliveries due now with a fresh attempt budget; returns their ids. */
  replay(selector: ReplaySelector): Promise<number[]>;
  /**
   * Deletes events received before `before` whose deliveries are all
   * delivered (or that have none), with their deliveries and attempts. On
   * PostgreSQL one instance prunes at a time: while another holds the prune
   * lock this returns `{events: 0, skipped: true}` at once. Also deletes
   * expired shared rate-limit counters.
   */
  prune(before: number, options?: PruneOptions): Promise<{ events: number; skipped?: boolean }>;
  /** Records a circuit's transition (open or close) for every instance. */
  saveCircuit(circuit: SharedCircuit, now: number): Promise<void>;
  /**
   * Closes the circuits of the targets these deliveries go to (a replay: the
   * destination is back). Returns the targets whose circuit was open or half-open.
   */
  closeCircuits(deliveryIds: number[], now: number): Promise<string[]>;
  /** Circuits some instance opened whose cool-down has not ended at `now`. */
  openCircuits(now: number): Promise<SharedCircuit[]>;
  /** Recent traffic in time buckets, for the dashboard (SQL in activity.ts). */
  activity(query: ActivityQuery): Promise<Activity>;
  /**
   * Calls `listener` when work may have become due: after ingest, replay and
   * release here, and on PostgreSQL after those in other instances too
   * (LISTEN/NOTIFY). Wake-ups are hints: a worker still re-checks nextDueAt.
   * Returns an unsubscribe.
   */
  onWake(listener: () => void): () => void;
  /** Wakes this instance's listeners and, on PostgreSQL, other instances'. */
  notify(): void;
  stats(): StoreStats;
  /**
   * Reachable? For /readyz. With a timeout, a connection that does not answer
   * in time is discarded rather than left waiting.
   */
  ping(timeoutMs?: number): Promise<void>;
  /** Commits pending group commits, then closes (SQLite: checkpoints the WAL). */
  close(): Promise<void>;
}
