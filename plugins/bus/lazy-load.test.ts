// The broker clients are imported by the bus plugins' `create`, so a config
// that uses no bus never loads one (start-up time, memory). Checked in a
// fresh process, where nothing else has loaded them yet.

import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { minimal, tempDir, writeConfig } from '../../test/helpers/config.js';

const run = promisify(execFile);

// Prints the broker client packages in the CommonJS module cache after each config loads.
const child = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const CLIENTS = /node_modules\\/(amqplib|mqtt|redis|@redis\\/client|@nats-io\\/[^/]+)\\//;
const loaded = () => [...new Set(Object.keys(require.cache).map((f) => f.match(CLIENTS)?.[1]).filter(Boolean))].sort();
const { loadConfig } = await import(process.env.LOAD_TS);
const seen = [];
for (const file of process.argv.slice(2)) {
  const config = await loadConfig(file, { env: {} });
  if (config.issues?.length) throw new Error(JSON.stringify(config.issues));
  seen.push(loaded());
}
console.log(JSON.stringify(seen));
process.exit(0);
`;

describe('broker clients', () => {
  it('are not loaded by a config without a bus action, and only the one used by a config with one', { timeout: 60_000 }, async () => {
    const dir = tempDir();
    const script = join(dir, 'probe.mjs');
    writeFileSync(script, child);
    const plain = writeConfig(minimal, tempDir());
    const withRabbit = writeConfig(
      `${minimal}      - use: rabbitmq\n        with: { url: "amqp://guest:guest@127.0.0.1:5672" }\n`,
      tempDir(),
    );
    const { stdout } = await run(process.execPath, ['--import', 'tsx', script, plain, withRabbit], {
      cwd: process.cwd(),
      env: { ...process.env, LOAD_TS: join(process.cwd(), 'src/config/load.ts') },
    });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual([[], ['amqplib']]);
  });
});
