// `relay replay ID... | --dead | --since TIME [--rule R]`: progress on stderr
// (a bar on a terminal, throttled lines otherwise) so stdout carries only the
// summary, which `--json` keeps machine-readable.

import cliProgress from 'cli-progress';
import { replay, type ReplayProgress, type ReplaySummary } from '../admin/operations.js';
import { withStore } from './events.js';
import { processIo, type Io } from './format.js';

export interface ReplayOptions {
  config: string;
  dead?: boolean;
  since?: string;
  rule?: string;
  json?: boolean;
}

const LINE_EVERY_MS = 1000;

export async function replayCommand(ids: readonly string[], opts: ReplayOptions, io: Io = processIo): Promise<void> {
  if (ids.length === 0 && !opts.dead && opts.since === undefined) throw new Error('replay needs event ids, --dead or --since');
  const progress = reporter(io);
  let summary: ReplaySummary;
  try {
    summary = await withStore(opts.config, (store) =>
      replay(store, { ids, ...(opts.dead ? { dead: true } : {}), since: opts.since, rule: opts.rule }, progress.update),
    );
  } finally {
    progress.stop();
  }
  if (opts.json) io.out(JSON.stringify(summary, null, 2));
  else io.out(formatSummary(summary));
  if (summary.missing.length > 0) process.exitCode = 1;
}

export function formatSummary(s: ReplaySummary): string {
  const lines = [
    s.deliveries === 0
      ? 'Nothing to replay.'
      : `Replayed ${s.deliveries} deliveries of ${s.events} event(s): due now, attempts reset.`,
  ];
  if (s.closedCircuits.length > 0) lines.push(`Closed the open circuit of: ${s.closedCircuits.join(', ')}`);
  if (s.missing.length > 0) lines.push(`No such event: ${s.missing.join(', ')}`);
  return lines.join('\n');
}

function reporter(io: Io): { update: ReplayProgress; stop(): void } {
  if (io.tty && io.stderr) {
    const bar = new cliProgress.SingleBar(
      { stream: io.stderr, format: 'replay [{bar}] {value}/{total} events | {deliveries} deliveries | {eta_formatted}', hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      update(done, total, deliveries) {
        if (!started) bar.start(total, done, { deliveries });
        else bar.update(done, { deliveries });
        started = true;
      },
      stop: () => started && bar.stop(),
    };
  }
  let last = 0;
  return {
    update(done, total, deliveries) {
      const now = Date.now();
      // First and last always; between, at most one line a second.
      if (done !== 0 && done !== total && now - last < LINE_EVERY_MS) return;
      if (done === 0 && total === 0) return;
      last = now;
      io.err(`replay: ${done}/${total} events, ${deliveries} deliveries`);
    },
    stop() {},
  };
}
