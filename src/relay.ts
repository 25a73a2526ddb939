// A running Relay: the config, the store, the delivery workers and the HTTP
// server, started and stopped in the right order.

import type { Server } from 'node:http';
import { hostname } from 'node:os';
import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { loadConfig, type LoadedConfig } from './config/load.js';
import { watchFiles } from './config/watch.js';
import { ConfigError, type ConfigIssue } from './errors.js';
import { createLogger } from './log.js';
import { openStore } from './queue/index.js';
import { limiterStores, type LimiterStores } from './queue/limits.js';
import type { Store } from './queue/store.js';
import { Deliverer } from './deliver/worker.js';
import { SharedBreaker, storedCircuits } from './deliver/shared-breaker.js';
import { createApp } from './ingest/server.js';
import { EventStreams } from './admin/stream.js';
import { healthRoutes } from './ops/health.js';
import { createSessions } from './ui/session.js';
import { createMetrics, type Metrics } from './ops/metrics.js';
import { RejectionLog } from './ops/rejections.js';
import { createOpsApp, createServerFor, listen, urlOf } from './ops/listener.js';
import { readTokens } from './admin/tokens.js';
import { offRoutes } from './admin/off.js';
import { startTracing, type Tracing } from './ops/tracing.js';

export interface StartOptions {
  configPath: string;
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Reload when the config file or a plugin file changes (default true). */
  watch?: boolean;
}

export type ReloadResult = { ok: true; hash: string; changed: boolean } | { ok: false; errors: ConfigIssue[] };

const BACKLOG_REFRESH_MS = 1000;
const PRUNE_EVERY_MS = 60 * 60 * 1000;

export class Relay {
  draining = false;
  backlog = 0;
  private timers: NodeJS.Timeout[] = [];
  private unwatch: (() => void) | undefined;
  private reloading: Promise<ReloadResult> | undefined;
  private env: NodeJS.ProcessEnv = process.env;
  /** With `server.admin`: the ops listener serving /admin, /ui and /metrics. */
  adminServer: Server | undefined;
  /** On PostgreSQL, rate limits shared by every instance (kept across reloads). */
  private limits!: LimiterStores; // set in start(), before the first reload
  private tracing: Tracing | undefined;

  private constructor(
    private config: LoadedConfig,
    readonly store: Store,
    readonly deliverer: Deliverer,
    readonly server: Server,
    readonly logger: Logger,
    readonly metrics: Metrics,
    private readonly streams: EventStreams,
  ) {}

