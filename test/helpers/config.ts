// Writes a config into a fresh temp directory and loads it.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, type LoadedConfig } from '../../src/config/load.js';

export function tempDir(prefix = 'relay-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeConfig(yaml: string, dir = tempDir()): string {
  const file = join(dir, 'relay.config.yaml');
  writeFileSync(file, yaml);
  return file;
}

export async function loadYaml(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<LoadedConfig> {
  return loadConfig(writeConfig(yaml), { env });
}

/** The smallest valid config, for tests that change one thing. */
export const minimal = `
sources:
  archivus:
    path: /webhooks/archivus
    verify: { scheme: archivus, secret: s3cret }
rules:
  - name: all
    on: "**"
    actions:
      - use: log
`;
