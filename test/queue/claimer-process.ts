// A worker in its own process, for the cross-process claim test:
//   node --import tsx claimer-process.ts <config-json> <worker> <now>
// Claims and finishes until nothing is due, then prints the ids it claimed
// on the line after `ready`.

import { openStore } from '../../src/queue/index.js';
import type { StorageConfig } from '../../src/queue/store.js';

const [configJson, worker, nowArg] = process.argv.slice(2);
const store = await openStore(JSON.parse(configJson!) as StorageConfig);
const now = Number(nowArg);
// Start together: tell the parent we are open, wait for its go.
process.stdout.write('ready\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
const claimed: number[] = [];
let idle = 0;
while (idle < 3) {
  const batch = await store.claim({ worker: worker!, limit: 5, now, leaseMs: 600_000 });
  if (batch.length === 0) {
    idle++;
    await new Promise((r) => setTimeout(r, 20));
    continue;
  }
  idle = 0;
  for (const d of batch) {
    claimed.push(d.id);
    await store.finish(d, { startedAt: now, durationMs: 1, outcome: 'delivered' }, { status: 'delivered' });
  }
}
await store.close();
process.stdout.write(JSON.stringify(claimed));
