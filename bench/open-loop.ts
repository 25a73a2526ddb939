// Open loop: events offered at a fixed rate whether or not earlier ones were
// answered (a closed loop slows down with the server and hides queueing).
// Each event's send time is kept; the receiver keeps each arrival time, so
// sent → delivered latency is measured per event on one clock.

import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { PATH, eventBody, sign } from './load.js';

export interface OpenLoopResult {
  rate: number;
  seconds: number;
  sent: number;
  acked: number;
  errors: number;
  ackP50ms: number;
  ackP99ms: number;
  delivered: number;
  /** Delivered per second of the offered window. */
  deliveredRate: number;
  p50ms: number;
  p90ms: number;
  p99ms: number;
  maxMs: number;
  lost: number;
}

const now = () => performance.timeOrigin + performance.now();

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Offers `rate` events/s for `seconds` to relayUrl, then waits for the receiver to have them all. */
export async function openLoop(relayUrl: string, receiverUrl: string, rate: number, seconds: number, run: string): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const sentAt = new Map<string, number>();
  const acks: number[] = [];
  let errors = 0;
  let inFlight = 0;
  const target = new URL(relayUrl + PATH);
  const send = (id: string) => {
    const body = eventBody(id);
    const t = now();
    sentAt.set(id, t);
    inFlight++;
    const req = request(
      { host: target.hostname, port: target.port, path: target.pathname, method: 'POST', agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-archivus-signature': sign(body) } },
      (res) => {
        res.resume();
        res.on('end', () => {
          inFlight--;
          if (res.statusCode! >= 200 && res.statusCode! < 300) acks.push(now() - t);
          else (errors++, sentAt.delete(id));
        });
      },
    );
    req.on('error', () => (inFlight--, errors++, sentAt.delete(id)));
    req.end(body);
  };
  // A tick every 2 ms sends what the schedule says is due by now, so the
  // offered rate holds even when a tick runs late.
  const start = now();
  let n = 0;
  const total = Math.round(rate * seconds);
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const due = Math.min(total, Math.floor(((now() - start) / 1000) * rate));
      while (n < due) send(`evt_${run}_${(n++).toString().padStart(10, '0')}`);
      if (n >= total) clearInterval(tick), resolve();
    }, 2);
  });
  const windowEnd = now();
  while (inFlight > 0) await new Promise((r) => setTimeout(r, 20));
  // Wait for the receiver to have every accepted event (or a deadline).
  const deadline = Date.now() + 60_000;
  let arrived: Record<string, number> = {};
  for (;;) {
    arrived = (await (await fetch(`${receiverUrl}/times?run=evt_${run}`)).json()) as Record<string, number>;
    if (Object.keys(arrived).length >= sentAt.size || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  agent.destroy();
  const lat = [...sentAt].flatMap(([id, t]) => (arrived[id] !== undefined ? [arrived[id] - t] : [])).sort((a, b) => a - b);
  const ack = acks.sort((a, b) => a - b);
  const inWindow = [...sentAt].filter(([id]) => arrived[id] !== undefined && arrived[id] <= windowEnd).length;
  return {
    rate,
    seconds,
    sent: n,
    acked: acks.length,
    errors,
    ackP50ms: percentile(ack, 50),
    ackP99ms: percentile(ack, 99),
    delivered: lat.length,
    deliveredRate: inWindow / ((windowEnd - start) / 1000),
    p50ms: percentile(lat, 50),
    p90ms: percentile(lat, 90),
    p99ms: percentile(lat, 99),
    maxMs: lat.at(-1) ?? NaN,
    lost: Math.max(0, sentAt.size - lat.length),
  };
}
