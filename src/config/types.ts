// The configuration as written in relay.config.yaml, after env interpolation
// and schema validation (defaults filled in). See src/config/schema.ts.

import type { RuleConfig } from '../match/rules.js';
import type { RateLimitConfig } from '../ingest/rate-limit.js';
import type { EgressConfig } from '../deliver/egress-policy.js';
import type { IngestLimits } from '../ingest/bounds.js';

export type Duration = number | string;
export type IdSpec = string | { header: string } | { hash: true };

export interface RetryConfig {
  attempts?: number;
  initialDelay?: Duration;
  maxDelay?: Duration;
}

/** `circuit:` of an action or of `delivery`; false turns the breaker off. */
export type CircuitConfig = false | { failures?: number; cooldown?: Duration; maxCooldown?: Duration };

export interface ActionConfig {
  use: string;
  name?: string;
  enabled?: boolean;
  with?: Record<string, unknown>;
  retry?: RetryConfig;
  circuit?: CircuitConfig;
  timeout?: Duration;
  concurrency?: number;
  ordering?: 'none' | 'fifo';
  batch?: { window: Duration; max?: number; with?: Record<string, unknown> };
}

export interface VerifyConfig {
  scheme: string;
  secret?: string;
  secrets?: string[];
  secretFile?: string;
  [option: string]: unknown;
}

export interface SourceConfig {
  path: string;
  verify: VerifyConfig;
  event?: { type?: IdSpec; id?: IdSpec };
  allowlist?: string[];
  rateLimit?: RateLimitConfig;
  /** How long identical bodies without an id count as one event (default 1h). */
  dedupWindow?: Duration;
}

/** A rule as the matcher reads it, plus the actions it runs. */
export interface RuleConfigRaw extends RuleConfig {
  actions: ActionConfig[];
}

export interface RawConfig {
  server: {
    host: string;
    port: number;
    bodyLimit: number | string;
    trustProxy: boolean;
    maxBacklog: number;
    shutdownGrace: Duration;
    admin?: { host: string; port: number };
    tls?: { cert: string; key: string };
  };
  storage: {
    driver: 'sqlite' | 'postgres';
    path: string;
    sync: 'normal' | 'full';
    url?: string;
    schema?: string;
    retention: Duration;
    commitTimeout: Duration;
    connectTimeout: Duration;
    queryTimeout: Duration;
    idleTimeout: Duration;
    keepAlive: Duration | false;
  };
  delivery: { concurrency: number; timeout: Duration; lease: Duration; pace?: Duration; retry: RetryConfig; circuit?: CircuitConfig };
  log: { level: string };
  /** Where actions may connect (src/deliver/egress-policy.ts); `{}` allows all but link-local. */
  egress: EgressConfig;
  /** Bounds on what senders control (src/ingest/bounds.ts); defaults filled in by the schema. */
  limits: IngestLimits;
  plugins: string[];
  sources: Record<string, SourceConfig>;
  actions: Record<string, ActionConfig>;
  rules: RuleConfigRaw[];
}
