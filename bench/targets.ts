// The targets of issue 13, judged from one run's figures. Reported, never
// asserted: the bench is a measurement, not a test.

import type { BenchReport, Row, Target } from './report.js';

interface Inputs extends Pick<BenchReport, 'e2e' | 'soak' | 'open' | 'startup' | 'idleRssMb' | 'comparisons'> {
  rows: Row[];
  peakRssMb: number;
  connections: number;
}

const x = (r: number) => `${r.toFixed(2)}×`;

export function targets(i: Inputs): Target[] {
  const ratio = (name: string) => i.comparisons.find((c) => c.name === name)?.ratio ?? NaN;
  const shipped = i.rows.find((r) => r.name === 'relay-shipped');
  const out: Target[] = [];
  const vsBest = ratio('relay-shipped / best peer');
  out.push({ name: 'as shipped req/s ≥ the best peer (stretch 1.5×)', measured: x(vsBest), met: vsBest >= 1 });
  if (shipped) out.push({ name: `as shipped p99 ≤ 10 ms at ${i.connections} connections`, measured: `${shipped.p99ms.toFixed(2)} ms`, met: shipped.p99ms <= 10 });
  const logging = 1 - ratio('relay-shipped / relay-shipped-warn (logging)');
  out.push({ name: 'default logging costs ≤ 15 % of req/s (vs warn)', measured: `${(logging * 100).toFixed(1)} %`, met: logging <= 0.15 });
  if (i.e2e) {
    const r = i.e2e.eps / i.e2e.ackRps;
    out.push({ name: 'end to end delivered ≥ 0.5× acknowledged, nothing lost', measured: `${x(r)}, ${i.e2e.lost} lost`, met: r >= 0.5 && i.e2e.lost === 0 });
  }
  if (i.open)
    out.push({
      name: `open loop ${i.open.rate.toLocaleString('en-US')} ev/s: sent → delivered p99 ≤ 50 ms, nothing lost`,
      measured: `${i.open.p99ms.toFixed(1)} ms, ${i.open.lost} lost`,
      met: i.open.p99ms <= 50 && i.open.lost === 0,
    });
  const pgRatio = ratio('relay-pg / relay');
  if (Number.isFinite(pgRatio)) out.push({ name: 'PostgreSQL ≥ 0.7× SQLite', measured: x(pgRatio), met: pgRatio >= 0.7 });
  if (i.idleRssMb !== undefined) out.push({ name: 'idle RSS ≤ 80 MB (as shipped)', measured: `${i.idleRssMb.toFixed(0)} MB`, met: i.idleRssMb <= 80 });
  out.push({ name: 'peak RSS under full load ≤ 200 MB', measured: `${i.peakRssMb.toFixed(0)} MB`, met: i.peakRssMb <= 200 });
  for (const [name, limit] of [['relay --help', 3], ['relay validate', 6]] as const) {
    const row = i.startup?.find((s) => s.name === name);
    if (row) out.push({ name: `\`${name}\` ≤ ${limit}× \`node -e 0\``, measured: x(row.ratio), met: row.ratio <= limit });
  }
  if (i.soak) {
    const growth = (i.soak.rssEndMb - i.soak.rssEarlyMb) / i.soak.rssEarlyMb;
    // RSS moves with GC; more than 10 % between the two points is growth.
    out.push({
      name: `no RSS growth from ${i.soak.earlyAt} s to ${i.soak.seconds} s of load`,
      measured: `${i.soak.rssEarlyMb.toFixed(0)} → ${i.soak.rssEndMb.toFixed(0)} MB (${(growth * 100).toFixed(1)} %)`,
      met: growth <= 0.1,
    });
  }
  return out;
}
