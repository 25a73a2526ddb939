// Versioned schema migrations, applied in order at start-up inside one write
// transaction (both engines have transactional DDL). On PostgreSQL several
// instances may start at once: a transaction-scoped advisory lock makes them
// migrate one after the other, and the later ones find nothing to do.
//
// Migrations are append-only: never edit one that has shipped.

import { all, exec, raw, type Dialect, type Step } from './engine.js';
import type { MigrationResult } from './store.js';
import { FIFO_INDEX } from './fifo.js';
import { rollupStatements, tallyStatements } from './rollup.js';

/** Shared inbound rate-limit counters (PostgreSQL), read and written by rate-limiter-flexible. */
export const RATE_LIMITS_TABLE = 'rate_limits';

export interface Migration {
  version: number;
  name: string;
  up(dialect: Dialect): string[];
}

function types(dialect: Dialect) {
  return dialect === 'sqlite'
    ? // AUTOINCREMENT: seq and ids are never reused after prune, so keyset
      // paging, logs and replay-by-seq stay unambiguous.
      { id: 'integer primary key autoincrement', big: 'integer', bytes: 'blob' }
    : { id: 'bigint generated always as identity primary key', big: 'bigint', bytes: 'bytea' };
}

export const migrations: readonly Migration[] = [
  {
    version: 1,
    name: 'initial',
    up: (dialect) => {
      const { id, big, bytes } = types(dialect);
      return [
        `create table events (
          seq ${id},
          source text not null,
          event_id text not null,
          type text not null,
          received_at ${big} not null,
          headers text not null,
          body ${bytes} not null,
          matched text not null,
          status text not null
        )`,
        `create unique index events_source_id on events (source, event_id)`,
        `create index events_status_seq on events (status, seq)`,
        `create index events_received on events (received_at)`,
        `create table deliveries (
          id ${id},
          event_seq ${big},
          rule text not null,
          action text not null,
          target text not null,
          status text not null,
          attempts integer not null default 0,
          next_at ${big},
          lease_until ${big},
          claimed_by text,
          last_error text,
          batch_key text,
          batch_open integer,
          batch_size integer not null default 0,
          batch_closes_at ${big},
          created_at ${big} not null,
          updated_at ${big} not null
        )`,
        // Queued deliveries have next_at; finished ones have null.
        `create index deliveries_due on deliveries (next_at)`,
        `create index deliveries_event on deliveries (event_seq)`,
        // At most one open batch per (rule, action, key), across instances.
        `create unique index deliveries_open_batch on deliveries (rule, action, batch_key) where batch_open = 1`,
        `create table batch_members (
          delivery_id ${big} not null,
          event_seq ${big} not null,
          primary key (delivery_id, event_seq)
        )`,
        `create index batch_members_event on batch_members (event_seq)`,
        `create table attempts (
          id ${id},
          delivery_id ${big} not null,
          n integer not null,
          started_at ${big} not null,
          duration_ms integer not null,
          outcome text not null,
          status integer,
          error text
        )`,
        `create index attempts_delivery on attempts (delivery_id, id)`,
      ];
    },
  },
  {
    version: 2,
    name: 'shared-state',
    up: (dialect) => {
      const { big } = types(dialect);
      return [
        // Written only when a circuit opens or closes; read by every instance.
        `create table circuits (
          target text primary key,
          open_until ${big},
          failures integer not null default 0,
          updated_at ${big} not null
        )`,
        // RateLimiterPostgres's own table, column for column (see its
        // _getCreateTableStmt), created here so instances starting together
        // do not race to create it. Only PostgreSQL serves several instances.
        ...(dialect === 'postgres'
          ? [
              `create table ${RATE_LIMITS_TABLE} (
                key varchar(255) primary key,
                points integer not null default 0,
                expire bigint
              )`,
            ]
          : []),
      ];
    },
  },
  {
    version: 5,
    name: 'attempt-exchange',
    // What each attempt sent and what it got back, as JSON: read per event, never queried.
    up: () => [`alter table attempts add column response text`, `alter table attempts add column request text`],
  },
  {
    version: 6,
    name: 'lease-generation',
    // The fencing token's second half (see LeaseToken): every claim bumps it,
    // so a lapsed claimer's finish or release no longer matches the row.
    up: () => [`alter table deliveries add column lease_generation integer not null default 0`],
  },
  // 7 was reserved for a change that needed no migration.
  {
    version: 8,
    name: 'event-id-index',
    // `relay events show ID`, GET /admin/events/ID and replay by id look an
    // event up by its provider id alone, or by a prefix of it: without this
    // index each was a full scan ((source, event_id) serves only the pair).
    up: () => [`create index events_event_id_seq on events (event_id, seq)`],
  },
  {
    version: 9,
    name: 'fifo-queue-index',
    up: () => [FIFO_INDEX],
  },
  {
    version: 10,
    name: 'event-trace',
    // The W3C traceparent of the event's ingest span (only while tracing is
    // on), so each delivery attempt's span joins the event's trace.
    up: () => [`alter table events add column trace text`],
  },
  {
    version: 11,
    name: 'admin-read-indexes',
    // GET /admin/stats on a large store (issue 12 item 3). Attempts were
    // reached from the window's events through deliveries (no time index):
    // a day of traffic meant a lookup chain per event, seconds on 500k events.
    // attempts_started is a range on the start time that also holds what the
    // count needs; events_received_cover replaces events_received with the
    // columns the charts group by, so neither count reads a table row.
    up: (dialect) => [
      `create index attempts_started on attempts (started_at, delivery_id, outcome)`,
      `create index events_received_cover on events (received_at, source, matched)`,
      `drop index events_received`,
      // SQLite's counts per minute (see rollup.ts): a day's stats without a day of rows.
      ...(dialect === 'sqlite' ? rollupStatements() : []),
    ],
  },
  {
    version: 12,
    name: 'activity-counts-per-commit',
    // SQLite's per-minute counts are written once per group commit instead
    // of by a trigger per row (see rollup.ts); PostgreSQL has none.
    up: (dialect) => (dialect === 'sqlite' ? tallyStatements() : []),
  },
];

