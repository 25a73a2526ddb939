// WAL checkpoints off the request path. SQLite's automatic checkpoint runs
// inside whichever commit pushes the WAL past 1,000 pages, so one request in
// a thousand waited for a checkpoint and its fsync of the database file. With
// the automatic one off, a worker thread with its own connection to the same
// file checkpoints (PASSIVE: it never blocks a writer) on a timer, and the
// main thread never does.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// A burst grows the WAL file, and SQLite reuses it from the start without
// shrinking it. Cutting it back (journal_size_limit) happens in the commit
// that restarts the WAL and took ~250 ms for a few hundred MB: a stall of
// every request at the first write after a quiet spell. So the writer never
// truncates; this thread does (TRUNCATE) once the file is over TRUNCATE_OVER
// and the WAL has not grown for QUIET_TICKS checkpoints, all folded in.
//
// A CommonJS body evaluated in the worker, so it runs the same from dist/ and
// under the test runner (which does not transform worker files).
const BODY = `
const { workerData, parentPort } = require('node:worker_threads');
const { statSync } = require('node:fs');
const Database = require(workerData.module);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
let lastLog = -1;
let quiet = 0;
const walBytes = () => { try { return statSync(workerData.path + '-wal').size; } catch { return 0; } };
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    quiet = r.log === lastLog && r.log === r.checkpointed ? quiet + 1 : 0;
    lastLog = r.log;
    if (quiet >= workerData.quietTicks && walBytes() > workerData.truncateOver) {
      db.pragma('wal_checkpoint(TRUNCATE)');
      quiet = 0;
      lastLog = -1;
    }
  } catch { /* busy or closing: next tick */ }
}, workerData.everyMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

/** A WAL file over this size is truncated once the store has been quiet... */
const TRUNCATE_OVER = 64 * 1024 * 1024;
/** ...for this many checkpoint ticks in a row (1 s each by default). */
const QUIET_TICKS = 3;

export interface Checkpointer {
  stop(): Promise<void>;
}

/** Starts checkpointing `path` every `everyMs`; the caller turns off wal_autocheckpoint. */
export function startCheckpointer(path: string, everyMs = 1000, busyTimeoutMs = 5000, truncateOver = TRUNCATE_OVER): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(BODY, { eval: true, workerData: { module, path, everyMs, busyTimeoutMs, quietTicks: QUIET_TICKS, truncateOver } });
  worker.unref(); // never what keeps the process alive
  // A failing checkpointer costs a growing WAL, not correctness: the close
  // checkpoint (TRUNCATE) still folds it in.
  worker.on('error', () => {});
  return {
    async stop() {
      // Held by the loop while it stops: with nothing else pending (a CLI
      // command closing its store) the process would exit mid-close.
      worker.ref();
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 2000)))]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
