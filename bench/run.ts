// `npm run bench`: Relay against what users would run instead, in one run.
// Starts every contender as its own process on 127.0.0.1, drives them in
// turn (A B C A B C …), then measures end to end and memory, prints the
// tables and rewrites BENCHMARKS.md. A script, never a test: the targets are
// reported, not asserted. Flags are described in BENCHMARKS.md's header.

import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readdirSync, readSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PATH, runLoad, SECRET, wrkAvailable, type LoaderName, type LoadResult } from './load.js';
import { openLoop } from './open-loop.js';
import { webhookArgs, webhookVersion } from './peers.js';
import { procs, settle as settleAll, sleep, start, statusKb, stop, stopSampling, cpuTicks, CLK_TCK, t0, type Proc } from './procs.js';
import { LOG_LINES_PER_EVENT, stateDir, writeRelayConfig, type RelayConfigSpec } from './relay-configs.js';
import { headline, renderResults, summariseProfile, writeBenchmarks, type BenchReport, type Row } from './report.js';
import { measureStartup } from './startup.js';
import { targets } from './targets.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url)); // dist/bench/ → repo
const HERE = fileURLToPath(new URL('.', import.meta.url));

const { values: flag } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    duration: { type: 'string' },
    rounds: { type: 'string' },
    connections: { type: 'string', default: '32' },
    'e2e-duration': { type: 'string' },
    'soak-duration': { type: 'string' },
    'open-rate': { type: 'string', default: '1000' },
    'open-duration': { type: 'string' },
    pg: { type: 'boolean', default: false },
    loader: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'no-write': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const num = (v: string | undefined, quick: number, full: number) => (v !== undefined ? Number(v) : flag.quick ? quick : full);
const opt = {
  seconds: num(flag.duration, 3, 10),
  rounds: num(flag.rounds, 3, 3),
  connections: Number(flag.connections),
  e2eSeconds: num(flag['e2e-duration'], 8, 30),
  soakSeconds: num(flag['soak-duration'], 15, 60),
  openRate: Number(flag['open-rate']),
  openSeconds: num(flag['open-duration'], 5, 20),
  pgUrl: process.env.RELAY_BENCH_PG_URL ?? (flag.pg ? 'postgres://postgres@127.0.0.1:5432/test' : undefined),
  loader: (flag.loader ?? (wrkAvailable() ? 'wrk' : 'autocannon')) as LoaderName,
};
/** Idle as the profiler allows: its sampling thread is busy on its own. */
const settle = () => settleAll(180_000, flag.profile ? 0.15 : 0.02);
const scratch = mkdtempSync(join(tmpdir(), 'relay-bench-'));
const pgSchema = `relay_bench_${process.pid}_${Date.now().toString(36)}`;

// ---- processes -------------------------------------------------------------

const node = (script: string, ...rest: string[]) => [join(HERE, script), ...rest];
const profDir = join(scratch, 'profiles');
const relayEnv = { ARCHIVUS_WEBHOOK_SECRET: SECRET };
const relayProc = (name: string, file: string, cwd: string, logLevel?: 'warn') => {
  const prof = flag.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  return start(name, [...prof, join(ROOT, 'bin', 'relay.js'), 'serve', '-c', file], {
    cwd,
    probe: PATH,
    env: { ...relayEnv, ...(logLevel && { RELAY_LOG_LEVEL: logLevel }) },
    unset: logLevel ? [] : ['RELAY_LOG_LEVEL'],
  });
};
/** The bench configs log at warn: they isolate storage, rules and sync. */
const startRelay = (spec: RelayConfigSpec) => relayProc(spec.name, writeRelayConfig(scratch, spec), ROOT, 'warn');
/** The shipped relay.config.yaml, copied so its ./data lands in the scratch directory. */
function shippedConfig(name: string): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(ROOT, 'relay.config.yaml'), join(dir, 'relay.config.yaml'));
  return join(dir, 'relay.config.yaml');
}
const startShipped = (name: string, logLevel?: 'warn') => {
  const file = shippedConfig(name);
  return relayProc(name, file, join(scratch, name), logLevel);
};
process.on('SIGINT', () => process.exit(130));

