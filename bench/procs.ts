// The bench's child processes: start one on a free port, sample its RSS and
// CPU from /proc, wait until everything is idle, stop it. Every contender,
// Node or not, goes through here, so each is measured the same way.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface Proc {
  name: string;
  url: string;
  child: ChildProcess;
  pid: number;
  /** VmRSS samples (ms since start, kB) every 250 ms, and the highest. */
  samples: Array<[number, number]>;
  peakKb: number;
  output(): string;
}

export interface StartOptions {
  /** The executable; Node (this one) when left out. */
  command?: string;
  env?: NodeJS.ProcessEnv;
  /** Variables to remove from the inherited environment. */
  unset?: string[];
  cwd: string;
  /** The path polled until any HTTP answer comes back. */
  probe: string;
}

export const procs: Proc[] = [];
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout?.toString().trim()) || 100;

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** Starts `command args` ({PORT} in args is replaced) and waits until it answers HTTP. */
export async function start(name: string, args: string[], o: StartOptions): Promise<Proc> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, ...o.env, PORT: String(port) };
  for (const k of o.unset ?? []) delete env[k];
  const child = spawn(o.command ?? process.execPath, args.map((a) => a.replace('{PORT}', String(port))), {
    cwd: o.cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => (out = (out + d.toString()).slice(-20_000));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const p: Proc = { name, url: `http://127.0.0.1:${port}`, child, pid: child.pid!, samples: [], peakKb: 0, output: () => out };
  procs.push(p);
  // Not every contender prints that it listens: poll instead. Any HTTP
  // answer means the server is up (405 from Relay, 404 from Koa).
  const deadline = Date.now() + 120_000; // generous: a loaded machine, 1,000 rules
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${out}`);
    try {
      await fetch(p.url + o.probe);
      return p;
    } catch {
      if (Date.now() > deadline) throw new Error(`${name} did not start:\n${out}`);
      await sleep(50);
    }
  }
}

export async function stop(p: Proc): Promise<void> {
  if (p.child.exitCode !== null) return;
  const exited = new Promise((r) => p.child.once('exit', r));
  p.child.kill('SIGTERM'); // Relay drains and exits 0, which writes --cpu-prof output
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}
process.on('exit', () => procs.forEach((p) => p.child.exitCode === null && p.child.kill('SIGKILL')));

export function cpuTicks(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime
  } catch {
    return NaN;
  }
}
export function statusKb(pid: number, key: 'VmRSS' | 'VmHWM'): number {
  try {
    return Number(new RegExp(`${key}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

export const t0 = Date.now();
const sampler = setInterval(() => {
  for (const p of procs) {
    if (p.child.exitCode !== null) continue;
    const kb = statusKb(p.pid, 'VmRSS');
    p.samples.push([Date.now() - t0, kb]);
    p.peakKb = Math.max(p.peakKb, kb, statusKb(p.pid, 'VmHWM'));
  }
}, 250);
export const stopSampling = () => clearInterval(sampler);

/**
 * Waits until every contender is idle (under `idleShare` of a core over
 * 500 ms): deliveries drained. --cpu-prof's sampling thread alone uses more
 * than the default, so a profiled run passes a higher share (bench/run.ts).
 */
export async function settle(timeoutMs = 180_000, idleShare = 0.02): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const live = () => procs.filter((p) => p.child.exitCode === null);
  for (;;) {
    const before = live().map((p) => cpuTicks(p.pid));
    await sleep(500);
    const busy = live().filter((p, i) => cpuTicks(p.pid) - before[i]! > idleShare * CLK_TCK);
    if (busy.length === 0) return;
    if (Date.now() > deadline) return void console.warn(`  still busy after ${timeoutMs / 1000} s: ${busy.map((p) => p.name)}`);
  }
}
