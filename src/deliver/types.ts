// What the delivery workers need from the loaded config: for a stored
// (rule, action) pair, how to run it and under which policy. The catalog is
// swapped atomically on reload; deliveries of rules that vanished go dead
// with a clear error rather than being dropped.

import type { ActionResult, PluginLogger } from '../plugin.js';
import type { RelayEvent } from '../event.js';

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
    signal: AbortSignal;
    logger: PluginLogger;
    traceparent?: string;
  }): Promise<ActionResult | void>;
}

export interface ActionCatalog {
  get(rule: string, action: string): ResolvedAction | undefined;
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
  /** The plugin's name; `unknown` when the rule or action is no longer configured. */
  plugin: string;
  target: string;
  /** 1 for the first attempt. */
  attempt: number;
  outcome: 'delivered' | 'retry' | 'dead';
  durationMs: number;
  status?: number;
  error?: string;
}
