// Start-up: `relay --help` and `relay validate` against `node -e 0`, run in
// turn (A B C A B C …) so a burst of load on the machine hits each alike;
// the median wall time of each, and the peak RSS of one run.

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export interface StartupRow {
  name: string;
  ms: number;
  /** Median time over `node -e 0`'s in the same run. */
  ratio: number;
  peakRssMb: number;
}

export function measureStartup(root: string, config: string, env: NodeJS.ProcessEnv, rounds: number): StartupRow[] {
  const relay = join(root, 'bin', 'relay.js');
  const cmds: Array<[string, string[]]> = [
    ['node -e 0', ['-e', '0']],
    ['relay --help', [relay, '--help']],
    ['relay validate', [relay, 'validate', '-c', config]],
  ];
  const times = cmds.map(() => [] as number[]);
  const run = (args: string[]) => {
    const t = process.hrtime.bigint();
    const r = spawnSync(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  for (const [, args] of cmds) run(args); // warm the file cache
  for (let i = 0; i < rounds; i++) cmds.forEach(([, args], j) => times[j]!.push(run(args)));
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  const base = med(times[0]!);
  return cmds.map(([name, args], j) => ({ name, ms: med(times[j]!), ratio: med(times[j]!) / base, peakRssMb: peakRss(args, root, env) }));
}

/** GNU time's maximum resident set size, when /usr/bin/time is there. */
function peakRss(args: string[], cwd: string, env: NodeJS.ProcessEnv): number {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', process.execPath, ...args], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  const kb = Number(r.stderr?.trim().split('\n').pop());
  return r.error || !Number.isFinite(kb) ? NaN : kb / 1024;
}