// ---- measuring -------------------------------------------------------------

interface Measured extends LoadResult {
  cpuUsPerEvent: number;
}

async function measure(p: Proc, seconds: number): Promise<Measured> {
  await settle();
  const cpu0 = cpuTicks(p.pid);
  const r = await runLoad(opt.loader, { url: p.url, connections: opt.connections, seconds }, scratch);
  await settle(); // the events' deliveries are part of their cost
  return { ...r, cpuUsPerEvent: ((cpuTicks(p.pid) - cpu0) / CLK_TCK / r.ok) * 1e6 };
}

async function warmUp(p: Proc): Promise<void> {
  const r = await runLoad(opt.loader, { url: p.url, connections: opt.connections, seconds: Math.min(2, opt.seconds) }, scratch);
  // All errors here means the load generator signs wrongly (401s): nothing
  // after would mean anything. Some errors are timeouts on a loaded machine.
  if (r.ok === 0) throw new Error(`${p.name}: warm-up got ${r.errors} errors and no 2xx ${JSON.stringify(r.statuses)}\n${p.output().slice(-2000)}`);
  if (r.errors > r.ok / 100) console.warn(`  ${p.name}: warm-up got ${r.errors} errors for ${r.ok} ok (timeouts on a busy machine?)`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mb = (kb: number) => kb / 1024;
const log = (s: string) => console.log(s);

type ReceiverStats = { total: number; unique: number; runs: Record<string, number> };
async function receiverStats(url: string): Promise<ReceiverStats> {
  return (await fetch(url)).json() as Promise<ReceiverStats>;
}

/** A fresh schema, since the config has no field for one: search_path in the URL. */
async function pgSchemaUrl(url: string, schema: string): Promise<string> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`create schema "${schema}"`);
  await client.end();
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}
async function pgDropSchema(): Promise<void> {
  if (!opt.pgUrl) return;
  const client = new pg.Client({ connectionString: opt.pgUrl });
  try {
    await client.connect();
    await client.query(`drop schema if exists "${pgSchema}" cascade`);
  } catch (err) {
    console.warn(`could not drop schema ${pgSchema}: ${(err as Error).message}`);
  } finally {
    await client.end().catch(() => {});
  }
}

// ---- the run ---------------------------------------------------------------