  static async start(options: StartOptions): Promise<Relay> {
    const env = options.env ?? process.env;
    const bootLogger = options.logger ?? createLogger({ level: env.RELAY_LOG_LEVEL });
    const limits = limiterStores();
    const config = await loadConfig(options.configPath, { env, logger: bootLogger, limiters: limits.pick });
    const logger = options.logger ?? createLogger({ level: env.RELAY_LOG_LEVEL ?? config.logLevel });
    for (const w of config.warnings) logger.warn({ path: w.path, line: w.line }, w.message);
    // Read before anything opens: a bad token setting stops the start with nothing to clean up.
    const tokens = readTokens(env);

    // Undefined unless OTEL_* variables ask for traces; the SDK is loaded only then.
    const tracing = await startTracing(env, logger);
    const store = await openStore(config.storage);
    if (config.storage.driver === 'sqlite') {
      // SQLite serves one instance: whatever is leased was in flight when the
      // last run died, and resumes now rather than when its lease runs out.
      const recovered = await store.recover('');
      if (recovered) bootLogger.info({ deliveries: recovered }, 'resuming deliveries that were in flight at the last stop');
    }

    // The config is read through this getter so a reload can swap it atomically.
    let relay: Relay | undefined;
    const current = () => relay?.config ?? config;
    const metrics = createMetrics({
      // Refreshed every second for backpressure already: a scrape runs no query for it.
      backlog: () => relay?.backlog ?? 0,
      deadLetters: () => store.deadCount(),
      circuits: () => relay?.deliverer.circuits() ?? [],
      configHash: () => current().hash,
      onCollectError: (err, metric) => logger.warn({ err, metric }, 'metrics: reading a gauge failed'),
    });
    // Circuits live in the store: on PostgreSQL one instance's open circuit is
    // skipped by all; on both engines `relay events`, the admin API and the
    // dashboard read them there, and `relay replay` closes them there. Read before the first claim.
    const breaker = new SharedBreaker(store, { onError: (err) => logger.warn({ err }, 'sharing circuit state failed') });
    await breaker.refresh();
    const deliverer = new Deliverer({
      breaker,
      store,
      catalog: () => current().actions.catalog,
      logger,
      concurrency: config.delivery.concurrency,
      leaseMs: config.delivery.leaseMs,
      paceMs: config.delivery.paceMs,
      workerId: `${hostname()}:${process.pid}`,
      onAttempt: metrics.attempt,
      ...(tracing && { tracing }),
    });
    // The dashboard's sessions stand in for the admin token on /ui and /admin (off without a token).
    const sessions = createSessions(tokens.admin);
    const rejections = new RejectionLog();
    const streams = new EventStreams(store);
    const health = healthRoutes({ store, config: current, draining: () => relay?.draining ?? false, logger });
    // Without a token the admin API and the dashboard are 404 throughout, and their modules are not loaded.
    let surface: Middleware[];
    if (tokens.admin === undefined && tokens.read === undefined) surface = [offRoutes()];
    else {
      const [{ adminRoutes }, { uiRoutes }] = await Promise.all([import('./admin/api.js'), import('./ui/routes.js')]);
      surface = [
        adminRoutes({
          token: tokens.admin,
          readToken: tokens.read,
          store,
          circuits: () => storedCircuits(store),
          config: current,
          reload: () => relay!.reload(),
          sessions,
          rejections,
          streams,
          logger,
        }),
        uiRoutes({ sessions, logger }),
      ];
    }
    const ops = [metrics.middleware(), ...surface];
    const separate = config.server.admin;
    const app = createApp({
      config: current,
      store,
      logger,
      onQueued: (queued, leased) => {
        relay!.backlog++;
        // Deliveries handed over leased are started already: waking the claim loop would only cost a claim.
        if (queued > leased) deliverer.notify();
      },
      reserve: (planned) => deliverer.reserve(planned),
      pace: (deliveries) => deliverer.paced(deliveries),
      overloaded: () => (relay?.backlog ?? 0) >= current().server.maxBacklog,
      draining: () => relay?.draining ?? false,
      // Before the ingest catch-all: these paths are Relay's own. With a
      // separate ops listener the public port keeps only health.
      extra: separate ? [health] : [health, ...ops],
      rejected: (r) => rejections.record(r),
      ...(tracing && { tracing }),
      observe: (source, type, outcome, matched) => {
        metrics.eventReceived(source, type, outcome);
        if (outcome !== 'accepted') return;
        for (const rule of matched ?? []) metrics.ruleMatched(rule);
        streams.poke();
      },
    });
    const tls = config.server.tls;
    const server = createServerFor(app, tls);
    relay = new Relay(config, store, deliverer, server, logger, metrics, streams);
    relay.hooks.onReload = (outcome) => metrics.configReloaded(outcome);
    relay.env = env;
    relay.limits = limits;
    relay.tracing = tracing;
    if (options.watch !== false) relay.watch();

    relay.backlog = await store.backlog();
    relay.every(BACKLOG_REFRESH_MS, async () => {
      relay!.backlog = await store.backlog();
    });
    // At start-up too: an instance restarted more often than hourly would otherwise never prune.
    relay.every(PRUNE_EVERY_MS, async () => {
      const { events } = await store.prune(Date.now() - relay!.config.retentionMs);
      if (events) logger.info({ events }, 'pruned old events');
    }, { runNow: true });

    deliverer.start();
    await listen(server, config.server.port, config.server.host);
    if (separate) {
      relay.adminServer = createServerFor(createOpsApp({ trustProxy: config.server.trustProxy, logger, routes: [health, ...ops] }), tls);
      await listen(relay.adminServer, separate.port, separate.host);
    }
    logger.info(
      { url: relay.url, ...(relay.adminServer && { admin: relay.adminUrl }), config: config.file, hash: config.hash.slice(0, 12), storage: config.storage.driver },
      'relay listening',
    );
    return relay;
  }

  get url(): string {
    return urlOf(this.server, this.config.server.tls);
  }

  /** Where /admin, /ui and /metrics are served: the ops listener with `server.admin`, else `url`. */
  get adminUrl(): string {
    return this.adminServer ? urlOf(this.adminServer, this.config.server.tls) : this.url;
  }

  get activeConfig(): LoadedConfig {
    return this.config;
  }

  /**
   * Loads the config file again and swaps it in whole, or keeps the running
   * one and reports every error. Deliveries already running finish on the
   * old actions; queued ones run on the new config if their rule still exists.
   */
  async reload(): Promise<ReloadResult> {
    // Reloads are serialised: a burst of file events must not interleave swaps.
    const previous = this.reloading ?? Promise.resolve(undefined);
    const next = previous.then(() => this.reloadNow());
    this.reloading = next;
    return next;
  }

