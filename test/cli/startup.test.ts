// `relay validate` starts in a few times `node -e 0` because it loads only
// what checking a config needs (issue 13). Each of these crept in once; the
// test names what a plain config must not load, in the built CLI as users run it.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/config.js';

// Records every module the process loads: ES modules through a loader hook,
// CommonJS ones from require.cache at exit.
function modulesLoaded(args: string[]): { code: number | null; out: string; modules: string[] } {
  const dir = tempDir();
  const log = join(dir, 'modules.log');
  writeFileSync(join(dir, 'hooks.mjs'), `import { appendFileSync } from 'node:fs';\nexport async function load(url, context, next) { appendFileSync(${JSON.stringify(log)}, url + '\\n'); return next(url, context); }\n`);
  writeFileSync(
    join(dir, 'probe.mjs'),
    `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
register(${JSON.stringify(`file://${join(dir, 'hooks.mjs')}`)});
const require = createRequire(import.meta.url);
process.on('exit', () => appendFileSync(${JSON.stringify(log)}, Object.keys(require.cache).map((f) => pathToFileURL(f).href).join('\\n') + '\\n'));
`,
  );
  writeFileSync(log, '');
  const { ARCHIVUS_WEBHOOK_SECRET: _, ...env } = process.env;
  const res = spawnSync(process.execPath, ['--import', `file://${join(dir, 'probe.mjs')}`, 'bin/relay.js', ...args], { env: { ...env, ARCHIVUS_WEBHOOK_SECRET: 'x' }, encoding: 'utf8' });
  return { code: res.status, out: res.stdout + res.stderr, modules: readFileSync(log, 'utf8').split('\n').filter(Boolean) };
}

const SERVER_ONLY = [
  /\/dist\/src\/(admin|ui|ops)\//, // the dashboard, the admin API, metrics and tracing
  /\/dist\/src\/(relay|queue\/[^/]+)\.js$/,
  /node_modules\/(koa|@koa\/router|prom-client|@opentelemetry\/[^/]+|pino|better-sqlite3|pg|kysely|undici)\//,
];
const NOT_FOR_A_PLAIN_CONFIG = [
  /node_modules\/ajv\/dist\/(ajv|core)\.js$/, // the schema compiler: the build precompiled the schemas
  /node_modules\/jsonata\//, // only for `transform:`
  /node_modules\/rate-limiter-flexible\//, // only for `rateLimit:`
  /node_modules\/nodemailer\//, // only when an email is sent
];

describe('relay validate start-up', () => {
  it('loads neither the server nor the libraries the shipped config does not use', () => {
    const { code, out, modules } = modulesLoaded(['validate', '-c', 'relay.config.yaml']);
    expect(out).toMatch(/^OK relay\.config\.yaml/m);
    expect(code).toBe(0);
    expect(modules.some((m) => m.endsWith('/dist/src/cli/validate.js'))).toBe(true);
    const unwanted = modules.filter((m) => [...SERVER_ONLY, ...NOT_FOR_A_PLAIN_CONFIG].some((re) => re.test(m)));
    expect(unwanted).toEqual([]);
  });
});
