import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { minimal, tempDir, writeConfig } from '../helpers/config.js';
import { storageFixtures } from '../helpers/storage.js';

const run = promisify(execFile);
const fixtures = await storageFixtures();

describe.each(fixtures)('relay migrate on $name', (fx) => {
  afterAll(() => fx.cleanup());

  it('applies the schema once, then reports it up to date', async () => {
    const dir = tempDir();
    const file = writeConfig(fx.section(join(dir, 'db')) + minimal, dir);
    const first = await run(process.execPath, ['bin/relay.js', 'migrate', '-c', file]);
    expect(first.stdout).toMatch(new RegExp(`migrated ${fx.name} store to version \\d+ \\(applied: `));
    const second = await run(process.execPath, ['bin/relay.js', 'migrate', '-c', file]);
    expect(second.stdout).toMatch(new RegExp(`${fx.name} store is up to date \\(version \\d+\\)`));
  });
});
