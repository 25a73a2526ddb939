// `relay events` and `relay events show ID`: the event log, read from the
// configured store by a short-lived process next to (not inside) `relay serve`.

import { loadConfig, type LoadedConfig } from '../config/load.js';
import { openStore } from '../queue/index.js';
import type { Store } from '../queue/store.js';
import {
  configFifoTargets,
  configuredSecretHeaders,
  listEvents,
  showEvent,
  targetHealth,
  type EventPage,
  type EventView,
  type TargetHealth,
} from '../admin/operations.js';
import { indent, processIo, relative, table, truncate, when, type Io } from './format.js';

export interface EventsOptions {
  config: string;
  status?: string;
  source?: string;
  type?: string;
  since?: string;
  limit?: string;
  before?: string;
  json?: boolean;
}

export interface ShowOptions {
  config: string;
  json?: boolean;
}

/** Opens the configured store for one command and always closes it. */
export async function withStore<T>(configFile: string, run: (store: Store, config: LoadedConfig) => Promise<T>): Promise<T> {
  // The store is all these commands need: sources' secrets may be unset here.
  const config = await loadConfig(configFile, { secrets: 'optional' });
  const storageVars = config.unset.filter((m) => m.path[0] === 'storage');
  if (storageVars.length > 0) {
    throw new Error(`storage.${storageVars[0]!.path.slice(1).join('.')} uses ${storageVars.map((m) => m.name).join(', ')}, which is not set`);
  }
  const store = await openStore(config.storage);
  try {
    return await run(store, config);
  } finally {
    await store.close();
  }
}

export async function eventsCommand(opts: EventsOptions, io: Io = processIo): Promise<void> {
  const { page, targets } = await withStore(opts.config, async (store) => ({
    page: await listEvents(store, opts),
    targets: await targetHealth(store),
  }));
  io.out(opts.json ? JSON.stringify({ ...page, targets }, null, 2) : formatEventList(page, targets));
}

export async function showCommand(id: string, opts: ShowOptions, io: Io = processIo): Promise<void> {
  const event = await withStore(opts.config, (store, config) =>
    showEvent(store, id, { secretHeaders: configuredSecretHeaders(config), fifoTargets: configFifoTargets(config) }),
  );
  if (event === null) throw new Error(`no event with id or seq "${id}"`);
  io.out(opts.json ? JSON.stringify(event, null, 2) : formatEvent(event));
}


export function formatEventList(page: EventPage, targets: readonly TargetHealth[], now = Date.now()): string {
  const lines: string[] = [];
  if (page.events.length === 0) lines.push('No events match.');
  else {
    const rows = page.events.map((e) => [String(e.seq), e.id, relative(e.receivedAt, now), e.source, e.type, e.status, String(e.deliveries)]);
    lines.push(table(['seq', 'id', 'received', 'source', 'type', 'status', 'deliveries'], rows));
    if (page.next !== null) lines.push(`… older events: add --before ${page.next}`);
  }
  if (targets.length > 0) {
    // Circuit states are the store's, as the serving instances wrote them: the admin API and dashboard show the same.
    lines.push('', 'Failing targets (consecutive failed attempts in recent events):');
    const rows = targets.map((t) => [
      t.target,
      String(t.failures),
      t.circuit,
      String(t.queued),
      relative(t.lastAttemptAt, now),
      truncate(t.lastError ?? '', 60),
    ]);
    lines.push(table(['target', 'failures', 'circuit', 'queued', 'last attempt', 'last error'], rows));
  }
  return lines.join('\n');
}

export function formatEvent(e: EventView, now = Date.now()): string {
  const fields = [
    ['source', e.source],
    ['type', e.type],
    ['received', when(e.receivedAt, now)],
    ['status', e.status],
    ['matched', e.matched.length > 0 ? e.matched.join(', ') : '(no rule)'],
  ];
  const lines = [`Event ${e.id} (seq ${e.seq})`, indent(table(null, fields))];

  lines.push('', 'Headers');
  const headers = Object.entries(e.headers).sort(([a], [b]) => a.localeCompare(b));
  lines.push(indent(headers.length > 0 ? table(null, headers) : '(none)'));

  const b = e.body;
  lines.push('', `Payload (${b.format}, ${b.bytes} bytes)`);
  lines.push(indent(b.format === 'json' ? JSON.stringify(b.json, null, 2) : b.format === 'text' ? b.text : b.base64));

  lines.push('', 'Deliveries');
  if (e.deliveries.length === 0) {
    lines.push(e.matched.length > 0 ? `  (none: ${e.matched.join(', ')} matched, but every action is off: enabled: false)` : '  (none: no rule matched)');
  }
  for (const d of e.deliveries) {
    const queued = d.nextAt !== null && (d.status === 'pending' || d.status === 'failed');
    const next = !queued ? '' : Date.parse(d.nextAt!) <= now ? ', due now' : `, next ${relative(d.nextAt!, now)}`;
    const behind = d.waitingBehind !== undefined ? `, waiting behind #${d.waitingBehind} (ordering: fifo)` : '';
    lines.push(`  #${d.id} ${d.rule} → ${d.action}  target ${d.target}  ${d.status}  ${d.attempts.length} attempt(s)${behind || next}`);
    if (d.attempts.length === 0) continue;
    const rows = d.attempts.map((a) => [
      String(a.n),
      a.startedAt,
      `${a.durationMs}ms`,
      a.outcome,
      a.status !== undefined ? String(a.status) : '',
      truncate(a.error ?? '', 80),
    ]);
    lines.push(indent(table(['#', 'started', 'took', 'outcome', 'http', 'error'], rows), '      '));
  }
  return lines.join('\n');
}
