// `npm run bench`: Relay against what users would run instead, in one run.
// Starts every contender as its own process on 127.0.0.1, drives them in
// turn (A B C A B C …), then measures end to end and memory, prints the
// tables and rewrites BENCHMARKS.md. A script, never a test: the targets are
// reported, not asserted. Flags are described in BENCHMARKS.md's header.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, readSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { PATH, runLoad, SECRET, wrkAvailable, type LoaderName, type LoadResult } from './load.js';
import { LOG_LINES_PER_EVENT, stateDir, writeRelayConfig, type RelayConfigSpec } from './relay-configs.js';
import { headline, renderResults, summariseProfile, writeBenchmarks, type BenchReport, type Row, type Target } from './report.js';

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
  pgUrl: process.env.RELAY_BENCH_PG_URL ?? (flag.pg ? 'postgres://postgres@127.0.0.1:5432/test' : undefined),
  loader: (flag.loader ?? (wrkAvailable() ? 'wrk' : 'autocannon')) as LoaderName,
};
const scratch = mkdtempSync(join(tmpdir(), 'relay-bench-'));
const pgSchema = `relay_bench_${process.pid}_${Date.now().toString(36)}`;
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

// ---- processes -------------------------------------------------------------

interface Proc {
  name: string;
  url: string;
  child: ChildProcess;
  pid: number;
  /** VmRSS samples (ms since start, kB) every 250 ms, and the highest. */
  samples: Array<[number, number]>;
  peakKb: number;
  output(): string;
}
const procs: Proc[] = [];

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

