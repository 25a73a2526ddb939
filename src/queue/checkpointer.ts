// WAL checkpoints off the request path. SQLite's automatic checkpoint runs
// inside whichever commit pushes the WAL past 1,000 pages, so one request in
// a thousand waited for a checkpoint and its fsync of the database file. With
// the automatic one off, a worker thread with its own connection to the same
// file checkpoints (PASSIVE: it never blocks a writer) on a timer, and the
// main thread never does.

import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

// A CommonJS body evaluated in the worker, so it runs the same from dist/ and
// under the test runner (which does not transform worker files).
const BODY = `
const { workerData, parentPort } = require('node:worker_threads');
const Database = require(workerData.module);
const db = new Database(workerData.path, { timeout: workerData.busyTimeoutMs });
const timer = setInterval(() => {
  try { db.pragma('wal_checkpoint(PASSIVE)'); } catch { /* busy or closing: next tick */ }
}, workerData.everyMs);
parentPort.once('message', () => {
  clearInterval(timer);
  db.close();
  parentPort.close();
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/** Starts checkpointing `path` every `everyMs`; the caller turns off wal_autocheckpoint. */
export function startCheckpointer(path: string, everyMs = 1000, busyTimeoutMs = 5000): Checkpointer {
  const module = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(BODY, { eval: true, workerData: { module, path, everyMs, busyTimeoutMs } });
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
