// Kysely table types. Times are integer ms since the epoch (bigint on
// PostgreSQL, parsed to number by the pool's type parser). Booleans are
// stored as integers: better-sqlite3 refuses JS booleans as parameters.

import type { ColumnType, Generated } from 'kysely';

import type { DeliveryStatus, EventStatus } from './store.js';

export interface EventsTable {
  seq: Generated<number>;
  source: string;
  event_id: string;
  type: string;
  received_at: number;
  /** JSON text of the Headers record. */
  headers: string;
  body: Buffer;
  /** JSON text of the matched rule names. */
  matched: string;
  /** W3C traceparent of the ingest span; null when tracing was off. */
  trace: string | null;
  /**
   * Kept in step with the deliveries (by ingest, finish and replay) so that
   * status filters and prune use an index instead of aggregating every event.
   */
  status: EventStatus;
}

export interface DeliveriesTable {
  id: Generated<number>;
  /** Null for a batch: its events are in batch_members. */
  event_seq: number | null;
  rule: string;
  action: string;
  target: string;
  status: DeliveryStatus;
  attempts: ColumnType<number, number | undefined, number>;
  /**
   * When it may next be claimed; null once delivered or dead. A claim moves
   * it to the lease's end, so expired leases fall due again by themselves and
   * one index on next_at serves claim, nextDueAt and backlog.
   */
  next_at: number | null;
  lease_until: number | null;
  claimed_by: string | null;
  /** Bumped by every claim (migration 6): with claimed_by, the lease's fencing token. */
  lease_generation: ColumnType<number, number | undefined, number>;
  last_error: string | null;
  batch_key: string | null;
  /** 1 while the batch accepts members, else null (a partial unique index keeps one open batch per key). */
  batch_open: number | null;
  batch_size: ColumnType<number, number | undefined, number>;
  batch_closes_at: number | null;
  created_at: number;
  updated_at: number;
}

export interface BatchMembersTable {
  delivery_id: number;
  event_seq: number;
}

export interface AttemptsTable {
  id: Generated<number>;
  delivery_id: number;
  /** Attempt number within the delivery's current budget (replay starts again at 1). */
  n: number;
  started_at: number;
  duration_ms: number;
  outcome: 'delivered' | 'retry' | 'dead';
  status: number | null;
  error: string | null;
  /** JSON of the DeliveryResponse (migration 5); null when the plugin reported none. */
  response: string | null;
  /** JSON of the DeliveryRequest (migration 5). */
  request: string | null;
}

/** Shared circuit-breaker state (migration 2); see SharedCircuit. */
export interface CircuitsTable {
  target: string;
  open_until: number | null;
  failures: number;
  updated_at: number;
}

/**
 * rate-limiter-flexible's RateLimiterPostgres table (migration 2, PostgreSQL
 * only). The library reads and writes it; the store only deletes expired rows.
 */
export interface RateLimitsTable {
  key: string;
  points: number;
  /** ms since the epoch; null = never expires (unused by Relay). */
  expire: number | null;
}

export interface MigrationsTable {
  version: number;
  name: string;
  applied_at: number;
}

export interface Database {
  events: EventsTable;
  deliveries: DeliveriesTable;
  batch_members: BatchMembersTable;
  attempts: AttemptsTable;
  relay_migrations: MigrationsTable;
  circuits: CircuitsTable;
  rate_limits: RateLimitsTable;
}
