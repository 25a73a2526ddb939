// Relay started in this process (a real HTTP server on 127.0.0.1), for
// end-to-end tests that do not need to kill the process.
import { join } from 'node:path';
import { pino } from 'pino';
import { Relay } from '../../src/relay.js';
import { tempDir, writeConfig } from './config.js';

export async function startInProcess(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<Relay> {
  const dir = tempDir();
  const withStorage = yaml.includes('storage:') ? yaml : `storage: { path: ${join(dir, 'relay.db')} }\n${yaml}`;
  const config = writeConfig(withStorage.replace('server: {', 'server: { host: 127.0.0.1,'), dir);
  return Relay.start({
    configPath: config,
    env: { ...env, PORT: '0' },
    logger: pino({ level: process.env.RELAY_TEST_LOG ?? 'silent' }),
  });
}