async function main(): Promise<void> {
  const setup = `${opt.loader}, ${opt.connections} connections, ${opt.rounds} rounds × ${opt.seconds} s per contender (median), end to end ${opt.e2eSeconds} s, memory ${opt.soakSeconds} s; load average at start ${loadavg()[0]!.toFixed(1)}`;
  log(`relay bench: ${setup}\nscratch: ${scratch}`);

  const contenders: Array<{ proc: Proc; what: string }> = [];
  const missing: Row[] = [];
  const add = async (what: string, p: Promise<Proc>) => contenders.push({ proc: await p, what });
  await add('node:http, reads the body, 200', start('raw', node('contenders/raw.js', '{PORT}'), { cwd: ROOT, probe: PATH }));
  await add("the provider's Express example as written (HMAC, JSON.parse, switch, its console.log lines)",
    start('express', node('contenders/express.js', '{PORT}', SECRET), { cwd: ROOT, probe: PATH }));
  const webhook = webhookVersion();
  if (webhook) {
    const what = `adnanh/webhook (${webhook}): HMAC trigger rule, runs /bin/true per hook`;
    await add(what, start('webhook', webhookArgs(scratch, SECRET), { command: 'webhook', cwd: scratch, probe: PATH }));
  } else missing.push(notInstalled('webhook', 'adnanh/webhook: not installed (apt-get install webhook)'));
  const shipped = await startShipped('relay-shipped');
  contenders.push({ proc: shipped, what: 'as shipped: relay.config.yaml, default log level, SQLite normal' });
  await sleep(2000);
  const idleRssMb = mb(statusKb(shipped.pid, 'VmRSS'));
  await add('as shipped, RELAY_LOG_LEVEL=warn', startShipped('relay-shipped-warn', 'warn'));
  await add('bench config at warn: 10 rules (2 match), log to file', startRelay({ name: 'relay', storage: { driver: 'sqlite', sync: 'normal' }, rules: 10 }));
  await add('as relay, 1,000 rules', startRelay({ name: 'relay-1000', storage: { driver: 'sqlite', sync: 'normal' }, rules: 1000 }));
  await add('as relay, sync: full', startRelay({ name: 'relay-full', storage: { driver: 'sqlite', sync: 'full' }, rules: 10 }));
  if (opt.pgUrl) {
    const url = await pgSchemaUrl(opt.pgUrl, pgSchema);
    await add('as relay, PostgreSQL (fresh schema)', startRelay({ name: 'relay-pg', storage: { driver: 'postgres', url }, rules: 10 }));
  }

  for (const c of contenders) await warmUp(c.proc);
  const results = new Map<string, Measured[]>(contenders.map((c) => [c.proc.name, []]));
  for (let round = 1; round <= opt.rounds; round++) {
    for (const c of contenders) {
      const r = await measure(c.proc, opt.seconds);
      results.get(c.proc.name)!.push(r);
      log(`round ${round} ${c.proc.name.padEnd(10)} ${r.rps.toFixed(0).padStart(7)} req/s  p99 ${r.p99ms.toFixed(2)} ms  errors ${r.errors}`);
    }
  }
  const rows: Row[] = contenders.map(({ proc, what }) => {
    const rs = results.get(proc.name)!;
    return {
      name: proc.name,
      what,
      rps: median(rs.map((r) => r.rps)),
      p50ms: median(rs.map((r) => r.p50ms)),
      p99ms: median(rs.map((r) => r.p99ms)),
      errors: rs.reduce((s, r) => s + r.errors, 0),
      cpuUsPerEvent: median(rs.map((r) => r.cpuUsPerEvent)),
      peakRssMb: mb(proc.peakKb),
      rounds: rs.map((r) => r.rps),
    };
  });
  rows.splice(3, 0, ...missing);
  for (const c of contenders) await stop(c.proc); // quiet machine for what follows

  // End to end: every accepted event must reach the receiver.
  log(`end to end: ${opt.e2eSeconds} s`);
  const receiver = await start('receiver', node('contenders/raw.js', '{PORT}', '--receiver'), { cwd: ROOT, probe: '/' });
  const e2eRelay = await startRelay({ name: 'relay-e2e', storage: { driver: 'sqlite', sync: 'normal' }, rules: 10, forwardTo: `${receiver.url}/archivus` });
  await warmUp(e2eRelay);
  await settle();
  const load = await runLoad(opt.loader, { url: e2eRelay.url, connections: opt.connections, seconds: opt.e2eSeconds }, scratch);
  // Count only this load's ids, so late warm-up deliveries cannot blur it.
  const arrived = async () => {
    const s = await receiverStats(receiver.url);
    return { ...s, run: s.runs[`evt_${load.tag}`] ?? 0 };
  };
  const atEnd = (await arrived()).run;
  const stopped = Date.now();
  let final = await arrived();
  const drainDeadline = stopped + Math.max(120, 4 * opt.e2eSeconds) * 1000;
  while (final.run < load.ok && Date.now() < drainDeadline) {
    await sleep(100);
    final = await arrived();
  }
  const e2e = {
    seconds: load.seconds,
    accepted: load.ok,
    ackRps: load.rps,
    eps: atEnd / load.seconds,
    backlogAtEnd: Math.max(0, load.ok - atEnd),
    drainSeconds: (Date.now() - stopped) / 1000,
    // Answers still in flight when the generator stopped (up to one per
    // connection) were accepted too, so more than `accepted` may arrive.
    lost: Math.max(0, load.ok - final.run),
    repeats: final.total - final.unique,
    errors: load.errors,
    peakRssMb: mb(e2eRelay.peakKb),
  };
  log(`  ${e2e.eps.toFixed(0)} ev/s delivered, backlog ${e2e.backlogAtEnd} at end, lost ${e2e.lost}`);
  // Open loop on the same, now idle, Relay: a fixed offered rate.
  await settle();
  log(`open loop: ${opt.openRate} ev/s for ${opt.openSeconds} s`);
  const open = await openLoop(e2eRelay.url, receiver.url, opt.openRate, opt.openSeconds, `open${Date.now().toString(36)}`);
  log(`  delivered ${open.delivered}/${open.acked}, sent → delivered p99 ${open.p99ms.toFixed(1)} ms, lost ${open.lost}`);
  await stop(e2eRelay);
  await stop(receiver);

  log('start-up');
  const startup = measureStartup(ROOT, shippedConfig('startup'), relayEnv, flag.quick ? 5 : 15);

  // Memory: a fresh Relay under sustained load; RSS early against RSS at the end.
  log(`memory: ${opt.soakSeconds} s`);
  const soakRelay = await startRelay({ name: 'relay-soak', storage: { driver: 'sqlite', sync: 'normal' }, rules: 10 });
  const soakStart = Date.now() - t0;
  const earlyAt = Math.round(Math.min(10, opt.soakSeconds / 3));
  const soakLoad = await runLoad(opt.loader, { url: soakRelay.url, connections: opt.connections, seconds: opt.soakSeconds }, scratch);
  const soakEnd = Date.now() - t0;
  // The log action's lines are the deliveries done; the rest is backlog.
  const backlogAtEnd = LOG_LINES_PER_EVENT * soakLoad.ok - countLines(join(stateDir(scratch, 'relay-soak'), 'actions.log'));
  // Mean of the samples in the second before each point, so one GC does not decide it.
  const rssAround = (ms: number) => mean(soakRelay.samples.filter(([t]) => t > ms - 1000 && t <= ms).map(([, kb]) => kb));
  const soak = {
    seconds: opt.soakSeconds,
    earlyAt,
    rssEarlyMb: mb(rssAround(soakStart + earlyAt * 1000)),
    rssEndMb: mb(rssAround(soakEnd)),
    peakRssMb: mb(soakRelay.peakKb),
    rps: soakLoad.rps,
    errors: soakLoad.errors,
    backlogAtEnd: Math.max(0, backlogAtEnd),
  };
  await stop(soakRelay);
  stopSampling();
  await pgDropSchema();

  const report = build(rows, { e2e, soak, open, startup, idleRssMb }, setup);
  log('\n' + renderResults(report));
  log(`README headline: ${headline(report)}`);
  if (!flag['no-write']) {
    writeBenchmarks(join(ROOT, 'BENCHMARKS.md'), report);
    log('wrote BENCHMARKS.md');
  }
  if (!flag.keep) rmSync(scratch, { recursive: true, force: true });
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function countLines(file: string): number {
  const fd = openSync(file, 'r');
  const buf = Buffer.alloc(1 << 20);
  let lines = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) for (let i = 0; i < n; i++) if (buf[i] === 10) lines++;
  closeSync(fd);
  return lines;
}

