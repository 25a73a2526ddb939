// Turns one bench run into the tables printed to stdout and written to
// BENCHMARKS.md, and summarises --cpu-prof output. Every ratio is between
// rows of the same run: numbers from different runs or machines never mix.

import { readFileSync, writeFileSync } from 'node:fs';
import type { OpenLoopResult } from './open-loop.js';
import type { StartupRow } from './startup.js';

export interface Row {
  name: string;
  what: string;
  rps: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  /** Server CPU per acknowledged event, its deliveries included. */
  cpuUsPerEvent: number;
  peakRssMb: number;
  /** rps of each round, to show the spread. */
  rounds: number[];
}

export interface EndToEnd {
  seconds: number;
  accepted: number;
  ackRps: number;
  /** Distinct events the receiver had when the load stopped, per second of load. */
  eps: number;
  backlogAtEnd: number;
  drainSeconds: number;
  lost: number;
  /** Deliveries received more than once (allowed: at least once). */
  repeats: number;
  errors: number;
  peakRssMb: number;
}

export interface Soak {
  seconds: number;
  earlyAt: number;
  rssEarlyMb: number;
  rssEndMb: number;
  peakRssMb: number;
  rps: number;
  errors: number;
  /** Deliveries not yet done when the load stopped. */
  backlogAtEnd: number;
}

export interface Target {
  name: string;
  measured: string;
  met: boolean;
}

export interface ProfileSummary {
  name: string;
  totalMs: number;
  functions: Array<{ label: string; pct: number }>;
  files: Array<{ label: string; pct: number }>;
}

export interface BenchReport {
  command: string;
  date: string;
  machine: string;
  setup: string;
  quick: boolean;
  rows: Row[];
  e2e?: EndToEnd;
  soak?: Soak;
  open?: OpenLoopResult;
  startup?: StartupRow[];
  /** The as-shipped Relay's RSS two seconds after start, before any load. */
  idleRssMb?: number;
  comparisons: Array<{ name: string; ratio: number }>;
  targets: Target[];
  profiles: ProfileSummary[];
  notes: string[];
}

const n0 = (x: number) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const n2 = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const ratio = (x: number) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : '–');

