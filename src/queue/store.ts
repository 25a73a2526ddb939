// The durable store and queue, behind one interface. Nothing outside
// src/queue/ touches SQL. Engines: sqlite (default, embedded) and postgres.

import type { Headers } from '../event.js';

export type DeliveryStatus = 'pending' | 'failed' | 'delivered' | 'dead';
/** An event's status is the worst of its deliveries': dead > failed > pending > delivered. */
export type EventStatus = DeliveryStatus | 'unmatched';

export interface NewEvent {
  id: string;
  source: string;
  type: string;
  receivedAt: number;
  headers: Headers;
  rawBody: Buffer;
  /** Names of the rules that matched, for `relay events show`. */
  matched: string[];
}

/** One delivery per action of each matched rule. */
export interface PlannedDelivery {
  rule: string;
  /** The action's key inside the rule: its name, or `#<index>` when unnamed. */
  action: string;
  /** Circuit-breaker key (a destination). */
  target: string;
  /** Set when the action batches: deliveries with the same key and an open window join one batch. */
  batch?: { key: string; windowMs: number; max: number };
}

export interface IngestOutcome {
  status: 'accepted' | 'duplicate';
  id: string;
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
}

export interface ClaimedDelivery {
  id: number;
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
}

export interface EventFilter {
  status?: EventStatus;
  source?: string;
  type?: string;
  since?: number;
  until?: number;
  limit?: number;
  /** Keyset paging: events with seq below this. */
  before?: number;
}

export interface EventSummary {
  seq: number;
  id: string;
  source: string;
  type: string;
  receivedAt: number;
  status: EventStatus;
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

export interface ReplaySelector {
  /** Event ids (provider ids) or seq numbers as strings. */
  ids?: string[];
  dead?: boolean;
  since?: number;
  rule?: string;
}

export interface Store {
  readonly driver: 'sqlite' | 'postgres';
  /** Creates or upgrades the schema; safe to call on every start. */
  migrate(): Promise<void>;
  /**
   * Commits the event and its deliveries together, before the caller answers
   * 2xx. Concurrent calls share one transaction (group commit). A known
   * (source, id) within retention is a duplicate and writes nothing.
   */
  ingest(event: NewEvent, deliveries: PlannedDelivery[]): Promise<IngestOutcome>;
  /** Claims due deliveries under a lease; safe with many workers in many processes. */
  claim(options: ClaimOptions): Promise<ClaimedDelivery[]>;
  /** Records an attempt and moves the delivery on, releasing the lease. */
  finish(deliveryId: number, attempt: AttemptRecord, next: DeliveryNext): Promise<void>;
  /** Puts claimed deliveries back without recording an attempt (graceful shutdown). */
  release(deliveryIds: readonly number[]): Promise<void>;
  /** Deliveries not yet delivered or dead: the backlog that backpressure bounds. */
  backlog(): Promise<number>;
  /** When the next queued delivery falls due, or null when none is queued. */
  nextDueAt(): Promise<number | null>;
  listEvents(filter: EventFilter): Promise<EventSummary[]>;
  /** By provider id or by seq. */
  getEvent(idOrSeq: string): Promise<EventDetail | null>;
  /** Makes the selected deliveries due now with a fresh attempt budget; returns their ids. */
  replay(selector: ReplaySelector): Promise<number[]>;
  /** Deletes events received before `before` whose deliveries are all finished. */
  prune(before: number): Promise<{ events: number }>;
  /** Reachable? For /readyz. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