function build(rows: Row[], phases: Pick<BenchReport, 'e2e' | 'soak' | 'open' | 'startup' | 'idleRssMb'>, setup: string): BenchReport {
  const { e2e, soak } = phases as Required<typeof phases>;
  const rps = (name: string) => rows.find((r) => r.name === name)?.rps ?? NaN;
  const best = Math.max(...['express', 'webhook'].map(rps).filter(Number.isFinite));
  const comparisons = [
    { name: 'relay-shipped / raw', ratio: rps('relay-shipped') / rps('raw') },
    { name: 'relay-shipped / best peer', ratio: rps('relay-shipped') / best },
    { name: 'relay-shipped / relay-shipped-warn (logging)', ratio: rps('relay-shipped') / rps('relay-shipped-warn') },
    { name: 'express / raw', ratio: rps('express') / rps('raw') },
    { name: 'webhook / raw', ratio: rps('webhook') / rps('raw') },
    { name: 'end to end / raw', ratio: e2e.eps / rps('raw') },
    { name: 'end to end delivered / acknowledged', ratio: e2e.eps / e2e.ackRps },
    { name: 'relay-1000 / relay', ratio: rps('relay-1000') / rps('relay') },
    { name: 'relay-full / relay', ratio: rps('relay-full') / rps('relay') },
    ...(rows.some((r) => r.name === 'relay-pg') ? [{ name: 'relay-pg / relay', ratio: rps('relay-pg') / rps('relay') }] : []),
  ];
  // The same ratios from server CPU per event (inverted, so higher is better):
  // they hold up better than req/s when the load generator or a neighbour
  // competes for the cores.
  const cpu = (name: string) => rows.find((r) => r.name === name)?.cpuUsPerEvent ?? NaN;
  for (const [a, b] of [['relay-shipped', 'express'], ['relay-shipped', 'relay-shipped-warn'], ['relay-1000', 'relay'], ['relay-pg', 'relay']] as const)
    if (Number.isFinite(cpu(a))) comparisons.push({ name: `${a} / ${b} (by CPU per event)`, ratio: cpu(b) / cpu(a) });
  const peak = Math.max(...rows.filter((r) => r.name.startsWith('relay')).map((r) => r.peakRssMb), e2e.peakRssMb, soak.peakRssMb);
  const profiles = flag.profile ? collectProfiles() : [];
  return {
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, ${process.platform} ${process.arch}`,
    setup,
    quick: flag.quick,
    rows,
    ...phases,
    comparisons,
    targets: targets({ rows, ...phases, comparisons, peakRssMb: peak, connections: opt.connections }),
    profiles,
    notes: [
      ...(opt.loader === 'autocannon' && availableParallelism() <= 2
        ? ['autocannon runs in the runner process and needs about a core of its own here, so the raw ceiling is partly the load generator.']
        : []),
      ...(soak.errors
        ? [
            `memory: ${soak.errors} requests were refused, with ${soak.backlogAtEnd.toLocaleString('en-US')} deliveries pending at the end` +
              (soak.backlogAtEnd >= 90_000 ? ': the backlog bound (server.maxBacklog, default 100,000) answering 503, as ingest outruns delivery.' : '.'),
          ]
        : []),
      ...(e2e.errors ? [`end to end: ${e2e.errors} requests were refused (503 once the backlog reaches server.maxBacklog); they were not accepted, so they are not counted as lost.`] : []),
    ],
  };
}

/** Node names profiles CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile. */
function collectProfiles() {
  const files = readdirSync(profDir);
  return procs
    .filter((p) => ['relay-shipped', 'relay', 'relay-e2e'].includes(p.name))
    .flatMap((p) => {
      const f = files.find((x) => x.includes(`.${p.pid}.`));
      return f ? [summariseProfile(p.name, join(profDir, f))] : [];
    });
}

main().then(
  () => process.exit(0),
  async (err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    console.error(`scratch directory kept: ${scratch}`);
    procs.forEach((p) => p.child.kill('SIGKILL'));
    await pgDropSchema();
    process.exit(1);
  },
);

function notInstalled(name: string, what: string): Row {
  return { name, what, rps: NaN, p50ms: NaN, p99ms: NaN, errors: NaN, cpuUsPerEvent: NaN, peakRssMb: NaN, rounds: [] };
}
