// What the delivery workers need from the loaded config: for a stored
// (rule, action) pair, how to run it and under which policy. The catalog is
// swapped atomically on reload; deliveries whose rule or action vanished go
// dead with a clear error rather than being dropped or run by another action.

import type { ActionResult, DeliveryInfo, PluginLogger } from '../plugin.js';
import type { Breaker, BreakerOptions, CircuitSettings } from './breaker.js';
import type { RelayEvent } from '../event.js';
import type { Store, StoredEvent } from '../queue/store.js';
import type { Tracing } from '../ops/tracing.js';

export interface RetryPolicy {
  /** Total attempts, the first included. */
  attempts: number;
  /** Upper bound of the first backoff; doubles each attempt (full jitter). */
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface DeliveryPolicy {
  retry: RetryPolicy;
  timeoutMs: number;
  /** Deliveries of this action running at once, across the process. */
  concurrency: number;
  /** The target's circuit breaker as this action sets it; false: off, only `retry` decides; absent: the breaker's defaults. */
  circuit?: CircuitSettings | false;
}

export interface ResolvedAction {
  rule: string;
  action: string;
  /** The plugin's name, for metrics and logs. */
  plugin: string;
  target: string;
  policy: DeliveryPolicy;
  /** Renders the templates for these events and runs the plugin once. */
  execute(input: {
    events: RelayEvent[];
    attempt: number;
    delivery: DeliveryInfo;
    signal: AbortSignal;
    logger: PluginLogger;
    traceparent?: string;
  }): Promise<ActionResult | void>;
}

export interface ActionCatalog {
  get(rule: string, action: string): ResolvedAction | undefined;
  /** Targets of enabled `ordering: fifo` actions: their deliveries go one at a time, oldest first. */
  fifoTargets?(): readonly string[];
  /** Is the rule configured? Tells "action removed" from "rule removed" for a delivery `get` cannot find. */
  hasRule(rule: string): boolean;
}

/** Pino-compatible: what the workers log with; `child` binds a delivery's ids. */
export interface DeliveryLogger extends PluginLogger {
  child(bindings: Record<string, unknown>): DeliveryLogger;
}

/** Reported after every recorded attempt, for metrics (outcomes, latency). */
export interface AttemptInfo {
  deliveryId: number;
  rule: string;
  action: string;
  /** The plugin's name; `unknown` when a reload removed the rule or action. */
  plugin: string;
  target: string;
  /** 1 for the first attempt. */
  attempt: number;
  outcome: 'delivered' | 'retry' | 'dead';
  durationMs: number;
  status?: number;
  error?: string;
}

/** How a Deliverer (worker.ts) runs. */
export interface DelivererOptions {
  store: Store;
  /** A getter: the catalog is swapped atomically on reload and read per delivery. */
  catalog: () => ActionCatalog;
  logger: DeliveryLogger;
  /** Deliveries running at once in this process, all actions together. */
  concurrency: number;
  /** How long a claim stays ours. Action timeouts are clamped below it (see timeoutFor). */
  leaseMs?: number;
  /** The longest an acknowledgement waits while deliveries are behind (Deliverer#paced); 0 or unset: never. */
  paceMs?: number;
  workerId: string;
  now?: () => number;
  /** [0, 1), for the backoff jitter. */
  random?: () => number;
  /**
   * The longest idle sleep: bounds how late this process notices work it was
   * not notified of (other processes' ingests, expired leases).
   */
  pollMs?: number;
  breaker?: Breaker | BreakerOptions;
  /** Turns a stored event back into what actions see; by default the body is parsed as JSON. */
  decode?: (event: StoredEvent) => RelayEvent;
  onAttempt?: (info: AttemptInfo) => void;
  /** Set only while tracing is on: a span per attempt, in its event's trace. */
  tracing?: Tracing;
}