export const LATEST_VERSION = Math.max(...migrations.map((m) => m.version));

const SCHEMA_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

export function assertSchemaName(schema: string): void {
  if (!SCHEMA_NAME.test(schema)) {
    throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(schema)}: use letters, digits and _`);
  }
}

export function* migrate(dialect: Dialect, schema: string | undefined, now: number): Step<MigrationResult> {
  const { big } = types(dialect);
  if (dialect === 'postgres') {
    yield* exec(raw(`select pg_advisory_xact_lock(hashtext($1))`, [`relay:migrate:${schema ?? ''}`]));
    if (schema !== undefined) {
      assertSchemaName(schema);
      yield* exec(raw(`create schema if not exists "${schema}"`));
    }
  }
  yield* exec(
    raw(`create table if not exists relay_migrations (
      version integer primary key,
      name text not null,
      applied_at ${big} not null
    )`),
  );
  const rows = yield* all(raw<{ version: number }>(`select version from relay_migrations`));
  const done = new Set(rows.map((r) => r.version));
  const newer = [...done].filter((v) => v > LATEST_VERSION);
  if (newer.length > 0) {
    throw new Error(
      `the database schema is at version ${Math.max(...newer)}, newer than this Relay (${LATEST_VERSION}): upgrade Relay`,
    );
  }
  const applied: string[] = [];
  const insert =
    dialect === 'sqlite'
      ? `insert into relay_migrations (version, name, applied_at) values (?, ?, ?)`
      : `insert into relay_migrations (version, name, applied_at) values ($1, $2, $3)`;
  for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
    if (done.has(m.version)) continue;
    for (const statement of m.up(dialect)) yield* exec(raw(statement));
    yield* exec(raw(insert, [m.version, m.name, now]));
    applied.push(m.name);
    done.add(m.version);
  }
  return { version: Math.max(0, ...done), applied };
}