  private async reloadNow(): Promise<ReloadResult> {
    const old = this.config;
    let fresh: LoadedConfig;
    try {
      fresh = await loadConfig(old.file, { env: this.env, logger: this.logger, limiters: this.limits.pick });
    } catch (err) {
      const errors = err instanceof ConfigError ? err.issues : [{ path: [], message: (err as Error).message }];
      for (const e of errors) this.logger.error({ file: e.file, line: e.line, col: e.col, path: e.path }, `config reload failed: ${e.message}`);
      this.hooks.onReload?.('error', old.hash);
      return { ok: false, errors };
    }
    for (const key of ['storage', 'server'] as const) {
      if (JSON.stringify(fresh[key]) !== JSON.stringify(old[key])) {
        this.logger.warn({ section: key }, `config reload: changes to ${key} take effect at the next restart`);
      }
    }
    // Keep what cannot change without a restart; swap everything else at once.
    this.config = { ...fresh, server: old.server, storage: old.storage };
    this.rewatch();
    // Old runners may still be running deliveries: retire them after their longest timeout.
    const linger = Math.max(1000, ...[...old.actions.byRule.values()].flat().map((a) => a.policy.timeoutMs));
    setTimeout(() => void old.actions.close(), linger).unref();
    const changed = fresh.hash !== old.hash;
    this.logger.info({ hash: fresh.hash.slice(0, 12), changed, rules: fresh.rules.rules.length }, 'config reloaded');
    this.hooks.onReload?.('ok', fresh.hash);
    return { ok: true, hash: fresh.hash, changed };
  }

  /** Observers for metrics; set by the ops layer. */
  hooks: { onReload?: (outcome: 'ok' | 'error', hash: string) => void } = {};

  private watch(): void {
    this.unwatch = watchFiles(this.config.files, () => void this.reload());
  }

  private rewatch(): void {
    if (!this.unwatch) return;
    this.unwatch();
    this.watch();
  }

  /**
   * Graceful: refuse new events, let deliveries finish or put them back, close
   * the store; all within `shutdownGrace`, whatever the store does. A step
   * still waiting at the deadline (a frozen database) is abandoned: work it
   * held is leased, so another instance or the next start takes it over.
   * Resolves false when something was abandoned.
   */
  async stop(): Promise<boolean> {
    if (this.draining) return true;
    this.draining = true;
    const graceMs = this.config.server.shutdownGraceMs;
    // A little under the grace, so the process exits (src/cli/serve.ts) within it.
    const deadline = Date.now() + graceMs - Math.min(500, Math.floor(graceMs / 10));
    // Deliveries get most of it; handing back and closing the store the rest.
    const reserve = Math.min(2_000, Math.floor(graceMs / 4));
    this.unwatch?.();
    for (const t of this.timers) clearInterval(t);
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    const adminClosed = new Promise<void>((resolve) => (this.adminServer ? this.adminServer.close(() => resolve()) : resolve()));
    this.adminServer?.closeAllConnections();
    this.server.closeIdleConnections();
    const steps: Array<[string, () => Promise<unknown>]> = [
      // Open event streams would keep their connections (and the http server step) alive forever.
      ['event streams', () => this.streams.close()],
      ['deliveries', () => this.deliverer.stop(Math.max(0, deadline - reserve - Date.now()))],
      [
        'http server',
        () => {
          this.server.closeAllConnections();
          return Promise.all([closed, adminClosed]);
        },
      ],
      ['actions', () => this.config.actions.close()],
      ['store', () => this.store.close()],
      ['rate-limit store', () => this.limits.close()],
      // Last: the spans of deliveries that finished during the drain are exported too.
      ['tracing', () => this.tracing?.shutdown().catch((err: unknown) => this.logger.warn({ err }, 'tracing: the last spans could not be exported')) ?? Promise.resolve()],
    ];
    for (const [name, step] of steps) {
      if (!(await settledBy(step(), deadline))) {
        this.logger.warn({ step: name, graceMs }, 'shutdown grace over: exiting without waiting for the rest');
        return false;
      }
    }
    this.logger.info('relay stopped');
    return true;
  }

  /** Runs `task` every `ms` (and at once with runNow), never two runs at a time. */
  private every(ms: number, task: () => Promise<void>, options: { runNow?: boolean } = {}): void {
    let running = false;
    const run = (): void => {
      if (running || this.draining) return;
      running = true;
      task()
        .catch((err: unknown) => this.logger.error({ err }, 'background task failed'))
        .finally(() => (running = false));
    };
    const timer = setInterval(run, ms);
    timer.unref();
    this.timers.push(timer);
    if (options.runNow) run();
  }
}

/** Whether `work` settled (either way) by `deadline`; it is not awaited past it. */
async function settledBy(work: Promise<unknown>, deadline: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()));
  });
  const done = work.then(
    () => true as const,
    () => true as const,
  );
  try {
    return await Promise.race([done, late]);
  } finally {
    clearTimeout(timer);
  }
}