/** Markdown table; the first `left` columns are text, the rest numbers. */
function table(head: string[], rows: string[][], left = 0): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i < left ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export function renderResults(r: BenchReport): string {
  const raw = r.rows.find((x) => x.name === 'raw')?.rps ?? NaN;
  const out: string[] = [];
  out.push(`Command: \`${r.command}\`  \nDate: ${r.date}  \nMachine: ${r.machine}  \nSetup: ${r.setup}`);
  if (r.quick) out.push('> **Quick run** (short rounds, possibly on a busy machine): indicative only; do not quote.');

  out.push('### Acknowledgement throughput and latency');
  out.push(
    table(
      ['contender', 'what', 'req/s', 'p50 ms', 'p99 ms', 'errors', '× raw', 'CPU µs/event', 'peak RSS MB', 'rounds req/s'],
      r.rows.map((x) => x.rounds.length === 0 ? [`**${x.name}**`, x.what, ...Array<string>(8).fill('–')] : [
        `**${x.name}**`, x.what, n0(x.rps), n2(x.p50ms), n2(x.p99ms), n0(x.errors),
        ratio(x.rps / raw), n0(x.cpuUsPerEvent), n0(x.peakRssMb), x.rounds.map(n0).join(' / '),
      ]),
      2,
    ),
  );

  if (r.e2e) {
    const e = r.e2e;
    out.push('### End to end (POST → forward → local receiver)');
    out.push(
      table(
        ['load s', 'accepted', 'ack req/s', 'delivered ev/s', '× raw', 'backlog at end', 'drain s', 'lost', 'repeats', 'errors', 'peak RSS MB'],
        [[n0(e.seconds), n0(e.accepted), n0(e.ackRps), n0(e.eps), ratio(e.eps / raw), n0(e.backlogAtEnd), n2(e.drainSeconds), n0(e.lost), n0(e.repeats), n0(e.errors), n0(e.peakRssMb)]],
      ),
    );
  }
  if (r.open) {
    const o = r.open;
    out.push(`### Open loop: ${n0(o.rate)} events/s offered for ${n0(o.seconds)} s (POST → forward → local receiver)`);
    out.push(
      table(
        ['sent', 'acked', 'errors', 'ack p50 ms', 'ack p99 ms', 'delivered', 'delivered ev/s', 'sent → delivered p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'lost'],
        [[n0(o.sent), n0(o.acked), n0(o.errors), n2(o.ackP50ms), n2(o.ackP99ms), n0(o.delivered), n0(o.deliveredRate), n2(o.p50ms), n2(o.p90ms), n2(o.p99ms), n2(o.maxMs), n0(o.lost)]],
      ),
    );
  }
  if (r.startup) {
    out.push('### Start-up (median wall time, interleaved with `node -e 0`)');
    const idle = r.idleRssMb !== undefined ? `\n\nIdle RSS of the as-shipped \`relay serve\`, 2 s after start: ${n0(r.idleRssMb)} MB.` : '';
    out.push(table(['command', 'ms', '× node -e 0', 'peak RSS MB'], r.startup.map((s) => [`\`${s.name}\``, n0(s.ms), ratio(s.ratio), n0(s.peakRssMb)]), 1) + idle);
  }
  if (r.soak) {
    const s = r.soak;
    const growth = ((s.rssEndMb - s.rssEarlyMb) / s.rssEarlyMb) * 100;
    out.push(`### Memory under sustained load (fresh \`relay\`, ${n0(s.seconds)} s)`);
    out.push(
      table(
        ['req/s', 'errors', 'backlog at end', `RSS at ${n0(s.earlyAt)} s MB`, `RSS at ${n0(s.seconds)} s MB`, 'growth', 'peak RSS MB'],
        [[n0(s.rps), n0(s.errors), n0(s.backlogAtEnd), n0(s.rssEarlyMb), n0(s.rssEndMb), `${growth.toFixed(1)} %`, n0(s.peakRssMb)]],
      ),
    );
  }
  out.push('### Ratios (same run)');
  out.push(table(['comparison', 'ratio'], r.comparisons.map((c) => [c.name, ratio(c.ratio)]), 1));
  out.push('### Targets');
  out.push(table(['target', 'measured', 'met'], r.targets.map((t) => [t.name, t.measured, t.met ? 'yes' : '**no**']), 3));
  if (r.notes.length) out.push(r.notes.map((x) => `- ${x}`).join('\n'));
  for (const p of r.profiles) {
    out.push(`### CPU profile: ${p.name} (${n0(p.totalMs)} ms sampled, idle excluded)`);
    out.push(table(['self time', 'function'], p.functions.map((f) => [`${f.pct.toFixed(1)} %`, `\`${f.label}\``]), 0));
    out.push(table(['self time', 'by file / package'], p.files.map((f) => [`${f.pct.toFixed(1)} %`, `\`${f.label}\``])));
  }
  return out.join('\n\n') + '\n';
}

/** One sentence with the ratios the README quotes. */
export function headline(r: BenchReport): string {
  const get = (name: string) => r.comparisons.find((c) => c.name === name)?.ratio ?? NaN;
  const row = (name: string) => r.rows.find((x) => x.name === name);
  const rps = (name: string) => (row(name)?.rounds.length ? `${n0(row(name)!.rps)} req/s` : 'not installed');
  return (
    `As shipped, Relay acknowledges ${rps('relay-shipped')} (p99 ${n2(row('relay-shipped')?.p99ms ?? NaN)} ms), ` +
    `${ratio(get('relay-shipped / best peer'))} the best peer in the same run (provider's Express handler ${rps('express')}, ` +
    `adnanh/webhook ${rps('webhook')}), with every event committed to SQLite before the answer.`
  );
}

const HEADER = `# Benchmarks

\`npm run bench\` measures Relay against what users would run instead, on one
machine, in one run. Every contender is a separate process on 127.0.0.1 and
gets the same signed ~400-byte Archivus \`document.processed\` event, each
request with a fresh event id (a repeated id would be answered \`duplicate\`):

- **raw**: a bare \`node:http\` server that reads the body and answers 200, the Node ceiling.
- **express**: the provider's Node.js example from its docs, as written (Express \`express.raw\`, HMAC, \`JSON.parse\`, a switch on the type, its three \`console.log\` lines per event, 200).
- **webhook**: adnanh/webhook (Go) with a trigger rule checking the HMAC and \`/bin/true\` as the command; "not installed" when the \`webhook\` binary is missing.
- **relay-shipped**: Relay as shipped: the repository's \`relay.config.yaml\` unchanged, default log level, its deliveries in the same process. **relay-shipped-warn**: the same with \`RELAY_LOG_LEVEL=warn\`, to price the logging.
- **relay**: the bench config at warn: durable SQLite storage (\`sync: normal\`), the Archivus source, 10 rules of which 2 match, each running a log action that writes to a file.
- **relay-1000**, **relay-full**, **relay-pg**: the same with 1,000 rules (50 more on the same type whose conditions fail, the rest on other types), with \`sync: full\`, and on PostgreSQL (\`--pg\`).

The contenders are driven in turn (A B C A B C …) with a closed loop of
concurrent connections, and each figure is the median of the rounds, so a
burst of noise on the machine hits every contender alike. Before each round
the runner waits until every contender is idle, so Relay's deliveries from
the previous round never steal CPU from the next contender; Relay's own
deliveries *during* its round are part of its cost. The load generator is
wrk when it is installed, otherwise autocannon, in the runner's process.

How to read it: **req/s** counts 2xx answers only; **p50/p99** are
acknowledgement latencies of those answers; **errors** are non-2xx answers
and socket errors (a 503 means Relay's backlog bound was hit); **× raw** is
the ratio to the raw row of the same run. **CPU µs/event** is the server's
CPU time from the start of a round until it is idle again, divided by the
acknowledged events, so it includes Relay's deliveries; it depends less on
the load generator than req/s does, and the ratios marked *by CPU per
event* compare it (inverted, so higher is better). **End to end** counts
events the local receiver got through Relay's forward action while the load
ran, the backlog left when it stopped, and checks after the drain that every
accepted event arrived. **Open loop** offers a fixed rate (1,000 events/s by
default) whatever the answers, and measures each event from the moment it
was sent to its arrival at the receiver (so it includes the acknowledgement).
**Start-up** runs \`node -e 0\`, \`relay --help\` and \`relay validate\` (the
shipped config) in turn and takes the median of each. **Memory** is a fresh Relay under the same full load;
RSS is sampled every 250 ms and averaged over the second before each point.
At full load ingest outruns delivery, so the backlog grows until
\`server.maxBacklog\` and Relay answers 503 (counted as errors): load
shedding as designed. Absolute numbers depend on the machine; compare
ratios, and only within one run. On a machine with few cores the load
generator competes with the server for CPU and caps the raw row, which
pulls every ratio towards 1.

Flags: \`--quick\` (3 s rounds, short end-to-end and memory phases),
\`--duration S\`, \`--rounds N\`, \`--connections N\` (default 32),
\`--e2e-duration S\`, \`--soak-duration S\`, \`--open-rate N\`, \`--open-duration S\`, \`--pg\` (or set
\`RELAY_BENCH_PG_URL\`), \`--loader wrk|autocannon\`, \`--keep\` (keep the
scratch directory), \`--profile\` (runs Relay
with \`--cpu-prof\` and appends the hottest functions), \`--no-write\`.

## Latest run

`;

/** Hand-written analysis below this line survives a rewrite of the figures above it. */
const ANALYSIS = '<!-- analysis: kept by npm run bench -->';

export function writeBenchmarks(file: string, r: BenchReport): void {
  let kept = '';
  try {
    const old = readFileSync(file, 'utf8');
    const at = old.indexOf(ANALYSIS);
    if (at >= 0) kept = '\n' + old.slice(at);
  } catch {
    // no file yet
  }
  writeFileSync(file, HEADER + renderResults(r) + kept);
}

// ---- .cpuprofile summaries -------------------------------------------------

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

/** Self time by function and by file or npm package, as % of non-idle samples. */
export function summariseProfile(name: string, file: string, top = 15): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(prof.nodes.map((nd) => [nd.id, nd.callFrame]));
  const fns = new Map<string, number>();
  const files = new Map<string, number>();
  let total = 0;
  prof.samples.forEach((id, i) => {
    const frame = byId.get(id);
    const dt = prof.timeDeltas[i] ?? 0;
    if (!frame || frame.functionName === '(idle)') return;
    total += dt;
    const where = shortUrl(frame.url);
    const fn = `${frame.functionName || '(anonymous)'}${frame.url ? ` ${where}:${frame.lineNumber + 1}` : ''}`;
    fns.set(fn, (fns.get(fn) ?? 0) + dt);
    const group = frame.url ? groupOf(where) : frame.functionName;
    files.set(group, (files.get(group) ?? 0) + dt);
  });
  const rank = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([label, us]) => ({ label, pct: (us / total) * 100 }));
  return { name, totalMs: total / 1000, functions: rank(fns), files: rank(files) };
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + 14);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 6);
  return url.replace(/^file:\/\//, '');
}

/** An npm package, a Relay directory (src/queue), or a node: module. */
function groupOf(where: string): string {
  if (where.startsWith('node:')) return where.replace(/^(node:internal\/[^/]+|node:[^/]+).*$/, '$1');
  const parts = where.split('/');
  if (parts[0]?.startsWith('@')) return parts.slice(0, 2).join('/');
  if (parts[0] === 'src' || parts[0] === 'plugins') return parts.slice(0, 2).join('/');
  return parts[0] ?? where;
}
