// Reads relay.config.yaml into a running configuration, or fails with every
// problem found, each placed at its file:line:col. Nothing starts until this
// has succeeded, and a reload swaps in only a config that loaded whole.

import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, RelayError, type ConfigIssue } from '../errors.js';
import type { JsonSchema, PluginLogger } from '../plugin.js';
import { schemes } from '../verify/index.js';
import { RuleSet } from '../match/rules.js';
import { compileSource, type CompiledSource } from '../ingest/source.js';
import type { LimiterFactory } from '../ingest/rate-limit.js';
import { compileActions, type CompiledActions } from './actions.js';
import { interpolateTree, type MissingVariable } from './env.js';
import { placeIssues } from './locate.js';
import { loadPlugins, type AnyPlugin } from './plugins.js';
import { buildConfigSchema } from './schema.js';
import { toBytes, toMs } from './units.js';
import { createAjv, validateWith } from './validate.js';
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
    tls?: { cert: string; key: string };
  };
  storage: StorageConfig;
  retentionMs: number;
  delivery: { concurrency: number; leaseMs: number };
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

const RESERVED = /^\/(healthz|readyz|metrics)\/?$|^\/(admin|ui)(\/|$)/;

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
  issues.push(...validateWith(structural(schema), raw, [], createAjv()));
  if (lenient) demoteUnset(issues, missing);
  if (issues.some((i) => i.severity !== 'warning')) fail([...issues, ...(await bestEffortActionIssues(raw, loaded.plugins, issues))]);

  const storage: StorageConfig =
    raw.storage.driver === 'postgres'
      ? { driver: 'postgres', url: raw.storage.url ?? '', ...(raw.storage.schema && { schema: raw.storage.schema }) }
      : { driver: 'sqlite', path: resolve(dir, raw.storage.path), sync: raw.storage.sync };
  const limiterFactory = options.limiters?.(storage);
  const sources = new Map<string, CompiledSource>();
  for (const [name, cfg] of Object.entries(raw.sources)) {
    const source = compileSource(name, cfg, schemes, dir, issues, limiterFactory);
    if (!source) continue;
    if (RESERVED.test(source.path)) {
      issues.push({ path: ['sources', name, 'path'], message: `${source.path} is reserved for Relay's own endpoints (/healthz, /readyz, /metrics, /admin, /ui)` });
    }
    if (sources.has(source.path)) {
      issues.push({ path: ['sources', name, 'path'], message: `path ${source.path} is already used by source "${sources.get(source.path)!.name}"` });
    }
    sources.set(source.path, source);
  }
  for (const [r, rule] of raw.rules.entries()) {
    for (const s of [rule.source ?? []].flat()) {
      if (!raw.sources[s]) issues.push({ path: ['rules', r, 'source'], message: `unknown source "${s}" (known: ${Object.keys(raw.sources).join(', ')})` });
    }
  }

  let rules: RuleSet | undefined;
  try {
    rules = new RuleSet(raw.rules, ['rules']);
  } catch (err) {
    if (err instanceof ConfigError) issues.push(...err.issues);
    else throw err;
  }
  const actions = await compileActions(raw, loaded.plugins, options.logger ?? quiet);
  issues.push(...actions.issues);
  // `relay init` writes `enabled: ${FORWARD_ENABLED:-false}`: a rule can match and do nothing.
  for (const [r, rule] of raw.rules.entries()) {
    const list = actions.byRule.get(rule.name) ?? [];
    if (list.length > 0 && list.every((a) => !a.enabled)) {
      issues.push({
        path: ['rules', r, 'actions'],
        severity: 'warning',
        message: `every action of rule "${rule.name}" is off (enabled: false): its events are stored with status "off" and nothing is sent`,
      });
    }
  }

  if (lenient) demoteUnset(issues, missing);
  if (raw.storage.driver === 'postgres' && !raw.storage.url) {
    issues.push({ path: ['storage'], message: 'driver postgres needs `url` (postgres://user:password@host:5432/database)' });
  }
  const errors = issues.filter((i) => i.severity !== 'warning');
  // validate (lenient) shows what serve will need beside the errors.
  if (errors.length || !rules) fail(lenient ? issues : errors);

  const port = env.PORT !== undefined && env.PORT !== '' ? Number(env.PORT) : raw.server.port;
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail([{ path: ['server', 'port'], message: `PORT=${env.PORT} is not a port number` }]);

  return {
    file,
    hash: createHash('sha256').update(text).digest('hex'),
    loadedAt: Date.now(),
    raw,
    server: {
      host: raw.server.host,
      port,
      bodyLimit: toBytes(raw.server.bodyLimit),
      trustProxy: raw.server.trustProxy,
      maxBacklog: raw.server.maxBacklog,
      shutdownGraceMs: toMs(raw.server.shutdownGrace),
      ...(raw.server.tls && { tls: { cert: resolve(dir, raw.server.tls.cert), key: resolve(dir, raw.server.tls.key) } }),
    },
    storage,
    retentionMs: toMs(raw.storage.retention),
    delivery: { concurrency: raw.delivery.concurrency, leaseMs: toMs(raw.delivery.lease) },
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

const under = (path: ReadonlyArray<string | number>, prefix: ReadonlyArray<string | number>) =>
  prefix.length <= path.length && prefix.every((p, i) => path[i] === p);

/**
 * Without the environment, a value still reading `${VAR}` may fail its
 * schema (a URL pattern, a boolean) and a secret file may be absent: those
 * are what `serve` will need, not errors in the file. Other problems stay.
 */
function demoteUnset(issues: ConfigIssue[], missing: readonly MissingVariable[]): void {
  const kept = issues
    .filter((i) => i.severity === 'warning' || !missing.some((m) => under(i.path, m.path)))
    .map((i): ConfigIssue =>
      i.severity !== 'warning' && i.path.at(-1) === 'secretFile' && i.message.startsWith('cannot read secret file')
        ? { ...i, severity: 'warning', message: `${i.message} (relay serve will need it)` }
        : i,
    );
  const seen = new Set(kept.map((i) => `${i.path.join('.')}|${i.message}`));
  for (const m of missing) {
    const issue: ConfigIssue = {
      path: m.path,
      severity: 'warning',
      message: `environment variable ${m.name} is not set; relay serve will need it (or a default: \${${m.name}:-value})`,
    };
    const key = `${issue.path.join('.')}|${issue.message}`;
    if (!seen.has(key)) kept.push(issue), seen.add(key);
  }
  issues.splice(0, issues.length, ...kept);
}
// With a structural error the config cannot be compiled, but an unknown
// `use:` elsewhere is still worth reporting in the same pass.
async function bestEffortActionIssues(raw: RawConfig, plugins: ReadonlyMap<string, AnyPlugin>, known: ConfigIssue[]): Promise<ConfigIssue[]> {
  if (!Array.isArray(raw.rules) || raw.rules.some((r) => !r || !Array.isArray(r.actions))) return [];
  try {
    const declared = raw.actions && typeof raw.actions === 'object' ? raw.actions : {};
    const { issues } = await compileActions({ ...raw, actions: declared, delivery: { concurrency: 1, timeout: '1s', lease: '60s', retry: {} } }, plugins, quiet);
    const seen = new Set(known.map((i) => i.path.join('.')));
    return issues.filter((i) => i.message.startsWith('unknown action') && !seen.has(i.path.join('.')));
  } catch {
    return [];
  }
}

// The full schema folds plugin option schemas into `with:`; the structural
// pass leaves those to compileActions so each error is reported once.
function structural(schema: JsonSchema): JsonSchema {
  const copy = structuredClone(schema);
  const props = copy.properties as Record<string, JsonSchema>;
  const actionsSchema = props.actions as JsonSchema;
  const action = actionsSchema.additionalProperties as JsonSchema;
  delete action.allOf;
  const rules = props.rules as JsonSchema;
  ((rules.items as JsonSchema).properties as Record<string, JsonSchema>).actions = {
    type: 'array',
    minItems: 1,
    items: action,
  };
  return copy;
}
