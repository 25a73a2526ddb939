// The public contract between Relay and an action plugin. Built-in actions in
// plugins/ use nothing but this file (through src/index.ts), so a custom
// plugin can do anything a built-in can.

import { STATUS_CODES } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Egress } from './deliver/egress.js';
import type { RelayEvent } from './event.js';

/** A JSON value, as found in YAML config after parsing. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A JSON Schema (draft-07, as ajv reads it). Keep `description`, `default`
 * and `examples` on every property: `relay schema` and the docs are built
 * from them.
 */
export interface JsonSchema {
  [keyword: string]: unknown;
}

/** The logger handed to plugins: pino-compatible, with the delivery's ids bound. */
export interface PluginLogger {
  debug(obj: object | string, msg?: string): void;
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** Handed to `create` once per configured action, when the config loads. */
export interface CreateContext {
  /** The action's name in the config (`actions.<name>` or `<rule>#<index>`). */
  name: string;
  logger: PluginLogger;
  /**
   * Registers clean-up (close a connection pool, a file) for when this
   * runner is retired: after a config reload, once deliveries already running
   * on it have had their timeout to finish, and at shutdown.
   */
  onClose(fn: () => void | Promise<void>): void;
  /**
   * The undici dispatcher to send every HTTP request through:
   * `request(url, { dispatcher: ctx.dispatcher })` or
   * `fetch(url, { dispatcher: ctx.dispatcher })`. Shared by all actions of
   * the loaded config, it enforces the config's `egress` policy on the
   * address each connection resolves to; redirects are not followed. A
   * refused connection rejects with an EgressError (permanent: the delivery
   * is dead with the reason). Same as `egress.dispatcher`.
   */
  dispatcher: Dispatcher;
  /** The egress policy for a pool of your own (`agent()`) or a protocol other than HTTP (`connect()`). */
  egress: Egress;
  /**
   * True for a header that carries a credential or a signature: the common
   * credential headers, every known provider's signature and timestamp
   * headers, and those this config's sources name. Never pass these on or
   * show them; the dashboard masks and the logs redact the same list.
   */
  isSensitiveHeader(name: string): boolean;
}

/**
 * Which delivery an attempt belongs to. Both stay the same across every
 * retry (and a replay) of one delivery, so a destination can deduplicate.
 */
export interface DeliveryInfo {
  /** The store's delivery id, as `relay events show` and the dashboard list it. */
  id: number;
  /**
   * A stable, opaque key for the delivery (`msg_` + 32 base64url characters),
   * derived from the source, the event id(s), the rule and the action: the
   * same event delivered by the same action always has the same key, even
   * after a re-ingest or on another Relay instance sharing the config. Use it
   * as a message id or idempotency key (`forward` sends it as `webhook-id`).
   */
  key: string;
}

/** Handed to the runner for each attempt of each delivery. */
export interface ActionInput<Options> {
  /** The options with every field named in `templates` rendered for this event. */
  options: Options;
  /** The event (the first of the batch when batched). */
  event: RelayEvent;
  /** Every event of a batched delivery, oldest first; absent when not batched. */
  batch?: RelayEvent[];
  /** 1 for the first attempt. */
  attempt: number;
  /** The delivery this attempt belongs to: the same for every attempt of it. */
  delivery: DeliveryInfo;
  /**
   * The output of each option named in `transforms` that the config sets,
   * by option name (a JSON value: the body to send). Empty when none is set.
   */
  transformed: Readonly<Record<string, JsonValue>>;
  /** Aborted when the action's timeout passes or Relay shuts down: pass it to I/O. */
  signal: AbortSignal;
  logger: PluginLogger;
  /**
   * The W3C trace context of this attempt's span, when tracing is on (see
   * docs/operations.md). HTTP plugins send it as the `traceparent` header so
   * the receiver's spans join the event's trace.
   */
  traceparent?: string;
}

/**
 * What the destination answered, recorded with the attempt so the dashboard
 * can show the status line, headers and the start of the body. Relay keeps
 * at most 20 headers (values cut to 512 characters) and the first 4 KiB of
 * the body, and masks credentials (`set-cookie`, tokens), so a plugin may
 * hand over the whole answer.
 */
export interface DeliveryResponse {
  /** The status code, e.g. 503. */
  status: number;
  /** The reason phrase, e.g. `Service Unavailable`. */
  statusText?: string;
  /** Response headers, names in lower case. */
  headers?: Record<string, string>;
  /** The body as text (its start is kept). */
  body?: string;
}

/**
 * What an attempt sent, recorded for the dashboard's "copy as curl". Relay
 * masks credentials in headers (`authorization`, signatures) and in the URL
 * (a password, secret-looking query values) before storing it.
 */
export interface DeliveryRequest {
  /** e.g. `POST`. */
  method: string;
  url: string;
  /** Request headers, names in lower case. */
  headers?: Record<string, string>;
  /**
   * The body, when it is not the event's bytes as received (a template, a
   * batch). Absent means the event's own body was sent. Relay keeps 16 KiB.
   */
  body?: string;
}

/** What a successful attempt reports; recorded with the attempt. */
export interface ActionResult {
  /** The destination's status code, when it has one (HTTP). */
  status?: number;
  /** A short note for `relay events show`, e.g. a message id. */
  info?: string;
  /** What the destination answered (HTTP plugins). */
  response?: DeliveryResponse;
  /** What was sent (HTTP plugins), for "copy as curl". */
  request?: DeliveryRequest;
}

/** A DeliveryResponse from an HTTP answer: the reason phrase is looked up, list-valued headers joined. */
export function httpResponse(status: number, headers: Readonly<Record<string, string | string[] | undefined>>, body?: string): DeliveryResponse {
  const flat: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  const statusText = STATUS_CODES[status];
  return { status, ...(statusText !== undefined && { statusText }), headers: flat, ...(body !== undefined && body !== '' && { body }) };
}

export type ActionRunner<Options> = (input: ActionInput<Options>) => Promise<ActionResult | void>;

/**
 * An action plugin: a name, an option schema and a factory (Probot's "a
 * function plus a little metadata"; Redpanda Connect's one spec per plugin).
 */
export interface ActionPlugin<Options = Record<string, unknown>> {
  /** What rules write after `use:`; lower-case, e.g. `slack`. */
  name: string;
  /** One line for docs and `relay schema`. */
  description: string;
  /** JSON Schema of the options under `with:`. Validated by ajv at load. */
  options: JsonSchema;
  /**
   * Top-level option names whose values are Liquid templates, rendered per
   * event (strings inside objects and arrays too). Templates are parsed at
   * load, so a broken one is a config error with its line.
   */
  templates?: ReadonlyArray<keyof Options & string>;
  /**
   * Top-level string options that are URLs Relay connects to. A literal one
   * must parse as a URL at load. When also in `templates`, a template may not
   * appear in the scheme, user info, host or port (a config error at its
   * line), and every value it interpolates is percent-encoded for the URL, so
   * an event can change the path, query or fragment but never the host.
   */
  urls?: ReadonlyArray<StringOption<Options>>;
  /**
   * Top-level options that are transforms: `{ jsonata: "..." }` or
   * `{ template: {...} }` (declare them with `TRANSFORM_SCHEMA`). Compiled at
   * load; each one's output for the event arrives in `transformed`, and the
   * option itself stays as configured.
   */
  transforms?: ReadonlyArray<keyof Options & string>;
  /**
   * The circuit-breaker key: deliveries to one target share one breaker.
   * Defaults to the action's name. `forward` uses the URL's origin.
   */
  target?: (options: Options) => string;
  /** Builds the runner once per configured action. Throw to reject the config. */
  create(options: Options, ctx: CreateContext): ActionRunner<Options> | Promise<ActionRunner<Options>>;
}

/** The names of an option type's string-valued options. */
export type StringOption<Options> = {
  [K in keyof Options & string]-?: Options[K] extends string | undefined ? K : never;
}[keyof Options & string];

/** Identity helper that gives plugin authors type inference and checking. */
export function definePlugin<Options>(plugin: ActionPlugin<Options>): ActionPlugin<Options> {
  return plugin;
}

export interface DeliveryErrorOptions {
  /** Worth trying again later? Network errors and 5xx are; a 400 is not. */
  retryable: boolean;
  status?: number;
  /** The destination asked to wait this long (Retry-After). */
  retryAfterMs?: number;
  cause?: unknown;
  /** What the destination answered, when it answered (see DeliveryResponse). */
  response?: DeliveryResponse;
  /** What was sent (see DeliveryRequest). */
  request?: DeliveryRequest;
}

/**
 * Thrown by a runner to say how it failed. Any other error thrown is treated
 * as retryable (it is usually the network), like Alertmanager's Retrier.
 */
// A plugin may hold another copy of this module (tsx loads a TypeScript
// plugin, and what it imports, in a namespace of its own): a registry-wide
// symbol, not class identity, makes `instanceof DeliveryError` hold for it.
const DELIVERY_ERROR = Symbol.for('relay-webhooks.DeliveryError');

export class DeliveryError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[DELIVERY_ERROR] === true;
  }

  readonly [DELIVERY_ERROR] = true;
  readonly code = 'RELAY_ERR_DELIVERY' as const;
  readonly retryable: boolean;
  readonly status: number | undefined;
  readonly retryAfterMs: number | undefined;
  readonly response: DeliveryResponse | undefined;
  readonly request: DeliveryRequest | undefined;

  constructor(message: string, options: DeliveryErrorOptions) {
    super(message, { cause: options.cause });
    this.name = 'DeliveryError';
    this.retryable = options.retryable;
    this.status = options.status;
    this.retryAfterMs = options.retryAfterMs;
    this.response = options.response;
    this.request = options.request;
  }

  /**
   * Classifies an HTTP answer: 408, 429 and 5xx are retryable, other 4xx are
   * not. `exchange` records what was sent and answered with the attempt.
   */
  static fromStatus(
    status: number,
    body?: string,
    retryAfter?: string | null,
    exchange?: Pick<DeliveryErrorOptions, 'response' | 'request'>,
  ): DeliveryError {
    const retryable = status === 408 || status === 429 || status >= 500;
    const snippet = body ? `: ${body.slice(0, 200)}` : '';
    return new DeliveryError(`HTTP ${status}${snippet}`, {
      retryable,
      status,
      retryAfterMs: parseRetryAfter(retryAfter ?? undefined),
      ...exchange,
    });
  }
}

/** Reads `Retry-After` as seconds or as an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}
