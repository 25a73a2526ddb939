// Reads relay.config.yaml into a running configuration, or fails with every
// problem found, each placed at its file:line:col. Nothing starts until this
// has succeeded, and a reload swaps in only a config that loaded whole.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from './yaml.js';
import { ConfigError, RelayError, type ConfigIssue } from '../errors.js';
import type { JsonSchema, PluginLogger } from '../plugin.js';
import { schemes } from '../verify/index.js';
import type { RuleSet } from '../match/rules.js';
import type { CompiledSource } from '../ingest/source.js';
import type { LimiterFactory } from '../ingest/rate-limit.js';
import type { CompiledActions } from './actions.js';
import { bestEffortIssues, compileParts, demoteUnset, storageOf } from './compile.js';
import { interpolateTree, type MissingVariable } from './env.js';
import { placeIssues } from './locate.js';
import { loadPlugins, type AnyPlugin } from './plugins.js';
import { buildConfigSchema, structuralSchema } from './schema.js';
import { toBytes, toMs } from './units.js';
import { validateWith } from './validate.js';
import type { RawConfig } from './types.js';
import type { StorageConfig } from '../queue/store.js';

export interface LoadedConfig {
  file: string;
  /** SHA-256 of the file's bytes: which config is active. */
  hash: string;
  loadedAt: number;
  raw: RawConfig;
  server: {
    host: string;
    port: number;
    bodyLimit: number;
    trustProxy: boolean;
    maxBacklog: number;
    shutdownGraceMs: number;
    /** The ops listener (/admin, /ui, /metrics) when it is separate from the public port. */
    admin?: { host: string; port: number };
    tls?: { cert: string; key: string };
  };
  storage: StorageConfig;
  retentionMs: number;
  delivery: { concurrency: number; leaseMs: number; paceMs: number };
  logLevel: string;
  /** By URL path. */
  sources: Map<string, CompiledSource>;
  rules: RuleSet;
  actions: CompiledActions;
  plugins: ReadonlyMap<string, AnyPlugin>;
  /** Files to watch for reload: the config and its custom plugins. */
  files: string[];
  warnings: ConfigIssue[];
  schema: JsonSchema;
  /** Variables left as `${VAR}` because they are unset (only with `secrets: 'optional'`). */
  unset: MissingVariable[];
}

export interface LoadOptions {
  env?: NodeJS.ProcessEnv;
  logger?: PluginLogger;
  /**
   * Where sources' rate limits keep their counters, given the config's
   * storage (`relay serve` shares them in PostgreSQL). Default, or when it
   * returns undefined: in this process's memory.
   */
  limiters?: (storage: StorageConfig) => LimiterFactory | undefined;
  /**
   * `optional`: for commands that only read the store or parse the config
   * (events, replay, test, validate). An unset `${VAR}` is kept as written and
   * reported as a warning, and a secret file that cannot be read is a
   * warning, so `relay validate` in CI needs no fake secrets. `serve` and
   * `send` keep the default, `required`.
   */
  secrets?: 'required' | 'optional';
}

const quiet: PluginLogger = { debug() {}, info() {}, warn() {}, error() {} };

export async function loadConfig(path: string, options: LoadOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const file = resolve(path);
  const dir = dirname(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new RelayError('RELAY_ERR_CONFIG_READ', `cannot read ${path}: ${(err as Error).message}`);
  }

  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fail = (issues: ConfigIssue[]): never => {
    throw new ConfigError(placeIssues(issues, path, doc, lines));
  };
  if (doc.errors.length) {
    // After the first syntax error the parser's later complaints are mostly echoes of it.
    fail(
      doc.errors.slice(0, 1).map((e) => ({
        path: [],
        message: e.message.split('\n')[0] ?? e.message,
        file: path,
        ...lines.linePos(e.pos[0]),
      })),
    );
  }

  const lenient = options.secrets === 'optional';
  const { value, issues, missing } = interpolateTree(doc.toJS() ?? {}, env, [], [], { missing: lenient ? 'keep' : 'error' });
  const raw = value as RawConfig;
  const loaded = await loadPlugins(Array.isArray(raw.plugins) ? raw.plugins : [], dir);
  issues.push(...loaded.issues);
  const schema = buildConfigSchema(schemes, loaded.plugins);
  // The whole-document pass checks structure; plugin options are checked per
  // action after `use` is resolved, where per-rule overrides are merged.
  issues.push(...validateWith(structuralSchema(schema), raw, []));
  if (lenient) demoteUnset(issues, missing);
  if (issues.some((i) => i.severity !== 'warning')) {
    // Report the rest too (JSONPaths, plugin options, templates): one run, every error.
    issues.push(...(await bestEffortIssues(raw, loaded.plugins, dir, issues)));
    if (lenient) demoteUnset(issues, missing);
    fail(lenient ? issues : issues.filter((i) => i.severity !== 'warning'));
  }

  const storage = storageOf(raw, dir);
  const limiterFactory = options.limiters?.(storage);
  const { sources, rules, actions } = await compileParts(raw, loaded.plugins, { dir, issues, limiters: limiterFactory, logger: options.logger ?? quiet });

  if (lenient) demoteUnset(issues, missing);
  if (raw.storage.driver === 'postgres' && !raw.storage.url) {
    issues.push({ path: ['storage'], message: 'driver postgres needs `url` (postgres://user:password@host:5432/database)' });
  }
  const errors = issues.filter((i) => i.severity !== 'warning');
  // A refused config (a failed reload) must not leave the runners it built
  // open: plugin connections, pools and files would leak on every attempt.
  const refuse = async (shown: ConfigIssue[]): Promise<never> => {
    await actions.close();
    return fail(shown);
  };
  // validate (lenient) shows what serve will need beside the errors.
  if (errors.length || !rules) await refuse(lenient ? issues : errors);
  const port = env.PORT !== undefined && env.PORT !== '' ? Number(env.PORT) : raw.server.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) await refuse([{ path: ['server', 'port'], message: `PORT=${env.PORT} is not a port number` }]);

  return {
    file,
    hash: createHash('sha256').update(text).digest('hex'),
    loadedAt: Date.now(),
    raw,
    server: {
      // HOST, like PORT, lets a platform pick the address without editing the file.
      host: env.HOST !== undefined && env.HOST !== '' ? env.HOST : raw.server.host,
      port,
      bodyLimit: toBytes(raw.server.bodyLimit),
      trustProxy: raw.server.trustProxy,
      maxBacklog: raw.server.maxBacklog,
      shutdownGraceMs: toMs(raw.server.shutdownGrace),
      ...(raw.server.admin && { admin: { host: raw.server.admin.host, port: raw.server.admin.port } }),
      ...(raw.server.tls && { tls: { cert: resolve(dir, raw.server.tls.cert), key: resolve(dir, raw.server.tls.key) } }),
    },
    storage,
    retentionMs: toMs(raw.storage.retention),
    delivery: { concurrency: raw.delivery.concurrency, leaseMs: toMs(raw.delivery.lease), paceMs: toMs(raw.delivery.pace ?? 0) },
    logLevel: raw.log.level,
    sources,
    rules: rules!,
    actions,
    plugins: loaded.plugins,
    files: [file, ...loaded.files],
    warnings: issues.filter((i) => i.severity === 'warning').map((w) => placeIssues([w], path, doc, lines)[0]!),
    schema,
    unset: missing,
  };
}