async function start(name: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const port = await freePort();
  const child = spawn(process.execPath, args.map((a) => a.replace('{PORT}', String(port))), {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const p: Proc = { name, url: `http://127.0.0.1:${port}`, child, pid: child.pid!, samples: [], peakKb: 0, output: () => out };
  procs.push(p);
  // Relay logs at warn, so "relay listening" is not printed: poll instead.
  // Any HTTP answer means the server is up (405 from Relay, 404 from Koa).
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${out}`);
    try {
      await fetch(p.url + PATH);
      return p;
    } catch {
      if (Date.now() > deadline) throw new Error(`${name} did not start:\n${out}`);
      await sleep(50);
    }
  }
}

const node = (script: string, ...rest: string[]) => [join(HERE, script), ...rest];
const profDir = join(scratch, 'profiles');
function startRelay(spec: RelayConfigSpec): Promise<Proc> {
  const file = writeRelayConfig(scratch, spec);
  const prof = flag.profile ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  return start(spec.name, [...prof, join(ROOT, 'bin', 'relay.js'), 'serve', '-c', file], {
    ARCHIVUS_WEBHOOK_SECRET: SECRET,
    RELAY_LOG_LEVEL: 'warn', // per-event info lines would dominate the cost
  });
}

async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM'); // Relay drains and exits 0, which writes --cpu-prof output
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
process.on('exit', () => procs.forEach((p) => p.child.exitCode === null && p.child.kill('SIGKILL')));
process.on('SIGINT', () => process.exit(130));

// ---- /proc sampling --------------------------------------------------------

function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return NaN;
  }
}
function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}
const t0 = Date.now();
const sampler = setInterval(() => {
  for (const p of procs) {
    if (p.child.exitCode !== null) continue;
    const kb = statusKb(p.pid, 'VmRSS');
    p.samples.push([Date.now() - t0, kb]);
    p.peakKb = Math.max(p.peakKb, kb, statusKb(p.pid, 'VmHWM'));
  }
}, 250);

/** Waits until every contender is idle (< 4 % of a core over 500 ms): deliveries drained. */
async function settle(timeoutMs = 180_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const live = () => procs.filter((p) => p.child.exitCode === null);
  for (;;) {
    const before = live().map((p) => cpuTicks(p.pid));
    await sleep(500);
    const busy = live().filter((p, i) => cpuTicks(p.pid) - before[i]! > 0.02 * CLK_TCK);
    if (busy.length === 0) return;
    if (Date.now() > deadline) return void console.warn(`  still busy after ${timeoutMs / 1000} s: ${busy.map((p) => p.name)}`);
  }
}

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
  // 401s here mean the load generator signs wrongly: nothing after would mean anything.
  if (r.ok === 0 || r.errors > r.ok / 100)
    throw new Error(`${p.name}: warm-up got ${r.errors} errors for ${r.ok} ok ${JSON.stringify(r.statuses)}\n${p.output()}`);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const mb = (kb: number) => kb / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
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
  const add = async (what: string, p: Promise<Proc>) => contenders.push({ proc: await p, what });
  await add('node:http, reads the body, 200', start('raw', node('contenders/raw.js', '{PORT}')));
  await add('Koa: raw body, HMAC, JSON.parse, switch', start('handler', node('contenders/handler.js', '{PORT}', SECRET)));
  await add('SQLite normal, 10 rules (2 match), log to file', startRelay({ name: 'relay', storage: { driver: 'sqlite', sync: 'normal' }, rules: 10 }));
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
  for (const c of contenders) await stop(c.proc); // quiet machine for what follows

  // End to end: every accepted event must reach the receiver.
  log(`end to end: ${opt.e2eSeconds} s`);
  const receiver = await start('receiver', node('contenders/raw.js', '{PORT}', '--receiver'));
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
  await stop(e2eRelay);
  await stop(receiver);

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
  clearInterval(sampler);
  await pgDropSchema();

  const report = build(rows, e2e, soak, setup);
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

function build(rows: Row[], e2e: NonNullable<BenchReport['e2e']>, soak: NonNullable<BenchReport['soak']>, setup: string): BenchReport {
  const rps = (name: string) => rows.find((r) => r.name === name)?.rps ?? NaN;
  const relay = rows.find((r) => r.name === 'relay')!;
  const comparisons = [
    { name: 'relay / raw', ratio: rps('relay') / rps('raw') },
    { name: 'handler / raw', ratio: rps('handler') / rps('raw') },
    { name: 'relay / handler', ratio: rps('relay') / rps('handler') },
    { name: 'end to end / raw', ratio: e2e.eps / rps('raw') },
    { name: 'relay-1000 / relay', ratio: rps('relay-1000') / rps('relay') },
    { name: 'relay-full / relay', ratio: rps('relay-full') / rps('relay') },
    ...(rows.some((r) => r.name === 'relay-pg') ? [{ name: 'relay-pg / relay', ratio: rps('relay-pg') / rps('relay') }] : []),
  ];
  // The same ratios from server CPU per event (inverted, so higher is better):
  // they hold up better than req/s when the load generator or a neighbour
  // competes for the cores.
  const cpu = (name: string) => rows.find((r) => r.name === name)?.cpuUsPerEvent ?? NaN;
  for (const [a, b] of [['relay', 'raw'], ['relay-1000', 'relay'], ['relay-full', 'relay']] as const)
    comparisons.push({ name: `${a} / ${b} (by CPU per event)`, ratio: cpu(b) / cpu(a) });
  const ratioOf = (name: string) => comparisons.find((c) => c.name === name)!.ratio;
  const peak = Math.max(...rows.filter((r) => r.name.startsWith('relay')).map((r) => r.peakRssMb), e2e.peakRssMb, soak.peakRssMb);
  const growth = (soak.rssEndMb - soak.rssEarlyMb) / soak.rssEarlyMb;
  const targets: Target[] = [
    { name: 'relay req/s ≥ 0.5× raw', measured: `${ratioOf('relay / raw').toFixed(2)}×`, met: ratioOf('relay / raw') >= 0.5 },
    { name: `relay p99 < 10 ms at ${opt.connections} connections`, measured: `${relay.p99ms.toFixed(2)} ms`, met: relay.p99ms < 10 },
    {
      name: 'end to end ≥ 0.2× raw, nothing lost',
      measured: `${ratioOf('end to end / raw').toFixed(2)}×, ${e2e.lost} lost`,
      met: ratioOf('end to end / raw') >= 0.2 && e2e.lost === 0,
    },
    { name: '1,000 rules ≥ 0.9× 10 rules', measured: `${ratioOf('relay-1000 / relay').toFixed(2)}×`, met: ratioOf('relay-1000 / relay') >= 0.9 },
    { name: 'peak RSS < 200 MB', measured: `${peak.toFixed(0)} MB`, met: peak < 200 },
    {
      // RSS moves with GC; more than 10 % between the two points is growth.
      name: `no RSS growth from ${soak.earlyAt} s to ${soak.seconds} s`,
      measured: `${soak.rssEarlyMb.toFixed(0)} → ${soak.rssEndMb.toFixed(0)} MB (${(growth * 100).toFixed(1)} %)`,
      met: growth <= 0.1,
    },
  ];
  const profiles = flag.profile ? collectProfiles() : [];
  return {
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    machine: `${availableParallelism()} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ${(totalmem() / 2 ** 30).toFixed(0)} GB, Node ${process.version}, ${process.platform} ${process.arch}`,
    setup,
    quick: flag.quick,
    rows,
    e2e,
    soak,
    comparisons,
    targets,
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
    .filter((p) => ['relay', 'relay-1000', 'relay-e2e'].includes(p.name))
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
