// The public API for plugin authors. Listed one by one (Hono's src/index.ts):
// anything not exported here is internal and may change.

export { definePlugin, DeliveryError, httpResponse, parseRetryAfter } from './plugin.js';
export type {
  ActionPlugin,
  ActionInput,
  ActionResult,
  ActionRunner,
  CreateContext,
  DeliveryErrorOptions,
  DeliveryRequest,
  DeliveryResponse,
  JsonSchema,
  JsonValue,
  PluginLogger,
  StringOption,
} from './plugin.js';
export { EgressError } from './deliver/egress.js';
export type { Egress, EgressAgentOptions } from './deliver/egress.js';
export type { RelayEvent, Headers, TemplateContext } from './event.js';
export { SENSITIVE_HEADERS, SIGNATURE_HEADERS, isSensitiveHeader } from './verify/headers.js';
// The HTTP client ctx.dispatcher belongs to, so a plugin outside the clone
// needs no undici of its own (a different copy's dispatcher would not fit).
export { fetch, request } from 'undici';
