// Every error Relay raises on purpose has a code and lives here (Fastify's
// lib/errors.js pattern), so callers branch on codes, never on message text.

export const ErrorCodes = {
  // configuration (start-up and reload)
  RELAY_ERR_CONFIG: 'the configuration is invalid',
  RELAY_ERR_CONFIG_READ: 'the configuration file cannot be read',
  RELAY_ERR_PLUGIN_LOAD: 'a plugin cannot be loaded',
  // ingest (mapped to HTTP answers in src/ingest/respond.ts)
  RELAY_ERR_SIGNATURE: 'missing or invalid signature',
  RELAY_ERR_BODY_JSON: 'body is not valid JSON',
  RELAY_ERR_BODY_TOO_LARGE: 'body is larger than the limit',
  RELAY_ERR_NOT_FOUND: 'no source at this path',
  RELAY_ERR_METHOD: 'method not allowed',
  RELAY_ERR_FORBIDDEN: 'client address not allowed',
  RELAY_ERR_RATE_LIMITED: 'too many requests',
  RELAY_ERR_UNAVAILABLE: 'relay is not accepting events right now',
  // storage (a timeout is answered like RELAY_ERR_UNAVAILABLE: 503 with Retry-After)
  RELAY_ERR_STORE_TIMEOUT: 'the store did not answer in time',
  // delivery
  RELAY_ERR_DELIVERY: 'the action failed',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class RelayError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ErrorCodes[code], options);
    this.name = 'RelayError';
    this.code = code;
  }
}

/** One problem in a configuration, located by its key path in the document. */
export interface ConfigIssue {
  /** Key path into the config document, e.g. ['rules', 2, 'actions', 0, 'use']. */
  path: ReadonlyArray<string | number>;
  message: string;
  /** `error` stops start-up; `warning` is printed by `relay validate` only. */
  severity?: 'error' | 'warning';
  /** Filled in by the loader from the YAML document. */
  file?: string;
  line?: number;
  col?: number;
}

/** Formats a key path the way users write it: rules[2].actions[0].use */
export function formatPath(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out || '(root)';
}

export function formatIssue(issue: ConfigIssue): string {
  const where = issue.file ? `${issue.file}:${issue.line ?? 0}:${issue.col ?? 0} ` : '';
  const level = issue.severity === 'warning' ? 'warning: ' : '';
  return `${where}${level}${formatPath(issue.path)}: ${issue.message}`;
}

/** Raised with every problem found, so the user fixes them all in one pass. */
export class ConfigError extends RelayError {
  readonly issues: ConfigIssue[];
  constructor(issues: ConfigIssue[]) {
    super('RELAY_ERR_CONFIG', issues.map(formatIssue).join('\n'));
    this.name = 'ConfigError';
    this.issues = issues;
  }
}

/**
 * Thrown by a compile step (rules, templates, plugin options) that found a
 * problem at a known key path. Collected into a ConfigError by the loader.
 */
export function configIssue(path: ReadonlyArray<string | number>, message: string): ConfigError {
  return new ConfigError([{ path, message }]);
}
